#!/bin/bash
# 0536-lmtp-bridge-stop - SIGTERM while a delivery outlives the grace
# period must not deliver twice.  Real Postfix -> relay -> the bridge ->
# relay -> real Dovecot; the relays (t/lib/lmtp-proxy.py) only change the
# timing: the first holds Postfix's end of data until the test releases
# it, the second makes Dovecot's reply to the end of data arrive 7 s late.
#
# delivery_timeout = 10s, so the grace period is 20 s.  SIGTERM while the
# message is held; released 15 s later, the delivery begins inside the
# grace period and ends (Dovecot has stored it at once, its reply comes
# 7 s later) after it.  Exiting at the end of the grace period left
# Postfix with "lost connection ... while sending end of data": it
# retried, and the message was stored twice.  The bridge must wait for
# the delivery in flight, give Postfix its 250, and only then exit.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require postfix dovecot smtp-sink swaks
tb_need python3 python3
tb_init
tb_plan 8

PROXY=$top_srcdir/t/lib/lmtp-proxy.py
HOLD=$(tb_port 71)		# Postfix -> here -> the bridge
SLOW=$(tb_port 72)		# the bridge -> here -> Dovecot
mkdir -p "$TB/hold"

peer_start_dovecot
peer_start_smtp_sink
tb_spawn hold "$TB/hold.log" python3 "$PROXY" "$HOLD" "$TB_PORT_BRIDGE" \
    hold-dot "$TB/hold"
tb_spawn slow "$TB/slow.log" python3 "$PROXY" "$SLOW" "$TB_PORT_LMTP" \
    delay-reply 7
tb_ready hold "on 127.0.0.1:$HOLD" 10 tb_connect 127.0.0.1 "$HOLD"
tb_ready slow "on 127.0.0.1:$SLOW" 10 tb_connect 127.0.0.1 "$SLOW"
lmtp_conf "backend = \"inet:127.0.0.1:$SLOW\"" \
    "delivery_timeout = 10s" "command_timeout = 9s"
lmtp_start_bridge
peer_start_postfix \
    "transport_maps = inline:{ example.test=lmtp:inet:127.0.0.1:$HOLD, sink.test=smtp:[127.0.0.1]:$TB_PORT_SINK }" \
    "lmtp_send_xforward_command = yes"

subject="tb-0536 $$ $RANDOM"
lmtp_send alice@example.test "$subject"
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts the message ($qid)" ||
    tb_diag "$out"
tb_wait 30 test -e "$TB/hold/held"
tb_ok "its end of data is held on its way to the bridge" \
    test -e "$TB/hold/held"

pid=$(tb_pid bridge)
t0=$(tb_now_ms)
kill -TERM "$pid"
sleep 15
touch "$TB/hold/release"	# the delivery begins within the grace period
tb_wait 60 bash -c "! kill -0 $pid 2>/dev/null"
dt=$(($(tb_now_ms) - t0))
tb_ok "the bridge stopped ($dt ms after SIGTERM)" \
    bash -c "! kill -0 $pid 2>/dev/null"
cp "$BLOG" "$TB/bridge-1.log"
tb_like "$(cat "$TB/bridge-1.log")" \
    "stopping: grace period over, waiting for 1 delivery\(ies\) in flight" \
    "it waited past the grace period for the delivery in flight"
lmtp_wait 20 "<alice@example.test>.* status="
tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "Postfix got the backend's 250, not a lost connection"

# Postfix retries whatever it still holds once the bridge is back.
lmtp_start_bridge
postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
tb_wait 30 bash -c "! postqueue -c '$TB_POSTFIX_CONF' -p 2>/dev/null | grep -q '^$qid'"
tb_unlike "$(postqueue -c "$TB_POSTFIX_CONF" -p 2>&1)" "$qid" \
    "Postfix's queue is empty of it"
tb_is "$(copies alice@example.test "$subject")" 1 \
    "alice's Maildir holds the message once: no duplicate"
tb_is "$(grep -c "$qid: to=<alice@example.test>.*status=sent" "$TB_MAILLOG")" 1 \
    "... and Postfix says sent once"
tb_done
