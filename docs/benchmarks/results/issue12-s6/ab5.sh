#!/bin/bash
cd /tmp/b
/tmp/b/run.sh /tmp/messager-ff25 uff1 uff1 bcast
/tmp/b/run.sh /tmp/messager-v2 uv1 uv1 bcast
/tmp/b/run.sh /tmp/messager-ff25 uff2 uff2 bcast
