#!/bin/bash
cd /tmp/b
/tmp/b/run.sh /tmp/messager-gate gate1 gate1 bcast
/tmp/b/run.sh /tmp/messager-gate gate2 gate2 bcast
/tmp/b/run.sh /tmp/messager-gate gated gated 250 flat
