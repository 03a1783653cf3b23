#!/bin/bash
# interleaved A/B: base (session start, ecce93f) vs new (direct writes)
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/messager-base b9base$r b9base$r 250 flat bcast
  ./run2.sh /tmp/b/messager-new b9new$r b9new$r 250 flat bcast
done
