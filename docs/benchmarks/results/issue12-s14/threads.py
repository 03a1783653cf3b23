#!/usr/bin/env python3
"""threads.py PID SECONDS -- per-thread context switches and CPU (ms) over SECONDS, busiest first."""
import os, sys, time
pid, secs = int(sys.argv[1]), float(sys.argv[2])
tck = os.sysconf('SC_CLK_TCK')
def snap():
    out = {}
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            sw = 0
            for line in open(f'/proc/{pid}/task/{t}/status'):
                if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                    sw += int(line.split()[1])
            st = open(f'/proc/{pid}/task/{t}/stat').read().rsplit(')', 1)[1].split()
            out[int(t)] = (sw, (int(st[11]) + int(st[12])) * 1000 / tck)
        except FileNotFoundError:
            pass
    return out
a = snap(); time.sleep(secs); b = snap()
rows = sorted(((b[t][0] - a.get(t, (0, 0))[0], b[t][1] - a.get(t, (0, 0))[1], t) for t in b), reverse=True)
tot_s = sum(r[0] for r in rows); tot_c = sum(r[1] for r in rows)
print(f"pid {pid}: {tot_s} switches, {tot_c:.0f} ms CPU over {secs}s")
for s, c, t in rows[:12]:
    print(f"  tid {t} (+{t - pid}): {s:7d} switches  {c:6.0f} ms")
