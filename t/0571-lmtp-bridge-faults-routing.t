#!/bin/bash
# 0571-lmtp-bridge-faults-routing - the bridge's routing sources failing,
# and its reloads, under load from a real Postfix (make check-faults:
# slow, run once by .ci/run).  Postfix -> elemta-lmtp-bridge -> real
# Dovecot (Maildir); 4 clients send 20 messages at a time, each to one
# of three users; the routing caches are off, so every recipient asks:
#   the SQLite table replaced by an unreadable file (the bridge runs as
#   nobody), then by a garbage file: 451 4.4.3 for every message, none
#   lost; the table restored: each delivered once; the same with the
#   garbage written over the open table in place (cp), then restored in
#   place;
#   slapd SIGSTOPped: 451 4.4.3 within search_timeout + network_timeout
#   (a pooled connection's search, then a fresh connection's bind);
#   slapd continued: each delivered once;
#   the directory answering garbage (a uri naming a server that speaks
#   no LDAP): 451 4.4.3 within network_timeout; the uri corrected and
#   reloaded: each delivered once;
#   a SIGHUP storm (60 reloads, the table and the directory both read
#   again each time) while 4 clients send 40 messages: every one sent
#   at the first attempt, each once, the bridge alive.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require postfix dovecot smtp-sink swaks sqlite3 slapd
tb_need python3 python3
tb_init
tb_plan 38

USERS=(alice bob carol)
restarts=0
DB=$TB/routes.db
CLIENT=$top_srcdir/t/lib/lmtp-client.py
FAKE=$top_srcdir/t/lib/lmtp-fake-backend.py

# deliver_all WHAT TAG... - the deferred messages of the TAGs retried and
# sent, each once (3 tests)
deliver_all() {
	local what=$1 q n t d=0 f=0 m=0 x y z

	shift
	q=$(for t in "$@"; do cat "$TB/$t.qids"; done | paste -sd'|')
	n=$(tr '|' '\n' <<<"$q" | grep -c .)
	flush
	tb_wait 60 nlines "$n" "($q): to=.*status=sent" "$TB_MAILLOG"
	tb_is "$(nstatus "$q" sent)" "$n" "$what: Postfix says sent once for each of the $n"
	tb_wait 30 none_queued "$q"
	tb_ok "... its queue holds none of them" none_queued "$q"
	for t in "$@"; do
		read -r x y z <<<"$(tally "$t")"
		d=$((d + x)) f=$((f + y)) m=$((m + z))
	done
	tb_is "$d $f $m" "$n $n 0" \
	    "... the Maildirs: $n messages, each once, each in its recipient's"
}
# load_deferred TAG WHAT - TAG's load (20 messages of 4 clients), each
# deferred with 451 4.4.3 (2 tests, the first named WHAT); their queue ids
# in q
load_deferred() {
	local tag=$1 what=$2

	load "$tag" 5
	q=$(cat "$TB/$tag.qids")
	tb_is "$(tr '|' '\n' <<<"$q" | grep -c .)" 20 "$what"
	tb_wait 60 nlines 20 "($q): to=.*status=deferred" "$TB_MAILLOG"
	tb_is "$(grep -E "($q): to=.*status=deferred" "$TB_MAILLOG" |
		grep -cE "said: 451 4\.4\.3 ")" 20 \
	    "... each one deferred with 451 4.4.3" ||
	    tb_diag "$(grep -E "($q): to=" "$TB_MAILLOG" | head -n 3)"
}
# worst_delay - the longest time Postfix's LMTP client took for one of
# the deferred messages of q (delays=a/b/c/d: d), in seconds
worst_delay() {
	grep -E "($q): to=.*status=deferred" "$TB_MAILLOG" |
	    sed -n 's/.* delays=[0-9.]*\/[0-9.]*\/[0-9.]*\/\([0-9.]*\),.*/\1/p' |
	    sort -n | tail -n 1
}
# restart_bridge LINES... - the bridge on a new configuration (the
# previous one's log kept as bridge-N.log)
restart_bridge() {
	tb_stop bridge
	cp "$BLOG" "$TB/bridge-$((++restarts)).log"
	lmtp_conf "$@"
	lmtp_start_bridge
}

peer_start_dovecot
echo 'carol@example.test:{PLAIN}carolpw::::::' >>"$TB/dovecot/users"
lmtp_dovecot_extra dovecot ''
peer_start_smtp_sink
cat >"$TB/carol.ldif" <<EOF
dn: uid=carol,ou=people,$TB_LDAP_BASE
objectClass: inetOrgPerson
uid: carol
cn: Carol Example
sn: Example
mail: carol@example.test
EOF
peer_start_slapd "$TB/carol.ldif"

