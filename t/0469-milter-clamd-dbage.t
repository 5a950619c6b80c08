#!/bin/bash
# 0469-milter-clamd-dbage - with the clamd back end (clamav_clamd), the
# age of the database clamd scans with is exported as
# elemta_milter_clamav_database_timestamp_seconds, as the in-process
# engine's is, so that the stale-signatures alert covers clamd: the
# milter asks clamd's VERSION at start, at each reload and every few
# minutes (never per message).  Against a real clamd: without a daily
# database the reply names none (the gauge stays 0, and the log says
# why); with a daily.cud built here (sigtool, version 27123) the gauge
# is its build time; clamd reloading a newer one (27124) and the milter
# reloading moves it; clamd stopped keeps the last value, logged.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

tb_need curl curl
milter_require unbound clamav clamd sigtool
tb_init
tb_plan 8
milter_clamav_db
peer_start_clamd
mkdir -m 0700 "$TB/state"

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
AGE=elemta_milter_clamav_database_timestamp_seconds

TB_MILTER_KEEP=("database.directory=$TB/state" spf=false dkim=false
    dmarc=false "clamav_clamd=inet:127.0.0.1:$TB_PORT_CLAMD")
milter_start "${TB_MILTER_KEEP[@]}" -- \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
tb_wait 20 tb_grep 'clamav: clamd at ' "$TB_MILTER_LOG"
tb_like "$(milter_log 'clamav: clamd at ')" \
    "clamav: clamd at inet:127\\.0\\.0\\.1:$TB_PORT_CLAMD: ClamAV [0-9.]+, no database version" \
    "no daily database: the log says clamd names no version"
tb_is "$(metric "$AGE")" 0 "... and the gauge stays 0"

# a daily database: clamd reloads it, the milter asks again at reload
built=$(peer_clamav_cud 27123)
peer_clamd_reload || tb_bail "clamd did not reload"
milter_set
tb_wait 20 eval '[[ $(metric "$AGE") == "$built" ]]'
tb_is "$(metric "$AGE")" "$built" "a daily.cud: the gauge is its build time"
tb_like "$(milter_log 'database version 27123')" \
    "clamav: clamd at inet:127\\.0\\.0\\.1:$TB_PORT_CLAMD: ClamAV [0-9.]+, database version 27123 built " \
    "... and the log names its version"

# a newer one, a second later
sleep 1.1
built2=$(peer_clamav_cud 27124)
tb_ok "the newer database was built later ($built < $built2)" \
    test "$built" -lt "$built2"
peer_clamd_reload || tb_bail "clamd did not reload"
milter_set
tb_wait 20 eval '[[ $(metric "$AGE") == "$built2" ]]'
tb_is "$(metric "$AGE")" "$built2" "clamd's newer database: the gauge moves"

# clamd stopped: the last value kept, logged
tb_stop clamd
milter_set
tb_wait 20 tb_grep "clamav: clamd's database age unknown (kept)" \
    "$TB_MILTER_LOG"
tb_like "$(milter_log "clamav: clamd's database age unknown")" \
    "connect inet:127\\.0\\.0\\.1:$TB_PORT_CLAMD" \
    "clamd stopped: the log says the age is unknown"
tb_is "$(metric "$AGE")" "$built2" "... and the gauge keeps the last value"
tb_done
