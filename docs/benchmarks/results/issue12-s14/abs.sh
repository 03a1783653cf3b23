#!/bin/bash
# sysmon A/B: head vs head with GODEBUG=schedtrace (sysmon never deep-sleeps)
for r in 1 2 3; do
  SERVER_ENV= ./run2.sh /tmp/b/head s14a$r s14a$r 250
  SERVER_ENV=GODEBUG=schedtrace=2147483647 ./run2.sh /tmp/b/head s14s$r s14s$r 250
done
