#!/bin/bash
# Session 13's interleaved A/B: base (b17fb6a: after each task found, asynq's next dequeue round
# runs and finds every queue empty) against new (e5149b1: a worker that has found every announced
# task waits for the next announcement instead), alternately on the same private Redis and a
# fresh PostgreSQL database per run. First an api and a worker process (../issue12-s8/run2.sh)
# at 250 DMs/s and flat out, then one `messager all` process (../issue12-s11/runall.sh) at
# 250 DMs/s; 3 rounds each. Scripts copied to /tmp/b first, binaries built to /tmp/b/base and
# /tmp/b/new (see README.md).
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/base s13base$r s13base$r 250 flat
  ./run2.sh /tmp/b/new s13new$r s13new$r 250 flat
done
for r in 1 2 3; do
  ./runall.sh /tmp/b/base s13allbase$r s13allbase$r 250
  ./runall.sh /tmp/b/new s13allnew$r s13allnew$r 250
done
