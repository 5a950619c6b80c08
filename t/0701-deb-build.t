#!/bin/bash
# 0701-deb-build - the Debian packages build from the release tarball's
# contents ("make distdir" into the build tree: the source tree stays
# clean) with dpkg-buildpackage -us -uc -b, and lintian finds no error
# and no warning on the .changes (overrides carry their reason in
# debian/*.lintian-overrides).  The packages are left in
# $top_builddir/t/deb/ for t/0702 and t/0710 (contrib/local.mk orders
# them after this test).  Run by "make check-packaging".
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

tb_need debhelper dpkg-buildpackage dh
tb_need lintian lintian
tb_init
tb_plan 8

D=$top_builddir/t/deb
rm -rf "$D" && mkdir -p "$D" || tb_bail "cannot make $D"
src_before=$(cd "$top_srcdir" && git status --porcelain --ignored debian 2>/dev/null)

t0=$(tb_now_ms)
# what "make dist" puts in the tarball, without the tarball
tb_ok "make distdir" sh -c "make -s --no-print-directory -C '$top_builddir' \
	distdir distdir='$D/src' >'$TB/dist.out' 2>&1 || { cat '$TB/dist.out'; exit 1; }"
tb_ok "debian/ is in the distribution" test -x "$D/src/debian/rules"
out=$( (cd "$D/src" && dpkg-buildpackage -us -uc -b -j2) >"$D/build.log" 2>&1; echo $?)
tb_is "$out" 0 "dpkg-buildpackage -us -uc -b"
[ "$out" = 0 ] || tb_tail "$D/build.log" 40
tb_diag "build: $(( ($(tb_now_ms) - t0) / 1000 )) s"
debs=$(cd "$D" && ls elemta-common_*_all.deb elemta-milter_*.deb \
	elemta-policyd_*.deb elemta-lmtp-bridge_*.deb elemta-ctl_*.deb \
	2>/dev/null | grep -vc dbgsym)
tb_is "$debs" 5 "five packages: elemta-common, -milter, -policyd, -lmtp-bridge, -ctl"

changes=$(ls "$D"/elemta_*.changes 2>/dev/null | head -n 1)
lint=$(lintian "$changes" 2>&1 | grep -v '^running with root')
tb_diag "lintian: ${lint:-(nothing to say)}"
tb_unlike "$lint" '(^|'$'\n'')[EW]: ' "lintian: no error, no warning"
# an override must say why: a comment line right above each one
bare=$(awk 'FNR == 1 { prev = "" } /^[^#[:space:]]/ && prev !~ /^#/ {
	print FILENAME ": " $0 } { prev = $0 }' \
	"$top_srcdir"/debian/*.lintian-overrides)
tb_is "$bare" "" "every lintian override has its reason above it"
tb_is "$(cd "$top_srcdir" && git status --porcelain --ignored debian 2>/dev/null)" \
	"$src_before" "the source tree's debian/ is untouched by the build"
# every library configure.ac checks for names its Debian -dev package
# (ELEMTA_PKG's third, ELEMTA_LIB's fifth argument): each must be a
# Build-Depends, or a clean build (t/0730's container) fails where this
# host, which has them all, does not
want=$(sed -n -e 's/^ELEMTA_PKG(\[[^]]*\], *\[[^]]*\], *\[\([^]]*\)\].*/\1/p' \
	-e 's/^ELEMTA_LIB(\[[^]]*\], *\[[^]]*\], *\[[^]]*\], *\[[^]]*\], *\[\([^]]*\)\].*/\1/p' \
	"$top_srcdir/configure.ac" | sort -u)
have=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$top_srcdir/debian/control" |
	sed 's/^Build-Depends://; s/([^)]*)//g' | tr ',' '\n' |
	sed 's/^ *//; s/ *$//' | grep -v '^[A-Z]' | grep . | sort -u)
tb_is "$(comm -23 <(echo "$want") <(echo "$have") | tr '\n' ' ')" "" \
	"every library configure.ac checks for is a Build-Depends ($(echo "$want" | wc -l) of them)"
tb_done
