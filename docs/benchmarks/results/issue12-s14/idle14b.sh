#!/bin/bash
CPUR="--cpu-redis redis://127.0.0.1:6391/0"
for r in 1 2; do for env in "" "GODEBUG=schedtrace=2147483647"; do
  tag=$([ -n "$env" ] && echo st || echo plain)$r
  SERVER_ENV=$env ./start.sh /tmp/b/cache s14idle || exit 1
  sleep 5
  ./cache bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics --cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 $CPUR --json /tmp/b/s14idle60-$tag.json >/dev/null 2>&1
  ./stop.sh
done; done
