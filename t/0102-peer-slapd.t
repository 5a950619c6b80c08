#!/bin/bash
# 0102-peer-slapd - slapd serves the test directory (t/data/ldap.ldif)
#
# The LMTP bridge routes recipients and the policy daemon reads
# overrides from LDAP: alice has a mail address and an alias.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require slapd
tb_init
tb_plan 6
peer_start_slapd

# search - an anonymous search of the test directory, values only
search() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "$TB_LDAP_URI" \
	    -b "$TB_LDAP_BASE" "$@" 2>&1
}

got=$(search '(uid=alice)' mail | sed -n 's/^mail: //p' | sort | tr '\n' ' ')
tb_is "$got" "alice.alias@example.test alice@example.test " \
    "alice's entry has her mail address and her alias"

got=$(search '(mail=alice.alias@example.test)' dn)
tb_is "$got" "dn: uid=alice,ou=people,dc=example,dc=test" \
    "the alias finds alice's entry (mail index)"

got=$(search '(mail=bob@example.test)' uid | sed -n 's/^uid: //p')
tb_is "$got" bob "bob is found by address"

got=$(search '(mail=nosuch@example.test)' dn)
tb_is "$?:$got" "0:" "an unknown address finds nothing"

tb_ok "alice can bind with her password" \
    ldapwhoami -x -H "$TB_LDAP_URI" \
    -D "uid=alice,ou=people,$TB_LDAP_BASE" -w alicepw

cat >"$TB/carol.ldif" <<EOF
dn: uid=carol,ou=people,$TB_LDAP_BASE
objectClass: inetOrgPerson
uid: carol
cn: Carol Example
sn: Example
mail: carol@example.test
EOF
ldapadd -x -H "$TB_LDAP_URI" -D "$TB_LDAP_ROOTDN" -w "$TB_LDAP_ROOTPW" \
    -f "$TB/carol.ldif" >"$TB/ldapadd.out" 2>&1
got=$(search '(mail=carol@example.test)' uid | sed -n 's/^uid: //p')
tb_is "$got" carol "the root DN can add an entry online, found at once"
tb_done
