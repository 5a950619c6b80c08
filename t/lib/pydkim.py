#!/usr/bin/python3
# pydkim.py - a message DKIM-signed by python3-dkim (dkim.sign), the
# second implementation the milter tests check the verifier against
# (t/lib/milter.sh: milter_pydkim_sign):
#
#   pydkim.py --key FILE --selector SEL [OPTION...] IN OUT
#
# IN is read with its line ends made CRLF (LF or CRLF in), OUT gets the
# DKIM-Signature header followed by that message.  Options:
#   --key FILE		what dkim.sign takes as the key: an RSA private
#			key (PEM) or, for ed25519-sha256, the base64 raw
#			32-byte seed
#   --selector SEL	s=
#   --domain DOM	d= (example.test)
#   --alg ALG		a=: rsa-sha256 (the default) or ed25519-sha256
#   --canon H/B		c= (python3-dkim's default: relaxed/simple)
#   --headers A,B,...	h= (python3-dkim's default list when not given)
#   --length		l=, the body length
import argparse

import dkim


def main():
    p = argparse.ArgumentParser(prog='pydkim.py')
    p.add_argument('--key', required=True)
    p.add_argument('--selector', required=True)
    p.add_argument('--domain', default='example.test')
    p.add_argument('--alg', default='rsa-sha256')
    p.add_argument('--canon')
    p.add_argument('--headers')
    p.add_argument('--length', action='store_true')
    p.add_argument('src')
    p.add_argument('dst')
    a = p.parse_args()

    msg = open(a.src, 'rb').read().replace(b'\r\n', b'\n')
    msg = msg.replace(b'\n', b'\r\n')
    kw = {}
    if a.canon:
        kw['canonicalize'] = tuple(c.encode() for c in a.canon.split('/'))
    if a.headers:
        kw['include_headers'] = [h.encode() for h in a.headers.split(',')]
    sig = dkim.sign(msg, a.selector.encode(), a.domain.encode(),
                    open(a.key, 'rb').read(),
                    signature_algorithm=a.alg.encode(), length=a.length,
                    **kw)
    open(a.dst, 'wb').write(sig + msg)


if __name__ == '__main__':
    main()
