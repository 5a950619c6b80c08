#!/bin/bash
# 0451-milter-postfix-dkim - DKIM verification through a real private
# Postfix with elemta-milter as smtpd_milters and the keys in unbound:
# messages signed here with python3-dkim (the harness' RSA key, sel1)
# arrive with dkim=pass; a tampered body, a tampered header and a
# signature whose key is not published arrive with dkim=fail /
# permerror in the delivered Authentication-Results, and are refused
# with 550 5.7.20 (Postfix logs the milter-reject) once
# dkim_on_bad_signature / dkim_on_key_not_found say reject.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

PY=/usr/bin/python3
milter_require postfix smtp-sink swaks unbound
$PY -c 'import dkim' 2>/dev/null ||
    tb_missing "python3-dkim missing (tools/install-deps)"
tb_init
tb_plan 14
peer_start_unbound
milter_start
milter_postfix

# sign SUBJECT SELECTOR OUT - a message from example.test signed by
# python3-dkim with the harness' RSA key under SELECTOR, CRLF
sign() {
	cat >"$TB/unsigned.eml" <<EOF2
From: User <user@example.test>
To: Bob <bob@sink.test>
Subject: $1
Date: Mon, 01 Jan 2024 00:00:00 +0000
Message-ID: <${1// /-}@example.test>

Hello Bob,
this body is signed.
EOF2
	milter_pydkim_sign "$TB/unsigned.eml" "$3" --selector "$2" \
	    --headers from,to,subject,date,message-id
}

# send_file SUBJECT FILE [swaks args] - the file as the whole message
send_file() {
	local subject=$1 file=$2

	shift 2
	milter_send "$subject" --data "$file" "$@"
}

sign "dkim good" sel1 "$TB/good.eml"
out=$(send_file "dkim good" "$TB/good.eml")
tb_like "$out" '250 2\.0\.0 Ok: queued' "good: queued" || tb_diag "$out"
f=$(milter_wait_delivered "dkim good")
ar=$(milter_authres "$f")
tb_like "$ar" 'dkim=pass header\.d=example\.test header\.i=@example\.test header\.s=sel1 header\.a=rsa-sha256' \
    "good: dkim=pass in the delivered A-R"
tb_like "$ar" 'dmarc=pass ' "good: DMARC passes with it"

sign "dkim body" sel1 "$TB/body.eml"
sed -i 's/this body is signed/this body was changed/' "$TB/body.eml"
out=$(send_file "dkim body" "$TB/body.eml")
f=$(milter_wait_delivered "dkim body")
tb_like "$(milter_authres "$f")" 'dkim=fail \(body hash mismatch\) header\.d=example\.test' \
    "tampered body: dkim=fail (body hash mismatch)"

sign "dkim header" sel1 "$TB/header.eml"
sed -i 's/^Subject: dkim header/Subject: dkim header changed/' "$TB/header.eml"
out=$(send_file "dkim header changed" "$TB/header.eml")
f=$(milter_wait_delivered "dkim header changed")
tb_like "$(milter_authres "$f")" 'dkim=fail \([^)]*\) header\.d=example\.test' \
    "tampered header: dkim=fail"
tb_like "$(milter_log 'dkim=fail\(d=example\.test .*action=accept')" \
    "action=accept" "tampered: the milter logs it, action=accept by default"

sign "dkim nokey" nokey "$TB/nokey.eml"
out=$(send_file "dkim nokey" "$TB/nokey.eml")
f=$(milter_wait_delivered "dkim nokey")
tb_like "$(milter_authres "$f")" 'dkim=permerror \(key not found in DNS\) header\.d=example\.test header\.i=@example\.test header\.s=nokey' \
    "missing key: dkim=permerror"

# enforcement, switched on by a reload
milter_set dkim_on_bad_signature=reject dkim_on_key_not_found=reject
sign "dkim body2" sel1 "$TB/body2.eml"
sed -i 's/this body is signed/this body was changed/' "$TB/body2.eml"
out=$(send_file "dkim body2" "$TB/body2.eml")
tb_like "$out" '<\*\* +550 5\.7\.20 ' "tampered body, enforced: 550 5.7.20" ||
    tb_diag "$out"
tb_like "$(milter_maillog 'milter-reject: END-OF-MESSAGE from [^ ]*\[192\.0\.2\.1\]: 5\.7\.20 .*helo=')" \
    "5\.7\.20" "tampered body, enforced: Postfix logs milter-reject 5.7.20"

sign "dkim header2" sel1 "$TB/header2.eml"
sed -i 's/^Subject: dkim header2/Subject: dkim header2 changed/' \
    "$TB/header2.eml"
out=$(send_file "dkim header2 changed" "$TB/header2.eml")
tb_like "$out" '<\*\* +550 5\.7\.20 ' "tampered header, enforced: 550 5.7.20"

sign "dkim nokey2" nokey "$TB/nokey2.eml"
out=$(send_file "dkim nokey2" "$TB/nokey2.eml")
tb_like "$out" '<\*\* +550 5\.7\.20 ' "missing key, enforced: 550 5.7.20"
tb_is "$(grep -c 'milter-reject: END-OF-MESSAGE.*: 5\.7\.20 ' "$TB_MAILLOG")" 3 \
    "Postfix logged the three rejections"

sign "dkim good2" sel1 "$TB/good2.eml"
out=$(send_file "dkim good2" "$TB/good2.eml")
f=$(milter_wait_delivered "dkim good2")
tb_like "$(milter_authres "$f")" 'dkim=pass header\.d=example\.test' \
    "enforced: a good signature still passes"
tb_is "$(ls "$TB_SINK_DIR" | wc -l)" 5 \
    "smtp-sink holds the 5 accepted messages, none of the rejected"
tb_done
