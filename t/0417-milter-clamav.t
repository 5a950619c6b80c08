#!/bin/bash
# 0417-milter-clamav - the ClamAV stage (libclamav in the process) in
# the offline mode, -t, which runs the same pass as the daemon: a
# signature database built here (EICAR, clam.exe from clamav-testfiles,
# our own .ndb and .hdb signatures; no download), found in the body, in
# a base64 MIME attachment, inside a zip; the verdict line names the
# virus, and wins over a tempfail of the header limits; a message DMARC
# (the harness' unbound) or the header limits already reject is not
# scanned (nothing found could have it delivered); clean mail gets X-Virus-Scanned; each
# clamav_action; the scan limits with and without their heuristic
# alerts, an encrypted zip, a zip bomb, MIME nested 1000 deep; a message
# with no body; a message over scan_max_size; the spool failing
# (clamav_fail_action); a database that does not load; the sender's own
# X-Virus-Scanned/-Status and X-Elemta-Scan removed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require clamav swaks unbound
tb_need zip zip
tb_need strace strace
tb_init
tb_plan 49
milter_clamav_db
mkdir -m 0700 "$TB/state"
peer_start_unbound

# scan FILE [ARGS] - -t with our database, no DNS checks; the output
scan() {
	local f=$1

	shift
	milter_t "$f" -o "milter.clamav_database=$TB_CLAMAV_DB" \
	    -o "database.directory=$TB/state" -o milter.spf=false \
	    -o milter.dkim=false -o milter.dmarc=false \
	    --client-ip 192.0.2.1 --sender user@example.test \
	    --rcpt bob@sink.test "$@"
}

eicar='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL'
reject='verdict: reject 550 5\.7\.1 virus found: '
scanned='add-header: X-Virus-Scanned: ClamAV using elemta-milter'

# the body, a base64 attachment, a zip
printf 'Subject: plain\n\n%s\n' "$(cat "$TB_EICAR")" >"$TB/eicar-body.eml"
tb_like "$(scan "$TB/eicar-body.eml")" "$reject$eicar\$" \
    "EICAR in the body: rejected, the verdict names it"
tb_like "$(cat "$TB/stderr")" "TEST: clamav=virus virus=$eicar action=reject by=clamav" \
    "... and the log line names it"
milter_attach "eicar" "$TB_EICAR" >"$TB/eicar-att.eml"
tb_unlike "$(cat "$TB/eicar-att.eml")" 'EICAR-STANDARD' \
    "the attachment is base64: no EICAR text in the message"
tb_like "$(scan "$TB/eicar-att.eml")" "$reject$eicar\$" \
    "EICAR in a base64 MIME attachment: rejected"
printf 'Subject: custom\n\nsome text %s more text\n' "$TB_CLAMAV_SIG" \
    >"$TB/custom-body.eml"
tb_like "$(scan "$TB/custom-body.eml")" \
    "${reject}Elemta\\.Custom\\.NDB\\.UNOFFICIAL\$" "our .ndb signature in the body"
milter_attach "hash" "$TB_CLAMAV_BIN" >"$TB/custom-bin.eml"
tb_like "$(scan "$TB/custom-bin.eml")" \
    "${reject}Elemta\\.Custom\\.HDB\\.UNOFFICIAL\$" \
    "our .hdb signature: a file attached, base64"
printf 'one\n' >"$TB/a.txt"
printf 'two\n' >"$TB/b.txt"
printf 'x %s y\n' "$TB_CLAMAV_SIG" >"$TB/sig.txt"
(cd "$TB" && zip -q three.zip a.txt b.txt sig.txt &&
    zip -q -P secret enc.zip sig.txt)
milter_attach "zip" "$TB/three.zip" >"$TB/zip.eml"
tb_like "$(scan "$TB/zip.eml")" "${reject}Elemta\\.Custom\\.NDB\\.UNOFFICIAL\$" \
    "our signature inside a zip, attached"
