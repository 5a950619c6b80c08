#!/bin/bash
# 0468-milter-clamav-reload-unchanged - a reload of the milter (SIGUSR1)
# compiles a ClamAV engine only when it would differ from the one in
# use: with the signature directory and the engine options as they
# were, the engine is kept ("engine unchanged", counted as
# elemta_milter_clamav_reloads_total{result="unchanged"}) and still
# scans; a changed engine option (clamav_max_files), a signature file
# added and one removed each compile a new engine on the next reload,
# and the log says why.  clamav_reload_check = 0: only the signals
# reload, the database checks of the timer never do.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

tb_need curl curl
milter_require postfix smtp-sink swaks unbound clamav
tb_init
tb_plan 14
milter_clamav_db
mkdir -m 0700 "$TB/state"
DB=$TB_CLAMAV_DB

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}

# engines - engines made current so far (start and reloads)
engines() {
	grep -c 'clamav: engine \(re\)\?loaded' "$TB_MILTER_LOG"
}

# reload_lines - lines of the engine thread answering a reload: it
# compiled, kept or failed
reload_lines() {
	grep -c 'clamav: engine \(re\)\?loaded\|clamav: engine unchanged\|clamav: reload .* failed' \
	    "$TB_MILTER_LOG"
}

# reload - SIGUSR1 and wait for the ClamAV thread's answer
reload() {
	local n

	n=$(reload_lines)
	kill -USR1 "$(tb_pid milter)"
	tb_wait 30 eval "[[ \$(reload_lines) -gt $n ]]"
}

TB_MILTER_KEEP=("clamav_database=$DB" clamav_reload_check=0
    "database.directory=$TB/state" spf=false dkim=false dmarc=false)
milter_start "${TB_MILTER_KEEP[@]}" -- \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix
milter_log 'clamav: engine loaded' >/dev/null

# nothing changed: the engine is kept
reload
tb_is "$(engines)" 1 "SIGUSR1, nothing changed: no new engine"
tb_like "$(milter_log 'clamav: engine unchanged')" \
    "clamav: engine unchanged \\(reload\\): database $DB and engine options as loaded" \
    "... the log says the engine in use is kept"
tb_is "$(metric 'elemta_milter_clamav_reloads_total{result="unchanged"}'):$(metric 'elemta_milter_clamav_reloads_total{result="ok"}')" \
    "1:1" "metrics: counted as unchanged, not as a compile"
out=$(milter_send "eicar kept" --attach "@$TB_EICAR")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL' \
    "... and the kept engine scans"

# an engine option changed: a new engine
milter_set clamav_max_files=5000
tb_wait 30 eval '[[ $(engines) -ge 2 ]]'
tb_is "$(engines)" 2 "clamav_max_files changed: a new engine"
tb_like "$(milter_log 'clamav: reload: engine options changed')" \
    'compiling a new engine' "... the log says why"

# the same configuration again: kept
milter_set clamav_max_files=5000
tb_wait 30 eval "[[ \$(grep -c 'clamav: engine unchanged' '$TB_MILTER_LOG') -ge 2 ]]"
tb_is "$(engines)" 2 "the same options again: the engine kept"

# a signature file added: a new engine, which finds it
peer_clamav_ndb Elemta.Added.NDB 0 ELEMTA-ADDED-SIGNATURE-31c7 \
    >"$DB/added.ndb"
reload
tb_is "$(engines)" 3 "a signature file added: a new engine"
tb_like "$(milter_log 'clamav: reload: database changed')" \
    'compiling a new engine' "... the log says why"
out=$(milter_send "added sig" --body "x ELEMTA-ADDED-SIGNATURE-31c7 x")
tb_like "$out" '<\*\* +550 5\.7\.1 virus found: Elemta\.Added\.NDB\.UNOFFICIAL' \
    "... and its signature is found"

# a signature file removed: a new engine, which no longer has it
rm "$DB/added.ndb"
reload
tb_is "$(engines)" 4 "a signature file removed: a new engine"
out=$(milter_send "removed sig" --body "x ELEMTA-ADDED-SIGNATURE-31c7 x")
tb_like "$out" '250 2\.0\.0 Ok: queued' "... which no longer has its signature"

tb_is "$(metric 'elemta_milter_clamav_reloads_total{result="unchanged"}'):$(metric 'elemta_milter_clamav_reloads_total{result="ok"}')" \
    "2:4" "metrics: two kept, four compiled (start included)"
tb_like "$(cat "$TB_MILTER_LOG")" 'clamav: engine unchanged' \
    "the log names the kept engines"
tb_done
