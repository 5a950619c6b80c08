#!/bin/bash
# 0024-quickstart - tools/quickstart, the README's first command (with
# --no-build: the tree is built; on a free port block): it comes up with
# every stage of the milter on (ClamAV on its test signatures, the
# private rspamd); the first swaks line it prints delivers a message
# that carries the verdict's headers (X-Virus-Scanned and one
# Authentication-Results; the XCLIENT line's names SPF, DKIM, ARC and
# DMARC); the EICAR line is rejected, 550 5.7.1 naming the virus; the
# GTUBE "add header" line lands in alice's Junk with X-Spam: Yes;
# SIGINT (Ctrl-C) stops it all and removes its directory.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

B=${top_builddir:-.}
for bin in milter/elemta-milter policyd/elemta-policyd \
    lmtp-bridge/elemta-lmtp-bridge; do
	[[ -x $B/$bin ]] || tb_skip_all "$B/$bin not built"
done
peer_require postfix dovecot smtp-sink unbound swaks redis rspamd clamav
tb_need elemta-user getent
getent passwd elemta >/dev/null ||
    tb_missing "no user elemta (tools/install-deps makes it)"
tb_init
tb_plan 13

# The default sockets are one per machine (t/0022 takes the same lock):
# wait for them, then let quickstart take them.
LOCK=/run/lock/elemta-default-sockets.lock
mkdir -p /run/lock
flock -w "$(peer_timeout 600)" "$LOCK" true ||
    tb_bail "the default sockets stayed locked"
Q=$TB/quickstart.out
tb_spawn quickstart "$Q" env ELEMTA_TEST_PORT_BASE=auto \
    "ELEMTA_BUILD_DIR=$(cd "$B" && pwd)" "$top_srcdir/tools/quickstart" \
    --no-build
TB_GRACE[quickstart]=60
tb_wait "$(peer_timeout 300)" grep -q 'Press Ctrl-C' "$Q" || {
	tb_tail "$Q"
	tb_bail "quickstart did not come up"
}
tb_pass "quickstart: up, the swaks lines printed"
QTB=$(sed -n 's/^quickstart: starting in //p' "$Q")
mapfile -t lines < <(grep '^  swaks ' "$Q")
tb_is "${#lines[@]}" 4 "four swaks lines: plain, XCLIENT, EICAR, GTUBE" ||
    tb_diag "$(cat "$Q")"
maildir=$(sed -n 's/^Delivered mail: *\([^ ]*\)\/new\/.*/\1/p' "$Q" | head -1)
tb_is "$(grep -c '^Elemta\.Quickstart\.NDB:' \
    "$QTB/clamav/db/quickstart.ndb")" 1 \
    "the test signature database has a signature of ours"

# swaks_line LINE SUBJECT - a printed swaks line, as a user pastes it (a
# Subject of ours added, to find the message)
swaks_line() {
	eval "${1# } --header 'Subject: $2' --timeout 60" 2>&1
}

# deliver N WHAT SUBJECT FOLDER - printed line N sent: accepted (a
# test), then the header of the message delivered into FOLDER in h
deliver() {
	local f

	out=$(swaks_line "${lines[$1]}" "$3")
	tb_like "$out" '250 2\.0\.0 Ok: queued' "$2: accepted" ||
	    tb_diag "$out"
	tb_wait 60 eval "grep -lqs '$3' '$maildir'/$4/*"
	f=$(grep -ls "$3" "$maildir"/$4/* | head -1)
	h=$(sed -n '/^\r\?$/q;p' "${f:-/dev/null}")
}

# 1. the first line: delivered, with the verdict's headers
deliver 0 "the first swaks line" "qs-plain-$$" new
tb_like "$h" $'(^|\n)X-Virus-Scanned: ClamAV' \
    "... delivered with X-Virus-Scanned (ClamAV ran)" || tb_diag "$h"
tb_is "$(grep -c '^Authentication-Results: ' <<<"$h")" 1 \
    "... and one Authentication-Results (a loopback client is internal: \
no SPF)" || tb_diag "$h"

# 2. XCLIENT, a remote client: SPF and DMARC checked
deliver 1 "the XCLIENT line" "qs-remote-$$" new
tb_like "$(tr -d '\n' <<<"$h")" \
    'Authentication-Results: [^;]*;[[:space:]]*spf=pass .*dkim=none.*arc=none.*dmarc=[a-z]+' \
    "... its Authentication-Results names SPF (pass), DKIM, ARC, DMARC" ||
    tb_diag "$h"
tb_like "$(grep 'action=' "$QTB/milter.log" | tail -1)" \
    'clamav=clean rspamd=[^(]+\([-0-9.]+/[0-9.]+\)' \
    "... and Rspamd scored it (the summary line)" ||
    tb_diag "$(tail -5 "$QTB/milter.log")"

# 3. EICAR: rejected, the virus named
out=$(swaks_line "${lines[2]}" "qs-eicar-$$")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Test\.EICAR' \
    "the EICAR line: 550 5.7.1 naming the virus" || tb_diag "$out"

# 4. GTUBE "add header": Junk
deliver 3 "the GTUBE line" "qs-spam-$$" .Junk/new
tb_like "$h" $'(^|\n)X-Spam: Yes' "... in alice's Junk, with X-Spam: Yes" ||
    tb_diag "$(ls -R "$maildir" | head -30)"

# Ctrl-C: everything stopped, the directory removed
# stopped PID DIR - PID gone and DIR removed
stopped() {
	! tb_alive "$1" && [[ ! -e $2 ]]
}
pid=$(tb_pid quickstart)
kill -INT "$pid"
tb_wait 120 stopped "$pid" "$QTB"
tb_ok "Ctrl-C: stopped, its directory removed" stopped "$pid" "$QTB" ||
    tb_diag "$(tail -20 "$Q")"
tb_done
