#!/bin/bash
# 0311-policyd-badinput - elemta-policyd against bad clients, over a socket
#
# Garbage, an oversized value, too many attributes, a half request left
# open, a client that disconnects mid-request: each is logged and closes
# that connection only; a persistent connection opened first keeps being
# answered throughout, pipelined requests get one reply each (10,000 in
# one write too), a client that never reads costs bounded memory and
# nobody else's service, hundreds of idle connections cost nothing, and
# idle_timeout closes idle ones.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/policyd.sh"

tb_need curl curl
tb_init
tb_plan 38

RQ='request=smtpd_access_policy'

# ask FD STATE ADDR INSTANCE - one request on an open fd; prints the reply
ask() {
	local fd=$1 line empty

	printf '%s\nprotocol_state=%s\nclient_address=%s\ninstance=%s\n\n' \
	    "$RQ" "$2" "$3" "$4" >&"$fd" 2>/dev/null || { echo "write failed"; return; }
	read -r -t 5 -u "$fd" line || { echo "no reply ($?)"; return; }
	read -r -t 5 -u "$fd" empty
	[[ -z $empty ]] || line="$line (then '$empty', not an empty line)"
	echo "$line"
}

# closed FD - "closed" if the server closed FD within 5 s
closed() {
	local line rc

	read -r -t 5 -u "$1" line
	rc=$?
	if [[ $rc -gt 128 ]]; then
		echo "still open"
	elif [[ $rc -ne 0 && -z $line ]]; then
		echo "closed"
	else
		echo "got '$line'"
	fi
}

P=$TB_PORT_POLICY
pol_start policyd "$P" -o "policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
LOG=$TB/policyd/log

# A persistent connection, like smtpd's, opened before the trouble.
exec {keep}<>"/dev/tcp/127.0.0.1/$P"
tb_is "$(ask "$keep" RCPT 192.0.2.1 keep.1)" "action=DUNNO" \
    "a well-formed request gets DUNNO"

# 1. garbage
exec {g}<>"/dev/tcp/127.0.0.1/$P"
printf 'GET / HTTP/1.0\r\n\r\n' >&"$g"
tb_is "$(closed "$g")" closed "garbage: that connection is closed"
exec {g}>&-
tb_wait_log 5 "malformed request: line 1: no '=' in attribute line" "$LOG"
tb_ok "garbage: logged as a malformed request" \
    tb_grep "client=127.0.0.1:[0-9]+ malformed request: line 1: no '='" "$LOG"

# 2. an oversized value (8193 bytes)
exec {g}<>"/dev/tcp/127.0.0.1/$P"
big=$(head -c 8193 /dev/zero | tr '\0' x)
(printf '%s\nsender=%s\n\n' "$RQ" "$big") >&"$g" 2>/dev/null
tb_is "$(closed "$g")" closed "an 8193-byte value: connection closed"
exec {g}>&-
tb_wait_log 5 "value of sender longer than 8192 bytes" "$LOG"
tb_ok "the oversized value is logged" \
    tb_grep "line 2: value of sender longer than 8192 bytes" "$LOG"

# an 8192-byte value is fine
exec {g}<>"/dev/tcp/127.0.0.1/$P"
printf '%s\nprotocol_state=MAIL\nsender=%s\n\n' "$RQ" "${big:1}" >&"$g"
read -r -t 5 -u "$g" line
tb_is "$line" "action=DUNNO" "an 8192-byte value is accepted"
exec {g}>&-

# 3. a line that never ends: refused long before it fills memory
exec {g}<>"/dev/tcp/127.0.0.1/$P"
# (writes that the server may cut short run in a subshell: SIGPIPE)
(printf '%s\nsender=' "$RQ"; head -c 100000 /dev/zero | tr '\0' y) >&"$g" 2>/dev/null
tb_is "$(closed "$g")" closed "an endless line: connection closed"
exec {g}>&-

