#!/bin/bash
# 0462-milter-clamav-reload - ClamAV engines swapped under load: four
# clients send mail in parallel through a real private Postfix (half
# clean, half EICAR) while the milter is told to reload (SIGUSR1) again
# and again and signature files are added (the first a reload by
# itself; a signal with no change to the database keeps the engine, so
# two files make sure engines are compiled under load).  With
# clamav_reload = concurrent no message is lost or deferred: every
# clean one is delivered with X-Virus-Scanned, every EICAR rejected
# with its name, none gets a 4xx; the engines did change during the
# run; the metrics count the scans and the reloads, and
# elemta_milter_clamav_database_timestamp_seconds is the newest file's
# mtime (the test database has no .cvd with a build time): the one set
# before the start, then the newest added file's.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound clamav
tb_need curl curl
tb_init
tb_plan 13
milter_clamav_db
mkdir -m 0700 "$TB/state"
WORKERS=4
PER=10

# a known age: every file of the database made on 2 January 2026
DBTIME=1767323045
touch -d "@$DBTIME" "$TB_CLAMAV_DB"/*

milter_start "clamav_database=$TB_CLAMAV_DB" clamav_reload_check=1 \
    "database.directory=$TB/state" spf=false dkim=false dmarc=false -- \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
milter_postfix
milter_log 'clamav: engine loaded' >/dev/null

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
tb_is "$(metric elemta_milter_clamav_database_timestamp_seconds)" "$DBTIME" \
    "metrics: the database's timestamp is its newest file's mtime"

# engines - engines made current so far
engines() {
	grep -c 'clamav: engine \(re\)\?loaded' "$TB_MILTER_LOG"
}

# worker W - PER messages, clean and EICAR in turn; one file each
worker() {
	local w=$1 i

	for ((i = 0; i < PER; i++)); do
		if ((i % 2 == 0)); then
			milter_send "load $w-$i" >"$TB/load/$w-$i.clean"
		else
			milter_send "load $w-$i" --attach "@$TB_EICAR" \
			    >"$TB/load/$w-$i.virus"
		fi
	done
}

mkdir "$TB/load"
before=$(engines)
pids=()
for ((w = 0; w < WORKERS; w++)); do
	worker "$w" &
	pids+=($!)
done
# reloads while the sessions run: signals, and a new signature file
for ((r = 0; r < 6; r++)); do
	sleep 0.5
	kill -USR1 "$(tb_pid milter)"
	if ((r == 2)); then
		peer_clamav_ndb Elemta.Load.NDB 0 ELEMTA-LOAD-SIGNATURE-5e \
		    >"$TB_CLAMAV_DB/load.ndb"
	fi
	if ((r == 4)); then
		peer_clamav_ndb Elemta.Load2.NDB 0 ELEMTA-LOAD-SIGNATURE-6f \
		    >"$TB_CLAMAV_DB/load2.ndb"
	fi
done
for pid in "${pids[@]}"; do
	wait "$pid"
done
tb_wait 20 eval "[[ \$(engines) -ge $((before + 2)) ]]"
total=$((WORKERS * PER))
half=$((total / 2))

tb_ok "engines were swapped during the run ($before before, $(engines) after)" \
    test "$(engines)" -ge $((before + 2))
tb_is "$(grep -l '250 2\.0\.0 Ok: queued' "$TB"/load/*.clean | wc -l)" \
    "$half" "every clean message accepted"
tb_is "$(grep -lE '<\*\* +550 5\.7\.1 virus found: Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL' \
    "$TB"/load/*.virus | wc -l)" "$half" \
    "every EICAR rejected with its name"
tb_is "$(grep -lE '<\*\* +4[0-9][0-9] ' "$TB"/load/* | wc -l)" 0 \
    "no message deferred"
tb_wait 30 eval "[[ \$(grep -l '^Subject: load ' \"\$TB_SINK_DIR\"/msg.* 2>/dev/null | wc -l) -ge $half ]]"
tb_is "$(grep -l '^Subject: load ' "$TB_SINK_DIR"/msg.* | wc -l)" "$half" \
    "every clean message delivered once"
tb_is "$(grep -L '^X-Virus-Scanned: ' \
    $(grep -l '^Subject: load ' "$TB_SINK_DIR"/msg.*) | wc -l)" 0 \
    "... each with X-Virus-Scanned"
newest=$(stat -c %Y "$TB_CLAMAV_DB/load.ndb" "$TB_CLAMAV_DB/load2.ndb" |
    sort -n | tail -1)
tb_wait 20 eval '[[ $(metric elemta_milter_clamav_database_timestamp_seconds) == "$newest" ]]'
tb_is "$(metric elemta_milter_clamav_database_timestamp_seconds)" "$newest" \
    "metrics: the added signature files move the database's timestamp"
metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$metrics" 'elemta_milter_clamav_scans_total\{result="clean"\} [1-9]' \
    "metrics: clean scans counted"
tb_like "$metrics" "elemta_milter_clamav_scans_total\\{result=\"virus\"\\} $half" \
    "metrics: every virus counted"
tb_like "$metrics" 'elemta_milter_clamav_reloads_total\{result="ok"\} [2-9]' \
    "metrics: the reloads counted"
tb_like "$metrics" 'elemta_milter_clamav_signatures [1-9]' \
    "metrics: the engine's signatures"
tb_like "$metrics" "elemta_milter_body_total\\{where=\"memory\"\\} $total" \
    "metrics: every message's copy kept in memory"
tb_done
