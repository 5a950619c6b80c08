#!/bin/bash
# 0730-container - the container image (contrib/docker/Dockerfile) made
# with podman from the packages built by t/0701, on a Debian 12 base
# imported from t/0720's debootstrap cache ($ELEMTA_CHROOT_CACHE; a
# plain minbase tree when there is none yet).  The imported base is kept
# as $ELEMTA_CONTAINER_BASE (localhost/elemta-test/bookworm) and reused.
# Checks: the image builds; elemta-policyd runs in it (--network=host, the
# test's ports through ELEMTA_OPTIONS) as user elemta and answers a
# policy request on TCP; the image's HEALTHCHECK passes, and fails on a
# port nothing serves; the container is removed.
# podman flags: /work/shared/TESTBED.md section 15 (runc, two ulimits).
# Run by "make check-packaging".
# package lists are split into words on purpose; the .debs have plain names
# functions run through tb_ok; shellcheck disable=SC2317 for them
# shellcheck disable=SC2010,SC2046,SC2086,SC2317
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
tb_need_root "podman's image store and runc"
tb_init
tb_plan 9

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
cp "$top_srcdir"/contrib/docker/* $(ls "$D"/elemta-*.deb | grep -v dbgsym) "$ctx/"
IMG=localhost/elemta-test/elemta:$TB_PORT_BASE
# build_image - podman build, its output in $TB/build.log
build_image() {
	podman build --runtime runc "${UL[@]}" --format docker \
		--build-arg "BASE=$BASE" -t "$IMG" "$ctx" >"$TB/build.log" 2>&1 ||
		{ tail -30 "$TB/build.log"; return 1; }
}
tb_ok "podman build the image" build_image ||
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
# unhealthy_elsewhere - the HEALTHCHECK command, on a port nothing serves
unhealthy_elsewhere() {
	! pm exec -e ELEMTA_METRICS_PORT=1 "$C" /usr/local/sbin/healthcheck 2>/dev/null
}
tb_ok "the HEALTHCHECK fails when the metrics port does not answer" unhealthy_elsewhere
tb_ok "podman rm the container" pm rm -f -t 10 "$C"
gone() { ! pm container exists "$C"; }
tb_ok "no container left" gone
tb_stop
pm rmi "$IMG" >/dev/null 2>&1
tb_done
