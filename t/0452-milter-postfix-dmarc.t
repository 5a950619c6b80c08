#!/bin/bash
# 0452-milter-postfix-dmarc - DMARC through a real private Postfix with
# elemta-milter as smtpd_milters (dmarc_enforce = true), DNS from
# unbound: pass (aligned SPF) is delivered; a failure under p=reject is
# refused with 550 5.7.1 (Postfix logs the milter-reject); under
# p=quarantine Postfix puts the message on hold (milter-hold in its
# log, the hold queue in postqueue -j, our A-R in postcat) or, with
# quarantine_header set, delivers it with that header instead; under
# p=none it is delivered with dmarc=fail.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_need postfix postqueue postcat
tb_init
tb_plan 18

# hold.test: p=quarantine (SPF only for an address nobody sends from)
cat >"$TB/zones.conf" <<'EOF2'
local-zone: "hold.test." static
local-data: 'hold.test. 300 IN TXT "v=spf1 ip4:192.0.2.30 -all"'
local-data: '_dmarc.hold.test. 300 IN TXT "v=DMARC1; p=quarantine"'
EOF2
peer_start_unbound "$TB/zones.conf"
milter_start dmarc_enforce=true
milter_postfix

# in_queue QID QUEUE - is the message QID in Postfix's queue QUEUE?
in_queue() {
	postqueue -c "$TB_POSTFIX_CONF" -j 2>/dev/null |
	    grep -q "\"queue_name\": *\"$2\", *\"queue_id\": *\"$1\""
}

# pass: SPF aligned (strict) for example.test
out=$(milter_send "dmarc pass")
f=$(milter_wait_delivered "dmarc pass")
tb_like "$(milter_authres "$f")" \
    'dmarc=pass \(p=REJECT sp=REJECT dis=NONE\) header\.from=example\.test$' \
    "pass: dmarc=pass in the delivered A-R"
tb_like "$(milter_maillog "$(milter_queue_id "$out"): to=<bob@sink.test>.*status=sent")" \
    "status=sent" "pass: Postfix log says sent"

# reject: SPF passes for other.test, nothing aligns with example.test
out=$(milter_send "dmarc reject" --xclient-addr 192.0.2.10 \
    --from user@other.test)
tb_like "$out" '<\*\* +550 5\.7\.1 Rejected by DMARC policy for example\.test' \
    "p=reject: the client gets 550 5.7.1"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.10\]: 5\.7\.1 ')" \
    "5\.7\.1 Rejected by DMARC policy for example\.test" \
    "p=reject: Postfix logs milter-reject 5.7.1"
tb_like "$(milter_log 'dmarc=fail\(example\.test\).*action=reject by=dmarc')" \
    "by=dmarc" "p=reject: the milter logs action=reject by=dmarc"

# quarantine: Postfix holds it
out=$(milter_send "dmarc quarantine" --xclient-addr 192.0.2.10 \
    --from user@other.test --header "From: User <user@hold.test>")
tb_like "$out" '250 2\.0\.0 Ok: queued' "p=quarantine: accepted (250)"
qid=$(milter_queue_id "$out")
tb_like "$(milter_maillog "$qid: milter-hold: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.10\]")" \
    "milter-hold: END-OF-MESSAGE .*: milter triggers HOLD action" \
    "p=quarantine: Postfix logs milter-hold (it does not log the reason)"
tb_like "$(milter_log "$qid: .*dmarc=fail\(hold\.test\).*action=quarantine by=dmarc")" \
    "action=quarantine" "p=quarantine: the milter logs the decision and queue id"
tb_ok "p=quarantine: postqueue -j lists it in the hold queue" \
    tb_wait 10 in_queue "$qid" hold
hdrs=$(postcat -c "$TB_POSTFIX_CONF" -hq "$qid" 2>&1)
tb_like "$hdrs" 'Authentication-Results: mx\.example\.test;.*dmarc=fail \(p=QUARANTINE sp=QUARANTINE dis=QUARANTINE\) header\.from=hold\.test' \
    "p=quarantine: postcat shows our A-R on the held message"
sleep 1
tb_is "$(milter_delivered "dmarc quarantine")" "" \
    "p=quarantine: not delivered"

# quarantine as a header: delivered, flagged, not held
milter_set dmarc_enforce=true quarantine_header=X-Elemta-Quarantine
out=$(milter_send "dmarc quarantine header" --xclient-addr 192.0.2.10 \
    --from user@other.test --header "From: User <user@hold.test>")
f=$(milter_wait_delivered "dmarc quarantine header")
tb_ok "quarantine_header: delivered" test -n "$f"
h=$(milter_headers "$f")
tb_like "$h" $'(^|\n)X-Elemta-Quarantine: dmarc: DMARC policy of hold\\.test says quarantine\n' \
    "quarantine_header: the header carries the reason"
tb_like "$(milter_authres "$f")" 'dis=QUARANTINE\) header\.from=hold\.test' \
    "quarantine_header: A-R dis=QUARANTINE"
tb_is "$(grep -c 'milter-hold:' "$TB_MAILLOG")" 1 \
    "quarantine_header: no second milter-hold in Postfix's log"

# dmarc_quarantine_action = accept: the A-R result only
milter_set dmarc_enforce=true dmarc_quarantine_action=accept
out=$(milter_send "dmarc quarantine accept" --xclient-addr 192.0.2.10 \
    --from user@other.test --header "From: User <user@hold.test>")
f=$(milter_wait_delivered "dmarc quarantine accept")
tb_like "$(milter_authres "$f")" 'dmarc=fail \(p=QUARANTINE sp=QUARANTINE dis=NONE\) header\.from=hold\.test' \
    "dmarc_quarantine_action=accept: delivered, dis=NONE"

# none: other.test publishes p=none
milter_set dmarc_enforce=true
out=$(milter_send "dmarc none" --header "From: User <user@other.test>")
f=$(milter_wait_delivered "dmarc none")
tb_like "$(milter_authres "$f")" 'dmarc=fail \(p=NONE sp=NONE dis=NONE\) header\.from=other\.test$' \
    "p=none: delivered with dmarc=fail (p=NONE)"
tb_like "$(milter_maillog "$(milter_queue_id "$out"): to=<bob@sink.test>.*status=sent")" \
    "status=sent" "p=none: Postfix log says sent"
tb_done
