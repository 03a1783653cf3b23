#!/bin/bash
# usage: startall.sh BIN DB -- ../issue12-s7/start.sh with ALL=1: one `messager all` process runs the
# api and the worker on the same private Redis (:6391) and a fresh PostgreSQL database DB, and
# leaves its PID in /tmp/b/pids (so ../issue12-s7/stop.sh stops it). SERVER_ENV (e.g. GOMAXPROCS=1)
# is set for the server only, CONF picks another config (e.g. ../issue12-s7/linger-20ms.yaml).
ALL=1 exec /tmp/b/start.sh "$@"
