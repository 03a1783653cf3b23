import os,sys,json
pid=sys.argv[1]; out={}
for t in os.listdir(f'/proc/{pid}/task'):
    st=open(f'/proc/{pid}/task/{t}/stat').read().rsplit(')',1)[1].split()
    sw=dict(l.split(':') for l in open(f'/proc/{pid}/task/{t}/status').read().splitlines() if 'ctxt' in l)
    out[t]=[int(st[11])+int(st[12]), int(sw['voluntary_ctxt_switches'])+int(sw['nonvoluntary_ctxt_switches'])]
print(json.dumps(out))
