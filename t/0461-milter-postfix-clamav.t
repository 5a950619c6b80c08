#!/bin/bash
# 0461-milter-postfix-clamav - the ClamAV stage behind a real private
# Postfix: EICAR (a base64 attachment) and our own signature (in the
# body) are rejected with the virus' name in the SMTP reply, clean mail
# is delivered with X-Virus-Scanned, a message with no body too; a 50 MB
# message is over scan_max_size: delivered unscanned with X-Elemta-Scan,
# nothing left in the spool.  Reloads: a new signature file is picked up
# by itself (clamav_reload_check), a database that does not load keeps
# the old engine (concurrent) or, with clamav_reload = blocking, leaves
# none: clamav_fail_action answers 451 4.7.1 until the database is
# fixed, which is noticed without a signal.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound clamav
tb_init
tb_plan 24
milter_clamav_db
mkdir -m 0700 "$TB/state"
DB=$TB_CLAMAV_DB

# cl_opts [KEY=VALUE...] - the milter's options: ClamAV on DB, reloads
# checked every second, the spool under $TB/state
cl_opts() {
	printf '%s\n' "clamav_database=$DB" clamav_reload_check=1 \
	    "database.directory=$TB/state" spf=false dkim=false dmarc=false \
	    "$@"
}

# cl_set [KEY=VALUE...] - milter_set with cl_opts
cl_set() {
	local opts

	mapfile -t opts < <(cl_opts "$@")
	milter_set "${opts[@]}"
}

# engines - how many engines the milter has made current so far
engines() {
	grep -c 'clamav: engine \(re\)\?loaded' "$TB_MILTER_LOG"
}

# wait_engines N - wait until more than N engines were made current
wait_engines() {
	tb_wait 20 eval "[[ \$(engines) -gt $1 ]]"
}

mapfile -t opts < <(cl_opts)
milter_start "${opts[@]}"
milter_postfix "message_size_limit = 60000000"
tb_like "$(milter_log 'clamav: engine loaded')" \
    "clamav: engine loaded \\(start\\): libclamav [0-9.]+, [0-9]+ signatures, database $DB" \
    "the engine's version and signature count are logged at start"

eicar='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL'
out=$(milter_send "eicar" --attach "@$TB_EICAR")
tb_like "$out" "<\\*\\* +550 5\\.7\\.1 virus found: $eicar" \
    "EICAR attached: 550 5.7.1 naming the virus"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE .*5\.7\.1 virus found')" \
    "virus found: $eicar" "... Postfix logs the reject with the name"
out=$(milter_send "custom" --body "text $TB_CLAMAV_SIG text")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Elemta\.Custom\.NDB\.UNOFFICIAL' \
    "our .ndb signature in the body: rejected with its name"
out=$(milter_send "hashed" --attach "@$TB_CLAMAV_BIN")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Elemta\.Custom\.HDB\.UNOFFICIAL' \
    "our .hdb signature, a file attached: rejected with its name"

out=$(milter_send "clean one")
tb_like "$out" '250 2\.0\.0 Ok: queued' "clean mail: accepted"
f=$(milter_wait_delivered "clean one")
tb_like "$(milter_headers "$f")" $'(^|\n)X-Virus-Scanned: ClamAV using elemta-milter(\n|$)' \
    "clean mail: delivered with X-Virus-Scanned"
tb_like "$(milter_log "$(milter_queue_id "$out"): clamav=clean action=accept")" \
    "clamav=clean" "clean mail: the log line"

printf 'From: User <user@example.test>\r\nTo: bob@sink.test\r\nSubject: no body\r\n' \
    >"$TB/nobody.eml"
out=$(milter_send "no body" --data "$TB/nobody.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "a message with no body: accepted"
f=$(milter_wait_delivered "no body")
tb_like "$(milter_headers "$f")" $'(^|\n)X-Virus-Scanned: ' \
    "a message with no body: scanned"

# 50 MB: over scan_max_size (25M), through the spool file (over
# body_memory_max) and dropped as the limit is crossed
{
	printf 'From: User <user@example.test>\r\nTo: bob@sink.test\r\n'
	printf 'Subject: fifty\r\n\r\n'
	awk 'BEGIN { l = sprintf("%076d\r\n", 0);
	    for (i = 0; i < 50 * 1048576 / 78; i++) printf "%s", l }'
	cat "$TB_EICAR"
	printf '\r\n'
} >"$TB/fifty.eml"
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
cl_set clamav_reload=blocking
tb_ok "blocking, broken database: no engine" \
    tb_wait 20 grep -q 'clamav: reload (reload) failed: .*no engine' \
    "$TB_MILTER_LOG"
out=$(milter_send "no engine")
tb_like "$out" '<\*\* +451 4\.7\.1 virus scan unavailable, try again later' \
    "... clamav_fail_action: 451 4.7.1"
tb_like "$(milter_log 'clamav: no scan: no engine loaded: tempfail')" \
    "no engine loaded" "... and the log says why"
cl_set clamav_reload=blocking clamav_fail_action=accept
out=$(milter_send "no engine accept")
tb_like "$out" '250 2\.0\.0 Ok: queued' "... clamav_fail_action=accept: accepted"
rm "$DB/bad.ndb"
n=$(engines)
tb_ok "the database fixed: a new engine without a signal" wait_engines "$n"
out=$(milter_send "eicar fixed" --attach "@$TB_EICAR")
tb_like "$out" "<\\*\\* +550 5\\.7\\.1 virus found: $eicar" \
    "... which scans again"
tb_done
