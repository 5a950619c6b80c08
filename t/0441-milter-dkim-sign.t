#!/bin/bash
# 0441-milter-dkim-sign - DKIM signing through the offline mode
# (elemta-milter -t): an authenticated client (--auth) or an internal
# client IP gets its mail signed, RSA-SHA256 and Ed25519-SHA256 (dual
# signing), relaxed/relaxed, From oversigned; the signatures verify with
# python3-dkim (RSA, Ed25519), Perl Mail::DKIM (RSA), the opendkim
# program (opendkim -t: RSA, Ed25519) and our own verify stage, keys
# from a real unbound.  An external unauthenticated client
# is verified, not signed; a From domain not in the signing table is not
# signed; a key file of mode 0644 is refused at start.  genkey writes a
# 0600 private key and a TXT record that, served by unbound, makes the
# signatures made with that key verify.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
VERIFY=$top_srcdir/t/data/milter/dkim-sign-verify.py
milter_require unbound
milter_require_pydkim
perl -MMail::DKIM::Verifier -MNet::DNS -e 1 2>/dev/null ||
    tb_missing "Mail::DKIM or Net::DNS missing (tools/install-deps)"
tb_need opendkim opendkim
tb_init
tb_plan 69

# genkey first: its records go into unbound with the harness' keys.
GK=$TB/gk
mkdir -p "$GK"
"$MILTER" genkey -d example.test -s gkrsa -D "$GK" 2>"$TB/gk.err"
rc1=$?
"$MILTER" genkey -d example.test -s gked -t ed25519 -D "$GK" \
    2>>"$TB/gk.err"
rc2=$?
tb_is "$rc1 $rc2" "0 0" "genkey rsa and ed25519 ran"
tb_is "$(stat -c %a "$GK/gkrsa.private" "$GK/gked.private" | xargs)" \
    "600 600" "genkey: private keys of mode 0600"
tb_like "$(openssl pkey -in "$GK/gkrsa.private" -noout -text 2>&1 |
    head -1)" "2048 bit" "genkey: RSA-2048 by default"
tb_like "$(openssl pkey -in "$GK/gked.private" -noout -text 2>&1 |
    head -1)" "ED25519" "genkey -t ed25519: an Ed25519 key"
rec=$(grep -v '^;' "$GK/gkrsa.txt")
tb_like "$rec" '^gkrsa\._domainkey\.example\.test\. 3600 IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+"$' \
    "genkey: the RSA record, split into strings"
longest=$(grep -o '"[^"]*"' "$GK/gkrsa.txt" |
    awk '{ if (length($0) - 2 > m) m = length($0) - 2 } END { print m }')
tb_ok "genkey: strings of 255 characters at most ($longest)" \
    test "$longest" -le 255
tb_like "$(grep -v '^;' "$GK/gked.txt")" \
    '^gked\._domainkey\.example\.test\. 3600 IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$' \
    "genkey: the Ed25519 record (raw 32-byte key)"
"$MILTER" genkey -d example.test >/dev/null 2>&1
tb_is "$?" 2 "genkey without -s: usage error"

for f in gkrsa gked; do
	printf "local-data: '%s'\n" "$(grep -v '^;' "$GK/$f.txt")"
done >"$TB/extra-zones.conf"
peer_start_unbound "$TB/extra-zones.conf"

# The tables: the harness' keys (sel1, ed1) and genkey's.
{
	echo "# harness keys"
	echo "h-rsa example.test:$TB_DKIM_RSA_SELECTOR:$TB_DKIM_RSA_KEY"
	echo "h-ed  example.test:$TB_DKIM_ED25519_SELECTOR:$TB_DKIM_ED25519_KEY"
	echo "g-rsa %:gkrsa:$GK/gkrsa.private"
	echo "g-ed  %:gked:$GK/gked.private"
} >"$TB/keys"
echo '*@example.test h-rsa h-ed' >"$TB/st-dual"
echo '*@example.test h-rsa' >"$TB/st-rsa"
echo '*@example.test big' >"$TB/st-big"
echo 'example.test g-rsa g-ed' >"$TB/st-gen"

