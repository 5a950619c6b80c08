#!/bin/bash
# 0453-milter-postfix-badinput - bad input through a real private
# Postfix with elemta-milter as smtpd_milters: 1000 extra headers, a
# 1 MB header, binary garbage, broken MIME (an unclosed boundary).
# Each has a defined, logged outcome: the header caps (max_headers,
# max_header_size) are logged with the number of unchecked headers and
# act as header_cap_action says (accept by default; 452 4.3.4 for
# tempfail, 552 5.3.4 for reject); garbage and broken MIME get their
# Authentication-Results like any message.  The milter survives all of
# it.  Forged Authentication-Results (6 KB of folding white space or a
# 5 KB comment before our authserv-id, another spelling of the field
# name) are removed.  Last, a DKIM key table naming a key file of mode 0644 is refused
# at start with a clear error.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound
tb_init
tb_plan 25
peer_start_unbound
milter_start
# Postfix cuts a header at header_size_limit (100 KB): let the 1 MB
# header through to the milter whole.
milter_postfix "header_size_limit = 2000000"

# msg_head SUBJECT - the usual headers, CRLF
msg_head() {
	printf 'From: User <user@example.test>\r\nTo: bob@sink.test\r\n'
	printf 'Subject: %s\r\nMessage-ID: <%s@example.test>\r\n' "$1" \
	    "${1// /-}"
	printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n'
}

# many_headers SUBJECT N - a message with N extra headers
many_headers() {
	msg_head "$1"
	awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "X-Filler-%d: filler header number %d\r\n", i, i }'
	printf '\r\nbody\r\n'
}

# big_header SUBJECT BYTES - one folded header of about BYTES bytes
big_header() {
	msg_head "$1"
	printf 'X-Big: start\r\n'
	awk -v n="$2" 'BEGIN { l = "\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n";
	    for (i = 0; i < n; i += length(l)) printf "%s", l }'
	printf '\r\nbody\r\n'
}

alive() {
	tb_ok "$1" kill -0 "$(tb_pid milter)"
}

# 1000 extra headers: over max_headers (1000) with the usual ones
many_headers "many headers" 1000 >"$TB/many.eml"
out=$(milter_send "many headers" --data "$TB/many.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "1000 headers: accepted by default" ||
    tb_diag "$(tail -5 <<<"$out")"
f=$(milter_wait_delivered "many headers")
tb_like "$(milter_authres "$f")" '^spf=pass ' "1000 headers: delivered with our A-R"
tb_like "$(milter_log 'header cap reached: header=X-Filler-[0-9]+ ')" \
    "max_headers=1000" "1000 headers: the cap is logged"
tb_like "$(milter_log 'headers_unchecked=[0-9]+ .*action=accept')" \
    "headers_unchecked=[1-9]" "1000 headers: the decision line counts them"

milter_set header_cap_action=tempfail
many_headers "many headers tempfail" 1000 >"$TB/many2.eml"
out=$(milter_send "many headers tempfail" --data "$TB/many2.eml")
tb_like "$out" '<\*\* +452 4\.3\.4 message headers exceed the limits' \
    "1000 headers, header_cap_action=tempfail: 452 4.3.4"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.1\]: 4\.3\.4 ')" \
    "4\.3\.4" "... and Postfix logs the milter-reject"
tb_like "$(milter_log 'headers_unchecked=.*action=tempfail by=header-cap')" \
    "by=header-cap" "... and the milter says why"

# a 1 MB header.  With a milter that edits headers, Postfix 3.7 keeps
# (and passes on) about the first 60 KB of it whatever header_size_limit
# says, under the default max_header_size (64 KB): the cap is set to
# 16 KB here so that it acts.
milter_set max_header_size=16384
big_header "big header" 1048576 >"$TB/big.eml"
out=$(milter_send "big header" --data "$TB/big.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "1 MB header: accepted by default" ||
    tb_diag "$(tail -5 <<<"$out")"
f=$(milter_wait_delivered "big header")
tb_like "$(milter_authres "$f")" '^spf=pass ' "1 MB header: delivered with our A-R"
tb_like "$(milter_log 'header cap reached: header=X-Big size=[0-9]{5,7}')" \
    "max_header_size=16384" "1 MB header: the cap is logged with its size"
milter_set max_header_size=16384 header_cap_action=reject
big_header "big header reject" 1048576 >"$TB/big2.eml"
out=$(milter_send "big header reject" --data "$TB/big2.eml")
tb_like "$out" '<\*\* +552 5\.3\.4 message headers exceed the limits' \
    "1 MB header, header_cap_action=reject: 552 5.3.4"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.1\]: 5\.3\.4 ')" \
    "5\.3\.4" "... and Postfix logs the milter-reject"