sqlite3 "$DB" <<EOF
CREATE TABLE lmtp_routes (address TEXT PRIMARY KEY, backend TEXT,
    rewrite TEXT, enabled INTEGER NOT NULL DEFAULT 1,
    junk_optout INTEGER NOT NULL DEFAULT 0);
INSERT INTO lmtp_routes (address) VALUES ('alice@example.test');
INSERT INTO lmtp_routes (address) VALUES ('bob@example.test');
INSERT INTO lmtp_routes (address) VALUES ('carol@example.test');
EOF
cp "$DB" "$TB/routes.good"
chmod 644 "$DB" "$TB/routes.good"
# as nobody, so that a file it may not read is one (root reads anything)
mkdir -p "$TB/spool"
chown nobody "$TB/spool"
SQLITE_CONF=("user = \"nobody\"" "spool_directory = \"$TB/spool\""
    "sqlite_database = \"$DB\"" "sqlite_cache_size = 0")
lmtp_conf "${SQLITE_CONF[@]}"
lmtp_start_bridge
lmtp_start_postfix "lmtp_initial_destination_concurrency = 20"

# --- The table replaced by a file the bridge cannot read.
tag="tb-0571-$$-unreadable"
cp "$TB/routes.good" "$DB.new"
chmod 000 "$DB.new"
mv "$DB.new" "$DB"
load_deferred "$tag" \
    "table unreadable: Postfix accepts the 20 messages of 4 clients"
tb_like "$(grep 'status=deferred route=sqlite' "$BLOG" | tail -n 1)" \
    "error=\"sqlite: .*$DB.*(unable to open|ermission denied)" \
    "bridge log: the SQLite error is named"

# --- ... then by a garbage file.
tag2="tb-0571-$$-garbage"
head -c 16384 /dev/urandom >"$DB.new"
chmod 644 "$DB.new"
mv "$DB.new" "$DB"
load_deferred "$tag2" \
    "table garbage: Postfix accepts 20 more"
tb_like "$(grep 'status=deferred route=sqlite' "$BLOG" | tail -n 1)" \
    "error=\"sqlite: .*(not a database|malformed)" \
    "bridge log: the SQLite error is named"
tb_ok "the bridge is alive" tb_alive "$(tb_pid bridge)"

# --- The table restored: every one of the 40 delivered, once.
cp "$TB/routes.good" "$DB.new"
mv "$DB.new" "$DB"
deliver_all "table restored" "$tag" "$tag2"

# --- Overwritten in place (cp garbage routes.db) under the connection
# the bridge keeps open, then restored in place.
tag="tb-0571-$$-inplace"
head -c 16384 /dev/urandom >"$TB/garbage"
cat "$TB/garbage" >"$DB"
load "$tag" 2
q=$(cat "$TB/$tag.qids")
tb_wait 60 nlines 8 "($q): to=.*status=deferred" "$TB_MAILLOG"
tb_is "$(grep -E "($q): to=.*status=deferred" "$TB_MAILLOG" |
	grep -cE "said: 451 4\.4\.3 ")" 8 \
    "table overwritten in place by garbage: 8 messages, each 451 4.4.3" ||
    tb_diag "$(grep -E "($q): to=" "$TB_MAILLOG" | head -n 3)"
cat "$TB/routes.good" >"$DB"
deliver_all "table restored in place" "$tag"

# --- slapd SIGSTOPped: the bridge routes by LDAP only now.
LDAP_CONF=("ldap_lookup = true" "ldap_base = \"ou=people,$TB_LDAP_BASE\""
    "ldap_cache_size = 0" "ldap {" "	uri = \"$TB_LDAP_URI\""
    "	network_timeout = 2s" "	search_timeout = 2s" "}")
restart_bridge "${LDAP_CONF[@]}"
# one message first: the bridge's pool holds a connection to slapd
lmtp_send carol@example.test "tb-0571-$$-warm carol 0-0"
lmtp_wait 30 "<carol@example.test>.*status=sent"
tb_like "$(status_of "$qid" carol@example.test)" "status=sent" \
    "LDAP routing: carol (only in the directory) is delivered"
tag="tb-0571-$$-ldap"
kill -STOP "$(tb_pid slapd)"
t0=$(tb_now_ms)
out=$(python3 "$CLIENT" "$TB_PORT_BRIDGE" send \
    'LHLO t\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<bob@example.test>\r\nQUIT\r\n')
