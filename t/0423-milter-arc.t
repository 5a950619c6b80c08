#!/bin/bash
# 0423-milter-arc - the ARC stage (RFC 8617 verification) through the
# offline mode (elemta-milter -t) against a real unbound carrying the
# sealers' keys: chains sealed by python3-dkim (dkim.arc_sign) and by
# Perl Mail::DKIM (Mail::DKIM::ARC::Signer), 1 to 3 hops, pass with
# smtp.remote-ip; header.oldest-pass when older AMS survive, and the
# lowest one left when a middle hop changed the body; a tampered middle
# hop and a body changed after the last seal fail with the reason and
# instance; bad input (60 sets, a 1 MB ARC header, duplicate instances)
# is a clear arc=fail, never a crash; a sealer's key over
# dkim_max_key_bits (8704 bits, t/data/milter/big-rsa.pem) fails the
# chain, said and logged; arc = false leaves ARC out; the
# trusted-sealer override of a DMARC reject (A-R, history row) and the
# untrusted case, still rejected.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require unbound sqlite3
milter_require_arc_signers
tb_init
tb_plan 46

# The sealers' keys: the harness' RSA key at sel1 of each domain, and
# an 8704-bit one at sel1 of big.test.
BIG=$top_srcdir/t/data/milter/big-rsa.pem
BIGPUB=$(openssl pkey -in "$BIG" -pubout -outform DER 2>/dev/null |
    base64 -w0)
