#!/usr/bin/env python3
# usage: tab.py MODE TAG...  -- one line per run from /tmp/b/TAG-MODE.json: server CPU per delivery by process, deliveries/s, p50
import json,sys
tags=sys.argv[2:]; mode=sys.argv[1]
key='cpu_us_per_delivery'
for tag in tags:
    d=json.load(open(f'/tmp/b/{tag}-{mode}.json'))
    c=d['cpu']; p={x['name']:x.get(key, 0) for x in c['processes']}
    e=d['end_to_end_latency']
    p50=round(e['p50_us']/1000,1)
    print(f"{mode:5} {tag:9} total {c[key]:8.1f}  api {p['api']:7.1f} worker {p['worker']:6.1f} redis {p['redis']:6.1f} pg {p['postgres backends']:6.1f}  deliv/s {d['deliveries_per_s']:8.0f} p50 {p50} lost {d['lost']} dup {d['duplicated']}")
