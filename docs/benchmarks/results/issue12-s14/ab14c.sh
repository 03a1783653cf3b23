#!/bin/bash
# session 14: one `messager all` at 250 DMs/s, head (3f612be) against new (6a73ad3), 3 rounds;
# then new, api + worker, with GODEBUG=schedtrace (sysmon awake), 2 rounds; then new as one
# `messager all` with GODEBUG, GOMAXPROCS=1 and a 20 ms linger, 2 rounds (settings, not defaults).
for r in 1 2 3; do
  START=/tmp/b/startall.sh ./run2.sh /tmp/b/head s14allh$r s14allh$r 250
  START=/tmp/b/startall.sh ./run2.sh /tmp/b/new s14alln$r s14alln$r 250
done
for r in 1 2; do
  SERVER_ENV=GODEBUG=schedtrace=2147483647 ./run2.sh /tmp/b/new s14ns$r s14ns$r 250
done
for r in 1 2; do
  CONF=/work/main/docs/benchmarks/results/issue12-s7/linger-20ms.yaml SERVER_ENV="GODEBUG=schedtrace=2147483647 GOMAXPROCS=1" START=/tmp/b/startall.sh ./run2.sh /tmp/b/new s14alltuned$r s14alltuned$r 250
done
