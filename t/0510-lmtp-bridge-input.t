#!/bin/bash
# 0510-lmtp-bridge-input - the daemon on bad input straight over a socket:
# garbage commands, an over-long line, a client vanishing mid-DATA; and a
# backend that is not there (451 4.4.1 for each recipient, in order,
# duplicates included).  The daemon must stay up throughout.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
tb_need python3 python3
tb_init
tb_plan 12

cat >"$TB/elemta.conf" <<EOF
lmtp_bridge {
	listen = "inet:127.0.0.1:$TB_PORT_BRIDGE"
	control_socket = ""
	user = ""
	hostname = "bridge.example.test"
	backend = "inet:127.0.0.1:$TB_PORT_LMTP"
	max_line_length = 1000
	connect_timeout = 2s
}
EOF
tb_ok "elemta-lmtp-bridge -n accepts the configuration" \
    "$BRIDGE" -n -c "$TB/elemta.conf"
out=$("$BRIDGE" -n -c "$TB/elemta.conf" -o lmtp_bridge.backend=inet::24 2>&1)
tb_like "$out" "backend.*needs a host" "-n refuses a backend without a host"
# junk_headers' default ("X-Spam: Yes") needs a recipient_delimiter:
# without one the default alone is off, a rule of the admin's an error
tb_ok "-n: no recipient_delimiter, junk_headers at its default" \
    "$BRIDGE" -n -c "$TB/elemta.conf" -o lmtp_bridge.recipient_delimiter=
out=$("$BRIDGE" -n -c "$TB/elemta.conf" -o lmtp_bridge.recipient_delimiter= \
    -o 'lmtp_bridge.junk_headers={"X-Spam-Flag: YES"}' 2>&1)
tb_like "$out" "junk_headers needs a recipient_delimiter" \
    "-n refuses a junk rule of the admin's without a recipient_delimiter"

lmtp_start_bridge

# lmtp DATA [eof|vanish] - send DATA's bytes (Python escapes), print every
# reply line (t/lib/lmtp-client.py)
lmtp() {
	python3 "$top_srcdir/t/lib/lmtp-client.py" "$TB_PORT_BRIDGE" \
	    "${2:-send}" "$1"
}

out=$(lmtp 'LHLO t\r\nGARBAGE\r\n\x01\x02\xff\r\nEHLO x\r\nVRFY a@b\r\nDATA\r\nQUIT\r\n')
tb_like "$out" $'502 5.5.2 Error: command not recognized\n502 5.5.2 Error: command not recognized\n500 5.5.1 Error: this is LMTP, send LHLO\n502 5.5.1 VRFY command is disabled\n503 5.5.1 Error: need RCPT command\n221 2.0.0 Bye' \
    "garbage commands get 5xx replies, the session goes on"

long=$(printf 'x%.0s' $(seq 1 3000))
out=$(lmtp "LHLO t\\r\\nNOOP $long\\r\\nNOOP\\r\\nQUIT\\r\\n")
tb_like "$out" $'500 5.5.2 Error: line too long\n250 2.0.0 Ok\n221 2.0.0 Bye' \
    "a 3000-byte line: 500 5.5.2, then NOOP works"

lmtp 'LHLO t\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.test>\r\nDATA\r\nSubject: cut\r\n\r\nhalf a bo' vanish
tb_wait 5 tb_grep "lost connection in DATA: nothing delivered" "$TB/bridge.log"
tb_like "$(cat "$TB/bridge.log")" "lost connection in DATA: nothing delivered" \
    "a client vanishing mid-DATA is logged, nothing delivered"
tb_ok "the daemon is still up" tb_alive "$(tb_pid bridge)"

# No backend listens on TB_PORT_LMTP: each accepted recipient gets 451
# 4.4.1, in RCPT order, the duplicate included.
out=$(lmtp 'LHLO t\r\nXFORWARD IDENT=ABC123\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<a@example.test>\r\nDATA\r\n' eof)
tb_like "$out" $'354 End data' "DATA accepted"
out=$(lmtp 'LHLO t\r\nXFORWARD IDENT=ABC123\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<a@example.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n')
n=$(grep -c '^451 4.4.1 Backend inet:127.0.0.1:'"$TB_PORT_LMTP"' unavailable' <<<"$out")
tb_is "$n" 3 "backend down: three recipients, three 451 4.4.1 replies"
tb_like "$(grep -c 'ABC123: to=<a@example.test> backend=.*status=deferred' "$TB/bridge.log")" \
    '^2$' "bridge log: per-recipient lines with the queue id (duplicate too)"
tb_ok "the daemon is still up at the end" tb_alive "$(tb_pid bridge)"
tb_done
