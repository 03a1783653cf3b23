#!/bin/bash
# Session 12's interleaved A/B: base (0a013ae, every command of the session look-up and the
# admission through go-redis's auto-pipeliner) against new (32c66f2, a command alone in flight
# sent directly), alternately on the same private Redis and a fresh PostgreSQL database per run.
# First an api and a worker process (../issue12-s8/run2.sh) at 250 DMs/s and flat out, then one
# `messager all` process (../issue12-s11/runall.sh) at 250 DMs/s; 3 rounds each. Scripts copied
# to /tmp/b first, binaries built to /tmp/b/base and /tmp/b/new (see README.md).
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/base s12base$r s12base$r 250 flat
  ./run2.sh /tmp/b/new s12new$r s12new$r 250 flat
done
for r in 1 2 3; do
  ./runall.sh /tmp/b/base s12allbase$r s12allbase$r 250
  ./runall.sh /tmp/b/new s12allnew$r s12allnew$r 250
done