printf '%s\n' "From: User <user@example.test>" "To: alice@remote.test" \
    "Subject: signed by elemta" "Message-ID: <sign-1@example.test>" \
    "Date: Mon, 01 Jan 2024 00:00:00 +0000" "" \
    "Hello from an authenticated user." "A second line." >"$TB/plain.eml"

# run FILE ST ARGS - elemta-milter -t with signing table ST
run() {
	local f=$1 st=$2

	shift 2
	milter_t "$f" -o "milter.dkim_key_table=$TB/keys" \
	    -o "milter.dkim_signing_table=$st" \
	    --sender user@example.test --rcpt alice@remote.test "$@"
}

# signed OUT IN - the message as the MTA would deliver it: each inserted
# DKIM-Signature at the top in turn (the last one printed ends on top)
signed() {
	$PY -c '
import re, sys
out, src = sys.argv[1:3]
text = sys.stdin.read()
hdrs = []
for m in re.finditer(r"^insert-header: (DKIM-Signature: .*?)\n(?![\t ])",
                     text, re.S | re.M):
    hdrs.insert(0, m.group(1) + "\n")
open(out, "w").write("".join(hdrs) + open(src).read())
' "$1" "$2"
}

# perlverify FILE - Mail::DKIM's result per signature, keys from unbound
perlverify() {
	perl -MMail::DKIM::Verifier -MNet::DNS -e '
	my ($host, $port) = split /@/, $ARGV[1];
	Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
	    nameservers => [$host], port => $port, recurse => 1));
	my $v = Mail::DKIM::Verifier->new;
	open my $fh, "<", $ARGV[0] or die;
	while (<$fh>) { s/\r?\n$/\r\n/; $v->PRINT($_); }
	$v->CLOSE;
	for my $s ($v->signatures) {
		printf "a=%s s=%s %s\n", $s->algorithm, $s->selector,
		    $s->result;
	}' "$1" "$TB_DNS"
}

# --- authenticated: dual signing with the harness keys
out=$(run "$TB/plain.eml" "$TB/st-dual" --client-ip 192.0.2.10 --auth PLAIN)
tb_is "$(grep -c '^insert-header: DKIM-Signature:' <<<"$out")" 2 \
    "--auth: two DKIM-Signature headers (dual signing)"
tb_like "$out" "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test;"$'\n\t'"s=sel1;" \
    "the RSA signature: relaxed/relaxed, d= and s="
tb_like "$out" "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.test;"$'\n\t'"s=ed1;" \
    "the Ed25519 signature"
tb_like "$out" "h=From:To:Subject:Date:From;" \
    "signed headers: RFC 6376 5.4.1's present ones, From oversigned"
tb_like "$(cat "$TB/stderr")" "TEST: spf=skipped\(authenticated\) dkim-sign=rsa-sha256\(d=example.test s=sel1\) dkim-sign=ed25519-sha256\(d=example.test s=ed1\)" \
    "the summary log line names both signatures"
tb_unlike "$out" "dkim=" "signing instead of verifying: no dkim= result"
signed "$TB/dual.eml" "$TB/plain.eml" <<<"$out"
tb_like "$(head -1 "$TB/dual.eml")" "^DKIM-Signature: v=1; a=ed25519-sha256" \
    "the last inserted (Ed25519) ends on top"

py=$($PY "$VERIFY" "$TB/dual.eml" "$TB_DNS" 2>&1)
tb_like "$py" "a=ed25519-sha256 d=example.test s=ed1 pass" \
    "python3-dkim: our Ed25519 signature passes"
tb_like "$py" "a=rsa-sha256 d=example.test s=sel1 pass" \
    "python3-dkim: our RSA signature passes"
pl=$(perlverify "$TB/dual.eml" 2>&1)
tb_like "$pl" "a=rsa-sha256 s=sel1 pass" "Mail::DKIM: our RSA signature passes"
od=$(milter_opendkim_verify "$TB/dual.eml")
tb_like "$od" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.a=ed25519-sha256 header\.s=ed1 " \
    "opendkim -t: our Ed25519 signature passes" || tb_diag "$od"
