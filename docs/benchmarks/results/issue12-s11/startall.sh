#!/bin/bash
# usage: startall.sh BIN DB -- like ../issue12-s7/start.sh, but one `messager all` process runs the
# api and the worker on the same private Redis (:6391) and a fresh PostgreSQL database DB;
# leaves its PID in /tmp/b/pids (so ../issue12-s7/stop.sh stops it). SERVER_ENV (e.g. GOMAXPROCS=1)
# is set for the server only, CONF picks another config (e.g. ../issue12-s7/linger-20ms.yaml).
BIN=$1; DB=$2
for port in 18080 18081 19091 19092; do
  if curl -s -o /dev/null 127.0.0.1:$port/; then echo "startall.sh: port $port is in use: stop what serves it first" >&2; exit 1; fi
done
redis-cli -p 6391 flushall >/dev/null
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" postgres 2>/dev/null
export MESSAGER_REDIS_URL=redis://127.0.0.1:6391/1 MESSAGER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
C=${CONF:-/work/main/docs/benchmarks/results/issue12/messager.yaml}
env $SERVER_ENV $BIN all --config $C --pprof --log-format json --http-addr 127.0.0.1:18080 --metrics-addr 127.0.0.1:19091 > /tmp/b/all.log 2>&1 & P=$!
for i in $(seq 50); do curl -sf 127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
kill -0 $P || { echo "startall.sh: messager all exited" >&2; exit 1; }
echo "$P" > /tmp/b/pids
