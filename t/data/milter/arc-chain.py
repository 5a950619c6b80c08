#!/usr/bin/python3
# arc-chain.py - a message forwarded through ARC sealers, each hop sealed
# by python3-dkim's dkim.arc_sign (needs python3-authres), for the ARC
# stage's tests (t/0423, t/0461):
#
#   arc-chain.py KEY IN OUT HOP [HOP...]
#
# KEY is an RSA private key (PEM, PKCS#1), IN the message; each HOP,
# oldest first, is DOMAIN[:CHANGE[:CHANGE...]], sealed with selector
# sel1 at DOMAIN after the CHANGEs it makes, like a mailing list:
#   body	append a footer line to the body
#   subject	prefix the Subject with "[list] "
# and after the last hop, on the whole result:
#   tamper=N	change the ARC-Authentication-Results of instance N
#   perl=DOMAIN	(not here: t/0423 seals with Mail::DKIM itself)
# Each hop adds its own Authentication-Results (authserv-id mx.DOMAIN,
# arc=none at the first hop, pass after), as a receiving MTA would
# before sealing; dkim.arc_sign reads cv= from it.
import re
import sys

import dkim


def crlf(b):
    return b.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def change(msg, what):
    head, body = msg.split(b'\r\n\r\n', 1)
    if what == 'body':
        body = body + b'-- \r\nlist footer\r\n'
    elif what == 'subject':
        head = re.sub(rb'(?mi)^Subject: ', b'Subject: [list] ', head, 1)
    else:
        raise SystemExit('arc-chain.py: unknown change %s' % what)
    return head + b'\r\n\r\n' + body


def hop(msg, key, n, spec):
    parts = spec.split(':')
    dom = parts[0].encode()
    for what in parts[1:]:
        msg = change(msg, what)
    srv = b'mx.' + dom
    ar = (b'Authentication-Results: ' + srv + b'; spf=pass '
          b'smtp.mailfrom=example.test; arc='
          + (b'none' if n == 1 else b'pass') + b'\r\n')
    msg = ar + msg
    sets = dkim.arc_sign(msg, b'sel1', dom, key, srv,
                         timestamp=1700000000 + n)
    if len(sets) != 3:
        raise SystemExit('arc-chain.py: dkim.arc_sign made %d headers'
                         % len(sets))
    # the receiver's own A-R stays below, as a forwarder keeps it
    return b''.join(sets) + msg


def tamper(msg, n):
    pat = rb'(?mi)^(ARC-Authentication-Results: *i=%d;[^\r]*?)spf=pass' % n
    out, k = re.subn(pat, rb'\1spf=fail', msg, 1)
    if k != 1:
        raise SystemExit('arc-chain.py: no A-AR i=%d to tamper with' % n)
    return out


def main():
    key = open(sys.argv[1], 'rb').read()
    msg = crlf(open(sys.argv[2], 'rb').read())
    n = 0
    for spec in sys.argv[4:]:
        if spec.startswith('tamper='):
            msg = tamper(msg, int(spec[7:]))
            continue
        n += 1
        msg = hop(msg, key, n, spec)
    open(sys.argv[3], 'wb').write(msg)


main()
