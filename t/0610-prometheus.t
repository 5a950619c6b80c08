#!/bin/bash
# 0610-prometheus - contrib/prometheus and contrib/grafana against a real
# Prometheus scraping the three daemons under real mail.
#
# promtool accepts the alert rules and the example scrape configuration,
# and passes the rules' unit tests (each alert fires on made-up series of
# its failure); each alert has for:, a severity label, a summary, a
# description and a unit test.
# A private Postfix passes mail through elemta-milter (verify, DKIM
# signing for an authenticated client, ARC sealing, ClamAV with the test
# database, greylisting that skips every message: its sender domain is
# allowed or the client authenticated) and elemta-policyd (Redis store,
# 3 messages/hour per client: the 4th from one client is deferred) to
# smtp-sink, and mail for alice@example.test through elemta-lmtp-bridge
# (routing: a SQLite table, then LDAP on slapd) into Dovecot.  Debian's prometheus scrapes the
# three /metrics every second and evaluates the rules; then every
# expression of the dashboard and of the rules is asked of its HTTP API:
# each must name only metrics that exist there and evaluate without
# error, and each dashboard panel's must return data.  promtool check
# metrics finds nothing to say about each daemon's /metrics.
#
# The rule for the dashboard: every panel shows data here, so a stage a
# panel is about is switched on in this test's traffic (ClamAV,
# greylisting, ARC sealing); a stage that is too costly to start here
# (Rspamd) gets alert rules only, which must name metrics that exist
# (the milter exports its failure results at 0 from the start) and
# evaluate, but need not return data.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/policyd.sh"
. "$top_srcdir/t/lib/lmtp.sh"

RULES=$top_srcdir/contrib/prometheus/elemta.rules.yml
RULES_TEST=$top_srcdir/contrib/prometheus/elemta.rules.test.yml
DASH=$top_srcdir/contrib/grafana/elemta.json
EXPRS=$top_srcdir/t/lib/prom-exprs.py

milter_require postfix smtp-sink swaks unbound dovecot redis slapd \
    sqlite3 prometheus clamav
lmtp_init
tb_init

# Every expression, one line each (KIND, WHAT, EXPR): the plan depends
# on how many there are.
python3 "$EXPRS" list "$DASH" "$RULES" >"$TB/exprs" 2>"$TB/exprs.err" ||
    tb_bail "prom-exprs.py list: $(cat "$TB/exprs.err")"
nexprs=$(wc -l <"$TB/exprs")
nrules=$(grep -c '^rule' "$TB/exprs")
tb_plan $((17 + nexprs))

tb_ok "promtool check rules accepts contrib/prometheus/elemta.rules.yml" \
    promtool check rules "$RULES"
tb_ok "promtool check config accepts contrib/prometheus/prometheus.yml" \
    promtool check config "$top_srcdir/contrib/prometheus/prometheus.yml"
tb_ok "promtool test rules: every alert fires on its failure" \
    promtool test rules "$RULES_TEST"
tb_ok "every alert has for:, a severity, a summary, a description, a test" \
    python3 "$EXPRS" lint "$RULES" "$RULES_TEST"

#
# The gateway: milter, policyd and bridge, each with its metrics_listen
#
peer_start_unbound
peer_start_redis
peer_start_slapd "$TB_DATA/elemta.schema"
peer_start_dovecot
peer_start_smtp_sink

milter_signing_tables
milter_clamav_db
mkdir -m 0700 "$TB/state"
milter_start "dkim_key_table=$TB/keys" "dkim_signing_table=$TB/signing" \
    arc_seal_domain=example.test "clamav_database=$TB_CLAMAV_DB" \
    greylist=true 'greylist_sender_allow={"other.test"}' \
    "database.directory=$TB/state" \
    -- -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS2"
pol_start policyd "$TB_PORT_POLICY" -o policyd.store=redis \
    -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
    -o 'policyd.client_message_limit=3/1h' \
    -o "policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS3"
# an empty SQLite table first (each lookup falls through), then LDAP
sqlite3 "$TB/routes.db" 'CREATE TABLE lmtp_routes (address TEXT PRIMARY KEY,
    backend TEXT, rewrite TEXT, enabled INTEGER NOT NULL DEFAULT 1,
    junk_optout INTEGER NOT NULL DEFAULT 0);' ||
    tb_bail "sqlite3 could not make $TB/routes.db"
lmtp_ldap
lmtp_conf "sqlite_database = \"$TB/routes.db\"" "ldap_lookup = true" \
    "ldap_base = \"ou=people,$TB_LDAP_BASE\"" "${LMTP_LDAP[@]}"
lmtp_start_bridge
lmtp_start_postfix \
    "smtpd_milters = $TB_MILTER_SPEC" \
    "smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service { inet:127.0.0.1:$TB_PORT_POLICY, timeout=10s, default_action=DUNNO }"

# Prometheus from the start, so that the rates span the traffic.
peer_start_prometheus "elemta-milter=127.0.0.1:$TB_PORT_METRICS2" \
    "elemta-policyd=127.0.0.1:$TB_PORT_METRICS3" \
    "elemta-lmtp-bridge=127.0.0.1:$TB_PORT_METRICS" "$RULES"

