#!/bin/bash
# usage: run.sh DB MODE ITERS -> backend CPU per iteration
DB=$1; MODE=$2; IT=$3
psql -h 127.0.0.1 -U postgres -qAt $DB <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > /tmp/b/exp/before
CALL ${PROC:-exp_bcast}($IT, $MODE);
\! awk '{print \$14+\$15}' /proc/\$BPID/stat > /tmp/b/exp/after
SQL
echo "mode $MODE: $(( ($(cat after) - $(cat before)) * 10000 / $IT )) us per 1000-recipient broadcast"
