#!/bin/bash
# 0602-ctl-ratelimit - elemta-ctl ratelimit show|reset KEY against the
# live state of real elemta-policyd daemons: one on its SQLite store,
# two nodes sharing a real Redis.
#
# show reads what the limit counted (the key as the log prints it,
# ip:ADDR, or LIMIT:ip:ADDR for one limit); a key nothing counted, or
# that no limit counts, is "not found" (exit 1).  reset takes effect at
# once: the next request passes; on SQLite the row follows (a restart
# still sees the reset), on Redis the key is gone, so every node sees it.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
peer_require redis
tb_need python3 python3
tb_init
tb_plan 22

RQ='request=smtpd_access_policy'
PA=$TB_PORT_POLICY
PB=$(tb_port 45)
PC=$(tb_port 46)
n=0

# ask PORT ADDR - one RCPT request (a new instance) on a new connection;
# prints the reply's action line
ask() {
	local line

	exec 5<>"/dev/tcp/127.0.0.1/$1"
	printf '%s\nprotocol_state=RCPT\nclient_address=%s\ninstance=i%d\n\n' \
	    "$RQ" "$2" "$((++n))" >&5
	read -r -t 10 -u 5 line || line="no reply"
	exec 5>&-
	echo "$line"
}

# used JSON LIMIT - a limit's used weight in a show's JSON
used() {
	ctl_json_get "$1" "$2.used"
}

# 1. SQLite
# write-through: each change is in SQLite at once, so a reset must
# write its own (the restart below sees what the file holds)
pol_start policyd "$PA" -o policyd.client_message_limit=3/1h \
    -o policyd.store_flush_interval=0
for i in 1 2 3; do ask "$PA" 192.0.2.10 >/dev/null; done
tb_like "$(ask "$PA" 192.0.2.10)" '^action=450 4\.7\.1 ' \
    "sqlite: the 4th message from 192.0.2.10 is deferred"
json=$(ctl --json ratelimit show ip:192.0.2.10)
tb_is "$?" 0 "show ip:192.0.2.10: exit 0"
tb_ok "show --json parses" python3 -m json.tool <<<"$json"
tb_is "$(used "$json" client_message) $(ctl_json_get "$json" client_message.max) $(ctl_json_get "$json" client_message.store)" \
    "3 3 local" "show: 3 counted of 3, in the local store"
tb_like "$(ctl ratelimit show client_message:ip:192.0.2.10)" \
    'client_message\.retry: [1-9]' "show LIMIT:KEY: when it passes again"
ctl ratelimit show ip:192.0.2.99 >/dev/null 2>&1
tb_is "$?" 1 "show of a key nothing counted: exit 1"
ctl ratelimit show nosuchtag:x >/dev/null 2>&1
tb_is "$?" 1 "show of a key no limit counts: exit 1"
ctl ratelimit show >/dev/null 2>&1
tb_is "$?" 2 "show without a key: exit 2"

out=$(ctl ratelimit reset ip:192.0.2.10 2>&1)
tb_is "$?" 0 "reset ip:192.0.2.10: exit 0" || tb_diag "$out"
tb_like "$(cat "$TB/policyd/log")" \
    'control: ratelimit reset key=ip:192\.0\.2\.10 limits=1 uid=0' \
    "reset: logged with the key and the peer's uid"
tb_is "$(ask "$PA" 192.0.2.10)" action=DUNNO "reset: the next message passes at once"
tb_is "$(used "$(ctl --json ratelimit show ip:192.0.2.10)" client_message)" 1 \
    "reset: counting starts again from 0"
# a reset key with nothing counted since: its row must go too
ask "$PA" 192.0.2.11 >/dev/null
ctl ratelimit reset ip:192.0.2.11 >/dev/null 2>&1
tb_stop policyd
POL_LOG=$TB/policyd/log.2 pol_start policyd "$PA" \
    -o policyd.client_message_limit=3/1h -o policyd.store_flush_interval=0
tb_is "$(used "$(ctl --json ratelimit show ip:192.0.2.10)" client_message)" 1 \
    "reset: written to SQLite (a restart sees 1, not 4)"
ctl ratelimit show ip:192.0.2.11 >/dev/null 2>&1
tb_is "$?" 1 "reset: the row of a key reset is gone after a restart"

# 2. Redis, two nodes
peer_start_redis
for node in nodeb:$PB nodec:$PC; do
	pol_start "${node%%:*}" "${node#*:}" -o policyd.store=redis \
	    -o "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
	    -o policyd.client_message_limit=3/1h
done
ctlb() { ctl -o "policyd.control_socket=$TB/nodeb/policyd.ctl" "$@"; }
ctlc() { ctl -o "policyd.control_socket=$TB/nodec/policyd.ctl" "$@"; }
ask "$PB" 192.0.2.20 >/dev/null
ask "$PB" 192.0.2.20 >/dev/null
ask "$PC" 192.0.2.20 >/dev/null
tb_like "$(ask "$PC" 192.0.2.20)" '^action=450 4\.7\.1 ' \
    "redis: the 4th message over two nodes is deferred"
json=$(ctlb --json ratelimit show ip:192.0.2.20)
tb_is "$(used "$json" client_message) $(ctl_json_get "$json" client_message.store)" \
    "3 redis" "redis: node B shows the 3 counted by both nodes"
tb_is "$(used "$(ctlc --json ratelimit show ip:192.0.2.20)" client_message)" 3 \
    "redis: node C shows the same"
out=$(ctlb ratelimit reset ip:192.0.2.20 2>&1)
tb_is "$?" 0 "redis: reset through node B" || tb_diag "$out"
tb_is "$(redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" EXISTS 'elemta:policyd:{msg:ip:192.0.2.20}')" \
    0 "redis: the key is gone"
tb_is "$(ask "$PC" 192.0.2.20)" action=DUNNO \
    "redis: node C lets the next message through at once"
tb_is "$(used "$(ctlc --json ratelimit show ip:192.0.2.20)" client_message)" 1 \
    "redis: node C counts from 0 again"
ctlc ratelimit reset nosuchtag:x >/dev/null 2>&1
tb_is "$?" 1 "reset of a key no limit counts: exit 1"
tb_done
