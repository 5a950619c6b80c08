#!/bin/bash
# 0410-milter-spf - the SPF stage through lib/dns against a real unbound,
# driven by the offline mode (elemta-milter -t): pass, fail, softfail,
# none, the null sender (HELO identity), skips, enforcement, forged
# Authentication-Results removal, and temperror once unbound is stopped.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require unbound
tb_init
tb_plan 22
peer_start_unbound

MSG=$TB_DATA/milter/plain.eml
AR="insert-header: Authentication-Results: mx.elemta.test;"

# run - elemta-milter -t on the sample message; extra args follow
run() {
	milter_t "$MSG" -o milter.dkim=false -o milter.dmarc=false -o milter.arc=false \
	    --rcpt alice@example.test "$@"
}

out=$(run --client-ip 192.0.2.1 --helo out.example.test --sender user@example.test)
tb_is "$?" 0 "-t exits 0"
tb_like "$out" "spf=pass smtp.mailfrom=user@example.test" "pass: allowed IP"
tb_like "$out" "verdict: accept" "pass: accepted"
tb_is "$(printf '%s\n' "$out" | grep delete-header)" \
    "delete-header: Authentication-Results 1" \
    "the A-R header claiming our authserv-id is removed"
tb_unlike "$out" "delete-header: Authentication-Results 2" \
    "another host's A-R header is kept"
tb_like "$(cat "$TB/stderr")" "TEST: spf=pass action=accept dns_lookups=[1-9]" \
    "one summary log line with the queue id"

out=$(run --client-ip 192.0.2.99 --helo x.example.test --sender user@example.test)
tb_like "$out" "spf=fail smtp.mailfrom=user@example.test" "fail: other IP, -all"
tb_like "$out" "verdict: accept" "fail: only recorded by default"

out=$(run --client-ip 192.0.2.99 --sender user@example.test \
    -o milter.spf_fail_action=reject)
tb_like "$out" "^verdict: reject 550 5.7.23 SPF validation failed for user@example.test" \
    "fail: spf_fail_action=reject gives 550 5.7.23"
tb_unlike "$out" "insert-header" "a rejected message gets no header"

out=$(run --client-ip 198.51.100.7 --sender user@other.test)
tb_like "$out" "spf=softfail smtp.mailfrom=user@other.test" "softfail: ~all"

out=$(run --client-ip 198.51.100.7 --sender user@sink.test)
tb_like "$out" "spf=none smtp.mailfrom=user@sink.test" "none: no SPF record"

out=$(run --client-ip 198.51.100.7 --sender user@nosuch.test)
tb_like "$out" "spf=none smtp.mailfrom=user@nosuch.test" "none: NXDOMAIN"

out=$(run --client-ip 192.0.2.20 --helo nodmarc.test --sender '<>')
tb_like "$out" "spf=pass smtp.helo=nodmarc.test" \
    "null sender: the HELO identity"

out=$(run --client-ip 127.0.0.1 --sender user@example.test)
tb_is "$(printf '%s\n' "$out" | grep insert-header)" "$AR none" \
    "internal client: SPF skipped"
tb_like "$(cat "$TB/stderr")" "spf=skipped\(internal\)" "the skip is logged"

out=$(run --client-ip 198.51.100.7 --sender user@example.test \
    -o milter.internal_networks=198.51.100.0/24)
tb_like "$out" "$AR none" "internal_networks from the configuration"

out=$(run --client-ip 192.0.2.1 --sender user@example.test -o milter.spf=false)
tb_like "$out" "$AR none" "spf = false: no SPF"

out=$("$MILTER" -n -c /dev/null -o dns.nameservers=127.0.0.1@99999 2>&1)
tb_like "$?:$out" "^1:.*bad port" "a bad nameserver port is a configuration error"

tb_stop unbound
start=$(tb_now_ms)
out=$(run --client-ip 192.0.2.1 --sender user@example.test)
took=$(( $(tb_now_ms) - start ))
tb_like "$out" "spf=temperror smtp.mailfrom=user@example.test" \
    "DNS down: temperror"
tb_ok "DNS down: bounded by the timeout (${took} ms)" test "$took" -lt 8000
out=$(run --client-ip 192.0.2.1 --sender user@example.test \
    -o milter.spf_temperror_action=tempfail)
tb_like "$out" "^verdict: tempfail 451 4.7.24" \
    "spf_temperror_action=tempfail gives 451 4.7.24"
tb_done
