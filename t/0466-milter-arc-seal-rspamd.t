#!/bin/bash
# 0466-milter-arc-seal-rspamd - the ARC seal after the Rspamd stage's
# header edits (the harness' real rspamd, through -t): a message rspamd
# wants "rewrite subject" for (its ZJS test pattern), carrying a sender's
# X-Spam header, gets the claimed X-Spam removed, X-Spam: Yes and the
# score line added and its Subject changed, and then our ARC set, the
# last edit: the ARC-Message-Signature signs the rewritten Subject, so
# that the message as the MTA leaves it (every edit applied by a second
# implementation, t/data/milter/arc-seal.py) validates as cv=pass with
# python3-dkim and Mail::DKIM, and fails when the Subject is put back.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
ARC=$top_srcdir/t/data/milter/arc-seal.py
milter_require unbound redis rspamd
$PY -c 'import dkim, authres' 2>/dev/null ||
    tb_missing "python3-dkim or python3-authres missing (tools/install-deps)"
perl -MMail::DKIM::ARC::Verifier -MNet::DNS -e 1 2>/dev/null ||
    tb_missing "Mail::DKIM::ARC or Net::DNS missing (tools/install-deps)"
tb_init
tb_plan 9
milter_arc_keys
peer_start_redis
peer_start_rspamd

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
GTUBE_SUBJ=Z${GTUBE#X}		# rspamd's "rewrite subject" pattern
printf '%s\r\n' "From: Bob <bob@other.test>" "To: <alice@sink.test>" \
    "Subject: forwarded" "Date: Mon, 01 Jan 2024 00:00:00 +0000" \
    "Message-ID: <rs-1@other.test>" "X-Spam: No" "MIME-Version: 1.0" \
    "Content-Type: text/plain" "" "$GTUBE_SUBJ" >"$TB/spam.eml"

out=$(milter_offline "$TB/spam.eml" 192.0.2.10 bob@other.test \
    -o "milter.rspamd_url=$TB_RSPAMD_URL" \
    -o "milter.dkim_key_table=$TB/keys" -o milter.arc_seal_domain=example.test)
tb_like "$out" $'delete-header: X-Spam 1\n(.*\n)*change-header: Subject 1: ' \
    "rspamd's edits: the claimed X-Spam removed, the Subject rewritten" ||
    tb_diag "$out"
tb_like "$out" "add-header: X-Spam: Yes" "... X-Spam: Yes added"
tb_is "$(grep -o '^[a-z-]*header[ 0-9]*: [A-Za-z-]*' <<<"$out" | tail -3 |
    sed 's/.*: //' | xargs)" \
    "ARC-Authentication-Results ARC-Message-Signature ARC-Seal" \
    "the ARC set is the last edit"
tb_like "$out" "h=From:To:Subject:Date:From;" "the AMS signs the Subject"
$PY "$ARC" apply "$TB/out.eml" "$TB/spam.eml" <<<"$out"
subj=$(grep -m1 '^Subject:' "$TB/out.eml" | tr -d '\r')
tb_unlike "$subj" "^Subject: forwarded$" "the delivered Subject is rspamd's ($subj)"
tb_like "$(milter_arc_pyverify "$TB/out.eml")" "^pass 1 success" \
    "python3-dkim: cv=pass over rspamd's edits"
tb_like "$(milter_arc_plverify "$TB/out.eml")" "^pass" \
    "Mail::DKIM: pass over rspamd's edits"
sed 's/^Subject: .*/Subject: forwarded\r/' "$TB/out.eml" >"$TB/back.eml"
tb_like "$(milter_arc_pyverify "$TB/back.eml")" "^fail" \
    "the Subject put back as received: fails (the AMS signed rspamd's)"
tb_like "$(cat "$TB/stderr")" "arc-seal=i=1\(cv=none d=example.test s=sel1\)" \
    "the summary names the seal"

tb_done