tb_like "$od" "dkim=pass \(2048-bit key[^)]*\) header\.d=example\.test header\.i=@example\.test header\.a=rsa-sha256 header\.s=sel1 " \
    "opendkim -t: our RSA signature passes"
own=$(run "$TB/dual.eml" "$TB/st-dual" --client-ip 192.0.2.99)
tb_like "$own" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=ed1 header\.a=ed25519-sha256" \
    "our verify stage: the Ed25519 signature passes"
tb_like "$own" "dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=sel1 header\.a=rsa-sha256" \
    "our verify stage: the RSA signature passes"
tb_unlike "$own" "insert-header: DKIM-Signature" \
    "an external unauthenticated client: verified, not signed"

# a tampered body: the verifiers must notice
sed 's/Hello from/Hullo from/' "$TB/dual.eml" >"$TB/tampered.eml"
own=$(run "$TB/tampered.eml" "$TB/st-dual" --client-ip 192.0.2.99)
tb_is "$(grep -o 'dkim=fail' <<<"$own" | wc -l)" 2 \
    "tampered body: both signatures fail with our verifier"
py=$($PY "$VERIFY" "$TB/tampered.eml" "$TB_DNS" 2>&1)
tb_is "$(grep -c ' fail' <<<"$py")" 2 "tampered body: and with python3-dkim"
od=$(milter_opendkim_verify "$TB/tampered.eml")
tb_is "$(grep -o 'dkim=fail' <<<"$od" | wc -l)" 2 \
    "tampered body: and with opendkim -t" || tb_diag "$od"

# --- an internal client IP (127.0.0.1), no SASL: signed too
out=$(run "$TB/plain.eml" "$TB/st-rsa" --client-ip 127.0.0.1)
tb_is "$(grep -c '^insert-header: DKIM-Signature:' <<<"$out")" 1 \
    "internal client: one (RSA) signature"
signed "$TB/internal.eml" "$TB/plain.eml" <<<"$out"
tb_like "$($PY "$VERIFY" "$TB/internal.eml" "$TB_DNS" 2>&1)" \
    "0 a=rsa-sha256 d=example.test s=sel1 pass" \
    "internal client: python3-dkim passes it"
tb_like "$(perlverify "$TB/internal.eml" 2>&1)" "a=rsa-sha256 s=sel1 pass" \
    "internal client: Mail::DKIM passes it"
tb_like "$(milter_opendkim_verify "$TB/internal.eml")" "dkim=pass \(2048-bit key[^)]*\) header\.d=example\.test .*header\.s=sel1 " \
    "internal client: opendkim -t passes it"

# --- not signed: a From domain outside the table, several From
sed 's/^From: .*/From: Other <user@other.test>/' "$TB/plain.eml" \
    >"$TB/other.eml"
out=$(run "$TB/other.eml" "$TB/st-dual" --client-ip 192.0.2.10 --auth PLAIN)
tb_unlike "$out" "DKIM-Signature" "From domain not in the table: not signed"
sed 's/^From: .*/From: Sub <user@sub.example.test>/' "$TB/plain.eml" \
    >"$TB/sub.eml"
out=$(run "$TB/sub.eml" "$TB/st-dual" --client-ip 192.0.2.10 --auth PLAIN)
tb_unlike "$out" "DKIM-Signature" \
    "*@example.test does not cover sub.example.test"
{ echo "From: second@example.test"; cat "$TB/plain.eml"; } >"$TB/twofrom.eml"
out=$(run "$TB/twofrom.eml" "$TB/st-dual" --client-ip 192.0.2.10 --auth PLAIN)
tb_unlike "$out" "DKIM-Signature" "two From headers: not signed"
tb_like "$(cat "$TB/stderr")" "dkim-sign: not signed: several From headers" \
    "two From headers: logged"

# --- genkey's keys, domain "%" (the From domain), records from unbound
out=$(run "$TB/plain.eml" "$TB/st-gen" --client-ip 192.0.2.10 --auth LOGIN)
tb_is "$(grep -c '^insert-header: DKIM-Signature:' <<<"$out")" 2 \
    "genkey keys: loaded, two signatures"
