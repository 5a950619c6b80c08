# peers.sh - one start function per real peer of the test bed
#
# SYNOPSIS
#	. "$top_srcdir/t/lib/harness.sh"
#	. "$top_srcdir/t/lib/peers.sh"
#	tb_init NAME
#	peer_require redis unbound ...	# before tb_plan
#	peer_start_redis ...
#
# DESCRIPTION
#	The recipes of TESTBED.md as functions.  Each start function writes
#	the peer's configuration under $TB/<peer>, starts it in the
#	foreground with tb_spawn, and returns only when a real probe says it
#	is ready (or aborts the test with the peer's log).  The harness stops
#	everything at exit.  Each one exports what later tests need:
#
#	peer_start_redis	TB_PORT_REDIS
#	peer_start_redis_cluster  TB_REDIS_CLUSTER (the ports of its three
#				masters, block offsets 70-72; cluster bus on
#				73-75), all 16384 slots assigned
#	peer_start_unbound	TB_PORT_DNS, TB_DNS (127.0.0.1@port), the DKIM
#				keys of peer_dkim_keys; extra unbound.conf
#				"server:" lines may be given as files
#	peer_dkim_keys		TB_DKIM_DOMAIN (example.test),
#				TB_DKIM_RSA_SELECTOR (sel1), TB_DKIM_RSA_KEY
#				(PEM, PKCS#1), TB_DKIM_RSA_PUB (p= value),
#				TB_DKIM_ED25519_SELECTOR (ed1),
#				TB_DKIM_ED25519_KEY (PEM, PKCS#8),
#				TB_DKIM_ED25519_SEED (base64 raw 32-byte
#				private key, dkimpy's form), TB_DKIM_ED25519_PUB,
#				TB_DKIM_KEYS_FILE (libopendkim DKIM_QUERY_FILE)
#	peer_start_slapd	TB_LDAP_URI, TB_LDAP_BASE, TB_LDAP_ROOTDN,
#				TB_LDAP_ROOTPW; optional arguments: extra
#				FILE.schema to include, extra FILE.ldif to
#				load after t/data/ldap.ldif.  With
#				TB_SLAPD_TLS=1 also StartTLS and ldaps:
#				TB_LDAPS_URI, TB_LDAP_CA (the CA that signed
#				its certificate; $TB/slapd/tls/other-ca.crt
#				did not)
#	peer_start_dovecot	TB_PORT_LMTP, TB_DOVECOT_CONF, TB_MAIL_ROOT;
#				peer_maildir ADDRESS prints a user's Maildir.
#				"peer_start_dovecot NAME PORT" starts another
#				backend (its own dir $TB/NAME)
#	peer_start_smtp_sink	TB_PORT_SINK, TB_SINK_DIR (one file per message)
#	peer_start_postfix	TB_PORT_SMTPD, TB_POSTFIX_CONF, TB_MAILLOG;
#				arguments are extra main.cf "name = value"
#				settings; peer_postfix_set changes settings
#				of a running instance
#	peer_start_rspamd	TB_PORT_RSPAMD, TB_RSPAMD_URL, TB_RSPAMD_CTL_URL,
#				TB_RSPAMD_MILTER (the proxy in milter mode);
#				files a test writes into $TB/rspamd/local.d
#				first (e.g. multimap.conf) are kept
#	peer_clamav_db		TB_CLAMAV_DB (signature dir), TB_EICAR (file)
#	peer_start_prometheus	TB_PORT_PROMETHEUS, TB_PROM_URL (its HTTP
#				API); arguments: JOB=HOST:PORT targets
#				scraped every second, and FILE.yml rule
#				files evaluated every second
#	peer_start_clamd	TB_PORT_CLAMD, TB_CLAMD_SOCKET (after
#				peer_clamav_db; arguments: clamd.conf lines)
#	peer_clamav_cud		a daily.cud (unsigned daily database, with a
#				version and a build time) in TB_CLAMAV_DB
#	peer_clamd_reload	clamd reads its database again (RELOAD)
#
#	Mail routing of the private Postfix: example.test goes by LMTP to
#	Dovecot, sink.test and every other domain to smtp-sink (bounces
#	included, so nothing waits on DNS).  Clients are "remote" unless
#	they come from 127.0.0.1: use XCLIENT (allowed from 127.0.0.0/8).
#
# ENVIRONMENT
#	ELEMTA_TEST_CACHE	persistent cache root (/var/cache/elemta-test);
#				rspamd keeps its hyperscan cache there
#	ELEMTA_PEER_TIMEOUT	wait at least this long for readiness (the
#				defaults: 20 s, rspamd 120 s)
#	ELEMTA_RSPAMD_WORKERS	rspamd's normal workers (default 2)

# TB_PID, TB_GRACE, TB_DNSQ ... come from harness.sh.
# shellcheck disable=SC2034,SC2153,SC2154

