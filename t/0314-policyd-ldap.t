#!/bin/bash
# 0314-policyd-ldap - users' own rates from a real slapd, behind a real
# Postfix (swaks --xclient-login) and over the policy protocol
#
# The limit is 2 messages an hour per SASL user, with ldap_attribute
# mailRateLimit: ann's entry raises it to 5 (6 messages: 5 pass, the 6th
# is deferred saying "5 per 1h"); ben has no such attribute (2); cat's
# "1/day" makes hers a daily quota; dan's "lots" is logged and ignored
# (2).  Six messages of ann cost one search (slapd's log).  A hung slapd
# (SIGSTOP): a user not cached waits ldap_wait_ms and gets the default,
# while a request of a cached user on another connection is answered at
# once.  slapd stopped: eve (10 in the directory) gets the default 2,
# the failure is logged once for two users, counted, and nothing
# crashes.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require slapd postfix smtp-sink swaks
tb_need curl curl
tb_init
tb_plan 22

people="ou=people,$TB_LDAP_BASE"
{
	for u in ann:5 ben: cat:1/day dan:lots eve:10 fay:50 gil:50; do
		cat <<EOF
dn: uid=${u%%:*},$people
objectClass: inetOrgPerson
objectClass: elemtaMailUser
uid: ${u%%:*}
cn: ${u%%:*}
sn: Test
mail: ${u%%:*}@example.test
EOF
		[[ -n ${u#*:} ]] && echo "mailRateLimit: ${u#*:}"
		echo
	done
} >"$TB/people.ldif"
TB_SLAPD_DEBUG=256 peer_start_slapd "$TB_DATA/elemta.schema" "$TB/people.ldif"
SLOG=$TB/slapd/slapd.log

P=$TB_PORT_POLICY
pol_ldap_conf "$people" "metrics_listen = \"inet:127.0.0.1:$TB_PORT_METRICS\""
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
pol_postfix_with_policy "$P"

# sends USER N - N messages of USER; prints how many were queued and
# the last refusal (one line)
sends() {
	local user=$1 n=$2 i out ok=0 last=""

	for ((i = 1; i <= n; i++)); do
		out=$(pol_send --xclient-addr 192.0.2.30 --xclient-login "$user" \
		    --to "r$i@sink.test")
		if [[ $out =~ '250 2.0.0 Ok: queued' ]]; then
			ok=$((ok + 1))
		else
			last=$(grep -m1 -E '^<\*\* +4[0-9]{2} ' <<<"$out")
		fi
	done
	echo "$ok ${last#*<\*\* }"
}

# 1. raised, default, a calendar quota, an unusable value
r=$(sends ann 6)
tb_is "${r%% *}" 5 "ann's entry raises the limit of 2 to 5: 5 of 6 pass" ||
    tb_diag "$r"
tb_like "$r" 'Message rate limit exceeded for user ann \(5 per 1h\), try again in [0-9]+ s' \
    "the 6th is deferred, saying 5 per 1h"
tb_ok "logged with rate_from=ldap" \
    tb_grep 'limit=sasl_user_message key=user:ann used=5 max=5 period=1h .*rate_from=ldap' "$TB/policyd/log"
r=$(sends ben 3)
tb_is "${r%% *}" 2 "ben has no mailRateLimit: the default 2 of 3" || tb_diag "$r"
tb_like "$r" 'for user ben \(2 per 1h\)' "deferred saying 2 per 1h"
r=$(sends cat 2)
tb_like "$r" '^1 .*Message quota exceeded for user cat \(1 per day\)' \
    "cat's 1/day: a daily quota, 1 of 2" || tb_diag "$r"
r=$(sends dan 3)
tb_is "${r%% *}" 2 "dan's 'lots' is no rate: the default 2 of 3"
tb_ok "and it is logged, with the user and the value" \
    tb_grep "policyd ldap: user=dan dn=\"uid=dan,$people\" mailRateLimit: 'lots' is neither N nor N/PERIOD" "$TB/policyd/log"
tb_is "$(grep -c 'filter="(uid=ann)"' "$SLOG")" 1 \
    "ann's 6 messages cost one search (the cache)"

# 1b. a search base that does not exist (noSuchObject): a directory
# error -- the defaults apply, as when slapd is down, and the error is
# logged and not cached as "no override" (slapd is asked again once the
# failure's retry delay is over, not after ldap_negative_cache_ttl)
P2=$(tb_port 70)
nowhere="ou=nowhere,$TB_LDAP_BASE"
pol_start policyd2 "$P2" -c "$TB/conf/elemta.conf" \
    -o "policyd.ldap_base=$nowhere" -o "policyd.metrics_listen="
exec 7<>"/dev/tcp/127.0.0.1/$P2"
r=$(pol_request 7 protocol_state=RCPT sasl_username=ann instance=n1)
tb_is "$r" action=DUNNO "search base missing: ann gets the default (1 of 2)"
tb_wait 5 tb_grep "policyd ldap: user=ann: .*search base '$nowhere' does not exist \(noSuchObject\)" "$TB/policyd2/log"
tb_ok "... the directory error is logged, naming the base" \
    tb_grep "policyd ldap: user=ann: .*search base '$nowhere' does not exist \(noSuchObject\)" "$TB/policyd2/log"
sleep 5.5			# POLICYD_LDAP_RETRY_MS
r=$(pol_request 7 protocol_state=RCPT sasl_username=ann instance=n2)
tb_wait 5 bash -c "[[ \$(grep -cF 'SRCH base=\"$nowhere\"' '$SLOG') -ge 2 ]]"
tb_is "$(grep -cF "SRCH base=\"$nowhere\"" "$SLOG")" 2 \
    "... not cached as 'no override': slapd is asked again after the retry delay"
exec 7>&-
tb_stop policyd2

# 2. a hung slapd does not stall the loop (once all its threads are
# stopped: tb_stopped)
kill -STOP "$(tb_pid slapd)"
tb_wait 5 tb_stopped "$(tb_pid slapd)" || tb_diag "slapd did not stop"
exec 5<>"/dev/tcp/127.0.0.1/$P" 6<>"/dev/tcp/127.0.0.1/$P"
t0=$(tb_now_ms)
printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=fay\ninstance=f1\n\n' >&5
r6=$(pol_request 6 protocol_state=RCPT sasl_username=ann instance=a9)
dt6=$(($(tb_now_ms) - t0))
read -r -t 10 -u 5 r5
read -r -t 10 -u 5 _
dt5=$(($(tb_now_ms) - t0))
kill -CONT "$(tb_pid slapd)"
tb_like "$r6" '^action=450 4\.7\.1 .*user ann \(5 per 1h\)' \
    "slapd hung: a cached user is answered from the cache ..."
# (bounds from the settings, not from speed: a cached answer comes before
# the other request's 500 ms ldap_wait_ms; the wait ends before the
# directory's own 2 s timeouts)
tb_ok "... at once, while another request waits ($dt6 ms)" test "$dt6" -lt 450
tb_is "$r5" action=DUNNO "fay, not cached, gets the default (1 of 2) ..."
tb_ok "... after ldap_wait_ms, not the directory's timeouts ($dt5 ms)" \
    test "$dt5" -ge 450 -a "$dt5" -lt 1900
tb_ok "the wait is logged" \
    tb_grep 'policyd ldap: user=fay: no answer from the directory within ldap_wait_ms \(500 ms\); the limits.* own rates apply' "$TB/policyd/log"

# 3. slapd stopped: the defaults, logged once, counted
tb_stop slapd
r=$(sends eve 3)
tb_is "${r%% *}" 2 "slapd stopped: eve (10 in the directory) gets the default 2 of 3" ||
    tb_diag "$r"
r=$(pol_request 6 protocol_state=RCPT sasl_username=gil instance=g1)
tb_is "$r" action=DUNNO "gil too gets the default"
tb_is "$(grep -cE "policyd ldap: user=(eve|gil): .*Can't contact LDAP server" "$TB/policyd/log")" 1 \
    "two users' failures, one log line (rate-limited)" ||
    tb_diag "$(grep 'policyd ldap' "$TB/policyd/log")"
metrics=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$metrics" 'elemta_policyd_ldap_defaults_total\{reason="error"\} [1-9]' \
    "requests given the defaults are counted" || tb_diag "$metrics"
exec 5>&- 6>&-
tb_ok "policyd is still running" tb_alive "$(tb_pid policyd)"
tb_done
