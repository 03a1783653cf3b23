#!/bin/bash
# flat out with GOMAXPROCS=1 + GODEBUG=schedtrace, new (6a73ad3): api + worker, then messager all
ST="GOMAXPROCS=1 GODEBUG=schedtrace=2147483647"
SERVER_ENV="$ST" ./run2.sh /tmp/b/new s14p1s1 s14p1s1 flat
SERVER_ENV="$ST" START=/tmp/b/startall.sh ./run2.sh /tmp/b/new s14allp1s1 s14allp1s1 flat
