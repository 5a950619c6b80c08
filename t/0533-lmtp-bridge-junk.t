#!/bin/bash
# 0533-lmtp-bridge-junk - spam to Junk: real slapd, real Postfix ->
# elemta-lmtp-bridge -> real Dovecot with lmtp_save_to_detail_mailbox.
# A message with rspamd's "X-Spam-Flag: YES" lands in alice's Junk folder
# (delivered as alice+Junk) and in bob's INBOX (mailJunkOptOut: TRUE); a
# message with "X-Spam: No" lands in alice's INBOX.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require slapd postfix dovecot smtp-sink swaks
tb_init
tb_plan 10

peer_start_slapd "$TB_DATA/elemta.schema"
ldapmodify -x -H "$TB_LDAP_URI" -D "$TB_LDAP_ROOTDN" -w "$TB_LDAP_ROOTPW" \
    >"$TB/ldapmodify.out" 2>&1 <<EOF
dn: uid=alice,ou=people,$TB_LDAP_BASE
changetype: modify
add: objectClass
objectClass: elemtaMailUser

dn: uid=bob,ou=people,$TB_LDAP_BASE
changetype: modify
add: objectClass
objectClass: elemtaMailUser
-
add: mailJunkOptOut
mailJunkOptOut: TRUE
EOF
tb_is "$?" 0 "bob opted out of Junk in slapd" ||
    tb_diag "$(cat "$TB/ldapmodify.out")"

peer_start_dovecot
lmtp_dovecot_extra dovecot 'lmtp_save_to_detail_mailbox = yes' \
    'lda_mailbox_autocreate = yes'
peer_start_smtp_sink

lmtp_conf "ldap_lookup = true" \
    "ldap_base = \"ou=people,$TB_LDAP_BASE\"" \
    'junk_headers = { "X-Spam: Yes", "X-Spam-Flag: YES" }' \
    "ldap {" "	uri = \"$TB_LDAP_URI\"" "}"
lmtp_start_bridge
lmtp_start_postfix

subject="tb-0533 $$ $RANDOM"
lmtp_send alice@example.test,bob@example.test "$subject spam" --header "X-Spam-Flag: YES"
lmtp_wait 30 ".*status=" 2
tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice\+Junk@example.test> .*Saved\)" \
    "maillog: spam for alice delivered as alice+Junk"
tb_like "$(status_of "$qid" bob@example.test)" \
    "status=sent \(250 2\.0\.0 <bob@example.test> .*Saved\)" \
    "maillog: spam for bob (opted out) delivered as bob"
tb_is "$(copies alice@example.test "$subject spam" dovecot .Junk):$(copies alice@example.test "$subject spam")" \
    "1:0" "alice: the spam is in Junk, not in the INBOX"
tb_is "$(copies bob@example.test "$subject spam" dovecot .Junk):$(copies bob@example.test "$subject spam")" \
    "0:1" "bob: the spam is in the INBOX, not in Junk"
tb_like "$(grep "$qid: junk=yes" "$BLOG")" 'rule="X-Spam-Flag: YES" folder=Junk' \
    "bridge log: the verdict and the rule that matched"
tb_like "$(grep "$qid: to=<alice+Junk@example.test>" "$BLOG")" \
    "orig_to=<alice@example.test> .* junk=yes status=delivered" \
    "bridge log: alice's delivery marked junk=yes"

lmtp_send alice@example.test "$subject ham" --header "X-Spam: No"
lmtp_wait 30 ".*status=" 1
tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: ham (X-Spam: No) delivered as alice"
tb_is "$(copies alice@example.test "$subject ham" dovecot .Junk):$(copies alice@example.test "$subject ham")" \
    "0:1" "alice: the ham is in the INBOX"
metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_like "$metrics" 'elemta_lmtp_messages_total\{result="junk"\} 1' \
    "metrics: one message to Junk"
tb_done
