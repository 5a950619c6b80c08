#!/bin/bash
# 0471-milter-greylist-redis-pool - greylist_store = redis under
# concurrent sessions: the milter's threads each take a Redis connection
# of a small pool instead of queueing behind one.  Six sessions through
# a real private Postfix reach the greylisting stage while the private
# redis-server holds every command (CLIENT PAUSE), so that they overlap
# whatever the machine's speed: all six are deferred (450 4.7.1), each
# triplet is recorded once, and the milter held several connections at
# once (at most the pool's 8).  Then redis-server stopped: concurrent
# sessions get greylist_fail_action (accept), logged, none hangs; Redis
# back, the store is used again (within the back-off) and the sessions
# spread over several connections again.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

tb_need redis-cli redis-cli
milter_require postfix smtp-sink swaks unbound redis
tb_init
tb_plan 9
peer_start_unbound
peer_start_redis
milter_start greylist=true greylist_store=redis \
    "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" redis.key_prefix=t0471: \
    redis.command_timeout_ms=60000 -- -o dns.timeout=1 -o dns.retries=0
milter_postfix

rcli() {
	redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@"
}

# conns - the connections redis-server has now, but the one asking
conns() {
	rcli CLIENT LIST | grep -vc 'cmd=client|list'
}

# sessions NAME N - N sessions at once, to NAMEi@sink.test; each one's
# output in $TB/NAME.i
sessions() {
	local i pids=()

	for ((i = 1; i <= $2; i++)); do
		milter_send "$1 $i" --to "$1$i@sink.test" >"$TB/$1.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
}

out=$(milter_send "warm" --to warm@sink.test)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' "one session: deferred" ||
    tb_diag "$out"

# six at once, all held in Redis for a while
rcli CLIENT PAUSE 5000 ALL >/dev/null
sessions par 6
tb_is "$(grep -l '<\*\* *450 4\.7\.1 Greylisted' "$TB"/par.* | wc -l)" 6 \
    "six concurrent sessions: every one deferred"
tb_is "$(rcli --scan --pattern 't0471:greylist:{*' | grep -c 'par[1-6]@sink')" \
    6 "... each triplet recorded once"
n=$(conns)
tb_ok "the sessions used several Redis connections at once ($n)" \
    test "$n" -ge 2
tb_ok "... at most the pool's 8 ($n)" test "$n" -le 8

# Redis gone: the store failure's outcome, for every session
tb_stop redis
sessions down 4
tb_is "$(grep -l '250 2\.0\.0 Ok: queued' "$TB"/down.* | wc -l)" 4 \
    "redis-server stopped: every session accepted (greylist_fail_action)"
tb_like "$(milter_log 'greylist store redis: ')" 'greylist store redis: ' \
    "... and the store's failure is logged"

# Redis back (empty): a session is deferred again, then six at once use
# several connections again (the pool is no longer down)
peer_start_redis
n=0
# shellcheck disable=SC2317 # back runs through tb_wait
# back - one more session, deferred: the store answers again
back() {
	n=$((n + 1))
	milter_send "back $n" --to "back$n@sink.test" |
	    grep -q '<\*\* *450 4\.7\.1 Greylisted'
}
tb_ok "Redis restarted: sessions are greylisted again" tb_wait 30 back
rcli CLIENT PAUSE 5000 ALL >/dev/null
sessions again 6
n=$(conns)
tb_ok "... six at once: deferred, on several connections again ($n)" \
    test "$(grep -l '<\*\* *450 4\.7\.1 Greylisted' "$TB"/again.* | wc -l)" \
    -eq 6 -a "$n" -ge 2
tb_done
