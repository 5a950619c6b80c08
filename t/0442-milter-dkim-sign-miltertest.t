#!/bin/bash
# 0442-milter-dkim-sign-miltertest - the real elemta-milter daemon
# driven by miltertest: a client that authenticated ({auth_type} macro)
# gets DKIM-Signature headers inserted (RSA and Ed25519, from a key and
# signing table), which python3-dkim verifies against the harness'
# unbound; an unauthenticated client does not; the summary log line.
# SIGUSR1 reloads the tables (one key now); a reload that meets a key of
# mode 0644 keeps the keys it had and says so.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
VERIFY=$top_srcdir/t/data/milter/dkim-sign-verify.py
milter_require unbound
tb_need miltertest miltertest
milter_require_pydkim
tb_init
tb_plan 12
peer_start_unbound

milter_signing_tables

TB_MILTER_AUTHSERV=mx.elemta.test
milter_start -- -o "milter.dkim_key_table=$TB/keys" \
    -o "milter.dkim_signing_table=$TB/signing" -o log.level=debug
LOG=$TB_MILTER_LOG

out=$(miltertest -D "port=$TB_PORT_MILTER" \
    -s "$TB_DATA/milter/dkim-sign.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "miltertest script ran to the end"
[ "$rc" = 0 ] || tb_diag "$out" "$(tail -n 20 "$LOG")"
tb_like "$out" "ok: authenticated client signed" \
    "{auth_type}: DKIM-Signature headers inserted"
tb_like "$out" "ok: unauthenticated client not signed" \
    "no {auth_type}, external client: not signed"

# The message as delivered: the signatures on top, then what was sent.
$PY -c '
import re, sys
sigs = [l[5:].replace("\\n", "\n").lstrip(" ")
        for l in sys.stdin.read().splitlines()
        if l.startswith("sig: ")]
msg = "".join("DKIM-Signature: %s\r\n" % s.replace("\n", "\r\n")
              for s in reversed(sigs))
msg += ("From: User <user@example.test>\r\nTo: bob@remote.test\r\n"
        "Subject: signed by the milter\r\n\r\n"
        "Hello Bob.\r\nSigned on the way out.\r\n")
open(sys.argv[1], "w", newline="").write(msg)
' "$TB/signed.eml" <<<"$out"
py=$($PY "$VERIFY" "$TB/signed.eml" "$TB_DNS" 2>&1)
tb_like "$py" "a=rsa-sha256 d=example.test s=$TB_DKIM_RSA_SELECTOR pass" \
    "python3-dkim: the milter's RSA signature passes"
tb_like "$py" "a=ed25519-sha256 d=example.test s=$TB_DKIM_ED25519_SELECTOR pass" \
    "python3-dkim: the milter's Ed25519 signature passes"
tb_like "$(cat "$LOG")" "1A2B3C4D: spf=skipped\(authenticated\) dkim-sign=rsa-sha256\(d=example.test s=sel1\) dkim-sign=ed25519-sha256\(d=example.test s=ed1\)" \
    "summary log line names the signatures"
tb_like "$(cat "$LOG")" "5E6F7A8B: spf=[a-z]+ .*dkim=none" \
    "the unauthenticated message was verified"

# SIGUSR1: the signing table now names the RSA key only.
echo '*@example.test rsa' >"$TB/signing"
kill -USR1 "$(tb_pid milter)"
tb_wait 5 tb_grep "reloaded 2 keys, 1 signing-table" "$LOG"
tb_like "$(cat "$LOG")" "dkim signing: reloaded 2 keys, 1 signing-table entries" \
    "SIGUSR1 reloads the keys"
out=$(miltertest -D "port=$TB_PORT_MILTER" -D nsigs=1 \
    -s "$TB_DATA/milter/dkim-sign.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "after the reload: one signature (RSA only)"
[ "$rc" = 0 ] || tb_diag "$out"

# A reload that meets a key others can read keeps the old keys.
cp "$TB_DKIM_ED25519_KEY" "$TB/open.private"
chmod 0644 "$TB/open.private"
echo "ed example.test:$TB_DKIM_ED25519_SELECTOR:$TB/open.private" >"$TB/keys"
echo '*@example.test ed' >"$TB/signing"
kill -USR1 "$(tb_pid milter)"
tb_wait 5 tb_grep "resolver and keys loaded before" "$LOG"
tb_like "$(cat "$LOG")" "error: dkim signing: $TB/keys:1: key ed: $TB/open.private: mode 0644: .*: reload refused: keeping the configuration, resolver and keys loaded before" \
    "a key of mode 0644 at reload: refused, logged"
out=$(miltertest -D "port=$TB_PORT_MILTER" -D nsigs=1 \
    -s "$TB_DATA/milter/dkim-sign.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "and the keys loaded before still sign"
[ "$rc" = 0 ] || tb_diag "$out"
tb_ok "the milter is still running" tb_alive "$(tb_pid milter)"
tb_done
