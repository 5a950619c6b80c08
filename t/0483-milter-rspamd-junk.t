#!/bin/bash
# 0483-milter-rspamd-junk - spam to Junk end to end: a real Postfix with
# elemta-milter (Rspamd on, the harness' rspamd) as smtpd_milters,
# example.test delivered by LMTP through elemta-lmtp-bridge (junk_headers
# left at its default, the milter's "X-Spam: Yes") into a real Dovecot.  A message
# rspamd scores "add header" (its YJS test pattern) lands in alice's Junk
# folder; plain mail in her INBOX; a sender's own "X-Spam: Yes" is
# replaced by the milter's (rspamd itself scores the claim, SPAM_FLAG).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
milter_require postfix smtp-sink swaks unbound redis rspamd dovecot
tb_init
tb_plan 6
peer_start_unbound
peer_start_redis
peer_start_rspamd
peer_start_dovecot
lmtp_dovecot_extra dovecot 'lmtp_save_to_detail_mailbox = yes' \
    'lda_mailbox_autocreate = yes'
peer_start_smtp_sink
milter_start rspamd_url="$TB_RSPAMD_URL" -- -o dns.timeout=1 \
    -o dns.retries=0
lmtp_conf		# junk_headers: the default, nothing configured
lmtp_start_bridge
lmtp_start_postfix "smtpd_milters = $TB_MILTER_SPEC"

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
GTUBE_ADD=Y${GTUBE#X}		# rspamd's "add header" pattern
subject="tb-0483 $$ $RANDOM"

# other.test's SPF permits 192.0.2.10: plain mail scores low
lmtp_send alice@example.test "$subject spam" --xclient-addr 192.0.2.10 \
    --body "$GTUBE_ADD"
tb_like "$out" '250 2\.0\.0 Ok: queued' "spam: accepted by Postfix" ||
    tb_diag "$out"
lmtp_wait 30 ".*status=sent"
tb_is "$(copies alice@example.test "$subject spam" dovecot .Junk):$(copies alice@example.test "$subject spam")" \
    "1:0" "spam (rspamd: add header) is in alice's Junk, not her INBOX"
tb_like "$(grep "$qid: junk=yes" "$BLOG")" 'rule="X-Spam: Yes" folder=Junk' \
    "the bridge names the milter's header as the reason"

lmtp_send alice@example.test "$subject plain" --xclient-addr 192.0.2.10 \
    --body "Hello Alice, lunch on Friday? Sender"
lmtp_wait 30 ".*status=sent"
tb_is "$(copies alice@example.test "$subject plain" dovecot .Junk):$(copies alice@example.test "$subject plain")" \
    "0:1" "plain mail is in alice's INBOX"

# the sender's own "X-Spam: Yes": rspamd scores it (SPAM_FLAG) and the
# milter's verdict sends it to Junk, with one X-Spam header: the
# milter's, the sender's removed
lmtp_send alice@example.test "$subject claimed" --xclient-addr 192.0.2.10 \
    --header "X-Spam: Yes" --body "Hello Alice, lunch on Friday? Sender"
lmtp_wait 30 ".*status=sent"
f=$(grep -lxF -- "Subject: $subject claimed" \
    "$(peer_maildir alice@example.test dovecot)"/.Junk/new/* 2>/dev/null |
    head -1)
h=$(sed -n '/^\r\?$/q;p' "${f:-/dev/null}")
tb_like "$h" $'\nX-Spamd-Result: [^\n]*\n(\t[^\n]*\n)*\tSPAM_FLAG\\(' \
    "the sender's X-Spam: Yes: rspamd's SPAM_FLAG, Junk by the milter's verdict" ||
    tb_diag "$h"
tb_is "$(grep -c '^X-Spam:' <<<"$h")" 1 "... with one X-Spam header, ours"
tb_done
