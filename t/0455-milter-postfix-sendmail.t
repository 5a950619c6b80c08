#!/bin/bash
# 0455-milter-postfix-sendmail - elemta-milter as non_smtpd_milters:
# mail submitted with Postfix's own sendmail command (postdrop, pickup,
# cleanup) goes through the milter too.  Postfix presents such mail as
# coming from localhost [127.0.0.1] (an internal network by default),
# so a message whose From is in the signing table is signed (RSA and
# Ed25519) and gets our Authentication-Results header; python3-dkim and
# the opendkim program verify both signatures against unbound.  A From
# outside the table goes out unsigned, with our A-R header still.  The
# milter's summary line carries Postfix's queue id.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
VERIFY=$top_srcdir/t/data/milter/dkim-sign-verify.py
milter_require postfix smtp-sink unbound
tb_need postfix sendmail
tb_need opendkim opendkim
milter_require_pydkim
tb_init
tb_plan 12
peer_start_unbound

milter_signing_tables
milter_start "dkim_key_table=$TB/keys" "dkim_signing_table=$TB/signing"
milter_postfix "non_smtpd_milters = inet:127.0.0.1:$TB_PORT_MILTER"

# submit SUBJECT FROM - one message through sendmail(1); its status
submit() {
	printf '%s\n' "From: User <$2>" "To: Bob <bob@sink.test>" \
	    "Subject: $1" "Date: Mon, 01 Jan 2024 00:00:00 +0000" \
	    "Message-ID: <$RANDOM.$1@example.test>" "" \
	    "Hello Bob, this came through pickup." |
	    sendmail -C "$TB_POSTFIX_CONF" -f "$2" bob@sink.test \
	    >"$TB/sendmail.log" 2>&1
}

submit local-signed user@example.test
tb_is "$?" 0 "sendmail accepted the message" ||
    tb_diag "$(cat "$TB/sendmail.log")"
f=$(milter_wait_delivered local-signed)
tb_ok "smtp-sink received it, through pickup" test -n "$f" ||
    tb_tail "$TB_MAILLOG"
qid=$(grep -E 'postfix/pickup\[[0-9]+\]: [0-9A-F]+: uid=' "$TB_MAILLOG" |
    head -1 | sed 's/.*: \([0-9A-F]*\): uid=.*/\1/')
tb_like "$(milter_log "^.*$qid: .*dkim-sign=rsa-sha256")" \
    "$qid: spf=skipped\\(internal\\) dkim-sign=rsa-sha256\\(d=example\\.test s=$TB_DKIM_RSA_SELECTOR\\) dkim-sign=ed25519-sha256\\(d=example\\.test s=$TB_DKIM_ED25519_SELECTOR\\) .*action=accept" \
    "the milter saw it (pickup's queue id $qid): internal, signed twice"
h=$(milter_headers "$f")
tb_is "$(grep -c '^DKIM-Signature:' <<<"$h")" 2 \
    "two DKIM-Signature headers delivered"
tb_like "$h" "(^|"$'\n'")Authentication-Results: mx\\.example\\.test;" \
    "our Authentication-Results header is there"
# smtp-sink's trace lines first: from the first header on
sed -n '/^DKIM-Signature:/,$p' "${f:-/dev/null}" >"$TB/signed.eml"
py=$($PY "$VERIFY" "$TB/signed.eml" "$TB_DNS" 2>&1)
tb_like "$py" "a=rsa-sha256 d=example\\.test s=$TB_DKIM_RSA_SELECTOR pass" \
    "python3-dkim: the RSA signature passes" || tb_diag "$py"
tb_like "$py" "a=ed25519-sha256 d=example\\.test s=$TB_DKIM_ED25519_SELECTOR pass" \
    "python3-dkim: the Ed25519 signature passes"
od=$(milter_opendkim_verify "$TB/signed.eml")
tb_like "$od" "dkim=pass \\(2048-bit key[^)]*\\) header\\.d=example\\.test .*header\\.s=$TB_DKIM_RSA_SELECTOR " \
    "opendkim -t: the RSA signature passes" || tb_diag "$od"
tb_like "$od" "dkim=pass header\\.d=example\\.test .*header\\.a=ed25519-sha256 header\\.s=$TB_DKIM_ED25519_SELECTOR " \
    "opendkim -t: the Ed25519 signature passes"

submit local-other user@other.test
f=$(milter_wait_delivered local-other)
tb_ok "a From outside the signing table arrives too" test -n "$f"
h=$(milter_headers "$f")
tb_is "$(grep -c '^DKIM-Signature:' <<<"$h")" 0 "...unsigned"
tb_like "$h" "(^|"$'\n'")Authentication-Results: mx\\.example\\.test;" \
    "...with our Authentication-Results header"
tb_done
