#!/bin/bash
# Session 13's second A/B: e5149b1 (/tmp/b/new: the enqueue notification published by the
# Notifier's goroutine in a round trip of its own) against 8bd6083 (/tmp/b/ann: asynq's enqueue
# script and the PUBLISH announcing its task in one pipeline), alternately, like ab.sh: an api
# and a worker at 250 DMs/s and flat out, 3 rounds (ab3.sh: the same as one `messager all`).
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/new s13n$r s13n$r 250 flat
  ./run2.sh /tmp/b/ann s13ann$r s13ann$r 250 flat
done
