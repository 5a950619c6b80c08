#!/bin/bash
# 0606-ctl-greylist - elemta-ctl greylist list|delete|allow against a
# running elemta-milter, on its SQLite store and then on a real Redis.
# The triplets are made by "elemta-milter -t" runs on the same store (a
# second process, as a second gateway node would be): list shows the
# deferred triplet (the client given as an address, cut to its network
# as the stage does; the sender normalised), allow lets its next
# attempt through at once, delete makes it new again; a selection that
# matches nothing exits 1, a bad command line 2.  A recipient too long
# for the triplet's key is keyed by its first bytes and a hash: the
# control command, given it in any case, names the same triplet.  So is
# a sender too long to normalise: two such senders alike in their
# first bytes are two triplets.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
milter_require redis
tb_need python3 python3
tb_init
tb_plan 31
printf 'From: a@example.org\r\nSubject: x\r\n\r\nHello.\r\n' >"$TB/m.eml"

# offline_from SENDER RCPT - offline, from another sender
offline_from() {
	"$MILTER" -c "$TB_MILTER_CONF" -t "$TB/m.eml" \
	    --client-ip 198.51.100.7 --sender "$1" --rcpt "$2" \
	    2>>"$TB/offline.log" | grep '^verdict:'
}

# offline RCPT - one message through the greylist of the daemon's
# configuration, from 198.51.100.7, bob+x@sender.test; the verdict line
offline() {
	"$MILTER" -c "$TB_MILTER_CONF" -t "$TB/m.eml" \
	    --client-ip 198.51.100.7 --sender bob+x@sender.test --rcpt "$1" \
	    2>>"$TB/offline.log" | grep '^verdict:'
}

# run STORE [KEY=VALUE...] - the daemon with greylisting on STORE
run() {
	local store=$1

	shift
	milter_start dns.nameservers=127.0.0.1 spf=false dkim=false \
	    dmarc=false greylist=true greylist_delay=1h \
	    "greylist_store=$store" "greylist_path=$TB/greylist.db" "$@"
}

DEFER='^verdict: tempfail 450 4\.7\.1'

# 1. SQLite
run sqlite
tb_like "$(offline alice@example.test)" "$DEFER" "sqlite: the first attempt is deferred"
json=$(ctl --json greylist list)
tb_ok "list --json parses" python3 -m json.tool <<<"$json"
tb_like "$(ctl_json_get "$json" triplet)" \
    '^198\.51\.100\.0/24 bob@sender\.test alice@example\.test first=[0-9]+ passed=0 ' \
    "sqlite: list shows the triplet, not yet passed"
out=$(ctl greylist list 203.0.113.9 2>&1)
tb_is "$?" 1 "list of another network: exit 1 (none)"
tb_is "$(ctl_json_get "$(ctl --json greylist list 198.51.100.9)" count)" 1 \
    "list of another address of the same /24: the triplet"
out=$(ctl greylist allow 198.51.100.7 BOB+x@sender.test alice@example.test 2>&1)
tb_is "$?" 0 "allow CLIENT SENDER RCPT: exit 0" || tb_diag "$out"
tb_is "$(offline alice@example.test)" "verdict: accept" \
    "sqlite: allowed: the next attempt passes at once"
tb_like "$(cat "$TB_MILTER_LOG")" \
    'control: greylist allow key="198\.51\.100\.0/24 bob@sender\.test alice@example\.test" triplets=1 uid=0' \
    "allow: logged with the triplet and the peer's uid"
out=$(ctl greylist delete 198.51.100.7 2>&1)
tb_is "$?" 0 "delete CLIENT: exit 0" || tb_diag "$out"
tb_like "$(offline alice@example.test)" "$DEFER" \
    "sqlite: deleted: the triplet is new again"
ctl greylist delete 203.0.113.1 >/dev/null 2>&1
tb_is "$?" 1 "delete of nothing: exit 1"
ctl greylist allow 198.51.100.7 bob@sender.test >/dev/null 2>&1
tb_is "$?" 2 "allow without a recipient: exit 2"
ctl greylist frob >/dev/null 2>&1
tb_is "$?" 2 "an unknown subcommand: exit 2"
LONG=$(printf 'L%.0s' $(seq 700))@Example.test
tb_like "$(offline "$LONG")" "$DEFER" "sqlite: a 713-byte recipient: deferred"
tb_like "$(cat "$TB/offline.log")" \
    'greylist rcpt_length=713 over 549: keyed by its first bytes and a SHA-256 of the whole' \
    "the long recipient's key is logged as hashed"
out=$(ctl greylist allow 198.51.100.7 bob@sender.test "${LONG,,}" 2>&1)
tb_is "$?" 0 "allow with the long recipient (lower case): exit 0" || tb_diag "$out"
tb_is "$(offline "$LONG")" "verdict: accept" \
    "sqlite: the control command keyed the stage's triplet: it passes"
LONGS=$(printf 'S%.0s' $(seq 700))@Sender.test
LONGS2=${LONGS:0:650}T${LONGS:651}
tb_like "$(offline_from "$LONGS" alice@example.test)" "$DEFER" \
    "sqlite: a 712-byte sender: deferred"
tb_like "$(cat "$TB/offline.log")" \
    'greylist sender_length=712 over 549: keyed by its first bytes and a SHA-256 of the whole' \
    "the long sender's key is logged as hashed"
out=$(ctl greylist allow 198.51.100.7 "$LONGS" alice@example.test 2>&1)
tb_is "$?" 0 "allow with the long sender: exit 0" || tb_diag "$out"
tb_is "$(offline_from "$LONGS" alice@example.test)" "verdict: accept" \
    "sqlite: the control command keyed the stage's triplet: it passes"
tb_like "$(offline_from "$LONGS2" alice@example.test)" "$DEFER" \
    "sqlite: another long sender, alike in its first 650 bytes: deferred"
tb_like "$(offline_from '<>' alice@example.test)" "$DEFER" \
    "sqlite: the null sender: deferred (the long ones are not keyed as <>)"
tb_stop milter

# 2. Redis
peer_start_redis
run redis "redis.servers={\"127.0.0.1:$TB_PORT_REDIS\"}" \
    redis.key_prefix=t0606:
KEY=$'t0606:greylist:{198.51.100.0/24\tbob@sender.test\tcarol@example.test}'
rcli() { redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@"; }
tb_like "$(offline carol@example.test)" "$DEFER" "redis: the first attempt is deferred"
out=$(ctl greylist list 198.51.100.7 bob@sender.test 2>&1)
tb_is "$?" 0 "redis: list CLIENT SENDER: exit 0" || tb_diag "$out"
tb_like "$out" 'triplet: 198\.51\.100\.0/24 bob@sender\.test carol@example\.test first=[0-9]+ passed=0' \
    "redis: the triplet listed"
ctl greylist allow 198.51.100.7 bob@sender.test carol@example.test >/dev/null 2>&1
tb_is "$(rcli HGET "$KEY" p | grep -c '^[1-9]')" 1 "redis: allowed: passed set in Redis"
tb_is "$(offline carol@example.test)" "verdict: accept" \
    "redis: the next attempt passes at once"
out=$(ctl greylist delete 198.51.100.7 bob@sender.test carol@example.test 2>&1)
tb_is "$?" 0 "redis: delete the triplet: exit 0" || tb_diag "$out"
tb_is "$(rcli EXISTS "$KEY")" 0 "redis: the key is gone"
tb_like "$(offline carol@example.test)" "$DEFER" "redis: the triplet is new again"
tb_done
