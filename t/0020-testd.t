#!/bin/bash
# 0020-testd - the shared daemon runtime end to end, through elemta-testd:
# command line, configuration errors with file:line, -o overrides, -p,
# listeners, pidfile, privilege drop, SIGHUP reload with snapshots kept by
# work in progress, SIGTERM stop, background mode and the metrics endpoint.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

TESTD=${ELEMTA_TESTD:-$top_builddir/t/elemta-testd}
[ -x "$TESTD" ] || tb_missing "elemta-testd not built ($TESTD)"
tb_need_root "the privilege drop test"
tb_need curl curl
tb_init
PORT=$TB_PORT_POLICY MPORT=$TB_PORT_METRICS
D=$TB

# has GOT STRING DESC - ok if GOT contains STRING (no regular expressions)
has() {
	if [[ $1 == *"$2"* ]]; then
		tb_pass "$3"
	else
		tb_fail "$3" "       got: '$(tb_clip "$1")'" "  expected to contain: '$2'"
	fi
}

# line_of FD - one reply line from an open connection
line_of() {
	local l=""
	read -r -t 5 -u "$1" l
	printf '%s' "$l"
}

# conf FILE TEXT - write a configuration file
conf() { printf '%s' "$2" > "$1"; }

# check_err NAME EXPECTED-SUBSTRING ARGS... - -n must fail, naming the problem
check_err() {
	local name=$1 want=$2 out rc
	shift 2
	out=$("$TESTD" -n "$@" 2>&1); rc=$?
	tb_ok "$name: refused (exit $rc)" test "$rc" -ne 0
	has "$out" "$want" "$name: message"
}

# ---- command line and configuration checks
out=$("$TESTD" -V); has "$out" "elemta-testd (elemta) " "-V prints the version"
out=$("$TESTD" -h 2>&1); has "$out" "-o S.K=V" "-h prints the usage"
out=$("$TESTD" -Z 2>&1); rc=$?
tb_is "$rc" 2 "unknown option: exit 2"; has "$out" "unknown option -Z" "unknown option named"

out=$("$TESTD" -n -c "$top_srcdir/conf/elemta.conf" 2>&1)
tb_is "$?" 0 "the sample elemta.conf is valid"
has "$out" "configuration OK" "-n says OK"
# the greylist's client allow file is the milter's to read (when it
# builds its generation): a daemon loading the [milter] section with
# the others does not read it, nor fail without it
out=$("$TESTD" -n -c "$top_srcdir/conf/elemta.conf" \
    -o "milter.greylist_client_allow_file=$D/no-such-file" 2>&1)
tb_is "$?" 0 "without the milter's greylist_client_allow_file: OK" ||
    tb_diag "$out"

conf "$D/unknown.conf" 'log {
  level = info
}
policyd {
  lisen = "inet:127.0.0.1:1"
}
'
check_err "unknown key" "$D/unknown.conf:5: no such option 'lisen'" -c "$D/unknown.conf"
conf "$D/range.conf" '# range
database {
  busy_timeout = 700000
}
'
check_err "out-of-range number" "$D/range.conf:3: option 'busy_timeout': value 700000 out of range (0-600000)" -c "$D/range.conf"
conf "$D/listener.conf" 'policyd {

  listen = "inet:127.0.0.1:99999"
}
'
check_err "bad listener spec" "$D/listener.conf:3: option 'listen': " -c "$D/listener.conf"
conf "$D/type.conf" 'database {
  busy_timeout = soon
}
'
check_err "wrong type" "$D/type.conf:2:" -c "$D/type.conf"
check_err "missing -c file" "$D/nonexistent.conf: cannot open" -c "$D/nonexistent.conf"
check_err "-o bad listener" "-o policyd.listen=inet:127.0.0.1:0: option 'listen'" -o policyd.listen=inet:127.0.0.1:0
check_err "-o out of range" "-o database.busy_timeout=-1: option 'busy_timeout': value -1 out of range" -o database.busy_timeout=-1
check_err "-o unknown key" "-o policyd.nokey=1: unknown option 'nokey' in section 'policyd'" -o policyd.nokey=1
check_err "-o unknown section" "-o nosuch.key=1: unknown section 'nosuch'" -o nosuch.key=1
check_err "-o bad enum" "-o log.level=loud: option 'level': unknown value 'loud'" -o log.level=loud
check_err "-o malformed" "-o policyd.listen: expected SECTION.KEY=VALUE" -o policyd.listen

out=$("$TESTD" -p -c "$top_srcdir/conf/elemta.conf" -o policyd.listen=unix:/tmp/x.sock -o log.level=debug 2>&1)
tb_is "$?" 0 "-p prints the effective configuration"
has "$out" 'listen="unix:/tmp/x.sock"' "-p shows an override"
has "$out" 'level="debug"' "-p shows another override"
has "$out" 'busy_timeout=5000' "-p shows defaults"

# ---- run in the foreground
# The pidfile's directory belongs to the daemon's user, so that it can
# remove the file at exit after dropping privileges (as with /run/elemta).
mkdir "$D/run" && chown nobody "$D/run"
conf "$D/run.conf" "log { level = info }
policyd {
  listen = \"inet:127.0.0.1:$PORT\"
  metrics_listen = \"inet:127.0.0.1:$MPORT\"
  user = nobody
  pidfile = \"$D/run/testd.pid\"
}
"
tb_spawn testd "$D/testd.log" "$TESTD" -f -c "$D/run.conf"
TPID=$(tb_pid testd)
tb_ready testd "on port $PORT" 10 tb_connect 127.0.0.1 "$PORT"

