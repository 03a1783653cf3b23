#!/bin/bash
# session 14: which setting does it. new (6a73ad3), 250 DMs/s, 2 rounds each:
#  allp1  : messager all, GOMAXPROCS=1
#  allp1s : messager all, GOMAXPROCS=1 + GODEBUG=schedtrace (default 10 ms linger)
#  p1s    : api + worker, each GOMAXPROCS=1 + GODEBUG=schedtrace
ST=GODEBUG=schedtrace=2147483647
for r in 1 2; do
  SERVER_ENV="GOMAXPROCS=1" START=/tmp/b/startall.sh ./run2.sh /tmp/b/new s14allp1$r s14allp1$r 250
  SERVER_ENV="GOMAXPROCS=1 $ST" START=/tmp/b/startall.sh ./run2.sh /tmp/b/new s14allp1s$r s14allp1s$r 250
  SERVER_ENV="GOMAXPROCS=1 $ST" ./run2.sh /tmp/b/new s14p1s$r s14p1s$r 250
done
