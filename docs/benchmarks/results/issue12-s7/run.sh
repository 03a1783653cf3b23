#!/bin/bash
# usage: run.sh BIN DB TAG MODE...  (modes: 250 flat bcast) -- fresh db, api+worker, each mode, stop
BIN=$1; DB=$2; TAG=$3; shift 3
/tmp/b/start.sh $BIN $DB || exit 1
CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
G='^deliveries|end-to-end|correctness|server CPU|^  (api|worker|redis|postgres b)|redis commands|db trans|^load|RESULT'
for m in "$@"; do
  case $m in
  250) echo "== $TAG 250/s"; $BIN bench --target http://127.0.0.1:18080 --users 64 --senders 8 --rate 250 --duration 30s --warmup 5s $CPU --json /tmp/b/$TAG-250.json 2>&1 | grep -E "$G";;
  flat) echo "== $TAG flat"; $BIN bench --target http://127.0.0.1:18080 --users 64 --senders 32 --duration 20s --warmup 5s $CPU --json /tmp/b/$TAG-flat.json 2>&1 | grep -E "$G";;
  bcast) echo "== $TAG bcast"; $BIN bench --target http://127.0.0.1:18080 --scenario broadcast --users 1000 --senders 1 --rate 15 --duration 20s --warmup 5s $CPU --json /tmp/b/$TAG-bcast.json 2>&1 | grep -E "$G";;
  esac
done
cp /tmp/b/api.log /tmp/b/$TAG-api.log; cp /tmp/b/worker.log /tmp/b/$TAG-worker.log
/tmp/b/stop.sh