# one persistent connection, opened before the reload
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
echo hello >&7; l1=$(line_of 7)
tb_is "$l1" "gen=1 level=info uid=$(id -u nobody)" "served after dropping to user nobody"
tb_is "$(cat "$D/run/testd.pid" 2>/dev/null)" "$TPID" "pidfile holds the daemon's pid"
m=$(curl -fsS "http://127.0.0.1:$MPORT/metrics")
has "$m" "elemta_testd_lines_total 1" "metrics endpoint counts the line answered"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
tb_is "$code" 404 "metrics: other paths are 404"

# a second instance: the pidfile lock, then the port, refuse it
out=$("$TESTD" -f -c "$D/run.conf" -o policyd.metrics_listen= 2>&1); rc=$?
tb_ok "second instance refused (exit $rc)" test "$rc" -ne 0
has "$out" "address already in use" "second instance: address in use"
out=$("$TESTD" -f -c "$D/run.conf" -o policyd.listen=inet:127.0.0.1:$((P + 3)) -o policyd.metrics_listen= 2>&1); rc=$?
tb_ok "second instance on another port refused (exit $rc)" test "$rc" -ne 0
has "$out" "already running as pid $TPID" "second instance: pidfile names the running pid"

# ---- reload: new work sees the new snapshot, old work keeps its own
sed -i 's/level = info/level = debug/' "$D/run.conf"
kill -HUP "$TPID"
tb_wait_log 5 "reloaded" "$D/testd.log"
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
echo hello >&8; l2=$(line_of 8)
tb_is "$l2" "gen=2 level=debug uid=$(id -u nobody)" "after SIGHUP a new connection sees the new configuration"
echo again >&7; l1b=$(line_of 7)
tb_is "$l1b" "gen=1 level=info uid=$(id -u nobody)" "a connection in progress keeps its snapshot"

# a broken file on reload: logged, the running configuration is kept
printf 'policyd {\n  bogus = 1\n}\n' > "$D/run.conf"
kill -HUP "$TPID"
tb_wait_log 5 "reload failed" "$D/testd.log"
has "$(cat "$D/testd.log")" "$D/run.conf:2: no such option 'bogus'" "bad reload logged with file:line"
exec 9<>"/dev/tcp/127.0.0.1/$PORT"
echo hello >&9; l3=$(line_of 9)
tb_is "$l3" "gen=2 level=debug uid=$(id -u nobody)" "bad reload keeps the running configuration"
exec 7>&- 8>&- 9>&-

kill -TERM "$TPID"; wait "$TPID"; rc=$?
tb_is "$rc" 0 "SIGTERM: clean exit"
tb_ok "pidfile removed on exit" test ! -e "$D/run/testd.pid"

# ---- background mode
conf "$D/bg.conf" "policyd {
  listen = \"inet:127.0.0.1:$PORT\"
  user = nobody
  pidfile = \"$D/run/bg.pid\"
}
"
"$TESTD" -c "$D/bg.conf"; rc=$?
tb_is "$rc" 0 "background start returns 0"
tb_wait 5 test -s "$D/run/bg.pid"
BPID=$(cat "$D/run/bg.pid" 2>/dev/null)
tb_ok "detached daemon is running (pid $BPID)" tb_alive "$BPID"
tb_is "$(ps -o sid= -p "$BPID" | tr -d ' ')" "$BPID" "detached daemon leads its own session"
tb_wait 5 tb_connect 127.0.0.1 "$PORT"
exec 7<>"/dev/tcp/127.0.0.1/$PORT"; echo hi >&7; l4=$(line_of 7); exec 7>&-
has "$l4" "gen=1" "detached daemon serves"
kill -TERM "$BPID"
tb_wait 10 eval '[ -z "$(tb_alive_list '"$BPID"')" ]'
tb_ok "detached daemon stops on SIGTERM" test -z "$(tb_alive_list "$BPID")"
tb_ok "its pidfile is removed" test ! -e "$D/run/bg.pid"

# ---- a user that does not exist
out=$("$TESTD" -f -c "$D/bg.conf" -o policyd.user=nosuchuser 2>&1); rc=$?
tb_ok "unknown user refused (exit $rc)" test "$rc" -ne 0
has "$out" 'nosuchuser' "unknown user named in the error"

# ---- a signal before the handlers are in place waits for them: a
# SIGHUP (a "systemctl reload" just after the start) while the daemon
# reads its configuration and binds is a reload once it runs, not a
# death by the default action; likewise a SIGTERM stops it cleanly
for sig in HUP TERM; do
	ELEMTA_TESTD_START_PAUSE_MS=1500 tb_spawn "early$sig" \
	    "$D/early$sig.log" "$TESTD" -f -c "$D/bg.conf"
	epid=$(tb_pid "early$sig")
	# once it is ours (exec'd), and has read its configuration: in the
	# pause, before runtime_start
	tb_wait 5 eval '[ "$(cat /proc/'"$epid"'/comm 2>/dev/null)" = elemta-testd ]'
	sleep 0.3
	kill -"$sig" "$epid"
	if [[ $sig == HUP ]]; then
		tb_ok "SIGHUP during the start: reloaded once running" \
		    tb_wait 10 tb_grep "reloaded" "$D/early$sig.log"
		tb_ok "SIGHUP during the start: still running" \
		    tb_alive "$epid"
		tb_stop "early$sig"
	else
		tb_wait 10 eval '[ -z "$(tb_alive_list '"$epid"')" ]'
		tb_ok "SIGTERM during the start: stopped" \
		    test -z "$(tb_alive_list "$epid")"
		tb_ok "SIGTERM during the start: stopped by its handler" \
		    tb_grep "stop" "$D/early$sig.log"
	fi
done

tb_plan "$TB_TESTNUM"
tb_done
