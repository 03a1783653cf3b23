#!/bin/bash
# interleaved A/B: new (direct writes) vs new2 (direct writes + handlers commit)
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/messager-new b9n$r b9n$r 250 flat bcast
  ./run2.sh /tmp/b/messager-new2 b9m$r b9m$r 250 flat bcast
done
