#!/bin/bash
# 0450-milter-postfix-spf - SPF through a real private Postfix with
# elemta-milter as smtpd_milters and DNS from unbound: pass, fail,
# softfail and temperror (unbound stopped mid-test), each seen in the
# Authentication-Results header of the message smtp-sink receives, and
# the enforced ones in Postfix's log (milter-reject 550 5.7.23 /
# 451 4.7.24).  The optional Received-SPF header (RFC 7208 9.1) is off
# by default and present, above Postfix's Received, when switched on.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_init
tb_plan 19
peer_start_unbound
milter_start -- -o dns.timeout=1 -o dns.retries=0
milter_postfix

# pass: example.test permits 192.0.2.1
out=$(milter_send "spf pass")
tb_like "$out" '250 2\.0\.0 Ok: queued' "pass: queued" || tb_diag "$out"
qid=$(milter_queue_id "$out")
f=$(milter_wait_delivered "spf pass")
tb_like "$(milter_authres "$f")" \
    '^spf=pass smtp\.mailfrom=user@example\.test;' \
    "pass: spf=pass in the delivered A-R"
tb_like "$(milter_maillog "$qid: to=<bob@sink.test>.*status=sent")" \
    "status=sent" "pass: Postfix log says sent"
tb_unlike "$(milter_headers "$f")" $'(^|\n)Received-SPF:' \
    "pass: no Received-SPF header by default"

# fail: 192.0.2.10 is not example.test's; accepted by default
out=$(milter_send "spf fail" --xclient-addr 192.0.2.10)
f=$(milter_wait_delivered "spf fail")
tb_like "$(milter_authres "$f")" '^spf=fail smtp\.mailfrom=user@example\.test;' \
    "fail: spf=fail in the delivered A-R"
tb_like "$(milter_log "spf=fail .*action=accept")" "action=accept" \
    "fail: the milter logs action=accept (spf_fail_action default)"

milter_set spf_fail_action=reject
out=$(milter_send "spf fail enforced" --xclient-addr 192.0.2.10)
tb_like "$out" '<\*\* +550 5\.7\.23 SPF validation failed for user@example\.test' \
    "fail enforced: the client gets 550 5.7.23"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.10\]: 5\.7\.23')" \
    '5\.7\.23 SPF validation failed' \
    "fail enforced: Postfix logs milter-reject 5.7.23"

# softfail: other.test says ~all for addresses outside 192.0.2.0/24
out=$(milter_send "spf softfail" --xclient-addr 198.51.100.7 \
    --from user@other.test)
f=$(milter_wait_delivered "spf softfail")
tb_like "$(milter_authres "$f")" '^spf=softfail smtp\.mailfrom=user@other\.test;' \
    "softfail: spf=softfail in the delivered A-R"
milter_set spf_softfail_action=tempfail
out=$(milter_send "spf softfail enforced" --xclient-addr 198.51.100.7 \
    --from user@other.test)
tb_like "$out" '<\*\* +451 4\.7\.24 SPF softfail for user@other\.test' \
    "softfail with spf_softfail_action=tempfail: 451 4.7.24"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[198\.51\.100\.7\]: 4\.7\.24')" \
    '4\.7\.24' "softfail enforced: Postfix logs the 4.7.24"

# Received-SPF (RFC 7208 9.1), switched on by a reload
milter_set received_spf=true
out=$(milter_send "received-spf pass")
f=$(milter_wait_delivered "received-spf pass")
h=$(milter_headers "$f")
tb_like "$h" $'(^|\n)Received-SPF: pass \\(mx\\.example\\.test: domain of user@example\\.test designates 192\\.0\\.2\\.1 as permitted sender\\) client-ip=192\\.0\\.2\\.1; envelope-from="user@example\\.test"; helo=client\\.remote\\.test; receiver=mx\\.example\\.test; identity=mailfrom;?\n' \
    "received_spf: a Received-SPF header with its key-value pairs"
tb_like "$h" $'Authentication-Results: mx\\.example\\.test;[^\n]*\nReceived-SPF: [^\n]*\nReceived: from client\\.remote\\.test' \
    "received_spf: below our A-R, above Postfix's Received"
out=$(milter_send "received-spf fail" --xclient-addr 192.0.2.10)
f=$(milter_wait_delivered "received-spf fail")
tb_like "$(milter_headers "$f")" $'(^|\n)Received-SPF: fail \\(mx\\.example\\.test: domain of user@example\\.test does not designate 192\\.0\\.2\\.10 as permitted sender\\) client-ip=192\\.0\\.2\\.10;' \
    "received_spf: fail"

# temperror: unbound goes away; a domain nobody asked for before (the
# resolver's cache would answer for the others)
tb_stop unbound
out=$(milter_send "spf temperror" --from user@gone.test \
    --header "From: User <user@gone.test>")
f=$(milter_wait_delivered "spf temperror")
tb_like "$(milter_authres "$f")" '^spf=temperror smtp\.mailfrom=user@gone\.test;' \
    "temperror: spf=temperror in the delivered A-R"
tb_like "$(milter_headers "$f")" $'(^|\n)Received-SPF: temperror ' \
    "temperror: Received-SPF temperror"
tb_like "$(milter_log 'TEST|spf dns=(timeout|tempfail) name=gone\.test')" \
    "name=gone\.test" "temperror: the milter logs the DNS failure"
milter_set received_spf=true spf_temperror_action=tempfail
out=$(milter_send "spf temperror enforced" --from user@gone2.test \
    --header "From: User <user@gone2.test>")
tb_like "$out" '<\*\* +451 4\.7\.24 SPF temporary error for user@gone2\.test' \
    "temperror with spf_temperror_action=tempfail: 451 4.7.24"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.1\]: 4\.7\.24')" \
    '4\.7\.24 SPF temporary error' "temperror enforced: Postfix logs 4.7.24"
tb_done