TB_LDAP_BASE="dc=example,dc=test"
TB_LDAP_ROOTDN="cn=admin,dc=example,dc=test"
TB_LDAP_ROOTPW=secret
TB_DKIM_DOMAIN=example.test
TB_DKIM_RSA_SELECTOR=sel1
TB_DKIM_ED25519_SELECTOR=ed1
export TB_LDAP_BASE TB_LDAP_ROOTDN TB_LDAP_ROOTPW TB_DKIM_DOMAIN \
    TB_DKIM_RSA_SELECTOR TB_DKIM_ED25519_SELECTOR

PEER_POSTFIX_MASTER=/usr/lib/postfix/sbin/master

# peer_timeout - readiness timeout in seconds: DEFAULT (20), or more if
# ELEMTA_PEER_TIMEOUT asks for more (slow machines)
peer_timeout() {
	local t=${1:-20} min=${ELEMTA_PEER_TIMEOUT:-0}

	echo $((min > t ? min : t))
}

# peer_require - skip (or fail) unless every named peer can run here
peer_require() {
	local peer

	for peer in "$@"; do
		case $peer in
		postfix)
			tb_need postfix postfix postconf script \
			    "$PEER_POSTFIX_MASTER"
			tb_need_root postfix
			;;
		smtp-sink)
			tb_need smtp-sink smtp-sink ;;
		dovecot)
			tb_need dovecot dovecot doveconf ;;
		slapd)
			tb_need slapd slapd slapadd ldapsearch ;;
		unbound)
			tb_need unbound unbound unbound-checkconf openssl
			peer_require_helper "$TB_DNSQ" ;;
		redis)
			tb_need redis redis-server redis-cli ;;
		rspamd)
			tb_need rspamd rspamd curl ;;
		clamav)
			peer_require_helper "$TB_CLAMSCAN" ;;
		clamd)
			tb_need clamd clamd ;;
		sigtool)
			tb_need sigtool sigtool ;;
		swaks)
			tb_need swaks swaks ;;
		sqlite3)
			tb_need sqlite3 sqlite3 ;;
		prometheus)
			tb_need prometheus prometheus promtool curl python3
			python3 -c 'import yaml' 2>/dev/null ||
			    tb_missing "python3-yaml not installed" ;;
		*)
			tb_bail "peer_require: unknown peer $peer" ;;
		esac
	done
}

# peer_require_helper - require a C helper that "make check" builds
peer_require_helper() {
	[[ -x $1 ]] || tb_missing "$(basename "$1") not built" \
	    "(run make check, or set top_builddir)"
}

#
# Redis
#

# peer_redis NAME PORT [LINE...] - a private redis-server NAME on PORT, its
# files in $TB/NAME, each LINE added to its configuration
peer_redis() {
	local name=$1 port=$2 d=$TB/$1 line

	shift 2
	mkdir -p "$d"
	{
		cat <<EOF
bind 127.0.0.1
port $port
protected-mode yes
daemonize no
save ""
appendonly no
dir $d
logfile $d/redis.log
EOF
		for line in "$@"; do
			echo "$line"
		done
	} >"$d/redis.conf"
	tb_spawn "$name" "$d/stdout.log" redis-server "$d/redis.conf"
	tb_peer_log "$name" "$d/redis.log"
	tb_ready "$name" "on 127.0.0.1:$port" "$(peer_timeout)" \
	    peer_probe_redis "$port"
}

# peer_start_redis - a private redis-server on TB_PORT_REDIS
peer_start_redis() {
	peer_redis redis "$TB_PORT_REDIS"
}

# peer_probe_redis [PORT] - true if redis answers PING
peer_probe_redis() {
	[[ $(redis-cli -h 127.0.0.1 -p "${1:-$TB_PORT_REDIS}" ping 2>/dev/null) == PONG ]]
}

# peer_start_redis_cluster - three redis-server masters in cluster mode
# (no replicas), the slots spread by redis-cli --cluster create
peer_start_redis_cluster() {
	local i port addrs=()

	TB_REDIS_CLUSTER=""
	for i in 0 1 2; do
		port=$(tb_port $((70 + i)))
		peer_redis "redis-c$i" "$port" "cluster-enabled yes" \
		    "cluster-config-file $TB/redis-c$i/nodes.conf" \
		    "cluster-node-timeout 5000" \
		    "cluster-port $(tb_port $((73 + i)))"
		TB_REDIS_CLUSTER="$TB_REDIS_CLUSTER${TB_REDIS_CLUSTER:+ }$port"
		addrs+=("127.0.0.1:$port")
	done
	export TB_REDIS_CLUSTER
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 \
	    --cluster-yes >"$TB/redis-c0/create.log" 2>&1 || {
		tb_tail "$TB/redis-c0/create.log"
		tb_bail "redis-cli --cluster create failed"
	}
	tb_ready redis-c0 "as a cluster" "$(peer_timeout)" \
	    peer_probe_redis_cluster
}

