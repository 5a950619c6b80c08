#!/bin/bash
# 0521-lmtp-bridge-backends - real Postfix -> elemta-lmtp-bridge -> two
# real Dovecot backends with the quota plugin (one says 552 5.2.2 when a
# mailbox is full, the other 452 4.2.2) and a Lua hook that can make a
# delivery slow:
# - one message, five recipients on two backends: quota passed through
#   per recipient, failover from a dead address to the next before DATA;
# - backends in parallel: a slow backend does not delay the other;
# - pooled connections: the next message reuses one (RSET probe);
# - a backend killed (SIGKILL) after the final dot: 4xx, Postfix keeps the mail,
#   and once the backend is back it is delivered exactly once.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require postfix dovecot smtp-sink swaks
tb_init
tb_plan 22

DEAD=$(tb_port 90)		# nothing listens there
FLAGS=$TB/flags			# slow-USER: seconds the hook sleeps
mkdir -p "$FLAGS"
chmod 755 "$TB" "$FLAGS"
cat >"$TB/hook.lua" <<EOF
-- test hook: a delivery to USER sleeps while $FLAGS/slow-USER exists
function mail_user_created(user)
  local f = io.open("$FLAGS/slow-" .. user.username, "r")
  if f then
    local secs = f:read("*n") or 1
    f:close()
    os.execute("touch '$FLAGS/sleeping-" .. user.username .. "'; sleep " .. secs)
  end
end
EOF
chmod 644 "$TB/hook.lua"

# start_backend NAME PORT [LINES] - Dovecot with quota (full@ has 1 kB)
# and the hook
start_backend() {
	local name=$1 port=$2

	shift 2
	peer_start_dovecot "$name" "$port"
	echo 'full@example.test:{PLAIN}fullpw::::::userdb_quota_rule=*:storage=1K' \
	    >>"$TB/$name/users"
	lmtp_dovecot_extra "$name" \
	    'mail_plugins = $mail_plugins quota mail_lua' \
	    'plugin {' '  quota = maildir:User quota' \
	    "  mail_lua_script = $TB/hook.lua" '}' "$@"
}
start_backend dovecot "$TB_PORT_LMTP"
start_backend dovecot2 "$TB_PORT_LMTP2" 'quota_full_tempfail = yes'
peer_start_smtp_sink

cat >"$TB/lmtp-map" <<EOF
bob@example.test      inet:127.0.0.1:$TB_PORT_LMTP2
tfull@example.test    inet:127.0.0.1:$TB_PORT_LMTP2,full@example.test
fo@example.test       inet:127.0.0.1:$DEAD;inet:127.0.0.1:$TB_PORT_LMTP2,bob@example.test
EOF
lmtp_conf "map_file = \"$TB/lmtp-map\"" "backend_idle_timeout = 120s"
lmtp_start_bridge
lmtp_start_postfix

big=$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 70)
subject="tb-0521 $$ $RANDOM"
lmtp_send alice@example.test,full@example.test,tfull@example.test,bob@example.test,fo@example.test "$subject" --body "$big"
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts one message for five recipients ($qid)" ||
    tb_diag "$out"
lmtp_wait 30 "" 5
tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: alice sent"
tb_like "$(status_of "$qid" full@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 552 5\.2\.2 <full@example.test> Quota exceeded" \
    "maillog: full bounced with Dovecot's 552 5.2.2"
tb_like "$(status_of "$qid" tfull@example.test)" \
    "status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 452 4\.2\.2 <full@example.test> Quota exceeded" \
    "maillog: tfull deferred with the other backend's 452 4.2.2"
tb_like "$(status_of "$qid" bob@example.test)" \
    "status=sent \(250 2\.0\.0 <bob@example.test> .*Saved\)" \
    "maillog: bob sent (second backend)"
tb_like "$(status_of "$qid" fo@example.test)" \
    "status=sent \(250 2\.0\.0 <bob@example.test> .*Saved\)" \
    "maillog: fo sent through the second address of its backend"
tb_is "$(copies bob@example.test "$subject" dovecot2)" 2 \
    "bob's Maildir on the second backend: two copies (bob, fo)"
tb_is "$(copies alice@example.test "$subject"):$(copies full@example.test "$subject"):$(copies full@example.test "$subject" dovecot2)" \
    "1:0:0" "alice's Maildir: one copy; full's on either backend: none"