clamzip=/usr/share/clamav-testfiles/clam.zip
if [[ -f $clamzip ]]; then
	milter_attach "clam.zip" "$clamzip" >"$TB/clamzip.eml"
	tb_like "$(scan "$TB/clamzip.eml")" \
	    "${reject}Test\\.ClamExe\\.(HDB|NDB)\\.UNOFFICIAL\$" \
	    "clamav-testfiles' clam.zip, attached"
else
	tb_missing_some 1 "clamav-testfiles not installed"
fi

# two stages refuse: the virus outranks a tempfail asked before it (the
# header limits, checked before every stage): the virus's reply
{
	for i in $(seq 1 12); do
		printf 'X-Filler-%d: x\n' "$i"
	done
	printf 'Subject: capped\n\n%s\n' "$(cat "$TB_EICAR")"
} >"$TB/eicar-capped.eml"
# capped ACTION VERDICT SUMMARY WHAT - the capped message with
# header_cap_action=ACTION: its verdict line and its summary line match
# the EREs VERDICT and SUMMARY (two tests, WHAT and "... WHY")
capped() {
	local out

	out=$(scan "$TB/eicar-capped.eml" -o milter.max_headers=10 \
	    -o "milter.header_cap_action=$1")
	tb_like "$out" "$2" "EICAR past the header limits ($1): $4" ||
	    tb_diag "$out"
	tb_like "$(cat "$TB/stderr")" "TEST: headers_unchecked=[0-9]+ $3" \
	    "... $5" || tb_diag "$(cat "$TB/stderr")"
}
capped tempfail "$reject$eicar\$" \
    "clamav=virus virus=$eicar action=reject by=clamav .* spf=off dkim=off arc=none dmarc=off greylist=off rspamd=off" \
    "the virus's reply wins" "the summary line names every stage"
# the header limits reject: refused for good already, not scanned
capped reject 'verdict: reject 552 5\.3\.4 ' \
    'clamav=skipped\(refused\) action=reject by=header-cap' \
    "the limit's reply" "not scanned, and the summary line says why"

# EICAR in a message DMARC rejects (dmarc_enforce; example.test publishes
# p=reject, the client is not in its SPF): refused for good before the
# scan, which is skipped: DMARC's reply
printf 'From: ceo@example.test\nSubject: both\n\n%s\n' "$(cat "$TB_EICAR")" \
    >"$TB/eicar-dmarc.eml"
out=$(milter_t "$TB/eicar-dmarc.eml" \
    -o "milter.clamav_database=$TB_CLAMAV_DB" \
    -o "database.directory=$TB/state" -o milter.dmarc_enforce=true \
    --client-ip 192.0.2.10 --helo mail.test --sender user@other.test \
    --rcpt bob@sink.test)
tb_like "$out" 'verdict: reject 550 5\.7\.1 .*DMARC' \
    "EICAR in a message DMARC rejects: DMARC's reply, not scanned" ||
    tb_diag "$out"
tb_like "$(cat "$TB/stderr")" \
    "dmarc=fail\\(example\\.test\\) .*clamav=skipped\\(refused\\) .*action=reject by=dmarc" \
    "... the summary line names both" || tb_diag "$(cat "$TB/stderr")"

# clean mail, and the header's value
printf 'Subject: clean\n\nJust a note.\n' >"$TB/clean.eml"
out=$(scan "$TB/clean.eml")
tb_like "$out" "$scanned" "clean mail: X-Virus-Scanned"
tb_like "$out" 'verdict: accept$' "clean mail: accepted"
tb_like "$(scan "$TB/clean.eml" -o milter.clamav_scanned_header=mx1.test)" \
    'add-header: X-Virus-Scanned: mx1\.test' "clamav_scanned_header: its value"
tb_unlike "$(scan "$TB/clean.eml" -o milter.clamav_scanned_header=)" \
    'X-Virus-Scanned' 'clamav_scanned_header = "": no header'
tb_unlike "$(milter_t "$TB/eicar-body.eml" -o milter.spf=false)" \
    'X-Virus|clamav' "clamav_database unset: no scan"