# 4. too many attributes
exec {g}<>"/dev/tcp/127.0.0.1/$P"
(echo "$RQ"; for i in $(seq 1 150); do echo "x$i=1"; done; echo) >&"$g" 2>/dev/null
tb_is "$(closed "$g")" closed "150 attributes: connection closed"
exec {g}>&-
tb_wait_log 5 "more than 100 attributes" "$LOG"
tb_ok "too many attributes is logged" tb_grep "more than 100 attributes" "$LOG"

# 5. wrong request type, binary junk with NUL bytes
exec {g}<>"/dev/tcp/127.0.0.1/$P"
printf 'request=other\n\n' >&"$g"
tb_is "$(closed "$g")" closed "an unknown request type: connection closed"
exec {g}>&-
exec {g}<>"/dev/tcp/127.0.0.1/$P"
printf 'a=\0\001\002\377\n\n' >&"$g"
tb_is "$(closed "$g")" closed "NUL and binary bytes: connection closed"
exec {g}>&-

# 6. a half request left open does not hold anybody up
exec {half}<>"/dev/tcp/127.0.0.1/$P"
printf '%s\nprotocol_state=RCPT\nclient_addr' "$RQ" >&"$half"
exec {g}<>"/dev/tcp/127.0.0.1/$P"
tb_is "$(ask "$g" RCPT 192.0.2.2 other.1)" "action=DUNNO" \
    "while a half request waits, another connection is answered"
exec {g}>&-
tb_is "$(closed "$half")" "still open" "the half request's connection waits"
printf 'ess=192.0.2.3\ninstance=half.1\n\n' >&"$half"
read -r -t 5 -u "$half" line
read -r -t 5 -u "$half" empty
tb_is "$line" "action=DUNNO" "and is answered when the rest arrives"

# 7. a client that disconnects mid-request
printf '%s\nprotocol_state=RC' "$RQ" >&"$half"
exec {half}>&-
tb_wait_log 5 "disconnected in the middle of a request" "$LOG"
tb_ok "a disconnect mid-request is logged" \
    tb_grep "disconnected in the middle of a request \([0-9]+ bytes\)" "$LOG"

# the first connection is still served, after all of that
tb_is "$(ask "$keep" RCPT 192.0.2.1 keep.2)" "action=DUNNO" \
    "the persistent connection is unaffected"

# 8. pipelined requests: one reply each, in order
exec {g}<>"/dev/tcp/127.0.0.1/$P"
for i in 1 2 3; do
	printf '%s\nprotocol_state=RCPT\nclient_address=192.0.2.9\ninstance=p.%s\n\n' "$RQ" "$i"
done >&"$g"
replies=""
for i in 1 2 3 4 5 6; do
	read -r -t 5 -u "$g" line && replies="$replies[$line]"
done
tb_is "$replies" "[action=DUNNO][][action=DUNNO][][action=DUNNO][]" \
    "three pipelined requests: three replies, each ended by an empty line"
exec {g}>&-

