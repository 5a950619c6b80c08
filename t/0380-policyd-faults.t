#!/bin/bash
# 0380-policyd-faults - elemta-policyd behind a real Postfix while it and
# its stores fail (make check-faults: slow, run once by .ci/run):
#   a SIGHUP storm under load: every message accepted, none tempfailed
#   or lost, the daemon alive, and the counts exact afterwards (a limit
#   of 10 per client lets exactly its 10 through, the 11th is deferred);
#   Redis SIGSTOPped under load (store = redis): each request answered
#   within the command timeout with store_fail_action (defer: 451
#   4.3.0), or counted locally with store_fallback = local; after
#   SIGCONT the limits are exact again;
#   the SQLite store on a full file system: written behind, the counting
#   goes on in memory and the rows are written once there is space;
#   written through, store_fail_action (defer: 451 4.3.0), and the
#   refused messages are not counted; on a read-only file system policyd
#   refuses to start, saying why.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require postfix smtp-sink swaks redis
tb_init
tb_plan 33

P=$TB_PORT_POLICY
pol_postfix_with_policy "$P" "smtpd_policy_service_max_ttl = 1000s" \
    "smtpd_policy_service_timeout = 100s"

# --- A SIGHUP storm while 4 clients send 10 messages each (a limit of
# 10 per client: a message lost or counted twice shows afterwards).
pol_start hup "$P" -o policyd.client_message_limit=10/1h
# storm - SIGHUP every 50 ms until the load is over; the count in
# $TB/hup.sent
storm() {
	local n=0
	while [[ ! -e $TB/hup.done ]]; do
		kill -HUP "$(tb_pid hup)" 2>/dev/null || break
		n=$((n + 1))
		sleep 0.05
	done
	echo "$n" >"$TB/hup.sent"
}
storm &
spid=$!
LOAD_NET=192.0.2 pol_load hup 4 10
touch "$TB/hup.done"
wait "$spid"
tb_diag "$(cat "$TB/hup.sent") SIGHUPs sent," \
    "$(grep -c 'reloaded: ' "$TB/hup/log") reloads logged"
tb_is "$(pol_count hup "$POL_QUEUED")" 40 \
    "SIGHUP storm: all 40 messages accepted (250)"
tb_is "$(pol_count hup '^<\*\* +4[0-9][0-9] ')" 0 "SIGHUP storm: none tempfailed"
tb_ok "SIGHUP storm: policyd is alive" tb_alive "$(tb_pid hup)"
tb_ok "SIGHUP storm: reloads were logged" \
    test "$(grep -c 'reloaded: ' "$TB/hup/log")" -ge 10
LOAD_NET=192.0.2 pol_load hup11 4 1
tb_is "$(pol_count hup11 "$POL_DEFERRED")" 4 \
    "after the storm: each client's 11th message is deferred (10 counted)"
tb_wait 30 eval '[[ $(pol_sent hup) -ge 40 ]]'
n=$(pol_sent hup)
tb_is "$n" 40 "SIGHUP storm: all 40 delivered"
tb_stop hup

# --- Redis SIGSTOPped under load (store = redis, 3 per client): every
# request is answered within the command timeout with store_fail_action
# (defer: 451 4.3.0), a node with store_fallback = local counts on its
# own, and after SIGCONT the limits are exact again (nothing the
# outage's requests sent is counted late).
peer_start_redis
redis=(-o policyd.store=redis -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}"
    -o redis.command_timeout_ms=100 -o redis.connect_timeout_ms=200
    -o policyd.client_message_limit=3/1h)
pol_start red "$P" "${redis[@]}" -o policyd.store_fail_action=defer
PL=$(tb_port 46)
pol_start loc "$PL" "${redis[@]}" -o policyd.store_fallback=local
# warm - one request to NAME on PORT from 198.51.100.98: its connection
# to Redis is open, so the outage's first script is sent and times out
warm() {
	exec 5<>"/dev/tcp/127.0.0.1/$2"
	pol_request 5 protocol_state=RCPT client_address=198.51.100.98 \
	    instance="warm.$1"
	exec 5>&-
}
tb_is "$(warm red "$P") $(warm loc "$PL")" "action=DUNNO action=DUNNO" \
    "Redis up: both nodes answer"
kill -STOP "$(tb_pid redis)"
t0=$(tb_now_ms)
LOAD_NET=198.51.100 pol_load red 4 3
tb_diag "12 messages with Redis stopped took $(($(tb_now_ms) - t0)) ms"
tb_is "$(pol_count red '<\*\* +451 4\.3\.0 .*Rate limit service temporarily unavailable')" 12 \
    "Redis stopped: each of 12 messages is tempfailed, 451 4.3.0"
tb_is "$(pol_count red "$POL_QUEUED")" 0 "Redis stopped: none accepted unlimited"
exec 5<>"/dev/tcp/127.0.0.1/$P"
t0=$(tb_now_ms)
line=$(pol_request 5 protocol_state=RCPT client_address=198.51.100.9 \
    instance=red.1)
dt=$(($(tb_now_ms) - t0))
exec 5>&-
tb_like "$line" '^action=451 4\.3\.0 ' "Redis stopped: a request is answered"
tb_ok "Redis stopped: within the timeouts (took $dt ms)" test "$dt" -lt 1000
tb_ok "Redis stopped: the failure is logged with the action" \
    tb_grep 'policyd store error key=.* action=defer \(store_fail_action\)' \
    "$TB/red/log"
exec 5<>"/dev/tcp/127.0.0.1/$PL"
ans=()
for i in 1 2 3 4; do
	ans+=("$(pol_request 5 protocol_state=RCPT \
	    client_address=198.51.100.10 instance="loc.$i")")
