#!/bin/bash
# session 16: base (4a27fdd: 10 ms linger that always runs out) against new (20 ms linger, cut
# once the group holds 8 sends), both on defaults (tune.yaml: only the bench's rate limits and
# sampling off), alternating: one `messager all` at 250/s, api + worker at 250/s, api + worker
# flat out with 32 senders.
for r in ${ROUNDS:-1 2 3}; do
  START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/base s16allbase$r s16allbase$r 250
  START=/tmp/b/startall.sh CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new  s16allnew$r  s16allnew$r  250
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/base s16base$r s16base$r 250 flat
  CONF=/tmp/b/tune.yaml ./run2.sh /tmp/b/new  s16new$r  s16new$r  250 flat
done
