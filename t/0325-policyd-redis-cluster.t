#!/bin/bash
# 0325-policyd-redis-cluster - the Redis store on a real Redis Cluster
#
# Three redis-server masters in cluster mode.  t/0320 with
# ELEMTA_TEST_REDIS_CLUSTER: 200 keys over the nodes from one node's
# address, MOVED followed and learnt.  Two elemta-policyd nodes, each
# given another node of the cluster, enforce one combined limit (3 per
# hour) for 12 clients whose keys live on several nodes.  A slot being
# migrated (its key moved, the slot MIGRATING/IMPORTING): ASK is
# followed with ASKING and the count goes on; the migration finished, the
# old node answers MOVED and the count still goes on.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require_helper "${top_builddir:-.}/t/0320-policyd-redis.t"
peer_require redis
tb_init
tb_plan 13

peer_start_redis_cluster
read -r C1 C2 C3 <<<"$TB_REDIS_CLUSTER"

# rc PORT ARGS... - redis-cli on one node
rc() {
	local port=$1

	shift
	redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# 1. the client library
pol_run_0320 "ELEMTA_TEST_REDIS_CLUSTER=127.0.0.1:$C1" 6

# 2. two policyd nodes, each starting at another cluster node
PA=$TB_PORT_POLICY
PB=$(tb_port 45)
for n in a b; do
	port=$C1
	[[ $n == b ]] && port=$C3
	cat >"$TB/$n.conf" <<CONF
policyd {
	client_message_limit = "3/1h"
	store = redis
	store_fail_action = defer
}
redis {
	servers = {"127.0.0.1:$port"}
	command_timeout_ms = 1000
}
CONF
	chmod 644 "$TB/$n.conf"
done
pol_start nodea "$PA" -c "$TB/a.conf"
pol_start nodeb "$PB" -c "$TB/b.conf"
exec 5<>"/dev/tcp/127.0.0.1/$PA" 6<>"/dev/tcp/127.0.0.1/$PB"

# ask FD ADDR INSTANCE - one RCPT request of client ADDR
ask() {
	pol_request "$1" protocol_state=RCPT "client_address=$2" "instance=$3"
}

dunno=0 defer=0 other=""
for i in $(seq 1 12); do
	for j in 1 2; do
		for fd in 5 6; do
			r=$(ask $fd "192.0.2.$i" "c$i.$j.$fd")
			case $r in
			action=DUNNO) dunno=$((dunno + 1)) ;;
			"action=450 4.7.1 "*) defer=$((defer + 1)) ;;
			*) other="$other [$r]" ;;
			esac
		done
	done
done
tb_is "$dunno/$defer" 36/12 \
    "two nodes, 12 clients, 3/h each: 36 of 48 pass, 12 are deferred" ||
    tb_diag "other answers:$other"
used=0
for p in $C1 $C2 $C3; do
	[[ $(rc "$p" dbsize) -gt 0 ]] && used=$((used + 1))
done
tb_ok "the keys are spread over $used of the 3 nodes" test "$used" -ge 2

# 3. a slot in migration: ASK
key='elemta:policyd:{msg:ip:192.0.2.200}'
slot=$(rc "$C1" cluster keyslot "$key")
# node_of SLOT - the port of the master that serves it
node_of() {
	rc "$C1" cluster nodes | awk -v s="$1" '{
		for (i = 9; i <= NF; i++) {
			split($i, r, "-")
			if (r[2] == "") r[2] = r[1]
			if (r[1] <= s && s <= r[2]) { split($2, a, "[:@]"); print a[2] }
		}
	}'
}
# node_id PORT - the cluster id of a node
node_id() {
	rc "$1" cluster myid
}
src=$(node_of "$slot")
for p in $C1 $C2 $C3; do
	[[ $p != "$src" ]] && dst=$p && break
done
r=$(ask 5 192.0.2.200 m.1)
tb_is "$r" action=DUNNO "client 192.0.2.200, 1 of 3 (slot $slot on :$src)"
rc "$dst" cluster setslot "$slot" importing "$(node_id "$src")" >/dev/null
rc "$src" cluster setslot "$slot" migrating "$(node_id "$dst")" >/dev/null
mig=$(rc "$src" migrate 127.0.0.1 "$dst" "$key" 0 5000)
tb_is "$mig" OK "its key moved to :$dst, the slot still migrating"
r2=$(ask 5 192.0.2.200 m.2)
r3=$(ask 6 192.0.2.200 m.3)
r4=$(ask 5 192.0.2.200 m.4)
tb_is "$r2 $r3" "action=DUNNO action=DUNNO" \
    "the old node answers ASK: counted on the new one (2 and 3 of 3)"
tb_like "$r4" '^action=450 4\.7\.1 .*client 192\.0\.2\.200 \(3 per 1h\)' \
    "the 4th is deferred: the count went on across the migration"
asking=$(rc "$dst" info commandstats | sed -nE 's/^cmdstat_asking:calls=([0-9]+),.*/\1/p')
tb_ok "the new node was sent ASKING (${asking:-0} times)" test "${asking:-0}" -ge 3

# 4. the migration finished: MOVED from the node policyd remembered
for p in $C1 $C2 $C3; do
	rc "$p" cluster setslot "$slot" node "$(node_id "$dst")" >/dev/null
done
r=$(ask 5 192.0.2.200 m.5)
tb_like "$r" '^action=450 4\.7\.1 ' \
    "slot moved for good: node A follows MOVED, still 3 of 3"
w=$(pol_redis_weight "$key" "$dst")
tb_is "$w" 3 "the key holds the 3 on its new node"
exec 5>&- 6>&-
tb_stop nodea nodeb
tb_ok "both policyd nodes stopped cleanly" tb_grep "elemta-policyd stopped" "$TB/nodea/log"
tb_done
