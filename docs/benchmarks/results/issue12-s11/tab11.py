#!/usr/bin/env python3
# usage: tab11.py MODE TAG... -- one line per run from /tmp/b/TAG-MODE.json and .ctxsw: server CPU
# per message (total; api+worker or all; Redis; PostgreSQL backends), context switches per message,
# deliveries/s, end-to-end p50, lost and duplicated.
import json, sys
mode, tags = sys.argv[1], sys.argv[2:]
key = 'cpu_us_per_message'
for tag in tags:
    d = json.load(open(f'/tmp/b/{tag}-{mode}.json'))
    s = json.load(open(f'/tmp/b/{tag}-{mode}.ctxsw'))
    c = d['cpu']; p = {x['name']: x[key] for x in c['processes']}
    go = p['all'] if 'all' in p else p['api'] + p['worker']
    goname = 'all' if 'all' in p else f"api+worker ({p['api']:.0f}+{p['worker']:.0f})"
    p50 = d['end_to_end_latency']['p50_us'] / 1000
    print(f"{mode:4} {tag:14} total {c[key]:7.0f} µs  {goname} {go:5.0f}  redis {p['redis']:4.0f}  pg {p['postgres backends']:4.0f}"
          f"  switches {s['total_per_message']:5.1f}  deliv/s {d['deliveries_per_s']:5.0f}  p50 {p50:5.1f} ms  lost {d['lost']} dup {d['duplicated']}")
