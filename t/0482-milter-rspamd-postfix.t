#!/bin/bash
# 0482-milter-rspamd-postfix - the Rspamd stage against the harness' real
# rspamd, through a real private Postfix with elemta-milter as
# smtpd_milters: GTUBE is rejected with 550 5.7.1 and rspamd's text; a
# message rspamd scores "add header" (its YJS test pattern) is delivered
# with X-Spam: Yes and the X-Spamd-Result score line, rspamd's own
# milter.add_headers (X-Spamd-Bar) honoured, and the sender's own
# X-Spam / X-Spam-Flag / X-Spamd-Bar headers gone; "rewrite subject" (ZJS)
# rewrites the Subject; a soft reject (a multimap rule of this test) is
# 451 4.7.1; rspamd's greylist action (another rule) is greylisted with
# greylist_mode = rspamd, which lets other mail through undelayed; plain
# mail passes with no spam header; -t runs the stage too (GTUBE from a
# greylisted triplet: rspamd's reject outranks the deferral), prints
# rspamd's header edits in order, scores MIME nested 1000 deep and a
# message with no body (accepted), and skips a message over
# scan_max_size; a message an earlier stage refuses (the header limits)
# is not sent and is counted as result="refused"; one thread
# keeps its connection for message after message (shown against a
# server that allows it: rspamd 3.4 closes each one).  Then what
# rspamd_fail_action decides: a server answering HTML, JSON that is no
# verdict, an HTTP 500, 2 MB of junk, or nothing within
# rspamd_timeout_ms, and rspamd stopped: tempfail (the default, 451
# 4.7.1) or accept; each logged with its reason and counted in
# elemta_milter_rspamd_total{result}.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound redis rspamd
tb_need python3 python3
tb_init
tb_plan 59
peer_start_unbound
peer_start_redis

