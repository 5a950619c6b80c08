#!/bin/bash
# 0464-milter-postfix-clamav - the ClamAV stage behind a real private
# Postfix: EICAR (a base64 attachment) and our own signature (in the
# body) are rejected with the virus' name in the SMTP reply, clean mail
# is delivered with X-Virus-Scanned, a message with no body too; a 50 MB
# message is over scan_max_size: delivered unscanned with X-Elemta-Scan,
# nothing left in the spool.  Reloads: a new signature file is picked up
# by itself (clamav_reload_check), a database that does not load keeps
# the old engine (concurrent) or, with clamav_reload = blocking, leaves
# none: clamav_fail_action answers 451 4.7.1 until the database is
# fixed, which is noticed without a signal.  The metrics tell the mail
# not scanned apart: result="skipped" for the oversize one,
# result="refused" for one an earlier stage (the header limits) rejects.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound clamav
tb_need zip zip
tb_need curl curl
tb_init
tb_plan 33
milter_clamav_db
mkdir -m 0700 "$TB/state"
DB=$TB_CLAMAV_DB

# scans RESULT - elemta_milter_clamav_scans_total{result="RESULT"}, 0
# when not exported yet
scans() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="elemta_milter_clamav_scans_total{result=\"$1\"}" \
		'$1 == n { v = $2 } END { print v + 0 }'
}

# engines - how many engines the milter has made current so far
engines() {
	grep -c 'clamav: engine \(re\)\?loaded' "$TB_MILTER_LOG"
}

# wait_engines N - wait until more than N engines were made current
wait_engines() {
	tb_wait 20 eval "[[ \$(engines) -gt $1 ]]"
}

# kept by every milter_set: ClamAV on DB, reloads checked every second,
# the spool under $TB/state
TB_MILTER_KEEP=("clamav_database=$DB" clamav_reload_check=1
    "database.directory=$TB/state" spf=false dkim=false dmarc=false)
milter_start "${TB_MILTER_KEEP[@]}" -- \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix "message_size_limit = 60000000"
tb_like "$(milter_log 'clamav: engine loaded')" \
    "clamav: engine loaded \\(start\\): libclamav [0-9.]+, [0-9]+ signatures, database $DB" \
    "the engine's version and signature count are logged at start"

eicar='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL'
milter_clamav_viruses libclamav
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE .*5\.7\.1 virus found')" \
    "virus found: $eicar" "Postfix logs the reject with the name"
milter_clamav_clean libclamav
out=$(milter_send "clean two")
tb_like "$(milter_log "$(milter_queue_id "$out"): clamav=clean action=accept")" \
    "clamav=clean" "clean mail: the log line"

# 50 MB: over scan_max_size (25M), through the spool file (over
# body_memory_max) and dropped as the limit is crossed
milter_msg_big fifty 50 "$TB_EICAR" >"$TB/fifty.eml"
out=$(milter_send "fifty" --data "$TB/fifty.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "a 50 MB message: accepted (over scan_max_size)"
tb_wait 60 eval "[[ -n \$(milter_delivered fifty) ]]"
f=$(milter_delivered fifty)
tb_like "$(milter_headers "$f")" \
    $'(^|\n)X-Elemta-Scan: skipped \\(size [0-9]{8} over the limit of 26214400\\)' \
    "... delivered with X-Elemta-Scan, unscanned"
tb_like "$(milter_log "$(milter_queue_id "$out"): scan=oversize")" \
    'scan=oversize size=5[0-9]{7} clamav=skipped action=accept' \
    "... and the log line says so"
tb_is "$(find "$TB/state/spool" -mindepth 1 | wc -l)" 0 \
    "... nothing left in the spool directory"
tb_is "$(scans skipped)" 1 \
    "... counted as scans_total{result=\"skipped\"}"
tb_is "$(scans refused)" 0 "... not as result=\"refused\""

# a new signature file: picked up without a signal
n=$(engines)
peer_clamav_ndb Elemta.New.NDB 0 ELEMTA-NEW-SIGNATURE-2b9c >"$DB/new.ndb"
wait_engines "$n"
tb_like "$(milter_log 'engine reloaded \(database changed\)')" \
    "signatures, database $DB" "a new signature file: a new engine by itself"
out=$(milter_send "new sig" --body "x ELEMTA-NEW-SIGNATURE-2b9c x")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Elemta\.New\.NDB\.UNOFFICIAL' \
    "... and its signature is found"

# a database that does not load: concurrent keeps the old engine
echo 'not a signature' >"$DB/bad.ndb"
tb_ok "a broken database: the reload fails" \
    tb_wait 20 grep -q 'clamav: reload (database changed) failed: .*keeping the engine loaded before' \
    "$TB_MILTER_LOG"
out=$(milter_send "eicar again" --attach "@$TB_EICAR")
tb_like "$out" "<\\*\\* +550 5\\.7\\.1 virus found: $eicar" \
    "... the old engine still scans (concurrent)"

# blocking: no engine while the database is broken
n=$(engines)
milter_set clamav_reload=blocking
tb_ok "blocking, broken database: no engine" \
    tb_wait 20 grep -q 'clamav: reload (reload) failed: .*no engine' \
    "$TB_MILTER_LOG"
out=$(milter_send "no engine")
tb_like "$out" '<\*\* +451 4\.7\.1 virus scan unavailable, try again later' \
    "... clamav_fail_action: 451 4.7.1"
tb_like "$(milter_log 'clamav: no scan: no engine loaded: tempfail')" \
    "no engine loaded" "... and the log says why"
milter_set clamav_reload=blocking clamav_fail_action=accept
out=$(milter_send "no engine accept")
tb_like "$out" '250 2\.0\.0 Ok: queued' "... clamav_fail_action=accept: accepted"
rm "$DB/bad.ndb"
n=$(engines)
tb_ok "the database fixed: a new engine without a signal" wait_engines "$n"
out=$(milter_send "eicar fixed" --attach "@$TB_EICAR")
tb_like "$out" "<\\*\\* +550 5\\.7\\.1 virus found: $eicar" \
    "... which scans again"

# EICAR past the header limits (header_cap_action=reject): refused for
# good before the scan, counted apart from the oversize one
milter_set max_headers=10 header_cap_action=reject
{
	printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: capped\r\n'
	for i in $(seq 12); do printf 'X-Pad-%d: x\r\n' "$i"; done
	printf '\r\n%s\r\n' "$(cat "$TB_EICAR")"
} >"$TB/capped.eml"
out=$(milter_send "capped" --data "$TB/capped.eml")
tb_like "$out" '<\*\* +552 5\.3\.4 ' "EICAR past the header limits: the limit's reply"
tb_like "$(milter_log 'clamav=skipped\(refused\) action=reject by=header-cap')" \
    'clamav=skipped\(refused\) action=reject by=header-cap' \
    "... not scanned, the summary line says why"
tb_is "$(scans refused)" 1 "... counted as scans_total{result=\"refused\"}"
tb_is "$(scans skipped)" 1 "... not as result=\"skipped\" (the oversize one only)"
tb_done
