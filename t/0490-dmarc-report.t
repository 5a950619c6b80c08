#!/bin/bash
# 0490-dmarc-report - elemta-dmarc-report on a history the real milter
# wrote (elemta-milter -t against the harness' unbound): the records and
# their counts (xmllint XPath), the report valid against RFC 9990's XSD,
# a hostile header_from escaped, --dry-run sending nothing, rua= with an
# external destination verified (alice@example.test) and one not
# (carol@unverified.test), a !size limit, a temporary failure of
# sendmail kept and retried by the next run, the ARC trusted-sealer
# override as a local_policy reason, the report arriving in
# Dovecot through a real Postfix with an attachment that gunzips to the
# same XML, a second run sending nothing twice, and history expiry.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

REPORT=${top_builddir:-.}/reports/elemta-dmarc-report
XSD=$top_srcdir/t/data/dmarc-report/dmarc-2.0.xsd
[[ -x $REPORT ]] || tb_skip_all "elemta-dmarc-report not built"
milter_require unbound postfix dovecot smtp-sink sqlite3
tb_need xmllint xmllint
milter_require_pydkim
tb_init
tb_plan 32

# report.test asks for reports at example.test (verified: the
# _report._dmarc record), at bob with a 100-byte limit, at carol in a
# domain that never agreed, and over https (not mailto: skipped).
cat >"$TB/extra-zones.conf" <<'EOF2'
local-zone: "report.test." static
local-data: 'report.test. 300 IN TXT "v=spf1 ip4:192.0.2.40 -all"'
local-data: '_dmarc.report.test. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:alice@example.test,mailto:bob@example.test!100,mailto:carol@unverified.test,https://r.example.test/"'
local-data: 'report.test._report._dmarc.example.test. 300 IN TXT "v=DMARC1"'
local-zone: "unverified.test." static
local-data: 'unverified.test. 300 IN A 192.0.2.99'
EOF2
peer_dkim_keys
{
	printf 'local-zone: "fwd.test." static\n'
	printf "local-data: 'sel1._domainkey.fwd.test. 300 IN TXT %s'\n" \
	    "$(peer_txt_strings "$(peer_dkim_record rsa)")"
} >>"$TB/extra-zones.conf"
peer_start_unbound "$TB/extra-zones.conf"
peer_start_dovecot
peer_start_smtp_sink
peer_start_postfix

# msg FROM - a message from FROM
msg() {
	cat <<EOF2
From: $1
To: alice@example.test
Subject: report test
Message-ID: <report-test-$RANDOM@report.test>
Date: Mon, 01 Jan 2024 00:00:00 +0000

Hello.
EOF2
}

# --- The history, written by the milter itself.
mkdir -p "$TB/db" "$TB/out" "$TB/out2"
hist() {
	milter_offline "$@" -o "database.directory=$TB/db" \
	    -o milter.dmarc_history=dmarc.sqlite >/dev/null
}
msg "User <user@report.test>" >"$TB/r.eml"
msg "User <user@example.test>" >"$TB/e.eml"
for i in 1 2 3; do hist "$TB/r.eml" 192.0.2.40 user@report.test; done
for i in 1 2; do hist "$TB/r.eml" 192.0.2.41 user@other.test; done
hist "$TB/r.eml" 192.0.2.41 user@other.test -o milter.dmarc_enforce=true
hist "$TB/e.eml" 192.0.2.1 user@example.test
# forwarded by fwd.test, which sealed it (ARC) and is trusted: SPF fails
# from its address, the quarantine is lifted and the row says why
/usr/bin/python3 "$TB_DATA/milter/arc-chain.py" "$TB_DKIM_RSA_KEY" \
    "$TB/r.eml" "$TB/arc.eml" fwd.test || tb_bail "arc-chain.py failed"
hist "$TB/arc.eml" 192.0.2.99 user@report.test -o milter.dmarc_enforce=true \
    -o 'milter.arc_trusted_sealers={fwd.test}'
DB=$TB/db/dmarc.sqlite
tb_is "$(sqlite3 "$DB" 'SELECT count(*) FROM dmarc_history')" 8 \
    "the milter wrote 8 history rows"
# All of them yesterday (the default day, UTC); a hostile row the way
# the milter stores one; one row past the 30 days kept.
day=$(( ($(date +%s) / 86400 - 1) * 86400 ))
sqlite3 "$DB" "UPDATE dmarc_history SET ts = $day + 3600 + id;
INSERT INTO dmarc_history (ts, source_ip, header_from, envelope_from,
  policy_domain, p, sp, adkim, aspf, result, disposition, spf_domain,
  spf_result, spf_scope, spf_aligned, dkim, dkim_aligned)
  VALUES ($day + 7200, '192.0.2.66', 'x<&\">''.report.test', 'e<v>il',
  'report.test', 'q', 'q', NULL, NULL, 'fail', 'none', 'e<v>il',
  'fail', 'mfrom', 0, 'd=a<b;s=c&d;r=pass', 0);