tb_like "$(grep "$qid: backend=inet:127.0.0.1:$DEAD;" "$BLOG")" \
    "addr=inet:127\.0\.0\.1:$TB_PORT_LMTP2 attempts=2: failover" \
    "bridge log: failover from the dead address before DATA"

# Parallel: bob's backend takes 4 s; alice's does not wait for it.
echo 4 >"$FLAGS/slow-bob@example.test"
chmod 644 "$FLAGS/slow-bob@example.test"
lmtp_send bob@example.test,alice@example.test "$subject parallel"
lmtp_wait 30 ".*status=sent" 2
rm -f "$FLAGS/slow-bob@example.test"
bob_line=$(grep "$qid: to=<bob@example.test> backend=" "$BLOG")
alice_line=$(grep "$qid: to=<alice@example.test> backend=" "$BLOG")
tb_like "$bob_line" "status=delivered" "parallel: bob delivered (slow backend)"
tb_like "$alice_line" "status=delivered" "parallel: alice delivered"
bob_delay=$(sed -n 's/.* delay=\([0-9.]*\) .*/\1/p' <<<"$bob_line")
alice_delay=$(sed -n 's/.* delay=\([0-9.]*\) .*/\1/p' <<<"$alice_line")
alice_start=$(sed -n 's/.* start=\([0-9.]*\) .*/\1/p' <<<"$alice_line")
tb_ok "bob's backend took the hook's 4 s (delay=$bob_delay)" \
    awk -v d="$bob_delay" 'BEGIN { exit !(d >= 3.5) }'
tb_ok "alice's started at once and took under 2 s (start=$alice_start delay=$alice_delay): the backends overlapped" \
    awk -v s="$alice_start" -v d="$alice_delay" 'BEGIN { exit !(s < 1 && d < 2) }'

# Pooled connections: the next message reuses one.
lmtp_send alice@example.test "$subject pooled"
lmtp_wait 20 "<alice@example.test>.* status=sent"
tb_like "$(grep "$qid: to=<alice@example.test> backend=" "$BLOG")" \
    "conn=reused .*status=delivered" \
    "pool: an idle connection answered RSET and was reused"

# Killed after the final dot, while Dovecot delivers: 4xx, no loss.  The
# parallel part above left its own sleeping- flag: only this delivery's
# may say that the hook is sleeping now.
rm -f "$FLAGS/sleeping-bob@example.test"
echo 60 >"$FLAGS/slow-bob@example.test"
chmod 644 "$FLAGS/slow-bob@example.test"
lmtp_send bob@example.test "$subject killed"
tb_wait 20 test -e "$FLAGS/sleeping-bob@example.test"
tb_ok "Dovecot is delivering (the hook runs after the final dot)" \
    test -e "$FLAGS/sleeping-bob@example.test"
# SIGKILL, as a crash would: a SIGTERM lets Dovecot finish the delivery.
# All at once: had the hook's "sleep" died first, the lmtp process would
# have stored the message before its own SIGKILL.
tb_crash dovecot2
rm -f "$FLAGS/slow-bob@example.test"
lmtp_wait 20 "<bob@example.test>.* status=deferred"
tb_like "$(status_of "$qid" bob@example.test)" \
    "status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 451 4\.4\.2 Backend inet:127\.0\.0\.1:$TB_PORT_LMTP2: delivery status unknown after end of data" \
    "backend killed after the final dot: deferred with 451 4.4.2"
tb_like "$(postqueue -c "$TB_POSTFIX_CONF" -p 2>&1)" "$qid" \
    "Postfix keeps the message in its queue"
tb_is "$(copies bob@example.test "$subject killed" dovecot2)" 0 \
    "nothing was stored"
tb_ok "the bridge is still running" tb_alive "$(tb_pid bridge)"

start_backend dovecot2 "$TB_PORT_LMTP2" 'quota_full_tempfail = yes'
postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
lmtp_wait 30 "<bob@example.test>.* status=sent"
tb_like "$(status_of "$qid" bob@example.test)" "status=sent" \
    "once the backend is back, the message is delivered"
tb_is "$(copies bob@example.test "$subject killed" dovecot2)" 1 \
    "... exactly once"
tb_is "$(grep -c "$qid: to=<bob@example.test>.*status=sent" "$TB_MAILLOG")" 1 \
    "... and Postfix says sent once"
tb_done
