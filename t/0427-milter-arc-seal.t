#!/bin/bash
# 0427-milter-arc-seal - ARC sealing (milter.arc_seal_domain) through the
# offline mode (elemta-milter -t), checked by two other implementations:
# python3-dkim's dkim.arc_verify and Perl Mail::DKIM::ARC::Verifier, keys
# from a real unbound.  -t prints the new set as three insert-header:
# lines (AAR, AMS, AS: the seal ends on top), the AAR a copy of our A-R.
# What we seal at i=1 validates as cv=pass with both; a second hop of
# ours with another domain and key makes a valid 2-set chain; so does a
# seal on top of 1- and 2-set chains made by dkim.arc_sign and of a
# 2-set chain made by Mail::DKIM::ARC::Signer; a message
# changed after our seal fails with both.  A chain that failed is sealed
# cv=fail (and fails with both); one whose newest seal says cv=fail is
# not extended.  A message we DKIM-sign is signed, then sealed: the AMS
# covers our DKIM-Signature.  A domain without a key is refused at start.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
ARC=$top_srcdir/t/data/milter/arc-seal.py
milter_require unbound
$PY -c 'import dkim, authres' 2>/dev/null ||
    tb_missing "python3-dkim or python3-authres missing (tools/install-deps)"
perl -MMail::DKIM::ARC::Verifier -MMail::DKIM::ARC::Signer -MNet::DNS \
    -e 1 2>/dev/null ||
    tb_missing "Mail::DKIM::ARC or Net::DNS missing (tools/install-deps)"
tb_init
tb_plan 71

# hop 2's own domain and key, served by unbound with the harness' keys,
# and Mail::DKIM's sealers' (t/data/milter/arc-chain.pl)
milter_arc_keys perl1.test perl2.test
# example.test has an Ed25519 key too, listed first: the seal takes RSA
{
	echo "ed1 example.test:$TB_DKIM_ED25519_SELECTOR:$TB_DKIM_ED25519_KEY"
	cat "$TB/keys"
} >"$TB/keys.new" && mv "$TB/keys.new" "$TB/keys"
echo '*@example.test seal1' >"$TB/signing"

printf '%s\n' "From: User <user@example.test>" "To: alice@remote.test" \
    "Subject: sealed by elemta" "Message-ID: <seal-1@example.test>" \
    "Date: Mon, 01 Jan 2024 00:00:00 +0000" "" \
    "Hello through a forwarder." "A second line." >"$TB/plain.eml"

# seal FILE DOMAIN [ARGS] - -t as an external client, sealing for DOMAIN
seal() {
	local f=$1 d=$2

	shift 2
	milter_offline "$f" 192.0.2.1 user@example.test \
	    -o "milter.dkim_key_table=$TB/keys" \
	    -o "milter.arc_seal_domain=$d" "$@"
}

# pyverify FILE, plverify FILE - the two ARC verifiers (t/lib/milter.sh)
pyverify() {
	milter_arc_pyverify "$1"
}
plverify() {
	milter_arc_plverify "$1"
}

# both FILE WANT WHAT - python3-dkim's status like WANT ("^pass 2
# success"), Mail::DKIM's like its first word
both() {
	tb_like "$(pyverify "$1")" "$2" "$3: python3-dkim arc_verify"
	tb_like "$(plverify "$1")" "${2%% *}" "$3: Mail::DKIM::ARC::Verifier"
}

# on_top IN N WHAT [ARGS] - IN (N sets) sealed by other.test: we
# verify pass, seal i=N+1 cv=pass, both verifiers pass the result
on_top() {
	local in=$1 n=$2 what=$3

	shift 3
	out=$(seal "$in" other.test "$@")
	tb_like "$out" "arc=pass" "$what: we verify pass"
	tb_like "$out" "insert-header: ARC-Seal: i=$((n + 1)); a=rsa-sha256; t=[0-9]+; cv=pass;" \
	    "$what: sealed i=$((n + 1)) cv=pass"
	$PY "$ARC" apply "$in.sealed" "$in" <<<"$out"
	both "$in.sealed" "^pass $((n + 1)) success" "$what"
}

