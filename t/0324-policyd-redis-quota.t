#!/bin/bash
# 0324-policyd-redis-quota - a calendar quota shared by two nodes in Redis
#
# Two elemta-policyd nodes on one private redis-server share a quota of
# 3 messages per month per SASL user: 6 requests, alternating nodes, give
# exactly 3 DUNNO; the deferral says to retry on the first of next month
# (00:00 UTC); Redis holds one key, "START:3" with START the first of
# this month, expiring then; a daily quota next to it counts apart.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require redis
tb_init
tb_plan 7

PA=$TB_PORT_POLICY
PB=$(tb_port 45)
mkdir -p "$TB/conf"
cat >"$TB/conf/elemta.conf" <<CONF
policyd {
	client_message_limit = 0
	sasl_user_message_limit = 0
	store = redis
	limit monthly {
		key = sasl_user
		rate = 3
		period = month
	}
	limit daily {
		key = sender
		rate = 100
		period = day
	}
}
redis {
	servers = {"127.0.0.1:$TB_PORT_REDIS"}
}
CONF
chmod 644 "$TB/conf/elemta.conf"

# month_ends - seconds from now to the first of next month, 00:00 UTC
month_ends() {
	echo $(($(date -u -d "$(date -u +%Y-%m-01) +1 month" +%s) - $(date -u +%s)))
}

# do not start within 30 s of the end of a month or a day
s=$(month_ends)
[[ $s -lt 30 ]] && sleep $((s + 1))
s=$((86400 - $(date -u +%s) % 86400))
[[ $s -lt 30 ]] && sleep $((s + 1))

peer_start_redis
pol_start nodea "$PA" -c "$TB/conf/elemta.conf"
pol_start nodeb "$PB" -c "$TB/conf/elemta.conf"
exec 5<>"/dev/tcp/127.0.0.1/$PA" 6<>"/dev/tcp/127.0.0.1/$PB"

dunno=0 defer=0 last=""
for i in 1 2 3; do
	for fd in 5 6; do
		r=$(pol_request $fd protocol_state=RCPT client_address=192.0.2.90 \
		    sasl_username=dave sender=dave@r.test "instance=r$i.$fd")
		case $r in
		action=DUNNO) dunno=$((dunno + 1)) ;;
		"action=450 4.7.1 "*) defer=$((defer + 1)); last=$r ;;
		esac
	done
done
tb_is "$dunno/$defer" 3/3 "two nodes, 3 per month: exactly 3 of 6 pass"
want=$(month_ends)
got=$(sed -E 's/.*try again in ([0-9]+) s$/\1/' <<<"$last")
tb_like "$last" 'Message quota exceeded for user dave \(3 per month\), try again in [0-9]+ s$' \
    "the deferral names the monthly quota"
d=$((${got:-0} - want))
tb_ok "and the time to the first of next month ($got s, want $want)" \
    test "${d#-}" -le 3

rcli() {
	redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@"
}
start=$(($(date -u -d "$(date -u +%Y-%m-01)" +%s) * 1000))
tb_is "$(rcli GET 'elemta:policyd:{l:monthly:user:dave}')" "$start:3" \
    "Redis holds one entry: the month's start and the count"
ttl=$(rcli PTTL 'elemta:policyd:{l:monthly:user:dave}')
tb_ok "which expires when the month ends (PTTL $ttl ms, $want s)" \
    test $((ttl / 1000 - want)) -le 3 -a $((want - ttl / 1000)) -le 3
day=$((($(date -u +%s) / 86400) * 86400000))
tb_is "$(rcli GET 'elemta:policyd:{l:daily:sender:dave@r.test}')" "$day:3" \
    "the daily quota beside it counted the same 3 (deferred ones gave back)"
exec 5>&- 6>&-
tb_stop nodea nodeb
tb_ok "both nodes stopped cleanly" tb_grep "elemta-policyd stopped" "$TB/nodeb/log"
tb_done
