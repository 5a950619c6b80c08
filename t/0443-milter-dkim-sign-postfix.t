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
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
VERIFY=$top_srcdir/t/data/milter/dkim-sign-verify.py
milter_require postfix smtp-sink swaks unbound
milter_require_pydkim
tb_init
tb_plan 8
peer_start_unbound

milter_signing_tables
milter_start "dkim_key_table=$TB/keys" "dkim_signing_table=$TB/signing"
milter_postfix

# send SUBJECT ARGS - one message through Postfix; swaks's transcript
send() {
	milter_send "$@" --body "Hello Bob, signed by the gateway."
}

# delivered SUBJECT - the file smtp-sink wrote for it
delivered() {
	milter_delivered "$1"
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
