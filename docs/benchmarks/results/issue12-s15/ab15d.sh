#!/bin/bash
# session 15: with adaptive scheduling (the new default), the default 10 ms send linger against
# 20 ms, at 250 DMs/s, one `messager all` and an api + a worker, 2 rounds, alternating.
B=${B:-/tmp/b/new}
for r in 1 2; do
  CONF=/tmp/b/tune.yaml   START=/tmp/b/startall.sh ./run2.sh $B s15all10_$r s15all10_$r 250
  CONF=/tmp/b/tune20.yaml START=/tmp/b/startall.sh ./run2.sh $B s15all20_$r s15all20_$r 250
  CONF=/tmp/b/tune.yaml   ./run2.sh $B s15l10_$r s15l10_$r 250
  CONF=/tmp/b/tune20.yaml ./run2.sh $B s15l20_$r s15l20_$r 250
done
