#!/bin/bash
# 0535-lmtp-bridge-hostile - elemta-lmtp-bridge against clients and
# backends that misbehave, straight over sockets:
# - a client that pipelines commands and never reads the replies: its
#   connection is dropped within client_timeout, the bridge serves others;
# - 10,000 pipelined commands in one write are all answered;
# - a backend answering 3xx (other than 354 to DATA): a protocol error,
#   451 4.4.x for the recipients concerned, never the 3xx as final reply
#   (a small LMTP server stands in for the backend: Dovecot never does it);
# - a bare LF followed by "." in the body reaches the real Dovecot's
#   Maildir intact (the dot-stuffing follows the bytes Dovecot reads);
# - XFORWARD values with CR LF encoded add no header line and no log
#   line; routing data from SQLite naming a socket that is not one of the
#   configured backends, or with control characters: 451 4.4.3.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require dovecot sqlite3
tb_need python3 python3
tb_init
tb_plan 24

CLIENT=$top_srcdir/t/lib/lmtp-client.py
FAKE=$top_srcdir/t/lib/lmtp-fake-backend.py

peer_start_dovecot
tb_spawn fake "$TB/fake.out" python3 "$FAKE" "$TB_PORT_LMTP2" "$TB/fake.log"
tb_ready fake "on 127.0.0.1:$TB_PORT_LMTP2" 10 \
    tb_banner 127.0.0.1 "$TB_PORT_LMTP2" '^220 '

cat >"$TB/lmtp-map" <<EOF
rcpt3@example.test	inet:127.0.0.1:$TB_PORT_LMTP2
data3@example.test	inet:127.0.0.1:$TB_PORT_LMTP2
final3@example.test	inet:127.0.0.1:$TB_PORT_LMTP2
ok@example.test		inet:127.0.0.1:$TB_PORT_LMTP2
alice@example.test	-
EOF
DB=$TB/routes.db
ctl=$(printf 'alice\001x@example.test')
sqlite3 "$DB" <<EOF
CREATE TABLE lmtp_routes (address TEXT PRIMARY KEY, backend TEXT,
    rewrite TEXT, enabled INTEGER NOT NULL DEFAULT 1,
    junk_optout INTEGER NOT NULL DEFAULT 0);
INSERT INTO lmtp_routes (address, backend) VALUES ('evil@example.test',
    'unix:$TB/dovecot/run/evil');
INSERT INTO lmtp_routes (address, backend) VALUES ('half@example.test',
    'inet:127.0.0.1:$TB_PORT_LMTP2;unix:$TB/elsewhere');
INSERT INTO lmtp_routes (address, backend, rewrite) VALUES
    ('fake@example.test', 'inet:127.0.0.1:$TB_PORT_LMTP2', 'ok@example.test');
INSERT INTO lmtp_routes (address, rewrite) VALUES ('ctl@example.test', '$ctl');
EOF
lmtp_conf "map_file = \"$TB/lmtp-map\"" "client_timeout = 10s" \
    "sqlite_database = \"$DB\"" \
    "allowed_backends = { \"inet:127.0.0.1:$TB_PORT_LMTP2\" }"
lmtp_start_bridge

# lmtp - send the argument's bytes (Python escapes), print the replies
lmtp() {
	python3 "$CLIENT" "$TB_PORT_BRIDGE" send "$1"
}

# A client that never reads.
mkdir -p "$TB/flood"
python3 "$CLIENT" "$TB_PORT_BRIDGE" flood "$TB/flood" >"$TB/flood.out" 2>&1 &
flood_pid=$!
tb_wait 60 test -e "$TB/flood/stalled"
tb_ok "a client pipelining NOOPs without reading: the bridge stops reading it" \
    test -e "$TB/flood/stalled"
out=$(lmtp 'LHLO other\r\nNOOP\r\nQUIT\r\n')
tb_like "$out" $'250 2.0.0 Ok\n221 2.0.0 Bye' \
    "meanwhile another client is served"
tb_wait 20 tb_grep "timeout after 10s writing a reply" "$BLOG"
tb_like "$(cat "$BLOG")" \
    "client=127\.0\.0\.1:[0-9]+ timeout after 10s writing a reply \([0-9]+ bytes unread\): connection dropped" \
    "the stuck connection is dropped after client_timeout, with a log line"
touch "$TB/flood/drain"
wait "$flood_pid"
tb_like "$(cat "$TB/flood.out")" '^closed' \
    "the flooding client finds its connection closed"
tb_unlike "$(cat "$TB/flood.out")" 'idle timeout' \
    "... by the write timeout, not by the idle timeout once it read"

# 10,000 pipelined commands in one write (the time limit is a hang guard).
cmds="LHLO t\\r\\n"
for _ in $(seq 1 50); do
	cmds+=$(printf 'NOOP\\r\\nRSET\\r\\n%.0s' $(seq 1 100))
done
cmds+="QUIT\\r\\n"
out=$(lmtp "$cmds")
tb_is "$(grep -cx '250 2.0.0 Ok' <<<"$out")" 10000 \
    "10,000 pipelined NOOP/RSET in one write: 10,000 replies"
tb_like "$out" $'221 2.0.0 Bye$' "... then QUIT's"

# A backend that answers 3xx.
msg='Subject: three\r\n\r\nbody\r\n.\r\n'
all=""
out=$(lmtp "LHLO t\\r\\nMAIL FROM:<s@x.test>\\r\\nRCPT TO:<rcpt3@example.test>\\r\\nDATA\\r\\n$msg""QUIT\\r\\n")
tb_like "$out" \
    "451 4\.4\.1 Backend inet:127\.0\.0\.1:$TB_PORT_LMTP2 unavailable \(protocol error: unexpected reply to RCPT: 350 3\.0\.0 <rcpt3@example.test> think again\)" \
    "350 to RCPT: 451 4.4.1, a protocol error"
