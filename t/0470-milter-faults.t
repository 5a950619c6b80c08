#!/bin/bash
# 0470-milter-faults - elemta-milter behind a real Postfix while its
# peers fail (make check-faults: slow, run once by .ci/run):
#   a SIGUSR1 storm under load: every message delivered, none lost or
#   tempfailed, the daemon alive;
#   unbound SIGSTOPped (a DNS server that never answers): every message
#   still gets an answer within the lookup budget, temperror in the A-R
#   and dmarc_temperror_action applied (accept, then tempfail: 451
#   4.7.1, so Postfix's client retries and nothing is lost);
#   unbound continued: dmarc=pass again, nothing cached from the outage;
#   the DMARC history on a file system that fills up (ENOSPC): messages
#   still delivered, the error logged, rows again once there is space;
#   Postfix's smtpd killed in the middle of a message: nothing kept, the
#   next message served; a DNS server answering garbage: temperror.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_init
tb_plan 21

# cold.test: asked only while unbound is stopped (nothing in the cache)
cat >"$TB/zones.conf" <<'EOF2'
local-zone: "cold.test." static
local-data: 'cold.test. 300 IN TXT "v=spf1 ip4:192.0.2.40 -all"'
local-data: '_dmarc.cold.test. 300 IN TXT "v=DMARC1; p=reject"'
EOF2
peer_start_unbound "$TB/zones.conf"
# the DMARC history's directory: a 256 KB file system, to fill up
tb_mount_tmpfs "$TB/hist" 256k
milter_start dmarc_enforce=true max_check_time=3 -- -o dns.timeout=1 \
    -o dns.retries=0 -o "database.directory=$TB/hist"
milter_postfix

# --- A SIGUSR1 storm while 4 clients send 10 messages each.
storm() {
	local i
	for i in $(seq 1 60); do
		kill -USR1 "$(tb_pid milter)" 2>/dev/null || return
		sleep 0.1
	done
}
storm &
pids=($!)
for c in 1 2 3 4; do
	(
		for i in $(seq 1 10); do
			milter_send "hup $c-$i" >"$TB/hup-$c-$i.out"
		done
	) &
	pids+=($!)
done
# only these: the daemons tb_spawn started are jobs of this shell too
wait "${pids[@]}" 2>/dev/null
tb_wait 30 eval '[[ $(grep -lE "^Subject: hup [0-9]+-[0-9]+"$'"'"'\r'"'"'"?\$" "$TB_SINK_DIR"/msg.* 2>/dev/null | wc -l) -ge 40 ]]'
n=$(grep -lE "^Subject: hup [0-9]+-[0-9]+"$'\r'"?\$" "$TB_SINK_DIR"/msg.* 2>/dev/null | wc -l)
tb_is "$n" 40 "SIGUSR1 storm: all 40 messages delivered"
tb_is "$(cat "$TB"/hup-*.out | grep -c '250 2.0.0 Ok: queued')" 40 \
    "SIGUSR1 storm: each one accepted (250), none tempfailed"
tb_ok "SIGUSR1 storm: the milter is alive" tb_alive "$(tb_pid milter)"
tb_ok "SIGUSR1 storm: reloads were logged" \
    grep -q 'reloaded: ' "$TB_MILTER_LOG"

# --- unbound stopped: nothing answers.
cold=(--xclient-addr 192.0.2.40 --from user@cold.test
    --header "From: User <user@cold.test>")
kill -STOP "$(tb_pid unbound)"
out=$(milter_send "dns stopped" "${cold[@]}")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "DNS stopped: an answer (accepted: temperror actions are accept)"
f=$(milter_wait_delivered "dns stopped")
tb_like "$(milter_authres "$f")" 'spf=temperror .*dmarc=temperror' \
    "DNS stopped: temperror in the delivered A-R"
milter_set dmarc_enforce=true max_check_time=3 dmarc_temperror_action=tempfail
out=$(milter_send "dns stopped tempfail" "${cold[@]}")
tb_like "$out" '<\*\* +451 4\.7\.1 DMARC policy of cold\.test could not be retrieved' \
    "DNS stopped, dmarc_temperror_action=tempfail: 451 4.7.1"
kill -CONT "$(tb_pid unbound)"
out=$(milter_send "dns back" "${cold[@]}")
f=$(milter_wait_delivered "dns back")
tb_like "$(milter_authres "$f")" 'spf=pass .*dmarc=pass' \
    "DNS back: pass again (the outage was not cached)"

