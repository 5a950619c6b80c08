# lmtp.sh - shared set-up of the elemta-lmtp-bridge tests (t/05xx), sourced
# after harness.sh and peers.sh: the bridge's configuration and start, the
# private Postfix delivering example.test to it, Dovecot with extra
# settings (quota, a Lua hook), and the checks the tests share.
#
#	lmtp_init			skip unless the bridge is built
#	lmtp_conf [LINES...]		write $TB/elemta.conf: a lmtp_bridge
#					section with the usual test settings,
#					then LINES (more options or sections)
#	lmtp_ldap			LMTP_LDAP: the lines of an ldap section
#					for lmtp_conf, slapd bound as alice
#	lmtp_start_bridge		start it on TB_PORT_BRIDGE (log: $BLOG)
#	lmtp_ldap_users FILE		LDIF for slapd: carol (disabled), sales
#					(routed to bob@ on TB_PORT_LMTP2)
#	lmtp_start_postfix [LINES...]	Postfix: example.test -> the bridge
#	lmtp_dovecot_extra NAME LINES...	add settings to a running Dovecot
#	send / queue_id / copies / status_of / nlines	(see each)
#	lmtp_send TO SUBJECT [ARGS]	one message: $out, $qid
#	lmtp_wait SECS ERE [N]		N status lines of $qid in the maillog
#	nstatus / flush / none_queued / load / tally	(the fault tests'
#					load from several clients; see each)

BRIDGE=${top_builddir}/lmtp-bridge/elemta-lmtp-bridge

# lmtp_init - skip the whole test unless the daemon is built
lmtp_init() {
	[[ -x $BRIDGE ]] || tb_skip_all "elemta-lmtp-bridge not built"
}

