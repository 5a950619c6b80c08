#!/usr/bin/python3
# arc-seal.py - ARC by a second implementation (python3-dkim, with
# python3-authres) for t/0427 and t/0462:
#
#   arc-seal.py apply OUT IN
#	stdin: elemta-milter -t's output; OUT: message IN with each
#	insert-header: line inserted at the top in turn (the last printed
#	ends on top), as the MTA does
#   arc-seal.py verify FILE DNS
#	"CV N COMMENT": dkim.arc_verify's chain status (pass, fail, none)
#	and its sets, keys asked of DNS ("127.0.0.1@PORT")
#   arc-seal.py chain FILE KEY DOMAIN SELECTOR N [CV]
#	FILE with N more ARC sets from dkim.arc_sign (each hop adds its
#	Authentication-Results, arc=CV: none for a new chain, pass by
#	default above), on stdout
import importlib.util, os, re, sys

import dkim

spec = importlib.util.spec_from_file_location(
    'dsv', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'dkim-sign-verify.py'))
dsv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dsv)


def crlf(b):
    return b.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def apply(out, src):
    text = sys.stdin.read()
    hdrs = []
    for m in re.finditer(r'^insert-header: (.*?)\n(?![\t ])', text,
                         re.S | re.M):
        hdrs.insert(0, m.group(1) + '\n')
    open(out, 'wb').write(crlf(''.join(hdrs).encode()
                               + open(src, 'rb').read()))


def verify(path, server):
    msg = crlf(open(path, 'rb').read())
    cv, res, comment = dkim.arc_verify(msg, dnsfunc=lambda name, timeout=5:
                                       dsv.txt(name.decode()
                                               if isinstance(name, bytes)
                                               else name, server))
    # a chain that reports cv=fail comes back as None ("the chain is
    # terminated"): a failed chain
    print('%s %d %s' % (cv.decode() if cv is not None else 'fail', len(res),
                        comment))


def chain(path, keyfile, domain, sel, n, cv):
    msg = crlf(open(path, 'rb').read())
    key = open(keyfile, 'rb').read()
    for _ in range(n):
        top = max([int(x) for x in re.findall(
            rb'(?im)^arc-seal:[^\r]*?\bi=\s*(\d+)', msg)] or [0])
        srv = b'mx%d.python.test' % (top + 1)
        hop_cv = (b'none' if top == 0 else cv).decode()
        msg = (b'Authentication-Results: ' + srv + b'; arc=' + hop_cv.encode()
               + b'; spf=pass smtp.mailfrom=example.test\r\n' + msg)
        sets = dkim.arc_sign(msg, sel.encode(), domain.encode(), key, srv,
                             timestamp=1700000000)
        if not sets:
            sys.exit('arc_sign made no set')
        msg = b''.join(sets) + msg
    sys.stdout.buffer.write(msg)


if __name__ == '__main__':
    if sys.argv[1] == 'apply':
        apply(*sys.argv[2:4])
    elif sys.argv[1] == 'verify':
        verify(*sys.argv[2:4])
    else:
        chain(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
              int(sys.argv[6]), (sys.argv[7] if len(sys.argv) > 7
                                 else 'pass').encode())
