#!/bin/bash
# 0531-lmtp-bridge-ldap - LDAP routing: real slapd, real Postfix ->
# elemta-lmtp-bridge -> two real Dovecot backends (Maildir).
#
# One message to valid, alias, an alias of a recipient already there (one
# delivery, both get its reply), rewritten (+detail kept), unknown, disabled
# and injection-attempt recipients: each gets exactly its status in
# Postfix's maillog, the Maildirs hold exactly the right copies, and bob
# lands on the backend his mailHost names.  A second message is answered
# from the cache (slapd's stats log sees no new search).  slapd stopped:
# 451 4.4.3, Postfix keeps the mail; slapd back: delivered once.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require slapd postfix dovecot smtp-sink swaks
tb_init
tb_plan 36

# The directory: ldap.ldif, plus the test schema, plus carol (disabled)
# and sales (its own backend and mailbox: lmtp_ldap_users).
lmtp_ldap_users "$TB/extra.ldif"
TB_SLAPD_DEBUG=256 peer_start_slapd "$TB_DATA/elemta.schema" \
    "$TB/extra.ldif"
SLOG=$TB/slapd/slapd.log
# alice: an alias, her mailbox address; bob: his own backend.
ldapmodify -x -H "$TB_LDAP_URI" -D "$TB_LDAP_ROOTDN" -w "$TB_LDAP_ROOTPW" \
    >"$TB/ldapmodify.out" 2>&1 <<EOF
dn: uid=alice,ou=people,$TB_LDAP_BASE
changetype: modify
add: objectClass
objectClass: elemtaMailUser
-
add: mailAlias
mailAlias: alice.other@example.test
-
add: mailEnabled
mailEnabled: TRUE
-
add: mailRoutingAddress
mailRoutingAddress: alice@example.test

dn: uid=bob,ou=people,$TB_LDAP_BASE
changetype: modify
add: objectClass
objectClass: elemtaMailUser
-
add: mailHost
mailHost: 127.0.0.1
-
add: mailAlternateAddress
mailAlternateAddress: bob.other@example.test
-
add: mailRoutingAddress
mailRoutingAddress: bob@example.test
EOF
tb_is "$?" 0 "the test schema and entries are in slapd" ||
    tb_diag "$(cat "$TB/ldapmodify.out")"

peer_start_dovecot
peer_start_dovecot dovecot2 "$TB_PORT_LMTP2"
peer_start_smtp_sink

# the bridge binds as alice (a plain reader; her password from a file)
lmtp_ldap
lmtp_conf "ldap_lookup = true" \
    "ldap_base = \"ou=people,$TB_LDAP_BASE\"" \
    "ldap_backend_port = $TB_PORT_LMTP2" \
    "allowed_backends = { \"inet:127.0.0.1:$TB_PORT_LMTP2\" }" \
    "${LMTP_LDAP[@]}"
lmtp_start_bridge
lmtp_start_postfix

# searches - how many searches slapd logged with a filter holding STRING
searches() {
	grep -F "SRCH base=" "$SLOG" | grep -cF -- "$1"
}

subject="tb-0531 $$ $RANDOM"
lmtp_send 'alice@example.test,alice.other@example.test,bob+tag@example.test,alice.other+x@example.test,alice.alias+y@example.test,sales+q@example.test,nosuch@example.test,carol@example.test,*@example.test' "$subject"
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts one message for nine recipients ($qid)" ||
    tb_diag "$out"
lmtp_wait 30 "" 9

tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: alice sent"
tb_like "$(status_of "$qid" 'bob\+tag@example.test')" \
    "status=sent \(250 2\.0\.0 <bob\+tag@example.test> .*Saved\)" \
    "maillog: bob+tag sent"
tb_like "$(status_of "$qid" 'alice\.other\+x@example.test')" \
    "status=sent \(250 2\.0\.0 <alice\+x@example.test> .*Saved\)" \
    "maillog: mailAlias alice.other+x rewritten to alice+x (detail kept)"