# prom_value EXPR - the value of a one-series query now ("" if none)
prom_value() {
	curl -fsS --get --data-urlencode "query=$1" \
	    "$TB_PROM_URL/api/v1/query" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
# prom_at_least EXPR N - true once EXPR's value is at least N
prom_at_least() {
	local v

	v=$(prom_value "$1")
	[[ -n $v ]] && python3 -c "import sys; sys.exit(not float('$v') >= $2)"
}

tb_wait 60 prom_at_least 'sum(up{job=~"elemta-.*"})' 3
tb_is "$(prom_value 'sum(up{job=~"elemta-.*"})')" 3 \
    "Prometheus scrapes the three daemons" ||
    tb_diag "$(curl -s "$TB_PROM_URL/api/v1/targets")"

#
# Mail
#

# mail FROM IP TO [SWAKS ARGS] - one message through Postfix from a
# remote client IP (XCLIENT); swaks's transcript
mail() {
	local from=$1 ip=$2 to=$3

	shift 3
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 30 \
	    --helo client.remote.test --from "$from" --to "$to" \
	    --xclient-addr "$ip" --header "From: <$from>" \
	    --header "Subject: tb-0610 $ip" --body "Hello." "$@" 2>&1
}

n=0
for ip in 192.0.2.31 192.0.2.32 192.0.2.33; do
	out=$(mail sender@other.test "$ip" alice@example.test)
	[[ $out == *"250 2.0.0 Ok: queued"* ]] && n=$((n + 1))
done
tb_is "$n" 3 "3 messages for alice@example.test are queued" ||
    tb_diag "$out"

out=$(mail user@example.test 192.0.2.1 bob@sink.test --xclient-login alice)
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "an authenticated client's message (signed) is queued" || tb_diag "$out"

for i in 1 2 3 4; do
	out=$(mail sender@other.test 192.0.2.40 bob@sink.test)
done
tb_like "$out" '<\*\* +450 4\.7\.1 .*rate limit' \
    "policyd defers the 4th message of a client (3/1h)" || tb_diag "$out"

# copies_new ADDRESS - messages in ADDRESS's Maildir/new on Dovecot
copies_new() {
	find "$(peer_maildir "$1")/new" -type f 2>/dev/null | wc -l
}
tb_wait 30 eval '[[ $(copies_new alice@example.test) -ge 3 ]]'
tb_is "$(copies_new alice@example.test)" 3 \
    "the bridge delivered the 3 into alice's Maildir" ||
    tb_diag "$(tail -5 "$TB_MAILLOG")" "$(tail -5 "$BLOG")"

# Prometheus has scraped all of it, and evaluated every rule.
tb_wait 30 prom_at_least 'sum(elemta_lmtp_deliveries_total{outcome="delivered"})' 3
tb_wait 30 prom_at_least 'sum(elemta_milter_dkim_signatures_total{result="signed"})' 1
tb_wait 30 prom_at_least 'sum(elemta_policyd_limit_hits_total)' 1
# the optional stages the dashboard shows, exercised
for q in 'elemta_milter_clamav_scans_total{result="clean"}' \
    'elemta_milter_greylist_total{result="skipped"}' \
    'elemta_milter_arc_seals_total{result="sealed"}'; do
	tb_wait 30 prom_at_least "sum($q)" 1
	tb_ok "Prometheus has $q" prom_at_least "sum($q)" 1 ||
	    tb_diag "$(grep -E 'clamav=|greylist=|arc' "$TB_MILTER_LOG" | tail -5)"
done
# rules_ok - how many rules Prometheus evaluated without an error
rules_ok() {
	curl -fsS "$TB_PROM_URL/api/v1/rules" 2>/dev/null | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
print(sum(1 for g in groups for r in g["rules"] if r["health"] == "ok"))'
}
tb_wait 30 eval '[[ $(rules_ok) -ge $nrules ]]'
tb_is "$(rules_ok)" "$nrules" \
    "Prometheus loaded the $nrules rules and evaluates each without error" ||
    tb_diag "$(curl -s "$TB_PROM_URL/api/v1/rules")"
# the rates want a few scrapes after the traffic
tb_wait 30 prom_at_least 'count_over_time(up{job="elemta-milter"}[1m])' 10

#
# promtool check metrics: each daemon's /metrics as Prometheus reads it
#
for job in elemta-milter:$TB_PORT_METRICS2 elemta-policyd:$TB_PORT_METRICS3 \
    elemta-lmtp-bridge:$TB_PORT_METRICS; do
	curl -fsS "http://127.0.0.1:${job#*:}/metrics" >"$TB/${job%%:*}.metrics"
	out=$(promtool check metrics <"$TB/${job%%:*}.metrics" 2>&1)
	tb_is "$?:$out" "0:" "promtool check metrics: ${job%%:*} has no problems" ||
	    tb_diag "$out"
done

#
# Every expression, asked of Prometheus
#
out=$(python3 "$EXPRS" check "$TB_PROM_URL" 0 \
    'rate(elemta_milter_mesages_total[1m])')
tb_like "$out" '^no such metric: elemta_milter_mesages_total$' \
    "the check finds a misspelt metric name"

while IFS=$'\t' read -r kind what expr; do
	need=0
	[[ $kind == dashboard ]] && need=1
	out=$(python3 "$EXPRS" check "$TB_PROM_URL" "$need" "$expr" </dev/null)
	tb_like "$out" '^ok: ' "$kind: $what" || tb_diag "$expr"
done <"$TB/exprs"
tb_done
