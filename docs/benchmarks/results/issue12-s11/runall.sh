#!/bin/bash
# usage: runall.sh BIN DB TAG MODE... (modes: 250 flat bcast) -- ../issue12-s8/run2.sh for one
# `messager all` process (startall.sh) instead of an api and a worker: the same loads, CPU per
# message from its metrics, Redis and the PostgreSQL backends, and context switches per message.
START=/tmp/b/startall.sh exec /tmp/b/run2.sh "$@"
