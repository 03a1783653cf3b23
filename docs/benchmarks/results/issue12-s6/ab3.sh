#!/bin/bash
cd /tmp/b
for i in 1 2; do
  /tmp/b/run.sh /tmp/messager-v2 sv2b$i sv2b$i bcast
  /tmp/b/run.sh /tmp/messager-r2 sr2b$i sr2b$i bcast
done
/tmp/b/run.sh /tmp/messager-v2 sv2d1 sv2d1 250 flat
/tmp/b/run.sh /tmp/messager-r2 sr2d1 sr2d1 250 flat
