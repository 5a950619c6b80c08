#!/bin/bash
# 0327-policyd-redis-redirect - Redis redirections only to known nodes
#
# A fake Redis (t/lib/redis-fake.py, which records what it receives) is
# the configured server; it answers every script with "MOVED 1234
# 127.0.0.1:B", where B is a second fake.  B is neither a configured
# server nor in the CLUSTER SLOTS of the first: the redirection is
# refused and logged, store_fail_action (defer) answers, and B never
# receives a connection, let alone AUTH with the password.  When the
# configured server's CLUSTER SLOTS names B, the redirection is followed
# (B gets AUTH, then the script).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

tb_need python3 python3
tb_init
tb_plan 8

FAKE=$top_srcdir/t/lib/redis-fake.py
P=$TB_PORT_POLICY
A=$(tb_port 48)
B=$(tb_port 49)

# fake NAME PORT ARGS... - a fake Redis recording into $TB/NAME.rec
fake() {
	local name=$1 port=$2

	shift 2
	tb_spawn "$name" "$TB/$name.log" python3 "$FAKE" "$port" \
	    "$TB/$name.rec" "$@"
	tb_ready "$name" "on 127.0.0.1:$port" 10 tb_connect 127.0.0.1 "$port"
	tb_wait 5 tb_grep '^connect$' "$TB/$name.rec"
	: >"$TB/$name.rec"	# (the probe's connection)
}

# policyd_start - policyd on the first fake, with a password
policyd_start() {
	pol_start policyd "$P" -o policyd.store=redis \
	    -o policyd.store_fail_action=defer \
	    -o "redis.servers={\"127.0.0.1:$A\"}" \
	    -o redis.password=sekrit-pw \
	    -o policyd.client_message_limit=3/1h
}

# ask INSTANCE - one RCPT request; its reply line
ask() {
	exec 5<>"/dev/tcp/127.0.0.1/$P"
	pol_request 5 protocol_state=RCPT client_address=192.0.2.5 \
	    "instance=$1"
	exec 5>&-
}

# 1. MOVED to an address nobody named: refused
fake fa "$A" --moved "127.0.0.1:$B"
fake fb "$B"
policyd_start
r=$(ask i1)
tb_like "$r" '^action=451 4\.3\.0 ' \
    "MOVED to an unknown node: store_fail_action (defer) answers"
tb_ok "the refusal is logged" tb_grep \
    "redirection to 127\.0\.0\.1:$B refused: not a configured server, nor a node of its cluster" \
    "$TB/policyd/log"
tb_is "$(cat "$TB/fb.rec")" "" \
    "the unknown node received nothing: no connection, no AUTH"
tb_ok "the configured server was asked CLUSTER SLOTS" \
    tb_grep '^CLUSTER SLOTS$' "$TB/fa.rec"
tb_ok "(and got the password)" tb_grep '^AUTH sekrit-pw$' "$TB/fa.rec"
tb_stop policyd fa

# 2. the configured server's CLUSTER SLOTS names B: followed
fake fa2 "$A" --moved "127.0.0.1:$B" --slots "127.0.0.1:$A" "127.0.0.1:$B"
policyd_start
r=$(ask i2)
tb_is "$r" action=DUNNO "MOVED to a node of the cluster: followed, answered"
tb_ok "that node got AUTH" tb_grep '^AUTH sekrit-pw$' "$TB/fb.rec"
tb_ok "and the script" tb_grep '^EVALSHA [0-9a-f]{40} 1 elemta:policyd:\{msg:ip:192\.0\.2\.5\}' \
    "$TB/fb.rec"
tb_done
