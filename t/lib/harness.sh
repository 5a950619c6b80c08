# harness.sh - TAP output and daemon lifecycle for Elemta's shell tests
#
# SYNOPSIS
#	. "$top_srcdir/t/lib/harness.sh"
#	tb_init NAME			# temp dir $TB, port block, traps
#	tb_mount_tmpfs DIR SIZE		# a small file system (root), unmounted at exit
#	tb_need PEER PROGRAM...		# skip (or fail) when a peer is missing
#	tb_plan N
#	tb_spawn NAME LOG CMD...	# start a daemon, in its own session
#	tb_ready NAME WHERE SECS CMD...	# poll CMD until it succeeds
#	tb_crash NAME			# SIGKILL all its processes at once
#	tb_ok DESC CMD... / tb_is GOT WANT DESC / tb_like GOT ERE DESC
#	tb_done
#
# DESCRIPTION
#	Generic part of the test bed: TAP output, a private temporary
#	directory, a block of loopback ports nobody else uses, and daemons
#	started in the foreground of their own session so that stopping one
#	(TERM, then KILL after a grace period) also reaches every process
#	it forked.  Everything is stopped by PID when the test exits, fails
#	or is interrupted (EXIT INT TERM HUP).  The peer recipes themselves
#	are in peers.sh.  Bash only; call every tb_ function from the main
#	shell, never from $(...) or a pipeline, or the daemons it starts
#	belong to a subshell that cannot wait for them.
#
# ENVIRONMENT (read)
#	top_srcdir, top_builddir	set by "make check"; guessed otherwise
#	ELEMTA_REQUIRE_PEERS=1	a missing peer or privilege fails, not skips
#	ELEMTA_KEEP_TMP=1	keep $TB when the test fails; "always": keep it
#	ELEMTA_TEST_PORT_BASE	use this port block (e.g. 2500) instead of
#				allocating one between 20000 and 32699
#	ELEMTA_PORT_<NAME>	fix one port (e.g. ELEMTA_PORT_SMTPD=2525)
#	ELEMTA_PEER_TIMEOUT	seconds a peer may take to be ready (20)
#	ELEMTA_PORT_LOCKS	lock directory (/tmp/elemta-ports)
#	ELEMTA_TEST_VERBOSE=1	report each start and stop with its duration
#	TB_REAPER=0		do not kill stray processes that still name
#				$TB at exit (0100 turns it off to prove that
#				the stop logic alone is enough)
#	TB_BAIL_PREFIX		instead of "Bail out!" (tools/quickstart)
#
# ENVIRONMENT (exported)
#	TB			the private temporary directory (mode 755)
#	TB_NAME			the name given to tb_init
#	TB_HOST			127.0.0.1
#	TB_DATA			$top_srcdir/t/data
#	TB_PORT_BASE		first port of the block (100 ports)
#	TB_PORT_<NAME>		see TB_PORT_MAP below
#	TB_DNSQ, TB_CLAMSCAN	the C helpers built by "make check"

# Lists of PIDs are passed unquoted on purpose, one word per PID.
# shellcheck disable=SC2086,SC2046

TB_HOST=127.0.0.1
export TB_HOST

# The port plan: NAME:OFFSET in the block.  The daemons' own ports are
# reserved here so that every test agrees on them.
TB_PORT_MAP="CLAMD:10 LMTP:24 SMTPD:25 SINK:26 RSPAMD_PROXY:32 RSPAMD:33
RSPAMD_CTL:34 POLICY:40 MILTER:41 BRIDGE:42 LMTP2:44 DNS:53 METRICS:60
METRICS2:61 METRICS3:62 REDIS:79 LDAP:89 LDAPS:91 PROMETHEUS:93"
TB_PORT_FIRST=20000		# automatic blocks: 20000..32699, below the
TB_PORT_BLOCKS=127		# ephemeral ports (32768-60999) clients get

TB=""
TB_NAME=""
TB_LOCK=""
TB_TESTNUM=0
TB_FAILED=0
TB_PLANNED=""
TB_SKIPPED_ALL=0
TB_SIGNAL=""
TB_IDLE_PID=""
TB_CLEANED=0
TB_ORDER=()
declare -A TB_PID=() TB_LOG=() TB_GRACE=() TB_START=()

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin:/sbin; export PATH ;;
esac

#
# Paths
#

