#!/bin/bash
# 0603-ctl-dkim - elemta-ctl dkim testkey DOMAIN SELECTOR against a real
# elemta-milter and the harness' unbound, as opendkim-testkey checks:
# the record at SELECTOR._domainkey.DOMAIN, fetched through the milter's
# own resolver, holds the public half of the private key in its key
# table (RSA and Ed25519).  A record of another key, no record, no key
# in the table: exit 1.  dkim keygen (elemta-milter genkey) writes a
# private key only its owner reads and the record of its public half.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
milter_require unbound
tb_need openssl openssl
tb_need python3 python3
tb_init
tb_plan 16

# "wrong": published with the harness' RSA key, signed with another one;
# "unpub": in the key table, never published
peer_dkim_keys
printf "local-data: 'wrong._domainkey.example.test. 300 IN TXT %s'\n" \
    "$(peer_txt_strings "v=DKIM1; k=rsa; p=$TB_DKIM_RSA_PUB")" >"$TB/extra.zone"
peer_start_unbound "$TB/extra.zone"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
    -out "$TB/other.private" 2>/dev/null
chmod 0600 "$TB/other.private"
milter_signing_tables
{
	echo "wrong example.test:wrong:$TB/other.private"
	echo "unpub example.test:unpub:$TB/other.private"
} >>"$TB/keys"
milter_start -- -o "milter.dkim_key_table=$TB/keys" \
    -o "milter.dkim_signing_table=$TB/signing"

out=$(ctl dkim testkey example.test "$TB_DKIM_RSA_SELECTOR" 2>&1)
tb_is "$?" 0 "testkey: the RSA key matches its record" || tb_diag "$out"
tb_like "$out" 'match: yes' "testkey: says so"
tb_like "$out" "name: $TB_DKIM_RSA_SELECTOR\\._domainkey\\.example\\.test" \
    "testkey: the name it asked"
out=$(ctl dkim testkey example.test "$TB_DKIM_ED25519_SELECTOR" 2>&1)
tb_is "$?" 0 "testkey: the Ed25519 key matches its record" || tb_diag "$out"
json=$(ctl --json dkim testkey example.test "$TB_DKIM_RSA_SELECTOR")
tb_ok "testkey --json parses" python3 -m json.tool <<<"$json"
tb_is "$(ctl_json_get "$json" type) $(ctl_json_get "$json" bits) $(ctl_json_get "$json" match)" \
    "rsa 2048 yes" "testkey --json: type, bits, match"

out=$(ctl dkim testkey example.test wrong 2>&1)
tb_is "$?" 1 "testkey: another key published: exit 1"
tb_like "$out" 'not the public half' "testkey: says the keys differ"
out=$(ctl dkim testkey example.test unpub 2>&1)
tb_is "$?" 1 "testkey: nothing published: exit 1"
tb_like "$out" 'unpub\._domainkey\.example\.test' "testkey: names the record missing"
ctl dkim testkey other.test "$TB_DKIM_RSA_SELECTOR" >/dev/null 2>&1
tb_is "$?" 1 "testkey: no such key in the table: exit 1"
ctl dkim testkey example.test >/dev/null 2>&1
tb_is "$?" 2 "testkey without a selector: exit 2"

# keygen: elemta-milter genkey, reachable from here
mkdir "$TB/gen"
out=$(ctl dkim keygen -d example.org -s s1 -D "$TB/gen" 2>&1)
tb_is "$?" 0 "keygen: exit 0" || tb_diag "$out"
tb_is "$(stat -c %a "$TB/gen/s1.private" 2>&1)" 600 \
    "keygen: the private key is its owner's only"
pub=$(openssl pkey -in "$TB/gen/s1.private" -pubout -outform DER 2>/dev/null |
    base64 -w0)
rec=$(tr -d '\n\t "()' <"$TB/gen/s1.txt")
found=no
[[ -n $pub && $rec == *";p=$pub" ]] && found=yes
tb_is "$found" yes "keygen: the record holds its public half" ||
    tb_diag "record: $rec"
ctl dkim keygen >/dev/null 2>&1
tb_ok "keygen without arguments fails" test $? -ne 0
tb_done
