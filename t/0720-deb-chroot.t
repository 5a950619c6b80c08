#!/bin/bash
# 0720-deb-chroot - the packages built by t/0701 installed as a user
# installs them: into a fresh Debian 12 (debootstrap --variant=minbase,
# with Debian's postfix and dovecot), never on this machine.  The
# bootstrapped tree is cached in $ELEMTA_CHROOT_CACHE
# (/var/cache/elemta-test/bookworm; made on the first run, about 50 s
# with a near mirror, reused after; a dependency the packages gain is
# added to it) and each run works on an overlay of it.
# Checks: the user, the owners and modes the maintainer scripts set,
# postfix kept out of group elemta and out of Elemta's files, main.cf
# untouched by the install; each daemon started as its unit's ExecStart
# and User= say, with the packaged configuration, binding its socket in
# the Postfix spool, which user postfix can connect to; SIGUSR1 reloads;
# elemta-postfix-config --apply wires main.cf, and then a message sent
# to the chroot's Postfix (smtpd chrooted, as Debian runs it) gets the
# milter's Authentication-Results, is counted by policyd and is
# delivered by the bridge into the chroot's Dovecot (the harness'
# unbound answers DNS from the test zones); an upgrade (the same
# packages with a higher version) keeps the administrator's edits and
# the state, remove keeps them too, purge leaves nothing.
# Run by "make check-packaging".
# package lists are split into words on purpose; the .debs have plain names
# shellcheck disable=SC2010,SC2046,SC2086
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

