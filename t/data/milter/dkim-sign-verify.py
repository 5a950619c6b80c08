#!/usr/bin/python3
# dkim-sign-verify.py FILE DNS - verify every DKIM signature of FILE with
# python3-dkim, the keys asked of the DNS server DNS ("127.0.0.1@PORT")
# by a minimal UDP client (no dnspython here); prints "N a=ALG d=DOM
# s=SEL pass|fail" per signature.  Its txt() serves arc-seal.py too.
import random, re, socket, struct, sys
import dkim

def txt(name, server):
    host, port = server.split('@')
    qid = random.randrange(65536)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('>HH', 16, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (host, int(port)))
    r = s.recv(65535)
    an = struct.unpack('>H', r[6:8])[0]
    p = len(q)
    out = []
    for _ in range(an):
        while r[p] not in (0,) and r[p] < 0xc0:
            p += r[p] + 1
        p += 2 if r[p] >= 0xc0 else 1
        rtype, _, _, rdlen = struct.unpack('>HHIH', r[p:p + 10])
        p += 10
        rd, p = r[p:p + rdlen], p + rdlen
        if rtype != 16:
            continue
        i, t = 0, b''
        while i < len(rd):
            t += rd[i + 1:i + 1 + rd[i]]
            i += 1 + rd[i]
        out.append(t)
    return out[0] if out else None


def main():
    path, server = sys.argv[1:3]
    msg = open(path, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    hdrs = msg.split(b'\r\n\r\n', 1)[0]
    n = len(re.findall(rb'(?im)^dkim-signature:', hdrs))
    for i in range(n):
        d = dkim.DKIM(msg)
        why = ''
        try:
            ok = d.verify(idx=i, dnsfunc=lambda name, timeout=5: txt(
                name.decode() if isinstance(name, bytes) else name, server))
        except dkim.DKIMException as e:   # body hash mismatch raises
            ok, why = False, ' (%s)' % e
        sig = dict(d.signature_fields) if d.signature_fields else {}
        print("%d a=%s d=%s s=%s %s" % (i, sig.get(b'a', b'?').decode(),
              sig.get(b'd', b'?').decode(), sig.get(b's', b'?').decode(),
              'pass' if ok else 'fail' + why))


if __name__ == '__main__':
    main()
