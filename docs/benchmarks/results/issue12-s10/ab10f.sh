#!/bin/bash
cd /tmp/b
for r in 1 2; do
  ./bflat.sh /tmp/b/messager-base t10fbase$r t10base-r$r
  ./bflat.sh /tmp/b/messager-new t10fnew$r t10new-r$r
done
