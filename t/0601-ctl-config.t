#!/bin/bash
# 0601-ctl-config - elemta-ctl config check and config dump [-n], which
# need no daemon: check validates the whole file (exit 1 naming
# file:line), dump prints every effective value (defaults included),
# dump -n only what the file or an -o sets (as postconf -n), titled
# sections (a policyd limit) included.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/ctl.sh"

ctl_init
tb_need python3 python3
tb_init
tb_plan 14

cat >"$TB/good.conf" <<'EOF2'
log {
	level = "debug"
}
policyd {
	idle_timeout = 600s
	limit burst {
		key = client_ip
		rate = 5
		period = 1m
	}
}
EOF2
sed 's/idle_timeout = 600s/idle_timeout = 600s\n\tno_such_key = 1/' \
    "$TB/good.conf" >"$TB/bad.conf"

out=$("$CTL" config check -c "$TB/good.conf" 2>&1)
tb_is "$?" 0 "config check: a valid file, exit 0"
tb_like "$out" 'configuration OK' "config check: says OK"
out=$("$CTL" config check -c "$TB/bad.conf" 2>&1)
tb_is "$?" 1 "config check: an unknown key, exit 1"
tb_like "$out" "bad.conf:6: .*no_such_key" "config check: the error names file:line"
"$CTL" config check -c "$top_srcdir/conf/elemta.conf" >/dev/null 2>&1
tb_is "$?" 0 "config check: the shipped sample is valid"

out=$("$CTL" -c /dev/null config dump 2>&1)
tb_is "$?" 0 "config dump: exit 0"
tb_like "$out" 'control_socket="/run/elemta/policyd.ctl"' \
    "config dump: defaults included"
tb_is "$(grep -c '^[a-z_]* {' <<<"$out")" \
    "$(grep -c '^[a-z_]* {' <<<"$("$top_builddir/policyd/elemta-policyd" -p -c /dev/null)")" \
    "config dump: every section, as the daemons' -p"

out=$("$CTL" -c "$TB/good.conf" -o milter.authserv_id=mx.example.test \
    config dump -n 2>&1)
tb_is "$?" 0 "config dump -n: exit 0"
tb_is "$(grep -c '=' <<<"$out")" 6 \
    "config dump -n: only the five values set and the -o" || tb_diag "$out"
tb_like "$out" 'idle_timeout=600' "config dump -n: a value from the file"
tb_like "$out" 'authserv_id="mx.example.test"' "config dump -n: the -o"
tb_unlike "$out" 'control_socket|dns \{' "config dump -n: no default"

"$CTL" -c "$TB/bad.conf" config dump >/dev/null 2>&1
tb_is "$?" 1 "config dump: a broken file, exit 1"
tb_done
