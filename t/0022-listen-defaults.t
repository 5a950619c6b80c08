#!/bin/bash
# 0022-listen-defaults - who may talk to the daemons.  (a) Each daemon on a
# TCP listener with listen_allow = 127.0.0.1/32: a client from 127.0.0.2
# is closed at accept, logged and counted, one from 127.0.0.1 is served;
# the same for policyd's metrics endpoint with metrics_allow.
# (b) The embedded defaults: unix sockets in /var/spool/postfix/elemta,
# elemta:postfix 0660 in a 0750 directory, that a local user outside the
# group cannot connect to.  (c) A real Postfix delivers through all three
# default sockets (milter, policy service, LMTP bridge) into Dovecot,
# named as contrib/postfix names them (unix:elemta/NAME.sock).
#
# The default sockets are one per machine: the test holds a lock on them
# (ELEMTA_DEFAULT_SOCKETS_LOCK, also taken by tools/quickstart).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

B=${top_builddir:-.}
MILTER=$B/milter/elemta-milter
POLICYD=$B/policyd/elemta-policyd
BRIDGE=$B/lmtp-bridge/elemta-lmtp-bridge
for bin in "$MILTER" "$POLICYD" "$BRIDGE"; do
	[[ -x $bin ]] || tb_skip_all "$bin not built"
done
peer_require postfix dovecot smtp-sink unbound swaks
tb_need elemta-user getent
getent passwd elemta >/dev/null ||
    tb_missing "no user elemta (tools/install-deps makes it)"
tb_init
tb_plan 31

SOCKETS=/var/spool/postfix/elemta
LOCK=${ELEMTA_DEFAULT_SOCKETS_LOCK:-/run/lock/elemta-default-sockets.lock}

# connect_from SRC PORT - connect from SRC to 127.0.0.1:PORT, print what
# the server says first ("EOF" if it closes, "QUIET" if it says nothing)
connect_from() {
	perl -MIO::Socket::INET -MIO::Select -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
		    PeerPort => $ARGV[1], LocalAddr => $ARGV[0], Timeout => 5)
		    or do { print "CONNECT FAILED: $!\n"; exit };
		if (!IO::Select->new($s)->can_read(3)) { print "QUIET\n"; exit }
		my $n = sysread($s, my $buf, 512);
		print $n ? $buf : "EOF\n";' "$1" "$2" 2>&1
}

# metric FAMILY PORT - the value of a series from a metrics endpoint
metric() {
	curl -s "http://127.0.0.1:$2/metrics" | awk -v m="$1" \
	    'index($0, m " ") == 1 { print $2 }'
}

# --- (a) listen_allow on TCP listeners --------------------------------
REFUSED='elemta_connections_refused_total{reason="listen_allow"}'
mkdir -p "$TB/tcp" && chown nobody "$TB/tcp"
umask 000	# what a careless parent could leave: the daemon sets its own
tb_spawn policyd-tcp "$TB/tcp/policyd.log" "$POLICYD" -f -c /dev/null \
    -o "policyd.listen=inet:127.0.0.1:$TB_PORT_POLICY" \
    -o "policyd.listen_allow=127.0.0.1/32" -o policyd.user=nobody \
    -o "policyd.store_path=$TB/tcp/policyd.db" \
    -o "policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS" \
    -o "policyd.metrics_allow=127.0.0.1/32" -o policyd.control_socket=
tb_ready policyd-tcp "on 127.0.0.1:$TB_PORT_POLICY" 10 \
    tb_connect 127.0.0.1 "$TB_PORT_POLICY"
umask 022
# the store is opened after the listener is bound (and privileges dropped)
tb_wait 10 tb_grep 'elemta-policyd ready' "$TB/tcp/policyd.log"
tb_is "$(stat -c %a "$TB/tcp/policyd.db" 2>&1)" 640 \
    "policyd's SQLite store: 0640 under an inherited umask 000 (umask 027)"
tb_spawn milter-tcp "$TB/tcp/milter.log" "$MILTER" -f -c /dev/null \
    -o "milter.listen=inet:127.0.0.1:$TB_PORT_MILTER" \
    -o "milter.listen_allow=127.0.0.1/32" -o milter.user=nobody \
    -o "milter.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS2" \
    -o milter.control_socket= \
    -o "dns.nameservers=127.0.0.1@9"
tb_ready milter-tcp "on 127.0.0.1:$TB_PORT_MILTER" 10 \
    tb_connect 127.0.0.1 "$TB_PORT_MILTER"
