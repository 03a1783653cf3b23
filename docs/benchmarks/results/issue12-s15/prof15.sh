#!/bin/bash
# session 15: CPU profiles of the api and the worker at 250 DMs/s with adaptive scheduling (20 s).
( sleep 22; curl -s -o /tmp/b/prof15-api.pb.gz 'http://127.0.0.1:19091/debug/pprof/profile?seconds=20' ) &
( sleep 22; curl -s -o /tmp/b/prof15-worker.pb.gz 'http://127.0.0.1:19092/debug/pprof/profile?seconds=20' ) &
CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new s15prof s15prof 250
wait
