#!/bin/bash
# 0520-lmtp-bridge-delivery - real Postfix -> elemta-lmtp-bridge -> real
# Dovecot (Maildir): one message to several recipients with mixed outcomes,
# each recipient's status in Postfix's maillog and the right copies in the
# Maildirs; then the backend stopped: 4xx, Postfix keeps the mail, and it
# arrives once Dovecot is back.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require postfix dovecot smtp-sink swaks
tb_init
tb_plan 25

peer_start_dovecot
peer_start_smtp_sink

# The map: an alias rewritten to alice (+detail kept), a disabled user.
cat >"$TB/lmtp-map" <<EOF
# address                backend[,rewrite]
alias@example.test       -,alice@example.test
gone@example.test        DISABLED
EOF
lmtp_conf "map_file = \"$TB/lmtp-map\"" "spool_threshold = 4k"
lmtp_start_bridge
lmtp_start_postfix

subject="tb-0520 $$ $RANDOM"
lmtp_send alice@example.test,bob+tag@example.test,nosuch@example.test,alias+x@example.test,gone@example.test "$subject"
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts one message for five recipients ($qid)" ||
    tb_diag "$out"
lmtp_wait 30 "" 5

tb_like "$(status_of "$qid" alice@example.test)" \
    "relay=127.0.0.1\[127.0.0.1\]:$TB_PORT_BRIDGE,.* status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: alice sent, Dovecot's own 250 passed through"
tb_like "$(status_of "$qid" 'bob\+tag@example.test')" \
    "status=sent \(250 2\.0\.0 <bob\+tag@example.test> .*Saved\)" \
    "maillog: bob+tag sent"
tb_like "$(status_of "$qid" nosuch@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.1\.1 <nosuch@example.test> User doesn't exist" \
    "maillog: nosuch bounced with Dovecot's 550 5.1.1"
tb_like "$(status_of "$qid" 'alias\+x@example.test')" \
    "status=sent \(250 2\.0\.0 <alice\+x@example.test> .*Saved\)" \
    "maillog: alias+x rewritten to alice+x (detail kept), sent"
tb_like "$(status_of "$qid" gone@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.2\.1 <gone@example.test>: Recipient address rejected: Mailbox disabled" \
    "maillog: gone bounced at RCPT with 550 5.2.1"
tb_is "$(grep -c "$qid: to=" "$TB_MAILLOG")" 5 \
    "maillog: exactly one status line per recipient"

tb_wait 5 bash -c "[[ \$(grep -lxF -- 'Subject: $subject' '$(peer_maildir alice@example.test)'/new/* 2>/dev/null | wc -l) -ge 2 ]]"
tb_is "$(copies alice@example.test "$subject")" 2 \
    "alice's Maildir: two copies (alice, and alias+x rewritten to her)"
tb_is "$(copies bob@example.test "$subject")" 1 "bob's Maildir: one copy"
f=$(grep -lxF -- "Subject: $subject" "$(peer_maildir bob@example.test)"/new/* | head -n 1)
tb_like "$(grep 'elemta-lmtp-bridge' "$f" | tr -d '\r')" \
    "by bridge\.example\.test \(elemta-lmtp-bridge\) with LMTP id $qid" \
    "the bridge's Received: header carries Postfix's queue id"

tb_like "$(grep "$qid: to=<alice@example.test> backend=" "$BLOG")" \
    "status=delivered reply=\"250 2\.0\.0" "bridge log: per-recipient line with the queue id"
tb_like "$(grep "$qid: to=<nosuch@example.test> backend=" "$BLOG")" \
    "status=bounced reply=\"550 5\.1\.1" "bridge log: nosuch bounced by the backend"
tb_like "$(grep "$qid: to=<gone@example.test>" "$BLOG")" \
    "status=rejected route=map" "bridge log: gone rejected by the map"
tb_like "$(grep "$qid: from=<sender@other.test>" "$BLOG")" \
    "client=[^ ]+\[127\.0\.0\.1\] lmtp_client=127\.0\.0\.1:" \
    "bridge log: the original client (XFORWARD) and Postfix's connection"

metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_like "$metrics" \
    "elemta_lmtp_deliveries_total\{backend=\"inet:127\.0\.0\.1:$TB_PORT_LMTP\",outcome=\"delivered\"\} 3" \
    "metrics: 3 deliveries by backend and outcome"
tb_like "$metrics" "elemta_lmtp_backend_seconds_count\{backend=\"inet:127\.0\.0\.1:$TB_PORT_LMTP\"\} 1" \
    "metrics: backend latency histogram"

# Every recipient refused by Dovecot: DATA went in the same pipeline as
# the RCPTs and is refused too; nothing is sent, the connection is kept.
lmtp_send nosuch2@example.test "$subject nobody"
lmtp_wait 20 "<nosuch2@example.test>.* status=bounced"
tb_like "$(status_of "$qid" nosuch2@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.1\.1 <nosuch2@example.test> User doesn't exist" \
    "no recipient accepted by the backend: its 550 5.1.1, nothing sent"
lmtp_send bob@example.test "$subject after"
lmtp_wait 20 "<bob@example.test>.* status=sent"
tb_like "$(grep "$qid: to=<bob@example.test> backend=" "$BLOG")" \
    "conn=reused .*status=delivered" \
    "... and the backend connection was fit to be reused"

# A big message goes through the file spool (threshold 4k).
big=$(head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70)
lmtp_send bob@example.test "$subject big" --body "$big"
lmtp_wait 20 "<bob@example.test>.* status=sent"
tb_like "$(status_of "$qid" bob@example.test)" "status=sent" \
    "a 30 kB message is delivered"
tb_like "$(grep "$qid: from=" "$BLOG")" "spool=file" \
    "... through the temporary file spool"

# Dovecot stopped: the bridge answers 451 4.4.1, Postfix keeps the mail.
tb_stop dovecot
lmtp_send alice@example.test "$subject later"
lmtp_wait 20 "<alice@example.test>.* status=deferred"
tb_like "$(status_of "$qid" alice@example.test)" \
    "status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 451 4\.4\.1 Backend inet:127\.0\.0\.1:$TB_PORT_LMTP unavailable" \
    "backend down: deferred with 451 4.4.1"
tb_like "$(postqueue -c "$TB_POSTFIX_CONF" -p 2>&1)" "$qid" \
    "Postfix keeps the message in its queue"
tb_ok "the bridge is still running" tb_alive "$(tb_pid bridge)"

peer_start_dovecot
postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
lmtp_wait 30 "<alice@example.test>.* status=sent"
tb_like "$(status_of "$qid" alice@example.test)" "status=sent" \
    "once Dovecot is back, the message is delivered"
tb_is "$(copies alice@example.test "$subject later")" 1 \
    "... exactly once"
tb_done
