#!/bin/bash
# session 14: cache (0c8a4ef) against gate (admission with the group), 250/s x3 then flat x2
for r in 1 2 3; do
  ./run2.sh /tmp/b/cache s14c$((r+3)) s14c$((r+3)) 250
  ./run2.sh /tmp/b/gate s14g$r s14g$r 250
done
for r in 1 2; do
  ./run2.sh /tmp/b/cache s14c$((r+3)) s14c$((r+3)) flat
  ./run2.sh /tmp/b/gate s14g$r s14g$r flat
done
