#!/bin/bash
# 0411-milter-miltertest - the real elemta-milter daemon driven by
# miltertest (libmilter protocol), with DNS from a real unbound: SPF pass
# with our Authentication-Results inserted at index 0 and a forged one
# removed, SPF fail rejected with 550 5.7.23, an authenticated client
# skipped, the null sender checked by HELO; the resolver's cache
# answers the second SPF lookup of example.test, and the metrics
# endpoint says so (elemta_milter_dns_cache_total); then SIGUSR1 reloads
# (new generation, still serving; elemta_config_reloads_total counts it),
# a broken file on SIGUSR1 is counted as a failed reload (the series
# exist at 0 from the start), and SIGTERM stops it.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require unbound
tb_need miltertest miltertest curl
tb_init
tb_plan 17
peer_start_unbound

TB_MILTER_AUTHSERV=mx.elemta.test
milter_start -- -o milter.spf_fail_action=reject \
    -o milter.dkim=false -o milter.dmarc=false -o milter.arc=false \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS" \
    -o log.level=debug
LOG=$TB_MILTER_LOG

out=$(miltertest -D "port=$TB_PORT_MILTER" -s "$TB_DATA/milter/spf.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "miltertest script ran to the end"
[ "$rc" = 0 ] || tb_diag "$out" "$(tail -n 20 "$LOG")"
tb_like "$out" "ok: pass inserts A-R at the top" "SPF pass: A-R at index 0"
tb_like "$out" "ok: forged A-R removed" "forged A-R removed"
tb_like "$out" "ok: fail rejected with 550 5.7.23" "SPF fail: 550 5.7.23"
tb_like "$out" "ok: authenticated client skipped" "authenticated: skipped"
tb_like "$out" "ok: null sender uses HELO" "null sender: HELO identity"
tb_like "$(cat "$LOG")" "4A1B2C3D: spf=pass action=accept" \
    "summary log line with the queue id from the macro"
tb_like "$(grep '4A1B2C3D: spf=pass action=accept' "$LOG" | head -1)" \
    "dns_lookups=1 dns_cache_hits=0( |$)" \
    "the first SPF lookup of example.test goes to the network"
tb_like "$(grep '4A1B2C3D: spf=fail action=reject' "$LOG" | head -1)" \
    "dns_lookups=1 dns_cache_hits=1( |$)" \
    "the next one is answered by the cache"

# metric NAME - one sample's value from the metrics endpoint
metric() {
	curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}
hits=$(metric 'elemta_milter_dns_cache_total{result="hit"}')
misses=$(metric 'elemta_milter_dns_cache_total{result="miss"}')
lookups=$(metric elemta_milter_dns_lookups_total)
tb_ok "metrics: cache hits and misses exported ($hits, $misses)" \
    test "${hits:-0}" -ge 1 -a "${misses:-0}" -ge 1
tb_is "$((hits + misses))" "$lookups" \
    "metrics: hits + misses = the lookups"

tb_is "$(metric 'elemta_config_reloads_total{result="ok"}'):$(metric 'elemta_config_reloads_total{result="failed"}')" \
    "0:0" "metrics: the reload counters exist at 0 from the start"
t0=$(metric elemta_config_last_reload_success_timestamp_seconds)
tb_ok "metrics: the configuration's load time is now-ish ($t0)" \
    test "${t0%%.*}" -gt $(($(date +%s) - 3600)) -a "${t0%%.*}" -le "$(date +%s)"

kill -USR1 "$(tb_pid milter)"
tb_wait 5 tb_grep "reloaded: .*generation=2" "$LOG"
out=$(miltertest -D "port=$TB_PORT_MILTER" -s "$TB_DATA/milter/spf.lua" 2>&1)
tb_is "$?" 0 "SIGUSR1 reloads (generation 2) and the milter keeps serving"
tb_is "$(metric 'elemta_config_reloads_total{result="ok"}'):$(metric 'elemta_config_reloads_total{result="failed"}')" \
    "1:0" "metrics: the reload is counted as ok"

# a broken file: the reload fails, is counted, the old configuration runs
cp "$TB_MILTER_CONF" "$TB/good.conf"
echo 'bogus_option = 1' >>"$TB_MILTER_CONF"
kill -USR1 "$(tb_pid milter)"
tb_wait 5 tb_grep "reload failed" "$LOG"
tb_is "$(metric 'elemta_config_reloads_total{result="ok"}'):$(metric 'elemta_config_reloads_total{result="failed"}')" \
    "1:1" "metrics: a broken file on SIGUSR1 counts as a failed reload"
cp "$TB/good.conf" "$TB_MILTER_CONF"
pid=$(tb_pid milter)
kill -TERM "$pid"
tb_wait 10 eval '! tb_alive '"$pid"
tb_like "$(cat "$LOG")" "stopped" "SIGTERM stops it cleanly"
tb_done
