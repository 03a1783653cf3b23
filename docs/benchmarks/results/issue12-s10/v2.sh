#!/bin/bash
# usage: v2.sh NAME "DDL" -> fresh copy of exp0, apply DDL, 2x100 broadcasts through messager_save_batch
NAME=$1; DDL=$2
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS expv WITH (FORCE)" -c "CREATE DATABASE expv TEMPLATE exp0" postgres
[ -n "$DDL" ] && psql -h 127.0.0.1 -U postgres -qc "$DDL" expv
PROC=exp_bcast_f ./run.sh expv 0 20 >/dev/null
echo "$NAME $(PROC=exp_bcast_f ./run.sh expv 0 300) | $(PROC=exp_bcast_f ./run.sh expv 0 300)"
