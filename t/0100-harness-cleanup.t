#!/bin/bash
# 0100-harness-cleanup - the harness leaves nothing behind
#
# A child test (t/data/cleanup-child.sh) starts every kind of peer and
# then fails, is killed with SIGTERM, or gets a Ctrl-C (SIGINT to its
# process group).  Each time every process it started must be gone, no
# process may still use its temporary directory, and its port block and
# directory must be released.  The child runs with TB_REAPER=0: only the
# harness's stop logic may clean up, not its last-resort reaper.
# A test killed with SIGKILL cannot clean up: the next test to start
# must reclaim its port block and stop the daemons listed in its lock.
# Then: a missing peer skips (or fails under ELEMTA_REQUIRE_PEERS=1), and
# port block locks are exclusive but reclaimed from dead owners.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

PEERS="redis unbound slapd dovecot smtp-sink postfix rspamd"
# shellcheck disable=SC2086
peer_require $PEERS
tb_init
tb_plan 26
CHILD=$TB_DATA/cleanup-child.sh

# child - run the child test in its own process group, output to OUT;
# sets $cpid
child() {
	local out=$1

	shift
	set -m
	TB_REAPER=0 ELEMTA_KEEP_TMP=0 bash "$CHILD" "$@" >"$out" 2>&1 \
	    </dev/null &
	cpid=$!
	set +m
}

# base_child - run the child that only takes a port block, then exits 0
base_child() {
	ELEMTA_KEEP_TMP=0 bash "$CHILD" base "$@"
}

# need_fake - run a test that needs a peer which is not installed
need_fake() {
	bash -c '. "$1"; tb_need fakepeer /nonexistent/elemta-fake; echo ran' \
	    - "$top_srcdir/t/lib/harness.sh" 2>&1
}

# child_settled - true once the child wrote STATE or died
child_settled() {
	[[ -s $1 ]] || ! tb_alive "$cpid"
}

# state - print field 2.. of the STATE file lines starting with KEY
state() {
	sed -n "s/^$2 //p" "$1"
}

# leftovers - print what is still alive of the processes listed in STATE
# and of the peers' sessions (which hold what they forked later, too)
leftovers() {
	local pid pids

	pids=$(state "$1" pid)
	for pid in $(state "$1" peer | cut -d' ' -f2); do
		pids+=" $pid $(pgrep -s "$pid")"
	done
	# shellcheck disable=SC2086
	tb_alive_list $pids | sort -un | tr '\n' ' '
}

# reap - kill whatever a failed run left behind, so that we leave nothing
reap() {
	local st=$1 dir=$2 pids

	pids="$(leftovers "$st") $(pgrep -f -- "$dir/")"
	# shellcheck disable=SC2086
	[[ -z ${pids// /} ]] || kill -KILL $pids 2>/dev/null
	rm -rf "$dir" "$(state "$st" lock)"
}

# one_run - start the child, make it die by MODE, check what is left
one_run() {
	local mode=$1 want=$2 st=$TB/$1.state out=$TB/$1.out
	local ctb rc survivors npeer npid

	# shellcheck disable=SC2086
	case $mode in
	fail) child "$out" fail "$st" $PEERS ;;
	*) child "$out" idle "$st" $PEERS ;;
	esac
	tb_wait 300 child_settled "$st"
	case $mode in
	TERM) kill -TERM "$cpid" ;;
	INT) kill -INT -- "-$cpid" ;;
	esac
	wait "$cpid"
	rc=$?
	ctb=$(state "$st" tb)
	npeer=$(state "$st" peer | wc -l)
	npid=$(state "$st" pid | wc -l)
	tb_like "$npeer $npid" "^7 ([2-9][0-9]|1[5-9])\$" \
	    "$mode: the child ran 7 peers and their children (15+ processes)"
	tb_is "$rc" "$want" "$mode: the child exited with status $want"
	survivors=$(leftovers "$st")
	# shellcheck disable=SC2086
	tb_is "$survivors" "" "$mode: none of its processes is alive" ||
	    tb_diag "$(tb_ps $survivors)"
	tb_is "$(pgrep -f -- "${ctb:-/nonexistent}/" | tr '\n' ' ')" "" \
	    "$mode: no process uses its directory"
	tb_ok "$mode: its port block lock is released" \
	    test ! -e "$(state "$st" lock)"
	tb_ok "$mode: its directory is removed" test ! -e "$ctb"
	[[ -s $st ]] || tb_tail "$out"
	[[ -z $ctb ]] || reap "$st" "$ctb"
}

one_run fail 1
one_run TERM 143
one_run INT 130

# SIGKILL cannot be caught: the next test to start must reclaim the
# port block and stop the daemons listed in its lock.
st=$TB/KILL.state
child "$TB/KILL.out" idle "$st" redis dovecot
tb_wait 60 child_settled "$st"
kill -KILL "$cpid"
{ wait "$cpid"; } 2>/dev/null		# no "Killed" job report
tb_like "$(leftovers "$st")" '^[0-9]+ [0-9]+ [0-9]+' \
    "KILL: the daemons of a test killed with SIGKILL outlive it"
base_child "$TB/after-kill.state" >"$TB/after-kill.out" 2>&1
# Under a parallel make check another test starting at the same moment
# may win the reclaim (only one can: the lock is renamed first) and be
# still in its TERM, wait, KILL sequence: give it that long.
tb_wait 15 eval '[[ -z $(leftovers "$st") ]]'
tb_is "$(leftovers "$st")" "" "KILL: the next test to start stops them" ||
    tb_tail "$TB/after-kill.out"
tb_ok "KILL: and takes the dead test's port block lock" \
    test ! -e "$(state "$st" lock)"
reap "$st" "$(state "$st" tb)"

missing="fakepeer not installed (/nonexistent/elemta-fake not found)"
out=$(ELEMTA_REQUIRE_PEERS=0 need_fake)
tb_is "$?:$out" "0:1..0 # SKIP $missing" "a missing peer skips the test"
out=$(ELEMTA_REQUIRE_PEERS=1 need_fake)
tb_is "$?:$out" "1:Bail out! $missing (ELEMTA_REQUIRE_PEERS=1)" \
    "with ELEMTA_REQUIRE_PEERS=1 a missing peer fails the test"

out=$(ELEMTA_TEST_PORT_BASE=$TB_PORT_BASE base_child "$TB/held.state" 2>&1)
tb_like "$?:$out" "^1:Bail out! port block $TB_PORT_BASE is in use by pid $$ " \
    "a port block held by a live test is refused"

# A stale lock: its owner's PID is dead.
true &
dead=$!
wait "$dead"
for ((base = 32600; base >= 20000; base -= 100)); do
	[[ ! -e $TB_LOCKDIR/$base ]] && tb_block_free "$base" && break
done
mkdir "$TB_LOCKDIR/$base" && echo "$dead 1" >"$TB_LOCKDIR/$base/owner"
ELEMTA_TEST_PORT_BASE=$base base_child "$TB/stale.state" >"$TB/stale.out" 2>&1
tb_is "$?:$(state "$TB/stale.state" base)" "0:$base" \
    "a lock left by a dead test is reclaimed"
tb_ok "and released again at exit" test ! -e "$TB_LOCKDIR/$base"
tb_done
