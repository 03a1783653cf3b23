#!/bin/bash
# usage: v2.sh NAME "DDL" -> a fresh copy of exp0 (mkexp0.sh) with DDL applied, then the backend's CPU per
# 1,000-recipient broadcast through messager_save_batch, twice over 300 (after 20 to warm up).
# Runs ../issue12-s9/pg-exp/run.sh, which writes its /proc readings under /tmp/b/exp (make it first).
NAME=$1; DDL=$2
RUN=$(cd "$(dirname "$0")/../issue12-s9/pg-exp" && pwd)/run.sh
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS expv WITH (FORCE)" -c "CREATE DATABASE expv TEMPLATE exp0" postgres
[ -n "$DDL" ] && psql -h 127.0.0.1 -U postgres -qc "$DDL" expv
cd /tmp/b/exp || exit 1
PROC=exp_bcast_f $RUN expv 0 20 >/dev/null
echo "$NAME $(PROC=exp_bcast_f $RUN expv 0 300) | $(PROC=exp_bcast_f $RUN expv 0 300)"
