#!/bin/bash
# session 15: adaptive scheduling (spec.runtime.adaptiveScheduling) off against on, same binary,
# 250 DMs/s, one `messager all` and an api + a worker, 3 rounds, alternating.
B=${B:-/tmp/b/new}
for r in ${ROUNDS:-1 2 3}; do
  CONF=/tmp/b/notune.yaml START=/tmp/b/startall.sh ./run2.sh $B s15alloff$r s15alloff$r 250
  CONF=/tmp/b/tune.yaml   START=/tmp/b/startall.sh ./run2.sh $B s15allon$r  s15allon$r  250
  CONF=/tmp/b/notune.yaml ./run2.sh $B s15off$r s15off$r 250
  CONF=/tmp/b/tune.yaml   ./run2.sh $B s15on$r  s15on$r  250
done
