import json,glob,sys
pat=sys.argv[1]
for f in sorted(glob.glob(pat)):
    d=json.load(open(f)); c=d['cpu']
    per={p['name']:p['cpu_us_per_delivery'] for p in c['processes']}
    e=d['end_to_end_latency']
    p50=round(e['p50_us']/1000,1); p99=round(e['p99_us']/1000,1)
    print(f"{f.split('/')[-1]:22s} total {c['cpu_us_per_delivery']:8.1f}  api {per.get('api',0):7.1f} worker {per.get('worker',0):7.1f} redis {per.get('redis',0):6.1f} pg {per.get('postgres backends',0):6.1f}  del/s {d['deliveries_per_s']:8.0f}  p50 {p50} p99 {p99}  lost {d['lost']} dup {d['duplicated']}")
