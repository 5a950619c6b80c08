#!/bin/bash
# 0326-policyd-redis-pipeline - many keys in one request, on a real Redis
#
# A recipient_domain byte limit (1000 bytes per hour per domain) with
# store = redis: a transaction of 1000 recipients in 1000 domains has
# its END-OF-MESSAGE charged to each of the 1000 keys in one pipelined
# batch (Redis sees a few reads, not 1000); each holds the message's
# size.  A message that one domain
# cannot take is rejected, and what the other limits' keys took for it
# is given back (refunds, pipelined too).  Redis stopped (SIGSTOP) while
# a 1000-key request waits for it, then killed: store_fail_action
# (defer) answers 451, logged.  100 requests of 10 connections sent at
# once on one key with a limit of 50: exactly 50 pass.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require redis
tb_init
tb_plan 14

P=$TB_PORT_POLICY
mkdir -p "$TB/conf"
cat >"$TB/conf/elemta.conf" <<CONF
policyd {
	client_message_limit = 0
	sasl_user_message_limit = 0
	store = redis
	store_fail_action = defer
	limit rdom {
		key = recipient_domain
		unit = bytes
		rate = 1000
		action = reject
	}
	limit sender {
		key = sender
		unit = bytes
		rate = 100000
	}
	limit many {
		key = sender
		rate = 50
	}
}
redis {
	servers = {"127.0.0.1:$TB_PORT_REDIS"}
	command_timeout_ms = 300
}
CONF
chmod 644 "$TB/conf/elemta.conf"
peer_start_redis
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
exec 5<>"/dev/tcp/127.0.0.1/$P"

# rcpts INSTANCE TAG N - N RCPT requests in one write (recipient i in
# domain TAG<i>.test); prints how many were answered DUNNO
rcpts() {
	local i line n=0

	for ((i = 0; i < $3; i++)); do
		printf 'request=smtpd_access_policy\nprotocol_state=RCPT\ninstance=%s\nclient_address=192.0.2.7\nsender=s@x.test\nrecipient=r%d@%s%d.test\n\n' \
		    "$1" "$i" "$2" "$i"
	done >"$TB/rcpts"
	cat "$TB/rcpts" >&5
	for ((i = 0; i < $3; i++)); do
		read -r -t 20 -u 5 line || break
		read -r -t 20 -u 5 _
		[[ $line == action=DUNNO ]] && n=$((n + 1))
	done
	echo "$n"
}

# eom INSTANCE SIZE - the END-OF-MESSAGE request; its reply line
eom() {
	pol_request 5 protocol_state=END-OF-MESSAGE "instance=$1" \
	    client_address=192.0.2.7 sender=s@x.test "size=$2"
}

# w KEY - the weight Redis holds for a limit key
w() {
	pol_redis_weight "elemta:policyd:{$1}"
}

# 1. 1000 keys in one request
tb_is "$(rcpts t1 d 1000)" 1000 "1000 recipients in 1000 domains: DUNNO"
# reads - the read events Redis has processed (one per round trip of an
# unpipelined client)
reads() {
	redis-cli -p "$TB_PORT_REDIS" info stats |
	    sed -n 's/^total_reads_processed:\([0-9]*\).*/\1/p'
}
n0=$(reads)
t0=$(tb_now_ms)
r=$(eom t1 600)
t1=$(tb_now_ms)
n1=$(reads)
tb_is "$r" action=DUNNO "END-OF-MESSAGE of 600 bytes: DUNNO ($((t1 - t0)) ms)"
tb_ok "its 1001 checks took Redis $((n1 - n0 - 1)) reads, not one each (pipelined)" \
    test $((n1 - n0)) -lt 200
n=$(redis-cli -p "$TB_PORT_REDIS" --scan --pattern 'elemta:policyd:{l:rdom:*' | wc -l)
tb_is "$n" 1000 "1000 domain keys in Redis"
tb_is "$(w l:rdom:rdom:d0.test) $(w l:rdom:rdom:d500.test) $(w l:rdom:rdom:d999.test)" \
    "600 600 600" "each holds the 600 bytes (first, middle, last)"
tb_is "$(w l:sender:sender:s@x.test)" 600 "the sender's key: 600, once"

# 2. one domain full: the message is rejected, the others given back
rcpts t2 e 3 >/dev/null
rcpts t2b d 1 >/dev/null	# (another instance: d0.test in t2 below)
printf 'request=smtpd_access_policy\nprotocol_state=RCPT\ninstance=t2\nclient_address=192.0.2.7\nsender=s@x.test\nrecipient=x@d999.test\n\n' >&5
read -r -t 10 -u 5 _; read -r -t 10 -u 5 _
r=$(eom t2 500)
tb_like "$r" '^action=550 5\.7\.1 Byte rate limit exceeded for recipient domain d999\.test' \
    "500 bytes more to d999.test (600 used): rejected"
tb_is "$(w l:rdom:rdom:e0.test) $(w l:rdom:rdom:e2.test) $(w l:sender:sender:s@x.test)" \
    "0 0 600" "what the other keys took for it was given back"

# 3. requests of many connections at once share round trips (a batch per
# turn of the event loop): a limit of 50 on one key, 10 connections of 10
# messages each, all sent at once: exactly 50 pass
pids=""
for c in $(seq 0 9); do
	(
		exec 6<>"/dev/tcp/127.0.0.1/$P"
		for m in $(seq 0 9); do
			printf 'request=smtpd_access_policy\nprotocol_state=RCPT\ninstance=c%d.%d\nclient_address=192.0.2.7\nsender=many@x.test\nrecipient=r@h.test\n\n' "$c" "$m"
		done >&6
		for m in $(seq 0 9); do
			read -r -t 20 -u 6 line && read -r -t 20 -u 6 _
			echo "$line"
		done
	) >"$TB/many.$c" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
tb_is "$(cat "$TB"/many.* | grep -c '^action=DUNNO$')/$(cat "$TB"/many.* | grep -c '^action=450 4\.7\.1 ')" \
    50/50 "100 requests of 10 connections at once, 50 per hour: 50 pass, 50 deferred"

# 4. Redis stopped while a 1000-key request waits for it
tb_is "$(rcpts t3 f 1000)" 1000 "another 1000 recipients"
kill -STOP "$(tb_pid redis)"
t0=$(tb_now_ms)
r=$(eom t3 100)
t1=$(tb_now_ms)
kill -CONT "$(tb_pid redis)"
tb_like "$r" '^action=451 4\.3\.0 ' \
    "Redis stopped: store_fail_action = defer answers 451 ($((t1 - t0)) ms)"
tb_ok "the store error is logged" \
    tb_grep 'policyd store error key=l:rdom:rdom:f[0-9]*\.test limit=rdom error="redis 127\.0\.0\.1:[0-9]* script: timed out" action=defer \(store_fail_action\)' \
    "$TB/policyd/log"

# 5. Redis killed: the same, at once
tb_stop redis
tb_is "$(rcpts t4 g 1)" 0 "Redis gone: a RCPT is not answered DUNNO"
r=$(eom t4 100)
tb_like "$r" '^action=451 4\.3\.0 ' "nor is END-OF-MESSAGE: 451"
exec 5>&-
tb_done