# peer_probe_redis_cluster - true once every node says cluster_state:ok
peer_probe_redis_cluster() {
	local port

	for port in $TB_REDIS_CLUSTER; do
		redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null |
		    grep -q '^cluster_state:ok' || return 1
	done
}

#
# DNS: unbound with the test zones and fresh DKIM keys
#

# peer_dkim_keys - generate the RSA-2048 and Ed25519 DKIM keys (once)
peer_dkim_keys() {
	local k=$TB/dkim rsa ed

	[[ ${TB_DKIM_KEYS_FILE:-} == "$k/keys.txt" ]] && return 0
	mkdir -p "$k"
	rsa=$k/$TB_DKIM_RSA_SELECTOR
	ed=$k/$TB_DKIM_ED25519_SELECTOR
	(umask 077 &&
	    openssl genrsa -traditional -out "$rsa.private" 2048 &&
	    openssl genpkey -algorithm ed25519 -out "$ed.private") \
	    >"$k/openssl.log" 2>&1 || {
		tb_tail "$k/openssl.log"
		tb_bail "openssl could not generate the DKIM keys"
	}
	TB_DKIM_RSA_KEY=$rsa.private
	TB_DKIM_ED25519_KEY=$ed.private
	# RSA: p= is the DER SubjectPublicKeyInfo (RFC 6376 3.6.1).
	TB_DKIM_RSA_PUB=$(openssl pkey -in "$rsa.private" -pubout \
	    -outform DER 2>/dev/null | base64 -w0)
	# Ed25519: p= is the raw 32-byte key, the SPKI's tail (RFC 8463).
	TB_DKIM_ED25519_PUB=$(openssl pkey -in "$ed.private" -pubout \
	    -outform DER 2>/dev/null | tail -c 32 | base64 -w0)
	TB_DKIM_ED25519_SEED=$(openssl pkey -in "$ed.private" -outform DER \
	    2>/dev/null | tail -c 32 | base64 -w0)
	[[ ${#TB_DKIM_RSA_PUB} -gt 300 && ${#TB_DKIM_ED25519_PUB} -eq 44 &&
	    ${#TB_DKIM_ED25519_SEED} -eq 44 ]] ||
	    tb_bail "DKIM public keys look wrong (openssl pkey output)"
	TB_DKIM_KEYS_FILE=$k/keys.txt
	{
		echo "$(peer_dkim_name rsa) $(peer_dkim_record rsa)"
		echo "$(peer_dkim_name ed25519) $(peer_dkim_record ed25519)"
	} >"$TB_DKIM_KEYS_FILE"
	export TB_DKIM_RSA_KEY TB_DKIM_RSA_PUB TB_DKIM_ED25519_KEY \
	    TB_DKIM_ED25519_PUB TB_DKIM_ED25519_SEED TB_DKIM_KEYS_FILE
}

# peer_dkim_name - the DNS name of the rsa or ed25519 key record
peer_dkim_name() {
	if [[ $1 == rsa ]]; then
		echo "$TB_DKIM_RSA_SELECTOR._domainkey.$TB_DKIM_DOMAIN"
	else
		echo "$TB_DKIM_ED25519_SELECTOR._domainkey.$TB_DKIM_DOMAIN"
	fi
}

# peer_dkim_record - the key record text of the rsa or ed25519 key
peer_dkim_record() {
	if [[ $1 == rsa ]]; then
		echo "v=DKIM1; k=rsa; p=$TB_DKIM_RSA_PUB"
	else
		echo "v=DKIM1; k=ed25519; p=$TB_DKIM_ED25519_PUB"
	fi
}

# peer_txt_strings - quote TEXT as TXT character-strings of <= 255 chars
peer_txt_strings() {
	local text=$1 out=""

	while [[ ${#text} -gt 255 ]]; do
		out+="\"${text:0:255}\" "
		text=${text:255}
	done
	echo "$out\"$text\""
}

# peer_start_unbound - unbound on TB_PORT_DNS serving the test zones
peer_start_unbound() {
	local d=$TB/unbound extra kind

	mkdir -p "$d"
	peer_dkim_keys
	{
		cat <<EOF
server:
    interface: 127.0.0.1
    port: $TB_PORT_DNS
    pidfile: ""
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$d"
    logfile: ""
    use-syslog: no
    log-time-ascii: yes
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    do-not-query-localhost: yes
EOF
		sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
		    -e 's/^/    /' "$TB_DATA/unbound-zones.conf"
		for kind in rsa ed25519; do
			printf "    local-data: '%s. 300 IN TXT %s'\n" \
			    "$(peer_dkim_name $kind)" \
			    "$(peer_txt_strings "$(peer_dkim_record $kind)")"
		done
		for extra in "$@"; do
			sed 's/^/    /' "$extra"
		done
		printf 'remote-control:\n    control-enable: no\n'
	} >"$d/unbound.conf"
	unbound-checkconf "$d/unbound.conf" >"$d/checkconf.log" 2>&1 || {
		tb_tail "$d/checkconf.log"
		tb_bail "unbound-checkconf rejected $d/unbound.conf"
	}
	tb_spawn unbound "$d/unbound.log" unbound -d -c "$d/unbound.conf"
	tb_ready unbound "on 127.0.0.1:$TB_PORT_DNS" "$(peer_timeout)" \
	    peer_probe_unbound
	TB_DNS=127.0.0.1@$TB_PORT_DNS
	export TB_DNS
}

# peer_probe_unbound - true when unbound answers from the test zones
peer_probe_unbound() {
	# TCP first: a query sent before the UDP socket exists costs libunbound
	# a retry (about 0.4 s); unbound opens both at once.
	tb_connect 127.0.0.1 "$TB_PORT_DNS" &&
	    "$TB_DNSQ" -t 1 -p "$TB_PORT_DNS" example.test A
}

#
# LDAP
#

# peer_start_slapd - slapd (mdb) on TB_PORT_LDAP loaded with t/data/ldap.ldif
# [FILE.schema|FILE.ldif]... - extra schema files, extra LDIF loaded after it
peer_start_slapd() {
	local d=$TB/slapd s f urls

	mkdir -p "$d/db"
	[[ ${TB_SLAPD_TLS:-0} == 1 ]] && peer_slapd_certs "$d/tls"
	{
		for s in core cosine inetorgperson nis misc; do
			echo "include /etc/ldap/schema/$s.schema"
		done
		for f in "$@"; do
			[[ $f == *.schema ]] && echo "include $f"
		done
		if [[ ${TB_SLAPD_TLS:-0} == 1 ]]; then
			echo "TLSCACertificateFile $d/tls/ca.crt"
			echo "TLSCertificateFile $d/tls/server.crt"
			echo "TLSCertificateKeyFile $d/tls/server.key"
		fi
		cat <<EOF
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
argsfile $d/slapd.args
database mdb
maxsize 67108864
suffix "$TB_LDAP_BASE"
rootdn "$TB_LDAP_ROOTDN"
rootpw $TB_LDAP_ROOTPW
directory $d/db
index objectClass eq
index mail eq
index uid eq
access to * by * read
EOF
	} >"$d/slapd.conf"
	slapadd -q -f "$d/slapd.conf" -l "$TB_DATA/ldap.ldif" \
	    >"$d/slapadd.log" 2>&1 || {
		tb_tail "$d/slapadd.log"
		tb_bail "slapadd could not load $TB_DATA/ldap.ldif"
	}
	for f in "$@"; do
		[[ $f == *.ldif ]] || continue
		slapadd -q -f "$d/slapd.conf" -l "$f" >>"$d/slapadd.log" 2>&1 || {
			tb_tail "$d/slapadd.log"
			tb_bail "slapadd could not load $f"
		}
	done
	TB_LDAP_URI=ldap://127.0.0.1:$TB_PORT_LDAP/
	export TB_LDAP_URI
	urls=$TB_LDAP_URI
	if [[ ${TB_SLAPD_TLS:-0} == 1 ]]; then
		TB_LDAPS_URI=ldaps://127.0.0.1:$TB_PORT_LDAPS/
		TB_LDAP_CA=$d/tls/ca.crt
		export TB_LDAPS_URI TB_LDAP_CA
		urls="$urls $TB_LDAPS_URI"
	fi
	# -d keeps slapd in the foreground; its log goes to stderr.
	tb_spawn slapd "$d/slapd.log" slapd -d "${TB_SLAPD_DEBUG:-none}" \
	    -h "$urls" -f "$d/slapd.conf"
	tb_ready slapd "on $TB_LDAP_URI" "$(peer_timeout)" \
	    ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "$TB_LDAP_URI" \
	    -b "$TB_LDAP_BASE" -s base dn
}

# peer_slapd_certs DIR - a private CA and slapd's certificate from it,
# for 127.0.0.1 (an IP SAN: libldap checks the name it connected to);
# also DIR/other-ca.crt, a CA that did not sign it
peer_slapd_certs() {
	local d=$1 n

	mkdir -p "$d"
	for n in ca other-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		    -subj "/CN=elemta test $n" -keyout "$d/$n.key" \
		    -out "$d/$n.crt" >>"$d/openssl.log" 2>&1 ||
			tb_bail "openssl could not make the test $n"
	done
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
	    -keyout "$d/server.key" -out "$d/server.csr" \
	    >>"$d/openssl.log" 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" \
	    -CAkey "$d/ca.key" -CAcreateserial -days 2 -extfile "$d/san.ext" \
	    -out "$d/server.crt" >>"$d/openssl.log" 2>&1 ||
		tb_bail "openssl could not make slapd's certificate: $(tail -n 3 "$d/openssl.log")"
	# slapd may run as openldap (Debian's package) or root (here)
	chmod 644 "$d"/*.crt "$d/server.key"
}

#
# Dovecot LMTP + Maildir
#

# peer_start_dovecot - Dovecot LMTP on PORT (TB_PORT_LMTP), users from t/data
peer_start_dovecot() {
	local name=${1:-dovecot} port=${2:-$TB_PORT_LMTP} d

	d=$TB/$name
	mkdir -p "$d/run" "$d/state" "$d/mail"
	cp "$TB_DATA/dovecot-users" "$d/users"
	peer_dovecot_conf "$name" "$port" >"$d/dovecot.conf"
	if [[ $(id -u) -eq 0 ]]; then
		chown 65534:65534 "$d/mail"
	fi
	doveconf -c "$d/dovecot.conf" -n >"$d/doveconf.log" 2>&1 || {
		tb_tail "$d/doveconf.log"
		tb_bail "doveconf rejected $d/dovecot.conf"
	}
	TB_GRACE[$name]=10		# Dovecot takes about 1.2 s to stop
	tb_spawn "$name" "$d/stdout.log" dovecot -F -c "$d/dovecot.conf"
	tb_peer_log "$name" "$d/dovecot.log"
	tb_ready "$name" "(LMTP) on 127.0.0.1:$port" "$(peer_timeout)" \
	    tb_banner 127.0.0.1 "$port" '^220 '
	if [[ $name == dovecot ]]; then
		TB_DOVECOT_CONF=$d/dovecot.conf
		TB_MAIL_ROOT=$d/mail
		export TB_DOVECOT_CONF TB_MAIL_ROOT
	fi
}

# peer_dovecot_conf - print the configuration of Dovecot instance NAME
peer_dovecot_conf() {
	local name=$1 port=$2 d=$TB/$1 uid gid

	if [[ $(id -u) -eq 0 ]]; then
		uid=65534 gid=65534
	else
		uid=$(id -u) gid=$(id -g)
	fi
	cat <<EOF
instance_name = tb-$name-$port
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:$d/mail/%d/%n/Maildir
mail_uid = $uid
mail_gid = $gid
first_valid_uid = 1
first_valid_gid = 1
recipient_delimiter = +
postmaster_address = postmaster@example.test
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
  default_fields = home=$d/mail/%d/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $port
  }
}
EOF
	[[ $(id -u) -ne 0 ]] || return 0
	cat <<EOF
default_login_user = $(id -un)
default_internal_user = $(id -un)
default_internal_group = $(id -gn)
service anvil {
  chroot =
}
EOF
}

# peer_maildir - print the Maildir of ADDRESS in Dovecot instance NAME
peer_maildir() {
	local addr=$1 name=${2:-dovecot} user

	user=${addr%@*}
	user=${user%%+*}		# recipient_delimiter = +
	echo "$TB/$name/mail/${addr#*@}/$user/Maildir"
}

#
# smtp-sink: where everything not for example.test ends up
#

# peer_start_smtp_sink - smtp-sink on TB_PORT_SINK, one file per message
peer_start_smtp_sink() {
	local d=$TB/sink user=()

	mkdir -p "$d/out"
	if [[ $(id -u) -eq 0 ]]; then
		chown postfix "$d/out"
		user=(-u postfix)
	fi
	TB_SINK_DIR=$d/out
	export TB_SINK_DIR
	tb_spawn smtp-sink "$d/smtp-sink.log" smtp-sink "${user[@]}" \
	    -d "$d/out/msg." -h sink.test "127.0.0.1:$TB_PORT_SINK" 256
	tb_ready smtp-sink "on 127.0.0.1:$TB_PORT_SINK" "$(peer_timeout)" \
	    tb_banner 127.0.0.1 "$TB_PORT_SINK" '^220 '
}

#
# Postfix: a private instance (master -c DIR)
#

# peer_start_postfix - Postfix on TB_PORT_SMTPD; args: extra main.cf lines
peer_start_postfix() {
	local d=$TB/postfix

	mkdir -p "$d/etc" "$d/spool" "$d/data"
	chown postfix:postfix "$d/data"
	TB_POSTFIX_CONF=$d/etc
	TB_MAILLOG=$d/maillog
	export TB_POSTFIX_CONF TB_MAILLOG
	peer_postfix_main >"$d/etc/main.cf"
	peer_postfix_master >"$d/etc/master.cf"
	if [[ $# -gt 0 ]]; then
		postconf -c "$d/etc" -e "$@" ||
		    tb_bail "postconf -e could not apply: $*"
	fi
	peer_postfix_age
	# "postfix check" creates the queue with the right owners; with no
	# tty and no syslog its complaints would be lost without script(1).
	script -qec "postfix -c $d/etc check" /dev/null >"$d/check.log" 2>&1 || {
		tb_tail "$d/check.log"
		tb_bail "postfix -c $d/etc check failed"
	}
	TB_GRACE[postfix]=10
	tb_spawn postfix "$d/master.log" "$PEER_POSTFIX_MASTER" -c "$d/etc" -s
	tb_peer_log postfix "$TB_MAILLOG"
	tb_ready postfix "on 127.0.0.1:$TB_PORT_SMTPD" "$(peer_timeout)" \
	    peer_probe_postfix
}

# peer_probe_postfix - true once smtpd greets and the maillog works
peer_probe_postfix() {
	tb_grep 'postfix/master.*daemon started' "$TB_MAILLOG" &&
	    tb_banner 127.0.0.1 "$TB_PORT_SMTPD" '^220 '
}

# peer_postfix_age - backdate the configuration files: Postfix waits for a
# main.cf or master.cf changed in the last seconds to settle (2 s a start)
peer_postfix_age() {
	touch -d '-1 minute' "$TB_POSTFIX_CONF/main.cf" \
	    "$TB_POSTFIX_CONF/master.cf"
}

# peer_postfix_set - change main.cf settings ("name = value"), reload if up
peer_postfix_set() {
	postconf -c "$TB_POSTFIX_CONF" -e "$@" ||
	    tb_bail "postconf -e could not apply: $*"
	peer_postfix_age
	if [[ -n ${TB_PID[postfix]:-} ]]; then
		postfix -c "$TB_POSTFIX_CONF" reload >/dev/null 2>&1 ||
		    tb_bail "postfix -c $TB_POSTFIX_CONF reload failed"
	fi
}

# peer_postfix_main - print the private instance's main.cf
peer_postfix_main() {
	local d=$TB/postfix

	cat <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $TB_MAILLOG
maillog_file_prefixes = $TB
myhostname = mx.example.test
mydomain = example.test
myorigin = \$mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtputf8_enable = no
biff = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
smtpd_banner = \$myhostname ESMTP test
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relay_domains = example.test, sink.test
relay_recipient_maps =
transport_maps = inline:{ example.test=lmtp:inet:127.0.0.1:$TB_PORT_LMTP,
    sink.test=smtp:[127.0.0.1]:$TB_PORT_SINK }
default_transport = smtp:[127.0.0.1]:$TB_PORT_SINK
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_protocol = 6
EOF
}

# peer_postfix_master - print master.cf: no chroot, postlog for maillog_file
peer_postfix_master() {
	cat <<EOF
127.0.0.1:$TB_PORT_SMTPD inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

#
# Rspamd: offline, private dirs, persistent hyperscan cache
#

# peer_rspamd_cache - print (and create) the persistent hs_cache_dir
peer_rspamd_cache() {
	local dir=${ELEMTA_TEST_CACHE:-/var/cache/elemta-test}/rspamd

	if ! mkdir -p "$dir" 2>/dev/null || [[ ! -w $dir ]]; then
		dir=${XDG_CACHE_HOME:-$HOME/.cache}/elemta-test/rspamd
		mkdir -p "$dir" || return 1
	fi
	echo "$dir"
}

# peer_start_rspamd - rspamd normal/controller/proxy on TB_PORT_RSPAMD*
peer_start_rspamd() {
	local r=$TB/rspamd cache owner=() vars

	mkdir -p "$r/db" "$r/run" "$r/log" "$r/tmp" "$r/local.d" \
	    "$r/override.d"
	cache=$(peer_rspamd_cache) || tb_bail "no writable rspamd cache dir"
	peer_rspamd_conf "$r" "$cache"
	if [[ $(id -u) -eq 0 ]]; then
		chown -R _rspamd:_rspamd "$r/db" "$r/run" "$r/log" "$r/tmp" \
		    "$cache"
		owner=(-u _rspamd -g _rspamd)
	fi
	# The stock rspamd.conf, every path variable pointing into $r.
	vars=("--var=LOCAL_CONFDIR=$r" "--var=DBDIR=$r/db"
	    "--var=RUNDIR=$r/run" "--var=LOGDIR=$r/log")
	TB_GRACE[rspamd]=10
	tb_spawn rspamd "$r/stdout.log" rspamd -f "${owner[@]}" \
	    -c /etc/rspamd/rspamd.conf "${vars[@]}"
	tb_peer_log rspamd "$r/log/rspamd.log"
	TB_RSPAMD_URL=http://127.0.0.1:$TB_PORT_RSPAMD
	TB_RSPAMD_CTL_URL=http://127.0.0.1:$TB_PORT_RSPAMD_CTL
	TB_RSPAMD_MILTER=inet:127.0.0.1:$TB_PORT_RSPAMD_PROXY
	export TB_RSPAMD_URL TB_RSPAMD_CTL_URL TB_RSPAMD_MILTER
	# About 10 s cold (TLD list and hyperscan compiles), 1 s warm.
	tb_ready rspamd "on 127.0.0.1:$TB_PORT_RSPAMD" "$(peer_timeout 120)" \
	    peer_probe_rspamd
}

# peer_probe_rspamd - true when the normal, controller and proxy workers answer
peer_probe_rspamd() {
	[[ $(curl -fsS --max-time 2 "$TB_RSPAMD_URL/ping") == pong* ]] &&
	    [[ $(curl -fsS --max-time 2 "$TB_RSPAMD_CTL_URL/ping") == pong* ]] &&
	    tb_connect 127.0.0.1 "$TB_PORT_RSPAMD_PROXY"
}

# peer_rspamd_conf - write local.d and override.d under R (TESTBED.md 5)
peer_rspamd_conf() {
	local r=$1 cache=$2

	# two normal workers, which scan, so that rspamd uses two cores
	# where it has them (bench/milter-full's 20 sessions); the second
	# adds about 12 MB (PSS)
	cat >"$r/override.d/worker-normal.inc" <<EOF
bind_socket = "127.0.0.1:$TB_PORT_RSPAMD";
count = ${ELEMTA_RSPAMD_WORKERS:-2};
EOF
	cat >"$r/override.d/worker-controller.inc" <<EOF
bind_socket = "127.0.0.1:$TB_PORT_RSPAMD_CTL";
count = 1;
password = "";
enable_password = "";
secure_ip = "127.0.0.1";
EOF
	cat >"$r/override.d/worker-proxy.inc" <<EOF
bind_socket = "127.0.0.1:$TB_PORT_RSPAMD_PROXY";
milter = yes;
timeout = 120s;
count = 1;
upstream "local" {
  default = yes;
  self_scan = yes;
}
EOF
	cat >"$r/local.d/options.inc" <<EOF
dns {
  nameserver = ["127.0.0.1:$TB_PORT_DNS"];
  timeout = 1s;
  retransmits = 1;
}
tempdir = "$r/tmp";
hs_cache_dir = "$cache";
rrd = null;
# rspamd's GTUBE variants (YJS: add header, ZJS: rewrite subject, AJS:
# no action) besides GTUBE itself (reject): test patterns, not for a
# production rspamd
enable_test_patterns = true;
EOF
	cat >"$r/local.d/logging.inc" <<EOF
type = "file";
filename = "\$LOGDIR/rspamd.log";
level = "info";
EOF
	echo "servers = \"127.0.0.1:$TB_PORT_REDIS\";" >"$r/local.d/redis.conf"
	echo "enabled = false;" >"$r/local.d/fuzzy_check.conf"
	echo "enabled = false;" >"$r/local.d/greylist.conf"
}

#
# ClamAV: a signature database built here (no freshclam offline)
#

# peer_clamav_db - EICAR and clam.exe signatures (hdb + ndb) in TB_CLAMAV_DB
peer_clamav_db() {
	local c=$TB/clamav clamexe=/usr/share/clamav-testfiles/clam.exe

	mkdir -p "$c/db"
	TB_CLAMAV_DB=$c/db
	TB_EICAR=$c/eicar.com
	export TB_CLAMAV_DB TB_EICAR
	# 68 bytes, no newline.
	# shellcheck disable=SC2016 # the dollars are EICAR's
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' \
	    'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$TB_EICAR"
	peer_clamav_hdb "$TB_EICAR" Test.EICAR.HDB >"$c/db/test.hdb"
	peer_clamav_ndb Test.EICAR.NDB 0 EICAR-STANDARD-ANTIVIRUS-TEST-FILE \
	    >"$c/db/test.ndb"
	if [[ -f $clamexe ]]; then
		peer_clamav_hdb "$clamexe" Test.ClamExe.HDB >>"$c/db/test.hdb"
		peer_clamav_ndb Test.ClamExe.NDB 1 CLAMessageBoxA \
		    >>"$c/db/test.ndb"
	fi
	chmod -R a+rX "$c"
}

# peer_start_clamd [LINE...] - a private clamd on TB_PORT_CLAMD and the
# unix socket TB_CLAMD_SOCKET, with the database of peer_clamav_db; each
# LINE added to its clamd.conf
peer_start_clamd() {
	local d=$TB/clamd line

	mkdir -p "$d/tmp"
	TB_CLAMD_SOCKET=$d/clamd.sock
	export TB_CLAMD_SOCKET
	{
		cat <<EOF
DatabaseDirectory $TB_CLAMAV_DB
TCPSocket $TB_PORT_CLAMD
TCPAddr 127.0.0.1
LocalSocket $TB_CLAMD_SOCKET
PidFile $d/clamd.pid
TemporaryDirectory $d/tmp
LogFile $d/clamd.log
LogTime yes
Foreground yes
SelfCheck 0
MaxThreads 4
EOF
		for line in "$@"; do
			echo "$line"
		done
	} >"$d/clamd.conf"
	tb_spawn clamd "$d/stdout.log" clamd -c "$d/clamd.conf"
	tb_peer_log clamd "$d/clamd.log"
	tb_ready clamd "on 127.0.0.1:$TB_PORT_CLAMD" "$(peer_timeout)" \
	    peer_probe_clamd
}

# peer_probe_clamd - true if clamd answers PING with PONG
peer_probe_clamd() {
	local l

	exec 7<>"/dev/tcp/127.0.0.1/$TB_PORT_CLAMD" || return 1
	printf 'nPING\n' >&7
	read -r -t 2 l <&7
	exec 7>&-
	[[ $l == PONG ]]
}

# peer_clamav_cud VERSION - a daily database of one signature
# (Daily.Test.NDB), version VERSION, built now, as daily.cud (unsigned,
# sigtool --build) in TB_CLAMAV_DB; prints its build time (Unix time,
# the header's last field)
peer_clamav_cud() {
	local b=$TB/clamav/cud-$1

	mkdir -p "$b"
	peer_clamav_ndb Daily.Test.NDB 0 "ELEMTA-DAILY-$1" >"$b/daily.ndb"
	echo "test database" >"$b/COPYING"	# sigtool wants one
	(cd "$b" && echo elemta | sigtool --datadir=. --build=daily.cud \
	    --unsigned --cvd-version="$1" --no-cdiff) >"$b/sigtool.log" 2>&1 ||
	    tb_bail "sigtool --build failed: $(tail -3 "$b/sigtool.log")"
	chmod a+r "$b/daily.cud"
	mv "$b/daily.cud" "$TB_CLAMAV_DB/daily.cud"
	head -c 512 "$TB_CLAMAV_DB/daily.cud" | tr -d '\0 ' | cut -d: -f9
}

# peer_clamd_reload - clamd reads its database again (RELOAD); returns
# once its log says the new one is active
peer_clamd_reload() {
	local n l

	n=$(grep -c 'Database correctly reloaded' "$TB/clamd/clamd.log")
	exec 7<>"/dev/tcp/127.0.0.1/$TB_PORT_CLAMD" || return 1
	printf 'nRELOAD\n' >&7
	read -r -t 5 l <&7
	exec 7>&-
	[[ $l == RELOADING ]] || return 1
	tb_wait "$(peer_timeout)" eval "[[ \$(grep -c 'Database correctly reloaded' \
	    '$TB/clamd/clamd.log') -gt $n ]]"
}

# peer_clamav_hdb - print an MD5 hash signature (md5:size:name) for FILE
peer_clamav_hdb() {
	local md5

	md5=$(md5sum <"$1") || return 1
	echo "${md5%% *}:$(stat -c %s "$1"):$2"
}

# peer_clamav_ndb - print a body signature NAME for TEXT in target type
peer_clamav_ndb() {
	echo "$1:$2:*:$(printf %s "$3" | od -An -tx1 | tr -d ' \n')"
}

#
# Prometheus: Debian's server, private configuration and storage
#

# peer_start_prometheus ARG... - prometheus on TB_PORT_PROMETHEUS: each
# JOB=HOST:PORT argument a scrape job (GET /metrics every second), each
# other argument a rule file (evaluated every second); TB_PROM_URL is
# its HTTP API
peer_start_prometheus() {
	local d=$TB/prometheus arg rules=() jobs=()

	for arg in "$@"; do
		case $arg in
		*=*) jobs+=("$arg") ;;
		*) rules+=("$arg") ;;
		esac
	done
	mkdir -p "$d/data"
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'
		printf '  evaluation_interval: 1s\n'
		printf 'rule_files:\n'
		[[ ${#rules[@]} -gt 0 ]] || printf '  []\n'
		for arg in "${rules[@]}"; do
			printf '  - "%s"\n' "$arg"
		done
		printf 'scrape_configs:\n'
		[[ ${#jobs[@]} -gt 0 ]] || printf '  []\n'
		for arg in "${jobs[@]}"; do
			printf '  - job_name: "%s"\n' "${arg%%=*}"
			printf '    static_configs:\n'
			printf '      - targets: ["%s"]\n' "${arg#*=}"
		done
	} >"$d/prometheus.yml"
	promtool check config "$d/prometheus.yml" >"$d/check.log" 2>&1 || {
		tb_tail "$d/check.log"
		tb_bail "promtool check config rejected $d/prometheus.yml"
	}
	TB_PROM_URL=http://127.0.0.1:$TB_PORT_PROMETHEUS
	export TB_PROM_URL
	tb_spawn prometheus "$d/prometheus.log" prometheus \
	    --config.file="$d/prometheus.yml" \
	    --storage.tsdb.path="$d/data" \
	    --storage.tsdb.retention.time=1h \
	    --web.listen-address="127.0.0.1:$TB_PORT_PROMETHEUS"
	tb_ready prometheus "on 127.0.0.1:$TB_PORT_PROMETHEUS" \
	    "$(peer_timeout 60)" curl -fs "$TB_PROM_URL/-/ready"
}
