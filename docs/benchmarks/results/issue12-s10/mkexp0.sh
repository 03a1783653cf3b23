#!/bin/bash
# usage: mkexp0.sh BIN -- the template database exp0 for v2.sh: BIN's schema (`BIN migrate`),
# 1,001 users (../issue12-s9/pg-exp/setup.sql) and exp_bcast_f, session 9's broadcasts through
# messager_save_batch (setup3.sql) with time-ordered message ids, as UUIDv7 ids are.
BIN=$1
S9=$(cd "$(dirname "$0")/../issue12-s9/pg-exp" && pwd)
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS exp0" -c "CREATE DATABASE exp0" postgres
MESSAGER_DATABASE_URL='postgres://postgres@127.0.0.1:5432/exp0?sslmode=disable' $BIN migrate
psql -h 127.0.0.1 -U postgres -q exp0 -f "$S9/setup.sql"
sed "s/ARRAY\[gen_random_uuid()::varchar\]/ARRAY[(to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') || substr(gen_random_uuid()::text, 1, 16))::varchar]/" "$S9/setup3.sql" |
  psql -h 127.0.0.1 -U postgres -q exp0
