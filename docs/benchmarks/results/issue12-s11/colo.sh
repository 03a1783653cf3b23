#!/bin/bash
# Interleaved A/B at 7412028: an api and a worker process (../issue12-s8/run2.sh, "split") against
# one `messager all` process on the same Redis and PostgreSQL (runall.sh, "colo"), DMs at 250/s
# and flat out, 3 rounds. Scripts copied to /tmp/b first (see README.md).
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/messager s11split$r s11split$r 250 flat
  ./runall.sh /tmp/b/messager s11colo$r s11colo$r 250 flat
done
