#!/bin/bash
# 0030-libfuzzer - every fuzz target of a parser of untrusted input, built
# with clang -fsanitize=fuzzer,address,undefined (t/local.mk), runs for
# FUZZ_SECONDS (default 5) from its seeds without a crash, a sanitizer
# report or a leak.  The same targets run under gcc in their own tests
# with deterministic mutations; this is the coverage-guided run.  A crash
# leaves its input in the test's directory (ELEMTA_KEEP_TMP=1 keeps it)
# and prints it here, to be added to the target's seeds once fixed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

[[ -n ${FUZZ_CC:-} ]] ||
	tb_missing "libFuzzer not configured (configure found no clang that links -fsanitize=fuzzer; Debian: clang libclang-rt-14-dev)"
SECS=${FUZZ_SECONDS:-5}
B=$top_builddir/t
tb_init libfuzzer

# target NAME SEEDS - SEEDS: a directory, or the gcc driver test whose
# seeds FUZZ_WRITE_SEEDS writes out
TARGETS="policyd-proto:$top_srcdir/t/data/policyd-proto
lmtp-proto:$B/0502-lmtp-proto-fuzz.t
ldap-filter:$B/0532-ldap-filter-fuzz.t
milter-authres:$B/0409-milter-fuzz-authres.t
milter-dmarc-from:$B/0433-milter-fuzz-dmarc-from.t
milter-dkim-canon:$B/0448-milter-fuzz-dkim-canon.t
milter-dkim-sign:$B/0449-milter-fuzz-dkim-sign.t
policyd-limit:$B/0307-policyd-limit-fuzz.t
policyd-policy:$B/0308-policyd-policy-fuzz.t
redis-redirect:$B/0328-redis-redirect-fuzz.t"
tb_plan $(( $(wc -l <<<"$TARGETS") * 2 ))

while IFS=: read -r name seeds; do
	bin=$B/libfuzzer/$name corpus=$TB/corpus-$name
	mkdir -p "$corpus"
	if [[ -d $seeds ]]; then
		cp "$seeds"/* "$corpus"/
	else
		FUZZ_WRITE_SEEDS=$corpus "$seeds" >/dev/null 2>&1
	fi
	n=$(find "$corpus" -type f | wc -l)
	tb_ok "$name: built with libFuzzer, $n seeds" \
	    test -x "$bin" -a "$n" -gt 0
	"$bin" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$TB/crash-$name-" \
	    "$corpus" >"$TB/$name.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$TB/$name.log")
	cov=$(grep -o 'cov: [0-9]*' "$TB/$name.log" | tail -1)
	if ! tb_ok "$name: ${runs:-0} runs in ${SECS}s, no crash (${cov:-no coverage})" \
	    test "$rc" -eq 0 -a "${runs:-0}" -gt 0; then
		tb_diag "$(tail -n 40 "$TB/$name.log")"
		for f in "$TB"/crash-"$name"-*; do
			[[ -f $f ]] && tb_diag "input $f: $(od -An -c "$f" | head -20)"
		done
	fi
done <<<"$TARGETS"
tb_done
