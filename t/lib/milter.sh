# milter.sh - elemta-milter behind a real private Postfix (t/04xx)
#
# SYNOPSIS
#	. "$top_srcdir/t/lib/harness.sh"
#	. "$top_srcdir/t/lib/peers.sh"
#	. "$top_srcdir/t/lib/milter.sh"
#	milter_require postfix smtp-sink swaks unbound	# before tb_init
#	tb_init; tb_plan N
#	peer_start_unbound [ZONES...]
#	milter_start [KEY=VALUE]... [-- DAEMON ARGS...]
#	milter_start_node NAME PORT [DAEMON ARGS...]	# a second node
#	milter_postfix [main.cf "name = value"]...
#	out=$(milter_send SUBJECT [swaks args])
#	f=$(milter_delivered SUBJECT); milter_headers "$f"
#	milter_set KEY=VALUE...		# new [milter] options, SIGUSR1
#					# (after those of TB_MILTER_KEEP)
#	milter_opendkim_verify FILE	# the opendkim program's verdict
#	milter_signing_tables		# $TB/keys, $TB/signing
#	milter_require_pydkim		# python3-dkim, before tb_init
#	milter_pydkim_sign SRC DST [OPT...]	# python3-dkim signs SRC
#	milter_arc_keys [DOMAIN...]	# unbound, $TB/keys: two sealing domains
#	milter_arc_pyverify FILE	# python3-dkim's ARC verdict
#	milter_arc_plverify FILE	# Mail::DKIM's ARC verdict
#	out=$(milter_t FILE [ARGS])	# elemta-milter -t, stderr in $TB/stderr
#	out=$(milter_offline FILE IP SENDER [ARGS])	# milter_t, an external client
#
# DESCRIPTION
#	The shared set-up of the milter's end-to-end tests: the daemon
#	built here on TB_PORT_MILTER (relayed to libmilter, milter-relay.c),
#	or on the unix socket TB_MILTER_SOCKET when that is set (group
#	postfix, 0660; TB_MILTER_SPEC says which, in Postfix's spelling), its DNS from the harness' unbound
#	(TB_DNS), our authserv-id mx.example.test, Postfix's myhostname;
#	Postfix (peers.sh) with it as smtpd_milters, everything delivered
#	to smtp-sink.
#
#	The [milter] options a test varies live in $TB/milter/elemta.conf
#	(KEY=VALUE arguments, KEY inside the milter section; SECTION.KEY
#	in another section, e.g. dns.timeout=1); milter_set
#	rewrites that file and reloads the daemon (SIGUSR1), which is
#	faster than a restart (libmilter waits for its sessions) and is
#	what an operator does.  New connections see the new options.
#	Options after "--" (e.g. -o dns.timeout=5) are fixed for the
#	daemon's life.
#
#	milter_send sends one message as a remote client (XCLIENT, from
#	192.0.2.1 unless the caller gives --xclient-addr) with
#	Subject: SUBJECT; a --data FILE given by the caller replaces the
#	generated message.  Its output is swaks's transcript.
#
#	A test that wants another authserv-id sets TB_MILTER_AUTHSERV
#	before milter_start.
#
#	Its control socket (elemta-ctl) is $TB/milter/milter.ctl.
#
#	Exported: MILTER (the binary), TB_MILTER_LOG, TB_MILTER_CONF.

# TB, TB_PID ... come from harness.sh and peers.sh.
# shellcheck disable=SC2034,SC2153,SC2154

MILTER=${top_builddir:-.}/milter/elemta-milter
TB_MILTER_AUTHSERV=mx.example.test
TB_MILTER_KEEP=()	# KEY=VALUE options every milter_set keeps
export MILTER TB_MILTER_AUTHSERV

# milter_require - skip unless the milter is built and the peers exist
milter_require() {
	[[ -x $MILTER ]] || tb_skip_all "elemta-milter not built"
	peer_require "$@"
}

