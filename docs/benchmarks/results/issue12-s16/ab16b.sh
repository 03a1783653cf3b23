#!/bin/bash
# session 16: lin (d327aa5, the 20 ms linger) against logs (the same plus the batched log sink),
# 250 DMs/s, api + worker and one `messager all`, alternating.
for r in ${ROUNDS:-1 2 3}; do
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/lin  s16lin$r  s16lin$r  250
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new2 s16log$r  s16log$r  250
  START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/lin  s16alllin$r s16alllin$r 250
  START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new2 s16alllog$r s16alllog$r 250
done