signed "$TB/gen.eml" "$TB/plain.eml" <<<"$out"
py=$($PY "$VERIFY" "$TB/gen.eml" "$TB_DNS" 2>&1)
tb_like "$py" "a=rsa-sha256 d=example.test s=gkrsa pass" \
    "genkey RSA key + its TXT record: python3-dkim passes"
tb_like "$py" "a=ed25519-sha256 d=example.test s=gked pass" \
    "genkey Ed25519 key + its TXT record: python3-dkim passes"
tb_like "$(perlverify "$TB/gen.eml" 2>&1)" "a=rsa-sha256 s=gkrsa pass" \
    "genkey RSA key: Mail::DKIM passes"
od=$(milter_opendkim_verify "$TB/gen.eml")
tb_like "$od" "dkim=pass \(2048-bit key[^)]*\) header\.d=example\.test .*header\.s=gkrsa " \
    "genkey RSA key + its TXT record: opendkim -t passes"
tb_like "$od" "dkim=pass header\.d=example\.test .*header\.a=ed25519-sha256 header\.s=gked " \
    "genkey Ed25519 key + its TXT record: opendkim -t passes"
own=$(run "$TB/gen.eml" "$TB/st-gen" --client-ip 192.0.2.99)
tb_is "$(grep -o 'dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=gk' <<<"$own" | wc -l)" 2 \
    "genkey keys: our verify stage passes both"

# --- simple/simple on request
out=$(run "$TB/plain.eml" "$TB/st-rsa" --client-ip 192.0.2.10 --auth PLAIN \
    -o milter.dkim_sign_canonicalization=simple/simple)
tb_like "$out" "c=simple/simple;" "dkim_sign_canonicalization = simple/simple"
signed "$TB/simple.eml" "$TB/plain.eml" <<<"$out"
tb_like "$($PY "$VERIFY" "$TB/simple.eml" "$TB_DNS" 2>&1)" "s=sel1 pass" \
    "simple/simple: python3-dkim passes"

# --- a key that others can read is refused at start
cp "$GK/gkrsa.private" "$TB/open.private"
chmod 0644 "$TB/open.private"
echo "open example.test:gkrsa:$TB/open.private" >"$TB/keys-open"
"$MILTER" -c /dev/null -o "milter.dkim_key_table=$TB/keys-open" \
    -o "milter.dkim_signing_table=$TB/st-rsa" -t "$TB/plain.eml" \
    --client-ip 127.0.0.1 >"$TB/open.out" 2>"$TB/open.err"
rc=$?
tb_ok "a key of mode 0644: elemta-milter does not start" test "$rc" -ne 0
tb_like "$(cat "$TB/open.err")" "dkim signing: $TB/keys-open:1: key open: $TB/open.private: mode 0644: a private key must not be accessible by group or others" \
    "a key of mode 0644: a clear error"
tb_unlike "$(cat "$TB/open.out")" "DKIM-Signature" \
    "a key of mode 0644: nothing signed"
# --- a key too large to sign with (8704 bits): not signed, the log
# names the key, its size and the most a signature takes
install -m 0600 "$top_srcdir/t/data/milter/big-rsa.pem" "$TB/big.pem"
echo "big example.test:big:$TB/big.pem" >"$TB/keys-big"
"$MILTER" -c /dev/null -o "milter.dkim_key_table=$TB/keys-big" \
    -o "milter.dkim_signing_table=$TB/st-big" -t "$TB/plain.eml" \
    --client-ip 192.0.2.10 --auth PLAIN --sender user@example.test \
    --rcpt alice@remote.test >"$TB/big.out" 2>"$TB/big.err"
tb_unlike "$(cat "$TB/big.out")" "DKIM-Signature" \
    "an 8704-bit signing key: not signed"
tb_like "$(cat "$TB/big.err")" \
    'dkim-sign key=big: not signed: key too large: bits=8704, at most 8192 to sign' \
    "... logged with the key's size and the limit"
tb_like "$(cat "$TB/big.err")" \
    "dkim signing: key big: $TB/big.pem: RSA key of 8704 bits: more than a signature or a seal takes \\(8192\\)" \
    "... and warned about when the key table loads"
