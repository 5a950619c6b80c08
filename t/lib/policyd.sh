# policyd.sh - shared set-up of the elemta-policyd shell tests (t/03xx)
#
# Source after harness.sh and peers.sh:
#	pol_start NAME PORT [-c FILE] [-o ...]	a policyd, its store in $TB/NAME,
#						its log $TB/NAME/log (or $POL_LOG)
#	pol_request FD NAME=VALUE...		one policy request on an open
#						connection; the reply's line
#	pol_run_0320 VAR=VALUE N		t/0320 against a real Redis
#	pol_send [swaks args]			one message through Postfix
#	pol_smtp CMD...				one raw SMTP session; replies
#	pol_postfix_with_policy PORT		Postfix asking policyd at RCPT,
#						DATA and END-OF-DATA
#	pol_redis_weight KEY [PORT]		the weight a limit's log in the
#						test's Redis (or on PORT) holds
#	pol_load TAG CLIENTS N [swaks args]	the fault tests' load through
#	pol_count TAG ERE / pol_sent TAG	Postfix, its transcripts and
#						deliveries (see each)
#	POL_QUEUED, POL_DEFERRED		EREs: accepted; deferred by a
#						client limit
#	pol_dunno PORT ADDR			a probe from ADDR answered DUNNO
#	pol_redis_exact TAG WHEN WHY		3 checks: a limit of 3 exact in
#						Redis after an outage
#	pol_ldap_conf PEOPLE [LINES...]		$TB/conf/elemta.conf: slapd's
#						users' own rates (2/h, LDAP)
POLICYD=${top_builddir:-.}/policyd/elemta-policyd
[ -x "$POLICYD" ] || tb_skip_all "elemta-policyd not built"

# pol_start NAME PORT [ARGS...] - start policyd NAME on PORT, its store in
# $TB/NAME (its control socket too: $TB/NAME/policyd.ctl), wait for it;
# it runs as nobody when we are root (as itself
# otherwise); its log is $TB/NAME/log unless POL_LOG names another file
# (a restart keeping the first run's log); ARGS (-o ...) come last
pol_start() {
	local name=$1 port=$2 d=$TB/$1 user=(-o policyd.user=)

	shift 2
	mkdir -p "$d"
	if [[ $(id -u) -eq 0 ]]; then
		chown nobody "$d"
		user=(-o policyd.user=nobody)
	fi
	tb_spawn "$name" "${POL_LOG:-$d/log}" "$POLICYD" -f -c /dev/null \
	    -o "policyd.listen=inet:127.0.0.1:$port" "${user[@]}" \
	    -o "policyd.store_path=$d/policyd.db" \
	    -o "policyd.control_socket=$d/policyd.ctl" "$@"
	tb_ready "$name" "on 127.0.0.1:$port" 10 pol_up "$port" \
	    "${POL_LOG:-$d/log}"
}

# pol_up PORT LOG - true once policyd answers connections and has said it
# is ready (it binds its listener first, then opens its store)
pol_up() {
	tb_connect 127.0.0.1 "$1" && tb_grep 'elemta-policyd ready' "$2"
}

# pol_request FD NAME=VALUE... - one request (request=smtpd_access_policy
# and the attributes given) on the connection open on FD; prints the
# reply's "action=..." line, or what went wrong
pol_request() {
	local fd=$1 line

	shift
	printf 'request=smtpd_access_policy\n%s\n\n' "$(printf '%s\n' "$@")" \
	    1>&"$fd" 2>/dev/null || { echo "write failed"; return; }
	read -r -t 10 -u "$fd" line || { echo "no reply ($?)"; return; }
	read -r -t 10 -u "$fd" _
	echo "$line"
}

# pol_run_0320 VAR=VALUE N - run t/0320-policyd-redis.t with VAR set (the
# address of a real server for it): three checks, it exits 0, no check
# of it fails, N pass
pol_run_0320() {
	local t=${top_builddir:-.}/t/0320-policyd-redis.t out rc

	[[ -x $t ]] || tb_bail "$t not built"
	out=$(env "$1" "$t" 2>&1)
	rc=$?
	tb_is "$rc" 0 "t/0320 with $1 exits 0" || tb_diag "$out"
	tb_is "$(grep -c '^not ok' <<<"$out")" 0 "no check of it failed" ||
	    tb_diag "$(grep -A3 '^not ok' <<<"$out")"
	tb_is "$(grep -c '^ok' <<<"$out")" "$2" "all $2 checks passed" ||
	    tb_diag "$out"
}

# pol_send - one message through Postfix; swaks's transcript
pol_send() {
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 20 \
	    --helo client.other.test --from sender@other.test "$@" 2>&1
}

# pol_smtp CMD... - one SMTP session sending each CMD (a line "DATA..."
# is followed by a message), printing every reply line
pol_smtp() {
	local line cmd

	exec 7<>"/dev/tcp/127.0.0.1/$TB_PORT_SMTPD" || return 1
	read -r -t 20 -u 7 line && echo "$line"
	for cmd in "$@"; do
		printf '%s\r\n' "$cmd" >&7
		if [[ $cmd == DATA ]]; then
			read -r -t 20 -u 7 line && echo "$line"
			[[ $line == 354* ]] || continue
			printf 'Subject: pol_smtp\r\n\r\nbody\r\n.\r\n' >&7
		fi
		while read -r -t 20 -u 7 line; do
			echo "${line%$'\r'}"
			[[ $line =~ ^[0-9]{3}\  ]] && break
		done
	done
	exec 7>&-
}

