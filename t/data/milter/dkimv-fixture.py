#!/usr/bin/python3
# dkimv-fixture.py - fixtures for t/0424-milter-dkim-verify, made by a
# second implementation (python3-dkim, Ed25519 through python3-nacl; the
# keys from the openssl command):
#
#   dkimv-fixture.py DIR keys
#	RSA keys of 768, 1024, 2048 and 4096 bits and an Ed25519 key:
#	DIR/NAME.pem (or .seed), DIR/NAME.pub (the p= value)
#   dkimv-fixture.py DIR sign SPEC
#	a signed message on stdout; SPEC is "key=value" words:
#	key=NAME alg=rsa-sha256 c=relaxed/relaxed msg=plain|folded|twosubj
#	h=from,to,subject (the h= list, names repeated to oversign)
#	l=1 (a body length tag), time=+N|-N (the signing clock moved),
#	tag=NAME:VALUE (added before b=, "now+N"/"now-N" in VALUE),
#	set=NAME:VALUE (a tag's value replaced), append=TEXT (added to the
#	body after signing; "_" a space, \r\n escapes), arc=1 (an
#	ARC-Message-Signature i=1 instead, as dkim.ARC makes it)
import base64, re, subprocess, sys, time

import dkim

MSGS = {
    'plain': b'From: User <user@example.test>\r\n'
             b'To: alice@example.test\r\n'
             b'Subject: verifier test\r\n'
             b'Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n'
             b'\r\n'
             b'Hello.\r\n'
             b'A second  line with  spaces \r\n'
             b'\r\n'
             b'\r\n',
    # folded in odd ways: a value that starts on the next line, tabs
    # and runs of spaces, trailing white space, no space after the colon
    'folded': b'From:User <user@example.test>\r\n'
              b'To:\r\n'
              b'\talice@example.test,\r\n'
              b'    \t bob@example.test  \r\n'
              b'Subject:   a  subject\r\n'
              b' \t folded\t \r\n'
              b'\t\tthree times \r\n'
              b'Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n'
              b'\r\n'
              b'Body.\r\n',
    'twosubj': b'From: User <user@example.test>\r\n'
               b'Subject: first\r\n'
               b'To: alice@example.test\r\n'
               b'Subject: second\r\n'
               b'\r\n'
               b'Two subjects.\r\n',
}


def openssl(*args):
    return subprocess.run(('openssl',) + args, check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout


def keys(d):
    # with the openssl command, as the harness makes its keys
    for bits in (768, 1024, 2048, 4096):
        pem = '%s/rsa%d.pem' % (d, bits)
        openssl('genrsa', '-traditional', '-out', pem, str(bits))
        der = openssl('pkey', '-in', pem, '-pubout', '-outform', 'DER')
        open('%s/rsa%d.pub' % (d, bits), 'wb').write(base64.b64encode(der))
    pem = '%s/ed.pem' % d
    openssl('genpkey', '-algorithm', 'ed25519', '-out', pem)
    # dkimpy takes the raw 32-byte private key; p= is the raw public key
    der = openssl('pkey', '-in', pem, '-outform', 'DER')
    open('%s/ed.seed' % d, 'wb').write(base64.b64encode(der[-32:]))
    der = openssl('pkey', '-in', pem, '-pubout', '-outform', 'DER')
    open('%s/ed.pub' % d, 'wb').write(base64.b64encode(der[-32:]))


def sign(d, words):
    o = {'key': 'rsa2048', 'alg': 'rsa-sha256', 'c': 'relaxed/relaxed',
         'msg': 'plain', 'h': 'from,to,subject,date', 'sel': None}
    tags, sets = [], {}
    for w in words:
        k, v = w.split('=', 1)
        if k == 'tag':
            tags.append(v.split(':', 1))
        elif k == 'set':
            n, val = v.split(':', 1)
            sets[n] = val
        else:
            o[k] = v
    now = time.time()
    if 'time' in o:
        shift = int(o['time'])
        time.time = lambda: now + shift

    def val(v):
        m = re.fullmatch(r'now([+-]\d+)', v)
        return str(int(now) + int(m.group(1))) if m else v

    orig = dkim.DKIM.gen_header

    def gen_header(self, fields, include_headers, *a, **kw):
        fields = [(n, sets[n.decode()].encode()
                   if n.decode() in sets else v) for n, v in fields]
        extra = [(n.encode(), val(v).encode()) for n, v in tags]
        fields = fields[:-1] + extra + fields[-1:]
        return orig(self, fields, include_headers, *a, **kw)

    dkim.DKIM.gen_header = gen_header
    msg = MSGS[o['msg']]
    name = o['key']
    if o['alg'] == 'ed25519-sha256':
        key = open('%s/%s.seed' % (d, name), 'rb').read()
    else:
        key = open('%s/%s.pem' % (d, name), 'rb').read()
    sel = (o['sel'] or name).encode()
    c = tuple(x.encode() for x in o['c'].split('/'))
    hl = [x.encode() for x in o['h'].split(',')]
    if o.get('arc') == '1':
        # an ARC-Message-Signature (i=1) as dkim.ARC makes it, through
        # the same gen_header (dkim.arc_sign wants python3-authres)
        dk = dkim.DKIM(msg)
        dk.signature_algorithm = o['alg'].encode()
        dk.hasher = dkim.HASH_ALGORITHMS[dk.signature_algorithm]
        if o['alg'] == 'ed25519-sha256':
            import nacl.encoding, nacl.signing
            pk = nacl.signing.SigningKey(key,
                                         encoder=nacl.encoding.Base64Encoder)
        else:
            pk = dkim.parse_pem_private_key(key)
        policy = dkim.CanonicalizationPolicy.from_c_value(b'/'.join(c))
        h = dk.hasher()
        h.update(policy.canonicalize_body(dk.body))
        fields = [(b'i', b'1'), (b'a', dk.signature_algorithm),
                  (b'c', b'/'.join(c)), (b'd', b'example.test'),
                  (b's', sel), (b't', str(int(time.time())).encode()),
                  (b'h', b':'.join(hl)),
                  (b'bh', base64.b64encode(h.digest())), (b'b', b'0' * 60)]
        sig = b'ARC-Message-Signature: ' + dk.gen_header(
            fields, tuple(hl), policy, b'ARC-Message-Signature', pk)
    else:
        sig = dkim.sign(msg, sel, b'example.test', key,
                        signature_algorithm=o['alg'].encode(),
                        canonicalize=c, include_headers=hl,
                        length=o.get('l') == '1')
    # "_" a space, backslash escapes (\\r\\n) as in Python
    append = o.get('append', '').replace('_', ' ')
    out = sig + msg + append.encode().decode('unicode_escape').encode()
    sys.stdout.buffer.write(out)


if __name__ == '__main__':
    if sys.argv[2] == 'keys':
        keys(sys.argv[1])
    else:
        sign(sys.argv[1], sys.argv[3].split())
