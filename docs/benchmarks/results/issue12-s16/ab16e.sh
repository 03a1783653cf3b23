#!/bin/bash
# session 16: broadcast to 1,000 (999 recipients each) paced at R broadcasts/s for 20 s, 4 senders,
# on new3: does the pipeline keep up (end-to-end p99 bounded) at the 60,000 deliveries/s target?
for R in ${RATES:-62 70}; do
  /tmp/b/start.sh /tmp/b/new3 s16bp$R || exit 1
  CPU="--cpu-from api=http://127.0.0.1:19091 --cpu-from worker=http://127.0.0.1:19092 --cpu-redis redis://127.0.0.1:6391/0 --cpu-postgres postgres://postgres@127.0.0.1:5432/s16bp$R?sslmode=disable"
  echo "== s16bp$R broadcast paced at $R/s"
  /tmp/b/new3 bench --target http://127.0.0.1:18080 --scenario broadcast --users 1000 --senders 4 --rate $R --duration 20s --warmup 5s --drain 600s $CPU --json /tmp/b/s16bp$R.json 2>&1 | grep -E '^deliveries|end-to-end|accept|correctness|server CPU|^  (api|worker|redis|postgres b)|^load|RESULT'
  /tmp/b/stop.sh
done