# 9. requests split in tiny writes
exec {g}<>"/dev/tcp/127.0.0.1/$P"
req=$(printf '%s\nprotocol_state=RCPT\nclient_address=192.0.2.8\ninstance=s.1\n\n_' "$RQ")
req=${req%_}
for ((i = 0; i < ${#req}; i += 5)); do
	printf '%s' "${req:i:5}" >&"$g"
done
read -r -t 5 -u "$g" line
tb_is "$line" "action=DUNNO" "a request written 5 bytes at a time"
exec {g}>&-

# 10. hundreds of idle connections
fds=()
for i in $(seq 1 300); do
	exec {c}<>"/dev/tcp/127.0.0.1/$P" || break
	fds+=("$c")
done
tb_is "${#fds[@]}" 300 "300 idle connections open"
exec {g}<>"/dev/tcp/127.0.0.1/$P"
t0=$(tb_now_ms)
tb_is "$(ask "$g" RCPT 192.0.2.7 many.1)" "action=DUNNO" \
    "a request is answered with 300 idle connections open"
ms=$(($(tb_now_ms) - t0))
tb_ok "promptly ($ms ms)" test "$ms" -lt 1000
tb_is "$(ask "${fds[150]}" RCPT 192.0.2.7 many.2)" "action=DUNNO" \
    "and so is one of the idle ones"
metrics=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$metrics" 'elemta_policyd_connections 30[0-9]' \
    "the connections gauge counts them"
for c in "${fds[@]}"; do exec {c}>&-; done
exec {g}>&-

tb_like "$metrics" 'elemta_policyd_protocol_errors_total [6-9]' \
    "protocol errors are counted"
tb_like "$metrics" 'elemta_policyd_requests_total\{state="RCPT",action="dunno"\} [0-9]+' \
    "requests are counted by state and action"
tb_like "$metrics" 'elemta_policyd_disconnects_total\{reason="malformed"\}' \
    "disconnects are counted by reason"
tb_ok "the daemon is still running" tb_alive "$(tb_pid policyd)"

# 11. idle_timeout closes idle connections (and only idle ones)
P2=$(tb_port 43)
pol_start policyd2 "$P2" -o policyd.idle_timeout=2
exec {idle}<>"/dev/tcp/127.0.0.1/$P2"
exec {busy}<>"/dev/tcp/127.0.0.1/$P2"
for i in 1 2 3; do
	sleep 0.9
	r=$(ask "$busy" MAIL 192.0.2.6 busy.$i)
done
tb_is "$r" "action=DUNNO" "a connection in use is kept past idle_timeout"
tb_is "$(closed "$idle")" closed "an idle one is closed after idle_timeout"
tb_wait_log 5 "idle for 2s: closing" "$TB/policyd2/log"
tb_ok "the idle close is logged" tb_grep "idle for 2s: closing" "$TB/policyd2/log"

# 11b. 10,000 pipelined requests in one write, and a client that writes
# and never reads: every reply, in bounded memory, others still served
out=$(python3 - "$P" <<'EOF2'
import resource, socket, sys, time
port = int(sys.argv[1])
req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
       b"client_address=192.0.2.7\ninstance=pipe\n\n")
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(30)			# a hang guard, not a speed figure
s.sendall(req * 10000)
buf = b""
while buf.count(b"action=DUNNO\n\n") < 10000:
    d = s.recv(65536)
    if not d:
        break
    buf += d
print("replies=%d" % buf.count(b"action=DUNNO\n\n"))
s.close()
n = socket.create_connection(("127.0.0.1", port))
n.setblocking(False)
sent, t = 0, time.time()
try:
    while time.time() - t < 10:
        sent += n.send(req * 100)
except BlockingIOError:
    pass
print("blocked_after=%d" % sent)
o = socket.create_connection(("127.0.0.1", port))
o.settimeout(5)
o.sendall(req)
print("other=%s" % o.recv(100).decode().strip())
EOF2
)
tb_like "$out" "replies=10000" "10,000 pipelined requests in one write: 10,000 replies"
tb_like "$out" "other=action=DUNNO" \
    "a client that never reads: another client is still answered"
tb_like "$out" "blocked_after=[0-9]+" \
    "... and its writes stop (policyd stops reading it): backpressure"
rss=$(ps -o rss= -p "$(tb_pid policyd)" | tr -d ' ')
tb_ok "... with policyd's memory bounded (RSS ${rss} kB < 64 MB)" \
    test "${rss:-999999}" -lt 65536

# 12. a configuration mistake is reported with the option's name
out=$("$POLICYD" -n -c /dev/null -o policyd.client_message_limit=100 2>&1)
tb_like "$out" "client_message_limit.*bad rate '100'" \
    "-n: a bad rate is reported with the option's name"
out=$("$POLICYD" -n -c /dev/null -o policyd.store_fail_action=reject 2>&1)
tb_like "$out" "store_fail_action" "-n: an unknown store_fail_action is refused"
out=$("$POLICYD" -n -c /dev/null -o policyd.client_ipv6_prefix=8 2>&1)
tb_like "$out" "client_ipv6_prefix.*out of range" "-n: prefix out of range"

# 13. SIGTERM: clean stop
tb_stop policyd
tb_ok "SIGTERM: clean stop logged" tb_grep "elemta-policyd stopped" "$LOG"
tb_done