tb_spawn bridge-tcp "$TB/tcp/bridge.log" "$BRIDGE" -f -c /dev/null \
    -o "lmtp_bridge.listen=inet:127.0.0.1:$TB_PORT_BRIDGE" \
    -o "lmtp_bridge.listen_allow=127.0.0.1/32" -o lmtp_bridge.user=nobody \
    -o "lmtp_bridge.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS3" \
    -o lmtp_bridge.control_socket= \
    -o "lmtp_bridge.backend=inet:127.0.0.1:9" \
    -o "lmtp_bridge.spool_directory=$TB/tcp"
tb_ready bridge-tcp "on 127.0.0.1:$TB_PORT_BRIDGE" 10 \
    tb_banner 127.0.0.1 "$TB_PORT_BRIDGE" '^220 '

tb_is "$(connect_from 127.0.0.2 "$TB_PORT_BRIDGE")" EOF \
    "bridge: a client from 127.0.0.2 is closed at once, no banner"
tb_like "$(connect_from 127.0.0.1 "$TB_PORT_BRIDGE")" '^220 .*LMTP' \
    "bridge: a client from 127.0.0.1 gets the banner"
tb_is "$(connect_from 127.0.0.2 "$TB_PORT_POLICY")" EOF \
    "policyd: a client from 127.0.0.2 is closed at once"
tb_is "$(connect_from 127.0.0.1 "$TB_PORT_POLICY")" QUIET \
    "policyd: a client from 127.0.0.1 stays connected"
tb_is "$(connect_from 127.0.0.2 "$TB_PORT_MILTER")" EOF \
    "milter: a client from 127.0.0.2 is closed at once"
tb_is "$(connect_from 127.0.0.1 "$TB_PORT_MILTER")" QUIET \
    "milter: a client from 127.0.0.1 stays connected (relayed to libmilter)"
for d in policyd bridge milter; do
	tb_ok "$d: the refusal is logged with the client's address" \
	    tb_wait 5 tb_grep "refused a connection from 127\.0\.0\.2: not in [a-z_]*\.listen_allow" "$TB/tcp/$d.log"
done
tb_is "$(metric "$REFUSED" "$TB_PORT_METRICS")" 1 "policyd: counted"
# metrics_allow: the metrics endpoint's own allow-list
out=$(curl -s -S --max-time 5 --interface 127.0.0.2 \
    "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_unlike "$out" 'elemta_' \
    "policyd metrics: a client from 127.0.0.2 gets no metrics ($out)"
tb_ok "policyd metrics: the refusal is logged" tb_wait 5 tb_grep \
    "refused a metrics connection from 127\.0\.0\.2: not in policyd\.metrics_allow" \
    "$TB/tcp/policyd.log"
tb_is "$(metric 'elemta_connections_refused_total{reason="metrics_allow"}' \
    "$TB_PORT_METRICS")" 1 "policyd metrics: counted"
tb_is "$(metric "$REFUSED" "$TB_PORT_METRICS2")" 1 "milter: counted"
tb_is "$(metric "$REFUSED" "$TB_PORT_METRICS3")" 1 "bridge: counted"
# a real milter conversation from an allowed client goes through the relay
tb_ok "milter: miltertest's option negotiation through the relay" \
    perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
	    PeerPort => $ARGV[0], Timeout => 5) or exit 1;
	# SMFIC_OPTNEG: version 6, all actions, no protocol steps skipped
	my $body = "O" . pack("NNN", 6, 0x1ff, 0);
	print $s pack("N", length $body) . $body;
	sysread($s, my $len, 4) == 4 or exit 1;
	sysread($s, my $cmd, 1) == 1 or exit 1;
	exit($cmd eq "O" ? 0 : 1);' "$TB_PORT_MILTER"
for d in policyd-tcp milter-tcp bridge-tcp; do
	tb_stop "$d"
done

# --- (b) the default unix sockets -----------------------------------------
mkdir -p "$(dirname "$LOCK")"
exec {lockfd}>"$LOCK" || tb_bail "cannot open $LOCK"
flock -w 300 "$lockfd" || tb_bail "the default sockets stay locked ($LOCK)"
# Under the lock nothing else uses them: start from no directory, so that
# the daemons make it.
if [[ -d $SOCKETS ]]; then
	find "$SOCKETS" -mindepth 1 ! -type s | grep -q . &&
	    tb_bail "$SOCKETS holds something else than sockets"
	rm -rf "$SOCKETS"
fi

