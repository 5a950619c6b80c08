#!/bin/bash
# 0730-container - the container image (contrib/docker/Dockerfile) made
# with podman from the packages built by t/0701, on a Debian 12 base
# imported from t/0720's debootstrap cache ($ELEMTA_CHROOT_CACHE; a
# plain minbase tree when there is none yet).  The imported base is kept
# as $ELEMTA_CONTAINER_BASE (localhost/elemta-test/bookworm) and reused.
# Checks: the image builds; elemta-policyd runs in it (--network=host, the
# test's ports through ELEMTA_OPTIONS) as user elemta, answers a
# policy request on TCP and the host's Postfix asking it for a message; the image's HEALTHCHECK passes, and fails on a
# port nothing serves; the container is removed.  elemta-milter runs
# from a mounted elemta.conf, healthy.  The docker-mailserver add-on's
# image (contrib/docker/docker-mailserver/Dockerfile) on the same base:
# user-patches.sh and elemta-dms-run in it.  Then the Dockerfile's
# build stage: the image built from the release tarball instead of the
# .debs (dpkg-buildpackage in the build stage, Build-Depends from the
# mirror, about 70 s), whose final image runs and has no compiler.
# podman flags: /work/shared/TESTBED.md section 15 (runc, two ulimits).
# Run by "make check-packaging".
# package lists are split into words on purpose; the .debs have plain names
# functions run through tb_ok; shellcheck disable=SC2317 for them
# SC2016: $elemta_milter and the like are Postfix's, not ours
# shellcheck disable=SC2010,SC2016,SC2046,SC2086,SC2317
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

