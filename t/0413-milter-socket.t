#!/bin/bash
# 0413-milter-socket - elemta-milter's unix socket, which libmilter binds:
# created under the umask that gives exactly the spec's mode (so there is
# no moment with other permissions, and nothing is chmod'ed afterwards,
# through a link or not), its group set with AT_SYMLINK_NOFOLLOW, its
# directory made with the socket's group; a directory others may write to
# is refused; the daemon runs with umask 027 whatever it inherited.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"

MILTER=${top_builddir:-.}/milter/elemta-milter
[ -x "$MILTER" ] || tb_skip_all "elemta-milter not built"
tb_need strace strace
tb_need_root "the socket's group"
tb_init
tb_plan 9

S=$TB/sock/m.sock
umask 000
TB_GRACE[milter]=2
tb_spawn milter "$TB/milter.log" strace -f -o "$TB/strace" \
    -e trace=umask,bind,listen,chmod,fchmod,fchmodat,chown,lchown,fchownat \
    "$MILTER" -f -c /dev/null -o "milter.listen=unix:$S,mode=0660,group=nogroup" \
    -o milter.user= -o dns.nameservers=127.0.0.1@9
umask 022
tb_ready milter "on $S" 10 tb_grep 'started: ' "$TB/milter.log"

# The umask in force at bind(): the last umask() call before it.
mask=$(awk -v s="$S" '/ umask\(/ { m = $0; sub(/.*umask\(/, "", m); sub(/\).*/, "", m) }
    index($0, "bind(") && index($0, "\"" s "\"") { print m; exit }' "$TB/strace")
tb_is "$mask" 0117 "bind() runs under umask 0117: the socket is born 0660"
tb_is "$(grep -cE "chmod\(.*\"$S\"|fchmodat\(.*\"$S\"" "$TB/strace")" 0 \
    "the socket is never chmod'ed after it exists"
tb_like "$(grep -E "chown\(.*\"$S\"|fchownat\(.*\"$S\"" "$TB/strace")" \
    "fchownat\(AT_FDCWD, \"$S\", -1, $(getent group nogroup | cut -d: -f3), AT_SYMLINK_NOFOLLOW\) = 0" \
    "its group is set without following a link"
tb_is "$(stat -c '%F %a %U %G' "$S")" "socket 660 root nogroup" \
    "the socket: 0660 root:nogroup"
tb_is "$(stat -c '%a %U %G' "$TB/sock")" "750 root nogroup" \
    "its directory is made: 0750, the socket's group"
tb_like "$(grep -m1 ' umask(' "$TB/strace")" 'umask\(027\) += 000' \
    "the daemon sets umask 027 first, whatever it inherited"

# A directory that others may write to (a link could be planted there)
mkdir -m 1777 "$TB/open"
out=$("$MILTER" -f -c /dev/null -o "milter.listen=unix:$TB/open/m.sock,mode=0660" \
    -o milter.user= -o dns.nameservers=127.0.0.1@9 2>&1)
rc=$?
tb_ok "a socket directory others may write to: the milter does not start" \
    test "$rc" -ne 0
tb_like "$out" "directory $TB/open is writable by others \(mode 1777\): refusing to put a socket there" \
    "... and says why"
tb_ok "... and creates nothing there" test ! -e "$TB/open/m.sock"
tb_done
