#!/bin/bash
# 0534-lmtp-bridge-ldap-tls - the directory over TLS: a real slapd with a
# certificate from a private CA, elemta-lmtp-bridge routing through it
# with StartTLS (ldap:// + start_tls) and with ldaps://, each verifying
# the certificate against tls_ca_file: alice is delivered into Dovecot
# and slapd logs the TLS session.  With a CA that did not sign slapd's
# certificate the bridge must refuse the connection: the recipient gets
# 451 4.4.3 (our trouble, never a 5xx), nothing is delivered, and the
# log says why.  The LMTP client is swaks: TLS to the directory is what
# is tested here, Postfix's side is t/0531.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require slapd dovecot swaks
tb_need openssl openssl
tb_init
tb_plan 14

TB_SLAPD_TLS=1 TB_SLAPD_DEBUG=256 peer_start_slapd "$TB_DATA/elemta.schema"
SLOG=$TB/slapd/slapd.log
peer_start_dovecot

# bridge URI START_TLS CA - (re)start the bridge on that directory
bridge() {
	tb_stop bridge 2>/dev/null
	lmtp_conf "ldap_lookup = true" \
	    "ldap_base = \"ou=people,$TB_LDAP_BASE\"" \
	    "ldap {" \
	    "	uri = \"$1\"" \
	    "	start_tls = $2" \
	    "	tls_ca_file = \"$3\"" \
	    "	network_timeout = 2s" \
	    "	search_timeout = 2s" \
	    "}"
	lmtp_start_bridge
}
# lmtp SUBJECT - one LMTP transaction to the bridge for alice
lmtp() {
	swaks --server 127.0.0.1 --port "$TB_PORT_BRIDGE" --protocol LMTP \
	    --timeout 20 --helo client.test --from sender@other.test \
	    --to alice@example.test --header "Subject: $1" 2>&1
}
# tls_sessions - how many TLS sessions slapd has logged
tls_sessions() {
	grep -c 'TLS established' "$SLOG"
}

# 1. StartTLS, the right CA
n=$(tls_sessions)
bridge "$TB_LDAP_URI" true "$TB_LDAP_CA"
subject="tb-0534 starttls $$"
out=$(lmtp "$subject")
tb_like "$out" '<- +250 2\.0\.0 <alice@example\.test>' \
    "StartTLS: alice delivered" || tb_diag "$out"
tb_is "$(copies alice@example.test "$subject")" 1 \
    "StartTLS: one copy in alice's Maildir"
tb_ok "StartTLS: slapd saw the STARTTLS operation" \
    grep -q 'STARTTLS' "$SLOG"
tb_ok "StartTLS: slapd logged a TLS session" \
    test "$(tls_sessions)" -gt "$n"

# 2. ldaps://, the right CA
n=$(tls_sessions)
bridge "$TB_LDAPS_URI" false "$TB_LDAP_CA"
subject="tb-0534 ldaps $$"
out=$(lmtp "$subject")
tb_like "$out" '<- +250 2\.0\.0 <alice@example\.test>' \
    "ldaps: alice delivered" || tb_diag "$out"
tb_is "$(copies alice@example.test "$subject")" 1 \
    "ldaps: one copy in alice's Maildir"
tb_ok "ldaps: slapd logged a TLS session on its ldaps port" \
    test "$(tls_sessions)" -gt "$n"

# 3. StartTLS, a CA that did not sign slapd's certificate
bridge "$TB_LDAP_URI" true "$TB/slapd/tls/other-ca.crt"
subject="tb-0534 bad-ca $$"
out=$(lmtp "$subject")
tb_like "$out" '(<-|<\*\*) +451 4\.4\.3 ' \
    "StartTLS, unknown CA: 451 4.4.3 for alice" || tb_diag "$out"
tb_unlike "$out" '(<-|<\*\*) +5[0-9][0-9] ' "StartTLS, unknown CA: no 5xx"
tb_is "$(copies alice@example.test "$subject")" 0 \
    "StartTLS, unknown CA: nothing delivered"
tb_like "$(grep -i "StartTLS" "$BLOG")" "StartTLS: " \
    "StartTLS, unknown CA: the bridge logs the StartTLS failure"

# 4. ldaps://, the same wrong CA
bridge "$TB_LDAPS_URI" false "$TB/slapd/tls/other-ca.crt"
subject="tb-0534 bad-ca-ldaps $$"
out=$(lmtp "$subject")
tb_like "$out" '(<-|<\*\*) +451 4\.4\.3 ' \
    "ldaps, unknown CA: 451 4.4.3 for alice" || tb_diag "$out"
tb_is "$(copies alice@example.test "$subject")" 0 \
    "ldaps, unknown CA: nothing delivered"
tb_ok "the bridge is still running" tb_alive "$(tb_pid bridge)"
tb_done