# tb_paths - find the source and build trees when make did not say
tb_paths() {
	local here

	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	: "${top_srcdir:=$here}"
	if [[ -z ${top_builddir:-} ]]; then
		if [[ -x $PWD/t/tb-dnsq ]]; then
			top_builddir=$PWD
		else
			top_builddir=$top_srcdir
		fi
	fi
	export top_srcdir top_builddir
	TB_DATA=$top_srcdir/t/data
	TB_DNSQ=$top_builddir/t/tb-dnsq
	TB_CLAMSCAN=$top_builddir/t/tb-clamscan
	export TB_DATA TB_DNSQ TB_CLAMSCAN
}
tb_paths

#
# TAP
#

# tb_diag - print each line of each argument as a TAP comment, on stderr
tb_diag() {
	local arg line

	for arg in "$@"; do
		while IFS= read -r line; do
			printf '# %s\n' "$line"
		done <<<"$arg"
	done >&2
}

# tb_plan - print the plan; must come before the first test
tb_plan() {
	TB_PLANNED=$1
	echo "1..$1"
}

# tb_skip_all - skip the whole test with a reason, before any plan
tb_skip_all() {
	TB_SKIPPED_ALL=1
	echo "1..0 # SKIP $*"
	exit 0
}

# tb_bail - abort the whole test (the TAP driver reports an error)
tb_bail() {
	echo "${TB_BAIL_PREFIX:-Bail out!} $*"
	exit 1
}

# tb_pass - report a passing test
tb_pass() {
	TB_TESTNUM=$((TB_TESTNUM + 1))
	echo "ok $TB_TESTNUM - $1"
}

