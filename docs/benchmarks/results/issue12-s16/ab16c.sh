#!/bin/bash
# session 16: the head with both changes (new = 8f5abe6) on defaults: DMs flat out, broadcast to
# 1,000 at 15/s, broadcast flat out (bflat.sh), twice each; then 60 s idle, api + worker and all.
for r in 1 2; do
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new s16fin$r s16fin$r flat bcast
  CONF=/tmp/b/tune.yaml ./bflat.sh /tmp/b/new s16bf$r s16bf$r
done
idle() { # TAG, then start with START/CONF as run2.sh does
  ${START:-/tmp/b/start.sh} /tmp/b/new $1 || return
  read A W < /tmp/b/pids
  if [ -n "$W" ]; then CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092"; else CPU="--cpu-from all=http://127.0.0.1:19091"; fi
  echo "== $1 idle"
  /tmp/b/new bench --target http://127.0.0.1:18080 --scenario idle --users 1 --duration 60s --metrics-url http://127.0.0.1:19091/metrics $CPU --cpu-redis redis://127.0.0.1:6391/0 --json /tmp/b/$1-idle.json 2>&1 | grep -E 'server CPU|^  (api|worker|all|redis)|RESULT|cores'
  /tmp/b/stop.sh
}
CONF=/tmp/b/tune.yaml idle s16idle
START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml idle s16allidle
