#!/usr/bin/env python3
"""ctxsw.py NAME=PID... [pg=DBNAME] -- prints JSON {name: switches} summed over every thread.
pg=DB sums the PostgreSQL backends connected to DB (pg_stat_activity)."""
import sys, os, json, subprocess
def switches(pid):
    n = 0
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            for line in open(f'/proc/{pid}/task/{t}/status'):
                if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                    n += int(line.split()[1])
        except FileNotFoundError:
            pass
    return n
out = {}
for a in sys.argv[1:]:
    name, val = a.split('=', 1)
    if name == 'pg':
        pids = subprocess.run(['psql', '-h', '127.0.0.1', '-U', 'postgres', '-tAc',
            f"select pid from pg_stat_activity where datname='{val}' and pid <> pg_backend_pid()", 'postgres'],
            capture_output=True, text=True).stdout.split()
        out[name] = {p: switches(int(p)) for p in pids if os.path.exists(f'/proc/{p}')}
    else:
        out[name] = switches(int(val))
print(json.dumps(out))
