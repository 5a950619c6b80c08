#!/bin/bash
# 0460-milter-steering - nothing a sender writes may weaken the verdict
# (issue 10), through the offline mode (elemta-milter -t) and the
# harness' unbound:
#   forged Authentication-Results claiming our authserv-id are removed
#   whatever the CFWS before the id (a long fold, a long comment);
#   an SPF record that spends the lookups leaves DMARC its own;
#   an unreadable From (unclosed comment), a From hidden past the
#   header caps, several From fields, addresses in several domains:
#   each follows the From domains' published policy, the strictest;
#   a DKIM signature with l= short of the body is dkim=policy and does
#   not satisfy DMARC (unless dkim_partial_body_pass);
#   max_check_time bounds the time the lookups of one message may take.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require unbound
$PY -c 'import dkim' 2>/dev/null || tb_missing "python3-dkim missing"
tb_init
tb_plan 25

# burn.test: an SPF record of six lookups, more than a budget of 3.
cat >"$TB/extra-zones.conf" <<'EOF2'
local-zone: "burn.test." static
local-data: 'burn.test. 300 IN TXT "v=spf1 a:a1.burn.test a:a2.burn.test a:a3.burn.test a:a4.burn.test a:a5.burn.test a:a6.burn.test -all"'
EOF2
peer_start_unbound "$TB/extra-zones.conf"

# body - the rest of a test message after its From fields
body() {
	cat <<'EOF2'
To: alice@example.test
Subject: steering test
Message-ID: <steer@example.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello.
EOF2
}

# run FILE IP SENDER [ARGS] - elemta-milter -t with DMARC enforced
run() {
	local f=$1 ip=$2 s=$3

	shift 3
	milter_offline "$f" "$ip" "$s" -o milter.dmarc_enforce=true "$@"
}

# --- Forged A-R: the whole header decides, any CFWS before the id.
pad=$(printf ' %.0s' $(seq 1 6000))
{
	printf 'Authentication-Results:%s\n\t mx.elemta.test; dkim=pass header.d=example.test\n' "$pad"
	printf 'Authentication-Results: (%s) mx.elemta.test; spf=pass\n' \
	    "$(printf 'c%.0s' $(seq 1 9000))"
	printf 'Authentication-Results: other.example; spf=pass\n'
	echo "From: user@example.test"
	body
} >"$TB/ar.eml"
out=$(run "$TB/ar.eml" 192.0.2.1 user@example.test)
tb_like "$out" "delete-header: Authentication-Results 1" \
    "an A-R with 6000 bytes of folding white space before our id is removed"
tb_like "$out" "delete-header: Authentication-Results 2" \
    "an A-R with a 9000-byte comment before our id is removed"
tb_unlike "$out" "delete-header: Authentication-Results 3" \
    "another host's A-R is kept"

# --- DNS budget: SPF spends its own lookups, DMARC keeps its own.
{ echo "From: ceo@example.test"; body; } >"$TB/ex.eml"
out=$(run "$TB/ex.eml" 192.0.2.10 user@burn.test -o milter.max_dns_lookups=3)
log=$(cat "$TB/stderr")
tb_like "$log" "TEST: spf=(temperror|permerror) " \
    "an SPF record beyond max_dns_lookups does not pass"
tb_like "$log" "dmarc=fail\(example\.test\)" \
    "DMARC still gets its record after SPF spent its lookups"
tb_like "$out" "^verdict: reject 550 5\.7\.1 " \
    "p=reject is enforced, not turned into temperror/accept"

# --- An unreadable From: the domains a client may show still count.
{ echo "From: (PayPal <ceo@example.test>"; body; } >"$TB/unclosed.eml"
out=$(run "$TB/unclosed.eml" 192.0.2.10 user@other.test \
    -o milter.dmarc_enforce=false)
tb_like "$out" "dmarc=fail \(p=REJECT sp=REJECT dis=NONE\) reason=\"unparseable From\" header\.from=example\.test" \
    "unclosed comment: example.test's policy is evaluated"
out=$(run "$TB/unclosed.eml" 192.0.2.10 user@other.test)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "unclosed comment: rejected per p=reject"
{ echo 'From: "PayPal <ceo@example.test>'; body; } >"$TB/unquoted.eml"
out=$(run "$TB/unquoted.eml" 192.0.2.10 user@other.test)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "unclosed quote: rejected per p=reject"
{ echo "From: PayPal"; body; } >"$TB/nodomain.eml"
out=$(run "$TB/nodomain.eml" 192.0.2.10 user@other.test)
tb_like "$out" "dmarc=permerror reason=\"unparseable From\"" \
    "no domain anywhere: permerror"
