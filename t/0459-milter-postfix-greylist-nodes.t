#!/bin/bash
# 0459-milter-postfix-greylist-nodes - two elemta-milter daemons (two
# gateway nodes) with greylist_store = redis on one private redis-server,
# behind a real private Postfix that is switched from node A to node B
# between attempts (as a client's retry reaches another MX): A defers
# the first attempt, B defers the early retry (it sees A's record) and
# passes the retry after the delay; the message is delivered once; A
# then knows the triplet too.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound redis
tb_init
tb_plan 8
peer_start_unbound
peer_start_redis
milter_start greylist=true greylist_delay=8 greylist_store=redis \
    "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" redis.key_prefix=t0459: \
    -- -o dns.timeout=1 -o dns.retries=0
# node B: the same configuration file, its own port and log
NODE_B=$(tb_port 43)
LOG_B=$TB/milter/milter-b.log
milter_start_node milter-b "$NODE_B" -o dns.timeout=1 -o dns.retries=0
milter_postfix

# to_node PORT - Postfix's smtpd_milters is the node on PORT now
to_node() {
	peer_postfix_set "smtpd_milters = inet:127.0.0.1:$1"
	sleep 1		# the reloaded smtpd processes
}

t0=$SECONDS
out=$(milter_send "two nodes" --xclient-addr 198.51.100.7)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' "node A defers the first attempt" ||
    tb_diag "$out"
to_node "$NODE_B"
out=$(milter_send "two nodes" --xclient-addr 198.51.100.8)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' \
    "node B defers the early retry" || tb_diag "$out"
tb_like "$(grep 'greylist action=defer' "$LOG_B")" 'state=early' \
    "node B saw node A's record (state=early, not new)"
# the delay (8 s: the reload and a loaded machine must not make the
# early retry a late one) has passed
s=$((t0 + 9 - SECONDS)); [[ $s -le 0 ]] || sleep "$s"
out=$(milter_send "two nodes" --xclient-addr 198.51.100.9)
tb_like "$out" '250 2\.0\.0 Ok: queued' "node B passes the retry after the delay" ||
    tb_diag "$out"
tb_like "$(grep 'greylist action=pass' "$LOG_B")" 'state=passed' \
    "node B logs the passed triplet"
f=$(milter_wait_delivered "two nodes")
tb_ok "delivered" test -n "$f"
to_node "$TB_PORT_MILTER"
out=$(milter_send "two nodes again" --xclient-addr 198.51.100.7)
tb_like "$out" '250 2\.0\.0 Ok: queued' "node A knows the passed triplet" ||
    tb_diag "$out"
tb_like "$(milter_log 'greylist=pass')" 'greylist=pass\(net\)' \
    "node A's summary line: greylist=pass(net)"
tb_done