all+=$out
out=$(lmtp "LHLO t\\r\\nMAIL FROM:<s@x.test>\\r\\nRCPT TO:<data3@example.test>\\r\\nDATA\\r\\n$msg""QUIT\\r\\n")
tb_like "$out" \
    "451 4\.4\.1 Backend inet:127\.0\.0\.1:$TB_PORT_LMTP2 unavailable \(protocol error: unexpected reply to DATA: 352 3\.0\.0 not quite\)" \
    "352 to DATA: 451 4.4.1, a protocol error"
all+=$out
out=$(lmtp "LHLO t\\r\\nMAIL FROM:<s@x.test>\\r\\nRCPT TO:<ok@example.test>\\r\\nRCPT TO:<final3@example.test>\\r\\nDATA\\r\\n$msg""QUIT\\r\\n")
tb_like "$out" $'\n250 2.0.0 <ok@example.test> stored\n451 4.4.2 Backend inet:127.0.0.1:'"$TB_PORT_LMTP2"': delivery status unknown after end of data \(protocol error: unexpected reply to end of data: 399 3.9.9 <final3@example.test> who knows\)'$'\n''221' \
    "399 after the final dot: 451 4.4.2 for that recipient, the one before keeps its 250"
all+=$out
tb_is "$(grep -cE '^3[0-9]{2} .*(think|quite|knows)' <<<"$all")" 0 \
    "no 3xx of the backend's was passed on"
tb_like "$(grep 'error="protocol error' "$BLOG")" \
    "backend=inet:127\.0\.0\.1:$TB_PORT_LMTP2 addr=.* error=\"protocol error: unexpected reply to end of data" \
    "the protocol error is logged"
tb_ok "the daemon is still up" tb_alive "$(tb_pid bridge)"

# A bare LF, then ".": Dovecot must see it stuffed.
subject="tb-0535 dots $$"
body="Subject: $subject\\r\\n\\r\\nfirst\\n.hidden after a bare LF\\n.\\nafter a lone dot\\r\\nlast line\\r\\n.\\r\\n"
out=$(lmtp "LHLO t\\r\\nMAIL FROM:<s@x.test>\\r\\nRCPT TO:<alice@example.test>\\r\\nDATA\\r\\n$body""QUIT\\r\\n")
tb_like "$out" $'250 2.0.0 <alice@example.test> .*Saved\n221' \
    "a body with bare-LF lines starting with \".\": delivered"
file=$(grep -lxF -- "Subject: $subject" "$(peer_maildir alice@example.test)"/new/* 2>/dev/null)
tb_is "$(awk 'b { print } /^$/ { b = 1 }' "$file" 2>/dev/null | tr '\n' '|')" \
    "first|.hidden after a bare LF|.|after a lone dot|last line|" \
    "... and its body in the Maildir: every line, every dot"
tb_ok "... '.hidden' kept its dot" grep -qx '\.hidden after a bare LF' "$file"
tb_ok "... the lone dot is there, and the lines after it" \
    bash -c "grep -qx '\\.' '$file' && grep -qx 'after a lone dot' '$file' && grep -qx 'last line' '$file'"

# XFORWARD with CR LF encoded: no header line, no log line of its own.
subject="tb-0535 xforward $$"
out=$(lmtp "LHLO evil\\rX-Lhlo: 1\\r\\nXFORWARD IDENT=Q1+0D+0AX-Injected:+201 HELO=h+0D+0AX-Helo:+201 NAME=n+0AX-Name:+201\\r\\nMAIL FROM:<s@x.test>\\r\\nRCPT TO:<alice@example.test>\\r\\nDATA\\r\\nSubject: $subject\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n")
tb_like "$out" $'250 2.0.0 <alice@example.test> .*Saved\n221' \
    "XFORWARD values with CR LF encoded: delivered"
file=$(grep -lxF -- "Subject: $subject" "$(peer_maildir alice@example.test)"/new/* 2>/dev/null)
tb_like "$(grep -F 'elemta-lmtp-bridge' -B1 -A1 "$file")" \
    'from evil\?X-Lhlo: \(127\.0\.0\.1:[0-9]+\).*with LMTP id Q1\?\?X-Injected\?\?1;' \
    "... our Received: holds them on its own lines, '?' for each control character"
tb_is "$(cat "$file" "$BLOG" | grep -cE '^X-(Injected|Lhlo|Helo|Name):')" 0 \
    "... no header line and no log line starts with an injected field"

# Routing data naming sockets that are not configured backends.
out=$(lmtp 'LHLO t\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<evil@example.test>\r\nRCPT TO:<half@example.test>\r\nRCPT TO:<ctl@example.test>\r\nRCPT TO:<fake@example.test>\r\nQUIT\r\n')
tb_like "$out" $'\n451 4.4.3 [^\n]*\n451 4.4.3 [^\n]*\n451 4.4.3 [^\n]*\n250 2.1.5' \
    "SQLite routes to an unlisted socket, half-listed backends, a control character: 451 4.4.3; an allowed backend: 250"
tb_like "$(grep 'evil@example.test' "$BLOG")" \
    "status=deferred route=sqlite error=\"sqlite: backend 'unix:$TB/dovecot/run/evil' of evil@example.test is not in allowed_backends\"" \
    "... the refusal is logged with the backend"
tb_like "$(grep 'half@example.test' "$BLOG")" "is not in allowed_backends" \
    "... every address of a backend must be allowed"
tb_like "$(grep 'ctl@example.test' "$BLOG")" "rewrite of ctl@example.test: 'alice\\?x@example.test' is not an address" \
    "... a control character in a rewrite: refused, logged as '?'"
tb_done