D=$top_builddir/t/deb
CACHE=${ELEMTA_CHROOT_CACHE:-/var/cache/elemta-test/bookworm}
MIRROR=${ELEMTA_DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
tb_need debootstrap debootstrap
tb_need util-linux setpriv flock
tb_need_root "debootstrap, chroot and mounts"
peer_require unbound swaks
tb_need curl curl
tb_init
tb_plan 38

[ -n "$(ls "$D"/elemta-common_*.deb 2>/dev/null)" ] ||
	tb_bail "no packages in $D: t/0701-deb-build failed"
debs=$(ls "$D"/elemta-*.deb | grep -v dbgsym)

# deps - what the packages depend on, but themselves
deps() {
	for f in $debs; do dpkg-deb -f "$f" Depends; done |
		tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -v '^elemta-' | sort -u
}

# cache_add DIR PKG... - install PKG into the tree DIR
cache_add() {
	local t=$1 rc
	shift
	mount -t proc proc "$t/proc" || return 1
	chroot "$t" env DEBIAN_FRONTEND=noninteractive apt-get install \
		-y -q --no-install-recommends "$@" &&
		chroot "$t" apt-get clean
	rc=$?
	umount "$t/proc"
	return $rc
}

# make_cache - debootstrap, then postfix, dovecot and what the packages
# depend on, so that a warm run needs no network
make_cache() {
	local t=$CACHE.tmp
	rm -rf "$t"
	debootstrap --variant=minbase bookworm "$t" "$MIRROR" || return 1
	# no daemon starts in the chroot (no init there anyway)
	printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"
	chmod 755 "$t/usr/sbin/policy-rc.d"
	printf '%s\n' "postfix postfix/main_mailer_type select Local only" \
		"postfix postfix/mailname string gw.example.test" |
		chroot "$t" debconf-set-selections || return 1
	cache_add "$t" postfix dovecot-core dovecot-lmtpd adduser $(deps) &&
		mv "$t" "$CACHE"
}

mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock 9
t0=$(tb_now_ms)
if [ ! -d "$CACHE" ]; then
	make_cache >"$TB/cache.log" 2>&1 ||
		{ tb_tail "$TB/cache.log" 30; tb_bail "cannot make $CACHE"; }
	tb_diag "made $CACHE in $(( ($(tb_now_ms) - t0) / 1000 )) s"
fi
# a dependency the cache does not have yet goes into the cache
missing=$(for p in $(deps); do chroot "$CACHE" dpkg-query -W "$p" \
	>/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
	cache_add "$CACHE" $missing >"$TB/cache.log" 2>&1 ||
		{ tb_tail "$TB/cache.log" 30; tb_bail "cannot add$missing to $CACHE"; }
	tb_diag "added to $CACHE:" $missing
fi
exec 9>&-

# the overlay: the cache stays as it is
R=$TB/root
mkdir -p "$TB/upper" "$TB/work" "$R"
mount -t overlay overlay \
	-o "lowerdir=$CACHE,upperdir=$TB/upper,workdir=$TB/work" "$R" &&
	mount -t proc proc "$R/proc" && mount --bind /dev "$R/dev" ||
	tb_bail "cannot mount the overlay of $CACHE"
in_root() { chroot "$R" "$@"; }
# as_postfix CMD... - run as user postfix with its own groups
as_postfix() { chroot "$R" setpriv --reuid=postfix --regid=postfix --init-groups "$@"; }

maincf=$(md5sum <"$R/etc/postfix/main.cf")
mkdir -p "$R/tmp/debs" && cp $debs "$R/tmp/debs/"
# apt LOG ARGS... - apt-get in the chroot, its output in $TB/LOG
apt() {
	local log=$TB/$1
	shift
	chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
		--no-install-recommends "$@" >"$log" 2>&1 ||
		{ tail -30 "$log"; return 1; }
}
tb_ok "apt-get install the packages" apt install.log install \
	$(for f in $debs; do echo "/tmp/debs/${f##*/}"; done) ||
	tb_bail "the packages do not install"
tb_is "$(md5sum <"$R/etc/postfix/main.cf")" "$maincf" "main.cf untouched by the install"

tb_like "$(in_root getent passwd elemta)" '^elemta:x:[0-9]+:[0-9]+:.*:/nonexistent:/usr/sbin/nologin$' \
	"system user elemta, no home, no shell"
st() { in_root stat -c '%U:%G %a' "$@"; }
tb_is "$(st /etc/elemta/elemta.conf)" "root:elemta 640" "elemta.conf root:elemta 0640"
tb_is "$(st /etc/elemta/keys)" "elemta:elemta 700" "/etc/elemta/keys elemta 0700"
tb_is "$(st /var/lib/elemta)" "elemta:elemta 750" "/var/lib/elemta elemta 0750"
tb_is "$(st /var/spool/postfix/elemta)" "elemta:postfix 2750" \
	"/var/spool/postfix/elemta elemta:postfix 2750"
tb_unlike " $(in_root id -nG postfix) " ' elemta ' "postfix is not in group elemta"

# The administrator's edits for this test bed: the harness' DNS (test
# zones), Dovecot's LMTP, a metrics port; everything else as packaged.
peer_start_unbound
conf_set() {
	sed -i "/^$1 {/a\\\t$2" "$R/etc/elemta/elemta.conf"
}
conf_set dns "nameservers = {\"127.0.0.1@$TB_PORT_DNS\"}"
conf_set milter 'authserv_id = "mx.example.test"'
conf_set policyd "metrics_listen = \"inet:127.0.0.1:$TB_PORT_METRICS\""
conf_set lmtp_bridge "backend = \"inet:127.0.0.1:$TB_PORT_LMTP\""

# each daemon as its unit says
for d in milter policyd lmtp-bridge; do
	u=$R/lib/systemd/system/elemta-$d.service
	user=$(sed -n 's/^User=//p' "$u") group=$(sed -n 's/^Group=//p' "$u")
	read -r -a cmd <<<"$(sed -n 's/^ExecStart=//p' "$u")"
	tb_spawn "$d" "$TB/$d.log" chroot "$R" setpriv --reuid="$user" \
		--regid="$group" --init-groups --no-new-privs \
		--inh-caps=-all --bounding-set=-all -- "${cmd[@]}"
	s=/var/spool/postfix/elemta/${d%-bridge}.sock
	[ "$d" = lmtp-bridge ] && s=/var/spool/postfix/elemta/lmtp.sock
	tb_ready "$d" "on $s" 10 tb_connect_unix "$R$s"
	tb_is "$(st "$s")" "elemta:postfix 660" "elemta-$d ($user, ${cmd[*]}): $s elemta:postfix 0660"
	tb_ok "user postfix connects to $s" as_postfix perl -MIO::Socket::UNIX \
		-e 'IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "$!\n"' "$s"
	tb_wait_log 10 'started: version=' "$TB/$d.log" || tb_tail "$TB/$d.log"
	kill -USR1 "${TB_PID[$d]}"
	tb_ok "elemta-$d reloads on SIGUSR1 (the units' ExecReload)" tb_wait_log 10 'reloaded' "$TB/$d.log"
done
tb_ok "user postfix cannot read the state directory" \
	sh -c "! chroot '$R' setpriv --reuid=postfix --regid=postfix --init-groups ls /var/lib/elemta >/dev/null 2>&1"
tb_ok "user postfix cannot read the keys directory" \
	sh -c "! chroot '$R' setpriv --reuid=postfix --regid=postfix --init-groups ls /etc/elemta/keys >/dev/null 2>&1"

out=$(in_root elemta-postfix-config --apply 2>&1)
tb_ok "elemta-postfix-config --apply" test $? -eq 0
n=$(in_root postconf -n)
tb_like "$n" $'(^|\n)smtpd_milters = unix:elemta/milter.sock($|\n)' "main.cf: smtpd_milters"
tb_like "$n" 'smtpd_recipient_restrictions = .*check_policy_service \{ unix:elemta/policyd.sock' \
	"main.cf: check_policy_service"
tb_like "$n" $'(^|\n)virtual_transport = lmtp:unix:elemta/lmtp.sock($|\n)' "main.cf: virtual_transport"

# A message through the chroot's Postfix (smtpd chrooted in its spool,
# as Debian runs it), wired only by elemta-postfix-config: checked by
# the milter, counted by policyd, delivered by the bridge into the
# chroot's Dovecot.
mkdir -p "$R/srv/dovecot/run" "$R/srv/dovecot/state" "$R/srv/dovecot/mail"
chown 65534:65534 "$R/srv/dovecot/mail"
cp "$TB_DATA/dovecot-users" "$R/srv/dovecot/users"
(TB=/srv; peer_dovecot_conf dovecot "$TB_PORT_LMTP") >"$R/srv/dovecot/dovecot.conf"
tb_spawn dovecot "$TB/dovecot.log" chroot "$R" dovecot -F -c /srv/dovecot/dovecot.conf
tb_ready dovecot "(LMTP) on 127.0.0.1:$TB_PORT_LMTP" 20 \
	tb_banner 127.0.0.1 "$TB_PORT_LMTP" '^220 '
in_root postconf -e "myhostname = mx.example.test" "mydestination = localhost" \
	"virtual_mailbox_domains = example.test" "inet_interfaces = 127.0.0.1" \
	"inet_protocols = ipv4" "smtpd_authorized_xclient_hosts = 127.0.0.0/8" \
	"maillog_file = /var/log/postfix.log" &&
	in_root postconf -M# smtp/inet &&
	in_root postconf -Me "127.0.0.1:$TB_PORT_SMTPD/inet = 127.0.0.1:$TB_PORT_SMTPD inet n - y - - smtpd" ||
	tb_bail "cannot set up the chroot's Postfix"
# master in the foreground, as peers.sh runs it: stopped with the rest
in_root postfix check >"$TB/postfix-check.log" 2>&1 ||
	{ tb_tail "$TB/postfix-check.log"; tb_bail "postfix check failed in the chroot"; }
tb_spawn postfix "$TB/postfix.log" chroot "$R" /usr/lib/postfix/sbin/master -s
tb_ready postfix "on 127.0.0.1:$TB_PORT_SMTPD" 20 \
	tb_banner 127.0.0.1 "$TB_PORT_SMTPD" '^220 '
out=$(swaks --server 127.0.0.1 --port "$TB_PORT_SMTPD" --timeout 30 \
	--helo out.example.test --from alice@example.test --to bob@example.test \
	--xclient-addr 192.0.2.1 --header "Subject: through the packages" \
	--body "Hello Bob." 2>&1)
tb_like "$out" $'\n<- *250 2\\.0\\.0 Ok: queued' "the chroot's Postfix accepts the message" ||
	tb_diag "$(tail -n 20 "$R/var/log/postfix.log")"
md=$R/srv/dovecot/mail/example.test/bob/Maildir
tb_ok "delivered through the bridge into the chroot's Dovecot" \
	tb_wait 20 sh -c "ls '$md'/new/* >/dev/null 2>&1" ||
	tb_diag "$(tail -n 20 "$R/var/log/postfix.log")"
tb_like "$(cat "$md"/new/* 2>/dev/null)" 'Authentication-Results: mx\.example\.test;.*spf=pass' \
	"the milter's Authentication-Results: spf=pass"
m=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$(grep -F 'elemta_policyd_requests_total{state="RCPT",action="dunno"}' <<<"$m")" ' [1-9][0-9]*$' \
	"policyd counted the message's RCPT"
tb_stop

# Upgrade: the same packages with a higher version (repacked), over an
# administrator's edit and the state the daemons left.
echo '# edited by the administrator' >>"$R/etc/elemta/elemta.conf"
tb_ok "the daemons left state in /var/lib/elemta" test -s "$R/var/lib/elemta/policyd.db"
v1=$(dpkg-deb -f "$(ls "$D"/elemta-common_*.deb)" Version)
v2=${v1%-*}-${v1##*-}+upgrade1
mkdir -p "$R/tmp/debs2" "$TB/repack"
for f in $debs; do
	p=$(dpkg-deb -f "$f" Package) x=$TB/repack/$p
	dpkg-deb -R "$f" "$x" &&
	sed -i -e "s/^Version: .*/Version: $v2/" \
		-e "s/elemta-common (= $v1)/elemta-common (= $v2)/" "$x/DEBIAN/control" &&
	dpkg-deb -b "$x" "$R/tmp/debs2/${p}_$v2.deb" >/dev/null ||
		tb_bail "cannot repack $f as $v2"
done
tb_ok "upgrade to $v2" apt upgrade.log install \
	$(cd "$R/tmp/debs2" && for f in *.deb; do echo "/tmp/debs2/$f"; done)
tb_is "$(in_root dpkg-query -W -f '${Version}' elemta-common)" "$v2" "elemta-common is $v2"
tb_ok "the upgrade keeps the edited elemta.conf" \
	grep -q '^# edited by the administrator' "$R/etc/elemta/elemta.conf"
tb_is "$(cd "$R/etc/elemta" && ls -A | grep -c 'dpkg-')" 0 "no .dpkg-new/.dpkg-dist left"
tb_is "$(st /var/lib/elemta/policyd.db)" "elemta:elemta 640" \
	"the upgrade keeps the state (elemta 0640: UMask)"
tb_ok "apt-get remove" apt remove.log remove elemta-common elemta-milter \
	elemta-policyd elemta-lmtp-bridge elemta-ctl
tb_ok "remove keeps the configuration and the state" test -f "$R/etc/elemta/elemta.conf" \
	-a -f "$R/var/lib/elemta/policyd.db" -a ! -e "$R/usr/sbin/elemta-milter"

# elemta-ctl has no conffiles: remove left nothing of it to purge (apt
# would not find the package)
tb_unlike "$(in_root dpkg-query -W -f '${db:Status-Abbrev}' elemta-ctl 2>/dev/null)" \
	'^[a-z][ic]' "remove left nothing of elemta-ctl (no conffiles)"
tb_ok "apt-get purge" apt purge.log purge elemta-common elemta-milter \
	elemta-policyd elemta-lmtp-bridge
left=""
for p in /etc/elemta /var/lib/elemta /var/spool/postfix/elemta /usr/sbin/elemta-milter; do
	[ ! -e "$R$p" ] || left="$left $p"
done
tb_is "$left" "" "purge leaves no configuration, state or sockets"
tb_done
