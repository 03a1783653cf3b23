#!/bin/bash
# usage: ab.sh BIN DBNAME TAG  -- fresh db, start api+worker, run 250/s and flat-out, stop
BIN=$1; DB=$2; TAG=$3
redis-cli -p 6391 flushall >/dev/null
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" postgres 2>/dev/null
export MESSAGER_REDIS_URL=redis://127.0.0.1:6391/1 MESSAGER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
C=/work/main/docs/benchmarks/results/issue12/messager.yaml
$BIN api --config $C --migrate --http-addr 127.0.0.1:18080 --metrics-addr 127.0.0.1:19091 > /tmp/api-$TAG.log 2>&1 & A=$!
sleep 2
$BIN worker --config $C --http-addr 127.0.0.1:18081 --metrics-addr 127.0.0.1:19092 > /tmp/worker-$TAG.log 2>&1 & W=$!
for i in $(seq 50); do curl -sf 127.0.0.1:18081/readyz >/dev/null && curl -sf 127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
echo "== $TAG 250/s"; /tmp/messager bench --target http://127.0.0.1:18080 --users 64 --senders 8 --rate 250 --duration 30s --warmup 5s $CPU --json /tmp/ab-$TAG-250.json 2>&1 | grep -E "end-to-end|correctness|server CPU|^  (api|worker|redis|postgres b)|redis commands|db trans|^load|RESULT"
echo "== $TAG flat"; /tmp/messager bench --target http://127.0.0.1:18080 --users 64 --senders 32 --duration 20s --warmup 5s $CPU --json /tmp/ab-$TAG-flat.json 2>&1 | grep -E "^deliveries|end-to-end|correctness|server CPU|^  (api|worker|redis|postgres b)|redis commands|db trans|^load|RESULT"
kill $A $W; wait $A $W 2>/dev/null
