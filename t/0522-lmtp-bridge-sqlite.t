#!/bin/bash
# 0522-lmtp-bridge-sqlite - SQLite routing: real Postfix ->
# elemta-lmtp-bridge -> real Dovecot (Maildir), the recipients routed by
# a table built with the sqlite3 shell in the documented schema.
#
# One message to a plain user, an alias rewritten to her (+detail kept),
# a user whose backend column lists a dead address first, a disabled and
# an unknown user: each gets exactly its status in Postfix's maillog and
# the Maildirs hold exactly the right copies.  The file moved away: 451
# 4.4.3, Postfix keeps the mail; the file back: delivered once.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/lmtp.sh"

lmtp_init
peer_require postfix dovecot smtp-sink swaks sqlite3
tb_init
tb_plan 21

DEAD=$(tb_port 90)		# nothing listens there
DB=$TB/routes.db
sqlite3 "$DB" >"$TB/sqlite3.out" 2>&1 <<EOF
CREATE TABLE lmtp_routes (
    address     TEXT PRIMARY KEY,
    backend     TEXT,
    rewrite     TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    junk_optout INTEGER NOT NULL DEFAULT 0
);
INSERT INTO lmtp_routes (address) VALUES ('alice@example.test');
INSERT INTO lmtp_routes (address, rewrite)
    VALUES ('alias@example.test', 'alice@example.test');
INSERT INTO lmtp_routes (address, backend) VALUES ('bob@example.test',
    'inet:127.0.0.1:$DEAD;inet:127.0.0.1:$TB_PORT_LMTP');
INSERT INTO lmtp_routes (address, enabled) VALUES ('gone@example.test', 0);
EOF
tb_is "$?:$(sqlite3 "$DB" 'SELECT count(*) FROM lmtp_routes')" "0:4" \
    "the routing table is built" || tb_diag "$(cat "$TB/sqlite3.out")"

peer_start_dovecot
peer_start_smtp_sink
lmtp_conf "sqlite_database = \"$DB\"" \
    "allowed_backends = { \"inet:127.0.0.1:$DEAD\" }"
lmtp_start_bridge
lmtp_start_postfix

subject="tb-0522 $$ $RANDOM"
lmtp_send alice@example.test,alias+x@example.test,bob@example.test,gone@example.test,nosuch@example.test "$subject"
tb_like "$qid" '^[0-9A-F]+$' "Postfix accepts one message for five recipients ($qid)" ||
    tb_diag "$out"
lmtp_wait 30 "" 5

tb_like "$(status_of "$qid" alice@example.test)" \
    "status=sent \(250 2\.0\.0 <alice@example.test> .*Saved\)" \
    "maillog: alice sent"
tb_like "$(status_of "$qid" 'alias\+x@example.test')" \
    "status=sent \(250 2\.0\.0 <alice\+x@example.test> .*Saved\)" \
    "maillog: alias+x rewritten to alice+x (detail kept), sent"
tb_like "$(status_of "$qid" bob@example.test)" \
    "status=sent \(250 2\.0\.0 <bob@example.test> .*Saved\)" \
    "maillog: bob sent through his backend column"
tb_like "$(status_of "$qid" gone@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.2\.1 <gone@example.test>: Recipient address rejected: Mailbox disabled" \
    "maillog: gone (enabled = 0) bounced with 550 5.2.1"
tb_like "$(status_of "$qid" nosuch@example.test)" \
    "status=bounced \(host 127.0.0.1\[127.0.0.1\] said: 550 5\.1\.1 <nosuch@example.test>: Recipient address rejected: User unknown" \
    "maillog: nosuch (no row) bounced by the bridge with 550 5.1.1"
tb_is "$(grep -c "$qid: to=" "$TB_MAILLOG")" 5 \
    "maillog: exactly one status line per recipient"

tb_wait 5 bash -c "[[ \$(grep -lxF -- 'Subject: $subject' '$(peer_maildir alice@example.test)'/new/* 2>/dev/null | wc -l) -ge 2 ]]"
tb_is "$(copies alice@example.test "$subject"):$(copies bob@example.test "$subject")" \
    "2:1" "Maildirs: alice two copies (alice, alias+x), bob one"
tb_like "$(grep "$qid: backend=inet:127.0.0.1:$DEAD;" "$BLOG")" \
    "addr=inet:127\.0\.0\.1:$TB_PORT_LMTP attempts=2: failover" \
    "bridge log: bob's backend from the table, failover past the dead address"
tb_like "$(grep "$qid: to=<gone@example.test>" "$BLOG")" \
    "status=rejected route=sqlite" "bridge log: gone rejected by sqlite"
tb_like "$(grep "$qid: to=<nosuch@example.test>" "$BLOG")" \
    "status=rejected route=default reply=\"550 5\.1\.1 " \
    "bridge log: nosuch rejected, no source knowing it"

metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_like "$metrics" 'elemta_lmtp_sqlite_lookups_total\{outcome="found"\} [1-9]' \
    "metrics: SQLite queries that found a row"
tb_like "$metrics" 'elemta_lmtp_sqlite_seconds_count [1-9]' \
    "metrics: SQLite query latency histogram"

# alice again: from the cache.
lmtp_send alice@example.test "$subject cached"
lmtp_wait 20 "<alice@example.test>.* status=sent"
metrics=$(curl -fsS "http://127.0.0.1:$TB_PORT_METRICS/metrics" 2>&1)
tb_like "$metrics" 'elemta_lmtp_sqlite_cache_total\{result="hit"\} [1-9]' \
    "metrics: the second message's alice came from the cache"
tb_like "$metrics" 'elemta_lmtp_sqlite_cache_entries [1-9]' \
    "metrics: the entries the cache holds"

# The file moved away: 451 4.4.3 (never a 5xx), Postfix keeps the mail.
mv "$DB" "$DB.away"
lmtp_send bob+later@example.test "$subject later"
lmtp_wait 20 "<bob\+later@example.test>.* status=deferred"
tb_like "$(status_of "$qid" 'bob\+later@example.test')" \
    "status=deferred \(host 127.0.0.1\[127.0.0.1\] said: 451 4\.4\.3 " \
    "table unreadable: deferred with 451 4.4.3"
tb_like "$(postqueue -c "$TB_POSTFIX_CONF" -p 2>&1)" "$qid" \
    "Postfix keeps the message in its queue"
tb_like "$(grep "$qid: to=<bob+later@example.test>" "$BLOG")" \
    "status=deferred route=sqlite error=\"sqlite: $DB: No such file or directory\"" \
    "bridge log: the SQLite error is named"

# The file back: delivered, once.
mv "$DB.away" "$DB"
postqueue -c "$TB_POSTFIX_CONF" -f >/dev/null 2>&1
lmtp_wait 30 "<bob\+later@example.test>.* status=sent"
tb_like "$(status_of "$qid" 'bob\+later@example.test')" \
    "status=sent \(250 2\.0\.0 <bob\+later@example.test> " \
    "once the table is back, the message is delivered"
tb_is "$(copies bob@example.test "$subject later")" 1 "... exactly once"
tb_done
