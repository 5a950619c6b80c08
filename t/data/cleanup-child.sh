#!/bin/bash
# cleanup-child.sh - a test that starts peers, then dies; run by 0100
#
# SYNOPSIS
#	cleanup-child.sh fail STATE PEER...	exit 1 once the peers are up
#	cleanup-child.sh idle STATE PEER...	wait for a signal
#	cleanup-child.sh base STATE		write the port block, exit 0
#
# Once the peers are ready, STATE receives "tb DIR", "lock DIR",
# "peer NAME PID" per peer and "pid PID" per process they run, so that
# 0100-harness-cleanup.t can check that all of it is gone afterwards.
. "$(dirname "$0")/../lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

mode=$1
state=$2
shift 2
tb_init "cleanup-$mode"
for peer in "$@"; do
	"peer_start_${peer//-/_}"
done
{
	echo "tb $TB"
	echo "lock $TB_LOCK"
	echo "base $TB_PORT_BASE"
	for name in "${TB_ORDER[@]}"; do
		echo "peer $name $(tb_pid "$name")"
	done
	tb_pids | sed 's/^/pid /'
} >"$state.tmp"
mv "$state.tmp" "$state"
case $mode in
fail)
	tb_fail "deliberate failure, midway"
	exit 1
	;;
idle)
	tb_idle
	;;
esac
