import sys, collections, re
# perf script output: sample header line, then frames "\t addr sym (dso)", blank line between samples
cnt=collections.Counter(); cnt2=collections.Counter(); n=0
frames=[]
def flush():
    global frames, n
    if not frames: return
    n+=1
    user=[f for f in frames if not f.startswith('[k]')]
    # runtime path that blocked
    rt=[f for f in user if f.startswith('runtime.')][:6]
    key1=' < '.join(f for f in rt if f.split('(')[0] in ('runtime.futexsleep','runtime.notesleep','runtime.stopm','runtime.findRunnable','runtime.netpoll','runtime.usleep','runtime.osyield','runtime.schedule','runtime.park_m','runtime.mPark','runtime.exitsyscall','runtime.entersyscallblock','runtime.sysmon','runtime.gcBgMarkWorker','runtime.runqgrab','runtime.stealWork'))
    nonrt=[f for f in user if not f.startswith('runtime.') and not f.startswith('internal/runtime') and not f.startswith('syscall.') and not f.startswith('internal/poll')][:3]
    cnt[key1]+=1
    cnt2[' < '.join(nonrt) if nonrt else '(runtime only) '+' < '.join(rt[:4])]+=1
    frames=[]
for line in sys.stdin:
    line=line.rstrip('\n')
    if not line.strip():
        flush(); continue
    if line.startswith('\t') or line.startswith(' '):
        parts=line.strip().split(None,1)
        if len(parts)<2: continue
        sym=parts[1]
        dso=sym[sym.rfind('('):] if '(' in sym else ''
        s=sym[:sym.rfind(' (')] if ' (' in sym else sym
        s=re.sub(r'\+0x[0-9a-f]+$','',s)
        if 'kernel' in dso: frames.append('[k]'+s)
        else: frames.append(s)
flush()
print('samples',n)
for k,v in cnt.most_common(12): print(f'{v:6d} {100*v/n:5.1f}%  {k}')
print('---')
for k,v in cnt2.most_common(25): print(f'{v:6d} {100*v/n:5.1f}%  {k[:200]}')
