#!/bin/bash
# session 15: adaptive scheduling off against on (same binary, CONF), api + worker:
# flat out (32 senders) 2 rounds, broadcast to 1,000 at 15/s 2 rounds; then idle 60 s with it on
# (api + worker, then one `messager all`).
B=${B:-/tmp/b/new}
for r in 1 2; do
  CONF=/tmp/b/notune.yaml ./run2.sh $B s15off$r s15off$r flat
  CONF=/tmp/b/tune.yaml   ./run2.sh $B s15on$r  s15on$r  flat
done
for r in 1 2; do
  CONF=/tmp/b/notune.yaml ./run2.sh $B s15boff$r s15boff$r bcast
  CONF=/tmp/b/tune.yaml   ./run2.sh $B s15bon$r  s15bon$r  bcast
done
CPUR="--cpu-redis redis://127.0.0.1:6391/0"
CONF=/tmp/b/tune.yaml ./start.sh $B s15idle || exit 1
sleep 5
$B bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics --cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 $CPUR --json /tmp/b/s15idle-split.json 2>&1 | grep -E 'server CPU|^  (api|worker|redis)'
./stop.sh
CONF=/tmp/b/tune.yaml ./startall.sh $B s15idleall || exit 1
sleep 5
$B bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics --cpu-from all=http://127.0.0.1:19091 $CPUR --json /tmp/b/s15idle-all.json 2>&1 | grep -E 'server CPU|^  (all|redis)'
./stop.sh