peer_start_unbound
peer_start_dovecot
peer_start_smtp_sink
mkdir -p "$TB/db" && chown elemta: "$TB/db"
tb_spawn milter "$TB/milter.log" "$MILTER" -f -o "dns.nameservers=$TB_DNS" \
    -o milter.authserv_id=mx.example.test
tb_ready milter "on $SOCKETS/milter.sock" 10 tb_connect_unix "$SOCKETS/milter.sock"
tb_spawn policyd "$TB/policyd.log" "$POLICYD" -f -o "database.directory=$TB/db" \
    -o log.level=debug
tb_ready policyd "on $SOCKETS/policyd.sock" 10 tb_connect_unix "$SOCKETS/policyd.sock"
tb_spawn bridge "$TB/bridge.log" "$BRIDGE" -f \
    -o "lmtp_bridge.backend=inet:127.0.0.1:$TB_PORT_LMTP" \
    -o "lmtp_bridge.spool_directory=$TB/db"
tb_ready bridge "on $SOCKETS/lmtp.sock" 10 tb_connect_unix "$SOCKETS/lmtp.sock"

tb_is "$(stat -c '%a %U %G' "$SOCKETS")" "750 elemta postfix" \
    "the directory is made: elemta:postfix 0750"
for s in milter policyd lmtp; do
	tb_is "$(stat -c '%F %a %U %G' "$SOCKETS/$s.sock")" \
	    "socket 660 elemta postfix" "$s.sock: elemta:postfix 0660"
done
tb_ok "user nobody cannot connect to policyd.sock" \
    bash -c "! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => \$ARGV[0]) or exit 1' \
	'$SOCKETS/policyd.sock'"
tb_ok "user nobody cannot connect to lmtp.sock" \
    bash -c "! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => \$ARGV[0]) or exit 1' \
	'$SOCKETS/lmtp.sock'"
tb_ok "user nobody with group postfix can" \
    setpriv --reuid=nobody --regid=postfix --clear-groups \
	perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1' \
	"$SOCKETS/policyd.sock"

# --- (c) Postfix delivers through the three default sockets ---------------
# Named as contrib/postfix does, relative to the queue directory (what a
# chrooted Postfix sees as /elemta): the private instance's queue
# directory gets an "elemta" that leads to the real one.
mkdir -p "$TB/postfix/spool" && ln -s "$SOCKETS" "$TB/postfix/spool/elemta"
POLICY="check_policy_service { unix:elemta/policyd.sock, timeout=10s, default_action=DEFER }"
peer_start_postfix \
    "smtpd_milters = unix:elemta/milter.sock" \
    "milter_default_action = tempfail" \
    "smtpd_recipient_restrictions = reject_unauth_destination, $POLICY" \
    "transport_maps = inline:{ example.test=lmtp:unix:elemta/lmtp.sock }" \
    "lmtp_send_xforward_command = yes"
subject="tb-0022 $$ $RANDOM"
out=$(swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" \
    --from sender@other.test --to alice@example.test \
    --header "Subject: $subject" 2>&1)
tb_like "$out" '<-  250 2\.0\.0 Ok: queued' "Postfix accepts the message" ||
    tb_diag "$out"
maildir=$(peer_maildir alice@example.test)/new
tb_ok "delivered into alice's Maildir" tb_wait 30 bash -c \
    "grep -qlxF -- 'Subject: $subject' '$maildir'/* 2>/dev/null"
f=$(grep -lxF -- "Subject: $subject" "$maildir"/* 2>/dev/null | head -n 1)
tb_like "$(grep -i '^Authentication-Results:' "$f" 2>/dev/null)" \
    'mx\.example\.test;' "the milter (unix socket) added its header"
tb_like "$(sed -n '/^$/q;p' "$f" 2>/dev/null)" \
    '\(elemta-lmtp-bridge\) with LMTP' "the bridge (unix socket) delivered it"
tb_ok "the policy service (unix socket) was asked: Postfix connected" \
    test "$(grep -c 'policyd client=.* connect$' "$TB/policyd.log")" -ge 2
tb_ok "maillog: delivered over the bridge's unix socket" \
    tb_grep "to=<alice@example.test>, relay=[^,]*lmtp\.sock.*status=sent" "$TB_MAILLOG"

for d in postfix milter policyd bridge; do
	tb_stop "$d"
done
tb_is "$(find "$SOCKETS" -type s | wc -l)" 0 \
    "the daemons removed their sockets when they stopped"
rm -rf "$SOCKETS"
tb_done
