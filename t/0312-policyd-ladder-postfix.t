#!/bin/bash
# 0312-policyd-ladder-postfix - configured limits behind a real Postfix
#
# limit sub-sections from a file: a recipient limit (3 per hour per
# client) refuses the 4th recipient with the expected text; a transaction
# abandoned with RSET gives its recipients back; a HOLD action puts the
# message in the hold queue; a warn action with prepend adds its header
# to the delivered message; a dry_run limit only logs; an exempt network
# is never limited, and a recipient never exempts.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require postfix smtp-sink swaks
tb_need curl curl
tb_init
tb_plan 15

P=$TB_PORT_POLICY
mkdir -p "$TB/conf"
cat >"$TB/conf/elemta.conf" <<CONF
policyd {
	metrics_listen = "inet:127.0.0.1:$TB_PORT_METRICS"
	client_message_limit = 0
	sasl_user_message_limit = 0
	exempt_networks = {"198.51.100.0/24"}
	exempt_sasl_users = {"postmaster"}
	limit rcpts {
		key = client_ip
		unit = recipients
		rate = 3
		period = 1h
		clients = unauthenticated
	}
	limit held {
		key = sasl_user
		rate = 1
		action = hold
	}
	limit noted {
		key = sender
		rate = 1
		action = warn
		prepend = "X-Elemta-Rate-Limit"
		clients = unauthenticated
	}
	limit trial {
		key = sender_domain
		rate = 1
		action = reject
		dry_run = true
	}
}
CONF
chmod 644 "$TB/conf/elemta.conf"
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
pol_postfix_with_policy "$P"

# 1. a recipient limit: 3 per hour per client
out=$(pol_send --xclient-addr 192.0.2.40 --to a1@sink.test,a2@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' "2 recipients of 192.0.2.40 pass"
out=$(pol_send --xclient-addr 192.0.2.40 --to a3@sink.test,a4@sink.test)
tb_like "$out" "450 4\.7\.1 <a4@sink\.test>: Recipient address rejected: Recipient rate limit exceeded for client 192\.0\.2\.40 \(3 per 1h\), try again in 3[56][0-9][0-9] s" \
    "the 4th recipient is deferred with the expected text" || tb_diag "$out"
tb_like "$out" '250 2\.0\.0 Ok: queued' "the message goes to the 3rd"

# 2. RSET: the abandoned transaction's recipients are given back (once
# the connection has shown that END-OF-MESSAGE requests come: a whole
# message first, in the same SMTP session, so on the same smtpd)
XC="XCLIENT ADDR=192.0.2.41"
out=$(pol_smtp "EHLO c.test" "$XC" "EHLO c.test" "MAIL FROM:<s@other.test>" \
    "RCPT TO:<b0@sink.test>" DATA "MAIL FROM:<s@other.test>" \
    "RCPT TO:<b1@sink.test>" "RCPT TO:<b2@sink.test>" RSET \
    "MAIL FROM:<s@other.test>" "RCPT TO:<b3@sink.test>" \
    "RCPT TO:<b4@sink.test>" "RCPT TO:<b5@sink.test>" QUIT)
tb_is "$(grep -c '^250 2\.1\.5' <<<"$out")" 5 \
    "after RSET, 2 more recipients pass (the 2 abandoned were refunded)" ||
    tb_diag "$out"
tb_like "$out" '450 4\.7\.1 <b5@sink\.test>.*Recipient rate limit exceeded for client 192\.0\.2\.41' \
    "and the 4th of the client is deferred"

# 3. HOLD: the second message of user holder waits in the hold queue
out=$(pol_send --xclient-addr 192.0.2.42 --xclient-login holder --to h1@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' "holder's first message"
out=$(pol_send --xclient-addr 192.0.2.42 --xclient-login holder --to h2@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' "holder's second is accepted ..."
qid=$(grep -oE '250 2\.0\.0 Ok: queued as [0-9A-F]+' <<<"$out" | awk '{ print $NF }')
tb_wait_log 10 "hold: RCPT from .*triggers HOLD action: Message rate limit exceeded for user holder \(1 per 1h\)" "$TB_MAILLOG"
tb_like "$(postqueue -c "$TB_POSTFIX_CONF" -j 2>&1)" "\"queue_name\": *\"hold\", *\"queue_id\": *\"$qid\"" \
    "... and sits in the hold queue" ||
    tb_diag "$(postqueue -c "$TB_POSTFIX_CONF" -j 2>&1)"

# 4. warn + prepend: the second message of a sender carries the header
pol_send --xclient-addr 192.0.2.43 --from w@warn.test --to w1@sink.test \
    >/dev/null
out=$(pol_send --xclient-addr 192.0.2.43 --from w@warn.test --to w2@sink.test --header 'Subject: warned')
tb_like "$out" '250 2\.0\.0 Ok: queued' "a warned message is accepted"
warned() { grep -l '^Subject: warned' "$TB_SINK_DIR"/* 2>/dev/null | head -1; }
has_warned() { [ -n "$(warned)" ]; }
tb_wait 10 has_warned
f=$(warned)
tb_like "$(cat "$f" 2>/dev/null)" 'X-Elemta-Rate-Limit: Message rate limit exceeded for sender <w@warn\.test> \(1 per 1h\)' \
    "the delivered message carries the PREPEND header"
tb_ok "policyd logged the warning" tb_grep 'action=warn limit=noted key=sender:w@warn.test' "$TB/policyd/log"

# 5. dry_run: only logged (other.test sent many: never refused for it)
tb_ok "dry_run logs what it would do" \
    tb_grep 'action=reject dry_run=yes limit=trial key=sdom:other\.test' "$TB/policyd/log"

# 6. exemptions: a network, never a recipient
ok=0
for i in 1 2 3 4 5; do
	out=$(pol_send --xclient-addr 198.51.100.9 --to "x$i@sink.test")
	[[ $out =~ '250 2.0.0 Ok: queued' ]] && ok=$((ok + 1))
done
tb_is "$ok" 5 "an exempt network passes a limit of 3 recipients"
out=$(pol_send --xclient-addr 192.0.2.44 \
    --to p1@sink.test,p2@sink.test,p3@sink.test,postmaster@sink.test)
tb_like "$out" '450 4\.7\.1 <postmaster@sink\.test>.*Recipient rate limit exceeded' \
    "a recipient named like an exempt user lifts nothing" || tb_diag "$out"

metrics=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$metrics" 'elemta_policyd_limit_hits_total\{limit="rcpts"\} [1-9]' \
    "limit hits are counted per limit name"
tb_done