D=$top_builddir/t/deb
CACHE=${ELEMTA_CHROOT_CACHE:-/var/cache/elemta-test/bookworm}
BASE=${ELEMTA_CONTAINER_BASE:-localhost/elemta-test/bookworm:latest}
MIRROR=${ELEMTA_DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
tb_need podman podman
tb_need runc runc
tb_need util-linux flock
tb_need curl curl
peer_require postfix smtp-sink swaks
tb_need_root "podman's image store and runc"
tb_init
tb_plan 20

[ -n "$(ls "$D"/elemta-common_*.deb 2>/dev/null)" ] ||
	tb_bail "no packages in $D: t/0701-deb-build failed"
UL=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
pm() { podman --runtime runc "$@"; }

# the base image, once: from the chroot cache (its packages' dependencies
# already there, so the build needs no network), else a fresh minbase
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock 9
if ! pm image exists "$BASE"; then
	root=$CACHE
	if [ ! -d "$root" ]; then
		root=$TB/rootfs
		debootstrap --variant=minbase bookworm "$root" "$MIRROR" \
			>"$TB/debootstrap.log" 2>&1 ||
			{ tb_tail "$TB/debootstrap.log" 30; tb_bail "cannot debootstrap"; }
	fi
	tar -C "$root" -c . | pm import - "$BASE" >"$TB/import.log" 2>&1 ||
		{ tb_tail "$TB/import.log"; tb_bail "cannot import $root as $BASE"; }
	tb_diag "imported $root as $BASE"
fi
exec 9>&-

# the build context: this directory's files and the packages
ctx=$TB/ctx
mkdir -p "$ctx"
cp -r "$top_srcdir"/contrib/docker/* $(ls "$D"/elemta-*.deb | grep -v dbgsym) "$ctx/"
IMG=localhost/elemta-test/elemta:$TB_PORT_BASE
dangling=$(pm images -q -f dangling=true)
# build_image IMG CTX LOG - podman build, its output in $TB/LOG
build_image() {
	podman build --runtime runc "${UL[@]}" --format docker \
		--build-arg "BASE=$BASE" -t "$1" "$2" >"$TB/$3" 2>&1 ||
		{ tail -30 "$TB/$3"; return 1; }
}
tb_ok "podman build the image" build_image "$IMG" "$ctx" build.log ||
	tb_bail "the image does not build"
tb_like "$(pm image inspect -f '{{.Config.User}} {{.Config.Healthcheck.Test}}' "$IMG")" \
	'^elemta \[CMD /usr/local/sbin/healthcheck\]$' "the image: USER elemta, a HEALTHCHECK"

# policyd, one process, on the test's ports (the host's network)
C=elemta-t0730-$TB_PORT_BASE
pm rm -f "$C" >/dev/null 2>&1
tb_spawn policyd "$TB/policyd.log" podman --runtime runc run --rm --name "$C" \
	"${UL[@]}" --network=host -e ELEMTA_OPTIONS="policyd.listen=inet:127.0.0.1:$TB_PORT_POLICY policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS" \
	"$IMG" elemta-policyd
tb_ready policyd "on 127.0.0.1:$TB_PORT_POLICY" 30 tb_connect 127.0.0.1 "$TB_PORT_POLICY"

exec 5<>"/dev/tcp/127.0.0.1/$TB_PORT_POLICY"
tb_is "$(pol_request 5 protocol_state=RCPT client_address=192.0.2.1 \
	sender=alice@example.test recipient=bob@example.test instance=t0730.1)" \
	"action=DUNNO" "policyd in the container answers a policy request: DUNNO"
exec 5>&-
tb_is "$(pm exec "$C" sh -c 'id -un; stat -c %U /proc/1; cat /proc/1/comm')" \
	$'elemta\nelemta\nelemta-policyd' "PID 1 is elemta-policyd, as user elemta"
tb_is "$(pm exec "$C" stat -c '%U:%G %a' /etc/elemta/elemta.conf)" "root:elemta 640" \
	"the image's elemta.conf: root:elemta 0640"
tb_ok "podman healthcheck run: healthy" pm healthcheck run "$C"
# mail through it: the host's Postfix asks the container at RCPT, DATA
# and END-OF-DATA
pol_postfix_with_policy "$TB_PORT_POLICY"
tb_like "$(pol_send --xclient-addr 192.0.2.1 --to bob@sink.test)" "$POL_QUEUED" \
	"a message through the host's Postfix, asking the container: queued"
m=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$(grep -F 'elemta_policyd_requests_total{state="END-OF-MESSAGE",action="dunno"}' <<<"$m")" \
	' [1-9][0-9]*$' "policyd in the container counted the message's END-OF-MESSAGE"
# unhealthy_elsewhere - the HEALTHCHECK command, on a port nothing serves
unhealthy_elsewhere() {
	! pm exec -e ELEMTA_METRICS_PORT=1 "$C" /usr/local/sbin/healthcheck 2>/dev/null
}
tb_ok "the HEALTHCHECK fails when the metrics port does not answer" unhealthy_elsewhere
tb_ok "podman rm the container" pm rm -f -t 10 "$C"
gone() { ! pm container exists "$C"; }
tb_ok "no container left" gone
tb_stop

# elemta-milter from a mounted elemta.conf (no ELEMTA_OPTIONS); the
# HEALTHCHECK finds its metrics port in ELEMTA_METRICS_PORT
printf '%s\n' "milter {" "	listen = \"inet:127.0.0.1:$TB_PORT_MILTER\"" \
	"	metrics_listen = \"inet:127.0.0.1:$TB_PORT_METRICS2\"" "}" >"$TB/mounted.conf"
chmod 644 "$TB/mounted.conf"
C=elemta-t0730-milter-$TB_PORT_BASE
pm rm -f "$C" >/dev/null 2>&1
tb_spawn milter "$TB/milter.log" podman --runtime runc run --rm --name "$C" \
	"${UL[@]}" --network=host -e ELEMTA_METRICS_PORT="$TB_PORT_METRICS2" \
	-v "$TB/mounted.conf:/etc/elemta/elemta.conf:ro" "$IMG" elemta-milter
tb_ready milter "on 127.0.0.1:$TB_PORT_MILTER" 30 tb_connect 127.0.0.1 "$TB_PORT_MILTER"
tb_is "$(pm exec "$C" sh -c 'id -un; cat /proc/1/comm')" $'elemta\nelemta-milter' \
	"elemta-milter as PID 1, user elemta, on the mounted file's listen"
tb_ok "podman healthcheck run: healthy (ELEMTA_METRICS_PORT)" pm healthcheck run "$C"
tb_ok "podman rm the milter container" pm rm -f -t 10 "$C"
tb_stop

# The docker-mailserver add-on's in-image Dockerfile, FROM the Debian 12
# base standing in for docker-mailserver 15's image (Debian 12; no
# registry here), with its Postfix: the packages install, user-patches.sh
# (elemta-user-patches) names the unix sockets there, and elemta-dms-run
# starts elemta-milter only once the set-up marker /CONTAINER_START
# exists, its socket in Postfix's queue directory, elemta:postfix 0660,
# the daemon as user elemta.  (supervisord is DMS's: t/0740 parses the
# program file.)
dctx=$TB/dmsctx
mkdir -p "$dctx"
cp "$top_srcdir"/contrib/docker/docker-mailserver/* \
	$(ls "$D"/elemta-common_*.deb "$D"/elemta-milter_*.deb "$D"/elemta-policyd_*.deb | grep -v dbgsym) "$dctx/"
IMG3=localhost/elemta-test/dms-elemta:$TB_PORT_BASE
# build_dms - the add-on's image, DMS_IMAGE the base
build_dms() {
	podman build --runtime runc "${UL[@]}" --build-arg "DMS_IMAGE=$BASE" \
		-t "$IMG3" "$dctx" >"$TB/build-dms.log" 2>&1 ||
		{ tail -30 "$TB/build-dms.log"; return 1; }
}
tb_ok "podman build the docker-mailserver add-on's image" build_dms
cat >"$TB/dms-run.sh" <<'EOF'
set -eu
elemta-user-patches >/dev/null
postconf -h smtpd_milters non_smtpd_milters smtpd_recipient_restrictions elemta_milter
s=/var/spool/postfix/elemta/milter.sock
/usr/local/bin/elemta-dms-run elemta-milter >/tmp/milter.log 2>&1 &
sleep 2
[ ! -e $s ] || echo "started before /CONTAINER_START"
touch /CONTAINER_START
i=0
until [ -S $s ] || [ $i -ge 100 ]; do sleep 0.2; i=$((i + 1)); done
stat -c '%U:%G %a' $s || cat /tmp/milter.log
for p in /proc/[0-9]*; do
	[ "$(cat $p/comm 2>/dev/null)" != elemta-milter ] || stat -c '%U' $p
done
EOF
out=$(pm run --rm "${UL[@]}" -v "$TB/dms-run.sh:/dms-run.sh:ro" "$IMG3" sh /dms-run.sh 2>&1)
tb_is "$(sed -n 1,4p <<<"$out")" '$elemta_milter
$elemta_milter
$elemta_policy
{ unix:elemta/milter.sock, default_action=tempfail }' \
	"in the add-on's image: user-patches.sh wires the unix sockets into its Postfix" ||
	tb_diag "$out"
tb_is "$(sed -n '5,$p' <<<"$out")" 'elemta:postfix 660
elemta' \
	"elemta-dms-run: elemta-milter after the set-up marker, its socket elemta:postfix 0660, as elemta"

# The build stage: from the release tarball (make distdir, as t/0701),
# its Build-Depends from the mirror; the final image has no compiler.
sctx=$TB/sctx
if ! { mkdir -p "$sctx" && cp -r "$top_srcdir"/contrib/docker/* "$sctx/" &&
	make -s --no-print-directory -C "$top_builddir" distdir \
		distdir="$TB/elemta-src" >"$TB/dist.out" 2>&1 &&
	tar -C "$TB" -czf "$sctx/elemta-src.tar.gz" elemta-src; }; then
	tb_tail "$TB/dist.out"
	tb_bail "cannot make the release tarball"
fi
IMG2=localhost/elemta-test/elemta-src:$TB_PORT_BASE
t0=$(tb_now_ms)
tb_ok "podman build from the release tarball" build_image "$IMG2" "$sctx" build-src.log
tb_diag "build from the tarball: $(( ($(tb_now_ms) - t0) / 1000 )) s"
tb_like "$(grep -c '^dpkg-buildpackage: info: binary-only upload' "$TB/build-src.log")" '^1$' \
	"the build stage ran dpkg-buildpackage"
tb_is "$(pm run --rm "${UL[@]}" --no-healthcheck "$IMG2" \
	sh -c 'elemta-policyd -V; id -un; command -v gcc cc' 2>"$TB/run-src.log")" \
	$'elemta-policyd (elemta) '"$(dpkg-deb -f "$(ls "$D"/elemta-common_*.deb)" Version | sed 's/-[^-]*$//')"$'\nelemta' \
	"that image: elemta-policyd -V as elemta, no compiler"
for i in "$IMG" "$IMG2" "$IMG3" $(pm images -q -f dangling=true); do
	grep -qx "$i" <<<"$dangling" || pm rmi "$i" >/dev/null 2>&1
done
tb_done
