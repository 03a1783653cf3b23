import os,sys,json
out={}
for p in os.listdir('/proc'):
    if not p.isdigit(): continue
    try:
        cmd=open(f'/proc/{p}/cmdline','rb').read().replace(b'\0',b' ').decode().strip()
        st=open(f'/proc/{p}/stat').read().rsplit(')',1)[1].split()
    except Exception: continue
    if not cmd.startswith('postgres'): continue
    out[p]=[cmd, int(st[11])+int(st[12])]
print(json.dumps(out))
