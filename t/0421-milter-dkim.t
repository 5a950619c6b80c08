#!/bin/bash
# 0421-milter-dkim - the DKIM verify stage through lib/dns against a real
# unbound carrying the harness' DKIM keys, driven by the offline mode
# (elemta-milter -t): messages signed by python3-dkim (RSA, Ed25519),
# Perl Mail::DKIM (RSA) and libopendkim's signer (RSA, Ed25519) pass,
# opendkim-testmsg's rsa-sha1 is permerror (RFC 8301); a
# tampered body or signed header fails; a selector without a key, a
# revoked key and a broken key record are permerror/fail; no signature
# is none; the cap on signatures; the On-* actions; i= outside d=, x=
# expired, an added From under an oversigned one; a key below
# dkim_min_key_bits, and one above dkim_max_key_bits (an 8704-bit key,
# t/data/milter/big-rsa.pem, published in unbound: permerror, logged
# with its size, passes when the limit allows it), and one whose public
# exponent has 161 bits; temperror once unbound is stopped.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require unbound
milter_require_pydkim
tb_init
tb_plan 59

# Extra key records: revoked (p= empty), garbage, and an RSA key
# larger than dkim_max_key_bits' default at "big".
BIG=$top_srcdir/t/data/milter/big-rsa.pem
BIGPUB=$(openssl pkey -in "$BIG" -pubout -outform DER 2>/dev/null |
    base64 -w0)
