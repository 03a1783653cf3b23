#!/bin/bash
# session 16: CPU profiles of the api and the worker at 250 DMs/s on the new default linger (20 s).
B=${B:-/tmp/b/new}
( sleep 22; curl -s -o /tmp/b/prof16-api.pb.gz 'http://127.0.0.1:19091/debug/pprof/profile?seconds=20' ) &
( sleep 22; curl -s -o /tmp/b/prof16-worker.pb.gz 'http://127.0.0.1:19092/debug/pprof/profile?seconds=20' ) &
CONF=/tmp/b/tune.yaml ./run2.sh $B s16prof${TAG} s16prof${TAG} 250
wait