alive "the milter is alive after the big headers"

# binary garbage: 8-bit header bytes, random body bytes (no NUL: SMTP
# DATA cannot carry those through swaks)
milter_set
{
	msg_head "garbage"
	printf 'X-Junk: \x01\x7f\xff\xfe\xc3\x28\r\n\r\n'
	head -c 200000 /dev/urandom | tr -d '\000'
	printf '\r\n'
} >"$TB/garbage.eml"
out=$(milter_send "garbage" --data "$TB/garbage.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "garbage: accepted" ||
    tb_diag "$(tail -5 <<<"$out")"
f=$(milter_wait_delivered "garbage")
tb_like "$(milter_authres "$f")" '^spf=pass .*dmarc=pass' \
    "garbage: delivered with our A-R"
tb_like "$(milter_log "$(milter_queue_id "$out"): spf=pass .*action=accept")" \
    "action=accept" "garbage: one decision line in the milter's log"

# broken MIME: a boundary that is never closed, a part with no end
{
	msg_head "broken mime"
	printf 'MIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="XYZ\r\n\r\n'
	printf -- '--XYZ\r\nContent-Type: text/plain\r\n\r\npart one\r\n'
	printf -- '--XYZ\r\nContent-Type: multipart/alternative; boundary=\r\n'
	printf 'Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n'
} >"$TB/mime.eml"
out=$(milter_send "broken mime" --data "$TB/mime.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "broken MIME: accepted" ||
    tb_diag "$(tail -5 <<<"$out")"
f=$(milter_wait_delivered "broken mime")
tb_like "$(milter_authres "$f")" '^spf=pass ' "broken MIME: delivered with our A-R"
alive "the milter is alive after garbage and broken MIME"

# forged Authentication-Results as Postfix passes them on: 6 KB of
# folding white space before our authserv-id, another spelling of the
# field name (case, white space before the colon: the same field to
# Postfix and to mail readers), a long comment first; another host's
# header stays.
{
	msg_head "forged ar"
	printf 'Authentication-Results:'
	for i in $(seq 1 100); do printf '                                                          \r\n'; done
	printf '\t%s; dkim=pass header.d=example.test\r\n' "$TB_MILTER_AUTHSERV"
	printf 'AUTHENTICATION-results  : (%s) %s; spf=pass\r\n' \
	    "$(printf 'c%.0s' $(seq 1 5000))" "$TB_MILTER_AUTHSERV"
	printf 'Authentication-Results: other.example; spf=fail\r\n'
	printf '\r\nbody\r\n'
} >"$TB/ar.eml"
out=$(milter_send "forged ar" --data "$TB/ar.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "forged A-R: accepted" ||
    tb_diag "$(tail -5 <<<"$out")"
f=$(milter_wait_delivered "forged ar")
tb_is "$(milter_headers "$f" | grep -ci "^authentication-results *:.*$TB_MILTER_AUTHSERV;")" 1 \
    "forged A-R: only our own header claims our authserv-id"
tb_like "$(milter_headers "$f" | grep -i '^authentication-results')" \
    "other\.example; spf=fail" "forged A-R: another host's header is kept"

# and still works
out=$(milter_send "after")
f=$(milter_wait_delivered "after")
tb_like "$(milter_authres "$f")" '^spf=pass .*dmarc=pass' \
    "a normal message afterwards gets its A-R"

# a key table naming a private key that others can read: refused
cp "$TB_DKIM_RSA_KEY" "$TB/open.private"
chmod 0644 "$TB/open.private"
echo "k1 example.test:sel1:$TB/open.private" >"$TB/keys"
echo '*@example.test k1' >"$TB/signing"
rc=0
out=$(timeout 30 "$MILTER" -f -c /dev/null \
    -o "milter.listen=inet:127.0.0.1:$TB_PORT_METRICS" -o milter.user= \
    -o "milter.dkim_key_table=$TB/keys" \
    -o "milter.dkim_signing_table=$TB/signing" \
    -o "dns.nameservers=$TB_DNS" 2>&1) || rc=$?
tb_ok "key of mode 0644: the milter refuses to start" test "$rc" -ne 0 -a "$rc" -ne 124
tb_like "$out" "open\.private: mode 0644: a private key" \
    "key of mode 0644: the error names the file and the mode" ||
    tb_diag "$out"
tb_done