# --- hop 1: a new chain
out=$(seal "$TB/plain.eml" example.test)
tb_is "$(grep -o '^insert-header: [A-Za-z-]*' <<<"$out" | cut -d' ' -f2 |
    xargs)" \
    "Authentication-Results ARC-Authentication-Results ARC-Message-Signature ARC-Seal" \
    "-t: our A-R, then AAR, AMS, AS inserted at the top (the seal ends on top)"
tb_like "$out" $'insert-header: ARC-Seal: i=1; a=rsa-sha256; t=[0-9]+; cv=none;\n\td=example.test; s=sel1;' \
    "hop 1: ARC-Seal i=1 cv=none, d= and s= of the key table's entry (RSA)"
tb_like "$out" $'insert-header: ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test;' \
    "hop 1: AMS relaxed/relaxed, RSA-SHA256"
tb_like "$out" "h=From:To:Subject:Date:From;" \
    "hop 1: AMS over the DKIM signer's headers present, From oversigned"
ar=$(sed -n '/^insert-header: Authentication-Results: /,/^insert-header: ARC/p' <<<"$out" |
    sed '$d' | sed 's/^insert-header: Authentication-Results: //')
aar=$(sed -n '/^insert-header: ARC-Authentication-Results: /,/^insert-header: ARC-Message/p' <<<"$out" |
    sed '$d' | sed 's/^insert-header: ARC-Authentication-Results: //')
tb_is "$aar" "i=1; $ar" "hop 1: the AAR is i=1; and our A-R, byte for byte"
tb_like "$(cat "$TB/stderr")" "TEST: .*arc-seal=i=1\(cv=none d=example.test s=sel1\) action=accept" \
    "hop 1: the summary names the seal"
$PY "$ARC" apply "$TB/hop1.eml" "$TB/plain.eml" <<<"$out"
tb_like "$(head -1 "$TB/hop1.eml")" "^ARC-Seal: i=1" "hop 1: ARC-Seal on top"
both "$TB/hop1.eml" "^pass 1 success" "hop 1"

# --- hop 2: another instance of us, its own domain and key
out=$(seal "$TB/hop1.eml" other.test)
tb_like "$out" "arc=pass smtp.remote-ip=192.0.2.1" "hop 2: hop 1's chain verifies"
tb_like "$out" $'insert-header: ARC-Seal: i=2; a=rsa-sha256; t=[0-9]+; cv=pass;\n\td=other.test; s=arc2;' \
    "hop 2: ARC-Seal i=2 cv=pass with other.test's key"
$PY "$ARC" apply "$TB/hop2.eml" "$TB/hop1.eml" <<<"$out"
both "$TB/hop2.eml" "^pass 2 success" "hop 2"
sed 's/^Subject: sealed by elemta/Subject: sealed by elemtA/' \
    "$TB/hop2.eml" >"$TB/tampered.eml"
both "$TB/tampered.eml" "^fail" "changed after our seal"
sed 's/^A second line\./A second lime./' "$TB/hop2.eml" >"$TB/tampered2.eml"
both "$TB/tampered2.eml" "^fail" "body changed after our seal"

# --- on top of chains made by python3-dkim's dkim.arc_sign
for n in 1 2; do
	$PY "$ARC" chain "$TB/plain.eml" "$TB_DKIM_RSA_KEY" example.test \
	    "$TB_DKIM_RSA_SELECTOR" "$n" >"$TB/py$n.eml"
	tb_like "$(pyverify "$TB/py$n.eml")" "^pass $n " \
	    "arc_sign: a $n-set chain (python3-dkim's own check)"
	on_top "$TB/py$n.eml" "$n" "on arc_sign's $n sets"
done

# --- on top of a chain made by Mail::DKIM::ARC::Signer (two hops)
milter_arc_chain pl "$TB/plain.eml" "$TB/pl2.eml" perl1.test perl2.test
on_top "$TB/pl2.eml" 2 "on Mail::DKIM's 2 sets"

# --- a failed chain: sealed cv=fail, then never extended
sed 's/^Hello through a forwarder\./Hello through a forwardex./' \
    "$TB/py2.eml" >"$TB/broken.eml"
