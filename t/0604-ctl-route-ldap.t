#!/bin/bash
# 0604-ctl-route-ldap - elemta-ctl route ADDRESS asks the running
# elemta-lmtp-bridge what it would do with a recipient (its own router:
# the map, then a real slapd), and elemta-ctl ldap check binds and
# searches with the [ldap] settings.
#
# route: a map entry, an LDAP entry with its own backend and mailbox,
# a disabled account, an address +detail, an unknown one (map_strict:
# exit 1), the directory stopped (a temporary failure, exit 1).
# ldap check: connected and bound, the bridge's ldap_base found; a wrong
# password and a base that does not exist are failures (exit 1); no
# ldap.uri is "not found".
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
lmtp_init
peer_require slapd
tb_need python3 python3
tb_init
tb_plan 21

lmtp_ldap_users "$TB/extra.ldif"
peer_start_slapd "$TB_DATA/elemta.schema" "$TB/extra.ldif"
echo alicepw >"$TB/ldap.secret"
chmod 600 "$TB/ldap.secret"
printf 'postmaster@example.test -,alice@example.test\n' >"$TB/map"

# ldap_conf PASSWORD_FILE BASE - the bridge's configuration
ldap_conf() {
	lmtp_conf "ldap_lookup = true" \
	    "map_file = \"$TB/map\"" \
	    "map_strict = true" \
	    "ldap_base = \"$2\"" \
	    "allowed_backends = { \"inet:127.0.0.1:$TB_PORT_LMTP2\" }" \
	    "ldap {" \
	    "	uri = \"$TB_LDAP_URI\"" \
	    "	bind_dn = \"uid=alice,ou=people,$TB_LDAP_BASE\"" \
	    "	bind_password_file = \"$1\"" \
	    "	network_timeout = 2s" \
	    "	search_timeout = 2s" \
	    "}"
}
ldap_conf "$TB/ldap.secret" "ou=people,$TB_LDAP_BASE"
lmtp_start_bridge

json=$(ctl --json route sales@example.test)
tb_is "$?" 0 "route: an LDAP user, exit 0"
tb_ok "route --json parses" python3 -m json.tool <<<"$json"
tb_is "$(ctl_json_get "$json" source) $(ctl_json_get "$json" backend) $(ctl_json_get "$json" address)" \
    "ldap inet:127.0.0.1:$TB_PORT_LMTP2 bob@example.test" \
    "route: from LDAP, its own backend and mailbox"
out=$(ctl route postmaster+x@example.test 2>&1)
tb_is "$?" 0 "route: a map entry with +detail, exit 0"
tb_like "$out" 'address: alice\+x@example\.test' "route: the rewrite keeps the detail"
tb_like "$out" 'source: map' "route: the map answered"
out=$(ctl route carol@example.test 2>&1)
tb_like "$out" 'status: disabled' "route: a disabled account"
tb_like "$out" 'reply: 550 5\.2\.1' "route: with the reply a RCPT gets"
out=$(ctl route nobody@example.test 2>&1)
tb_is "$?" 1 "route: an unknown recipient, exit 1"
tb_like "$out" 'reply: 550 5\.1\.1' "route: 550 5.1.1"
ctl route >/dev/null 2>&1
tb_is "$?" 2 "route without an address: exit 2"

# ldap check with the same file
out=$("$CTL" -c "$TB/elemta.conf" ldap check 2>&1)
tb_is "$?" 0 "ldap check: exit 0" || tb_diag "$out"
tb_like "$out" "lmtp_bridge\\.ldap_base: ou=people,$TB_LDAP_BASE: found" \
    "ldap check: the bridge's base found"
tb_like "$out" "naming_context: $TB_LDAP_BASE" \
    "ldap check: the server's naming context"
echo wrong >"$TB/wrong.secret"
chmod 600 "$TB/wrong.secret"
ldap_conf "$TB/wrong.secret" "ou=people,$TB_LDAP_BASE"
out=$("$CTL" -c "$TB/elemta.conf" ldap check 2>&1)
tb_is "$?" 1 "ldap check: a wrong password, exit 1"
tb_like "$out" '[Ii]nvalid credentials|bind' "ldap check: says the bind failed"
ldap_conf "$TB/ldap.secret" "ou=nowhere,$TB_LDAP_BASE"
out=$("$CTL" -c "$TB/elemta.conf" ldap check 2>&1)
tb_is "$?" 1 "ldap check: a base that does not exist, exit 1"
tb_like "$out" 'ou=nowhere' "ldap check: names the base"
"$CTL" -c /dev/null ldap check >/dev/null 2>&1
tb_is "$?" 1 "ldap check: no ldap.uri, exit 1"

# the directory down: route is a temporary failure, says so
tb_stop slapd
out=$(ctl route newuser@example.test 2>&1)
tb_is "$?" 1 "route with the directory down: exit 1"
tb_like "$out" 'status: tempfail' "route: a temporary failure (451 4.4.3)"
tb_done
