#!/bin/bash
# 0702-deb-contents - each package built by t/0701 holds what the split
# says (README "Installing"): elemta-common the configuration (a
# conffile), elemta.conf(5), elemta-postfix-config, the state and keys
# directories and the maintainer scripts that make the user and set
# owners; each daemon package its binary (hardened, its default state
# directory /var/lib/elemta), its man page and its unit, and nothing of
# the others.  Run by "make check-packaging".
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

D=$top_builddir/t/deb
tb_need devscripts hardening-check
tb_init
tb_plan 22

# files PKG - the package's regular files, without docs and overrides
files() {
	dpkg-deb -c "$D"/"$1"_*.deb | awk '$1 !~ /^d/ { print $6 }' |
		sed 's|^\./|/|' | grep -v -e '^/usr/share/doc/' -e '^/usr/share/lintian/' | sort
}
# deb PKG - the package file
deb() { ls "$D"/"$1"_*.deb | grep -v dbgsym; }

[ -n "$(deb elemta-common 2>/dev/null)" ] ||
	tb_bail "no packages in $D: t/0701-deb-build failed"

tb_is "$(files elemta-common | tr '\n' ' ')" \
	"/etc/elemta/elemta.conf /usr/sbin/elemta-postfix-config /usr/share/man/man5/elemta.conf.5.gz /usr/share/man/man8/elemta-postfix-config.8.gz " \
	"elemta-common: configuration, elemta.conf(5), elemta-postfix-config"
tb_is "$(dpkg-deb -I "$(deb elemta-common)" conffiles)" \
	"/etc/elemta/elemta.conf" "elemta-common: elemta.conf is a conffile"
dirs=$(dpkg-deb -c "$(deb elemta-common)" | awk '{ print $6 }')
tb_like "$dirs" './var/lib/elemta/' "elemta-common: the state directory"
tb_like "$dirs" './etc/elemta/keys/' "elemta-common: the keys directory"
postinst=$(dpkg-deb -I "$(deb elemta-common)" postinst)
tb_like "$postinst" 'adduser --system --group .*elemta' \
	"elemta-common postinst: the system user and group elemta"
tb_like "$postinst" 'own 2750 elemta:postfix /var/spool/postfix/elemta' \
	"elemta-common postinst: the socket directory, set-group-ID postfix"
tb_unlike "$postinst" 'adduser postfix|usermod .*postfix|main\.cf|postconf' \
	"elemta-common postinst: postfix not put in group elemta, main.cf untouched"
tb_like "$(dpkg-deb -I "$(deb elemta-common)" postrm)" \
	'purge.*rm -rf /var/lib/elemta /var/spool/postfix/elemta' \
	"elemta-common postrm: purge removes the state and the sockets"

# elemta-milter also carries the DMARC reports made from its history
# (elemta-dmarc-report, its man page, its oneshot service and timer).
rep_units="/lib/systemd/system/elemta-dmarc-report.service /lib/systemd/system/elemta-dmarc-report.timer "
for d in milter policyd lmtp-bridge; do
	p=elemta-$d
	if [[ $d == milter ]]; then
		want="$rep_units/lib/systemd/system/$p.service /usr/sbin/elemta-dmarc-report /usr/sbin/$p /usr/share/man/man8/elemta-dmarc-report.8.gz /usr/share/man/man8/$p.8.gz "
	else
		want="/lib/systemd/system/$p.service /usr/sbin/$p /usr/share/man/man8/$p.8.gz "
	fi
	tb_is "$(files $p | tr '\n' ' ')" "$want" \
		"$p: the daemon, its man page, its unit"
	dep=$(dpkg-deb -f "$(deb $p)" Depends)
	ver=$(dpkg-deb -f "$(deb $p)" Version)
	tb_like "$dep" "(^|, )elemta-common \\(= $ver\\)" \
		"$p depends on elemta-common (= $ver)"
done
tb_is "$(files elemta-ctl | tr '\n' ' ')" \
	"/usr/sbin/elemta-ctl /usr/share/bash-completion/completions/elemta-ctl /usr/share/man/man8/elemta-ctl.8.gz " \
	"elemta-ctl: the tool, its man page, its bash completion"
tb_like "$(dpkg-deb -f "$(deb elemta-ctl)" Depends)" \
	"(^|, )elemta-common \\(= $(dpkg-deb -f "$(deb elemta-ctl)" Version)\\)" \
	"elemta-ctl depends on elemta-common"
# DMARC's organizational domains: the milter will not start without it
tb_like "$(dpkg-deb -f "$(deb elemta-milter)" Depends)" '(^|, )publicsuffix(,|$)' \
	"elemta-milter depends on publicsuffix (its public suffix list)"

# the packaged binaries: hardening=+all, and the FHS state directory
dpkg-deb -x "$(deb elemta-policyd)" "$TB/x"
dpkg-deb -x "$(deb elemta-milter)" "$TB/x"
dpkg-deb -x "$(deb elemta-lmtp-bridge)" "$TB/x"
dpkg-deb -x "$(deb elemta-ctl)" "$TB/x"
for d in milter policyd lmtp-bridge ctl; do
	# what dpkg 1.21's hardening=+all gives (Debian 12 has no
	# -fcf-protection nor stack clash protection in it)
	hc=$(hardening-check "$TB/x/usr/sbin/elemta-$d" 2>&1)
	tb_is "$(printf '%s\n' "$hc" | grep -cE '^ (Position Independent Executable|Stack protected|Fortify Source functions|Read-only relocations|Immediate binding): yes')" \
		5 "elemta-$d: PIE, stack protector, fortify, RELRO, BIND_NOW" ||
		tb_diag "$hc"
done
got=$("$TB/x/usr/sbin/elemta-policyd" -p -c /dev/null 2>&1 |
	sed -n 's/^ *directory="\(.*\)"$/\1/p')
tb_is "$got" /var/lib/elemta "packaged default database.directory is /var/lib/elemta"
tb_done
