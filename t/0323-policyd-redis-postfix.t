#!/bin/bash
# 0323-policyd-redis-postfix - a real Postfix behind a Redis-backed policyd
#
# Postfix asks node A (store = redis, 3 messages/hour per client); the
# 4th message of a remote client (XCLIENT ADDR=) is deferred with the
# expected text, and node B, on the same Redis but never asked by
# Postfix, already refuses that client: the count is shared.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require postfix smtp-sink swaks redis
tb_init
tb_plan 5

PA=$TB_PORT_POLICY
PB=$(tb_port 45)

# policyd_start NAME PORT - a node on the shared Redis, 3/hour
policyd_start() {
	pol_start "$1" "$2" -o policyd.store=redis \
	    -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
	    -o policyd.client_message_limit=3/1h
}

peer_start_redis
policyd_start nodea "$PA"
policyd_start nodeb "$PB"
POLICY="check_policy_service { inet:127.0.0.1:$PA, timeout=10s, default_action=DUNNO }"
peer_start_smtp_sink
peer_start_postfix \
    "smtpd_recipient_restrictions = reject_unauth_destination, $POLICY" \
    "smtpd_data_restrictions = $POLICY" \
    "smtpd_policy_service_max_idle = 300s"

ok=0
for i in 1 2 3; do
	out=$(pol_send --xclient-addr 192.0.2.30 --to "r$i@sink.test")
	[[ $out == *"250 2.0.0 Ok: queued"* ]] && ok=$((ok + 1))
done
tb_is "$ok" 3 "through Postfix: 3 of 3 messages of 192.0.2.30 accepted"
out=$(pol_send --xclient-addr 192.0.2.30 --to r4@sink.test)
tb_like "$out" "450 4\.7\.1 <r4@sink\.test>: Recipient address rejected: Message rate limit exceeded for client 192\.0\.2\.30 \(3 per 1h\), try again in 3[56][0-9][0-9] s" \
    "the 4th is deferred with the expected text" || tb_diag "$out"
w=$(pol_redis_weight 'elemta:policyd:{msg:ip:192.0.2.30}')
tb_is "$w" 3 "Redis counted 3 (RCPT and DATA of a message count once)"
exec 5<>"/dev/tcp/127.0.0.1/$PB"
printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.30\ninstance=b.1\n\n' >&5
read -r -t 5 -u 5 line
tb_like "$line" '^action=450 4\.7\.1 Message rate limit exceeded for client 192\.0\.2\.30 \(3 per 1h\)' \
    "node B, never asked by Postfix, refuses that client too"
exec 5>&-
out=$(pol_send --xclient-addr 192.0.2.31 --to r5@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' "another client is not affected"
tb_done
