#!/bin/bash
# 0463-milter-postfix-clamd - the ClamAV stage's clamd back end
# (clamav_clamd, INSTREAM) against a real clamd (Debian's clamav-daemon,
# started here with the database built here), behind a real private
# Postfix: the cases of t/0464 (EICAR attached and our signatures
# rejected with the name in the SMTP reply, clean mail and a message
# with no body delivered with X-Virus-Scanned, over scan_max_size
# unscanned with X-Elemta-Scan), over clamd's StreamMaxLength (INSTREAM
# size limit: clamav_fail_action, and the log says why), clamd's unix
# socket, clamd stopped (451 4.7.1, or accept); -t names the virus.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require postfix smtp-sink swaks unbound clamav clamd
tb_need zip zip
tb_init
tb_plan 20
milter_clamav_db
peer_start_clamd "StreamMaxLength 2M"
mkdir -m 0700 "$TB/state"
TCP=inet:127.0.0.1:$TB_PORT_CLAMD

# kept by every milter_set (clamav_clamd is given each time)
TB_MILTER_KEEP=("database.directory=$TB/state" spf=false dkim=false
    dmarc=false)
milter_start "${TB_MILTER_KEEP[@]}" "clamav_clamd=$TCP"
milter_postfix "message_size_limit = 20000000"

eicar='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL'
milter_clamav_viruses clamd
milter_clamav_clean clamd

# 3 MB: over clamd's StreamMaxLength (2M)
milter_msg_big three 3 >"$TB/three.eml"
out=$(milter_send "three" --data "$TB/three.eml")
tb_like "$out" '<\*\* +451 4\.7\.1 virus scan unavailable' \
    "over clamd's StreamMaxLength: clamav_fail_action (tempfail)"
tb_like "$(milter_log 'clamav: no scan: clamd: INSTREAM size limit')" \
    "StreamMaxLength is under the message's size: keep scan_max_size below it" \
    "... the log says why and what to do"
milter_set "clamav_clamd=$TCP" scan_max_size=1M
out=$(milter_send "three" --data "$TB/three.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "scan_max_size under it: accepted"
f=$(milter_wait_delivered "three")
tb_like "$(milter_headers "$f")" $'(^|\n)X-Elemta-Scan: skipped ' \
    "... unscanned, with X-Elemta-Scan"

# the unix socket
milter_set "clamav_clamd=unix:$TB_CLAMD_SOCKET"
out=$(milter_send "eicar unix" --attach "@$TB_EICAR")
tb_like "$out" "<\\*\\* +550 5\\.7\\.1 virus found: $eicar" \
    "clamd's unix socket: EICAR rejected"

# -t
printf 'Subject: t\n\n%s\n' "$(cat "$TB_EICAR")" >"$TB/eicar.eml"
tb_like "$(milter_t "$TB/eicar.eml" -o "milter.clamav_clamd=$TCP" \
    -o milter.spf=false -o milter.dkim=false -o milter.dmarc=false \
    -o "database.directory=$TB/state")" \
    "verdict: reject 550 5\\.7\\.1 virus found: $eicar\$" \
    "-t with clamd: the verdict names the virus"

# clamd stopped
tb_stop clamd
milter_set "clamav_clamd=$TCP"
out=$(milter_send "clamd down")
tb_like "$out" '<\*\* +451 4\.7\.1 virus scan unavailable, try again later' \
    "clamd stopped: 451 4.7.1"
tb_like "$(milter_log 'clamav: no scan: connect inet:')" \
    "Connection refused: tempfail" "... the log names the connection error"
milter_set "clamav_clamd=$TCP" clamav_fail_action=accept
out=$(milter_send "clamd down accept")
tb_like "$out" '250 2\.0\.0 Ok: queued' "clamd stopped, clamav_fail_action=accept: accepted"
tb_ok "clamav_database and clamav_clamd together: a configuration error" \
    eval "! \"\$MILTER\" -n -c /dev/null -o milter.clamav_clamd=$TCP \
    -o milter.clamav_database=$TB_CLAMAV_DB >/dev/null 2>&1"
tb_done