[[ ${#BIGPUB} -gt 1400 ]] || tb_bail "cannot read $BIG"
milter_arc_zones list.test fwd2.test fwd3.test evil.test
{
	printf 'local-zone: "big.test." static\n'
	printf "local-data: 'sel1._domainkey.big.test. 300 IN TXT %s'\n" \
	    "$(peer_txt_strings "v=DKIM1; k=rsa; p=$BIGPUB")"
} >"$TB/big-zones.conf"
peer_start_unbound "$TB/arc-zones.conf" "$TB/big-zones.conf"

cat >"$TB/plain.eml" <<'EOF'
From: User <user@example.test>
To: alice@example.test
Subject: ARC hop test
Message-ID: <arc-hop-1@example.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello ARC.
A second line.
EOF

# pychain OUT HOP... / plchain OUT DOMAIN... - the message through
# python3-dkim / Mail::DKIM sealers
pychain() {
	milter_arc_chain py "$TB/plain.eml" "$TB/$1" "${@:2}"
}
plchain() {
	milter_arc_chain pl "$TB/plain.eml" "$TB/$1" "${@:2}"
}

# run FILE [ARGS] - -t as an external client (SPF fails for
# example.test there, so DMARC fails under its p=reject)
run() {
	local f=$1

	shift
	milter_offline "$TB/$f" 192.0.2.99 user@example.test "$@"
}

# arc OUT - the arc= result of a -t output, unfolded
arc() {
	sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\+/ /g' <<<"$1" |
	    grep -o 'arc=[a-z]*[^;]*' | head -1
}

IP='smtp\.remote-ip=192\.0\.2\.99'

# python3-dkim: 1, 2, 3 hops
pychain py1.eml list.test
out=$(run py1.eml)
tb_like "$(arc "$out")" "^arc=pass $IP\$" \
    "python3-dkim, 1 hop: arc=pass with smtp.remote-ip, no oldest-pass"
pychain py2.eml list.test fwd2.test
out=$(run py2.eml)
tb_like "$(arc "$out")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "python3-dkim, 2 hops: arc=pass, header.oldest-pass=1"
pychain py3.eml list.test fwd2.test fwd3.test
out=$(run py3.eml)
tb_like "$(arc "$out")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "python3-dkim, 3 hops: arc=pass, header.oldest-pass=1"
tb_like "$(grep 'action=' "$TB/stderr")" 'arc=pass\(i=3 sealer=fwd3\.test\)' \
    "3 hops: the log names the instance and the newest sealer"

# Perl Mail::DKIM: 1, 2, 3 hops
plchain pl1.eml list.test
tb_like "$(arc "$(run pl1.eml)")" "^arc=pass $IP\$" \
    "Mail::DKIM, 1 hop: arc=pass"
plchain pl2.eml list.test fwd2.test
tb_like "$(arc "$(run pl2.eml)")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "Mail::DKIM, 2 hops: arc=pass, header.oldest-pass=1"
plchain pl3.eml list.test fwd2.test fwd3.test
tb_like "$(arc "$(run pl3.eml)")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "Mail::DKIM, 3 hops: arc=pass, header.oldest-pass=1"

# oldest-pass: hop 2 adds a footer (AMS 1 no longer verifies, AMS 2 and
# 3 cover the new body)
pychain body2.eml list.test fwd2.test:body fwd3.test
tb_like "$(arc "$(run body2.eml)")" "^arc=pass $IP header\.oldest-pass=2\$" \
    "a footer at hop 2 of 3: arc=pass, header.oldest-pass=2"
pychain body3.eml list.test fwd2.test fwd3.test:body
tb_like "$(arc "$(run body3.eml)")" "^arc=pass $IP\$" \
    "a footer at the last hop: pass, no older AMS survives, no oldest-pass"
pychain subj2.eml list.test fwd2.test:subject fwd3.test
tb_like "$(arc "$(run subj2.eml)")" "^arc=pass $IP header\.oldest-pass=2\$" \
    "a Subject tag at hop 2 of 3: header.oldest-pass=2"

# failures: a tampered middle hop, a body changed after the last seal
pychain tamper.eml list.test fwd2.test fwd3.test tamper=2
out=$(run tamper.eml)
tb_like "$(arc "$out")" \
    '^arc=fail \(ARC-Seal does not pass, i=3: signature verification failed\) '"$IP"'$' \
    "A-AR of hop 2 tampered: arc=fail, seal 3 named"
tb_like "$(grep 'arc result=fail' "$TB/stderr")" 'sets=3 reason="ARC-Seal' \
    "the failure is logged with its reason"
sed 's/^A second line\./A changed line./' "$TB/py3.eml" >"$TB/changed.eml"
out=$(run changed.eml)
tb_like "$(arc "$out")" \
    '^arc=fail \(ARC-Message-Signature does not pass, i=3: body hash' \
    "body changed after the last seal: arc=fail, AMS 3 named"
plchain plt.eml list.test fwd2.test
sed 's/^\(ARC-Authentication-Results: i=1;.*\)spf=pass/\1spf=fail/' \
    "$TB/plt.eml" >"$TB/plt2.eml"
tb_like "$(arc "$(run plt2.eml)")" '^arc=fail \(ARC-Seal does not pass, i=2' \
    "Mail::DKIM chain, A-AR 1 tampered: arc=fail"

# a seal by a domain without a key
sed 's/^\(ARC-Seal: i=3;.*\)d=fwd3\.test/\1d=nokey.test/' "$TB/py3.eml" \
    >"$TB/nokey.eml"
tb_like "$(arc "$(run nokey.eml)")" '^arc=fail \(ARC-Seal does not pass, i=3' \
    "seal 3's key not found: arc=fail"

# a sealer's key over dkim_max_key_bits (default 8192): refused before
# any RSA operation, as DKIM's are
/usr/bin/python3 "$TB_DATA/milter/arc-chain.py" "$BIG" "$TB/plain.eml" \
    "$TB/big.eml" big.test || tb_bail "arc-chain.py with $BIG failed"
tb_like "$(arc "$(run big.eml)")" \
    '^arc=fail \(ARC-Message-Signature does not pass, i=1: key too large\)' \
    "an 8704-bit sealer key: arc=fail (key too large)"
tb_like "$(grep 'arc result=fail' "$TB/stderr")" \
    'sets=1 reason="ARC-Message-Signature does not pass, i=1: key too large"' \
    "... logged"
tb_like "$(grep 'arc result=fail' "$TB/stderr")" \
    'key too large" bits=8704 dkim_min_key_bits=1024 dkim_max_key_bits=8192 exponent_bits=17$' \
    "... with the key's size and the limits"
tb_like "$(arc "$(run big.eml -o milter.dkim_max_key_bits=16384)")" \
    "^arc=pass $IP\$" "dkim_max_key_bits=16384: the same chain passes"

# DKIM-signed, then sealed: the AMS take DKIM's body hash (same
# canonicalization and hash), and both still see a changed body
milter_pydkim_sign "$TB/plain.eml" "$TB/signed.eml" --canon relaxed/relaxed \
    --headers from,to,subject,date
milter_arc_chain py "$TB/signed.eml" "$TB/signed-arc.eml" list.test fwd2.test
out=$(run signed-arc.eml)
tb_like "$out" 'dkim=pass .*header\.d=example\.test' \
    "DKIM-signed and sealed: dkim=pass"
tb_like "$(arc "$out")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "DKIM-signed and sealed: arc=pass (AMS on DKIM's body hash)"
sed 's/^A second line\./A changed line./' "$TB/signed-arc.eml" \
    >"$TB/signed-changed.eml"
out=$(run signed-changed.eml)
tb_like "$(arc "$out")" '^arc=fail \(ARC-Message-Signature does not pass, i=2: body hash' \
    "DKIM-signed and sealed, body changed: arc=fail"
tb_like "$out" 'dkim=fail \(body hash' \
    "DKIM-signed and sealed, body changed: dkim=fail"

# a message being DKIM-signed (an authenticated list server) is
# verified too: the seal that may follow needs the chain's state
milter_signing_tables
out=$(run py2.eml --auth PLAIN -o "milter.dkim_key_table=$TB/keys" \
    -o "milter.dkim_signing_table=$TB/signing")
tb_like "$out" 'insert-header: DKIM-Signature: ' \
    "signed on the way out: DKIM-Signature added"
tb_like "$(arc "$out")" "^arc=pass $IP header\.oldest-pass=1\$" \
    "signed on the way out: the chain is verified, arc=pass"

# none
out=$(run plain.eml)
tb_like "$(arc "$out")" '^arc=none$' "no ARC header: arc=none"

# bad input: no crash, a clear fail
milter_arc_sixty "$TB/plain.eml" "$TB/sixty.eml"
out=$(run sixty.eml)
tb_like "$(arc "$out")" '^arc=fail \(too many ARC sets\)' "60 ARC sets: arc=fail"
tb_like "$out" 'verdict: accept' "60 ARC sets: a verdict, no crash"

milter_arc_bloat "$TB/py1.eml" "$TB/big.eml"
out=$(run big.eml)
tb_like "$(arc "$out")" '^arc=fail \(incomplete ARC set, i=1\)' \
    "a 1 MB AMS, over max_header_size: dropped, arc=fail (incomplete set)"
tb_like "$out" 'verdict: accept' "a 1 MB AMS: a verdict, no crash"
out=$(run big.eml -o milter.max_header_size=2097152)
tb_like "$(arc "$out")" '^arc=fail \(ARC header too long\)' \
    "a 1 MB AMS within max_header_size: arc=fail (ARC header too long)"

sed -n '/^ARC-Seal: i=1;/,/^ARC-Message-Signature/p' "$TB/py2.eml" |
    sed '$d' >"$TB/dupseal"
cat "$TB/dupseal" "$TB/py2.eml" >"$TB/dup.eml"
out=$(run dup.eml)
tb_like "$(arc "$out")" '^arc=fail \(duplicate ARC header, i=1\)' \
    "a second ARC-Seal i=1: arc=fail (duplicate)"
sed 's/^ARC-Seal: i=2;/ARC-Seal: i=1;/' "$TB/py2.eml" >"$TB/dup2.eml"
tb_like "$(arc "$(run dup2.eml)")" '^arc=fail \(duplicate ARC header' \
    "two seals claiming i=1: arc=fail (duplicate)"
sed 's/^ARC-Seal: i=3;/ARC-Seal: i=7;/' "$TB/py3.eml" >"$TB/gap.eml"
tb_like "$(arc "$(run gap.eml)")" '^arc=fail \(' \
    "a seal at i=7 over 3 sets: arc=fail"

# arc = false: no ARC result
out=$(run py2.eml -o milter.arc=false)
tb_unlike "$out" '(^|[[:space:];])arc=' "arc = false: no arc= result"

# The trusted-sealer override (RFC 8617 7.2.1): DMARC fails under
# p=reject (SPF fails from 192.0.2.99, no DKIM); the chain passes.
HIST=$TB/dmarc-history.db
ENF=(-o milter.dmarc_enforce=true -o "milter.dmarc_history=$HIST")
out=$(run py2.eml "${ENF[@]}")
tb_like "$out" 'verdict: reject' \
    "no trusted sealer: DMARC p=reject enforced despite arc=pass"
out=$(run py2.eml "${ENF[@]}" -o 'milter.arc_trusted_sealers={list.test}')
tb_like "$out" 'verdict: reject' \
    "only the oldest sealer trusted: still rejected (the newest counts)"
tb_like "$(grep 'dmarc: arc=pass by' "$TB/stderr")" 'by fwd2\.test, not a trusted sealer' \
    "the untrusted newest sealer is logged"
out=$(run py2.eml "${ENF[@]}" -o 'milter.arc_trusted_sealers={Fwd2.Test}')
tb_like "$out" 'verdict: accept' "newest sealer trusted: accepted"
dm=$(sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\+/ /g' <<<"$out" |
    grep -o 'dmarc=fail.*')
tb_like "$dm" \
    '^dmarc=fail \(p=REJECT sp=REJECT dis=NONE; arc override: trusted sealer fwd2\.test\) header\.from=example\.test policy\.dmarc=none$' \
    "the A-R says dmarc=fail, the override and policy.dmarc=none"
tb_like "$(grep 'dmarc override=' "$TB/stderr")" \
    'override=local_policy from=example\.test sealer=fwd2\.test' \
    "the override is logged"
tb_is "$(sqlite3 "$HIST" "SELECT disposition, override, override_comment FROM dmarc_history ORDER BY id DESC LIMIT 1")" \
    "none|local_policy|arc=pass as.2.d=fwd2.test" \
    "the history row records disposition none, local_policy and the sealer"
tb_is "$(sqlite3 "$HIST" "SELECT disposition, coalesce(override, '-') FROM dmarc_history ORDER BY id DESC LIMIT 1 OFFSET 1")" \
    "reject|-" "the rejected message's row has no override"
# a history file of the first schema (before the override columns)
# gets them when opened
OLD=$TB/dmarc-history-v1.db
sqlite3 "$OLD" "CREATE TABLE dmarc_history (id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL, queue_id TEXT, source_ip TEXT, header_from TEXT,
    envelope_from TEXT, envelope_to TEXT, policy_domain TEXT, p TEXT,
    sp TEXT, pct INTEGER, adkim TEXT, aspf TEXT, result TEXT NOT NULL,
    disposition TEXT NOT NULL, reason TEXT, spf_domain TEXT,
    spf_result TEXT, spf_scope TEXT, spf_aligned INTEGER, dkim TEXT,
    dkim_aligned INTEGER); PRAGMA user_version = 1;"
out=$(run py2.eml -o milter.dmarc_enforce=true -o "milter.dmarc_history=$OLD" \
    -o 'milter.arc_trusted_sealers={fwd2.test}')
tb_is "$(sqlite3 "$OLD" "PRAGMA user_version; SELECT override FROM dmarc_history")" \
    $'2\nlocal_policy' "a version 1 history file is migrated and records the override"
out=$(run tamper.eml "${ENF[@]}" -o 'milter.arc_trusted_sealers={fwd3.test}')
tb_like "$out" 'verdict: reject' \
    "trusted sealer but the chain fails: still rejected"
out=$(run py1.eml -o milter.dmarc_enforce=true \
    -o 'milter.arc_trusted_sealers={list.test}' -o milter.arc=false)
tb_like "$out" 'verdict: reject' "arc = false: no override"

tb_done
