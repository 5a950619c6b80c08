#!/usr/bin/python3
# arc-seal.py - ARC by a second implementation (python3-dkim, with
# python3-authres) for t/0427, t/0465 and t/0466:
#
#   arc-seal.py apply OUT IN
#	stdin: elemta-milter -t's output; OUT: message IN with its header
#	edits applied in order, as the MTA does (written again here, not
#	taken from the milter): delete-header: NAME N and change-header:
#	NAME N: VALUE on the Nth NAME (case ignored, counted in the
#	headers as they are then), insert-header[ N]: at index N (none:
#	the top, so the last printed ends on top), add-header: at the end
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


def nth(hdrs, name, n):
    seen = 0
    for i, (h, _) in enumerate(hdrs):
        if h.lower() == name.lower():
            seen += 1
            if seen == n:
                return i
    return None


def apply(out, src):
    msg = crlf(open(src, 'rb').read()).decode('latin-1')
    head, body = msg.split('\r\n\r\n', 1)
    hdrs = []
    for line in head.split('\r\n'):
        if line[:1] in (' ', '\t') and hdrs:
            hdrs[-1][1] += '\r\n' + line
        else:
            name, value = line.split(':', 1)
            hdrs.append([name, value])
    records = []
    for line in sys.stdin.read().split('\n'):
        if line[:1] in (' ', '\t') and records:
            records[-1] += '\r\n' + line
        elif line:
            records.append(line)
    for r in records:
        m = re.match(r'(delete-header): (\S+) (\d+)$', r)
        if m:
            i = nth(hdrs, m.group(2), int(m.group(3)))
            if i is not None:
                del hdrs[i]
            continue
        m = re.match(r'(change-header): (\S+) (\d+): (.*)$', r, re.S)
        if m:
            i = nth(hdrs, m.group(2), int(m.group(3)))
            if i is not None:
                hdrs[i][1] = ' ' + m.group(4)
            continue
        m = re.match(r'insert-header(?: (\d+))?: ([^:]+): (.*)$', r, re.S)
        if m:
            hdrs.insert(min(int(m.group(1) or 0), len(hdrs)),
                        [m.group(2), ' ' + m.group(3)])
            continue
        m = re.match(r'add-header: ([^:]+): (.*)$', r, re.S)
        if m:
            hdrs.append([m.group(1), ' ' + m.group(2)])
    open(out, 'wb').write(('\r\n'.join(n + ':' + v for n, v in hdrs)
                           + '\r\n\r\n' + body).encode('latin-1'))


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