tb_like "$(status_of "$qid" 'alice\.alias\+y@example.test')" \
    "status=sent \(250 2\.0\.0 <alice\+y@example.test> .*Saved\)" \
    "maillog: second mail value alice.alias+y rewritten to alice+y"
tb_like "$(status_of "$qid" 'sales\+q@example.test')" \
    "status=sent \(250 2\.0\.0 <bob\+q@example.test> .*Saved\)" \
    "maillog: sales+q rewritten by mailRoutingAddress to bob+q"
tb_like "$(status_of "$qid" nosuch@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.1\.1 <nosuch@example.test>: Recipient address rejected: User unknown" \
    "maillog: nosuch bounced at RCPT with 550 5.1.1"
tb_like "$(status_of "$qid" carol@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.2\.1 <carol@example.test>: Recipient address rejected: Mailbox disabled" \
    "maillog: carol (mailEnabled FALSE) bounced with 550 5.2.1"
tb_like "$(status_of "$qid" '\*@example.test')" \
    "status=bounced \(.* said: 550 5\.1\.1 " \
    "maillog: '*@example.test' is one unknown user, not a wildcard"
tb_like "$(status_of "$qid" 'alice\.other@example.test')" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: alice.other (alias of alice, same mailbox) sent, alice's reply"
tb_is "$(grep -c "$qid: to=" "$TB_MAILLOG")" 9 \
    "maillog: exactly one status line per recipient"
tb_ok "the bridge bound as the configured DN (password from a file)" \
    grep -qF "BIND dn=\"uid=alice,ou=people,$TB_LDAP_BASE\" method=128" "$SLOG"
tb_ok "slapd saw the * escaped (\\2a)" \
    grep -qiF '(mail=\2a@example.test)' "$SLOG"

tb_wait 5 bash -c "[[ \$(grep -lxF -- 'Subject: $subject' '$(peer_maildir alice@example.test)'/new/* 2>/dev/null | wc -l) -ge 3 ]]"
tb_is "$(copies alice@example.test "$subject")" 3 \
    "alice's Maildir: three copies (alice and alice.other are one; alice.other+x, alice.alias+y)"
tb_is "$(copies bob@example.test "$subject" dovecot2)" 2 \
    "bob's Maildir on his mailHost backend: two copies (bob+tag, sales+q)"
tb_is "$(copies bob@example.test "$subject")" 0 \
    "bob's Maildir on the default backend: none"

tb_like "$(grep "$qid: to=<bob+tag@example.test> backend=" "$BLOG")" \
    "backend=inet:127\.0\.0\.1:$TB_PORT_LMTP2 .*status=delivered" \
    "bridge log: bob+tag delivered to the mailHost backend"
# Postfix orders the recipients its own way: either one is the duplicate
tb_is "$(grep "$qid: to=<alice@example.test> .*addr=" "$BLOG" |
	grep -c 'duplicate=yes status=delivered')" 1 \
    "bridge log: alice and alice.other delivered once (one duplicate=yes)"
tb_like "$(grep "$qid: to=<carol@example.test>" "$BLOG")" \
    "status=rejected route=ldap" "bridge log: carol rejected by ldap"

# The same recipients again: answered from the cache.
n_alice=$(searches 'alice@example.test')
n_nosuch=$(searches 'nosuch@example.test')
tb_ok "slapd was asked about alice and nosuch" \
    test "$n_alice" -ge 1 -a "$n_nosuch" -ge 1
lmtp_send alice@example.test,nosuch@example.test "$subject cached"
lmtp_wait 30 "" 2
tb_like "$(status_of "$qid" alice@example.test)" "status=sent" \
    "cached: alice delivered"
tb_like "$(status_of "$qid" nosuch@example.test)" \
    "status=bounced .* 550 5\.1\.1" "cached: nosuch still unknown"
tb_is "$(searches 'alice@example.test'):$(searches 'nosuch@example.test')" \
    "$n_alice:$n_nosuch" "slapd saw no new search (positive and negative cache)"
metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_like "$metrics" 'elemta_lmtp_ldap_cache_total\{result="hit"\} [1-9]' \
    "metrics: LDAP cache hits"