# --- The DMARC history's file system fills up: the message is not the
# victim (delivered, logged), and the history resumes with space.
rows() { sqlite3 "$TB/hist/dmarc.sqlite" 'SELECT count(*) FROM dmarc_history'; }
milter_set dmarc_enforce=true dmarc_history=dmarc.sqlite
milter_send "history ok" >/dev/null
milter_wait_delivered "history ok" >/dev/null
tb_wait 10 eval '[[ $(rows) -ge 1 ]]'	# the writer's batch, a moment later
tb_is "$(rows)" 1 "history: one row written"
dd if=/dev/zero of="$TB/hist/filler" bs=4k 2>/dev/null
out=$(milter_send "history full")
tb_like "$out" '250 2\.0\.0 Ok: queued' "history on a full disk: accepted"
tb_ok "history on a full disk: delivered" test -n "$(milter_wait_delivered "history full")"
tb_like "$(milter_log 'dmarc history .*dmarc\.sqlite: .*(full|disk)')" \
    "full" "history on a full disk: the error is logged"
rm -f "$TB/hist/filler"
milter_send "history back" >/dev/null
milter_wait_delivered "history back" >/dev/null
tb_wait 10 eval '[[ $(rows) -ge 2 ]]'
tb_ok "history with space again: rows are written" test "$(rows)" -ge 2

# --- Postfix's smtpd killed in the middle of a message: the milter
# gets the connection closed mid-body, keeps nothing, serves the next.
exec {fd}<>"/dev/tcp/127.0.0.1/$TB_PORT_SMTPD"
for line in "EHLO client.remote.test" "XCLIENT ADDR=192.0.2.1" \
    "EHLO client.remote.test" "MAIL FROM:<user@example.test>" \
    "RCPT TO:<bob@sink.test>" "DATA"; do
	printf '%s\r\n' "$line" >&"$fd"
	sleep 0.2
done
printf 'From: User <user@example.test>\r\nSubject: cut off\r\n\r\nfirst line\r\n' >&"$fd"
sleep 1
smtpd=$(for p in $(tb_proc_tree "$(tb_pid postfix)"); do
	[[ $(cat "/proc/$p/comm" 2>/dev/null) == smtpd ]] && echo "$p"
done)
tb_ok "a Postfix smtpd serves the cut-off message" test -n "$smtpd"
# shellcheck disable=SC2086
kill -KILL $smtpd 2>/dev/null
exec {fd}>&-
out=$(milter_send "after the cut")
tb_like "$out" '250 2\.0\.0 Ok: queued' "after smtpd was killed: the next message is accepted"
tb_ok "... and delivered" test -n "$(milter_wait_delivered "after the cut")"
tb_ok "... and the milter is alive" tb_alive "$(tb_pid milter)"
tb_ok "the cut-off message was not delivered" \
    test -z "$(milter_delivered "cut off")"

# --- A DNS server that answers garbage: temperror, no crash, bounded.
garb=$(tb_port 97)
tb_spawn dnsgarbage "$TB/dnsgarbage.log" python3 \
    "$top_srcdir/t/lib/dns-garbage.py" "$garb"
tb_ready dnsgarbage "on 127.0.0.1:$garb" 10 tb_connect 127.0.0.1 "$garb"
{ echo "From: ceo@example.test"; echo "Subject: garbage DNS"; echo
  echo "hello"; } >"$TB/garb.eml"
rc=0
for i in 1 2 3; do
	"$MILTER" -c /dev/null -o "dns.nameservers=127.0.0.1@$garb" \
	    -o dns.timeout=2 -o dns.retries=1 -o milter.max_check_time=5 \
	    -o milter.authserv_id=mx.example.test -t "$TB/garb.eml" \
	    --client-ip 192.0.2.10 --helo mail.test \
	    --sender "user$i@example.test" --rcpt bob@sink.test \
	    >"$TB/garb-$i.out" 2>"$TB/garb-$i.err" || rc=$?
done
tb_is "$rc" 0 "DNS answering garbage: the offline check ends normally, 3 times"
tb_like "$(cat "$TB/garb-1.out")" 'spf=temperror .*dmarc=temperror' \
    "DNS answering garbage: temperror, not pass nor a crash"
tb_ok "the milter is alive at the end" tb_alive "$(tb_pid milter)"
tb_done