[[ ${#BIGPUB} -gt 1400 ]] || tb_bail "cannot read $BIG"
cat >"$TB/extra-zones.conf" <<'EOF'
local-data: 'revoked._domainkey.example.test. 300 IN TXT "v=DKIM1; k=rsa; p="'
local-data: 'garbage._domainkey.example.test. 300 IN TXT "v=DKIM1; k=rsa; p=!!notbase64!!"'
EOF
printf "local-data: 'big._domainkey.example.test. 300 IN TXT %s'\n" \
    "$(peer_txt_strings "v=DKIM1; k=rsa; p=$BIGPUB")" \
    >>"$TB/extra-zones.conf"
# ... and at "bige" a 2048-bit key whose public exponent has 161 bits
BIGE=$TB/bige.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt \
    rsa_keygen_pubexp:0x10000000000000000000000000000000000000001 \
    2>/dev/null | openssl rsa -traditional -out "$BIGE" 2>/dev/null ||
    tb_bail "openssl cannot make a key with a large exponent"
printf "local-data: 'bige._domainkey.example.test. 300 IN TXT %s'\n" \
    "$(peer_txt_strings "v=DKIM1; k=rsa; p=$(openssl pkey -in "$BIGE" \
	-pubout -outform DER 2>/dev/null | base64 -w0)")" \
    >>"$TB/extra-zones.conf"
peer_start_unbound "$TB/extra-zones.conf"

D=$TB_DKIM_DOMAIN
RSA=$TB_DKIM_RSA_SELECTOR
ED=$TB_DKIM_ED25519_SELECTOR

# The message every signer signs (LF line ends; the signers and we
# canonicalise to CRLF).
cat >"$TB/plain.eml" <<'EOF'
From: User <user@example.test>
To: alice@example.test
Subject: DKIM test
Message-ID: <dkim-test-1@example.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello DKIM.
A second line.
EOF

# pysign IN OUT SELECTOR ALG [DOMAIN] - sign with python3-dkim,
# relaxed/relaxed, h= From, To, Subject, Message-ID, Date; the key in
# the file PYSIGN_KEY, else the harness' RSA key or Ed25519 seed
pysign() {
	local key=${PYSIGN_KEY:-$TB_DKIM_RSA_KEY}

	if [[ $4 == ed25519-sha256 ]]; then
		key=$TB/ed25519.seed
		printf '%s' "$TB_DKIM_ED25519_SEED" >"$key"
	fi
	milter_pydkim_sign "$1" "$2" --key "$key" --selector "$3" \
	    --alg "$4" --domain "${5:-$D}" --canon relaxed/relaxed \
	    --headers from,to,subject,message-id,date
}

# run FILE [ARGS] - elemta-milter -t on FILE; an internal client, so
# that only DKIM speaks in the A-R header
run() {
	local f=$1

	shift
	milter_t "$f" --client-ip 127.0.0.1 --sender user@example.test \
	    --rcpt alice@example.test "$@"
}

# b8 FILE - the first 8 characters of the first signature's b=
b8() {
	$PY - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1], 'rb').read().decode()
h = re.search(r'DKIM-Signature:(.*?)\r?\n(?![ \t])', t, re.S).group(1)
b = re.search(r'(?:^|;)\s*b=([^;]*)', h).group(1)
print(re.sub(r'\s', '', b)[:8])
EOF
}

# --- python3-dkim, RSA
pysign "$TB/plain.eml" "$TB/py-rsa.eml" "$RSA" rsa-sha256
out=$(run "$TB/py-rsa.eml")
tb_is "$?" 0 "-t exits 0"
b=$(b8 "$TB/py-rsa.eml")
tb_like "$out" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=sel1 header\.a=rsa-sha256 header\.b=\"?${b//+/\\+}\"?([[:space:];]|$)" \
    "python3-dkim RSA: pass with d, i, s, a, b (b=$b)"
tb_like "$out" "verdict: accept" "pass: accepted"
tb_like "$(cat "$TB/stderr")" "TEST: .*dkim=pass\(d=example.test\) action=accept" \
    "the summary log line has the DKIM result"

# --- python3-dkim, Ed25519 (RFC 8463)
pysign "$TB/plain.eml" "$TB/py-ed.eml" "$ED" ed25519-sha256
out=$(run "$TB/py-ed.eml")
tb_like "$out" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=ed1 header\.a=ed25519-sha256 header\.b=" \
    "python3-dkim Ed25519: pass"

# --- dual signature: Ed25519 and RSA, two results
pysign "$TB/py-rsa.eml" "$TB/py-dual.eml" "$ED" ed25519-sha256
out=$(run "$TB/py-dual.eml")
tb_like "$out" "dkim=pass [^;]*header\.a=ed25519-sha256" "dual: Ed25519 passes"
tb_like "$out" "dkim=pass [^;]*header\.a=rsa-sha256" "dual: RSA passes"
tb_is "$(printf '%s\n' "$out" | grep -c 'dkim=')" 2 "dual: one result each"

# --- Perl Mail::DKIM, RSA (it has no Ed25519 signer)
perl -MMail::DKIM::Signer -e '
	my $s = Mail::DKIM::Signer->new(Algorithm => "rsa-sha256",
	    Method => "relaxed", Domain => $ARGV[0], Selector => $ARGV[1],
	    KeyFile => $ARGV[2]);
	my $m = "";
	while (<STDIN>) { s/\r?\n$/\r\n/; $s->PRINT($_); $m .= $_; }
	$s->CLOSE;
	print $s->signature->as_string, "\r\n", $m;
' "$D" "$RSA" "$TB_DKIM_RSA_KEY" <"$TB/plain.eml" >"$TB/perl-rsa.eml"
out=$(run "$TB/perl-rsa.eml")
tb_like "$out" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=sel1 header\.a=rsa-sha256 header\.b=\"?$(b8 "$TB/perl-rsa.eml" | sed 's/+/\\+/g')" \
    "Perl Mail::DKIM RSA: pass"

# --- libopendkim's signer (opendkim-testmsg), RSA
if command -v opendkim-testmsg >/dev/null; then
	opendkim-testmsg -d "$D" -s "$RSA" -k "$TB_DKIM_RSA_KEY" \
	    <"$TB/plain.eml" >"$TB/od-rsa.eml" 2>"$TB/od.err"
	# it signs with rsa-sha1 only, which RFC 8301 says not to accept
	out=$(run "$TB/od-rsa.eml")
	tb_like "$out" "dkim=permerror \(rsa-sha1 not accepted, RFC 8301\) header\.d=example\.test [^;]*header\.s=sel1 header\.a=rsa-sha1" \
	    "opendkim-testmsg (rsa-sha1): verified, reported permerror (RFC 8301)"
else
	tb_missing_some 1 "opendkim-testmsg missing"
fi

# --- libopendkim's own signer (what the opendkim milter signs with),
# called through ctypes: RSA-SHA256 and Ed25519-SHA256
odsign() {
	$PY - "$@" <<'EOF'
import ctypes, sys
src, dst, sel, dom, keyfile, alg = sys.argv[1:7]
lib = ctypes.CDLL("libopendkim.so.11")
vp, cp = ctypes.c_void_p, ctypes.c_char_p
lib.dkim_init.restype = vp
lib.dkim_init.argtypes = [vp, vp]
lib.dkim_sign.restype = vp
lib.dkim_sign.argtypes = [vp, cp, vp, cp, cp, cp, ctypes.c_int,
    ctypes.c_int, ctypes.c_int, ctypes.c_ssize_t,
    ctypes.POINTER(ctypes.c_int)]
lib.dkim_chunk.argtypes = [vp, cp, ctypes.c_size_t]
lib.dkim_eom.argtypes = [vp, vp]
lib.dkim_getsighdr.argtypes = [vp, cp, ctypes.c_size_t, ctypes.c_size_t]
msg = open(src, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
st = ctypes.c_int(0)
d = lib.dkim_sign(lib.dkim_init(None, None), b"t0421", None,
    open(keyfile, 'rb').read(), sel.encode(), dom.encode(), 1, 1,
    {'rsa-sha256': 1, 'ed25519-sha256': 2}[alg], -1, ctypes.byref(st))
if not d:
    sys.exit("dkim_sign: status %d" % st.value)
for what, rc in (("chunk", lib.dkim_chunk(d, msg, len(msg))),
                 ("chunk", lib.dkim_chunk(d, None, 0)),
                 ("eom", lib.dkim_eom(d, None))):
    if rc != 0:
        sys.exit("dkim_%s: status %d" % (what, rc))
buf = ctypes.create_string_buffer(8192)
if lib.dkim_getsighdr(d, buf, len(buf), len("DKIM-Signature: ")) != 0:
    sys.exit("dkim_getsighdr failed")
open(dst, 'wb').write(b"DKIM-Signature: " +
    buf.value.replace(b'\n', b'\r\n') + b"\r\n" + msg)
EOF
}
odsign "$TB/plain.eml" "$TB/lib-rsa.eml" "$RSA" "$D" "$TB_DKIM_RSA_KEY" \
    rsa-sha256 2>"$TB/odsign.err"
out=$(run "$TB/lib-rsa.eml")
tb_like "$out" "dkim=pass header\.d=example\.test [^;]*header\.s=sel1 header\.a=rsa-sha256" \
    "libopendkim's signer, RSA-SHA256: pass"
odsign "$TB/plain.eml" "$TB/lib-ed.eml" "$ED" "$D" "$TB_DKIM_ED25519_KEY" \
    ed25519-sha256 2>>"$TB/odsign.err"
out=$(run "$TB/lib-ed.eml")
tb_like "$out" "dkim=pass header\.d=example\.test [^;]*header\.s=ed1 header\.a=ed25519-sha256" \
    "libopendkim's signer, Ed25519-SHA256: pass"

# --- tampered body: body hash mismatch
sed 's/^Hello DKIM\./Hello DKIM!/' "$TB/py-rsa.eml" >"$TB/bad-body.eml"
out=$(run "$TB/bad-body.eml")
tb_like "$out" "dkim=fail \(body hash mismatch\) header\.d=example\.test" \
    "tampered body: fail (body hash mismatch)"
tb_like "$out" "verdict: accept" "fail: only recorded by default"

# --- tampered signed header: signature mismatch
sed 's/^Subject: DKIM test/Subject: DKIM test (changed)/' "$TB/py-rsa.eml" \
    >"$TB/bad-hdr.eml"
out=$(run "$TB/bad-hdr.eml")
tb_like "$out" "dkim=fail \([^)]*\) header\.d=example\.test" \
    "tampered signed header: fail"
tb_unlike "$out" "body hash" "tampered header: the body hash still matches"

# --- an unsigned header added: still pass (not covered)
{ echo "X-Added: after signing"; cat "$TB/py-rsa.eml"; } >"$TB/added.eml"
out=$(run "$TB/added.eml")
tb_like "$out" "dkim=pass header\.d=example\.test" \
    "an unsigned header added later does not break the signature"

# --- key problems
pysign "$TB/plain.eml" "$TB/nokey.eml" nosuch rsa-sha256
out=$(run "$TB/nokey.eml")
tb_like "$out" "dkim=permerror \(key not found in DNS\) header\.d=example\.test header\.i=@example\.test header\.s=nosuch header\.a=rsa-sha256 header\.b=" \
    "selector without a key: permerror (RFC 6376 6.1.2)"
out=$(run "$TB/nokey.eml" -o milter.dkim_on_key_not_found=reject)
tb_like "$out" "^verdict: reject 550 5\.7\.20 " \
    "dkim_on_key_not_found=reject: 550 5.7.20"
out=$(run "$TB/nokey.eml" -o milter.dkim_on_bad_signature=reject)
tb_like "$out" "verdict: accept" \
    "a missing key is not a bad signature for the actions"

pysign "$TB/plain.eml" "$TB/revoked.eml" revoked rsa-sha256
out=$(run "$TB/revoked.eml")
tb_like "$out" "dkim=(fail|permerror) \(key revoked\) header\.d=example\.test" \
    "revoked key (empty p=): key revoked"

pysign "$TB/plain.eml" "$TB/garbage.eml" garbage rsa-sha256
out=$(run "$TB/garbage.eml")
tb_like "$out" "dkim=permerror \([^)]*\) header\.d=example\.test [^;]*header\.s=garbage" \
    "a broken key record: permerror"

pysign "$TB/plain.eml" "$TB/otherdom.eml" "$RSA" rsa-sha256 nosuch.test
out=$(run "$TB/otherdom.eml")
tb_like "$out" "dkim=permerror \(key not found in DNS\) header\.d=nosuch\.test" \
    "a domain that does not exist: permerror"

# --- syntax: a signature without b=
{ printf 'DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=sel1; h=from; bh=AAAA;\n'
  cat "$TB/plain.eml"; } >"$TB/nob.eml"
out=$(run "$TB/nob.eml")
tb_like "$out" "dkim=permerror \([^)]*\) header\.d=example\.test" \
    "a signature without b=: permerror"
tb_unlike "$out" "header\.b=" "no header.b when there is no b="

# --- unsigned
out=$(run "$TB/plain.eml")
tb_like "$out" "Authentication-Results: mx\.elemta\.test;.*dkim=none" \
    "unsigned: dkim=none"
tb_unlike "$out" "dkim=none header" "none carries no properties"
out=$(run "$TB/plain.eml" -o milter.dkim_on_no_signature=quarantine | grep verdict)
tb_like "$out" "^verdict: quarantine dkim: No DKIM signature found" \
    "dkim_on_no_signature=quarantine"
out=$(run "$TB/plain.eml" -o milter.dkim=false)
tb_unlike "$out" "dkim=" "dkim = false: no DKIM result"

# --- actions on a bad signature, and a good one wins over a bad one
out=$(run "$TB/bad-body.eml" -o milter.dkim_on_bad_signature=reject)
tb_like "$out" "^verdict: reject 550 5\.7\.20 No passing DKIM signature found" \
    "dkim_on_bad_signature=reject: 550 5.7.20"
tb_unlike "$out" "insert-header" "a rejected message gets no header"
out=$(run "$TB/bad-body.eml" -o milter.dkim_on_bad_signature=tempfail)
tb_like "$out" "^verdict: tempfail 451 4\.7\.20" \
    "dkim_on_bad_signature=tempfail: 451 4.7.20"
pysign "$TB/bad-hdr.eml" "$TB/good-bad.eml" "$ED" ed25519-sha256
out=$(run "$TB/good-bad.eml" -o milter.dkim_on_bad_signature=reject)
tb_like "$out" "dkim=pass [^;]*header\.s=ed1" "good + bad: the good one passes"
tb_like "$out" "dkim=fail [^;]*header\.s=sel1" "good + bad: the bad one fails"
tb_like "$out" "verdict: accept" "one passing signature: no action"

# --- the cap: max_signatures
cp "$TB/py-rsa.eml" "$TB/many.eml"
for i in 1 2 3 4; do
	pysign "$TB/many.eml" "$TB/many.tmp" "$RSA" rsa-sha256
	mv "$TB/many.tmp" "$TB/many.eml"
done
out=$(run "$TB/many.eml")
tb_is "$(printf '%s\n' "$out" | grep -c 'dkim=pass')" 5 \
    "five signatures, all verified under the default cap"
out=$(run "$TB/many.eml" -o milter.max_signatures=2)
tb_is "$(printf '%s\n' "$out" | grep -c 'dkim=')" 2 \
    "max_signatures=2: two verified"
tb_like "$(cat "$TB/stderr")" "3 signatures beyond max_signatures=2" \
    "the rest is logged"
out=$("$MILTER" -n -c /dev/null -o milter.max_signatures=50 2>&1)
tb_like "$?:$out" "^1:.*max_signatures" "max_signatures above 20 is refused"
out=$("$MILTER" -n -c /dev/null -o milter.dkim_on_dns_error=maybe 2>&1)
tb_like "$?:$out" "^1:.*dkim_on_dns_error" "an unknown action is refused"

# --- LF input (the signers wrote CRLF) and a large body (in chunks)
tr -d '\r' <"$TB/py-ed.eml" >"$TB/lf.eml"
out=$(run "$TB/lf.eml")
tb_like "$out" "dkim=pass [^;]*header\.s=ed1" "LF line ends: pass"
{ cat "$TB/plain.eml"; for i in $(seq 1 20000); do
	echo "line $i of a long body, to cross the 64 KB chunk size"; done
} >"$TB/big.eml"
pysign "$TB/big.eml" "$TB/big-signed.eml" "$RSA" rsa-sha256
out=$(run "$TB/big-signed.eml")
tb_like "$out" "dkim=pass header\.d=example\.test" \
    "a 1 MB body in chunks: pass"

# --- RFC 6376 read strictly, end to end: signatures python3-dkim makes
# with the harness' key and a tag changed before signing
# (t/data/milter/dkimv-fixture.py; t/0424 has every case)
mkdir -p "$TB/fx"
ln -sf "$TB_DKIM_RSA_KEY" "$TB/fx/$RSA.pem"
fx() {
	$PY "$top_srcdir/t/data/milter/dkimv-fixture.py" "$TB/fx" sign \
	    "key=$RSA $1" >"$2"
}
fx "set=i:user@other.test" "$TB/fx-i.eml"
out=$(run "$TB/fx-i.eml")
tb_like "$out" "dkim=permerror \(i= not in d=\) header\.d=example\.test header\.i=user@other\.test header\.s=sel1" \
    "i= outside d=: permerror, said so"
fx "time=-7200 tag=x:now-3600" "$TB/fx-x.eml"
out=$(run "$TB/fx-x.eml")
tb_like "$out" "dkim=permerror \(signature expired\) header\.d=example\.test" \
    "x= in the past: permerror (signature expired)"
fx "h=from,to,subject,from" "$TB/fx-o.eml"
{ echo "From: Evil <evil@example.test>"; cat "$TB/fx-o.eml"; } \
    >"$TB/fx-o2.eml"
out=$(run "$TB/fx-o2.eml")
tb_like "$out" "dkim=fail \(signature verification failed\) header\.d=example\.test" \
    "From oversigned, a From added on top: fail"

# --- the minimum RSA key size (the harness' key has 2048 bits)
out=$(run "$TB/py-rsa.eml" -o milter.dkim_min_key_bits=4096)
tb_like "$out" "dkim=permerror \(key too small\) header\.d=example\.test [^;]*header\.s=sel1" \
    "dkim_min_key_bits=4096: the 2048-bit key is refused"
out=$("$MILTER" -n -c /dev/null -o milter.dkim_min_key_bits=100 2>&1)
tb_like "$?:$out" "^1:.*dkim_min_key_bits" "dkim_min_key_bits below 512 is refused"

# --- the maximum RSA key size: 8704 bits, over the default 8192, and
# a public exponent of 161 bits; each refused, then logged with the
# sizes (SELECTOR KEY REASON BITS LOGGED)
while IFS='|' read -r sel key why bits logged; do
	PYSIGN_KEY=$key pysign "$TB/plain.eml" "$TB/$sel.eml" "$sel" rsa-sha256
	tb_like "$(run "$TB/$sel.eml" </dev/null)" \
	    "dkim=permerror \\($why\\) header\\.d=example\\.test [^;]*header\\.s=$sel" \
	    "s=$sel, $bits bits: permerror ($why)"
	tb_like "$(cat "$TB/stderr")" \
	    "dkim key=refused d=example\\.test s=$sel bits=$bits reason=\"$why\" $logged" \
	    "... logged with the sizes and the limits"
done <<EOF
big|$BIG|key too large|8704|dkim_min_key_bits=1024 dkim_max_key_bits=8192
bige|$BIGE|key exponent too large|2048|.* exponent_bits=161
EOF
# FILE LIMIT SELECTOR: under the limit, each key passes
while read -r f bits sel; do
	tb_like "$(run "$TB/$f" -o "milter.dkim_max_key_bits=$bits")" \
	    "dkim=pass header\.d=example\.test [^;]*header\.s=$sel" \
	    "dkim_max_key_bits=$bits: $f (s=$sel) passes"
done <<'EOF'
big.eml 16384 big
py-rsa.eml 4096 sel1
EOF
out=$("$MILTER" -n -c /dev/null -o milter.dkim_max_key_bits=2048 2>&1)
tb_like "$?:$out" "^1:.*dkim_max_key_bits" \
    "dkim_max_key_bits below 4096 (RFC 8301) is refused"
out=$("$MILTER" -n -c /dev/null -o milter.dkim_min_key_bits=8192 \
    -o milter.dkim_max_key_bits=4096 2>&1)
tb_like "$?:$out" "^1:.*dkim_min_key_bits \(8192\) above dkim_max_key_bits \(4096\)" \
    "dkim_min_key_bits above dkim_max_key_bits is refused"

# --- DNS down: temperror, bounded by the timeout
tb_stop unbound
start=$(tb_now_ms)
out=$(run "$TB/py-rsa.eml")
took=$(( $(tb_now_ms) - start ))
tb_like "$out" "dkim=temperror \([^)]*\) header\.d=example\.test [^;]*header\.s=sel1" \
    "DNS down: temperror"
tb_like "$out" "verdict: accept" "DNS down: accepted by default"
tb_ok "DNS down: bounded by the timeout (${took} ms)" test "$took" -lt 8000
out=$(run "$TB/py-rsa.eml" -o milter.dkim_on_dns_error=tempfail)
tb_like "$out" "^verdict: tempfail 451 4\.7\.20 DKIM key lookup failed" \
    "dkim_on_dns_error=tempfail: 451 4.7.20"
tb_done
