#!/bin/bash
# 0313-policyd-quota - calendar quotas in a running elemta-policyd
#
# Over the policy protocol, on the SQLite store: a quota of 2 messages
# per day per SASL user defers the 3rd with the time to midnight UTC; it
# survives a restart of the daemon; a monthly quota of 5 per sender
# domain rejects the 6th; with calendar_time_zone = Asia/Tokyo the day
# ends at 15:00 UTC, and a reload to another zone keeps it (logged: the
# zone changes at the next restart); an unknown time zone is a
# configuration error.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

tb_init
tb_plan 15

P=$TB_PORT_POLICY
mkdir -p "$TB/conf"
cat >"$TB/conf/elemta.conf" <<CONF
policyd {
	client_message_limit = 0
	sasl_user_message_limit = 0
	limit daily {
		key = sasl_user
		rate = 2
		period = day
	}
	limit monthly {
		key = sender_domain
		rate = 5
		period = month
		action = reject
	}
}
CONF
chmod 644 "$TB/conf/elemta.conf"

# to_next HOUR_UTC - seconds from now to the next HOUR:00:00 UTC
to_next() {
	local now day

	now=$(date -u +%s)
	day=$((now - now % 86400 + $1 * 3600))
	[[ $day -gt $now ]] || day=$((day + 86400))
	echo $((day - now))
}

# away_from HOUR_UTC... - do not start within 30 s of such a boundary, or
# of the end of the month (a count would start afresh mid-test)
away_from() {
	local h s

	for h in "$@"; do
		s=$(to_next "$h")
		[[ $s -lt 30 ]] && sleep $((s + 1))
	done
	s=$(($(date -u -d "$(date -u +%Y-%m-01) +1 month" +%s) - $(date -u +%s)))
	[[ $s -lt 30 ]] && sleep $((s + 1))
	return 0
}

# msg FD USER SENDER INSTANCE - one RCPT request; the reply's line
msg() {
	pol_request "$1" protocol_state=RCPT client_address=192.0.2.80 \
	    "sasl_username=$2" "sender=$3" "instance=$4"
}

# near A B - A and B (seconds) differ by at most 3
near() {
	local d=$(($1 - $2))

	[[ ${d#-} -le 3 ]]
}

away_from 0 15
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
exec 5<>"/dev/tcp/127.0.0.1/$P"

# 1. per day, per user
r1=$(msg 5 alice a@a.test i1)
r2=$(msg 5 alice a@a.test i2)
tb_is "$r1 $r2" "action=DUNNO action=DUNNO" "alice: 2 of 2 per day pass"
r=$(msg 5 alice a@a.test i3)
want=$(to_next 0)
tb_like "$r" '^action=450 4\.7\.1 Message quota exceeded for user alice \(2 per day\), try again in [0-9]+ s$' \
    "the 3rd is deferred by the daily quota"
got=$(sed -E 's/.*try again in ([0-9]+) s$/\1/' <<<"$r")
tb_ok "it says to retry at midnight UTC (in $got s, want $want)" near "$got" "$want"
tb_ok "logged with period=day" \
    tb_grep 'action=defer limit=daily key=user:alice used=2 max=2 period=day' "$TB/policyd/log"

# 2. a restart keeps the count (the store is flushed at stop)
exec 5>&-
tb_stop policyd
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
exec 5<>"/dev/tcp/127.0.0.1/$P"
r=$(msg 5 alice a@a.test i4)
tb_like "$r" '^action=450 4\.7\.1 Message quota exceeded for user alice \(2 per day\)' \
    "after a restart alice is still over her daily quota"
tb_is "$(msg 5 bob b@m.test i5)" action=DUNNO "bob is not"

# 3. per month, per sender domain: bob sent one, 4 more users of m.test
n=0
for u in u1 u2 u3 u4; do
	[[ $(msg 5 "$u" "$u@m.test" "m.$u") == action=DUNNO ]] && n=$((n + 1))
done
tb_is "$n" 4 "5 messages of m.test in the month pass (bob's and 4)"
r=$(msg 5 u5 u5@m.test m.u5)
tb_like "$r" '^action=550 5\.7\.1 Message quota exceeded for sender domain m\.test \(5 per month\)$' \
    "the 6th is rejected by the monthly quota"

# 4. another time zone: Tokyo's day ends at 15:00 UTC
exec 5>&-
tb_stop policyd
pol_start policyd "$P" -c "$TB/conf/elemta.conf" \
    -o policyd.calendar_time_zone=Asia/Tokyo
exec 5<>"/dev/tcp/127.0.0.1/$P"
msg 5 carol c@t.test t1 >/dev/null
msg 5 carol c@t.test t2 >/dev/null
r=$(msg 5 carol c@t.test t3)
want=$(to_next 15)
got=$(sed -E 's/.*try again in ([0-9]+) s$/\1/' <<<"$r")
tb_like "$r" 'Message quota exceeded for user carol \(2 per day\)' \
    "in Tokyo too, the 3rd is deferred"
tb_ok "until Tokyo's midnight, 15:00 UTC (in $got s, want $want)" \
    near "${got:-0}" "$want"
exec 5>&-

# 5. a reload does not change the time zone (the process's, read by its
# threads): the new one is logged as taking effect at the next restart
zconf() {
	cat >"$TB/conf/zone.conf" <<CONF
policyd {
	client_message_limit = 0
	sasl_user_message_limit = 0
	calendar_time_zone = "$1"
	limit daily {
		key = sasl_user
		rate = 2
		period = day
	}
}
CONF
	chmod 644 "$TB/conf/zone.conf"
}
tb_stop policyd
zconf Asia/Tokyo
pol_start policyd "$P" -c "$TB/conf/zone.conf"
zconf Europe/Berlin
kill -HUP "$(tb_pid policyd)"
tb_ok "the reload logs that Europe/Berlin takes effect at the next restart" \
    tb_wait_log 10 'calendar_time_zone: Europe/Berlin takes effect at the next restart' \
    "$TB/policyd/log"
exec 5<>"/dev/tcp/127.0.0.1/$P"
msg 5 erin e@z.test z1 >/dev/null
msg 5 erin e@z.test z2 >/dev/null
r=$(msg 5 erin e@z.test z3)
want=$(to_next 15)
got=$(sed -E 's/.*try again in ([0-9]+) s$/\1/' <<<"$r")
tb_like "$r" 'Message quota exceeded for user erin \(2 per day\)' \
    "after the reload the 3rd is deferred"
tb_ok "still until Tokyo's midnight, 15:00 UTC (in $got s, want $want)" \
    near "${got:-0}" "$want"
exec 5>&-
tb_stop policyd

# 6. an unknown zone is refused with the option's name
out=$("$POLICYD" -n -c /dev/null -o policyd.calendar_time_zone=Nowhere/City 2>&1)
rc=$?
tb_ok "-n refuses an unknown calendar_time_zone (rc $rc)" test "$rc" -ne 0
tb_like "$out" "calendar_time_zone.*unknown time zone 'Nowhere/City'" \
    "saying which and why"
tb_done
