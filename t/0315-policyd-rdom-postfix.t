#!/bin/bash
# 0315-policyd-rdom-postfix - a recipient_domain byte limit behind Postfix
#
# A limit of 1000 bytes per hour per recipient domain, checked at RCPT,
# DATA and END-OF-DATA.  One message of about 700 bytes to two recipients
# in one domain is charged once (700, not 1400: it passes), and one to 70
# recipients in 70 domains is charged to every domain (a second message
# of the same size to the 70th domain is refused at END-OF-DATA; charges
# used to stop after the 64th).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require postfix smtp-sink swaks
tb_init
tb_plan 5

P=$TB_PORT_POLICY
mkdir -p "$TB/conf"
cat >"$TB/conf/elemta.conf" <<CONF
policyd {
	client_message_limit = 0
	sasl_user_message_limit = 0
	limit rdom {
		key = recipient_domain
		unit = bytes
		rate = 1000
		action = reject
	}
}
CONF
chmod 644 "$TB/conf/elemta.conf"
pol_start policyd "$P" -c "$TB/conf/elemta.conf"
# every domain is relayed to the sink
pol_postfix_with_policy "$P" "relay_domains = static:all"

body=$(printf 'x%.0s' $(seq 1 500))
# send TO - one message of about 700 bytes to the comma list TO
send() {
	pol_send --to "$1" --header "To: undisclosed-recipients:;" \
	    --body "$body"
}

out=$(send "a@d0.test,b@d0.test")
tb_like "$out" '250 2\.0\.0 Ok: queued' \
    "two recipients in one domain: charged once, accepted" ||
    tb_diag "$(tail -n 6 <<<"$out")"
to=$(for i in $(seq 1 70); do printf 'r@e%d.test,' "$i"; done)
out=$(send "${to%,}")
tb_like "$out" '250 2\.0\.0 Ok: queued' "70 recipients in 70 domains: accepted" ||
    tb_diag "$(tail -n 6 <<<"$out")"
out=$(send r2@e70.test)
tb_like "$out" '550 5\.7\.1 .*Byte rate limit exceeded for recipient domain e70\.test \(1000 per 1h\)' \
    "the 70th domain was charged: a second message to it is refused" ||
    tb_diag "$(tail -n 6 <<<"$out")"
out=$(send r2@e1.test)
tb_like "$out" '550 5\.7\.1 .*Byte rate limit exceeded for recipient domain e1\.test' \
    "so is one to the 1st" || tb_diag "$(tail -n 6 <<<"$out")"
tb_ok "logged at END-OF-MESSAGE" \
    tb_grep 'action=reject limit=rdom key=rdom:e70.test used=[0-9]* max=1000 period=1h retry=[0-9]*s state=END-OF-MESSAGE' "$TB/policyd/log"
tb_done
