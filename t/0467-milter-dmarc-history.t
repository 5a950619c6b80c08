#!/bin/bash
# 0467-milter-dmarc-history - the DMARC history writer behind a real
# Postfix, while another connection (the test's sqlite3, as the report
# builder would) holds the database's write lock:
#   messages are still answered while the lock is held (the verdict does
#   not wait for SQLite), and their rows appear once it is released;
#   a full queue (dmarc_history_queue_size) drops rows and counts them,
#   never the message; a reload waits a bounded time for the queue;
#   SIGTERM writes what is queued before the exit.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound sqlite3
tb_need curl curl
tb_init
tb_plan 25
peer_start_unbound
mkdir -p "$TB/db"
DB=$TB/db/dmarc.sqlite
milter_start dmarc_history=dmarc.sqlite -- -o "database.directory=$TB/db" \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix

rows() { sqlite3 "$DB" 'SELECT count(*) FROM dmarc_history'; }
# locked - another connection holds the write lock (BEGIN fails at once)
locked() {
	! sqlite3 -cmd '.timeout 0' "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' \
	    >/dev/null 2>&1
}
# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
# hold - the test's sqlite3 takes the write lock (BEGIN EXCLUSIVE) and
# keeps it until release; reading its statements from a FIFO
hold() {
	rm -f "$TB/lock.fifo"
	mkfifo "$TB/lock.fifo"
	sqlite3 "$DB" <"$TB/lock.fifo" >"$TB/lock.out" 2>&1 &
	HOLDER=$!
	exec {LOCK_FD}>"$TB/lock.fifo"
	# the milter's writer may be in a batch right then: wait it out
	# rather than fail to take the lock (sqlite3's busy timeout is 0)
	printf '.timeout 10000\nBEGIN EXCLUSIVE;\n' >&"$LOCK_FD"
	tb_wait 10 locked
}
release() {
	echo 'COMMIT;' >&"$LOCK_FD"
	exec {LOCK_FD}>&-
	wait "$HOLDER"
}
# send N PREFIX - N messages, one after the other; how many got a 250
send() {
	local i n=0

	for i in $(seq 1 "$1"); do
		milter_send "$2 $i" | grep -q '250 2\.0\.0 Ok: queued' &&
		    n=$((n + 1))
	done
	echo "$n"
}

# --- The writer opens (and creates) the file with the first row.
milter_send "first" >/dev/null
tb_wait 20 eval '[[ $(rows 2>/dev/null) -ge 1 ]]'
tb_is "$(rows)" 1 "a row for the first message"

# --- The lock held: answers, no rows; released: the rows.
hold
tb_ok "the test's sqlite3 holds the write lock" locked
tb_is "$(send 3 held)" 3 "lock held: each of 3 messages answered 250"
tb_ok "... while the lock was held (the replies did not wait for it)" locked
tb_is "$(rows)" 1 "... and their rows not written yet"
tb_like "$(milter_log 'dmarc history .*rows wait for the lock')" \
    'database is locked' "the writer logs that it waits for the lock"
release
tb_ok "the lock is released" eval '! locked'
tb_wait 60 eval '[[ $(rows) -ge 4 ]]'
tb_is "$(rows)" 4 "after the release: the 3 rows written"
tb_is "$(sqlite3 "$DB" "SELECT count(*) FROM dmarc_history
    WHERE header_from = 'example.test' AND result = 'pass'")" \
    4 "... whole rows (From domain, result)"
tb_is "$(metric elemta_milter_dmarc_history_errors_total)" 0 \
    "no row counted as an error"
tb_is "$(metric elemta_milter_dmarc_history_dropped_total)" 0 \
    "no row dropped"

# --- A queue of one row: while the writer waits for the lock, the rows
# that find the queue full are dropped and counted, the messages pass.
milter_set dmarc_history=dmarc.sqlite dmarc_history_queue_size=1
hold
tb_is "$(send 4 full)" 4 "queue full: each of 4 messages still answered 250"
tb_ok "... while the lock was held" locked
dropped=$(metric elemta_milter_dmarc_history_dropped_total)
tb_ok "rows dropped and counted ($dropped)" test "${dropped:-0}" -ge 1
tb_like "$(milter_log 'dmarc history: writer queue full')" 'row dropped' \
    "the drop is logged"
release
want=$((4 + 4 - dropped))
tb_wait 60 eval "[[ \$(rows) -ge $want ]]"
tb_is "$(rows)" "$want" "after the release: the rows not dropped written"
tb_is "$(metric elemta_milter_dmarc_history_queue)" 0 "the queue is empty"

# --- A reload with a row waiting for the lock: the wait is bounded, the
# row kept for later.
milter_set dmarc_history=dmarc.sqlite
hold
tb_is "$(send 1 reload)" 1 "lock held: the message answered 250"
milter_set dmarc_history=dmarc.sqlite
tb_like "$(milter_log 'dmarc history: .* still queued after')" \
    'written later' "a reload under the lock waits a bounded time"
tb_is "$(send 1 reloaded)" 1 "... and the milter answers after it"
release
want=$((want + 2))
tb_wait 60 eval "[[ \$(rows) -ge $want ]]"
tb_is "$(rows)" "$want" "after the release: both rows written"

# --- SIGTERM with a row waiting for the lock: written before the exit.
hold
tb_is "$(send 1 stop)" 1 "lock held: the message answered 250"
tb_is "$(rows)" "$want" "... its row not written yet"
pid=$(tb_pid milter)
kill -TERM "$pid"
release
tb_wait 60 eval '! tb_alive '"$pid"
tb_ok "SIGTERM: the milter has stopped" eval '! tb_alive '"$pid"
tb_is "$(rows)" "$((want + 1))" "... after writing the queued row"
tb_done