# a key over dkim_max_key_bits: it signs, with a warning at load that
# verifiers set as we are refuse it
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4160 \
    -out "$TB/k4160.pem" 2>/dev/null
chmod 0600 "$TB/k4160.pem"
echo "k4160 example.test:k4160:$TB/k4160.pem" >"$TB/keys-4160"
echo '*@example.test k4160' >"$TB/st-4160"
"$MILTER" -c /dev/null -o "milter.dkim_key_table=$TB/keys-4160" \
    -o "milter.dkim_signing_table=$TB/st-4160" -o milter.dkim_max_key_bits=4096 \
    -t "$TB/plain.eml" --client-ip 192.0.2.10 --auth PLAIN \
    --sender user@example.test --rcpt alice@remote.test \
    >"$TB/4160.out" 2>"$TB/4160.err"
tb_is "$(grep -c '^insert-header: DKIM-Signature:' "$TB/4160.out")" 1 \
    "a 4160-bit key over dkim_max_key_bits=4096: it signs"
tb_like "$(cat "$TB/4160.err")" \
    "dkim signing: key k4160: $TB/k4160.pem: RSA key of 4160 bits: over dkim_max_key_bits \\(4096\\): verifiers set as this one refuse its signatures" \
    "... with a warning at load"
# one table without the other is a configuration error
"$MILTER" -c /dev/null -o "milter.dkim_key_table=$TB/keys" \
    -t "$TB/plain.eml" >/dev/null 2>"$TB/half.err"
rc=$?
tb_ok "dkim_key_table without dkim_signing_table: refused" test "$rc" -ne 0
tb_like "$(cat "$TB/half.err")" \
    "dkim_key_table and dkim_signing_table go together" "and says why"

# --- the corners of canonicalization, both keys, both canonicalizations:
# folded and repeated headers, white space runs and tabs, trailing blank
# lines, a line of white space; an empty body.  (No final line end is
# in t/0444's table only: over SMTP a body always ends with CRLF, and
# Mail::DKIM's simple canonicalization does not add the CRLF that RFC
# 6376 section 3.4.3 adds to such a body.)
{
	printf 'From: "Doe,  John" <user@example.test>\n'
	printf 'To:   alice@remote.test,\n\t bob@remote.test  \n'
	printf 'To: carol@remote.test\n'
	printf 'Subject:\tcorner  cases\t\n'
	printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\n\n'
	printf '  leading space, inner  runs\tand tabs \t\n'
	printf '\n \t \nafter a blank line\n.\n\n\n  \n'
	printf 'the last line\n'
} >"$TB/corner.eml"
printf '%s\n' "From: user@example.test" "Subject: empty body" "" \
    >"$TB/empty.eml"
for c in relaxed/relaxed simple/simple; do
	for f in corner empty; do
		out=$(run "$TB/$f.eml" "$TB/st-dual" --client-ip 192.0.2.10 \
		    --auth PLAIN -o "milter.dkim_sign_canonicalization=$c")
		signed "$TB/$f-s.eml" "$TB/$f.eml" <<<"$out"
		if [ "$f" = corner ]; then
			tb_like "$out" "h=From:To:To:Subject:Date:From;" \
			    "$f, $c: both To headers signed"
		else
			tb_like "$out" "h=From:Subject:From;" \
			    "$f, $c: From and Subject signed"
		fi
		py=$($PY "$VERIFY" "$TB/$f-s.eml" "$TB_DNS" 2>&1)
		tb_is "$(grep -c ' pass$' <<<"$py")" 2 \
		    "$f, $c: python3-dkim passes RSA and Ed25519" ||
		    tb_diag "$py"
		own=$(run "$TB/$f-s.eml" "$TB/st-dual" --client-ip 192.0.2.99)
		tb_is "$(grep -o 'dkim=pass' <<<"$own" | wc -l)" 2 \
		    "$f, $c: libopendkim (our verify stage) passes both" ||
		    tb_diag "$own"
		tb_like "$(perlverify "$TB/$f-s.eml" 2>&1)" \
		    "a=rsa-sha256 s=sel1 pass" "$f, $c: Mail::DKIM passes RSA"
	done
done
tb_done
