#!/bin/bash
# 0710-systemd-units - the units the packages built by t/0701 install:
# "systemd-analyze security --offline" exposure <= 1.5 for each (the
# figure is printed), "systemd-analyze verify" clean against the
# packaged binaries and man pages (overlaid on /usr/sbin and
# /usr/share/man in a private mount namespace: nothing is installed on
# this machine), the service settings the packaging relies on, and each
# packaged daemon started the way its unit does (ExecStart, as user
# elemta, no capability, no new privileges) binding its socket
# elemta:postfix 0660 in a set-group-ID socket directory, reloading on
# the unit's ExecReload signal and stopping on SIGTERM.
# Run by "make check-packaging".
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

D=$top_builddir/t/deb
MAX_EXPOSURE=1.5
tb_need systemd systemd-analyze
tb_need util-linux unshare setpriv
tb_need_root "mounting the packaged files over /usr in a namespace"
getent passwd elemta >/dev/null || tb_missing "no user elemta (tools/install-deps)"
getent group postfix >/dev/null || tb_missing "no group postfix (postfix)"
tb_init
tb_plan 21

[ -n "$(ls "$D"/elemta-common_*.deb 2>/dev/null)" ] ||
	tb_bail "no packages in $D: t/0701-deb-build failed"
R=$TB/root
for p in elemta-common elemta-milter elemta-policyd elemta-lmtp-bridge; do
	dpkg-deb -x "$(ls "$D"/${p}_*.deb | grep -v dbgsym)" "$R"
done

for d in milter policyd lmtp-bridge dmarc-report; do
	u=$R/lib/systemd/system/elemta-$d.service
	sec=$(systemd-analyze security --offline=yes --no-pager "$u" 2>&1)
	x=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	tb_diag "elemta-$d.service: exposure $x"
	tb_ok "elemta-$d.service: exposure ${x:-?} <= $MAX_EXPOSURE" \
		awk -v x="$x" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(x != "" && x + 0 <= m + 0) }' ||
		tb_diag "$(printf '%s\n' "$sec" | grep '✗')"
	[ "$d" = dmarc-report ] && continue	# a oneshot, not a daemon
	set_=$(grep -E '^[A-Za-z]+=' "$u")
	tb_like "$set_" $'(^|\n)'"Type=simple"$'\n'"ExecStart=/usr/sbin/elemta-$d -f"$'\n'"ExecReload=/bin/kill -USR1 \\\$MAINPID"$'\n'"Restart=on-failure"$'\n' \
		"elemta-$d.service: simple, in the foreground, USR1 reloads, restarts on failure"
	tb_like "$set_" $'(^|\n)User=elemta\n.*\nCapabilityBoundingSet=\n' \
		"elemta-$d.service: user elemta from the start, no capability"
done

# verify: the packaged binaries and man pages over the host's, in a
# mount namespace of our own
cat >"$TB/verify.sh" <<'EOS'
set -e
R=$1; shift
mount -t overlay overlay -o "lowerdir=$R/usr/sbin:/usr/sbin" /usr/sbin
for s in man5 man8; do
	mount -t overlay overlay \
		-o "lowerdir=$R/usr/share/man/$s:/usr/share/man/$s" /usr/share/man/$s
done
systemd-analyze verify "$@"
EOS
v=$(unshare -m --propagation private sh "$TB/verify.sh" "$R" \
	"$R"/lib/systemd/system/elemta-*.service 2>&1)
tb_is "$?:$v" "0:" "systemd-analyze verify: clean"
tb_ok "nothing left on the host's /usr/sbin" sh -c '! ls /usr/sbin/elemta-* 2>/dev/null'

# Each daemon as its unit starts it: ExecStart as user elemta, group
# elemta, no supplementary group, no capability, no new privileges.
# The socket directory as elemta-common's postinst makes it.
mkdir -p "$TB/state" && chown elemta:elemta "$TB/state"
for d in milter policyd lmtp-bridge; do
	sec=${d//-/_}
	sd=$TB/sock-$d
	mkdir "$sd" && chown elemta:postfix "$sd" && chmod 2750 "$sd"
	tb_spawn "$d" "$TB/$d.log" setpriv --reuid=elemta --regid=elemta \
		--clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- \
		"$R/usr/sbin/elemta-$d" -f -c /dev/null \
		-o "$sec.listen=unix:$sd/$d.sock,mode=0660,owner=elemta,group=postfix" \
		-o "database.directory=$TB/state"
	tb_ready "$d" "on $sd/$d.sock" 10 tb_connect_unix "$sd/$d.sock"
	tb_is "$(stat -c '%U:%G %a' "$sd/$d.sock")" "elemta:postfix 660" \
		"elemta-$d as user elemta without capabilities: socket elemta:postfix 0660"
	tb_is "$(ps -o user=,group= -p "${TB_PID[$d]}" | tr -s ' ')" "elemta elemta" \
		"elemta-$d runs as elemta:elemta"
	# signals wait for runtime_start's handlers; it logs "started"
	tb_wait_log 10 'started: version=' "$TB/$d.log" ||
		tb_diag "elemta-$d: no \"started\" line"
	kill -USR1 "${TB_PID[$d]}"
	tb_ok "elemta-$d: the unit's ExecReload (SIGUSR1) reloads" \
		tb_wait_log 10 'reloaded' "$TB/$d.log"
	tb_stop "$d"
done
tb_done
