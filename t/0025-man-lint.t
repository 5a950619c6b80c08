#!/bin/bash
# 0025-man-lint - the manual pages render without a warning: groff -ww
# finds no bad escape or request, and the sources hold no control
# characters (a "\f" typed through a script's own escapes becomes a
# form feed) and no blank lines (in man(7) source a blank line breaks the
# paragraph structure: a tagged option after one is no longer tagged).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

tb_need groff groff
tb_init
tb_plan $(( $(ls "$top_srcdir"/man/*.in | wc -l) * 3 ))

for src in "$top_srcdir"/man/*.in; do
	name=$(basename "$src" .in)
	page=$top_builddir/man/$name
	if [[ ! -f $page ]]; then
		tb_ok "$name: built" false
		continue
	fi
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
	tb_is "$out" "" "$name: groff -man -ww: no warning"
	bad=$(grep -nP '[\x00-\x08\x0b-\x1f\x7f]' "$src")
	tb_is "$bad" "" "$name: no control characters in the source"
	bad=$(grep -n '^[[:space:]]*$' "$src")
	tb_is "$bad" "" "$name: no blank lines in the source"
done
tb_done
