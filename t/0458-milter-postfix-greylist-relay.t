#!/bin/bash
# 0458-milter-postfix-greylist-relay - greylisting between two real
# Postfix instances: a sending Postfix (its own queue, short back-off)
# relays to the gateway Postfix, whose smtpd_milters is elemta-milter
# with greylisting (greylist_delay 3 s).  The gateway defers the first
# attempt with 450 4.7.1, the sender's queue retries on its own, and the
# message reaches smtp-sink exactly once; the sender's log shows the
# deferral and then the delivery.  The sender's address is loopback, so
# internal_networks is set to a net that does not hold it, and SPF is
# off (libspf2 passes any loopback client): the classic triplet, keyed by
# the network.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_init
tb_plan 8
peer_start_unbound
milter_start greylist=true greylist_delay=3 \
    "greylist_path=$TB/greylist.db" 'internal_networks={"10.0.0.0/8"}' \
    spf=false \
    -- -o dns.timeout=1 -o dns.retries=0
milter_postfix

# sender_postfix - the sending Postfix in $TB/sender on port BASE+27:
# the test instance's settings, everything relayed to the gateway
sender_postfix() {
	local d=$TB/sender

	SENDER_PORT=$(tb_port 27)
	SENDER_LOG=$d/maillog
	mkdir -p "$d/etc" "$d/spool" "$d/data"
	chown postfix:postfix "$d/data"
	peer_postfix_main | sed -e "s|$TB/postfix/|$d/|g" \
	    -e "s|^maillog_file = .*|maillog_file = $SENDER_LOG|" \
	    >"$d/etc/main.cf"
	peer_postfix_master |
	    sed "s|^127\.0\.0\.1:$TB_PORT_SMTPD |127.0.0.1:$SENDER_PORT |" \
	    >"$d/etc/master.cf"
	postconf -c "$d/etc" -e "myhostname = out.sender.test" \
	    "transport_maps =" "relay_domains = sink.test" \
	    "default_transport = smtp:[127.0.0.1]:$TB_PORT_SMTPD" \
	    "relay_transport = smtp:[127.0.0.1]:$TB_PORT_SMTPD" \
	    "queue_run_delay = 1s" "minimal_backoff_time = 4s" \
	    "maximal_backoff_time = 8s" || tb_bail "postconf -e failed"
	touch -d '-1 minute' "$d/etc/main.cf" "$d/etc/master.cf"
	script -qec "postfix -c $d/etc check" /dev/null >"$d/check.log" 2>&1 ||
	    { tb_tail "$d/check.log"; tb_bail "postfix -c $d/etc check failed"; }
	TB_GRACE[sender]=10
	tb_spawn sender "$d/master.log" "$PEER_POSTFIX_MASTER" -c "$d/etc" -s
	tb_peer_log sender "$SENDER_LOG"
	tb_ready sender "on 127.0.0.1:$SENDER_PORT" "$(peer_timeout)" \
	    tb_banner 127.0.0.1 "$SENDER_PORT" '^220 '
}
sender_postfix

out=$(swaks --server 127.0.0.1 --port "$SENDER_PORT" --timeout 30 \
    --helo client.sender.test --from user@sender.test --to bob@sink.test \
    --header "Subject: relayed greylisted" --body "Hello Bob." 2>&1)
tb_like "$out" '250 2\.0\.0 Ok: queued' "the sending Postfix queues it" ||
    tb_diag "$out"
tb_like "$(tb_wait_log 15 'status=deferred' "$SENDER_LOG";
    grep -m1 'status=deferred' "$SENDER_LOG")" \
    'said: 450 4\.7\.1 Greylisted, please try again in [1-3] seconds' \
    "the gateway defers the first attempt with 450 4.7.1"
tb_like "$(milter_log 'greylist action=defer state=new')" \
    'client=127\.0\.0\.0/24 keyed_by=net sender=user@sender\.test rcpt=bob@sink\.test' \
    "the milter logs the new triplet"
# the sender's back-off (4 s) is past the greylist delay (3 s): one
# deferral, then the retry.  With a 1 s back-off, a loaded machine let
# qmgr scan the deferred file while the smtp client still held its lock
# ("skipped, still being delivered"); qmgr then puts it back for 60 s.
# The wait covers that case too.
tb_wait 90 eval '[[ -n $(milter_delivered "relayed greylisted") ]]'
f=$(milter_delivered "relayed greylisted")
tb_ok "the sender's own retry gets it through" test -n "$f" ||
    tb_diag "$(cat "$SENDER_LOG" "$TB_MAILLOG"; tail -20 "$TB_MILTER_LOG";
	postqueue -c "$TB/sender/etc" -p 2>&1)"
tb_like "$(tb_wait_log 10 'status=sent' "$SENDER_LOG";
    grep 'status=sent' "$SENDER_LOG")" 'relay=127\.0\.0\.1\[127\.0\.0\.1\]' \
    "the sending Postfix logs it sent"
sleep 2
tb_is "$(grep -lE $'^Subject: relayed greylisted\r?$' "$TB_SINK_DIR"/msg.* |
    wc -l)" 1 "delivered exactly once"
tb_unlike "$(cat "$SENDER_LOG")" 'status=bounced' "nothing bounced"
tb_like "$(milter_log 'greylist action=pass state=passed')" \
    'rcpt=bob@sink\.test' "the milter logs the passed retry"
tb_done
