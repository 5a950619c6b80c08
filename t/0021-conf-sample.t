#!/bin/bash
# 0021-conf-sample - conf/elemta.conf and elemta.conf(5) cover the schema:
# the sample is valid as shipped and with every option uncommented (each
# is shown at its real default), and every option the code knows is
# documented in both.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

TESTD=${ELEMTA_TESTD:-$top_builddir/t/elemta-testd}
[ -x "$TESTD" ] || tb_missing "elemta-testd not built ($TESTD)"
SAMPLE=$top_srcdir/conf/elemta.conf
MAN=$top_srcdir/man/elemta.conf.5.in
tb_init

out=$("$TESTD" -n -c "$SAMPLE" 2>&1)
tb_is "$?" 0 "sample configuration is valid as shipped"

# Uncomment every option line: the sample must show real defaults.
sed -E 's/^([[:space:]]*)#([a-z_]+ = )/\1\2/' "$SAMPLE" > "$TB/uncommented.conf"
out=$("$TESTD" -n -c "$TB/uncommented.conf" 2>&1); rc=$?
tb_is "$rc" 0 "sample with every option uncommented is valid"
[ "$rc" -eq 0 ] || tb_diag "$out"
defaults=$("$TESTD" -p -c /dev/null 2>&1)
uncommented=$("$TESTD" -p -c "$TB/uncommented.conf" 2>&1)
# the packaged default directory depends on --localstatedir: compare the rest
tb_is "$(printf '%s\n' "$uncommented" | grep -v 'directory=')" \
      "$(printf '%s\n' "$defaults" | grep -v 'directory=')" \
      "uncommented sample equals the embedded defaults"

# Every section.key the code knows, from -p.
pairs=$(printf '%s\n' "$defaults" | awk '
	/^[a-z_]+ \{/ { sec = $1; next }
	/^\}/ { sec = ""; next }
	sec != "" && /=/ { gsub(/^[ \t]+/, ""); split($0, a, /[ =]/); print sec "." a[1] }')
n=$(printf '%s\n' "$pairs" | grep -c .)
tb_ok "schema lists $n options" test "$n" -ge 10
for p in $pairs; do
	sec=${p%%.*} key=${p#*.}
	# in the sample, inside its own section
	in_sample=$(awk -v s="$sec" -v k="$key" '
		$1 == s && $2 == "{" { in_s = 1; next }
		in_s && /^\}/ { in_s = 0 }
		in_s && $0 ~ "^[ \t]*#?" k " = " { found = 1 }
		END { print found ? 1 : "" }' "$SAMPLE")
	tb_ok "conf/elemta.conf shows $p" test -n "$in_sample"
	tb_ok "elemta.conf(5) documents $p" grep -qE "^\.BR? $key( |\$)" "$MAN"
done
tb_plan "$TB_TESTNUM"
tb_done
