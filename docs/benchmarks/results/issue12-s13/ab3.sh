#!/bin/bash
# Session 13's third A/B: ab2.sh's two binaries as one `messager all` process each
# (../issue12-s11/runall.sh; on the private Redis, so its enqueues are announced by PUBLISH, not
# in process), at 250 DMs/s, alternately, 3 rounds.
cd /tmp/b
for r in 1 2 3; do
  ./runall.sh /tmp/b/new s13alln$r s13alln$r 250
  ./runall.sh /tmp/b/ann s13allann$r s13allann$r 250
done