out=$(seal "$TB/broken.eml" other.test)
tb_like "$out" "arc=fail" "a chain changed in transit: arc=fail"
tb_like "$out" "insert-header: ARC-Seal: i=3; a=rsa-sha256; t=[0-9]+; cv=fail;" \
    "a failed chain is sealed cv=fail (RFC 8617 5.1.2)"
$PY "$ARC" apply "$TB/failed.eml" "$TB/broken.eml" <<<"$out"
both "$TB/failed.eml" "^fail" "the cv=fail chain"
out=$(seal "$TB/failed.eml" example.test)
tb_unlike "$out" "ARC-Seal:" "newest seal cv=fail: not extended"
tb_like "$(cat "$TB/stderr")" "arc-seal: not sealed: the newest ARC-Seal says cv=fail" \
    "... and the log says why"

# --- hostile chains: 60 sets, a duplicate instance
{
	for i in $(seq 60 -1 1); do
		echo "ARC-Seal: i=$i; a=rsa-sha256; cv=pass; d=x.test; s=s; b=AAAA"
		echo "ARC-Message-Signature: i=$i; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA"
		echo "ARC-Authentication-Results: i=$i; mx.x.test; none"
	done
	cat "$TB/plain.eml"
} >"$TB/sixty.eml"
out=$(seal "$TB/sixty.eml" example.test)
tb_like "$out" "verdict: accept" "60 ARC sets: a verdict, no crash"
tb_unlike "$out" "ARC-Seal:" "60 ARC sets: not sealed"
tb_like "$(cat "$TB/stderr")" "arc-seal: not sealed: the chain has the most ARC sets already" \
    "... saying why"
{
	sed -n '1,/^$/p' "$TB/py1.eml" | grep -i '^ARC-\|^[ \t]' | sed -n '1,/^ARC-Authentication/p'
	cat "$TB/py1.eml"
} >"$TB/dup.eml"
out=$(seal "$TB/dup.eml" other.test)
tb_like "$out" "arc=fail \\(duplicate ARC header" "a duplicate instance: arc=fail (duplicate)"
tb_like "$out" "insert-header: ARC-Seal: i=2; a=rsa-sha256; t=[0-9]+; cv=fail;" \
    "a duplicate instance: sealed cv=fail above it"

# --- keys that cannot be looked up: no cv=fail for a DNS failure
out=$(seal "$TB/py2.eml" other.test -o "dns.nameservers=127.0.0.1@$(tb_port 99)" \
    -o dns.timeout=1)
tb_unlike "$out" "ARC-Seal:" "the chain's keys not found (DNS error): not sealed"
tb_like "$(cat "$TB/stderr")" "arc-seal: not sealed: the chain's keys could not be looked up" \
    "... and the log says why"
tb_like "$(cat "$TB/stderr")" "arc dns=[a-z]+ name=sel1\._domainkey\.[a-z0-9.]+ reason=" \
    "... the failed ARC key lookup logged as arc"
tb_unlike "$(cat "$TB/stderr")" "dkim dns=" "... not as dkim"

# --- signed, then sealed
out=$(seal "$TB/plain.eml" example.test -o "milter.dkim_signing_table=$TB/signing" \
    --auth PLAIN)
tb_is "$(grep -o '^insert-header: [A-Za-z-]*' <<<"$out" | cut -d' ' -f2 |
    xargs)" \
    "Authentication-Results DKIM-Signature ARC-Authentication-Results ARC-Message-Signature ARC-Seal" \
    "signed and sealed: the set above the DKIM-Signature"
tb_like "$out" "h=DKIM-Signature:From:To:Subject:Date:From;" \
    "signed and sealed: the AMS covers our DKIM-Signature"
$PY "$ARC" apply "$TB/signed.eml" "$TB/plain.eml" <<<"$out"
both "$TB/signed.eml" "^pass 1 success" "signed and sealed"
tb_like "$($PY "$top_srcdir/t/data/milter/dkim-sign-verify.py" \
    "$TB/signed.eml" "$TB_DNS" 2>&1)" "a=rsa-sha256 d=example.test s=sel1 pass" \
    "signed and sealed: the DKIM signature still passes"

