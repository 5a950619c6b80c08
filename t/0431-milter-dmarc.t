#!/bin/bash
# 0431-milter-dmarc - the DMARC stage through lib/dns against the
# harness' unbound, driven by the offline mode (elemta-milter -t):
# pass via aligned SPF, pass via aligned DKIM (python3-dkim), fail with
# p=reject (550 5.7.1 when enforced), quarantine, none, sp= for a
# subdomain, several From domains (each evaluated), no From, the history row, and
# temperror once unbound is stopped.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require unbound
$PY -c 'import dkim' 2>/dev/null || tb_missing "python3-dkim missing"
peer_require sqlite3
tb_init
tb_plan 23

# quarantine.test: p=quarantine; spdom.test: p=reject sp=none.
cat >"$TB/extra-zones.conf" <<'EOF2'
local-zone: "quarantine.test." static
local-data: 'quarantine.test. 300 IN TXT "v=spf1 ip4:192.0.2.30 -all"'
local-data: '_dmarc.quarantine.test. 300 IN TXT "v=DMARC1; p=quarantine"'
local-zone: "spdom.test." static
local-data: 'spdom.test. 300 IN TXT "v=spf1 -all"'
local-data: '_dmarc.spdom.test. 300 IN TXT "v=DMARC1; p=reject; sp=none"'
local-data: 'sub.spdom.test. 300 IN TXT "v=spf1 -all"'
EOF2
peer_start_unbound "$TB/extra-zones.conf"

# msg FROM... - a message with these From values (none: no From)
msg() {
	local f
	for f in "$@"; do echo "From: $f"; done
	cat <<'EOF2'
To: alice@example.test
Subject: DMARC test
Message-ID: <dmarc-test@example.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello DMARC.
EOF2
}


msg "User <user@example.test>" >"$TB/ex.eml"
out=$(milter_offline "$TB/ex.eml" 192.0.2.1 user@example.test)
tb_like "$out" "dmarc=pass \(p=REJECT sp=REJECT dis=NONE\) header\.from=example\.test" \
    "SPF aligned (strict): pass"
tb_like "$(cat "$TB/stderr")" "TEST: .*spf=pass .*dmarc=pass\(example\.test\) action=accept" \
    "summary log line"

milter_pydkim_sign "$TB/ex.eml" "$TB/ex-signed.eml"
out=$(milter_offline "$TB/ex-signed.eml" 192.0.2.10 user@other.test \
    -o milter.dmarc_enforce=true)
tb_like "$out" "dkim=pass header\.d=example\.test" "DKIM signature passes"
tb_like "$out" "dmarc=pass \(p=REJECT sp=REJECT dis=NONE\) header\.from=example\.test" \
    "SPF unaligned, DKIM aligned: pass"
tb_like "$out" "verdict: accept" "DKIM aligned: accepted when enforcing"

out=$(milter_offline "$TB/ex.eml" 192.0.2.10 user@other.test)
tb_like "$out" "dmarc=fail \(p=REJECT sp=REJECT dis=NONE\) header\.from=example\.test" \
    "nothing aligned, p=reject: fail, not enforced by default"
tb_like "$out" "verdict: accept" "not enforced: accepted"
out=$(milter_offline "$TB/ex.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=true)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "enforced: 550 5.7.1"

msg "user@quarantine.test" >"$TB/q.eml"
out=$(milter_offline "$TB/q.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=true)
tb_like "$out" "dmarc=fail \(p=QUARANTINE sp=QUARANTINE dis=QUARANTINE\) header\.from=quarantine\.test" \
    "p=quarantine: fail, dis=QUARANTINE"
tb_like "$out" "verdict: quarantine dmarc: " "p=quarantine: held"
out=$(milter_offline "$TB/q.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=true \
    -o milter.dmarc_quarantine_action=accept)
tb_like "$out" "dis=NONE\) header\.from=quarantine\.test" \
    "dmarc_quarantine_action=accept: header only"
tb_like "$out" "verdict: accept" "... accepted"

msg "user@other.test" >"$TB/none.eml"
out=$(milter_offline "$TB/none.eml" 192.0.2.1 user@example.test -o milter.dmarc_enforce=true)
tb_like "$out" "dmarc=fail \(p=NONE sp=NONE dis=NONE\) header\.from=other\.test" \
    "p=none: fail, nothing done"
msg "user@nodmarc.test" >"$TB/nod.eml"
out=$(milter_offline "$TB/nod.eml" 192.0.2.20 user@nodmarc.test)
tb_like "$out" "dmarc=none header\.from=nodmarc\.test" "no record: none"

msg "user@sub.spdom.test" >"$TB/sp.eml"
out=$(milter_offline "$TB/sp.eml" 192.0.2.10 user@other.test -o milter.dmarc_enforce=true)
tb_like "$out" "dmarc=fail \(p=REJECT sp=NONE dis=NONE\) header\.from=sub\.spdom\.test" \
    "subdomain: the organisational record's sp= applies"
tb_like "$out" "verdict: accept" "sp=none: accepted"

msg "a@example.test, b@other.test" >"$TB/multi.eml"
out=$(milter_offline "$TB/multi.eml" 192.0.2.1 user@example.test)
tb_like "$out" "dmarc=fail \(p=NONE sp=NONE dis=NONE\) reason=\"From addresses in several domains\" header\.from=other\.test" \
    "several From domains: each evaluated, other.test (p=none) fails"
out=$(milter_offline "$TB/multi.eml" 192.0.2.1 user@example.test \
    -o milter.dmarc_bad_from_action=reject)
tb_like "$out" "^verdict: reject 550 5\.7\.1 " "dmarc_bad_from_action=reject"
msg >"$TB/nofrom.eml"
out=$(milter_offline "$TB/nofrom.eml" 192.0.2.1 user@example.test)
tb_like "$out" "dmarc=permerror reason=\"no From address\"" "no From: permerror"

mkdir -p "$TB/db"
out=$(milter_offline "$TB/ex.eml" 192.0.2.10 user@other.test \
    -o "database.directory=$TB/db" -o milter.dmarc_history=dmarc.sqlite)
row=$(sqlite3 "$TB/db/dmarc.sqlite" "SELECT source_ip, header_from, envelope_from, p, result, disposition, spf_result, spf_aligned, dkim_aligned FROM dmarc_history")
tb_is "$row" "192.0.2.10|example.test|other.test|r|fail|none|pass|0|0" \
    "the history row (SPF passes for other.test, unaligned)"
tb_is "$(sqlite3 "$TB/db/dmarc.sqlite" 'PRAGMA journal_mode')" wal "WAL"

# The null sender: SPF checks the HELO name, and DMARC takes SPF's
# domain and scope from it (postmaster@HELO, RFC 7208 2.4).
msg "User <user@quarantine.test>" >"$TB/q.eml"
out=$(milter_offline "$TB/q.eml" 192.0.2.30 "" --helo quarantine.test \
    -o "database.directory=$TB/db" -o milter.dmarc_history=dmarc.sqlite)
row=$(sqlite3 "$TB/db/dmarc.sqlite" "SELECT envelope_from, spf_result, spf_scope FROM dmarc_history WHERE header_from = 'quarantine.test'")
tb_is "$row" "quarantine.test|pass|helo" \
    "the null sender: SPF's HELO domain and scope reach DMARC"

tb_stop unbound
out=$(milter_offline "$TB/ex.eml" 192.0.2.1 user@example.test)
tb_like "$out" "dmarc=temperror" "DNS down: temperror"
tb_done
