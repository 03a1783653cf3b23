#!/bin/bash
cd /tmp/b
for i in 1 2; do
  /tmp/b/run.sh /tmp/messager-base tbase$i tbase$i 250 flat
  /tmp/b/run.sh /tmp/messager-v2 tnew$i tnew$i 250 flat
done
/tmp/b/run.sh /tmp/messager-base tbbase1 tbbase1 bcast
/tmp/b/run.sh /tmp/messager-v2 tbnew1 tbnew1 bcast