done
exec 5>&-
tb_like "${ans[*]}" '^action=DUNNO action=DUNNO action=DUNNO action=450 4\.7\.1 ' \
    "Redis stopped, store_fallback = local: 3 counted locally, the 4th deferred"
kill -CONT "$(tb_pid redis)"
tb_is "$(tb_alive_list "$(tb_pid red)" "$(tb_pid loc)" | wc -l)" 2 \
    "Redis stopped: both nodes are alive"
tb_wait 10 pol_dunno "$P" 198.51.100.99	# counting in Redis again
# (a script Redis received while stopped runs when it is continued,
# after policyd gave up on it: past its deadline, it takes nothing)
pol_redis_exact red2 "Redis continued" "the outage left no count"
tb_stop red loc

# --- The SQLite store on a file system that fills up.  Written behind
# (the default, a flush a second): the counting goes on in memory, the
# failed flushes are logged and retried, the rows are written once there
# is space.  Written through (store_flush_interval = 0): a take that
# cannot be written answers store_fail_action (defer: 451 4.3.0), and
# once there is space the limits are exact again.
tb_mount_tmpfs "$TB/fs" 256k
chown nobody "$TB/fs"
db=$TB/fs/policyd.db
rows() { sqlite3 "$db" "SELECT count(*) FROM limit_state WHERE k LIKE '%$1%'"; }
fill() { dd if=/dev/zero of="$TB/fs/filler" bs=4k 2>/dev/null; }
sqlite=(-o policyd.client_message_limit=3/1h -o "policyd.store_path=$db")
pol_start wb "$P" "${sqlite[@]}"
out=$(pol_send --xclient-addr 203.0.113.9 --to warm@sink.test)
tb_wait 10 eval '[[ $(rows 203.0.113.9) -ge 1 ]]'
tb_is "$(rows 203.0.113.9)" 1 "SQLite: a row written while there is space"
fill
LOAD_NET=203.0.113 pol_load wb 4 4
tb_is "$(pol_count wb "$POL_QUEUED")" 12 \
    "SQLite full, written behind: each client's 3 messages accepted"
tb_is "$(cat "$TB"/wb-*-4.out | grep -cE "$POL_DEFERRED")" 4 \
    "SQLite full, written behind: each client's 4th deferred (counted in memory)"
tb_wait_log 10 'policyd store error during upkeep: .*full' "$TB/wb/log"
tb_ok "SQLite full, written behind: the failed flush is logged" \
    tb_grep 'policyd store error during upkeep: .*full' "$TB/wb/log"
tb_is "$(rows 203.0.113.)" 1 "SQLite full: nothing more written"
rm -f "$TB/fs/filler"
tb_wait 10 eval '[[ $(rows 203.0.113.) -ge 5 ]]'
tb_is "$(rows 203.0.113.)" 5 "SQLite with space again: the rows are written"
tb_ok "SQLite full, written behind: policyd is alive" tb_alive "$(tb_pid wb)"
tb_stop wb

pol_start wt "$P" "${sqlite[@]}" -o policyd.store_flush_interval=0 \
    -o policyd.store_fail_action=defer
# (it listens before it opens the store: not on a full disk yet)
tb_wait_log 10 'elemta-policyd ready' "$TB/wt/log"
fill
LOAD_NET=192.0.2 pol_load wt 4 2
tb_is "$(pol_count wt '<\*\* +451 4\.3\.0 .*Rate limit service temporarily unavailable')" 8 \
    "SQLite full, written through: each of 8 messages tempfailed, 451 4.3.0"
tb_ok "SQLite full, written through: the failure is logged with the action" \
    tb_grep 'policyd store error key=.*full.* action=defer \(store_fail_action\)' \
    "$TB/wt/log"
tb_ok "SQLite full, written through: policyd is alive" tb_alive "$(tb_pid wt)"
rm -f "$TB/fs/filler"
LOAD_NET=192.0.2 pol_load wt2 4 4
tb_is "$(pol_count wt2 "$POL_QUEUED")" 12 \
    "SQLite with space again: each client's 3 messages accepted (the refused ones not counted)"
tb_is "$(cat "$TB"/wt2-*-4.out | grep -cE "$POL_DEFERRED")" 4 \
    "SQLite with space again: each client's 4th deferred"
tb_is "$(rows 192.0.2.)" 4 "SQLite with space again: the rows are written"
tb_stop wt

# Read-only: remounting while policyd holds the database open for writing
# fails (EBUSY), so only a start on a read-only file system is tried:
# policyd refuses it with the reason logged (exit 1, not a crash).
tb_ok "read-only: the store's file system is remounted read-only" \
    mount -o remount,ro "$TB/fs"
mkdir -p "$TB/ro"
chown nobody "$TB/ro"
tb_spawn ro "$TB/ro/log" "$POLICYD" -f -c /dev/null \
    -o "policyd.listen=inet:127.0.0.1:$P" -o policyd.user=nobody \
    -o policyd.control_socket= "${sqlite[@]}"
tb_wait 10 eval '! tb_alive "$(tb_pid ro)"'
if tb_alive "$(tb_pid ro)"; then
	rc=running
else
	wait "$(tb_pid ro)"
	rc=$?
fi
tb_is "$rc" 1 "read-only at start: policyd exits 1 (no crash)"
tb_ok "read-only at start: the reason is logged" \
    tb_grep 'fatal: cannot open the rate limit store: .*/policyd\.db: .*unable to open database file' \
    "$TB/ro/log"
tb_done