# milter_conf - write $TB/milter/elemta.conf: KEY=VALUE in [milter],
# SECTION.KEY=VALUE in [SECTION]; a VALUE in braces (a list) is written
# as it is, any other quoted
milter_conf() {
	local kv key val sect sections=(milter)
	local -A body=()

	for kv in "$@"; do
		key=${kv%%=*} val=${kv#*=} sect=milter
		if [[ $key == *.* ]]; then
			sect=${key%%.*} key=${key#*.}
		fi
		[[ -v "body[$sect]" || $sect == milter ]] || sections+=("$sect")
		[[ $val == \{* ]] || val="\"$val\""
		body[$sect]+=$(printf '\t%s = %s' "$key" "$val")$'\n'
	done
	mkdir -p "$TB/milter"
	TB_MILTER_CONF=$TB/milter/elemta.conf
	for sect in "${sections[@]}"; do
		printf '%s {\n%s}\n' "$sect" "${body[$sect]:-}"
	done >"$TB_MILTER_CONF.tmp" && mv "$TB_MILTER_CONF.tmp" "$TB_MILTER_CONF"
	export TB_MILTER_CONF
}

# milter_start - the daemon on TB_PORT_MILTER; KEY=VALUE... [-- ARGS...]
# (the harness' unbound unless a dns.nameservers=... KEY says otherwise:
# an -o would override the file at each reload)
milter_start() {
	local opts=() listen dns=(-o "dns.nameservers=$TB_DNS")

	while [[ $# -gt 0 && $1 != -- ]]; do
		[[ $1 != dns.nameservers=* ]] || dns=()
		opts+=("$1")
		shift
	done
	[[ ${1:-} == -- ]] && shift
	milter_conf "${opts[@]}"
	TB_MILTER_LOG=$TB/milter/milter.log
	export TB_MILTER_LOG
	if [[ -n ${TB_MILTER_SOCKET:-} ]]; then
		TB_MILTER_SPEC=unix:$TB_MILTER_SOCKET
		listen="unix:$TB_MILTER_SOCKET,mode=0660,group=postfix"
	else
		TB_MILTER_SPEC=inet:127.0.0.1:$TB_PORT_MILTER
		listen=$TB_MILTER_SPEC
	fi
	export TB_MILTER_SPEC
	tb_spawn milter "$TB_MILTER_LOG" "$MILTER" -f -c "$TB_MILTER_CONF" \
	    -o "milter.listen=$listen" \
	    -o milter.user= -o "milter.authserv_id=$TB_MILTER_AUTHSERV" \
	    -o "milter.control_socket=$TB/milter/milter.ctl" \
	    "${dns[@]}" "$@"
	if [[ -n ${TB_MILTER_SOCKET:-} ]]; then
		tb_ready milter "on $TB_MILTER_SOCKET" "$(peer_timeout)" \
		    tb_connect_unix "$TB_MILTER_SOCKET"
	else
		tb_ready milter "on 127.0.0.1:$TB_PORT_MILTER" \
		    "$(peer_timeout)" tb_connect 127.0.0.1 "$TB_PORT_MILTER"
	fi
}

# milter_start_node NAME PORT [ARGS...] - another milter on the same
# configuration file (after milter_start), on 127.0.0.1:PORT, its log
# $TB/milter/NAME.log and control socket $TB/milter/NAME.ctl, the
# harness' authserv-id and unbound; ARGS (-o ...) come last, so they may
# override those; waits for it
milter_start_node() {
	local name=$1 port=$2

	shift 2
	tb_spawn "$name" "$TB/milter/$name.log" "$MILTER" -f \
	    -c "$TB_MILTER_CONF" -o "milter.listen=inet:127.0.0.1:$port" \
	    -o milter.user= -o "milter.control_socket=$TB/milter/$name.ctl" \
	    -o "milter.authserv_id=$TB_MILTER_AUTHSERV" \
	    -o "dns.nameservers=$TB_DNS" "$@"
	tb_ready "$name" "on 127.0.0.1:$port" "$(peer_timeout)" \
	    tb_connect 127.0.0.1 "$port"
}

# milter_set - replace the [milter] options of the file (those of
# TB_MILTER_KEEP, then the arguments), reload, wait
milter_set() {
	local before

	before=$(grep -c 'reloaded: ' "$TB_MILTER_LOG")
	milter_conf "${TB_MILTER_KEEP[@]}" "$@"
	kill -USR1 "$(tb_pid milter)" ||
	    tb_bail "milter_set: the milter is not running"
	tb_wait 10 eval "[[ \$(grep -c 'reloaded: ' '$TB_MILTER_LOG') -gt \
	    $before ]]" || {
		tb_tail "$TB_MILTER_LOG"
		tb_bail "milter_set: no reload after SIGUSR1 ($*)"
	}
}

# milter_postfix - smtp-sink, then Postfix with the milter as smtpd_milters
milter_postfix() {
	peer_start_smtp_sink
	peer_start_postfix "smtpd_milters = inet:127.0.0.1:$TB_PORT_MILTER" \
	    "$@"
}

# milter_send - one message through Postfix as a remote client
milter_send() {
	local subject=$1 msg

	shift
	# swaks's --header would rewrite a --data file (and its signature)
	msg=(--header "Subject: $subject"
	    --header "From: User <user@example.test>" --body "Hello Bob.")
	[[ " $* " == *" --data "* ]] && msg=()
	swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 30 \
	    --helo client.remote.test --from user@example.test \
	    --to bob@sink.test --xclient-addr 192.0.2.1 \
	    "${msg[@]}" "$@" 2>&1
}

# milter_delivered - the smtp-sink file of the message with SUBJECT
milter_delivered() {
	grep -lE "^Subject: $1"$'\r'"?\$" "$TB_SINK_DIR"/msg.* 2>/dev/null |
	    head -1
}

# milter_wait_delivered - wait up to 20 s for SUBJECT; print its file
milter_wait_delivered() {
	tb_wait 20 eval "[[ -n \$(milter_delivered '$1') ]]"
	milter_delivered "$1"
}

# milter_headers - the header block of a delivered file, unfolded, no CR
milter_headers() {
	# smtp-sink's file starts with its own trace lines: keep them, they
	# are headers too.
	sed -e 's/\r$//' -e '/^$/q' "${1:-/dev/null}" |
	    sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\+/ /g'
}

# milter_authres - our Authentication-Results value in a delivered file
milter_authres() {
	milter_headers "$1" | sed -n \
	    "s/^Authentication-Results: $TB_MILTER_AUTHSERV;* *//p" | head -1
}

# milter_queue_id - Postfix's queue id in a swaks transcript ("" if none)
milter_queue_id() {
	sed -n 's/.*queued as \([0-9A-F]\{6,\}\).*/\1/p' <<<"$1" | head -1
}

# milter_maillog - wait up to 10 s for ERE in Postfix's log; print lines
milter_maillog() {
	tb_wait_log 10 "$1" "$TB_MAILLOG"
	grep -E -- "$1" "$TB_MAILLOG"
}

# milter_log - wait up to 10 s for ERE in the milter's log; print lines
milter_log() {
	tb_wait_log 10 "$1" "$TB_MILTER_LOG"
	grep -E -- "$1" "$TB_MILTER_LOG"
}

# milter_opendkim_verify FILE - the opendkim program's verdict on FILE
# (opendkim -t), its A-R header unfolded.  libunbound inside it forwards
# to the harness' unbound (a ResolverConfiguration: opendkim's
# Nameservers has no port) and is told that test. is not its own to
# answer (RFC 6761).
milter_opendkim_verify() {
	if [[ ! -f $TB/opendkim-t.conf ]]; then
		printf '%s\n' "server:" "    do-not-query-localhost: no" \
		    '    local-zone: "test." transparent' "forward-zone:" \
		    '    name: "."' "    forward-addr: $TB_DNS" \
		    >"$TB/opendkim-t-unbound.conf"
		printf '%s\n' "Mode v" "Syslog no" \
		    "ResolverConfiguration $TB/opendkim-t-unbound.conf" \
		    >"$TB/opendkim-t.conf"
	fi
	opendkim -x "$TB/opendkim-t.conf" -vvv -t "$1" 2>&1 |
	    sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\+/ /g'
}

# milter_signing_tables - $TB/keys and $TB/signing, the milter's DKIM
# key and signing tables: the harness' RSA and Ed25519 keys (after
# peer_start_unbound, which makes them), both for *@example.test
milter_signing_tables() {
	{
		echo "rsa example.test:$TB_DKIM_RSA_SELECTOR:$TB_DKIM_RSA_KEY"
		echo "ed example.test:$TB_DKIM_ED25519_SELECTOR:$TB_DKIM_ED25519_KEY"
	} >"$TB/keys"
	echo '*@example.test rsa ed' >"$TB/signing"
}

# milter_arc_keys [DOMAIN...] - unbound with the harness' keys, a
# second sealing domain's (other.test, selector arc2, made by genkey) and
# milter_arc_unbound's for each DOMAIN (for arc-chain.py/.pl); $TB/keys
# seals example.test with the harness' RSA key (seal1) and other.test
# (seal2)
milter_arc_keys() {
	local gk=$TB/gk

	milter_arc_zones "$@"
	mkdir -p "$gk"
	"$MILTER" genkey -d other.test -s arc2 -D "$gk" 2>"$TB/gk.err" ||
	    tb_bail "genkey: $(cat "$TB/gk.err")"
	printf "local-data: '%s'\n" "$(grep -v '^;' "$gk/arc2.txt")" \
	    >"$TB/extra-zones.conf"
	peer_start_unbound "$TB/extra-zones.conf" "$TB/arc-zones.conf"
	{
		echo "seal1 example.test:$TB_DKIM_RSA_SELECTOR:$TB_DKIM_RSA_KEY"
		echo "seal2 other.test:arc2:$gk/arc2.private"
	} >"$TB/keys"
}

# milter_arc_pyverify FILE - python3-dkim's arc_verify of FILE, keys
# from the harness' unbound: "CV N COMMENT" (t/data/milter/arc-seal.py)
milter_arc_pyverify() {
	/usr/bin/python3 "$TB_DATA/milter/arc-seal.py" verify "$1" "$TB_DNS" \
	    2>&1
}

# milter_arc_plverify FILE - Mail::DKIM::ARC::Verifier's result of FILE
# and its detail, keys from the harness' unbound
milter_arc_plverify() {
	perl -MMail::DKIM::ARC::Verifier -MNet::DNS -e '
	my ($host, $port) = split /@/, $ARGV[1];
	Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
	    nameservers => [$host], port => $port, recurse => 1));
	my $v = Mail::DKIM::ARC::Verifier->new;
	open my $fh, "<", $ARGV[0] or die;
	while (<$fh>) { s/\r?\n$/\r\n/; $v->PRINT($_); }
	$v->CLOSE;
	printf "%s %s\n", $v->result, $v->result_detail;' "$1" "$TB_DNS" 2>&1
}

# milter_pydkim_sign SRC DST [OPTION...] - SRC signed by python3-dkim
# (t/lib/pydkim.py), CRLF, into DST: for example.test with the harness'
# RSA key and selector, h= From, To, Subject, unless OPTIONs of
# pydkim.py say otherwise (--length for l=, --canon, --headers, ...)
milter_pydkim_sign() {
	local src=$1 dst=$2

	shift 2
	/usr/bin/python3 "$top_srcdir/t/lib/pydkim.py" \
	    --key "$TB_DKIM_RSA_KEY" --selector "$TB_DKIM_RSA_SELECTOR" \
	    --domain example.test --headers from,to,subject "$@" \
	    "$src" "$dst"
}

# milter_require_pydkim - skip (fail with ELEMTA_REQUIRE_PEERS=1)
# unless python3-dkim and python3-nacl (for Ed25519) can verify
milter_require_pydkim() {
	/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null ||
	    tb_missing "python3-dkim or python3-nacl missing" \
	    "(tools/install-deps)"
}

# milter_require_arc_signers - skip (fail with ELEMTA_REQUIRE_PEERS=1)
# unless both ARC sealers of the tests can run: python3-dkim's
# dkim.arc_sign (with python3-authres) and Perl Mail::DKIM's ARC signer
milter_require_arc_signers() {
	/usr/bin/python3 -c 'import dkim, authres; dkim.arc_sign' \
	    2>/dev/null ||
	    tb_missing "python3-dkim or python3-authres missing" \
	    "(tools/install-deps)"
	perl -MMail::DKIM::ARC::Signer -e 1 2>/dev/null ||
	    tb_missing "Perl Mail::DKIM::ARC::Signer missing" \
	    "(libmail-dkim-perl, tools/install-deps)"
}

# milter_arc_unbound DOMAIN... - peer_start_unbound with the harness'
# RSA key also at sel1._domainkey of each DOMAIN (the ARC sealers'
# keys, arc-chain.py and arc-chain.pl sign with it)
milter_arc_unbound() {
	milter_arc_zones "$@"
	peer_start_unbound "$TB/arc-zones.conf"
}

# milter_arc_zones DOMAIN... - milter_arc_unbound's zones, in
# $TB/arc-zones.conf, unbound not started
milter_arc_zones() {
	local d

	peer_dkim_keys
	for d in "$@"; do
		printf 'local-zone: "%s." static\n' "$d"
		printf "local-data: '%s. 300 IN TXT %s'\n" \
		    "sel1._domainkey.$d" \
		    "$(peer_txt_strings "$(peer_dkim_record rsa)")"
	done >"$TB/arc-zones.conf"
}

# milter_arc_chain py|pl IN OUT HOP... - IN forwarded through ARC
# sealers into OUT: python3-dkim's (t/data/milter/arc-chain.py) or
# Mail::DKIM's (arc-chain.pl); see those for HOP
milter_arc_chain() {
	local tool=$1 in=$2 out=$3

	shift 3
	if [[ $tool == py ]]; then
		/usr/bin/python3 "$TB_DATA/milter/arc-chain.py" \
		    "$TB_DKIM_RSA_KEY" "$in" "$out" "$@"
	else
		perl "$TB_DATA/milter/arc-chain.pl" "$TB_DKIM_RSA_KEY" \
		    "$in" "$out" "$@"
	fi || tb_bail "arc-chain.$tool $* failed"
}

# milter_arc_sixty IN OUT - IN under 60 made-up ARC sets (bad input)
milter_arc_sixty() {
	local i

	for i in $(seq 60 -1 1); do
		printf 'ARC-Seal: i=%d; cv=pass; a=rsa-sha256; d=x.test; s=s; b=AAAA\n' "$i"
		printf 'ARC-Message-Signature: i=%d; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA\n' "$i"
		printf 'ARC-Authentication-Results: i=%d; x.test; spf=pass\n' "$i"
	done >"$2"
	cat "$1" >>"$2"
}

# milter_arc_bloat IN OUT - IN with its ARC-Message-Signature i=1 folded
# out to over 1 MB (bad input)
milter_arc_bloat() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import sys
m = open(sys.argv[1], 'rb').read()
pad = b''.join(b' ' + b'A' * 70 + b'\r\n' for _ in range(15000))
m = m.replace(b'ARC-Message-Signature: i=1;',
              b'ARC-Message-Signature: i=1;\r\n' + pad, 1)
open(sys.argv[2], 'wb').write(m)
EOF
}

# milter_t FILE [ARGS] - the offline mode (-t) on FILE, DNS from the
# harness' unbound (2 s, no retry), authserv-id mx.elemta.test; ARGS
# (--client-ip, --sender, -o ...) come last and win; stderr in $TB/stderr
milter_t() {
	local f=$1

	shift
	"$MILTER" -c /dev/null -o "dns.nameservers=$TB_DNS" \
	    -o dns.timeout=2 -o dns.retries=0 \
	    -o milter.authserv_id=mx.elemta.test -t "$f" "$@" 2>"$TB/stderr"
}

# milter_offline FILE IP SENDER [ARGS] - milter_t on FILE as an external
# client IP (HELO mail.test, MAIL FROM SENDER, RCPT alice@example.test)
milter_offline() {
	local f=$1 ip=$2 s=$3

	shift 3
	milter_t "$f" --client-ip "$ip" --helo mail.test --sender "$s" \
	    --rcpt alice@example.test "$@"
}

# milter_clamav_db - the harness' signatures (peer_clamav_db: EICAR,
# clam.exe) and ours, in TB_CLAMAV_DB: Elemta.Custom.NDB (the text
# TB_CLAMAV_SIG, anywhere) and Elemta.Custom.HDB (the MD5 of the file
# TB_CLAMAV_BIN, 3000 random bytes)
milter_clamav_db() {
	peer_clamav_db
	TB_CLAMAV_SIG=ELEMTA-CUSTOM-TEST-SIGNATURE-7d1f
	TB_CLAMAV_BIN=$TB/clamav/custom.bin
	export TB_CLAMAV_SIG TB_CLAMAV_BIN
	peer_clamav_ndb Elemta.Custom.NDB 0 "$TB_CLAMAV_SIG" \
	    >"$TB_CLAMAV_DB/custom.ndb"
	head -c 3000 /dev/urandom >"$TB_CLAMAV_BIN"
	peer_clamav_hdb "$TB_CLAMAV_BIN" Elemta.Custom.HDB \
	    >"$TB_CLAMAV_DB/custom.hdb"
}

# milter_attach SUBJECT FILE... - a message with each FILE as a base64
# MIME attachment (swaks), on standard output
milter_attach() {
	local subject=$1 f args=()

	shift
	for f in "$@"; do
		args+=(--attach "@$f")
	done
	swaks --to bob@sink.test --from user@example.test \
	    --header "Subject: $subject" --body "See the attachment." \
	    "${args[@]}" --dump-mail 2>/dev/null
}

# milter_msg_nobody SUBJECT - a message of headers only (no empty line,
# no body), CRLF, on standard output
milter_msg_nobody() {
	printf 'From: User <user@example.test>\r\nTo: bob@sink.test\r\n'
	printf 'Subject: %s\r\n' "$1"
}

# milter_msg_nested DEPTH FILE - a message whose body is DEPTH
# multipart/mixed parts one inside the other, FILE base64 in the
# innermost, on standard output
milter_msg_nested() {
	local depth=$1 i

	printf 'From: User <user@example.test>\nTo: bob@sink.test\n'
	printf 'Subject: nested %d\nMIME-Version: 1.0\n' "$depth"
	for ((i = 0; i < depth; i++)); do
		printf 'Content-Type: multipart/mixed; boundary="b%d"\n\n' "$i"
		printf -- '--b%d\n' "$i"
	done
	printf 'Content-Type: application/octet-stream\n'
	printf 'Content-Transfer-Encoding: base64\n\n'
	base64 "$2"
	for ((i = depth - 1; i >= 0; i--)); do
		printf -- '\n--b%d--\n' "$i"
	done
}

# milter_msg_big SUBJECT MB [FILE] - a message of MB megabytes of lines
# of zeros, then FILE's content (e.g. EICAR), CRLF, on standard output
milter_msg_big() {
	printf 'From: User <user@example.test>\r\nTo: bob@sink.test\r\n'
	printf 'Subject: %s\r\n\r\n' "$1"
	awk -v mb="$2" 'BEGIN { l = sprintf("%076d\r\n", 0);
	    for (i = 0; i < mb * 1048576 / 78; i++) printf "%s", l }'
	[[ -z ${3:-} ]] || { cat "$3"; printf '\r\n'; }
}

# milter_clamav_clean WHAT - clean mail and a message with no body
# through Postfix: accepted, delivered with X-Virus-Scanned (5 tests;
# WHAT names the back end in their descriptions)
milter_clamav_clean() {
	local out f

	out=$(milter_send "clean one")
	tb_like "$out" '250 2\.0\.0 Ok: queued' "$1: clean mail accepted"
	f=$(milter_wait_delivered "clean one")
	tb_like "$(milter_headers "$f")" \
	    $'(^|\n)X-Virus-Scanned: ClamAV using elemta-milter(\n|$)' \
	    "$1: clean mail delivered with X-Virus-Scanned"
	milter_msg_nobody "no body" >"$TB/nobody.eml"
	out=$(milter_send "no body" --data "$TB/nobody.eml")
	tb_like "$out" '250 2\.0\.0 Ok: queued' \
	    "$1: a message with no body accepted"
	f=$(milter_wait_delivered "no body")
	tb_like "$(milter_headers "$f")" $'(^|\n)X-Virus-Scanned: ' \
	    "$1: a message with no body, scanned and delivered"
	tb_like "$(milter_log "$(milter_queue_id "$out"): clamav=clean")" \
	    'clamav=clean' "$1: the log line says clean"
}

# milter_clamav_viruses WHAT - after milter_clamav_db, through Postfix:
# EICAR attached, our .ndb signature in the body, our .hdb one
# attached, our signature inside a zip, each rejected with 550 5.7.1
# naming it (5 tests; needs zip)
milter_clamav_viruses() {
	local out eicar='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL'
	local found='<\*\* +550 5\.7\.1 virus found: '

	out=$(milter_send "eicar" --attach "@$TB_EICAR")
	tb_like "$out" "$found$eicar" \
	    "$1: EICAR attached: 550 5.7.1 naming the virus"
	tb_like "$(milter_log "clamav=virus")" \
	    "clamav=virus virus=$eicar action=reject by=clamav" \
	    "$1: the log line names it"
	out=$(milter_send "custom" --body "text $TB_CLAMAV_SIG text")
	tb_like "$out" "${found}Elemta\\.Custom\\.NDB\\.UNOFFICIAL" \
	    "$1: our .ndb signature in the body"
	out=$(milter_send "hashed" --attach "@$TB_CLAMAV_BIN")
	tb_like "$out" "${found}Elemta\\.Custom\\.HDB\\.UNOFFICIAL" \
	    "$1: our .hdb signature, a file attached"
	(cd "$TB" && printf 'x %s y\n' "$TB_CLAMAV_SIG" >sig.txt &&
	    printf 'one\n' >a.txt && rm -f sig.zip &&
	    zip -q sig.zip a.txt sig.txt)
	out=$(milter_send "zipped" --attach "@$TB/sig.zip")
	tb_like "$out" "${found}Elemta\\.Custom\\.NDB\\.UNOFFICIAL" \
	    "$1: our signature inside a zip"
}