INSERT INTO dmarc_history (ts, source_ip, header_from, policy_domain, p,
  result, disposition) VALUES ($(date +%s) - 40 * 86400, '192.0.2.77',
  'old.report.test', 'report.test', 'q', 'fail', 'none');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 11999)
INSERT INTO dmarc_history (ts, source_ip, header_from, policy_domain, p,
  result, disposition) SELECT $(date +%s) - 35 * 86400 + i, '192.0.2.78',
  'old.report.test', 'old.test', 'q', 'fail', 'none' FROM n;"

cat >"$TB/tempfail.sh" <<'EOF2'
#!/bin/sh
cat >/dev/null
echo "$*" >>"${0%.sh}.calls"
exit 75
EOF2
chmod +x "$TB/tempfail.sh"

# conf SENDMAIL - the report's configuration
conf() {
	cat >"$TB/elemta.conf" <<EOF2
database {
	directory = "$TB/db"
}
dns {
	nameservers = {"$TB_DNS"}
	timeout = 2
	retries = 0
}
milter {
	authserv_id = "mx.example.test"
	dmarc_history = "dmarc.sqlite"
	dmarc_report_org_name = "Elemta <test> & co"
	dmarc_report_email = "dmarc-reports@reports.example.test"
	dmarc_report_sendmail = "$1"
}
EOF2
}
x() {	# x FILE XPATH - a string of the report
	xmllint --xpath "$2" "$1" 2>/dev/null
}
rec() {	# rec IP - the record of source IP $1 (first, by count)
	echo "//*[local-name()='record'][*[local-name()='row']/*[local-name()='source_ip']='$1']"
}
L() {	# L NAME... - the path of local names
	local p="" n
	for n in "$@"; do p="$p/*[local-name()='$n']"; done
	echo "$p"
}

# --- Dry run: the files, nothing sent, nothing written to the database.
conf "$TB/tempfail.sh"
"$REPORT" -c "$TB/elemta.conf" --dry-run --output "$TB/out" \
    >"$TB/dry.log" 2>&1
tb_is "$?" 0 "--dry-run exits 0" || tb_diag "$(cat "$TB/dry.log")"
f=$(ls "$TB/out" | grep '^reports\.example\.test!report\.test!')
tb_is "$f" "reports.example.test!report.test!$day!$((day + 86399)).xml.gz" \
    "file name receiver!domain!begin!end.xml.gz"
tb_ok "a report for each policy domain (example.test too)" \
    test -f "$TB/out/reports.example.test!example.test!$day!$((day + 86399)).xml.gz"
tb_ok "--dry-run calls no sendmail" test ! -e "$TB/tempfail.calls"
tb_is "$(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master WHERE name = 'dmarc_report_sent'")" 0 \
    "--dry-run records nothing"
gunzip -c "$TB/out/$f" >"$TB/dry.xml"
xmllint --noout --schema "$XSD" "$TB/dry.xml" >"$TB/xsd.log" 2>&1
tb_is "$?" 0 "the report validates against RFC 9990's XSD" ||
    tb_diag "$(cat "$TB/xsd.log")"
X=$TB/dry.xml
# elemta-ctl dmarc report: the same program, the same files
mkdir -p "$TB/out-ctl"
"${top_builddir:-.}/ctl/elemta-ctl" -c "$TB/elemta.conf" dmarc report \
    --dry-run --output "$TB/out-ctl" >"$TB/ctl.log" 2>&1
tb_is "$(gunzip -c "$TB/out-ctl/$f" 2>&1 | grep -v '<report_id>\|<begin>\|<end>' | md5sum)" \
    "$(grep -v '<report_id>\|<begin>\|<end>' "$TB/dry.xml" | md5sum)" \
    "elemta-ctl dmarc report --dry-run writes the same report" ||
    tb_diag "$(cat "$TB/ctl.log")"

