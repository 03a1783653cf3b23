#!/bin/bash
# session 15: broadcast to 1,000, one sender flat out for 10 s (session 9's bflat.sh), adaptive
# scheduling off against on (same binary, CONF), 2 rounds.
for r in 1 2; do
  CONF=/tmp/b/notune.yaml ./bflat.sh /tmp/b/new s15bfoff$r s15bfoff$r
  CONF=/tmp/b/tune.yaml   ./bflat.sh /tmp/b/new s15bfon$r  s15bfon$r
done