tb_like "$out" "verdict: accept" "... and dmarc_bad_from_action (accept)"

# --- A From hidden past max_headers is still judged.
{
	for i in $(seq 1 20); do echo "X-Filler-$i: x"; done
	echo "From: ceo@example.test"
	body
} >"$TB/late.eml"
out=$(run "$TB/late.eml" 192.0.2.10 user@other.test -o milter.max_headers=10)
tb_like "$(cat "$TB/stderr")" "headers_unchecked=[0-9]+ .*dmarc=fail\(example\.test\)" \
    "From past max_headers: evaluated"
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "From past max_headers: rejected"

# --- Several From fields, one domain (RFC 7489 6.6.1): that domain.
{ echo "From: a@example.test"; echo "From: b@example.test"; body; } \
    >"$TB/two.eml"
out=$(run "$TB/two.eml" 192.0.2.10 user@other.test)
tb_like "$(cat "$TB/stderr")" "dmarc=fail\(example\.test\) action=reject" \
    "two From fields in one domain: evaluated"
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "... and rejected"
# Several domains: each evaluated, the strictest failing policy wins,
# though SPF passes (and aligns) for the other one.
{ echo "From: a@other.test, b@example.test"; body; } >"$TB/multi.eml"
out=$(run "$TB/multi.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=false)
tb_like "$out" "dmarc=fail \(p=REJECT sp=REJECT dis=NONE\) reason=\"From addresses in several domains\" header\.from=example\.test" \
    "two domains: the failing p=reject one is reported"
out=$(run "$TB/multi.eml" 192.0.2.10 user@other.test)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "... and enforced"
{ echo "From: a@other.test"; echo "From: b@example.test"; body; } \
    >"$TB/multi2.eml"
out=$(run "$TB/multi2.eml" 192.0.2.10 user@other.test)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " \
    "two From fields in two domains: enforced too"

# --- DKIM l=: a signature over part of the body.
milter_pydkim_sign "$TB/ex.eml" "$TB/partial.eml" --length
# What anyone can add below a signature with l=:
printf 'Click http://evil.example/ now\r\n' >>"$TB/partial.eml"
out=$(run "$TB/partial.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=false)
tb_like "$out" "dkim=policy \(l=[0-9]+ signs part of the [0-9]+-byte body\) header\.d=example\.test" \
    "l= short of the body: dkim=policy"
tb_like "$out" "dmarc=fail \(p=REJECT" "... which does not satisfy DMARC"
out=$(run "$TB/partial.eml" 192.0.2.10 user@other.test)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "... so p=reject applies"
out=$(run "$TB/partial.eml" 192.0.2.10 user@other.test \
    -o milter.dkim_partial_body_pass=true)
tb_like "$out" "dkim=pass \(l=[0-9]+ signs part of the [0-9]+-byte body\) header\.d=example\.test" \
    "dkim_partial_body_pass=true: pass, marked"
tb_like "$out" "verdict: accept" "... and DMARC passes"

# --- max_check_time: a nameserver that never answers, ten signatures.
{
	for i in $(seq 1 10); do
		printf 'DKIM-Signature: v=1; a=rsa-sha256; d=d%s.test; s=s; h=from; bh=AAAA; b=AAAA\n' "$i"
	done
	echo "From: ceo@example.test"
	body
} >"$TB/slow.eml"
dead=$(tb_port 99)
"$MILTER" -c /dev/null -o "dns.nameservers=127.0.0.1@$dead" \
    -o dns.timeout=30 -o dns.retries=0 -o milter.authserv_id=mx.elemta.test \
    -o milter.max_check_time=1 -o milter.dmarc=false -t "$TB/slow.eml" \
    --client-ip 192.0.2.10 --helo mail.test --sender user@example.test \
    --rcpt alice@example.test >"$TB/slow.out" 2>"$TB/stderr"
tb_like "$(cat "$TB/stderr")" "TEST: .*spf=temperror .*dns_lookups=1 " \
    "one lookup waited out the 1 s budget; none was started after it"
tb_like "$(cat "$TB/stderr")" "dns=limit name=s\._domainkey\.d2\.test reason=\"time budget of 1000 ms" \
    "... and the lookups refused say why"
tb_done
