#!/bin/bash
# Session 13's fourth A/B: ab2.sh's two binaries flat out only (32 senders), 3 more rounds
# alternately, because ab2.sh's flat rounds disagreed (see README.md).
cd /tmp/b
for r in 4 5 6; do
  ./run2.sh /tmp/b/new s13n$r s13n$r flat
  ./run2.sh /tmp/b/ann s13ann$r s13ann$r flat
done
