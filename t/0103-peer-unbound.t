#!/bin/bash
# 0103-peer-unbound - unbound serves the test zones and the generated DKIM keys
#
# Every DNS lookup of the daemons goes to this server on a high port
# (libunbound forwarding to 127.0.0.1@port); tb-dnsq asks it the same way.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require unbound
tb_init
tb_plan 11
peer_start_unbound

# dnsq - query the private server; output and exit status of tb-dnsq
dnsq() {
	"$TB_DNSQ" -p "$TB_PORT_DNS" "$@" 2>&1
}

tb_is "$(dnsq example.test TXT)" "v=spf1 ip4:127.0.0.1 ip4:192.0.2.1 -all" \
    "SPF TXT of example.test"
tb_is "$(dnsq _dmarc.example.test TXT)" "v=DMARC1; p=reject; adkim=s; aspf=s" \
    "DMARC TXT of example.test"
tb_is "$(dnsq mail.other.test A)" 192.0.2.10 "A record of mail.other.test"
tb_is "$(dnsq 10.2.0.192.in-addr.arpa PTR)" mail.other.test. \
    "PTR record of 192.0.2.10"

rsa=$(dnsq "$TB_DKIM_RSA_SELECTOR._domainkey.$TB_DKIM_DOMAIN" TXT)
tb_is "$rsa" "v=DKIM1; k=rsa; p=$TB_DKIM_RSA_PUB" \
    "RSA DKIM key TXT, reassembled from its 255-char strings"
# The published key is the public half of the private key tests sign with.
pub=$(openssl pkey -in "$TB_DKIM_RSA_KEY" -pubout -outform DER | base64 -w0)
tb_is "${rsa##*p=}" "$pub" "the published RSA key is the generated key's"
tb_like "$(dnsq -q "$TB_DKIM_RSA_SELECTOR._domainkey.$TB_DKIM_DOMAIN" TXT)" \
    '^"[^"]{255}" "[^"]+"' "the RSA record is served as several strings"

ed=$(dnsq "$TB_DKIM_ED25519_SELECTOR._domainkey.$TB_DKIM_DOMAIN" TXT)
pub=$(openssl pkey -in "$TB_DKIM_ED25519_KEY" -pubout -outform DER |
    tail -c 32 | base64 -w0)
tb_is "$ed" "v=DKIM1; k=ed25519; p=$pub" \
    "Ed25519 DKIM key TXT: the generated key, raw 32 bytes"

out=$(dnsq nosuch.example.test TXT)
tb_is "$?:$out" "1:tb-dnsq: nosuch.example.test TXT: NXDOMAIN" \
    "an unknown name is NXDOMAIN (exit 1)"
out=$(dnsq www.google.com A)
tb_is "$?:$out" "1:tb-dnsq: www.google.com A: NXDOMAIN" \
    "names outside the test zones are NXDOMAIN, nothing is recursed"
out=$(dnsq _dmarc.nodmarc.test TXT)
tb_is "$?:$out" "1:tb-dnsq: _dmarc.nodmarc.test TXT: NXDOMAIN" \
    "nodmarc.test has no DMARC record"
tb_done
