#!/bin/bash
# 0457-milter-greylist-redis - greylist_store = redis: two elemta-milter
# processes (two gateway nodes, each -t on its own) share one greylist
# in a private redis-server.  The first attempt on node A is deferred
# (450 4.7.1), an early retry on node B too, the retry on B after the
# delay passes, and A then knows the triplet; the record's TTL is the
# retry window, then greylist_max_age once passed; a client auto-allowed
# (greylist_auto_allow = 1) passes a new triplet on either node.  Redis
# stopped: accepted (greylist_fail_action's default), logged; tempfail
# when configured.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require redis
tb_init
tb_plan 14
peer_start_redis
printf 'From: a@example.org\r\nSubject: x\r\n\r\nHello.\r\n' >"$TB/m.eml"

# node NAME RCPT [ARGS] - one message on a node of its own (a process),
# from 198.51.100.7, MAIL FROM bob+x@sender.test; the verdict line
node() {
	local name=$1 rcpt=$2

	shift 2
	"$MILTER" -c /dev/null -o dns.nameservers=127.0.0.1 \
	    -o dns.timeout=1 -o dns.retries=0 -o milter.spf=false \
	    -o milter.dkim=false -o milter.dmarc=false \
	    -o "milter.authserv_id=$name.example.test" \
	    -o milter.greylist=true -o milter.greylist_store=redis \
	    -o milter.greylist_delay=4 -o milter.greylist_auto_allow=2 \
	    -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
	    -o redis.key_prefix=t0457: \
	    -t "$TB/m.eml" --client-ip 198.51.100.7 \
	    --sender bob+x@sender.test --rcpt "$rcpt" "$@" \
	    2>>"$TB/$name.log" | grep '^verdict:'
}

rcli() {
	redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@"
}

# ttl_within LO HI NAME - the triplet's TTL is in (LO, HI]
ttl_within() {
	local ttl

	ttl=$(rcli TTL "$KEY")
	tb_ok "$3: $ttl" test "$ttl" -gt "$1" -a "$ttl" -le "$2"
}

KEY=$'t0457:greylist:{198.51.100.0/24\tbob@sender.test\talice@example.test}'
tb_like "$(node a alice@example.test)" \
    '^verdict: tempfail 450 4\.7\.1 Greylisted, please try again in 4 seconds$' \
    "node A: the first attempt is deferred"
ttl_within 172000 172800 "the record's TTL is the retry window (2d)"
tb_like "$(node b alice@example.test)" '^verdict: tempfail 450 4\.7\.1' \
    "node B: an early retry is deferred (the same record)"
sleep 4.2
tb_is "$(node b alice@example.test)" "verdict: accept" \
    "node B: the retry after the delay passes"
tb_like "$(cat "$TB/b.log")" 'greylist action=pass state=passed' \
    "node B logs the passed triplet"
ttl_within 3000000 3024000 "passed: the TTL is greylist_max_age (35d)"
tb_is "$(node a alice@example.test)" "verdict: accept" \
    "node A knows the triplet"
tb_is "$(rcli GET 't0457:greylist-client:{198.51.100.0/24}')" 1 \
    "one passed retry counted for the client"

# auto-allow after 2 passed retries: a second triplet passes, then a
# third is not greylisted at all
node a carol@example.test >/dev/null
sleep 4.2
tb_is "$(node b carol@example.test)" "verdict: accept" \
    "a second triplet passes after its delay"
tb_is "$(node a dave@example.test)" "verdict: accept" \
    "the client is auto-allowed after 2 passed retries"
tb_like "$(cat "$TB/a.log")" 'greylist=skipped\(auto-allowed\)' \
    "the summary line says auto-allowed"

# Redis stopped
tb_stop redis
tb_is "$(node a erin@example.test)" "verdict: accept" \
    "Redis down: accepted (greylist_fail_action = accept)"
tb_like "$(cat "$TB/a.log")" 'greylist store redis: .*greylist=error' \
    "the store failure is logged" || tb_diag "$(tail -3 "$TB/a.log")"
tb_like "$(node a erin@example.test -o milter.greylist_fail_action=tempfail)" \
    '^verdict: tempfail 450 4\.7\.1 Greylisting is temporarily unavailable' \
    "Redis down with greylist_fail_action = tempfail: 450"
tb_done