# tb_fail - report a failing test; further arguments are diagnostics
tb_fail() {
	local desc=$1

	shift
	TB_TESTNUM=$((TB_TESTNUM + 1))
	TB_FAILED=$((TB_FAILED + 1))
	echo "not ok $TB_TESTNUM - $desc"
	tb_diag "  Failed test '$desc'"
	[[ $# -eq 0 ]] || tb_diag "$@"
}

# tb_skip - report a test as skipped, with the reason
tb_skip() {
	TB_TESTNUM=$((TB_TESTNUM + 1))
	echo "ok $TB_TESTNUM # skip $*"
}

# tb_ok - run a command: ok if it exits 0, else show its output
tb_ok() {
	local desc=$1 out rc

	shift
	out=${TB:-${TMPDIR:-/tmp}}/.tb_ok.$$
	"$@" >"$out" 2>&1
	rc=$?
	if [[ $rc -eq 0 ]]; then
		tb_pass "$desc"
	else
		tb_fail "$desc" "  command: $* (exit $rc)" \
		    "$(tail -n 20 "$out" | sed 's/^/  | /')"
	fi
	rm -f "$out"
	return "$rc"
}

# tb_is - ok if GOT equals WANT, else report both
tb_is() {
	if [[ $1 == "$2" ]]; then
		tb_pass "$3"
	else
		tb_fail "$3" "       got: '$1'" "  expected: '$2'"
		return 1
	fi
}

# tb_like - ok if GOT matches the extended regular expression ERE
tb_like() {
	if [[ $1 =~ $2 ]]; then
		tb_pass "$3"
	else
		tb_fail "$3" "       got: '$(tb_clip "$1")'" \
		    "  expected: match for /$2/"
		return 1
	fi
}

# tb_unlike - ok if GOT does not match ERE
tb_unlike() {
	if [[ ! $1 =~ $2 ]]; then
		tb_pass "$3"
	else
		tb_fail "$3" "       got: '$(tb_clip "$1")'" \
		    "  expected: no match for /$2/"
		return 1
	fi
}

# tb_clip - the first lines of a long value, for diagnostics
tb_clip() {
	local n

	n=$(printf '%s\n' "$1" | wc -l)
	printf '%s\n' "$1" | head -n 15
	[[ $n -le 15 ]] || printf '... (%d more lines)\n' $((n - 15))
}

# tb_done - end of the test: the exit trap checks the plan and failures
tb_done() {
	exit 0
}

#
# Time and polling
#

# tb_now_ms - wall clock in milliseconds (bash 5 EPOCHREALTIME, no fork)
tb_now_ms() {
	local t=${EPOCHREALTIME//[.,]/}

	echo $((10#$t / 1000))
}

# tb_wait - poll CMD every 50 ms until it succeeds or SECS elapse
tb_wait() {
	local secs=$1 deadline

	shift
	deadline=$(($(tb_now_ms) + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		[[ $(tb_now_ms) -lt $deadline ]] || return 1
		sleep 0.05
	done
}

# tb_grep - true if FILE exists and has a line matching ERE
tb_grep() {
	[[ -f $2 ]] && grep -Eq -- "$1" "$2"
}

# tb_wait_log - wait up to SECS for a line matching ERE in FILE
tb_wait_log() {
	tb_wait "$1" tb_grep "$2" "$3"
}

# tb_tail - show the last lines of a file as diagnostics
tb_tail() {
	local file=$1 n=${2:-25}

	if [[ -s $file ]]; then
		tb_diag "--- last $n lines of $file:"
		tb_diag "$(tail -n "$n" "$file")"
	else
		tb_diag "--- $file: empty or missing"
	fi
}

# tb_banner - true if HOST:PORT greets with a line matching ERE
tb_banner() {
	local host=$1 port=$2 re=$3 fd line=""

	{ exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
	read -r -t 5 -u "$fd" line
	printf 'QUIT\r\n' 1>&"$fd" 2>/dev/null
	exec {fd}>&-
	[[ $line =~ $re ]]
}

# tb_connect - true if something accepts TCP connections on HOST:PORT
tb_connect() {
	local fd

	{ exec {fd}<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
	exec {fd}>&-
}

# tb_connect_unix - true if a unix-domain socket at PATH accepts a connection
tb_connect_unix() {
	perl -MIO::Socket::UNIX -e \
	    'IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1' "$1" 2>/dev/null
}

#
# Requirements
#

# tb_missing - skip the test, or fail it under ELEMTA_REQUIRE_PEERS=1
tb_missing() {
	if [[ ${ELEMTA_REQUIRE_PEERS:-0} == 1 ]]; then
		tb_bail "$* (ELEMTA_REQUIRE_PEERS=1)"
	fi
	tb_skip_all "$*"
}

# tb_missing_some N REASON... - skip the next N tests (the part of the
# test whose peer is missing), or fail under ELEMTA_REQUIRE_PEERS=1
tb_missing_some() {
	local n=$1

	shift
	if [[ ${ELEMTA_REQUIRE_PEERS:-0} == 1 ]]; then
		tb_bail "$* (ELEMTA_REQUIRE_PEERS=1)"
	fi
	while [[ $n -gt 0 ]]; do
		tb_skip "$*"
		n=$((n - 1))
	done
}

# tb_need - require each PROGRAM (a name on PATH or a path) for PEER
tb_need() {
	local peer=$1 prog

	shift
	for prog in "$@"; do
		command -v "$prog" >/dev/null 2>&1 ||
		    tb_missing "$peer not installed ($prog not found)"
	done
}

# tb_need_root - require root, for peers that cannot run without it
tb_need_root() {
	[[ $(id -u) -eq 0 ]] || tb_missing "$1 needs root"
}

#
# Processes
#

# tb_alive - true if PID exists and is not a zombie
tb_alive() {
	local line rest

	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${line##*) }
	[[ ${rest%% *} != Z ]]
}

# tb_proc_tree - print PID, its descendants and its session's members
tb_proc_tree() {
	ps -e -o pid=,ppid=,sid= | awk -v root="$1" '
		{ parent[$1] = $2; sid[$1] = $3 }
		END {
			for (p in parent) {
				keep = (sid[p] == root)
				for (q = p; !keep && q > 1; q = parent[q])
					keep = (q == root)
				if (keep)
					print p
			}
		}'
}

# tb_kill_list - send SIG to each PID of the list that is still alive
tb_kill_list() {
	local sig=$1 pid

	shift
	for pid in "$@"; do
		tb_alive "$pid" && kill -s "$sig" "$pid" 2>/dev/null
	done
	return 0
}

# tb_alive_list - print the PIDs of the list that are still alive
tb_alive_list() {
	local pid

	for pid in "$@"; do
		tb_alive "$pid" && echo "$pid"
	done
	return 0
}

# tb_stopped - true once every thread of PID is stopped (SIGSTOP): kill
# returns before they all are, and on a busy machine one could still
# answer meanwhile
tb_stopped() {
	local t

	for t in /proc/"$1"/task/*/stat; do
		[[ $(awk '{ print $3 }' "$t" 2>/dev/null) == [Tt] ]] || return 1
	done
}

# tb_spawn - start CMD in the background in its own session, output to LOG
tb_spawn() {
	local name=$1 log=$2 pid jobctl=0

	shift 2
	if [[ -n ${TB_PID[$name]:-} ]] && tb_alive "${TB_PID[$name]}"; then
		tb_bail "tb_spawn: $name is already running (pid ${TB_PID[$name]})"
	fi
	[[ $- == *m* ]] && jobctl=1 && set +m
	# setsid: a new session and process group, so that a Ctrl-C on the
	# terminal reaches the harness only and the stop reaches the children.
	# Every output goes to LOG (an inherited pipe would hang "make check").
	setsid "$@" </dev/null >"$log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	pid=$!
	[[ $jobctl -eq 0 ]] || set -m
	[[ -v "TB_PID[$name]" ]] || TB_ORDER+=("$name")
	# Listed in the port lock: if we die by SIGKILL, whoever reclaims
	# the block stops these.
	[[ -z $TB_LOCK ]] ||
	    echo "$pid $(tb_proc_start "$pid") $name" >>"$TB_LOCK/daemons"
	TB_PID[$name]=$pid
	TB_LOG[$name]=$log
	TB_GRACE[$name]=${TB_GRACE[$name]:-10}
	TB_START[$name]=$(tb_now_ms)
}

# tb_peer_log - add a log file shown when NAME fails to start
tb_peer_log() {
	TB_LOG[$1]="${TB_LOG[$1]} $2"
}

# tb_pid - print the PID of the daemon NAME
tb_pid() {
	echo "${TB_PID[$1]:-}"
}

# tb_pids - print every process of every running daemon, one per line
tb_pids() {
	local name

	for name in "${TB_ORDER[@]}"; do
		[[ -n ${TB_PID[$name]} ]] && tb_proc_tree "${TB_PID[$name]}"
	done
	return 0
}

# tb_peer_failed - show a peer's logs and abort the test
tb_peer_failed() {
	local name=$1 file

	shift
	for file in ${TB_LOG[$name]:-}; do
		tb_tail "$file"
	done
	tb_bail "$name $*"
}

# tb_ready - poll CMD until NAME is ready; abort with its logs otherwise
tb_ready() {
	local name=$1 where=$2 secs=$3 pid deadline rc

	shift 3
	pid=${TB_PID[$name]}
	deadline=$(($(tb_now_ms) + secs * 1000))
	until "$@" >/dev/null 2>&1; do
		if ! tb_alive "$pid"; then
			wait "$pid" 2>/dev/null
			rc=$?
			TB_PID[$name]=""
			tb_peer_failed "$name" "exited with status $rc" \
			    "before it was ready $where"
		fi
		if [[ $(tb_now_ms) -ge $deadline ]]; then
			tb_peer_failed "$name" "not ready $where after ${secs}s" \
			    "(probe: $*)"
		fi
		sleep 0.05
	done
	if [[ ${ELEMTA_TEST_VERBOSE:-0} == 1 ]]; then
		rc=$(($(tb_now_ms) - TB_START[$name]))
		tb_diag "$name ready $where (pid $pid) in $rc ms"
	fi
}

# tb_stop - stop the named daemons (all when none is named), in parallel
tb_stop() {
	local names=("$@") name pid now t0 left msg
	local -A members=() deadline=()

	[[ ${#names[@]} -gt 0 ]] || names=("${TB_ORDER[@]}")
	t0=$(tb_now_ms)
	# Note who belongs to each daemon, then ask it (only it) to stop:
	# Postfix's master, Dovecot and rspamd stop their own children.
	for name in "${names[@]}"; do
		pid=${TB_PID[$name]:-}
		[[ -n $pid ]] || continue
		members[$name]=$(tb_proc_tree "$pid" | tr '\n' ' ')
		deadline[$name]=$((t0 + TB_GRACE[$name] * 1000))
		kill -TERM "$pid" 2>/dev/null
	done
	left=${#members[@]}
	while [[ $left -gt 0 ]]; do
		left=0
		now=$(tb_now_ms)
		for name in "${!members[@]}"; do
			pid=${TB_PID[$name]}
			[[ -n $pid ]] || continue
			if tb_alive "$pid" && [[ $now -lt ${deadline[$name]} ]]; then
				left=$((left + 1))
				continue
			fi
			if tb_alive "$pid"; then
				msg="ignored SIGTERM for ${TB_GRACE[$name]}s"
				tb_diag "warning: $name (pid $pid) $msg: SIGKILL"
				tb_kill_list KILL $pid ${members[$name]} \
				    $(tb_proc_tree "$pid")
			fi
			wait "$pid" 2>/dev/null
			TB_PID[$name]=""
			tb_stop_stragglers "$name" "$pid" ${members[$name]}
			[[ ${ELEMTA_TEST_VERBOSE:-0} != 1 ]] ||
			    tb_diag "stopped $name (pid $pid) in $(($(tb_now_ms) - t0)) ms"
		done
		[[ $left -eq 0 ]] || sleep 0.05
	done
}

# tb_crash - SIGKILL the daemon NAME and all its processes at once, as a
# crash would, then forget it as tb_stop does
tb_crash() {
	local name=$1 pid members

	pid=${TB_PID[$name]:-}
	[[ -n $pid ]] || return 0
	members=$(tb_proc_tree "$pid")
	# Killed one by one, a child that dies first (a hook's "sleep")
	# wakes its parent, which goes on working (stores a message) until
	# its own turn comes.  A stopped process wakes nobody: stop them
	# all, then kill.  tb_spawn made PID the leader of a process group:
	# one kill(2) reaches every member, those forked since included.
	tb_kill_list STOP $members
	{	# no "Killed" notice from bash: the signal is expected
		kill -s KILL -- "-$pid"
		tb_kill_list KILL $members $(tb_proc_tree "$pid")
		wait "$pid"
	} 2>/dev/null
	tb_stop "$name"
}

# tb_stop_stragglers - end what a stopped daemon left behind (TERM, KILL)
tb_stop_stragglers() {
	local name=$1 pid=$2 rest

	shift 2
	# Orphans keep the daemon's session id even after PID 1 adopts them.
	rest=$(tb_alive_list "$@" $(pgrep -s "$pid" 2>/dev/null) | sort -u)
	[[ -n $rest ]] || return 0
	# Children told to stop by their master may take a moment.
	tb_wait 1 tb_none_alive $rest && return 0
	rest=$(tb_alive_list $rest)
	tb_diag "warning: $name (pid $pid) left processes behind:" \
	    "$(tb_ps $rest)"
	tb_kill_list TERM $rest
	tb_wait 2 tb_none_alive $rest || tb_kill_list KILL $rest
}

# tb_ps - describe processes: PID and command line, one per line
tb_ps() {
	[[ $# -eq 0 ]] || ps -o pid=,args= -p "$(IFS=,; echo "$*")"
}

# tb_none_alive - true when none of the PIDs is alive
tb_none_alive() {
	[[ -z $(tb_alive_list "$@") ]]
}

# tb_idle - wait until a signal arrives (the trap then cleans up)
tb_idle() {
	sleep infinity >/dev/null 2>&1 &
	TB_IDLE_PID=$!
	wait "$TB_IDLE_PID"
}

#
# Ports
#

# tb_lock_owner - print the PID holding port block BASE, if it is alive
tb_lock_owner() {
	local dir=$1 pid start now_start

	read -r pid start 2>/dev/null <"$dir/owner" || return 1
	now_start=$(tb_proc_start "$pid") || return 1
	[[ $now_start == "$start" ]] && echo "$pid"
}

# tb_proc_start - print a process's start time (tells reused PIDs apart)
tb_proc_start() {
	local line rest

	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${line##*) }
	set -- $rest		# fields 3.. of proc(5); starttime is 22nd
	echo "${20}"
}

# tb_lock_stale - true if lock DIR has no live owner (and is not being made)
tb_lock_stale() {
	local dir=$1 age

	[[ -d $dir ]] || return 1
	tb_lock_owner "$dir" >/dev/null && return 1
	# No owner file yet: being created right now, unless it is old.
	if [[ ! -f $dir/owner ]]; then
		age=$(($(date +%s) - $(stat -c %Y "$dir" 2>/dev/null || echo 0)))
		[[ $age -gt 10 ]] || return 1
	fi
}

# tb_reclaim - take the stale lock DIR away and stop what its dead test
# (killed with SIGKILL, say) left running; the lock lists its daemons
tb_reclaim() {
	local dir=$1 tmp=$1.stale.$$ pid start pids=""

	# Rename first: of two reclaimers only one can win.
	mv "$dir" "$tmp" 2>/dev/null || return 1
	if [[ -f $tmp/daemons ]]; then
		while read -r pid start _; do
			[[ $(tb_proc_start "$pid") == "$start" ]] || continue
			pids+=" $pid $(pgrep -s "$pid" | tr '\n' ' ')"
		done <"$tmp/daemons"
	fi
	if [[ -n ${pids// /} ]]; then
		tb_diag "port block ${dir##*/}: its test died; stopping its daemons:" \
		    "$(tb_ps $pids)"
		tb_kill_list TERM $pids
		tb_wait 5 tb_none_alive $pids || tb_kill_list KILL $pids
	fi
	rm -rf "$tmp"
}

# tb_sweep_locks - reclaim every port block whose test has died
tb_sweep_locks() {
	local dir

	for dir in "$TB_LOCKDIR"/[0-9]*; do
		[[ $dir != *.stale.* ]] || continue
		! tb_lock_stale "$dir" || tb_reclaim "$dir"
	done
}

# tb_lock_block - take the lock of port block BASE (mkdir is atomic)
tb_lock_block() {
	local dir=$TB_LOCKDIR/$1

	if ! mkdir "$dir" 2>/dev/null; then
		tb_lock_stale "$dir" || return 1
		tb_reclaim "$dir" || return 1
		mkdir "$dir" 2>/dev/null || return 1
	fi
	echo "$$ $(tb_proc_start $$)" >"$dir/owner"
	TB_LOCK=$dir
}

# tb_unlock_block - release our port block lock
tb_unlock_block() {
	[[ -n $TB_LOCK ]] || return 0
	[[ $(tb_lock_owner "$TB_LOCK") == "$$" ]] && rm -rf "$TB_LOCK"
	TB_LOCK=""
}

# tb_listening - print the local ports with a listening or bound socket
tb_listening() {
	ss -Htuln | awk '{ n = split($5, a, ":"); print a[n] }' | sort -un
}

# tb_block_free - true if no port of the block BASE..BASE+99 is in use
tb_block_free() {
	local base=$1

	! tb_listening | awk -v lo="$base" -v hi=$((base + 99)) \
	    '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }'
}

# tb_ports_assign - set TB_PORT_<NAME> for every port of the plan
tb_ports_assign() {
	local base=$1 entry name var fixed

	TB_PORT_BASE=$base
	export TB_PORT_BASE
	for entry in $TB_PORT_MAP; do
		name=${entry%%:*}
		fixed=ELEMTA_PORT_$name
		var=TB_PORT_$name
		printf -v "$var" '%s' "${!fixed:-$((base + ${entry#*:}))}"
		export "${var?}"
	done
}

# tb_ports_check - abort naming the first planned port already in use
tb_ports_check() {
	local entry var used

	used=" $(tb_listening | tr '\n' ' ') "
	for entry in $TB_PORT_MAP; do
		var=TB_PORT_${entry%%:*}
		if [[ $used == *" ${!var} "* ]]; then
			tb_diag "$(ss -Htulnp "sport = :${!var}")"
			tb_bail "port ${!var} ($var) is already in use"
		fi
	done
}

# tb_ports_alloc - take a free block of 100 ports (or the fixed one)
tb_ports_alloc() {
	local i start base owner

	TB_LOCKDIR=${ELEMTA_PORT_LOCKS:-/tmp/elemta-ports}
	# shellcheck disable=SC2174 # one level: the mode is for that one
	mkdir -p -m 1777 "$TB_LOCKDIR" 2>/dev/null
	tb_sweep_locks
	if [[ -n ${ELEMTA_TEST_PORT_BASE:-} ]]; then
		base=$ELEMTA_TEST_PORT_BASE
		if ! tb_lock_block "$base"; then
			owner=$(tb_lock_owner "$TB_LOCKDIR/$base")
			tb_bail "port block $base is in use by pid ${owner:-?}" \
			    "($TB_LOCKDIR/$base)"
		fi
		tb_ports_assign "$base"
		tb_ports_check
		return 0
	fi
	# Start at a different block for each process: fewer collisions.
	start=$(($$ % TB_PORT_BLOCKS))
	for ((i = 0; i < TB_PORT_BLOCKS; i++)); do
		base=$((TB_PORT_FIRST + (start + i) % TB_PORT_BLOCKS * 100))
		tb_lock_block "$base" || continue
		if tb_block_free "$base"; then
			tb_ports_assign "$base"
			tb_ports_check
			return 0
		fi
		tb_unlock_block
	done
	tb_bail "no free block of 100 ports between $TB_PORT_FIRST and" \
	    "$((TB_PORT_FIRST + TB_PORT_BLOCKS * 100 - 1)) (locks in $TB_LOCKDIR)"
}

# tb_port - print port BASE+OFFSET of our block, for ad hoc listeners
tb_port() {
	echo $((TB_PORT_BASE + $1))
}

#
# Set up and tear down
#

# tb_init - create $TB, take a port block and install the exit traps
tb_init() {
	TB_NAME=${1:-$(basename "$0" .t)}
	set +m
	trap tb_on_exit EXIT
	trap 'tb_on_signal INT' INT
	trap 'tb_on_signal TERM' TERM
	trap 'tb_on_signal HUP' HUP
	TB=$(mktemp -d "${TMPDIR:-/tmp}/elemta.$TB_NAME.XXXXXX") ||
	    tb_bail "cannot create a temporary directory"
	# mktemp makes 0700: postfix, _rspamd and the mail uid must get in.
	chmod 755 "$TB"
	export TB TB_NAME
	tb_ports_alloc
}

# tb_on_signal - note the signal and exit; the EXIT trap cleans up
tb_on_signal() {
	TB_SIGNAL=$1
	tb_diag "caught SIG$1: stopping the peers"
	case $1 in
	HUP) exit 129 ;;
	INT) exit 130 ;;
	*) exit 143 ;;
	esac
}

# tb_reap_strays - kill anything still naming $TB (a daemon's grandchild
# that escaped its session, a helper left by the test itself)
tb_reap_strays() {
	local strays

	[[ ${TB_REAPER:-1} != 0 ]] || return 0
	strays=$(pgrep -f -- "$TB/" | grep -vx "$$")
	[[ -n $strays ]] || return 0
	tb_diag "warning: stray processes still use $TB:" \
	    "$(tb_ps $strays)"
	tb_kill_list TERM $strays
	tb_wait 2 tb_none_alive $strays || tb_kill_list KILL $strays
}

# tb_mount_tmpfs DIR SIZE - a tmpfs of SIZE (e.g. 64k) on DIR inside $TB:
# a file system that fills up, or can be remounted read-only (root);
# the clean-up unmounts it
tb_mount_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" ||
	    tb_bail "tb_mount_tmpfs: cannot mount a tmpfs on $1"
}

# tb_umount_all - unmount whatever is mounted below $TB, deepest first
tb_umount_all() {
	local m

	[[ -n $TB ]] || return 0
	while read -r m; do
		umount -l "$m" 2>/dev/null
	done < <(awk -v p="$TB/" 'index($2, p) == 1 { print $2 }' \
	    /proc/self/mounts | sort -r)
}

# tb_cleanup - stop every daemon, release the ports, remove $TB
tb_cleanup() {
	local failed=$1

	[[ $TB_CLEANED -eq 0 ]] || return 0
	TB_CLEANED=1
	tb_stop
	if [[ -n $TB_IDLE_PID ]]; then
		kill "$TB_IDLE_PID" 2>/dev/null
		wait "$TB_IDLE_PID" 2>/dev/null
	fi
	[[ -z $TB ]] || tb_reap_strays
	tb_unlock_block
	[[ -n $TB && -d $TB ]] || return 0
	tb_umount_all
	if [[ ${ELEMTA_KEEP_TMP:-} == always ||
	    ($failed -ne 0 && ${ELEMTA_KEEP_TMP:-0} == 1) ]]; then
		tb_diag "kept the test directory: $TB"
	else
		rm -rf "$TB"
	fi
}

# tb_on_exit - EXIT trap: clean up, then settle the exit status
tb_on_exit() {
	local status=$? failed=0

	trap '' INT TERM HUP
	if [[ $status -eq 0 && $TB_SKIPPED_ALL -eq 0 && -n $TB_PLANNED &&
	    $TB_TESTNUM -ne $TB_PLANNED ]]; then
		tb_diag "planned $TB_PLANNED tests but ran $TB_TESTNUM"
		status=1
	fi
	[[ $status -ne 0 || $TB_FAILED -eq 0 ]] || status=1
	[[ $status -eq 0 ]] || failed=1
	tb_cleanup "$failed"
	if [[ -n $TB_SIGNAL ]]; then
		# Die of the signal, so that make and the shell see it.
		trap - EXIT "$TB_SIGNAL"
		kill -s "$TB_SIGNAL" "$$"
	fi
	exit "$status"
}
