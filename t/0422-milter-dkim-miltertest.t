#!/bin/bash
# 0422-milter-dkim-miltertest - the real elemta-milter daemon driven by
# miltertest (libmilter protocol), DKIM keys from a real unbound: a
# message signed by python3-dkim gets dkim=pass with header.d/i/s/a/b in
# the Authentication-Results inserted at index 0 (headers and body fed
# through the milter callbacks); a tampered body is rejected with
# dkim_on_bad_signature = reject; an unsigned one gets dkim=none.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require unbound
tb_need miltertest miltertest
$PY -c 'import dkim' 2>/dev/null ||
    tb_missing "python3-dkim missing (tools/install-deps)"
tb_init
tb_plan 5
peer_start_unbound

# The signature of the message dkim.lua sends, unfolded (relaxed header
# canonicalisation makes folding irrelevant), and the A-R it must give.
cat >"$TB/lua.eml" <<'EOF'
From: User <user@example.test>
To: alice@example.test
Subject: DKIM test

Hello DKIM.
A second line.
EOF
milter_pydkim_sign "$TB/lua.eml" "$TB/lua-signed.eml" \
    --domain "$TB_DKIM_DOMAIN" --canon relaxed/relaxed
vals=$($PY - "$TB/lua-signed.eml" "$TB_DKIM_DOMAIN" \
    "$TB_DKIM_RSA_SELECTOR" <<'PYEOF'
import re, sys
path, dom, sel = sys.argv[1:4]
t = open(path, 'rb').read().decode()
sig = re.match(r'DKIM-Signature:(.*?)\r\n(?![ \t])', t, re.S).group(1)
value = re.sub(r'\r?\n[ \t]+', ' ', sig).strip()
b = re.sub(r'\s', '', re.search(r'(?:^|;)\s*b=([^;]*)', value).group(1))[:8]
if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+^_`{|}~.@-]+", b):
    b = '"' + b + '"'
print(value)
print("mx.elemta.test;\n\tdkim=pass header.d=%s header.i=@%s header.s=%s "
      "header.a=rsa-sha256 header.b=%s" % (dom, dom, sel, b))
PYEOF
)
sig=$(printf '%s\n' "$vals" | sed -n 1p)
ar=$(printf '%s\n' "$vals" | sed -n '2,3p')

TB_MILTER_AUTHSERV=mx.elemta.test
milter_start -- -o milter.dkim_on_bad_signature=reject -o log.level=debug \
    -o milter.arc=false
LOG=$TB_MILTER_LOG

out=$(miltertest -D "port=$TB_PORT_MILTER" -D "sig=$sig" -D "ar=$ar" \
    -s "$TB_DATA/milter/dkim.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "miltertest script ran to the end"
[ "$rc" = 0 ] || tb_diag "$out" "$ar" "$(tail -n 20 "$LOG")"
tb_like "$out" "ok: pass in the inserted A-R" \
    "dkim=pass with header.d/i/s/a/b in the A-R at index 0"
tb_like "$out" "ok: tampered body rejected with 550 5.7.20" \
    "tampered body: 550 5.7.20 (dkim_on_bad_signature = reject)"
tb_like "$out" "ok: unsigned gives dkim=none" "unsigned: dkim=none"
tb_like "$(cat "$LOG")" "5D6E7F80: spf=skipped\(internal\) dkim=pass\(d=example.test\) action=accept" \
    "summary log line with the DKIM result"
tb_done
