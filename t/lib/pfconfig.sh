# pfconfig.sh - the set-up of the tests of elemta-postfix-config (t/0703,
# and elemta-ctl postfix, t/0605), sourced after harness.sh and tb_init
#
#	pfconfig_init	PC (the script of this build); $TB/sbin holding
#			this build's daemons, as if installed in one sbindir
#			(ELEMTA_SBINDIR); a private Postfix configuration
#			directory $TB/pf (MAIL_CONFIG) with an empty
#			master.cf

# pfconfig_init - see above
pfconfig_init() {
	local b d

	PC=$top_builddir/contrib/postfix/elemta-postfix-config
	mkdir -p "$TB/sbin" "$TB/pf" && touch "$TB/pf/master.cf"
	b=$(cd "$top_builddir" && pwd)
	for d in milter policyd lmtp-bridge; do
		ln -s "$b/$d/elemta-$d" "$TB/sbin/elemta-$d"
	done
	export ELEMTA_SBINDIR=$TB/sbin MAIL_CONFIG=$TB/pf
}
