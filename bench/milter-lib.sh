# milter-lib.sh - what bench/milter and bench/milter-full share: the
# messages smtp-sink wrote, and Postfix's word on refused ones
#
# Sourced after t/lib/harness.sh and t/lib/peers.sh (TB_SINK_DIR from
# peer_start_smtp_sink, TB_MAILLOG from peer_start_postfix).
# shellcheck shell=bash disable=SC2154

# sink_count - messages in smtp-sink's directory
sink_count() {
	find "$TB_SINK_DIR" -maxdepth 1 -name 'msg.*' | wc -l
}

# sink_wait COUNT SECS - until smtp-sink holds COUNT messages
sink_wait() {
	tb_wait "$2" eval "[[ \$(sink_count) -ge $1 ]]"
}

# sink_clear - remove smtp-sink's files
sink_clear() {
	find "$TB_SINK_DIR" -maxdepth 1 -name 'msg.*' -delete
}

# failures SINCE - Postfix log lines after line SINCE that mean a
# message was refused, tempfailed, deferred, or a milter misbehaved
failures() {
	tail -n +"$(($1 + 1))" "$TB_MAILLOG" |
	    grep -E 'milter-reject|milter-discard|milter-hold|reject: |status=(deferred|bounced)|warning: milter'
}