# lmtp_conf - the bridge's configuration: LINES that look like options
# ("key = ..." or "key {") go inside the lmtp_bridge section until the
# first one that does not; the rest follows the section
lmtp_conf() {
	local line inside=1

	{
		cat <<EOF
lmtp_bridge {
	listen = "inet:127.0.0.1:$TB_PORT_BRIDGE"
	metrics_listen = "inet:127.0.0.1:$TB_PORT_METRICS"
	user = ""
	hostname = "bridge.example.test"
	backend = "inet:127.0.0.1:$TB_PORT_LMTP"
	spool_directory = "$TB"
	control_socket = "$TB/lmtp-bridge.ctl"
	connect_timeout = 2s
	command_timeout = 20s
	delivery_timeout = 60s
EOF
		for line in "$@"; do
			if [[ $inside == 1 && $line =~ ^[a-z_]+\ *= ]]; then
				printf '\t%s\n' "$line"
				continue
			fi
			[[ $inside == 1 ]] && echo "}"
			inside=0
			printf '%s\n' "$line"
		done
		[[ $inside == 0 ]] || echo "}"
	} >"$TB/elemta.conf"
}

# lmtp_ldap - LMTP_LDAP, the lines of an ldap section for lmtp_conf:
# slapd (peer_start_slapd), the bridge bound as alice (a plain reader;
# her password from the file $TB/ldap.secret), short timeouts
lmtp_ldap() {
	echo alicepw >"$TB/ldap.secret"
	chmod 600 "$TB/ldap.secret"
	LMTP_LDAP=("ldap {"
	    "	uri = \"$TB_LDAP_URI\""
	    "	bind_dn = \"uid=alice,ou=people,$TB_LDAP_BASE\""
	    "	bind_password_file = \"$TB/ldap.secret\""
	    "	network_timeout = 2s"
	    "	search_timeout = 2s"
	    "}")
}

# lmtp_ldap_users FILE - two mail users for peer_start_slapd's extra LDIF:
# carol, whose account is disabled, and sales, delivered as
# bob@example.test on its own backend (TB_PORT_LMTP2)
lmtp_ldap_users() {
	cat >"$1" <<EOF
dn: uid=carol,ou=people,$TB_LDAP_BASE
objectClass: inetOrgPerson
objectClass: elemtaMailUser
uid: carol
cn: Carol Example
sn: Example
mail: carol@example.test
mailEnabled: FALSE

dn: uid=sales,ou=people,$TB_LDAP_BASE
objectClass: inetOrgPerson
objectClass: elemtaMailUser
uid: sales
cn: Sales
sn: Sales
mail: sales@example.test
mailRoutingAddress: bob@example.test
mailHost: inet:127.0.0.1:$TB_PORT_LMTP2
EOF
}

# lmtp_start_bridge - start the bridge on $TB/elemta.conf, wait for it
lmtp_start_bridge() {
	BLOG=$TB/bridge.log
	tb_spawn bridge "$BLOG" "$BRIDGE" -f -c "$TB/elemta.conf"
	tb_ready bridge "on 127.0.0.1:$TB_PORT_BRIDGE" 10 \
	    tb_banner 127.0.0.1 "$TB_PORT_BRIDGE" '^220 .*LMTP'
}

# lmtp_start_postfix - the private Postfix: example.test to the bridge,
# sink.test to smtp-sink; args: more main.cf lines
lmtp_start_postfix() {
	peer_start_postfix \
	    "transport_maps = inline:{ example.test=lmtp:inet:127.0.0.1:$TB_PORT_BRIDGE, sink.test=smtp:[127.0.0.1]:$TB_PORT_SINK }" \
	    "lmtp_send_xforward_command = yes" \
	    "lmtp_destination_recipient_limit = 50" "$@"
}

# lmtp_dovecot_extra - append settings to Dovecot NAME's configuration
# and reload it (peer_start_dovecot writes a fresh one at each start)
lmtp_dovecot_extra() {
	local name=$1 conf=$TB/$1/dovecot.conf n

	shift
	printf '%s\n' "$@" >>"$conf"
	doveconf -c "$conf" -n >"$TB/$name/doveconf.log" 2>&1 || {
		tb_tail "$TB/$name/doveconf.log"
		tb_bail "doveconf rejected the extra settings of $name"
	}
	n=$(grep -c 'reloading configuration' "$TB/$name/dovecot.log")
	doveadm -c "$conf" reload >/dev/null 2>&1 ||
	    tb_bail "doveadm reload of $name failed"
	tb_wait 10 lmtp_reloaded "$TB/$name/dovecot.log" "$n"
}
# lmtp_reloaded - Dovecot's LOG says it reloaded more than N times
lmtp_reloaded() {
	[[ $(grep -c 'reloading configuration' "$1") -gt $2 ]]
}

# send - one SMTP transaction to the private Postfix
send() {
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 20 \
	    --helo client.other.test "$@" 2>&1
}
# queue_id - the id in swaks's transcript
queue_id() {
	sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' <<<"$1"
}
# lmtp_send TO SUBJECT [ARGS] - one message from sender@other.test to TO
# (addresses, comma-separated) with SUBJECT, through Postfix: swaks's
# transcript in $out, Postfix's queue id in $qid
lmtp_send() {
	local to=$1 subject=$2

	shift 2
	out=$(send --from sender@other.test --to "$to" \
	    --header "Subject: $subject" "$@")
	qid=$(queue_id "$out")
}
# lmtp_wait SECS ERE [N] - wait up to SECS for N (1) maillog lines of
# $qid's recipients matching "QID: to=ERE"
lmtp_wait() {
	tb_wait "$1" nlines "${3:-1}" "$qid: to=$2" "$TB_MAILLOG"
}
# copies - how many files of ADDRESS's Maildir (on Dovecot NAME, "dovecot"
# by default; in FOLDER, a Maildir++ folder such as .Junk, if given) hold
# Subject SUBJ in new/
copies() {
	grep -lxF -- "Subject: $2" \
	    "$(peer_maildir "$1" "${3:-dovecot}")${4:+/$4}"/new/* \
	    2>/dev/null | wc -l
}
# status_of - the last maillog line for queue id QID and RCPT (an ERE)
status_of() {
	grep -E "$1: to=<$2>" "$TB_MAILLOG" | tail -n 1
}
# nlines - at least N lines matching ERE in FILE
nlines() {
	[[ $(grep -cE -- "$2" "$3" 2>/dev/null) -ge $1 ]]
}

# nstatus QIDS STATUS - how many maillog lines say STATUS for the queue
# ids (an ERE)
nstatus() {
	grep -cE -- "($1): to=<.*status=$2" "$TB_MAILLOG"
}
# flush - ask Postfix to retry its deferred mail now
flush() {
	postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
}
# none_queued - none of the queue ids (an ERE) is in Postfix's queue
none_queued() {
	! postqueue -c "$TB_POSTFIX_CONF" -p 2>/dev/null | grep -qE "^($1)[ *!]"
}
# load TAG N [BODYFILE] - 4 clients send N messages each at once, message
# C-I to one of the test's USERS (round robin); the queue ids, as an
# ERE, in $TB/TAG.qids
load() {
	local tag=$1 n=$2 c pids=() body=()

	[[ -z ${3:-} ]] || body=(--body "$3")
	for c in 1 2 3 4; do
		(
			for i in $(seq 1 "$n"); do
				u=${USERS[$(((c + i) % ${#USERS[@]}))]}
				send --from sender@other.test \
				    --to "$u@example.test" \
				    --header "Subject: $tag $u $c-$i" \
				    "${body[@]}" >"$TB/$tag-$c-$i.out"
			done
		) &
		pids+=($!)
	done
	# only these: the daemons tb_spawn started are jobs of this shell too
	wait "${pids[@]}" 2>/dev/null
	cat "$TB/$tag"-*.out | sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' |
	    paste -sd'|' >"$TB/$tag.qids"
}
# tally TAG - "DISTINCT TOTAL MISPLACED": the messages of TAG in the
# Maildirs of USERS, distinct subjects, files, and files in a Maildir
# that is not their recipient's
tally() {
	local u f distinct total mis=0

	for u in "${USERS[@]}"; do
		for f in $(grep -laF -- "Subject: $1 " \
		    "$(peer_maildir "$u@example.test")"/new/* 2>/dev/null); do
			grep -qaF -- "Subject: $1 $u " "$f" || mis=$((mis + 1))
		done
	done
	distinct=$(cat "$TB"/dovecot/mail/example.test/*/Maildir/new/* 2>/dev/null |
	    grep -aF -- "Subject: $1 " | sort -u | wc -l)
	total=$(grep -laF -- "Subject: $1 " \
	    "$TB"/dovecot/mail/example.test/*/Maildir/new/* 2>/dev/null | wc -l)
	echo "$distinct $total $mis"
}
