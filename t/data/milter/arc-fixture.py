#!/usr/bin/python3
# arc-fixture.py - ARC chains for t/0406-milter-arc, made by a second
# implementation (python3-dkim's signer, as dkim.ARC.sign uses it; that
# function itself wants python3-authres):
#
#   arc-fixture.py DIR key
#	an RSA 2048 key: DIR/arc.pem, DIR/arc.pub (the p= value)
#   arc-fixture.py DIR chain N
#	a message with N ARC sets (cv=none at 1, pass above), selector
#	"arc", d=example.test, on stdout
import base64, subprocess, sys

import dkim

MSG = (b'From: User <user@example.test>\r\n'
       b'To: alice@example.test\r\n'
       b'Subject: ARC test\r\n'
       b'\r\n'
       b'Hello.\r\n')


def key(d):
    pem = '%s/arc.pem' % d
    subprocess.run(('openssl', 'genrsa', '-traditional', '-out', pem,
                    '2048'), check=True, stderr=subprocess.DEVNULL)
    der = subprocess.run(('openssl', 'pkey', '-in', pem, '-pubout',
                          '-outform', 'DER'), check=True,
                         stdout=subprocess.PIPE).stdout
    open('%s/arc.pub' % d, 'wb').write(base64.b64encode(der))


def arc_set(msg, inst, pk):
    # the end of dkim.ARC.sign: A-AR, AMS, then the seal over the sets
    dk = dkim.ARC(msg)
    dk.signature_algorithm = b'rsa-sha256'
    dk.hasher = dkim.HASH_ALGORITHMS[dk.signature_algorithm]
    policy = dkim.CanonicalizationPolicy.from_c_value(b'relaxed/relaxed')
    arc_headers = [y for x, y in dk.sorted_arc_headers()[1]]
    aar = (b'i=%d; mx%d.example.test; spf=pass '
           b'smtp.mailfrom=example.test\r\n' % (inst, inst))
    dk.headers.insert(0, (b'ARC-Authentication-Results', aar))
    arc_headers.insert(0, (b'ARC-Authentication-Results', aar))
    h = dk.hasher()
    h.update(policy.canonicalize_body(dk.body))
    inc = (b'from', b'to', b'subject')
    common = [(b'a', b'rsa-sha256'), (b'd', b'example.test'),
              (b's', b'arc'), (b't', b'1700000000')]
    i = (b'i', str(inst).encode())
    ams = dk.gen_header([i] + common[:1] + [(b'c', b'relaxed/relaxed')]
                        + common[1:] + [(b'h', b':'.join(inc)),
                                        (b'bh', base64.b64encode(h.digest())),
                                        (b'b', b'0' * 60)],
                        inc, policy, b'ARC-Message-Signature', pk)
    dk.headers.insert(0, (b'ARC-Message-Signature', ams))
    arc_headers.insert(0, (b'ARC-Message-Signature', ams))
    cv = b'none' if inst == 1 else b'pass'
    as_inc = [x[0].lower() for x in arc_headers]
    as_inc.reverse()
    seal = dk.gen_header([i, (b'cv', cv)] + common + [(b'b', b'0' * 60)],
                         as_inc, policy, b'ARC-Seal', pk)
    return (b'ARC-Seal: ' + seal + b'ARC-Message-Signature: ' + ams
            + b'ARC-Authentication-Results: ' + aar + msg)


if __name__ == '__main__':
    if sys.argv[2] == 'key':
        key(sys.argv[1])
    else:
        pk = dkim.parse_pem_private_key(open('%s/arc.pem' % sys.argv[1],
                                             'rb').read())
        msg = MSG
        for n in range(1, int(sys.argv[3]) + 1):
            msg = arc_set(msg, n, pk)
        sys.stdout.buffer.write(msg)
