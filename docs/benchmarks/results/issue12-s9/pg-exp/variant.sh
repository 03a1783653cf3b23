#!/bin/bash
# usage: variant.sh NAME "DDL" -> fresh copy of exp1 schema in db expv, apply DDL, 2x100 broadcasts
NAME=$1; DDL=$2
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS expv WITH (FORCE)" -c "CREATE DATABASE expv TEMPLATE exp0" postgres
[ -n "$DDL" ] && psql -h 127.0.0.1 -U postgres -qc "$DDL" expv
./run.sh expv 3 20 >/dev/null
echo "$NAME $(./run.sh expv 3 100) | $(./run.sh expv 3 100)"
