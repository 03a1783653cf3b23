#!/bin/bash
# quiet A/B: base vs final, DMs then broadcast
cd /tmp/b
for i in 1 2 3; do
  /tmp/b/run.sh /tmp/messager-base qbase$i qbase$i 250 flat
  /tmp/b/run.sh /tmp/messager-final qnew$i qnew$i 250 flat
done
for i in 1 2; do
  /tmp/b/run.sh /tmp/messager-base qbbase$i qbbase$i bcast
  /tmp/b/run.sh /tmp/messager-final qbnew$i qbnew$i bcast
done
