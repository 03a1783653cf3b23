#!/bin/bash
# usage: runall.sh BIN DB TAG MODE... (modes: 250 flat bcast) -- ../issue12-s8/run2.sh for one
# `messager all` process (startall.sh) instead of an api and a worker: the same loads, CPU per
# message from its metrics, Redis and the PostgreSQL backends, and context switches per message.
BIN=$1; DB=$2; TAG=$3; shift 3
/tmp/b/startall.sh $BIN $DB || exit 1
P=$(cat /tmp/b/pids); R=$(cat /tmp/b/redis6391.pid)
CPU="--cpu-from all=http://127.0.0.1:19091 --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
G='^deliveries|end-to-end|correctness|server CPU|^  (all|redis|postgres b)|redis commands|db trans|^load|RESULT'
snap() { python3 /tmp/b/ctxsw.py all=$P redis=$R pg=$DB; }
for m in "$@"; do
  case $m in
  250) args="--users 64 --senders 8 --rate 250 --duration 30s --warmup 5s";;
  flat) args="--users 64 --senders 32 --duration 20s --warmup 5s";;
  bcast) args="--scenario broadcast --users 1000 --senders 1 --rate 15 --duration 20s --warmup 5s";;
  esac
  echo "== $TAG $m"
  s0=$(snap); /tmp/b/wakeup | head -1
  $BIN bench --target http://127.0.0.1:18080 $args $CPU --json /tmp/b/$TAG-$m.json 2>&1 | grep -E "$G"
  s1=$(snap)
  python3 - "$s0" "$s1" /tmp/b/$TAG-$m.json > /tmp/b/$TAG-$m.ctxsw <<'PY'
import json,sys
a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); d=json.load(open(sys.argv[3]))
n=d['accepted']+d['warmup_accepted']; deliv=d['expected_deliveries']/max(d['accepted'],1)*n
out={}
for k in b:
    if k=='pg': diff=sum(v-a['pg'].get(p,0) for p,v in b['pg'].items())
    else: diff=b[k]-a[k]
    out[k]=diff
tot=sum(out.values())
print(json.dumps({'messages':n,'switches':out,'per_message':{k:round(v/n,1) for k,v in out.items()},'total_per_message':round(tot/n,1),'total_per_delivery':round(tot/deliv,3)}))
PY
  cat /tmp/b/$TAG-$m.ctxsw
done
cp /tmp/b/all.log /tmp/b/$TAG-all.log
/tmp/b/stop.sh
