#!/bin/bash
# 0495-bench-milter-full - bench/milter-full --check: its set-up works
# (elemta-milter's whole pipeline and the Debian stack behind one
# Postfix, one round of 20 small messages, every message checked by the
# script itself); no figure is judged, only that each is printed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink unbound redis rspamd clamd
tb_need opendkim opendkim
tb_need opendmarc opendmarc
tb_need clamav-milter clamav-milter clamdscan
tb_need postgrey postgrey
tb_need dkimsign dkimsign unshare
milter_require_pydkim
[[ -x ${top_builddir:-.}/bench/clamav-scan-bench ]] ||
    tb_skip_all "bench/clamav-scan-bench not built"
tb_init
tb_plan 4

bash "$top_srcdir/bench/milter-full" --check >"$TB/out" 2>&1
rc=$?
tb_is "$rc" 0 "milter-full --check: every message delivered and checked" ||
    tb_diag "$(tail -20 "$TB/out")"
n=0
for c in elemta_r elemta_rs stack_r elemta stack; do
	grep -q "^bench: milter-full db=test size=4k config=$c round=1 msgs=20 msgs_per_s=" "$TB/out" &&
	    n=$((n + 1))
done
tb_is "$n" 5 "a rate for each of the five configurations"
tb_like "$(grep '_range=' "$TB/out")" \
    'elemta_r_vs_stack_r=[0-9.]+ elemta_r_vs_stack_r_range=.* elemta_vs_stack=[0-9.]+' \
    "the ratios with their range"
tb_like "$(grep -c -E '^bench: (milter-full memory|clamav-scan) ' "$TB/out")" \
    '^(1[1-9]|[2-9][0-9])$' "the memory table and the ClamAV scan rate"
tb_done
