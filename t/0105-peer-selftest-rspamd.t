#!/bin/bash
# 0105-peer-selftest-rspamd - rspamd scans offline with the test DNS and Redis
#
# A self-test of the peer, not of Elemta: it checks that the rspamd the
# harness starts works, for the milter's rspamd stage to come (there is
# none yet; its own tests will be 04xx).  rspamd is asked over HTTP
# (/checkv2) as that stage will ask it; GTUBE must be rejected, plain
# mail must not, and SPF must be checked against unbound's zones.  It
# runs two normal workers (ELEMTA_RSPAMD_WORKERS), which scan.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require rspamd unbound redis
tb_init
tb_plan 8
peer_start_unbound
peer_start_redis
peer_start_rspamd

# check - POST a message (stdin) to /checkv2 with the given client IP/From
check() {
	curl -sS --max-time 30 --data-binary @- -H "IP: $1" -H "From: $2" \
	    -H 'Rcpt: alice@example.test' -H 'Helo: mail.other.test' \
	    "$TB_RSPAMD_URL/checkv2"
}

# field - print a top-level field of rspamd's JSON reply (stdin)
field() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
v = d.get(sys.argv[1], "")
print(" ".join(sorted(v)) if isinstance(v, dict) else v)' "$1"
}

# message - print a small message from FROM with SUBJECT and BODY
message() {
	printf 'From: <%s>\r\nTo: <alice@example.test>\r\nSubject: %s\r\n' "$1" "$2"
	printf 'Date: %s\r\nMessage-ID: <%s.%s@other.test>\r\n' \
	    "$(date -R)" "$$" "$RANDOM"
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n%s\r\n' "$3"
}

gtube='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
reply=$(message bob@other.test "GTUBE" "$gtube" |
    check 192.0.2.10 bob@other.test)
tb_is "$(field action <<<"$reply")" reject "GTUBE: action reject" ||
    tb_diag "$reply"
tb_like "$(field symbols <<<"$reply")" '(^| )GTUBE( |$)' \
    "GTUBE: the GTUBE symbol fired"

reply=$(message bob@other.test "Lunch" \
    "Hello Alice, shall we have lunch on Friday? Bob" |
    check 192.0.2.10 bob@other.test)
tb_is "$(field action <<<"$reply")" "no action" "plain mail: no action" ||
    tb_diag "$reply"
tb_like "$(field symbols <<<"$reply")" '(^| )R_SPF_ALLOW( |$)' \
    "plain mail from an SPF-permitted IP: R_SPF_ALLOW (DNS is unbound)"

reply=$(message alice@example.test "Spoof" "Not really from alice." |
    check 192.0.2.99 alice@example.test)
tb_like "$(field symbols <<<"$reply")" '(^| )R_SPF_FAIL( |$)' \
    "spoofed example.test sender: R_SPF_FAIL"
tb_like "$(field symbols <<<"$reply")" '(^| )DMARC_POLICY_REJECT( |$)' \
    "spoofed example.test sender: DMARC_POLICY_REJECT (p=reject)"

tb_is "$(curl -sS --max-time 5 "$TB_RSPAMD_CTL_URL/stat" | field scanned)" 3 \
    "the controller counted our 3 scans"
# normal_workers - rspamd's normal processes now
normal_workers() {
	tb_proc_tree "$(tb_pid rspamd)" | while read -r p; do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo
	done | grep -c '^rspamd: normal process'
}
tb_is "$(normal_workers)" "${ELEMTA_RSPAMD_WORKERS:-2}" \
    "rspamd runs ${ELEMTA_RSPAMD_WORKERS:-2} normal workers"
tb_done
