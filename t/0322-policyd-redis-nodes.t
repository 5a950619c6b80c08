#!/bin/bash
# 0322-policyd-redis-nodes - two elemta-policyd nodes sharing one Redis
#
# Two policyd processes on one private redis-server enforce one combined
# limit (10/hour: 6 messages through each node give exactly 10 DUNNO and
# 2 DEFER); the key lives in Redis with a TTL of about the period; a slow
# Redis (SIGSTOP) costs one command timeout, not a hang; Redis stopped:
# node A applies store_fail_action (defer here), node B (store_fallback
# = local) counts in its own store; Redis back: both count in Redis
# again, and the failures are logged and in the metrics.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require redis
tb_need curl curl
tb_init
tb_plan 20

RQ='request=smtpd_access_policy'
PA=$TB_PORT_POLICY
PB=$(tb_port 45)

# policyd_start NAME PORT METRICS [-o ...] - a node on the shared Redis
policyd_start() {
	local name=$1 port=$2 mport=$3

	shift 3
	pol_start "$name" "$port" \
	    -o "policyd.metrics_listen=inet:127.0.0.1:$mport" \
	    -o policyd.store=redis \
	    -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
	    -o redis.command_timeout_ms=300 \
	    -o policyd.client_message_limit=10/1h "$@"
}

# ask FD ADDR INSTANCE - one RCPT request on an open fd; prints the reply
ask() {
	local fd=$1 line

	printf '%s\nprotocol_state=RCPT\nclient_address=%s\ninstance=%s\n\n' \
	    "$RQ" "$2" "$3" 1>&"$fd" 2>/dev/null || { echo "write failed"; return; }
	read -r -t 5 -u "$fd" line || { echo "no reply ($?)"; return; }
	read -r -t 5 -u "$fd" _
	echo "$line"
}

# metric URL SERIES - one value from a node's metrics
metric() {
	curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { print $2 }'
}

# rkey ADDR - the Redis key of a client address
rkey() {
	echo "elemta:policyd:{msg:ip:$1}"
}

# rcli ... - redis-cli on the private server
rcli() {
	redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@"
}

# weight ADDR - the weight logged in Redis for a client
weight() {
	pol_redis_weight "$(rkey "$1")"
}

peer_start_redis
policyd_start nodea "$PA" "$TB_PORT_METRICS" -o policyd.store_fail_action=defer
policyd_start nodeb "$PB" "$TB_PORT_METRICS2" -o policyd.store_fallback=local
exec 5<>"/dev/tcp/127.0.0.1/$PA" 6<>"/dev/tcp/127.0.0.1/$PB"

# 1. one combined limit: 6 + 6 requests, alternating nodes
dunno=0 defer=0 other=""
for i in 1 2 3 4 5 6; do
	for fd in 5 6; do
		r=$(ask $fd 192.0.2.50 "c$i.$fd")
		case $r in
		action=DUNNO) dunno=$((dunno + 1)) ;;
		"action=450 4.7.1 "*) defer=$((defer + 1)); last=$r ;;
		*) other="$other [$r]" ;;
		esac
	done
done
tb_is "$dunno" 10 "two nodes, limit 10/h: exactly 10 of 12 messages pass" ||
    tb_diag "other answers:$other"
tb_is "$defer" 2 "and 2 are deferred"
tb_like "$last" 'Message rate limit exceeded for client 192\.0\.2\.50 \(10 per 1h\), try again in 3[56][0-9][0-9] s' \
    "the deferral says when to retry (about an hour)"
tb_is "$(weight 192.0.2.50)" 10 "Redis holds the combined count (10) in one key"
ttl=$(rcli PTTL "$(rkey 192.0.2.50)")
tb_ok "the key expires by itself after about the period (PTTL $ttl)" \
    test "$ttl" -gt 3590000 -a "$ttl" -le 3600000
tb_is "$(rcli --scan --pattern 'elemta:policyd:*' | wc -l)" 1 "one key in all"

# 2. a slow Redis: one command timeout (300 ms), not a hang
kill -STOP "$(tb_pid redis)"
t0=$(tb_now_ms)
r=$(ask 5 192.0.2.51 slow.1)
dt=$(($(tb_now_ms) - t0))
kill -CONT "$(tb_pid redis)"
tb_like "$r" '^action=451 4\.3\.0 ' "Redis not answering: node A applies store_fail_action (defer)"
tb_ok "after about the command timeout ($dt ms)" test "$dt" -ge 250 -a "$dt" -lt 1500
tb_wait_log 5 "policyd redis store failed: redis 127\.0\.0\.1:$TB_PORT_REDIS script: timed out" "$TB/nodea/log"
tb_ok "the failure is logged with its reason" \
    tb_grep "redis store failed: redis 127\.0\.0\.1:$TB_PORT_REDIS script: timed out; until it is back, store_fail_action answers" "$TB/nodea/log"

# 3. Redis stopped
tb_stop redis
r=$(ask 5 192.0.2.60 down.a.1)
tb_like "$r" '^action=451 4\.3\.0 Rate limit service temporarily unavailable' \
    "Redis down: node A answers its store_fail_action"
dunno=0 defer=0
for i in $(seq 1 11); do
	r=$(ask 6 192.0.2.60 "down.b.$i")
	case $r in
	action=DUNNO) dunno=$((dunno + 1)) ;;
	"action=450 4.7.1 "*) defer=$((defer + 1)) ;;
	esac
done
tb_is "$dunno/$defer" 10/1 "node B (store_fallback = local) counts in its own store: 10 pass, the 11th is deferred"
tb_is "$(metric "$TB_PORT_METRICS2" elemta_policyd_store_fallbacks_total)" 11 \
    "node B counted 11 fallbacks"
tb_is "$(metric "$TB_PORT_METRICS2" elemta_policyd_redis_up)" 0 "node B: redis_up 0"
tb_ok "node A counted Redis errors" \
    test "$(metric "$TB_PORT_METRICS" 'elemta_policyd_store_errors_total{op="redis"}')" -ge 2
tb_ok "node B logged the switch to its local store" \
    tb_grep "redis store failed: .*; until it is back, counting in the local store" "$TB/nodeb/log"

# 4. Redis back (empty: no persistence here): both count in Redis again
peer_start_redis
n=0
# shellcheck disable=SC2317 # back_a and back_b run through tb_wait
# back_a - node A answers DUNNO again (each try is a new message)
back_a() {
	n=$((n + 1))
	[[ $(ask 5 192.0.2.70 "back.a.$n") == action=DUNNO ]]
}
tb_ok "Redis restarted: node A is back within the back-off" tb_wait 10 back_a
tb_ok "node A logged the recovery" tb_grep "policyd redis store is back" "$TB/nodea/log"
m=0
# shellcheck disable=SC2317
# back_b - node B counts in Redis again
back_b() {
	m=$((m + 1))
	ask 6 192.0.2.70 "back.b.$m" >/dev/null
	[[ $(metric "$TB_PORT_METRICS2" elemta_policyd_redis_up) == 1 ]]
}
tb_ok "node B too" tb_wait 10 back_b
fb=$(metric "$TB_PORT_METRICS2" elemta_policyd_store_fallbacks_total)
tb_is "$(weight 192.0.2.70)" "$((n + m - (fb - 11)))" \
    "Redis holds what both nodes counted since ($n + $m, less $((fb - 11)) counted locally by B)"
exec 5>&- 6>&-
tb_stop nodea nodeb
tb_ok "both nodes stopped cleanly" tb_grep "elemta-policyd stopped" "$TB/nodeb/log"
tb_done
