#!/bin/bash
# usage: start.sh BIN DB  -- fresh db, start api+worker (pprof), leaves PIDs in /tmp/b/pids.
# ALL=1 (session 11's startall.sh) starts one `messager all` process instead, with its PID alone;
# SERVER_ENV (e.g. GOMAXPROCS=1) is set for that server only.
BIN=$1; DB=$2
for port in 18080 18081 19091 19092; do
  if curl -s -o /dev/null 127.0.0.1:$port/; then echo "start.sh: port $port is in use: stop what serves it first" >&2; exit 1; fi
done
redis-cli -p 6391 flushall >/dev/null
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" postgres 2>/dev/null
export MESSAGER_REDIS_URL=redis://127.0.0.1:6391/1 MESSAGER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
C=${CONF:-/work/main/docs/benchmarks/results/issue12/messager.yaml}
if [ -n "$ALL" ]; then
  env $SERVER_ENV $BIN all --config $C --pprof --log-format json --http-addr 127.0.0.1:18080 --metrics-addr 127.0.0.1:19091 > /tmp/b/all.log 2>&1 & P=$!
  for i in $(seq 50); do curl -sf 127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
  kill -0 $P || { echo "start.sh: messager all exited" >&2; exit 1; }
  echo "$P" > /tmp/b/pids
  exit 0
fi
env $SERVER_ENV $BIN api --config $C --migrate --pprof --http-addr 127.0.0.1:18080 --metrics-addr 127.0.0.1:19091 > /tmp/b/api.log 2>&1 & A=$!
sleep 2
env $SERVER_ENV $BIN worker --config $C --pprof --http-addr 127.0.0.1:18081 --metrics-addr 127.0.0.1:19092 > /tmp/b/worker.log 2>&1 & W=$!
for i in $(seq 50); do curl -sf 127.0.0.1:18081/readyz >/dev/null && curl -sf 127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
kill -0 $A $W || { echo "start.sh: api or worker exited" >&2; exit 1; }
echo "$A $W" > /tmp/b/pids
