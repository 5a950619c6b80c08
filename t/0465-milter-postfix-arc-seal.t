#!/bin/bash
# 0465-milter-postfix-arc-seal - ARC sealing through a real private Postfix:
# a message forwarded twice, sealed by elemta-milter at hop 1 (domain
# example.test, the harness' key) and by a second elemta-milter at hop 2
# (its own authserv-id, domain other.test and key, on a second smtpd
# listener of the same Postfix), arrives with a valid 2-set chain
# (python3-dkim's arc_verify, keys from unbound), hop 2 having verified
# hop 1's (arc=pass in its A-R); the delivered message changed after
# the last seal fails.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
ARC=$top_srcdir/t/data/milter/arc-seal.py
milter_require postfix smtp-sink swaks unbound
$PY -c 'import dkim, authres' 2>/dev/null ||
    tb_missing "python3-dkim or python3-authres missing (tools/install-deps)"
tb_init
tb_plan 11

SMTPD2=$(tb_port 27)
MILTER2=$(tb_port 43)

# hop 2's own domain and key, served by unbound with the harness' keys
milter_arc_keys

# hop 1: the harness' milter; hop 2: a second one, its own options
milter_start "dkim_key_table=$TB/keys" arc_seal_domain=example.test
milter_start_node milter2 "$MILTER2" -o milter.authserv_id=mx2.other.test \
    -o milter.arc_seal_domain=other.test
milter_postfix
postconf -c "$TB_POSTFIX_CONF" -M "127.0.0.1:$SMTPD2/inet=127.0.0.1:$SMTPD2 inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$MILTER2" ||
    tb_bail "postconf -M: the second smtpd"
peer_postfix_age
postfix -c "$TB_POSTFIX_CONF" reload >/dev/null 2>&1 ||
    tb_bail "postfix reload"
tb_wait 30 tb_connect 127.0.0.1 "$SMTPD2" ||
    tb_bail "the second smtpd does not listen on $SMTPD2"

# sink_count - messages smtp-sink has written
sink_count() {
	find "$TB_SINK_DIR" -name 'msg.*' 2>/dev/null | wc -l
}

# --- hop 1
out=$(milter_send "arc forwarded")
tb_like "$out" '250 2\.0\.0 Ok: queued' "hop 1: queued" || tb_diag "$out"
f1=$(milter_wait_delivered "arc forwarded")
h1=$(milter_headers "$f1")
tb_like "$h1" $'(^|\n)ARC-Seal: i=1; a=rsa-sha256; t=[0-9]+; cv=none; d=example.test; s=sel1;' \
    "hop 1: delivered with our ARC-Seal i=1"
tb_is "$(grep -o '^\(ARC-[A-Za-z-]*\|Authentication-Results\):' <<<"$h1" |
    xargs)" "ARC-Seal: ARC-Message-Signature: ARC-Authentication-Results: Authentication-Results:" \
    "hop 1: AS, AMS, AAR, then our A-R, from the top"
tb_like "$($PY "$ARC" verify "$f1" "$TB_DNS")" "^pass 1 success" \
    "hop 1: python3-dkim: cv=pass"

# --- hop 2: the delivered message, forwarded through the second smtpd
n=$(sink_count)
out=$(swaks --server 127.0.0.1 --port "$SMTPD2" --timeout 30 \
    --helo forwarder.example.test --from list@example.test \
    --to bob@sink.test --xclient-addr 192.0.2.1 --data "$f1" 2>&1)
tb_like "$out" '250 2\.0\.0 Ok: queued' "hop 2: queued" || tb_diag "$out"
tb_wait 20 eval "[[ \$(sink_count) -gt $n ]]"
f2=$(ls -t "$TB_SINK_DIR"/msg.* 2>/dev/null | head -1)
h2=$(milter_headers "$f2")
tb_like "$h2" $'(^|\n)Authentication-Results: mx2.other.test;[^\n]*arc=pass' \
    "hop 2: the second milter verified hop 1's chain (arc=pass)"
tb_like "$h2" $'(^|\n)ARC-Seal: i=2; a=rsa-sha256; t=[0-9]+; cv=pass; d=other.test; s=arc2;' \
    "hop 2: sealed i=2 cv=pass with its own domain and key"
tb_like "$($PY "$ARC" verify "$f2" "$TB_DNS")" "^pass 2 success" \
    "hop 2: python3-dkim: a valid 2-set chain"
tb_like "$(milter_log 'arc-seal=i=1')" "arc-seal=i=1\(cv=none d=example.test s=sel1\)" \
    "hop 1's milter logged its seal"
tb_like "$(grep 'arc-seal=' "$TB/milter/milter2.log")" "arc-seal=i=2\(cv=pass d=other.test s=arc2\)" \
    "hop 2's milter logged its seal"
sed 's/^Subject: arc forwarded/Subject: arc Forwarded/' "$f2" >"$TB/tampered.eml"
tb_like "$($PY "$ARC" verify "$TB/tampered.eml" "$TB_DNS")" "^fail" \
    "changed after delivery: python3-dkim fails the chain"

tb_done