# --- Aggregation: one record per tuple, with its count.
tb_is "$(x "$X" "count(//*[local-name()='record'])")" 5 \
    "5 records for 8 messages (expired and other domains apart)"
tb_is "$(x "$X" "string($(rec 192.0.2.40)$(L row count))")" 3 \
    "192.0.2.40, SPF aligned: count 3"
spf=$(x "$X" "string($(rec 192.0.2.40)$(L row policy_evaluated spf))")
dis=$(x "$X" "string($(rec 192.0.2.40)$(L row policy_evaluated disposition))")
tb_is "$spf/$dis" "pass/none" "... spf=pass, disposition none"
r41="//*[local-name()='record'][*[local-name()='row']/*[local-name()='source_ip']='192.0.2.41']"
tb_is "$(x "$X" "string($r41[$(L row policy_evaluated disposition | cut -c2-)='none']$(L row count))")" 2 \
    "192.0.2.41 not enforced: count 2"
tb_is "$(x "$X" "string($r41[$(L row policy_evaluated disposition | cut -c2-)='none']$(L row policy_evaluated reason type))")" \
    local_policy "... with reason local_policy"
tb_is "$(x "$X" "string($r41[$(L row policy_evaluated disposition | cut -c2-)='quarantine']$(L row count))")" 1 \
    "192.0.2.41 enforced: a record of its own, disposition quarantine"
sd=$(x "$X" "string($r41$(L auth_results spf domain))")
ss=$(x "$X" "string($r41$(L auth_results spf scope))")
tb_is "$sd/$ss" "other.test/mfrom" "SPF's domain and scope mfrom"
tb_is "$(x "$X" "concat(//*[local-name()='policy_published']/*[local-name()='p'], ' ', //*[local-name()='policy_published']/*[local-name()='sp'], ' ', //*[local-name()='policy_published']/*[local-name()='adkim'], ' ', //*[local-name()='policy_published']/*[local-name()='aspf'])")" \
    "quarantine quarantine r r" "policy_published with the record's defaults"
tb_is "$(x "$X" "string(//*[local-name()='org_name'])")" "Elemta <test> & co" \
    "org_name (escaped, read back)"

ov="$(rec 192.0.2.99)$(L row policy_evaluated reason)"
tb_is "$(x "$X" "concat($ov/*[local-name()='type'], ' ', $ov/*[local-name()='comment'], ' ', $(rec 192.0.2.99)$(L row policy_evaluated disposition))")" \
    "local_policy arc=pass as.1.d=fwd.test none" \
    "the ARC trusted-sealer override: reason local_policy, its comment"

# --- Hostile identifiers: escaped, read back as they were.
tb_is "$(x "$X" "string($(rec 192.0.2.66)$(L identifiers header_from))")" \
    "x<&\">'.report.test" "a hostile header_from survives escaping"
tb_is "$(x "$X" "string($(rec 192.0.2.66)$(L auth_results dkim selector))")" \
    "c&d" "... and a hostile DKIM selector"

# --- A temporary failure of sendmail: kept for the next run.
"$REPORT" -c "$TB/elemta.conf" >"$TB/run1.log" 2>&1
tb_is "$?" 0 "a run with sendmail failing temporarily exits 0" ||
    tb_diag "$(cat "$TB/run1.log")"
tb_is "$(sqlite3 "$DB" "SELECT dest || '=' || status FROM dmarc_report_sent WHERE policy_domain = 'report.test' ORDER BY dest" | tr '\n' ' ')" \
    "alice@example.test=deferred bob@example.test=too_big carol@unverified.test=unverified " \
    "deferred (EX_TEMPFAIL), over !size, external not verified"
tb_like "$(cat "$TB/run1.log")" "dest=carol@unverified\.test action=skip reason=\"external destination not verified" \
    "the unverified destination is logged"
tb_is "$(cat "$TB/tempfail.calls")" "-i -f dmarc-reports@reports.example.test -- alice@example.test" \
    "only the verified destination within its size was tried"
tb_is "$(sqlite3 "$DB" "SELECT count(*) FROM dmarc_history WHERE source_ip = '192.0.2.77'")" 0 \
    "history older than dmarc_report_history_days expired"
tb_is "$(sqlite3 "$DB" "SELECT count(*) FROM dmarc_history WHERE ts < strftime('%s', 'now') - 30 * 86400")" 0 \
    "... all of it, 12,001 rows (in batches)"

# --- The next run (today's, no history) retries yesterday's deferral
# through the real Postfix, into alice's Maildir.
conf "/usr/sbin/sendmail -C $TB_POSTFIX_CONF"
"$REPORT" -c "$TB/elemta.conf" --date "$(date -u +%F)" >"$TB/run2.log" 2>&1
tb_is "$?" 0 "the retry run exits 0" || tb_diag "$(cat "$TB/run2.log")"
got() {
	grep -l "^Subject: Report Domain: report.test Submitter: reports.example.test" \
	    "$(peer_maildir alice@example.test)"/new/* 2>/dev/null
}
tb_wait 30 got
m=$(got)
tb_like "$m" /new/ "the report arrived in alice's Maildir (Dovecot)" ||
    tb_diag "$(tail -n 20 "$TB_MAILLOG")"
python3 - "$m" "$TB/mail.xml" <<'EOF2' >"$TB/py.log" 2>&1
import email, gzip, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
for part in m.walk():
    if part.get_content_type() == 'application/gzip':
        print(part.get_filename())
        open(sys.argv[2], 'wb').write(gzip.decompress(part.get_payload(decode=True)))
EOF2
tb_is "$(cat "$TB/py.log")" "$f" "the attachment is application/gzip named as the file"
tb_ok "it gunzips to the same XML as the dry run" \
    cmp "$TB/mail.xml" "$TB/dry.xml"
tb_like "$(grep -i '^Subject:' -A1 "$m")" \
    "Report-ID: <$day\.report\.test@reports\.example\.test>" "Subject with Report-ID"

# --- A run of the same day again sends nothing twice.
"$REPORT" -c "$TB/elemta.conf" >"$TB/run3.log" 2>&1
tb_like "$(cat "$TB/run3.log")" "dest=alice@example\.test status=sent already" \
    "a second run of the day sends nothing again"
tb_done
