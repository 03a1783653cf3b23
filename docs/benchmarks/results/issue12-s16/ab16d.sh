#!/bin/bash
# session 16: new3 (a broadcast to 256 or more is enough: no linger) against new (8f5abe6: enough
# was 1,000 recipients, so broadcasts to 999 from different senders lingered 20 ms), broadcast to
# 1,000, one sender flat out (bflat.sh), alternating; then new3 at 15 broadcasts/s.
for r in 1 2; do
  CONF=/tmp/b/tune.yaml ./bflat.sh /tmp/b/new3 s16bfx$r s16bfx$r
  CONF=/tmp/b/tune.yaml ./bflat.sh /tmp/b/new  s16bfo$r s16bfo$r
done
CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new3 s16bx1 s16bx1 bcast
