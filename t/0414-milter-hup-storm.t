#!/bin/bash
# 0414-milter-hup-storm - SIGUSR1 storm under load: Postfix sends 300
# messages through elemta-milter while it gets 300 SIGUSR1s, the log's
# ident changing every tenth; the milter survives, every message is
# checked and delivered, it keeps logging, and no line loses its ident
# or gets a torn one (a reload used to close and reopen the log, and
# rewrite the ident, under the session threads' lines).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink unbound swaks
tb_need smtp-source smtp-source
tb_init
tb_plan 7

N=300
peer_start_unbound
milter_start
milter_postfix
cp "$TB_MILTER_CONF" "$TB/base.conf"

# ident NAME - the same [milter] options, the log's ident set to NAME
ident() {
	{ cat "$TB/base.conf"; printf 'log {\n\tident = "%s"\n}\n' "$1"; } \
	    >"$TB_MILTER_CONF.tmp" && mv "$TB_MILTER_CONF.tmp" "$TB_MILTER_CONF"
}

pid=$(tb_pid milter)
smtp-source -s 10 -m "$N" -f user@example.test -t bob@sink.test \
    "127.0.0.1:$TB_PORT_SMTPD" >"$TB/smtp-source.log" 2>&1 &
load=$!
for i in $(seq 1 300); do
	if ((i % 10 == 0)); then
		if ((i % 20 == 0)); then ident storm-a; else ident storm-b-is-longer; fi
	fi
	kill -USR1 "$pid" 2>/dev/null || break
	sleep 0.01
done
wait "$load"
tb_ok "the milter survived 300 SIGUSR1s under load" tb_alive "$pid"
tb_ok "all $N messages delivered" tb_wait 60 bash -c \
    "[[ \$(ls '$TB_SINK_DIR' | wc -l) -ge $N ]]"
reloads=$(grep -c 'reloaded: ' "$TB_MILTER_LOG")
tb_ok "it reloaded many times ($reloads)" test "$reloads" -ge 20
checked=$(grep -c ' action=' "$TB_MILTER_LOG")
tb_ok "every message checked and logged ($checked lines)" test "$checked" -ge "$N"
tb_is "$(grep -vcE '^(elemta-milter|storm-a|storm-b-is-longer)\[[0-9]+\]: ' "$TB_MILTER_LOG")" 0 \
    "every line has one whole ident" ||
    tb_diag "$(grep -vE '^(elemta-milter|storm-a|storm-b-is-longer)\[[0-9]+\]: ' "$TB_MILTER_LOG" | head -n 3)"
# after the storm: a reload to a known ident, then a message
before=$(grep -c 'reloaded: ' "$TB_MILTER_LOG")
ident storm-after
kill -USR1 "$pid"
tb_wait 10 eval "[[ \$(grep -c 'reloaded: ' '$TB_MILTER_LOG') -gt $before ]]"
out=$(milter_send "after the storm")
tb_like "$out" '<-  250 .*queued' "a message after the storm is accepted"
tb_ok "and logged under the new ident" tb_wait 10 tb_grep \
    '^storm-after\[[0-9]+\]: info: [0-9A-F]+: .*action=' "$TB_MILTER_LOG"
tb_done
