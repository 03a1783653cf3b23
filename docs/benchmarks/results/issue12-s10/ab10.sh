#!/bin/bash
# interleaved A/B: base 92960df (session 10 start) vs new a921a79 (recipient rows keyed by message first)
cd /tmp/b
for r in 1 2 3; do
  ./run2.sh /tmp/b/messager-base t10base$r t10base$r 250 flat bcast
  ./run2.sh /tmp/b/messager-new t10new$r t10new$r 250 flat bcast
done
for r in 1 2; do
  ./bflat.sh /tmp/b/messager-base t10base-r$r t10base-r$r
  ./bflat.sh /tmp/b/messager-new t10new-r$r t10new-r$r
done
