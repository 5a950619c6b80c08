#!/bin/bash
# 0700-install-layout - "make install" gives the layout configure was
# asked for: daemons in sbindir, the sample as sysconfdir/elemta/
# elemta.conf (an administrator's edited copy is kept by a second
# install), the man pages, the state directory localstatedir/lib/elemta
# that the embedded default of database.directory names; "make
# uninstall" takes back all of it but the edited configuration.
# Everything goes to a DESTDIR: nothing is written outside it.
# Run by "make check-packaging" (contrib/local.mk).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

tb_init
tb_plan 14

# mk ARGS - make in the build tree on its own, not as a sub-make of the
# make running this test (its MAKEFLAGS, with -w and a jobserver under
# -j, would add "Entering directory" lines to what is read here)
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -s --no-print-directory -C "$top_builddir" "$@"
}

# dir VAR - a directory variable of the build's Makefile, expanded
dir() {
	printf 'pv:\n\t@echo $(%s)\n' "$1" | mk -f Makefile -f - pv
}
sbindir=$(dir sbindir) sysconfdir=$(dir sysconfdir)
localstatedir=$(dir localstatedir) mandir=$(dir mandir)
tb_diag "sbindir=$sbindir sysconfdir=$sysconfdir" \
	"localstatedir=$localstatedir mandir=$mandir"
R=$TB/root

inst() {
	mk "$1" DESTDIR="$R" \
		>"$TB/$1.out" 2>&1 || { tb_tail "$TB/$1.out"; return 1; }
}
tb_ok "make install DESTDIR=..." inst install
missing=""
for f in "$sbindir"/elemta-milter "$sbindir"/elemta-policyd \
	 "$sbindir"/elemta-lmtp-bridge "$sbindir"/elemta-postfix-config \
	 "$sbindir"/elemta-ctl; do
	[ -x "$R$f" ] || missing="$missing $f"
done
tb_is "$missing" "" "daemons, elemta-postfix-config and elemta-ctl in $sbindir"
missing=""
for f in man5/elemta.conf.5 man8/elemta-milter.8 man8/elemta-policyd.8 \
	 man8/elemta-lmtp-bridge.8 man8/elemta-postfix-config.8 \
	 man8/elemta-ctl.8; do
	[ -s "$R$mandir/$f" ] || missing="$missing $f"
done
tb_is "$missing" "" "man pages in $mandir"
tb_ok "the sample is $sysconfdir/elemta/elemta.conf" \
	cmp "$top_srcdir/conf/elemta.conf" "$R$sysconfdir/elemta/elemta.conf"
tb_ok "state directory $localstatedir/lib/elemta" \
	test -d "$R$localstatedir/lib/elemta"
tb_like "$(grep -c "$localstatedir/lib/elemta" "$R$mandir/man5/elemta.conf.5")" \
	'^[1-9]' "elemta.conf(5) names $localstatedir/lib/elemta"

# the embedded default follows --localstatedir
got=$("$R$sbindir"/elemta-policyd -p -c /dev/null 2>&1 |
	sed -n 's/^ *directory="\(.*\)"$/\1/p')
tb_is "$got" "$localstatedir/lib/elemta" \
	"database.directory defaults to $localstatedir/lib/elemta"

# elemta-ctl's bash completion, where bash-completion looks
bashcomp=$(dir datadir)/bash-completion/completions/elemta-ctl
tb_ok "bash completion in $bashcomp" test -s "$R$bashcomp"

# nothing outside the prefix's directories (and DESTDIR)
outside=$(cd "$R" && find . -type f | sed 's|^\.||' |
	grep -v -e "^$sbindir/" -e "^$sysconfdir/elemta/" -e "^$mandir/" \
		-e "^$(dir docdir)/" -e "^$bashcomp\$")
tb_is "$outside" "" "no file outside sbindir, sysconfdir/elemta, mandir, docdir (but the completion)"

# an administrator's edits survive a second install
echo '# edited by the administrator' >>"$R$sysconfdir/elemta/elemta.conf"
tb_ok "make install again" inst install
tb_ok "the edited elemta.conf is kept" \
	grep -q '^# edited by the administrator' "$R$sysconfdir/elemta/elemta.conf"

tb_ok "make uninstall" inst uninstall
tb_is "$(cd "$R" && find . -type f)" "./${sysconfdir#/}/elemta/elemta.conf" \
	"uninstall leaves only the edited configuration"
# an unedited sample goes with the rest
cp "$top_srcdir/conf/elemta.conf" "$R$sysconfdir/elemta/elemta.conf"
inst uninstall
tb_is "$(cd "$R" && find . -type f)" "" "uninstall removes the unedited sample"
tb_done
