#!/bin/bash
cd /tmp/b
export XX_W1=1
/tmp/b/run.sh /tmp/messager-w1 w1a w1a bcast
/tmp/b/run.sh /tmp/messager-w1 w1b w1b bcast
unset XX_W1
/tmp/b/run.sh /tmp/messager-w1 w2a w2a bcast
