#!/bin/bash
# After colo.sh: how far settings alone take one `messager all` process at 250 DMs/s, 3 rounds of
# the default, GOMAXPROCS=1, and GOMAXPROCS=1 with spec.messaging.sendLinger 20 ms, interleaved.
cd /tmp/b
S7=/work/main/docs/benchmarks/results/issue12-s7
for r in 1 2 3; do
  ./runall.sh /tmp/b/messager s11cd$r s11cd$r 250
  SERVER_ENV=GOMAXPROCS=1 ./runall.sh /tmp/b/messager s11cg$r s11cg$r 250
  SERVER_ENV=GOMAXPROCS=1 CONF=$S7/linger-20ms.yaml ./runall.sh /tmp/b/messager s11cgl$r s11cgl$r 250
done
