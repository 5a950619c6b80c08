#!/bin/bash
# 0600-ctl-status - elemta-ctl status, stats and reload against the three
# real daemons, each with its control socket in the test's directory.
#
# status answers for every daemon (pid, generation); --json parses;
# stats is the metrics registry (the same figure as /metrics); reload
# does what SIGUSR1/SIGHUP do and reports the new generation, or the
# error with the running configuration kept.  Exit statuses: 2 for an
# unreachable daemon, a socket that is off and a bad command line; 1
# for a refused peer.  The socket is 0660, the daemon's user and group
# (policyd runs as nobody here): another user is kept out by its mode,
# a member of the group gets in, and a socket widened by hand still
# refuses a stranger (SO_PEERCRED) and logs the uid.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/lmtp.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
lmtp_init
milter_require unbound
tb_need_root "peers of another uid (setpriv)"
tb_need setpriv setpriv
tb_need curl curl
tb_need python3 python3
tb_init
tb_plan 25

peer_start_unbound
pol_start policyd "$TB_PORT_POLICY" \
    -o "policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS2"
milter_start
lmtp_conf
lmtp_start_bridge
PLOG=$TB/policyd/log

# status: all three up, policyd's pid, the first generation
out=$(ctl status 2>&1)
tb_is "$?" 0 "status: exit 0 with the three daemons up"
tb_is "$(grep -c ': up$' <<<"$out")" 3 "status: three daemons up" ||
    tb_diag "$out"
json=$(ctl --json status)
tb_ok "status --json parses" python3 -m json.tool <<<"$json"
tb_is "$(ctl_json_get "$json" policyd pid)" "$(tb_pid policyd)" \
    "status: policyd's pid"
tb_is "$(ctl_json_get "$json" milter generation)" 1 \
    "status: the milter's first generation"

# stats: the registry's figure, the same as /metrics
exec 5<>"/dev/tcp/127.0.0.1/$TB_PORT_POLICY"
reply=$(pol_request 5 protocol_state=RCPT client_address=192.0.2.9 \
    instance=ctl.1)
exec 5>&-
tb_is "$reply" action=DUNNO "a policy request answered"
stat=$(ctl_json_get "$(ctl --json stats policyd elemta_policyd_connections_total)" \
    policyd elemta_policyd_connections_total)
metric=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS2/metrics" |
    awk '$1 == "elemta_policyd_connections_total" { print $2 }')
tb_ok "stats: connections counted ($stat)" test "${stat:-0}" -ge 1
tb_is "$stat" "$metric" "stats: the same figure as /metrics"

# reload: all three, a new generation each, logged with the peer's uid
out=$(ctl reload all 2>&1)
tb_is "$?" 0 "reload all: exit 0" || tb_diag "$out"
json=$(ctl --json status)
tb_is "$(ctl_json_get "$json" milter generation) $(ctl_json_get "$json" policyd generation) $(ctl_json_get "$json" lmtp-bridge generation)" \
    "2 2 2" "reload all: generation 2 in each daemon"
tb_like "$(cat "$PLOG")" 'control: uid=0 pid=[0-9]+ command=reload' \
    "reload: logged with the peer's uid"

# a broken file: reload fails, says why, the running configuration stays
cp "$TB_MILTER_CONF" "$TB/milter.conf.good"
echo 'milter { no_such_option = 1 }' >>"$TB_MILTER_CONF"
out=$(ctl reload milter 2>&1)
tb_is "$?" 1 "reload of a broken file: exit 1"
tb_like "$out" 'no_such_option' "reload: the error is named" 
tb_is "$(ctl_json_get "$(ctl --json status milter)" milter generation)" 2 \
    "reload failed: the milter keeps generation 2"
cp "$TB/milter.conf.good" "$TB_MILTER_CONF"
out=$(ctl reload milter 2>&1)
tb_like "$out" 'generation: 3' "reload fixed: generation 3"

# unreachable, off, usage
ctl -o "policyd.control_socket=$TB/nothing.ctl" status policyd >/dev/null 2>&1
tb_is "$?" 2 "no daemon on the socket: exit 2"
ctl -o "policyd.control_socket=" status policyd >/dev/null 2>&1
tb_is "$?" 2 "control_socket off: exit 2"
ctl status no-such-daemon >/dev/null 2>&1
tb_is "$?" 2 "unknown daemon: exit 2"

# permissions: 0660 nobody:nogroup, as policyd runs as nobody
sock=$(ctl_sock policyd)
tb_is "$(stat -c '%a %U %G' "$sock")" "660 nobody nogroup" \
    "the socket is 0660, the daemon's user and group"
out=$(setpriv --reuid=daemon --regid=daemon --clear-groups "$CTL" -c /dev/null \
    -o "policyd.control_socket=$sock" status policyd 2>&1)
tb_is "$?" 1 "another user: refused (exit 1)" || tb_diag "$out"
setpriv --reuid=daemon --regid=nogroup --clear-groups "$CTL" -c /dev/null \
    -o "policyd.control_socket=$sock" status policyd >/dev/null 2>&1
tb_is "$?" 0 "a member of the socket's group: served"
chmod 0755 "$(dirname "$sock")"
chmod 0666 "$sock"
out=$(setpriv --reuid=daemon --regid=daemon --clear-groups "$CTL" -c /dev/null \
    -o "policyd.control_socket=$sock" reload policyd 2>&1)
tb_is "$?" 1 "a socket widened by hand: the daemon refuses a stranger" ||
    tb_diag "$out"
tb_like "$(cat "$PLOG")" "control: refused uid=$(id -u daemon) " \
    "the refusal is logged with the uid"
tb_is "$(ctl_json_get "$(ctl --json status policyd)" policyd generation)" 2 \
    "the refused reload did not happen"

tb_stop policyd
tb_ok "the socket is removed at stop" test ! -e "$sock"
tb_done