# This test's rspamd rules: a Subject word forces a soft reject or a
# greylist (rspamd's multimap pre-results); rspamd's milter_headers adds
# X-Spamd-Bar (its milter.add_headers).
mkdir -p "$TB/rspamd/local.d"
echo '/elemta-test-soft/i' >"$TB/rspamd/local.d/elemta-soft.map"
echo '/elemta-test-grey/i' >"$TB/rspamd/local.d/elemta-grey.map"
cat >"$TB/rspamd/local.d/multimap.conf" <<'EOF'
ELEMTA_TEST_SOFT {
  type = "header"; header = "Subject"; regexp = true;
  map = "$LOCAL_CONFDIR/local.d/elemta-soft.map";
  action = "soft reject"; message = "Elemta test: come back later";
}
ELEMTA_TEST_GREY {
  type = "header"; header = "Subject"; regexp = true;
  map = "$LOCAL_CONFDIR/local.d/elemta-grey.map";
  action = "greylist";
}
EOF
echo 'use = ["x-spamd-bar"];' >"$TB/rspamd/local.d/milter_headers.conf"
peer_start_rspamd

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
GTUBE_ADD=Y${GTUBE#X}		# rspamd's "add header" pattern
GTUBE_SUBJ=Z${GTUBE#X}		# "rewrite subject"
METRICS=http://127.0.0.1:$TB_PORT_METRICS/metrics
RS=(rspamd_url="$TB_RSPAMD_URL")
milter_start "${RS[@]}" -- -o dns.timeout=1 -o dns.retries=0 \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix

# msg SUBJECT BODY [HEADER...] - a message file (printed: its path)
msg() {
	local f=$TB/msg-$RANDOM$RANDOM.eml s=$1 b=$2 h

	shift 2
	{
		printf 'From: Bob <bob@other.test>\r\nTo: <alice@sink.test>\r\n'
		printf 'Subject: %s\r\nDate: %s\r\n' "$s" "$(date -R)"
		printf 'Message-ID: <%s@other.test>\r\n' "$RANDOM$RANDOM"
		for h in "$@"; do
			printf '%s\r\n' "$h"
		done
		printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n'
		printf '%s\r\n' "$b"
	} >"$f"
	echo "$f"
}

# send FILE [swaks args] - FILE through Postfix from a remote client
# (192.0.2.10: other.test's SPF permits it, so that rspamd scores plain
# mail low)
send() {
	local f=$1

	shift
	milter_send x --data "$f" --from bob@other.test --to alice@sink.test \
	    --xclient-addr 192.0.2.10 "$@"
}

# metric RESULT - elemta_milter_rspamd_total{result="RESULT"}, 0 if none
metric() {
	local v

	v=$(curl -fsS --max-time 5 "$METRICS" |
	    sed -n "s/^elemta_milter_rspamd_total{result=\"$1\"} //p")
	echo "${v:-0}"
}

# GTUBE: 550 5.7.1 with rspamd's own text
out=$(send "$(msg "gtube" "$GTUBE")")
tb_like "$out" '<\*\* +550 5\.7\.1 Gtube pattern' \
    "GTUBE: 550 5.7.1 with rspamd's text" || tb_diag "$out"
tb_like "$(milter_log 'rspamd action="reject"')" 'symbols="[^"]*GTUBE' \
    "the log names rspamd's action and symbols"
tb_like "$(milter_log 'rspamd=reject\(')" 'action=reject by=rspamd' \
    "the summary line: rspamd's verdict decided"

# add header: X-Spam, the score line, rspamd's own header; the sender's
# claims removed
f=$(msg "spam-add" "$GTUBE_ADD" "X-Spam: No" "X-Spam-Flag: NO" \
    "X-Spam: No again")
out=$(send "$f")
tb_like "$out" '250 2\.0\.0 Ok: queued' "add header: accepted" ||
    tb_diag "$out"
h=$(milter_headers "$(milter_wait_delivered spam-add)")
tb_like "$h" $'(^|\n)X-Spam: Yes(\n|$)' "add header: X-Spam: Yes" ||
    tb_diag "$h"
tb_like "$h" $'(^|\n)X-Spamd-Result: default: True \\[[0-9.]+ / [0-9.]+\\];' \
    "add header: the X-Spamd-Result score line"
tb_unlike "$h" $'(^|\n)X-Spam: No' "the sender's X-Spam headers are gone"
tb_unlike "$h" $'(^|\n)X-Spam-Flag:' "the sender's X-Spam-Flag is gone"
tb_is "$(grep -c '^X-Spam: ' <<<"$h")" 1 "one X-Spam header"

# rewrite subject
out=$(send "$(msg "spam-subject" "$GTUBE_SUBJ")")
tb_like "$out" '250 2\.0\.0 Ok: queued' "rewrite subject: accepted" ||
    tb_diag "$out"
tb_wait 20 eval "grep -qs 'SPAM.*spam-subject' $TB_SINK_DIR/msg.*"
f=$(grep -ls 'SPAM.*spam-subject' "$TB_SINK_DIR"/msg.* | head -1)
h=$(milter_headers "$f")
tb_like "$h" $'(^|\n)Subject: \\*+ ?SPAM ?\\*+ spam-subject(\n|$)' \
    "rewrite subject: rspamd's Subject" || tb_diag "$h"
tb_like "$h" $'(^|\n)X-Spam: Yes' "rewrite subject: X-Spam: Yes too"

# soft reject: 451 4.7.1
out=$(send "$(msg "elemta-test-soft" "hello")")
tb_like "$out" '<\*\* +451 4\.7\.1 Elemta test: come back later' \
    "soft reject: 451 4.7.1 with rspamd's text" || tb_diag "$out"

# greylist, greylisting off: the message passes, the log says why
out=$(send "$(msg "elemta-test-grey off" "hello")")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "rspamd's greylist, greylisting off: accepted" || tb_diag "$out"
tb_like "$(milter_log 'rspamd=greylist\(')" 'greylist=off' \
    "the summary line says greylisting is off"

# plain mail: no action, no spam header; rspamd's own header (its
# milter_headers' X-Spamd-Bar: GTUBE patterns stop rspamd before it)
# replaces the sender's
out=$(send "$(msg "plain" "Hello Alice, lunch on Friday? Bob" \
    "X-Spamd-Bar: forged")")
tb_like "$out" '250 2\.0\.0 Ok: queued' "plain mail: accepted" ||
    tb_diag "$out"
h=$(milter_headers "$(milter_wait_delivered plain)")
tb_unlike "$h" $'(^|\n)X-Spam:' "plain mail: no X-Spam header" || tb_diag "$h"
tb_like "$h" $'(^|\n)X-Spamd-Bar: [-+/]+(\n|$)' \
    "rspamd's milter.add_headers: its X-Spamd-Bar"
tb_is "$(grep -c '^X-Spamd-Bar:' <<<"$h")" 1 \
    "the sender's X-Spamd-Bar is gone, rspamd's is there"
tb_like "$(milter_log 'rspamd=no_action\(')" 'action=accept' \
    "plain mail: rspamd said no action"

# greylist_mode = rspamd: only what rspamd says to greylist is delayed
milter_set "${RS[@]}" greylist=true greylist_mode=rspamd greylist_delay=60 \
    "greylist_path=$TB/greylist.db"
out=$(send "$(msg "elemta-test-grey on" "hello")")
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' \
    "greylist_mode=rspamd: rspamd's greylist is greylisted" || tb_diag "$out"
out=$(send "$(msg "plain again" "Hello Alice, lunch on Friday? Bob")")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "greylist_mode=rspamd: other mail is not delayed" || tb_diag "$out"
tb_is "$("$MILTER" -c /dev/null -n -o milter.greylist=true \
    -o milter.greylist_mode=rspamd 2>&1 >/dev/null | grep -c rspamd_url)" 1 \
    "greylist_mode=rspamd without rspamd_url: a configuration error"
tb_is "$("$MILTER" -c /dev/null -n -o milter.rspamd_timeout_ms=90000 \
    -o milter.milter_timeout=60 2>&1 >/dev/null | grep -c rspamd_timeout_ms)" 1 \
    "rspamd_timeout_ms beyond milter_timeout: a configuration error"

# -t runs the stage
f=$(msg "offline" "$GTUBE")
out=$(milter_offline "$f" 192.0.2.10 bob@other.test \
    -o "milter.rspamd_url=$TB_RSPAMD_URL")
tb_like "$out" 'verdict: reject 550 5\.7\.1 Gtube pattern' \
    "-t: GTUBE rejected by the Rspamd stage" || tb_diag "$out"
# GTUBE from a greylisted triplet: greylisting defers it, rspamd is
# asked all the same and its reject outranks the deferral (the verdict's
# precedence, elemta-milter(8)): one reply, a definitive one
mkdir -m 0700 "$TB/gl-t"
out=$(milter_offline "$f" 192.0.2.10 bob@other.test \
    -o "milter.rspamd_url=$TB_RSPAMD_URL" -o milter.greylist=true \
    -o "database.directory=$TB/gl-t")
tb_like "$out" 'verdict: reject 550 5\.7\.1 Gtube pattern' \
    "-t: GTUBE from a greylisted triplet: rspamd's reject wins" ||
    tb_diag "$out"
tb_like "$(cat "$TB/stderr")" \
    'greylist=defer\([0-9]+s\) rspamd=reject\([^ ]*\) action=reject by=rspamd .* clamav=off'$'(\n|$)' \
    "-t: ... the summary line names both stages' results" ||
    tb_diag "$(cat "$TB/stderr")"
out=$(milter_offline "$(msg "offline add" "$GTUBE_ADD" "X-Spam: No")" \
    192.0.2.10 bob@other.test -o "milter.rspamd_url=$TB_RSPAMD_URL")
tb_like "$out" $'delete-header: X-Spam 1\n(.*\n)*add-header: X-Spam: Yes' \
    "-t: the claimed X-Spam removed, ours added" || tb_diag "$out"

# bad input, a defined outcome: MIME nested 1000 deep, a message with no
# body; each scanned and accepted
printf 'Hello Alice, lunch on Friday? Bob\n' >"$TB/note.txt"
milter_msg_nested 1000 "$TB/note.txt" >"$TB/nested.eml"
milter_msg_nobody "no body" >"$TB/nobody.eml"
for what in "nested:MIME nested 1000 deep" "nobody:a message with no body"; do
	out=$(milter_offline "$TB/${what%%:*}.eml" 192.0.2.10 bob@other.test \
	    -o "milter.rspamd_url=$TB_RSPAMD_URL")
	tb_like "$out" 'verdict: accept$' "-t: ${what#*:}: accepted" ||
	    tb_diag "$out"
	tb_like "$(cat "$TB/stderr")" 'rspamd=[^(]+\([-0-9.]+/[0-9.]+\)' \
	    "... rspamd scored it" || tb_diag "$(cat "$TB/stderr")"
done

# over scan_max_size: not sent, the X-Elemta-Scan header says so
f=$(msg "big" "$(head -c 3000 /dev/zero | tr '\0' 'a')")
out=$(milter_offline "$f" 192.0.2.10 bob@other.test \
    -o "milter.rspamd_url=$TB_RSPAMD_URL" -o milter.scan_max_size=2k)
tb_like "$out" $'X-Elemta-Scan: skipped[^\n]*\n(.*\n)*verdict: accept' \
    "-t: a message over scan_max_size gets the X-Elemta-Scan header" ||
    tb_diag "$out"
tb_like "$(cat "$TB/stderr")" 'rspamd=skipped\(oversize\)' \
    "-t: ... and is not sent to rspamd"

tb_is "$(metric reject)" 1 "metrics: one reject"
tb_is "$(curl -fsS --max-time 5 "$METRICS" | sed -n \
    's/^elemta_milter_verdicts_total{stage="rspamd",action="reject"} //p')" 1 \
    "metrics: one verdict by rspamd, reject (elemta_milter_verdicts_total)"
tb_is "$(metric add_header)" 1 "metrics: one add header"

# GTUBE past the header limits (header_cap_action=reject): refused before
# rspamd is asked, and counted apart from the oversize mail
milter_set "${RS[@]}" max_headers=10 header_cap_action=reject
pad=()
for i in $(seq 12); do pad+=("X-Pad-$i: x"); done
out=$(send "$(msg "capped" "$GTUBE" "${pad[@]}")")
tb_like "$out" '<\*\* +552 5\.3\.4 ' \
    "GTUBE past the header limits: the limit's reply" || tb_diag "$out"
tb_like "$(milter_log 'rspamd=skipped\(refused\)')" \
    'rspamd=skipped\(refused\) action=reject by=header-cap' \
    "... rspamd not asked, the summary line says why"
tb_is "$(metric refused)" 1 "... counted as rspamd_total{result=\"refused\"}"
tb_is "$(metric skipped)" 0 "... not as result=\"skipped\" (oversize)"
milter_set "${RS[@]}"

# Message after message in one thread (as a milter worker takes them):
# every scan answered.  (rspamd 3.4's normal worker closes each
# connection, "Connection: close"; the reuse is checked below against a
# server that keeps it open.)
SCAN=$top_builddir/t/tb-rspamd-scan
f=$(msg "reuse" "Hello Alice, lunch on Friday? Bob")
out=$("$SCAN" "$TB_RSPAMD_URL" 6 "$f")
tb_is "$(grep -c '^verdict: accept' <<<"$out")" 6 \
    "six scans in one thread: six verdicts" || tb_diag "$out"

# Not a verdict: each junk server in rspamd's place, tempfail then accept
JUNK_PORT=$(tb_port 70)
# junk MODE - the junk server in MODE on JUNK_PORT (restarted)
junk() {
	tb_stop junk
	tb_spawn junk "$TB/junk.log" python3 "$top_srcdir/t/lib/http-junk.py" \
	    "$JUNK_PORT" "$1"
	tb_ready junk "on 127.0.0.1:$JUNK_PORT" "$(peer_timeout)" \
	    tb_connect 127.0.0.1 "$JUNK_PORT"
}
JUNK=(rspamd_url="http://127.0.0.1:$JUNK_PORT" rspamd_timeout_ms=2000)
milter_set "${JUNK[@]}"
# a server that keeps the connection open: one thread's six scans come
# on one connection (one client port)
junk ok
out=$("$SCAN" "http://127.0.0.1:$JUNK_PORT" 6 "$f")
tb_is "$(grep -c '^verdict: accept' <<<"$out")" 6 \
    "a keep-alive server: six verdicts" || tb_diag "$out"
tb_is "$(grep -c '^request ' "$TB/junk.log") $(awk '/^request /{print $4}' \
    "$TB/junk.log" | sort -u | wc -l)" "6 1" \
    "six requests on one connection: kept alive and reused" ||
    tb_diag "$(cat "$TB/junk.log")"
# rspamd's edits as -t prints them, in the order the MTA applies them:
# the sender's claimed header removed, remove_headers (-1: the last, 0:
# every one from the last, an index beyond the fields: nothing, a
# claimed name: gone already), add_headers (order: inserted there; a
# name rspamd adds itself is not added twice), the score line, the
# rewritten Subject
junk edits
f=$(msg "hi" "hello" "X-Foo: 1" "X-Foo: 2" "X-Foo: 3" "X-Bar: a" \
    "X-Bar: b" "X-Baz: only" "X-Spam-Level: ***")
out=$(milter_offline "$f" 192.0.2.10 bob@other.test \
    -o "milter.rspamd_url=http://127.0.0.1:$JUNK_PORT" |
    awk '/^insert-header: Authentication-Results/ { ar = 1; next }
	ar && /^\t/ { next } { ar = 0; print }')
tb_is "$out" "$(printf '%s\n' 'delete-header: X-Spam-Level 1' \
    'delete-header: X-Foo 3' 'delete-header: X-Bar 2' \
    'delete-header: X-Bar 1' 'insert-header 1: X-Added: v' \
    'add-header: X-Spam: rspamd-own' \
    'add-header: X-Spamd-Result: default: True [7.50 / 15.00];' \
    $'\tS1(7.50)' 'change-header: Subject 1: [SPAM] hi' 'verdict: accept')" \
    "-t: rspamd's edits in order"

for mode in html json status huge; do
	junk "$mode"
	out=$(send "$(msg "junk $mode" "hello")")
	tb_like "$out" '<\*\* +451 4\.7\.1 Spam filter temporarily unavailable' \
	    "junk ($mode): tempfail (the default)" || tb_diag "$out"
done
tb_like "$(milter_log 'rspamd error=garbage')" 'reason="HTTP status 500: rspamd error: Internal junk error" action=tempfail' \
    "an HTTP error: logged with the reason and the action"
tb_is "$(metric garbage)" 4 "metrics: four garbage replies"
junk slow
out=$(send "$(msg "junk slow" "hello")")
tb_like "$out" '<\*\* +451 4\.7\.1 Spam filter temporarily unavailable' \
    "no reply within rspamd_timeout_ms: tempfail" || tb_diag "$out"
tb_like "$(milter_log 'rspamd error=timeout')" 'action=tempfail' \
    "the timeout is logged"
milter_set "${JUNK[@]}" rspamd_fail_action=accept
junk json
out=$(send "$(msg "junk accept" "hello")")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "junk with rspamd_fail_action=accept: accepted unscanned" || tb_diag "$out"
tb_like "$(milter_log 'rspamd error=garbage reason="no action in the reply"')" \
    'action=accept' "logged: garbage, accepted"

# rspamd stopped
tb_stop junk rspamd
milter_set "${RS[@]}"
out=$(send "$(msg "stopped" "hello")")
tb_like "$out" '<\*\* +451 4\.7\.1 Spam filter temporarily unavailable' \
    "rspamd stopped: tempfail (the default)" || tb_diag "$out"
tb_like "$(milter_log 'rspamd error=unreachable')" 'action=tempfail' \
    "rspamd stopped: logged as unreachable"
milter_set "${RS[@]}" rspamd_fail_action=accept
out=$(send "$(msg "stopped accept" "hello")")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "rspamd stopped, rspamd_fail_action=accept: accepted" || tb_diag "$out"
tb_is "$(metric unreachable)" 2 "metrics: two unreachable"
tb_done
