#!/bin/bash
# 0415-milter-hup-race - signals back to back, under load.  libmilter's
# own sigwait() thread takes SIGHUP (like SIGTERM) as "stop" whenever
# the kernel hands it the signal, which it does when the main thread
# blocks it at that instant (while in its own handler, or while glibc
# creates a thread): with SIGHUP as the reload signal, a burst of them
# stopped the daemon a few thousand reloads in (a few dozen under
# Postfix load).  0414's 300 signals, 10 ms apart, never hit those
# microseconds.  Now the milter ignores SIGHUP and reloads on SIGUSR1,
# which libmilter leaves alone.  Here two loops send SIGHUP as fast as
# the shell's kill builtin can, then SIGUSR1 the same way, while
# Postfix passes messages through the milter: it must stay up, ignore
# every SIGHUP, reload on SIGUSR1, answer and deliver every message,
# and still stop on SIGTERM.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink unbound swaks
tb_need smtp-source smtp-source
tb_init
tb_plan 9

N=100
KILLS=60000
peer_start_unbound
milter_start
milter_postfix

pid=$(tb_pid milter)
# blast SIG - SIG to the milter KILLS times, back to back, from two
# loops (bash's builtin kill), while smtp-source sends N messages
blast() {
	local sig=$1 load b1 b2

	smtp-source -s 5 -m "$N" -f user@example.test -t bob@sink.test \
	    "127.0.0.1:$TB_PORT_SMTPD" >>"$TB/smtp-source.log" 2>&1 &
	load=$!
	blast_loop "$sig" &
	b1=$!
	blast_loop "$sig" &
	b2=$!
	wait "$b1" "$b2" "$load"
}
blast_loop() {
	local i

	for ((i = 0; i < KILLS; i++)); do
		kill "-$1" "$pid" 2>/dev/null || return 0
	done
}

blast HUP
tb_ok "the milter survived $((2 * KILLS)) SIGHUPs sent back to back" \
    tb_alive "$pid" ||
    tb_diag "$(grep -v 'reloaded: ' "$TB_MILTER_LOG" | tail -n 5)"
tb_is "$(grep -c 'reloaded: ' "$TB_MILTER_LOG")" 0 "SIGHUP is ignored"
blast USR1
tb_ok "the milter survived $((2 * KILLS)) SIGUSR1s sent back to back" \
    tb_alive "$pid" ||
    tb_diag "$(grep -v 'reloaded: ' "$TB_MILTER_LOG" | tail -n 5)"
reloads=$(grep -c 'reloaded: ' "$TB_MILTER_LOG")
tb_ok "SIGUSR1 reloaded it many times ($reloads)" test "$reloads" -ge 100
tb_ok "all $((2 * N)) messages delivered" tb_wait 60 bash -c \
    "[[ \$(ls '$TB_SINK_DIR' | wc -l) -ge $((2 * N)) ]]"
checked=$(grep -c ' action=' "$TB_MILTER_LOG")
tb_ok "every message checked and logged ($checked lines)" \
    test "$checked" -ge "$((2 * N))"
tb_is "$(grep -c 'libmilter stopped without being asked' "$TB_MILTER_LOG")" 0 \
    "libmilter never stopped by itself"
out=$(milter_send "after the blast")
tb_like "$out" '<-  250 .*queued' "a message after the blast is accepted"
kill -TERM "$pid"
tb_wait 15 eval '! tb_alive '"$pid"
tb_like "$(tail -n 3 "$TB_MILTER_LOG")" "stopped" "SIGTERM still stops it"
tb_done
