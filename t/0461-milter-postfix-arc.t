#!/bin/bash
# 0461-milter-postfix-arc - ARC verify and ARC-aware DMARC through a real
# private Postfix with elemta-milter as smtpd_milters (dmarc_enforce =
# true, arc_trusted_sealers = list.test, fwd3.test), DNS from unbound
# carrying the sealers' keys.  Each message is From example.test
# (p=reject) but sent by a forwarder whose envelope is other.test, so
# DMARC fails: a chain sealed last by a trusted sealer (python3-dkim,
# one hop; Mail::DKIM, three hops) turns the reject into delivery, with
# arc=pass and the override in the delivered A-R; a chain sealed last by
# an untrusted one, or a trusted chain tampered with in a middle hop,
# stays rejected with 550 5.7.1; bad input (60 sets, a duplicate
# instance, a 1 MB AMS) is delivered with a clear arc=fail; the metrics
# count the ARC results and the overrides.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_need curl curl
milter_require_arc_signers
tb_init
tb_plan 18

milter_arc_unbound list.test fwd2.test fwd3.test evil.test
milter_start dmarc_enforce=true 'arc_trusted_sealers={list.test, fwd3.test}' \
    -- -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix

# message NAME SUBJECT - $TB/NAME.eml, From example.test
message() {
	cat >"$TB/$1.eml" <<EOF
From: User <user@example.test>
To: bob@sink.test
Subject: $2
Message-ID: <$1@example.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello ARC through Postfix.
EOF
}

# pychain NAME HOP... / plchain NAME DOMAIN... - NAME.eml sealed into
# NAME.arc by python3-dkim / Mail::DKIM
pychain() {
	milter_arc_chain py "$TB/$1.eml" "$TB/$1.arc" "${@:2}"
}
plchain() {
	milter_arc_chain pl "$TB/$1.eml" "$TB/$1.arc" "${@:2}"
}

# forward NAME SUBJECT - NAME.arc from a forwarder: 192.0.2.10 passes
# SPF for other.test, which does not align with example.test
forward() {
	milter_send "$2" --xclient-addr 192.0.2.10 \
	    --from bounces@other.test --data "$TB/$1.arc"
}

# a trusted sealer (python3-dkim, one hop): delivered
message trusted "arc trusted"
pychain trusted list.test
out=$(forward trusted "arc trusted")
tb_like "$out" '250 2\.0\.0 Ok: queued' "trusted sealer: Postfix accepts (250)"
f=$(milter_wait_delivered "arc trusted")
ar=$(milter_authres "$f")
tb_like "$ar" 'arc=pass smtp\.remote-ip=192\.0\.2\.10;' \
    "trusted sealer: arc=pass in the delivered A-R"
tb_like "$ar" 'dmarc=fail \(p=REJECT sp=REJECT dis=NONE; arc override: trusted sealer list\.test\) header\.from=example\.test policy\.dmarc=none' \
    "trusted sealer: dmarc=fail with the override and policy.dmarc=none"
tb_like "$(milter_log "$(milter_queue_id "$out"): dmarc override=local_policy")" \
    'sealer=list\.test' "trusted sealer: the milter logs the override"

# Mail::DKIM, three hops, the newest trusted: delivered
message perl3 "arc perl three hops"
plchain perl3 list.test fwd2.test fwd3.test
out=$(forward perl3 "arc perl three hops")
f=$(milter_wait_delivered "arc perl three hops")
tb_ok "Mail::DKIM, 3 hops, newest trusted: delivered" test -n "$f"
tb_like "$(milter_authres "$f")" \
    'arc=pass smtp\.remote-ip=192\.0\.2\.10 header\.oldest-pass=1;.*trusted sealer fwd3\.test' \
    "Mail::DKIM, 3 hops: arc=pass header.oldest-pass=1, override by fwd3.test"

# the newest sealer not trusted (the oldest is): rejected
message untrusted "arc untrusted"
pychain untrusted list.test evil.test
out=$(forward untrusted "arc untrusted")
tb_like "$out" '<\*\* +550 5\.7\.1 Rejected by DMARC policy for example\.test' \
    "untrusted newest sealer: 550 5.7.1"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.10\]: 5\.7\.1 ')" \
    "Rejected by DMARC policy" "untrusted: Postfix logs milter-reject"
tb_like "$(milter_log 'arc=pass by evil\.test, not a trusted sealer')" \
    "not a trusted" "untrusted: the milter logs why no override"

# a trusted chain with its middle hop tampered with: rejected
message tamper "arc tampered"
pychain tamper list.test fwd2.test fwd3.test tamper=2
out=$(forward tamper "arc tampered")
tb_like "$out" '<\*\* +550 5\.7\.1 Rejected by DMARC policy' \
    "tampered middle hop, trusted newest sealer: 550 5.7.1"
tb_like "$(milter_log 'arc result=fail sets=3')" 'ARC-Seal does not pass, i=3' \
    "tampered: the milter logs arc=fail and the failing seal"
sleep 1
tb_is "$(milter_delivered 'arc (untrusted|tampered)')" "" \
    "neither rejected message was delivered"

# bad input from a client SPF passes (so DMARC passes and the message
# is delivered): clear arc=fail results, and the milter keeps working
message sixty "arc sixty sets"
milter_arc_sixty "$TB/sixty.eml" "$TB/sixty.arc"
milter_send "arc sixty sets" --data "$TB/sixty.arc" >/dev/null
f=$(milter_wait_delivered "arc sixty sets")
tb_like "$(milter_authres "$f")" 'arc=fail \(too many ARC sets\) smtp\.remote-ip=192\.0\.2\.1;.*dmarc=pass' \
    "60 ARC sets through Postfix: delivered with arc=fail (too many ARC sets)"
message dup "arc duplicate"
pychain dup list.test fwd2.test
sed -n '/^ARC-Seal: i=1;/,/^ARC-Message-Signature/p' "$TB/dup.arc" |
    sed '$d' >"$TB/dupseal"
cat "$TB/dupseal" "$TB/dup.arc" >"$TB/dup2.arc"
milter_send "arc duplicate" --data "$TB/dup2.arc" >/dev/null
f=$(milter_wait_delivered "arc duplicate")
tb_like "$(milter_authres "$f")" 'arc=fail \(duplicate ARC header, i=1\)' \
    "a duplicate ARC-Seal through Postfix: arc=fail (duplicate)"
message big "arc big header"
pychain big list.test
milter_arc_bloat "$TB/big.arc" "$TB/big2.arc"
milter_send "arc big header" --data "$TB/big2.arc" >/dev/null
f=$(milter_wait_delivered "arc big header")
tb_like "$(milter_authres "$f")" 'arc=fail \(' \
    "a 1 MB AMS through Postfix: delivered with arc=fail"
tb_ok "the milter is still running" tb_alive "$(tb_pid milter)"

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
tb_is "$(metric 'elemta_milter_dmarc_overrides_total{reason="arc_trusted_sealer"}')" 2 \
    "metrics: two overrides counted"
tb_is "$(metric 'elemta_milter_results_total{method="arc",result="pass"}')/$(metric 'elemta_milter_results_total{method="arc",result="fail"}')" \
    "3/4" "metrics: three arc=pass, four arc=fail"
tb_done
