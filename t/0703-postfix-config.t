#!/bin/bash
# 0703-postfix-config - elemta-postfix-config against a real postconf
# (MAIL_CONFIG: a private main.cf): it prints without changing
# anything, names each socket as the configuration says (relative to
# Postfix's queue_directory when inside it, TCP as is), keeps what
# main.cf already lists (another milter, the admin's restrictions),
# and --apply run twice gives the same main.cf as once.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/pfconfig.sh"

tb_need postfix postconf
tb_init
tb_plan 13

# PC, the daemons of this build as if installed, MAIL_CONFIG=$TB/pf
pfconfig_init
cat >"$TB/pf/main.cf" <<EOT
queue_directory = $TB/spool
smtpd_milters = inet:127.0.0.1:11332
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
EOT
cat >"$TB/elemta.conf" <<EOT
milter { listen = "unix:$TB/spool/elemta/m.sock,mode=0660" }
policyd { listen = "inet:127.0.0.1:10040" }
EOT
before=$(md5sum <"$TB/pf/main.cf")

out=$("$PC" -c "$TB/elemta.conf" 2>&1)
tb_is "$?" 0 "prints"
tb_is "$(md5sum <"$TB/pf/main.cf")" "$before" "printing changes nothing"
tb_like "$out" "postconf -e 'smtpd_milters=inet:127.0.0.1:11332, unix:elemta/m.sock'" \
	"smtpd_milters: the existing milter kept, ours relative to queue_directory"
tb_like "$out" "postconf -e 'smtpd_recipient_restrictions=check_policy_service \\{ inet:127.0.0.1:10040, timeout=10s, default_action=DUNNO \\}, permit_mynetworks, reject_unauth_destination'" \
	"restrictions: the admin's kept, the policy check first (relay refused by smtpd_relay_restrictions), over TCP"
tb_like "$out" "postconf -e 'virtual_transport=lmtp:unix:/var/spool/postfix/elemta/lmtp.sock'" \
	"a socket outside queue_directory keeps its full path"

# Without smtpd_relay_restrictions the recipient list refuses relaying
# itself: the check goes right after reject_unauth_destination, before
# the permits after it (permit_sasl_authenticated must not skip it).
cp "$TB/pf/main.cf" "$TB/main.cf.keep"
cat >>"$TB/pf/main.cf" <<EOT
smtpd_relay_restrictions =
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, permit_sasl_authenticated, reject
EOT
out=$("$PC" -c "$TB/elemta.conf" policyd 2>&1)
tb_like "$out" "postconf -e 'smtpd_recipient_restrictions=permit_mynetworks, reject_unauth_destination, check_policy_service \\{ inet:127.0.0.1:10040, timeout=10s, default_action=DUNNO \\}, permit_sasl_authenticated, reject'" \
	"no relay restrictions: the check right after reject_unauth_destination"
tb_like "$out" "postconf -e 'smtpd_data_restrictions=check_policy_service \\{ inet:127.0.0.1:10040, timeout=10s, default_action=DUNNO \\}'" \
	"an empty data restriction list gets the check alone"
cp "$TB/main.cf.keep" "$TB/pf/main.cf"

"$PC" -c "$TB/elemta.conf" milter >"$TB/one.out" 2>&1
tb_unlike "$(cat "$TB/one.out")" 'policy|virtual_transport' "naming milter prints the milter's lines only"

tb_ok "--apply" "$PC" -c "$TB/elemta.conf" --apply
once=$(postconf -n)
tb_ok "--apply again" "$PC" -c "$TB/elemta.conf" --apply
tb_is "$(postconf -n)" "$once" "a second --apply changes nothing"
tb_is "$(postconf -h smtpd_milters)" "inet:127.0.0.1:11332, unix:elemta/m.sock" \
	"main.cf: smtpd_milters"
tb_ok "a bad argument is refused" sh -c "! '$PC' --bogus 2>/dev/null"
tb_done