# an authenticated forwarder's chained message: signed, verified, sealed
cp "$TB/py1.eml" "$TB/signed-py1.eml"
on_top "$TB/signed-py1.eml" 1 "signed and sealed on a 1-set chain" \
    -o "milter.dkim_signing_table=$TB/signing" --auth PLAIN
tb_like "$out" "insert-header: DKIM-Signature: v=1; a=rsa-sha256" \
    "... and signed"
# a chain we did not verify (arc = false) is left alone
out=$(seal "$TB/py1.eml" example.test -o milter.arc=false)
tb_unlike "$out" "ARC-Seal:" "arc = false: a chain not verified is not sealed"
tb_like "$(cat "$TB/stderr")" "arc-seal: not sealed: the chain was not verified" \
    "... saying why"

# --- the key table's Ed25519-only domain seals with Ed25519
{
	echo "ed1 example.test:$TB_DKIM_ED25519_SELECTOR:$TB_DKIM_ED25519_KEY"
} >"$TB/keys-ed"
out=$(milter_offline "$TB/plain.eml" 192.0.2.1 user@example.test \
    -o "milter.dkim_key_table=$TB/keys-ed" -o milter.arc_seal_domain=example.test)
tb_like "$out" "insert-header: ARC-Seal: i=1; a=ed25519-sha256;" \
    "an Ed25519-only domain: one Ed25519 seal"
tb_like "$out" "insert-header: ARC-Message-Signature: i=1; a=ed25519-sha256;" \
    "... and an Ed25519 AMS"
$PY "$ARC" apply "$TB/ed.eml" "$TB/plain.eml" <<<"$out"
tb_like "$(seal "$TB/ed.eml" other.test)" "arc=pass" \
    "the Ed25519 set: our verifier passes it (python3-dkim and Mail::DKIM know no Ed25519 ARC)"

# --- not sealed: no domain, a rejected message; refused: no key
out=$(milter_offline "$TB/plain.eml" 192.0.2.1 user@example.test \
    -o "milter.dkim_key_table=$TB/keys" -o "milter.dkim_signing_table=$TB/signing")
tb_unlike "$out" "ARC-" "arc_seal_domain empty: no seal"
{
	for i in $(seq 1 12); do echo "X-Filler-$i: $i"; done
	cat "$TB/plain.eml"
} >"$TB/many.eml"
out=$(seal "$TB/many.eml" example.test -o milter.max_headers=10 \
    -o milter.header_cap_action=accept)
tb_unlike "$out" "ARC-Seal" "headers beyond the caps: not sealed"
tb_like "$(cat "$TB/stderr")" "arc-seal: not sealed: headers beyond the caps" \
    "... logged"
out=$(seal "$TB/many.eml" example.test -o milter.max_headers=10 \
    -o milter.header_cap_action=reject)
tb_like "$out" "verdict: reject" "a rejected message ..."
tb_unlike "$out" "ARC-Seal" "... is not sealed"
out=$(seal "$TB/plain.eml" nokey.test 2>&1)
tb_is "$?" 1 "a domain without a key: refused at start"
tb_like "$(cat "$TB/stderr")" "arc_seal_domain nokey.test has no key in dkim_key_table" \
    "... saying so"
out=$(milter_offline "$TB/plain.eml" 192.0.2.1 user@example.test \
    -o milter.arc_seal_domain=example.test)
tb_like "$(cat "$TB/stderr")" "arc_seal_domain example.test needs dkim_key_table" \
    "arc_seal_domain without a key table: a configuration error"

# --- a sealing key too large to sign with (8704 bits): not sealed, the
# log names the key, its size and the most a seal takes
install -m 0600 "$top_srcdir/t/data/milter/big-rsa.pem" "$TB/big.pem"
echo "sealbig example.test:big:$TB/big.pem" >"$TB/keys-big"
out=$(milter_offline "$TB/plain.eml" 192.0.2.1 user@example.test \
    -o "milter.dkim_key_table=$TB/keys-big" -o milter.arc_seal_domain=example.test)
tb_unlike "$out" "ARC-Seal" "an 8704-bit sealing key: not sealed"
tb_like "$(cat "$TB/stderr")" \
    'arc-seal: not sealed: key too large: key=sealbig bits=8704, at most 8192 to seal' \
    "... logged with the key's size and the limit"

tb_done
