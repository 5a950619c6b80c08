#!/bin/bash
# 0412-milter-dns-reload - SIGUSR1 with a changed [dns] section: a new
# resolver for new connections, the old one for those in progress.
#
# Two real unbounds: A (the harness' zones: 192.0.2.1 may send for
# example.test) and B (the same zones, but example.test says
# "v=spf1 -all", and B logs every query).  elemta-milter starts on A,
# from a configuration file (no -o for dns, which would override the
# file on reload).  miltertest (t/data/milter/dns-reload.lua) holds a
# connection open across each SIGUSR1 and then sends a message on it
# and on a new connection:
#   A -> B:    held: spf=pass (A), new: spf=fail (B, which logs it)
#   B -> dead: held: spf=fail (B), new: spf=temperror (nothing answers
#              on that port, and the new resolver has an empty cache)
#   dead -> A: new: spf=pass again
# The log names each new resolver; the daemon serves throughout and
# the old resolvers go with their last connection (the ASan run of this
# test would catch one freed too early).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

LUA=$TB_DATA/milter/dns-reload.lua
milter_require unbound
tb_need miltertest miltertest
tb_init
tb_plan 17
peer_start_unbound

# Unbound B on another port: A's configuration, another SPF record for
# example.test, every query logged.
B=$TB/unbound-b
PORT_B=$(tb_port 54)
DEAD=$(tb_port 55)
mkdir -p "$B"
sed -e "s/port: $TB_PORT_DNS\$/port: $PORT_B/" \
    -e "s|directory: \"$TB/unbound\"|directory: \"$B\"|" \
    -e 's/^\( *\)verbosity: 1$/\1verbosity: 1\n\1log-queries: yes/' \
    -e 's/example\.test\. 300 IN TXT "v=spf1 ip4:127\.0\.0\.1 ip4:192\.0\.2\.1 -all"/example.test. 300 IN TXT "v=spf1 -all"/' \
    "$TB/unbound/unbound.conf" >"$B/unbound.conf"
tb_ok "unbound B: its configuration differs where it should" \
    grep -q 'example.test. 300 IN TXT "v=spf1 -all"' "$B/unbound.conf"
tb_spawn unbound-b "$B/unbound.log" unbound -d -c "$B/unbound.conf"
tb_ready unbound-b "on 127.0.0.1:$PORT_B" 20 \
    "$TB_DNSQ" -t 1 -p "$PORT_B" example.test A

# conf NAMESERVER - the milter's options in $opts: [dns] in the file
conf() {
	opts=("dns.nameservers={\"$1\"}" dns.timeout=1 dns.retries=0
	    dkim=false dmarc=false arc=false)
}
conf "$TB_DNS"
TB_MILTER_AUTHSERV=mx.elemta.test
milter_start "${opts[@]}"
LOG=$TB_MILTER_LOG

# switch NAMESERVER BEFORE AFTER - hold a connection, reload to
# NAMESERVER, then check both messages; miltertest's output in $out
switch() {
	local ns=$1 before=$2 after=$3 n mt

	rm -f "$TB/held" "$TB/reloaded"
	miltertest -D "port=$TB_PORT_MILTER" -D "dir=$TB" \
	    -D "before=$before" -D "after=$after" -s "$LUA" \
	    >"$TB/mt.out" 2>&1 &
	mt=$!
	tb_wait 20 test -f "$TB/held" ||
	    tb_bail "miltertest did not open its connection:" \
	    "$(cat "$TB/mt.out")"
	n=$(grep -c 'dns: new resolver' "$LOG")
	conf "$ns"
	milter_conf "${opts[@]}"
	kill -USR1 "$(tb_pid milter)"
	tb_wait 10 eval "[[ \$(grep -c 'dns: new resolver' '$LOG') -gt $n ]]" ||
	    tb_diag "no new resolver logged after SIGUSR1"
	touch "$TB/reloaded"
	wait "$mt"
	rc=$?
	out=$(cat "$TB/mt.out")
}

switch "127.0.0.1@$PORT_B" pass fail
tb_is "$rc" 0 "A -> B: miltertest ran to the end" || tb_diag "$out"
tb_like "$(grep 'dns: new resolver' "$LOG" | tail -1)" \
    "dns: new resolver for new connections: nameservers=127\\.0\\.0\\.1@$PORT_B timeout=1 retries=0" \
    "A -> B: the log names the new resolver"
tb_like "$out" "ok: held connection: spf=pass" \
    "A -> B: the connection in progress kept A (spf=pass)"
tb_like "$out" "ok: new connection: spf=fail" \
    "A -> B: a new connection asks B (spf=fail)"
tb_ok "A -> B: B logged the query" \
    grep -qE 'info: 127\.0\.0\.1 example\.test\. TXT IN' "$B/unbound.log"

switch "127.0.0.1@$DEAD" fail temperror
tb_is "$rc" 0 "B -> dead: miltertest ran to the end" || tb_diag "$out"
tb_like "$out" "ok: held connection: spf=fail" \
    "B -> dead: the connection in progress kept B (spf=fail)"
tb_like "$out" "ok: new connection: spf=temperror" \
    "B -> dead: a new connection asks the dead port (temperror)"
tb_like "$(grep 'spf dns=timeout name=example\.test' "$LOG" | tail -1)" \
    "spf dns=timeout name=example\\.test" \
    "B -> dead: the milter logs the timeout"

switch "$TB_DNS" temperror pass
tb_is "$rc" 0 "dead -> A: miltertest ran to the end" || tb_diag "$out"
tb_like "$out" "ok: new connection: spf=pass" \
    "dead -> A: back on A (spf=pass)"
tb_is "$(grep -c 'dns: new resolver for new connections' "$LOG")" 3 \
    "three reloads, three new resolvers"

# An unchanged [dns] section keeps the resolver (and its cache).
kill -USR1 "$(tb_pid milter)"
tb_wait 10 eval "[[ \$(grep -c 'reloaded: ' '$LOG') -ge 4 ]]"
tb_is "$(grep -c 'dns: new resolver' "$LOG")" 3 \
    "a reload without a [dns] change makes no new resolver"
# A section that cannot be loaded: the reload is refused, A stays.
milter_conf 'dns.nameservers={"not-an-address"}'
kill -USR1 "$(tb_pid milter)"
tb_wait 10 tb_grep "not-an-address" "$LOG"
tb_like "$(grep 'not-an-address' "$LOG" | head -1)" "not an IPv4 or IPv6" \
    "a bad nameserver: the reload is refused with the reason"
tb_ok "the milter still serves after it all" \
    tb_connect 127.0.0.1 "$TB_PORT_MILTER"
pid=$(tb_pid milter)
kill -TERM "$pid"
tb_wait 15 eval '! tb_alive '"$pid"
tb_like "$(cat "$LOG")" "stopped" "SIGTERM stops it cleanly"
tb_done
