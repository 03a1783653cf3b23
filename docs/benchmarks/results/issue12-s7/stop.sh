#!/bin/bash
P=$(cat /tmp/b/pids 2>/dev/null); [ -n "$P" ] && kill $P 2>/dev/null
for i in $(seq 50); do kill -0 $P 2>/dev/null || break; sleep 0.2; done
rm -f /tmp/b/pids
