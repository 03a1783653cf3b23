#!/bin/bash
# session 14: broadcast to 1,000 online at 15/s, head (3f612be) against new (6a73ad3), 2 rounds
for r in 1 2; do
  ./run2.sh /tmp/b/head s14bh$r s14bh$r bcast
  ./run2.sh /tmp/b/new s14bn$r s14bn$r bcast
done