# pol_postfix_with_policy PORT [main.cf lines] - Postfix with the check in
# smtpd_recipient_restrictions (after reject_unauth_destination), in
# smtpd_data_restrictions and smtpd_end_of_data_restrictions
pol_postfix_with_policy() {
	local p="check_policy_service { inet:127.0.0.1:$1, timeout=10s, default_action=DUNNO }"

	shift
	peer_start_smtp_sink
	peer_start_postfix \
	    "smtpd_recipient_restrictions = reject_unauth_destination, $p" \
	    "smtpd_data_restrictions = $p" \
	    "smtpd_end_of_data_restrictions = $p" \
	    "smtpd_policy_service_max_idle = 300s" "$@"
}

# pol_redis_weight KEY [PORT] - the weight logged under Redis KEY (the
# log is MessagePack of [times], [weights]; 0 when there is none)
pol_redis_weight() {
	redis-cli -h 127.0.0.1 -p "${2:-$TB_PORT_REDIS}" EVAL "
		local s = redis.call('GET', KEYS[1])
		if not s then return 0 end
		local t, w = cmsgpack.unpack(s)
		local n = 0
		for i = 1, #w do n = n + w[i] end
		return n" 1 "$1"
}

# pol_load TAG CLIENTS N [swaks args] - CLIENTS concurrent loops, client
# c sending N messages from $LOAD_NET.c (and as SASL user $LOAD_LOGIN c
# when LOAD_LOGIN is set), each transcript in $TB/TAG-c-i.out
pol_load() {
	local tag=$1 clients=$2 n=$3 c i pids=() login

	shift 3
	for c in $(seq 1 "$clients"); do
		login=()
		[[ -z ${LOAD_LOGIN:-} ]] || login=(--xclient-login "$LOAD_LOGIN$c")
		(
			for i in $(seq 1 "$n"); do
				pol_send --xclient-addr "$LOAD_NET.$c" "${login[@]}" \
				    --to "$tag-$c-$i@sink.test" "$@" \
				    >"$TB/$tag-$c-$i.out"
			done
		) &
		pids+=($!)
	done
	# only these: the daemons tb_spawn started are jobs of this shell too
	wait "${pids[@]}" 2>/dev/null
}

# pol_count TAG ERE - how many of TAG's transcripts match ERE
pol_count() {
	cat "$TB/$1"-*.out | grep -cE "$2"
}
POL_QUEUED='250 2\.0\.0 Ok: queued'
POL_DEFERRED='450 4\.7\.1 .*Message rate limit exceeded for client'

# pol_sent TAG - how many of TAG's messages Postfix delivered to the sink
pol_sent() {
	grep -cE ": to=<$1-[0-9]+-[0-9]+@sink\.test>.* status=sent" "$TB_MAILLOG"
}

# pol_dunno PORT ADDR - true if a request from ADDR (a new instance each
# time) on PORT is answered DUNNO: a probe for tb_wait
pol_probes=0
pol_dunno() {
	local line

	exec 5<>"/dev/tcp/127.0.0.1/$1"
	line=$(pol_request 5 protocol_state=RCPT client_address="$2" \
	    instance="probe.$((++pol_probes))")
	exec 5>&-
	[[ $line == action=DUNNO ]]
}

# pol_ldap_conf PEOPLE [LINES...] - $TB/conf/elemta.conf: the test slapd
# ([ldap], 2 s timeouts), and a policyd with no client limit, a limit of
# 2 messages an hour per SASL user that the user's entry under PEOPLE
# may override (mailRateLimit; found by uid, waited for 500 ms), and
# LINES (more policyd options)
pol_ldap_conf() {
	local people=$1

	shift
	mkdir -p "$TB/conf"
	cat >"$TB/conf/elemta.conf" <<CONF
ldap {
	uri = "$TB_LDAP_URI"
	network_timeout = 2s
	search_timeout = 2s
}
policyd {
$(printf '\t%s\n' "$@")
	client_message_limit = 0
	ldap_base = "$people"
	ldap_filter = "(uid=%u)"
	ldap_wait_ms = 500
	limit sasl_user_message {
		key = sasl_user
		rate = 2
		period = 1h
		clients = authenticated
		ldap_attribute = "mailRateLimit"
	}
}
CONF
	chmod 644 "$TB/conf/elemta.conf"
}

# pol_redis_exact TAG WHEN WHY - after an outage of Redis, with a limit
# of 3 per client: 4 clients (198.51.100.c) send 4 messages each; three
# checks, "WHEN: ...": each client's 3 accepted (WHY), the 4th deferred,
# and Redis holds exactly 3 per client
pol_redis_exact() {
	local tag=$1 c w=0

	LOAD_NET=198.51.100 pol_load "$tag" 4 4
	tb_is "$(pol_count "$tag" "$POL_QUEUED")" 12 \
	    "$2: each client's 3 messages accepted ($3)"
	tb_is "$(cat "$TB/$tag"-*-4.out | grep -cE "$POL_DEFERRED")" 4 \
	    "$2: each client's 4th message deferred"
	for c in 1 2 3 4; do
		w=$((w + $(pol_redis_weight "elemta:policyd:{msg:ip:198.51.100.$c}")))
	done
	tb_is "$w" 12 "$2: Redis holds exactly 3 per client"
}
