#!/bin/bash
# usage: bflat.sh BIN DB TAG -- broadcast to 1,000, one sender flat out for 10 s (throughput context)
BIN=$1; DB=$2; TAG=$3
/tmp/b/start.sh $BIN $DB || exit 1
CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
$BIN bench --target http://127.0.0.1:18080 --scenario broadcast --users 1000 --senders 1 --duration 10s --warmup 2s --drain 600s $CPU --json /tmp/b/$TAG-bflat.json 2>&1 | grep -E '^deliveries|end-to-end|correctness|server CPU|^  (api|worker|redis|postgres b)|^load|RESULT'
/tmp/b/stop.sh