dt=$(($(tb_now_ms) - t0))
tb_like "$out" $'\n451 4\\.4\\.3 <bob@example.test>: ' \
    "slapd SIGSTOPped: a RCPT is answered 451 4.4.3" || tb_diag "$out"
tb_ok "... within search_timeout + network_timeout (4 s; took $dt ms)" \
    test "$dt" -le 5000
load_deferred "$tag" \
    "slapd SIGSTOPped: Postfix accepts the 20 messages of 4 clients"
worst=$(worst_delay)
tb_ok "... each within search_timeout + network_timeout under load (the longest: ${worst}s)" \
    awk -v d="$worst" 'BEGIN { exit !(d != "" && d <= 5) }'
tb_like "$(grep 'status=deferred route=ldap' "$BLOG" | tail -n 1)" \
    'error="ldap ' "bridge log: the directory error is named"
kill -CONT "$(tb_pid slapd)"
deliver_all "slapd continued" "$tag"

# --- The directory answering garbage (the uri names a server that
# speaks no LDAP: t/lib/lmtp-fake-backend.py garbage): 451 4.4.3 within
# the timeouts; the configuration corrected and reloaded (SIGHUP): each
# delivered once.
GARBAGE=$(tb_port 73)
tb_spawn garbage "$TB/garbage.out" python3 "$FAKE" "$GARBAGE" \
    "$TB/garbage.log" garbage
tb_ready garbage "on 127.0.0.1:$GARBAGE" 10 tb_connect 127.0.0.1 "$GARBAGE"
restart_bridge "${LDAP_CONF[@]/$TB_LDAP_URI/ldap://127.0.0.1:$GARBAGE/}"
tag="tb-0571-$$-ldapgarbage"
load_deferred "$tag" \
    "LDAP answering garbage: Postfix accepts the 20 messages of 4 clients"
worst=$(worst_delay)
tb_ok "... each within network_timeout (the longest: ${worst}s)" \
    awk -v d="$worst" 'BEGIN { exit !(d != "" && d <= 3) }'
tb_like "$(grep 'status=deferred route=ldap' "$BLOG" | tail -n 1)" \
    "error=\"ldap ldap://127\.0\.0\.1:$GARBAGE/: bind" \
    "bridge log: the directory error is named"
n=$(grep -c 'reload: routing updated' "$BLOG")
lmtp_conf "${LDAP_CONF[@]}"
kill -HUP "$(tb_pid bridge)"
tb_wait 10 nlines $((n + 1)) 'reload: routing updated' "$BLOG"
deliver_all "uri corrected, reloaded" "$tag"
tb_ok "the bridge is alive" tb_alive "$(tb_pid bridge)"

# --- A SIGHUP storm under load: the table and the directory both.
restart_bridge "${SQLITE_CONF[@]}" "${LDAP_CONF[@]}"
sqlite3 "$DB" "DELETE FROM lmtp_routes WHERE address = 'carol@example.test'"
tag="tb-0571-$$-hup"
n0=$(grep -c 'reload: routing updated' "$BLOG")
storm() {
	local i

	for i in $(seq 1 60); do
		kill -HUP "$(tb_pid bridge)" 2>/dev/null || return
		sleep 0.1
	done
}
storm &
storm_pid=$!
load "$tag" 10
wait "$storm_pid"
q=$(cat "$TB/$tag.qids")
tb_is "$(tr '|' '\n' <<<"$q" | grep -c .)" 40 \
    "SIGHUP storm: Postfix accepts the 40 messages of 4 clients"
tb_wait 60 nlines 40 "($q): to=.*status=(sent|deferred|bounced)" "$TB_MAILLOG"
tb_is "$(nstatus "$q" '(deferred|bounced)')" 0 \
    "... none deferred or bounced" ||
    tb_diag "$(grep -E "($q): to=.*status=(deferred|bounced)" "$TB_MAILLOG" | head -n 3)"
tb_is "$(nstatus "$q" sent)" 40 "... each sent at the first attempt"
tb_is "$(tally "$tag")" "40 40 0" \
    "... the Maildirs: 40 messages, each once, each in its recipient's"
tb_ok "... the bridge is alive" tb_alive "$(tb_pid bridge)"
n=$(($(grep -c 'reload: routing updated' "$BLOG") - n0))
tb_ok "... and it reloaded ($n times)" test "$n" -ge 10
tb_done
