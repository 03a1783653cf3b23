#!/bin/bash
cd /tmp/b
for i in 1 2; do
  /tmp/b/run.sh /tmp/messager-final rnew$i rnew$i 250 flat
  /tmp/b/run.sh /tmp/messager-base rbase$i rbase$i 250 flat
done
/tmp/b/run.sh /tmp/messager-final rbnew1 rbnew1 bcast
