import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
rows=[]
for p,(cmd,t) in b.items():
    d=t-a.get(p,[cmd,0])[1]
    if d>0: rows.append((d,p,cmd[:90]))
for d,p,c in sorted(rows,reverse=True): print(f'{d*10:7d} ms {p:>7} {c}')