# the sender's own scan headers are removed (each from its last), ours
# added: a clean verdict cannot be forged; with ClamAV off they stay
printf '%s\n' 'X-Virus-Scanned: clean, trust me' 'Subject: forged' \
    'X-Virus-Status: Clean' 'x-virus-scanned: again' \
    'X-Elemta-Scan: done' '' 'Just a note.' >"$TB/forged.eml"
out=$(scan "$TB/forged.eml")
tb_like "$out" $'^delete-header: X-Elemta-Scan 1\ndelete-header: x-virus-scanned 2\ndelete-header: X-Virus-Status 1\ndelete-header: X-Virus-Scanned 1\n' \
    "the sender's X-Virus-Scanned, X-Virus-Status, X-Elemta-Scan removed" ||
    tb_diag "$out"
tb_like "$out" "$scanned" "... and ours added"
tb_unlike "$(milter_t "$TB/forged.eml" -o milter.spf=false \
    -o milter.dkim=false -o milter.dmarc=false)" 'delete-header: X-' \
    "ClamAV off: the sender's headers stay"

# each clamav_action
out=$(scan "$TB/eicar-att.eml" -o milter.clamav_action=header)
tb_like "$out" "add-header: X-Virus-Status: Infected \\($eicar\\)" \
    "clamav_action=header: X-Virus-Status names it"
tb_like "$out" 'verdict: accept$' "clamav_action=header: delivered"
tb_like "$(scan "$TB/eicar-att.eml" -o milter.clamav_action=discard)" \
    'verdict: discard$' "clamav_action=discard"
tb_like "$(scan "$TB/eicar-att.eml" -o milter.clamav_action=quarantine)" \
    "verdict: quarantine clamav: virus found: $eicar\$" \
    "clamav_action=quarantine: a hold, the reason names it"

# limits and heuristics
heur='verdict: reject 550 5\.7\.1 content refused: Heuristics\.'
tb_like "$(scan "$TB/zip.eml" -o milter.clamav_max_files=2)" \
    'verdict: accept$' "clamav_max_files=2: the third file is not scanned"
tb_like "$(scan "$TB/zip.eml" -o milter.clamav_max_files=2 \
    -o milter.clamav_alert_exceeds_max=true)" \
    "${heur}Limits\\.Exceeded\\.MaxFiles\$" \
    "... with clamav_alert_exceeds_max: Heuristics.Limits.Exceeded.MaxFiles"
milter_attach "encrypted" "$TB/enc.zip" >"$TB/enc.eml"
tb_like "$(scan "$TB/enc.eml")" 'verdict: accept$' \
    "an encrypted zip: accepted by default"
tb_like "$(scan "$TB/enc.eml" -o milter.clamav_alert_encrypted=true)" \
    "${heur}Encrypted\\.Zip\$" "clamav_alert_encrypted: Heuristics.Encrypted.Zip"
out=$(scan "$TB/enc.eml" -o milter.clamav_alert_encrypted=true \
    -o milter.clamav_heuristic_action=accept)
tb_like "$out" 'verdict: accept$' "clamav_heuristic_action=accept: delivered"
tb_like "$(cat "$TB/stderr")" 'clamav=heuristic virus=Heuristics\.Encrypted\.Zip action=accept' \
    "... and logged"
head -c 30M /dev/zero >"$TB/zeros"
(cd "$TB" && zip -q bomb.zip zeros)
milter_attach "bomb" "$TB/bomb.zip" >"$TB/bomb.eml"
tb_like "$(scan "$TB/bomb.eml" -o milter.clamav_max_scan_size=1M \
    -o milter.clamav_alert_exceeds_max=true)" \
    "${heur}Limits\\.Exceeded\\.MaxScanSize\$" \
    "a zip bomb (30 MB of zeros) over clamav_max_scan_size: refused"
tb_like "$(scan "$TB/bomb.eml" -o milter.clamav_max_scan_size=1M)" \
    'verdict: accept$' "... accepted without the alert"

# deeply nested MIME: EICAR (base64, so only in the decoded part) 5
# parts deep is found; 1000 deep, past clamav_max_recursion (16), it is
# not reached: accepted, or Heuristics.Limits.Exceeded.MaxRecursion with
# clamav_alert_exceeds_max; never a crash
milter_msg_nested 5 "$TB_EICAR" >"$TB/nested5.eml"
tb_like "$(scan "$TB/nested5.eml")" "$reject$eicar\$" \
    "EICAR 5 MIME parts deep: rejected"
