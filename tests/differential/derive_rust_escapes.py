# Measures which code points cast's abi-decode prints as \u{..} (Rust's {:?} for str).
import subprocess, re, sys
C="/work/main/node_modules/.bin/cast"
escaped=[]
cps=[c for c in range(0x20,0x110000) if not (0xD800<=c<=0xDFFF) and c not in (0x22,0x5c)]
CH=12000
for i in range(0,len(cps),CH):
    chunk=cps[i:i+CH]
    s="".join(chr(c) for c in chunk).encode("utf-8")
    n=len(s); pad=(32-n%32)%32
    data="0x"+("%064x"%32)+("%064x"%n)+s.hex()+"00"*pad
    out=subprocess.run([C,"abi-decode","f()(string)",data],capture_output=True).stdout.decode("utf-8")
    out=out.rstrip("\n"); assert out[0]=='"' and out[-1]=='"', out[:50]
    body=out[1:-1]; j=0
    for c in chunk:
        if body.startswith("\\u{",j):
            k=body.index("}",j); v=int(body[j+3:k],16); assert v==c,(hex(c),hex(v)); escaped.append(c); j=k+1
        else:
            assert body[j]==chr(c),(hex(c),body[j:j+10]); j+=len(chr(c))
    assert j==len(body)
    print(i, len(escaped), file=sys.stderr)
# ranges
rs=[]; 
for c in escaped:
    if rs and rs[-1][1]==c-1: rs[-1][1]=c
    else: rs.append([c,c])
open("/tmp/abi_uni/ranges.txt","w").write("\n".join("%x %x"%(a,b) for a,b in rs))
print(len(rs),"ranges")
