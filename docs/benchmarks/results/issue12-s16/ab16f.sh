#!/bin/bash
# session 16: the final head (534175e, same code as c81d71e) on defaults: 250 DMs/s one process and
# api + worker, 3 rounds; then flat out and broadcast flat out once each.
for r in 1 2 3; do
  START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/final s16allfin$r s16allfin$r 250
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/final s16splitfin$r s16splitfin$r 250
done
CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/final s16flatfin s16flatfin flat
CONF=/tmp/b/tune.yaml ./bflat.sh /tmp/b/final s16bffin s16bffin
