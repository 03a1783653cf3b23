#!/bin/bash
# usage: run2.sh BIN DB TAG MODE...  (modes: 250 flat bcast)
# Session 7's run.sh (start.sh and stop.sh from docs/benchmarks/results/issue12-s7 in /tmp/b,
# a private Redis on 6391 with its pidfile at /tmp/b/redis6391.pid), plus, for each mode, the
# context switches of the api, the worker, Redis and the PostgreSQL backends per message
# (ctxsw.py, every thread, /proc) and one line of the wake-up cost program before the run
# (build it: cd wakeup && go build -o /tmp/b/wakeup .; session 8's runs used an earlier copy
# with the same loops and a terser line).
# START picks another start script (session 11's startall.sh: one `messager all` process, whose
# single PID in /tmp/b/pids is measured as "all").
BIN=$1; DB=$2; TAG=$3; shift 3
${START:-/tmp/b/start.sh} $BIN $DB || exit 1
read A W < /tmp/b/pids; R=$(cat /tmp/b/redis6391.pid)
if [ -n "$W" ]; then
  CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092"; PROCS="api=$A worker=$W"; LOGS="api worker"
else
  CPU="--cpu-from all=http://127.0.0.1:19091"; PROCS="all=$A"; LOGS="all"
fi
CPU="$CPU --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
G='^deliveries|end-to-end|correctness|server CPU|^  (api|worker|all|redis|postgres b)|redis commands|db trans|^load|RESULT'
snap() { python3 /tmp/b/ctxsw.py $PROCS redis=$R pg=$DB; }
for m in "$@"; do
  case $m in
  250) args="--users 64 --senders 8 --rate 250 --duration 30s --warmup 5s";;
  flat) args="--users 64 --senders 32 --duration 20s --warmup 5s";;
  bcast) args="--scenario broadcast --users 1000 --senders 1 --rate 15 --duration 20s --warmup 5s";;
  esac
  echo "== $TAG $m"
  # The switches are counted over the whole bench run (sign-up and drain included), so they
  # are divided by everything accepted, warm-up included; the CPU figures are the bench's window.
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
for l in $LOGS; do cp /tmp/b/$l.log /tmp/b/$TAG-$l.log; done
/tmp/b/stop.sh