milter_msg_nested 1000 "$TB_EICAR" >"$TB/nested1000.eml"
out=$(scan "$TB/nested1000.eml")
tb_like "$out" 'verdict: accept$' \
    "EICAR 1000 MIME parts deep: past clamav_max_recursion, accepted" ||
    tb_diag "$out"
tb_like "$(scan "$TB/nested1000.eml" -o milter.clamav_alert_exceeds_max=true)" \
    "${heur}Limits\\.Exceeded\\.MaxRecursion\$" \
    "... with clamav_alert_exceeds_max: Heuristics.Limits.Exceeded.MaxRecursion"

# no body; over scan_max_size
printf 'Subject: no body\nFrom: user@example.test\n' >"$TB/nobody.eml"
out=$(scan "$TB/nobody.eml")
tb_like "$out" "$scanned" "a message with no body: scanned"
tb_like "$out" 'verdict: accept$' "a message with no body: accepted"
out=$(scan "$TB/custom-bin.eml" -o milter.scan_max_size=1k)
tb_like "$out" 'add-header: X-Elemta-Scan: skipped \(size [0-9]+ over the limit of 1024\)' \
    "over scan_max_size: not scanned, a header says so"
tb_like "$(cat "$TB/stderr")" 'scan=oversize size=[0-9]+ clamav=skipped action=accept' \
    "... and the log line"
tb_like "$(scan "$TB/custom-bin.eml" -o milter.scan_max_size=1k \
    -o milter.scan_oversize_action=tempfail)" \
    'verdict: tempfail 452 4\.3\.4 message too big to be scanned$' \
    "scan_oversize_action=tempfail: 452 4.3.4"

# the spool fails (a directory others may read): clamav_fail_action
mkdir -m 0755 "$TB/open"
tb_like "$(scan "$TB/clean.eml" -o milter.body_memory_max=0 \
    -o "milter.body_spool_dir=$TB/open")" \
    'verdict: tempfail 451 4\.7\.1 virus scan unavailable, try again later$' \
    "no copy of the message: tempfail by default"
tb_like "$(cat "$TB/stderr")" "clamav: no scan: spool: $TB/open: must be the daemon's own" \
    "... the log says why"
out=$(scan "$TB/clean.eml" -o milter.body_memory_max=0 \
    -o "milter.body_spool_dir=$TB/open" -o milter.clamav_fail_action=accept)
tb_like "$out" 'verdict: accept$' "clamav_fail_action=accept: accepted"
tb_unlike "$out" 'X-Virus-Scanned' "... without X-Virus-Scanned"

# libclamav's temporary files (the attachment, the zip's members) go to
# the daemon's own spool directory, not /tmp, and are gone afterwards
strace -f -e trace=openat -o "$TB/strace.out" \
    "$MILTER" -c /dev/null -o "milter.clamav_database=$TB_CLAMAV_DB" \
    -o "database.directory=$TB/state" -t "$TB/zip.eml" >/dev/null 2>&1
tb_like "$(grep -E 'openat\(.*clamav-[0-9a-f]+\.tmp' "$TB/strace.out" |
    head -1)" "\"$TB/state/spool/[^\"]*clamav-[0-9a-f]+\\.tmp\"" \
    "libclamav's temporary files are in the spool directory"
tb_is "$(find "$TB/state/spool" -mindepth 1 | wc -l)" 0 \
    "... and none is left there"

# a database that does not load: the daemon does not start
mkdir "$TB/baddb"
echo 'this is not a signature' >"$TB/baddb/bad.ndb"
out=$("$MILTER" -c /dev/null -o "milter.clamav_database=$TB/baddb" \
    -t "$TB/clean.eml" 2>&1; echo "exit $?")
tb_like "$out" "clamav: cl_load $TB/baddb: .*
exit [1-9]" "a database that does not load: a clear error, no start"
tb_done
