#!/bin/bash
# idle A/B: cache binary without and with schedtrace, api+worker then all
CPUR="--cpu-redis redis://127.0.0.1:6391/0"
for env in "" "GODEBUG=schedtrace=2147483647"; do
  tag=$([ -n "$env" ] && echo st || echo plain)
  SERVER_ENV=$env ./start.sh /tmp/b/cache s14idle || exit 1
  sleep 5
  ./cache bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 30s --metrics-url http://127.0.0.1:19091/metrics --cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 $CPUR --json /tmp/b/s14idle-$tag.json 2>&1 | grep -E "^  (api|worker|redis)|server CPU"
  ./stop.sh
  SERVER_ENV=$env ./startall.sh /tmp/b/cache s14idleall || exit 1
  sleep 5
  ./cache bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 30s --metrics-url http://127.0.0.1:19091/metrics --cpu-from all=http://127.0.0.1:19091 $CPUR --json /tmp/b/s14idleall-$tag.json 2>&1 | grep -E "^  (all|redis)|server CPU"
  ./stop.sh
done
