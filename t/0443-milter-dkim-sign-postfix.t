#!/bin/bash
# 0443-milter-dkim-sign-postfix - a real private Postfix with
# elemta-milter as smtpd_milters: a client that authenticated (XCLIENT
# LOGIN=, from an external address) has its message signed (RSA and
# Ed25519); the message smtp-sink receives carries both DKIM-Signature
# headers above our Authentication-Results header, and python3-dkim
# verifies both against unbound.  The same message from an
# unauthenticated external client arrives unsigned.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

MILTER=${top_builddir:-.}/milter/elemta-milter
PY=/usr/bin/python3
VERIFY=$top_srcdir/t/data/milter/dkim-sign-verify.py
[ -x "$MILTER" ] || tb_skip_all "elemta-milter not built"
peer_require postfix smtp-sink swaks unbound
$PY -c 'import dkim, nacl' 2>/dev/null ||
    tb_skip_all "python3-dkim or python3-nacl missing (tools/install-deps)"
tb_init
tb_plan 8
peer_start_unbound
peer_start_smtp_sink

{
	echo "rsa example.test:$TB_DKIM_RSA_SELECTOR:$TB_DKIM_RSA_KEY"
	echo "ed example.test:$TB_DKIM_ED25519_SELECTOR:$TB_DKIM_ED25519_KEY"
} >"$TB/keys"
echo '*@example.test rsa ed' >"$TB/signing"
LOG=$TB/milter.log
tb_spawn milter "$LOG" "$MILTER" -f -c /dev/null \
    -o "milter.listen=inet:127.0.0.1:$TB_PORT_MILTER" \
    -o milter.user= -o milter.authserv_id=mx.example.test \
    -o "milter.dkim_key_table=$TB/keys" \
    -o "milter.dkim_signing_table=$TB/signing" \
    -o "dns.nameservers=$TB_DNS"
tb_ready milter "on 127.0.0.1:$TB_PORT_MILTER" 10 \
    tb_connect 127.0.0.1 "$TB_PORT_MILTER"
peer_start_postfix "smtpd_milters = inet:127.0.0.1:$TB_PORT_MILTER"

# send SUBJECT ARGS - one message through Postfix; swaks's transcript
send() {
	local subject=$1
	shift
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 20 \
	    --helo client.remote.test --from user@example.test \
	    --to bob@sink.test --header "Subject: $subject" \
	    --header "From: User <user@example.test>" \
	    --body "Hello Bob, signed by the gateway." "$@" 2>&1
}

# delivered SUBJECT - the file smtp-sink wrote for it
delivered() {
	grep -l "^Subject: $1" "$TB_SINK_DIR"/msg.* 2>/dev/null | head -1
}

out=$(send "authenticated" --xclient-addr 192.0.2.20 \
    --xclient-login alice)
tb_like "$out" '250 2\.0\.0 Ok: queued' "the authenticated message is queued" ||
    tb_diag "$out"
tb_wait 20 eval '[ -n "$(delivered authenticated)" ]'
f=$(delivered authenticated)
tb_ok "smtp-sink received it" test -n "$f"
hdrs=$(sed '/^\r\{0,1\}$/q' "${f:-/dev/null}")
tb_is "$(grep -c '^DKIM-Signature:' <<<"$hdrs")" 2 \
    "two DKIM-Signature headers delivered"
tb_like "$(grep -E '^(DKIM-Signature|Authentication-Results):' <<<"$hdrs" |
    cut -c1-40 | tr '\n' '|')" \
    "^DKIM-Signature: v=1; a=ed25519-sha256; c|DKIM-Signature: v=1; a=rsa-sha256; c=rel|Authentication-Results: mx.example.test" \
    "the signatures above our Authentication-Results header"
# smtp-sink's file starts with its own trace lines: from the first header
sed -n '/^DKIM-Signature:/,$p' "${f:-/dev/null}" >"$TB/signed.eml"
py=$($PY "$VERIFY" "$TB/signed.eml" "$TB_DNS" 2>&1)
tb_like "$py" "a=rsa-sha256 d=example.test s=$TB_DKIM_RSA_SELECTOR pass" \
    "python3-dkim: the delivered RSA signature passes"
tb_like "$py" "a=ed25519-sha256 d=example.test s=$TB_DKIM_ED25519_SELECTOR pass" \
    "python3-dkim: the delivered Ed25519 signature passes"

out=$(send "anonymous" --xclient-addr 192.0.2.21)
tb_wait 20 eval '[ -n "$(delivered anonymous)" ]'
f=$(delivered anonymous)
tb_ok "the unauthenticated message arrives" test -n "$f"
tb_is "$(sed '/^\r\{0,1\}$/q' "${f:-/dev/null}" | grep -c '^DKIM-Signature:')" 0 \
    "unauthenticated: not signed"
tb_done
