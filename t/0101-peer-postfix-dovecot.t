#!/bin/bash
# 0101-peer-postfix-dovecot - mail through the private Postfix into Dovecot
#
# swaks -> Postfix smtpd -> queue -> LMTP -> Dovecot -> Maildir, the path
# every end-to-end test takes; other domains and bounces go to smtp-sink.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require postfix dovecot smtp-sink swaks
tb_init
tb_plan 10
peer_start_dovecot
peer_start_smtp_sink
peer_start_postfix

# send - one SMTP transaction with the private Postfix; swaks's transcript
send() {
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 20 \
	    --helo client.other.test --from sender@other.test "$@" 2>&1
}

# queue_id - the queue id in a "250 2.0.0 Ok: queued as ID" transcript
queue_id() {
	sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' <<<"$1"
}

# final - wait for the delivery status of queue id QID to RCPT; print it
final() {
	local re="$1: to=<$2>,.* status=(sent|bounced|deferred)"

	tb_wait_log 20 "$re" "$TB_MAILLOG"
	grep -E "$re" "$TB_MAILLOG" | tail -n 1
}

# delivered - print the files of ADDRESS's Maildir/new with Subject SUBJECT
delivered() {
	grep -lxF -- "Subject: $2" "$(peer_maildir "$1")"/new/* 2>/dev/null
}

lmtp="relay=127\.0\.0\.1\[127\.0\.0\.1\]:$TB_PORT_LMTP,"
sink="relay=127\.0\.0\.1\[127\.0\.0\.1\]:$TB_PORT_SINK,"
subject="tb-0101 $$ $RANDOM"

out=$(send --to alice@example.test --header "Subject: $subject")
qid=$(queue_id "$out")
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts mail for alice" ||
    tb_diag "$out"
tb_like "$(final "$qid" alice@example.test)" \
    "$lmtp.* status=sent \(250 2\.0\.0 <alice@example\.test> .* Saved\)" \
    "maillog: sent to Dovecot over LMTP, which saved it"
tb_wait 5 delivered alice@example.test "$subject"
tb_like "$(delivered alice@example.test "$subject")" '/alice/Maildir/new/' \
    "the message is in alice's Maildir/new with our Subject"
tb_is "$(delivered bob@example.test "$subject")" "" \
    "and not in bob's Maildir"

# Dovecot says 550 5.1.1 to LMTP; Postfix bounces to the sender (the sink).
out=$(send --to nosuch@example.test --header "Subject: $subject unknown")
qid=$(queue_id "$out")
tb_like "$qid" '^[0-9A-F]+$' "Postfix queues mail for an unknown user"
tb_like "$(final "$qid" nosuch@example.test)" \
    "$lmtp.* status=bounced \(host .* said: 550 5\.1\.1 <nosuch@example\.test> User doesn't exist" \
    "maillog: Dovecot refused the unknown user with 550 5.1.1, bounced"
tb_wait_log 20 "to=<sender@other\.test>, $sink.* status=sent" "$TB_MAILLOG"
tb_like "$(grep -l 'nosuch@example.test' "$TB_SINK_DIR"/* 2>/dev/null)" \
    '/msg\.' "the bounce reached the sender's server (smtp-sink)"

# Only 127.0.0.1 is in mynetworks: XCLIENT makes a "remote" client.
out=$(send --to x@elsewhere.test --xclient-addr 192.0.2.10 \
    --xclient-name mail.other.test)
tb_like "$out" '554 5\.7\.1 <x@elsewhere\.test>: Relay access denied' \
    "a remote client (XCLIENT 192.0.2.10) cannot relay"
out=$(send --to alice@example.test --xclient-addr 192.0.2.10)
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "a remote client (XCLIENT 192.0.2.10) can send to example.test"

printf 'Subject: %s pickup\n\nbody\n' "$subject" |
    sendmail -C "$TB_POSTFIX_CONF" -f sender@example.test bob@example.test
tb_wait 20 delivered bob@example.test "$subject pickup"
tb_like "$(delivered bob@example.test "$subject pickup")" \
    '/bob/Maildir/new/' \
    "mail submitted with sendmail -C (pickup) reaches bob's Maildir"
tb_done