tb_like "$metrics" 'elemta_lmtp_ldap_seconds_count [1-9]' \
    "metrics: LDAP lookup latency histogram"

# slapd stopped: 451 4.4.3 (never a 5xx), Postfix keeps the mail.
tb_stop slapd
lmtp_send bob.other@example.test "$subject later"
lmtp_wait 20 "<bob.other@example.test>.* status=deferred"
tb_like "$(status_of "$qid" 'bob\.other@example.test')" \
    "status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 451 4\.4\.3 " \
    "slapd down: deferred with 451 4.4.3"
tb_like "$(postqueue -c "$TB_POSTFIX_CONF" -p 2>&1)" "$qid" \
    "Postfix keeps the message in its queue"
tb_like "$(grep "$qid: to=<bob.other@example.test>" "$BLOG")" \
    "status=deferred route=ldap error=\"ldap " \
    "bridge log: the directory error is named"

# slapd back (same database): delivered, once.
tb_spawn slapd "$TB/slapd/slapd2.log" slapd -d 256 -h "$TB_LDAP_URI" \
    -f "$TB/slapd/slapd.conf"
tb_ready slapd "on $TB_LDAP_URI" 20 \
    ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "$TB_LDAP_URI" \
    -b "$TB_LDAP_BASE" -s base dn
postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
lmtp_wait 30 "<bob.other@example.test>.* status=sent"
tb_like "$(status_of "$qid" 'bob\.other@example.test')" \
    "status=sent \(250 2\.0\.0 <bob@example.test> " \
    "once slapd is back, the message is delivered (rewritten to bob)"
tb_is "$(copies bob@example.test "$subject later" dovecot2)" 1 \
    "... exactly once"

# slapd restarted under a pooled connection: the bridge reconnects at once.
tb_stop slapd
tb_spawn slapd "$TB/slapd/slapd3.log" slapd -d 256 -h "$TB_LDAP_URI" \
    -f "$TB/slapd/slapd.conf"
tb_ready slapd "on $TB_LDAP_URI" 20 \
    ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "$TB_LDAP_URI" \
    -b "$TB_LDAP_BASE" -s base dn
lmtp_send bob.other+r@example.test "$subject reconnect"
lmtp_wait 20 "<bob.other\+r@example.test>.* status="
tb_like "$(status_of "$qid" 'bob\.other\+r@example.test')" \
    "status=sent \(250 2\.0\.0 <bob\+r@example.test> " \
    "after a slapd restart: a stale pooled connection is replaced, sent"
tb_is "$(grep -c "$qid: to=.*status=deferred" "$TB_MAILLOG")" 0 \
    "... on the first attempt"

# A search base that does not exist (a wrong base after a reload, a
# replica still being filled): noSuchObject is a directory error, 451
# 4.4.3 and not cached -- not "user unknown" (550, cached).
nowhere="ou=nowhere,$TB_LDAP_BASE"
sed -i "s/ldap_base = \"ou=people,/ldap_base = \"ou=nowhere,/" "$TB/elemta.conf"
n=$(grep -c 'reload: routing updated' "$BLOG")
kill -HUP "$(tb_pid bridge)"
tb_wait 10 nlines $((n + 1)) 'reload: routing updated' "$BLOG"
out=$(python3 "$top_srcdir/t/lib/lmtp-client.py" "$TB_PORT_BRIDGE" send \
    'LHLO t\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n')
tb_is "$(grep -c '^451 4\.4\.3 <alice@example.test>: ' <<<"$out")" 2 \
    "search base missing (noSuchObject): 451 4.4.3, twice, never 550" ||
    tb_diag "$out"
tb_like "$(grep 'to=<alice@example.test> status=deferred' "$BLOG" | tail -n 1)" \
    "route=ldap error=\"ldap .*: search base '$nowhere' does not exist \(noSuchObject\)" \
    "bridge log: the missing base is named"
tb_is "$(grep -F "SRCH base=\"$nowhere\"" "$TB/slapd/slapd3.log" | grep -cF 'alice@example.test')" 2 \
    "... and the error was not cached: slapd was asked both times"
tb_done
