#!/bin/bash
# session 14 A/B at 250 DMs/s: head (s14h), head + schedtrace (s14hs), cache (s14c), cache + schedtrace (s14cs)
ST=GODEBUG=schedtrace=2147483647
for r in 1 2 3; do
  SERVER_ENV= ./run2.sh /tmp/b/head s14h$r s14h$r 250
  SERVER_ENV=$ST ./run2.sh /tmp/b/head s14hs$r s14hs$r 250
  SERVER_ENV= ./run2.sh /tmp/b/cache s14c$r s14c$r 250
  SERVER_ENV=$ST ./run2.sh /tmp/b/cache s14cs$r s14cs$r 250
done
