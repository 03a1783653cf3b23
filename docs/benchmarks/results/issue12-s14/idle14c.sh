#!/bin/bash
# idle with GOMAXPROCS=1 + GODEBUG=schedtrace: api + worker, then messager all, 60 s each
CPUR="--cpu-redis redis://127.0.0.1:6391/0"
ENV="GOMAXPROCS=1 GODEBUG=schedtrace=2147483647"
SERVER_ENV=$ENV ./start.sh /tmp/b/new s14idle || exit 1
sleep 5
./new bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics --cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 $CPUR --json /tmp/b/s14idle60-p1s.json >/dev/null 2>&1
./stop.sh
SERVER_ENV=$ENV ./startall.sh /tmp/b/new s14idleall || exit 1
sleep 5
./new bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics --cpu-from all=http://127.0.0.1:19091 $CPUR --json /tmp/b/s14idleall60-p1s.json >/dev/null 2>&1
./stop.sh
