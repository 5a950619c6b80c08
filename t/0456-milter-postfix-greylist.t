#!/bin/bash
# 0456-milter-postfix-greylist - greylisting through a real private
# Postfix with elemta-milter as smtpd_milters (greylist_delay 4 s, the
# SQLite store in the test directory): the first attempt gets
# 450 4.7.1 with the time to come back, a retry before the delay is
# still deferred, the retry after it is accepted and delivered exactly
# once; an authenticated client and postmaster@ are not greylisted; with
# greylist_when = rcpt the 450 comes at RCPT TO; a store that cannot be
# opened lets mail through (greylist_fail_action's default), logged; a
# sender whose SPF passes is keyed by its domain, so a retry from another
# of its networks passes; the metrics count deferrals, passes and store
# failures.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_init
tb_plan 22
peer_start_unbound
GL=(greylist=true greylist_delay=4 "greylist_path=$TB/greylist.db")
milter_start "${GL[@]}" -- -o dns.timeout=1 -o dns.retries=0 \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix

# copies SUBJECT - how many messages with SUBJECT smtp-sink received
copies() {
	grep -lE "^Subject: $1"$'\r'"?\$" "$TB_SINK_DIR"/msg.* 2>/dev/null |
	    wc -l
}

out=$(milter_send "greylisted" --xclient-addr 198.51.100.7)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted, please try again in [34] seconds' \
    "first attempt: 450 4.7.1 with the time to come back" || tb_diag "$out"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[198\.51\.100\.7\]: 4\.7\.1')" \
    'Greylisted' "Postfix logs the milter's 4.7.1"
out=$(milter_send "greylisted" --xclient-addr 198.51.100.7)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' \
    "a retry before the delay: still 450" || tb_diag "$out"
tb_is "$(stat -c %a "$TB/greylist.db")" 640 \
    "the store is created mode 0640 (the daemon's umask)"
tb_is "$(copies greylisted)" 0 "nothing delivered yet"
sleep 4.5
out=$(milter_send "greylisted" --xclient-addr 198.51.100.7)
tb_like "$out" '250 2\.0\.0 Ok: queued' "the retry after the delay is accepted" ||
    tb_diag "$out"
f=$(milter_wait_delivered "greylisted")
sleep 1
tb_is "$(copies greylisted)" 1 "delivered exactly once"
tb_like "$(milter_log 'greylist action=pass state=passed')" \
    'rcpt=bob@sink\.test' "the milter logs the passed triplet"

# not greylisted: an authenticated client, postmaster@
out=$(milter_send "authenticated" --xclient-addr 203.0.113.5 \
    --xclient-login alice)
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "an authenticated client is not greylisted" || tb_diag "$out"
tb_like "$(milter_log 'greylist=skipped\(authenticated\)')" 'action=accept' \
    "the summary line says why"
out=$(milter_send "to postmaster" --xclient-addr 203.0.113.6 \
    --to postmaster@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' "postmaster@ is not greylisted" ||
    tb_diag "$out"
out=$(milter_send "to bob" --xclient-addr 203.0.113.6)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' \
    "the same client to bob@ is greylisted" || tb_diag "$out"

# greylist_when = rcpt: the 450 answers RCPT TO
milter_set "${GL[@]}" greylist_when=rcpt
out=$(milter_send "at rcpt" --xclient-addr 192.0.2.77 --to carol@sink.test)
tb_like "$out" $'RCPT TO:<carol@sink\\.test>\n<\\*\\* +450 4\\.7\\.1 Greylisted' \
    "greylist_when=rcpt: 450 4.7.1 at RCPT TO" || tb_diag "$out"
tb_like "$(milter_maillog 'milter-reject: RCPT from [^ ]*\[192\.0\.2\.77\]: 450 4\.7\.1')" \
    'Greylisted' "Postfix logs the reject at RCPT"

# keyed by the SPF-passing domain: the retry comes from another address
# of example.test's SPF record (192.0.2.1, then 127.0.0.1, another /24)
milter_set "${GL[@]}" 'internal_networks={"10.0.0.0/8"}'
out=$(milter_send "pool" --xclient-addr 192.0.2.1 --to dave@sink.test)
tb_like "$out" '<\*\* +450 4\.7\.1 Greylisted' \
    "SPF-keyed: the first attempt is deferred" || tb_diag "$out"
sleep 4.5
out=$(milter_send "pool" --xclient-addr 127.0.0.1 --to dave@sink.test)
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "SPF-keyed: the retry from another network of the domain passes" ||
    tb_diag "$out"
tb_like "$(milter_log 'greylist action=pass .*rcpt=dave@sink\.test')" \
    'client=example\.test keyed_by=spf' "the triplet is the SPF domain's"

# the store cannot be opened: accepted (greylist_fail_action = accept)
milter_set greylist=true "greylist_path=$TB/no/such/dir/g.db"
out=$(milter_send "store down" --xclient-addr 192.0.2.88)
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "a store failure lets the message through by default" || tb_diag "$out"
tb_like "$(milter_log 'greylist store .*no/such/dir')" 'greylist store' \
    "the store failure is logged"

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
tb_is "$(metric 'elemta_milter_greylist_total{result="defer"}')" 5 \
    "metrics: 5 deferrals counted"
tb_is "$(metric 'elemta_milter_greylist_total{result="pass"}')" 2 \
    "metrics: 2 passed retries counted"
tb_is "$(metric elemta_milter_greylist_errors_total)" 1 \
    "metrics: the store failure counted"
tb_done
