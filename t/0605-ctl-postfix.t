#!/bin/bash
# 0605-ctl-postfix - elemta-ctl postfix runs elemta-postfix-config (its
# logic lives there, once) on elemta-ctl's own -c, against a real
# postconf; and the bash completion of contrib/bash-completion offers
# the commands, the daemons and the subcommands.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/ctl.sh"
. "$top_srcdir/t/lib/pfconfig.sh"

ctl_init
tb_need postfix postconf
tb_init
tb_plan 13

# PC, the daemons of this build as if installed, MAIL_CONFIG=$TB/pf
pfconfig_init
printf 'queue_directory = %s/spool\n' "$TB" >"$TB/pf/main.cf"
cat >"$TB/elemta.conf" <<EOT
milter { listen = "unix:$TB/spool/elemta/m.sock,mode=0660" }
policyd { listen = "inet:127.0.0.1:10040" }
EOT

out=$("$CTL" -c "$TB/elemta.conf" postfix 2>&1)
tb_is "$?" 0 "postfix: exit 0"
tb_is "$out" "$("$PC" -c "$TB/elemta.conf" 2>&1)" \
    "postfix: the lines elemta-postfix-config prints, from the same -c"
tb_like "$out" "smtpd_milters=unix:elemta/m.sock" "postfix: the milter's socket"
out=$("$CTL" -c "$TB/elemta.conf" postfix policyd 2>&1)
tb_unlike "$out" 'smtpd_milters' "postfix DAEMON: only that daemon's lines"
tb_ok "postfix --apply" "$CTL" -c "$TB/elemta.conf" postfix --apply
tb_is "$(postconf -h smtpd_milters)" "unix:elemta/m.sock" \
    "postfix --apply: main.cf has the milter"
"$CTL" -c "$TB/elemta.conf" -o milter.listen=inet:1 postfix >/dev/null 2>&1
tb_is "$?" 2 "postfix with -o: a usage error (the lines come from the file)"

# complete WORDS... - what the completion offers for the last word
complete_() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_elemta_ctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
	    "$top_srcdir/contrib/bash-completion/elemta-ctl" "$@" | sort | xargs
}
tb_is "$(complete_ elemta-ctl r)" "ratelimit reload route" \
    "completion: the commands"
tb_is "$(complete_ elemta-ctl -c f reload '')" "all lmtp-bridge milter policyd" \
    "completion: the daemons, after an option"
tb_is "$(complete_ elemta-ctl config '')" "check dump" \
    "completion: config's subcommands"
tb_is "$(complete_ elemta-ctl ratelimit s)" "show" \
    "completion: ratelimit's subcommands"
tb_is "$(complete_ elemta-ctl dkim '')" "keygen testkey" \
    "completion: dkim's subcommands"
tb_is "$(complete_ elemta-ctl greylist '')" "allow delete list" \
    "completion: greylist's subcommands"
tb_done
