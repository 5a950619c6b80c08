/*++
 * NAME
 *	0302-policyd-policy 1
 * SUMMARY
 *	unit tests for policyd-policy.c and policyd-store-sqlite.c
 * DESCRIPTION
 *	The decisions on top of a real SQLite store in a temporary
 *	directory, with injected time: the default 100/hour per client
 *	(101st transaction deferred with the expected text), one count per
 *	transaction however many requests it sends (retries, recipients,
 *	DATA), SASL users keyed by name, IPv6 by /64, other protocol states,
 *	state surviving a close and reopen, expired rows cleaned, a store
 *	that fails (store_fail_action dunno and defer), the writer thread
 *	(a batch written, a failed batch written later, a key changed
 *	while its batch is written), the log lines
 *	(queue id or NOQUEUE first) and the metrics.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "metrics.h"
#include "policyd-keys.h"
#include "policyd-limit.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "tap.h"
#include "xalloc.h"

#define H	(3600 * 1000LL)

static char tmpdir[] = "/tmp/elemta-t0302.XXXXXX";
static char *dbpath;
static char lastlog[1024];

/* hook - keep the last log line */
static void
hook(int prio, const char *line)
{
	(void)prio;
	snprintf(lastlog, sizeof(lastlog), "%s", line);
}

/* conf_default - the defaults of a fresh install */
static void
conf_default(struct policyd_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->client_message_limit.max = 100;
	c->client_message_limit.period = 3600;
	c->sasl_user_message_limit.max = 1000;
	c->sasl_user_message_limit.period = 3600;
	c->client_ipv4_prefix = 32;
	c->client_ipv6_prefix = 64;
	c->store_fail_action = POLICYD_FAIL_DUNNO;
}

/* ask - one request; returns the action text (static buffer) */
static const char *
ask(struct policyd_policy *pol, int64_t now, const char *state,
    const char *addr, const char *user, const char *inst, const char *qid)
{
	static char out[1200];
	struct policyd_req req;
	char reply[1024];
	size_t n;

	memset(&req, 0, sizeof(req));
	req.v[POLICYD_A_REQUEST] = "smtpd_access_policy";
	req.v[POLICYD_A_PROTOCOL_STATE] = state;
	req.v[POLICYD_A_CLIENT_ADDRESS] = addr;
	req.v[POLICYD_A_CLIENT_NAME] = "unknown";
	req.v[POLICYD_A_SASL_USERNAME] = user;
	req.v[POLICYD_A_INSTANCE] = inst;
	req.v[POLICYD_A_QUEUE_ID] = qid;
	req.v[POLICYD_A_SENDER] = "s@example.test";
	req.v[POLICYD_A_RECIPIENT] = "r@example.net";
	n = policyd_policy_decide(pol, &req, now, reply, sizeof(reply));
	if (n < 2 || strncmp(reply, "action=", 7) != 0
	    || strcmp(reply + n - 2, "\n\n") != 0)
		return "BAD REPLY FORMAT";
	snprintf(out, sizeof(out), "%.*s", (int)(n - 9), reply + 7);
	return out;
}

/* transactions - n one-recipient transactions; how many got DUNNO */
static int
transactions(struct policyd_policy *pol, int64_t now, const char *addr,
	     const char *user, const char *tag, int n)
{
	char inst[64];
	int i, dunno = 0;

	for (i = 0; i < n; i++) {
		snprintf(inst, sizeof(inst), "%s.%d", tag, i);
		dunno += strcmp(ask(pol, now, "RCPT", addr, user, inst, ""),
				"DUNNO") == 0;
	}
	return dunno;
}

/* test_keys - client keys under prefixes */
static void
test_keys(void)
{
	static const struct {
		const char *addr;
		int v4, v6;
		const char *want;
	} t[] = {
		{ "192.0.2.10", 32, 64, "192.0.2.10" },
		{ "192.0.2.10", 24, 64, "192.0.2.0/24" },
		{ "192.0.2.200", 25, 64, "192.0.2.128/25" },
		{ "2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:ffff::9", 32, 64, "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:3:4:5:6", 32, 48, "2001:db8:1::/48" },
		{ "2001:db8::1", 32, 128, "2001:db8::1/128" },
		{ "::ffff:192.0.2.7", 32, 64, "192.0.2.7" },
		{ "unknown", 32, 64, "unknown" },
		{ "", 32, 64, "" },
	};
	char out[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		policyd_keys_client(t[i].addr, t[i].v4, t[i].v6, out,
				    sizeof(out));
		is_str(out, t[i].want, "key of %s (/%d, /%d)", t[i].addr,
		       t[i].v4, t[i].v6);
	}
	is_str(policyd_policy_state_label("RCPT"), "RCPT", "state label");
	is_str(policyd_policy_state_label("X-NEW"), "other",
	       "unknown states share one label");
}

/* open_store - the test's store, or bail */
static struct policyd_store *
open_store(int64_t flush_ms)
{
	struct policyd_store *s;
	char err[256];

	s = policyd_store_sqlite_open(dbpath, 1000, flush_ms, err, sizeof(err));
	if (s == NULL)
		bail_out("store: %s", err);
	return s;
}

/* test_defaults - 100/hour per client, 1000/hour per user */
static void
test_defaults(void)
{
	struct policyd_store *s = open_store(1000);
	struct policyd_policy *pol = policyd_policy_new(s);
	struct policyd_conf c;
	const char *a;
	int64_t t0 = 1700000000000LL;
	int i;

	conf_default(&c);
	policyd_policy_configure(pol, &c);

	is_int(transactions(pol, t0, "192.0.2.10", "", "a", 99), 99,
	       "99 transactions from 192.0.2.10 pass");
	/* the 100th transaction: several recipients, a retry, DATA */
	for (i = 0; i < 5; i++)
		is_str(ask(pol, t0 + 1, "RCPT", "192.0.2.10", "", "a.100", ""),
		       "DUNNO", "100th transaction, request %d", i + 1);
	is_str(ask(pol, t0 + 2, "DATA", "192.0.2.10", "", "a.100", ""),
	       "DUNNO", "its DATA is not counted again");
	is_str(ask(pol, t0 + 3, "END-OF-MESSAGE", "192.0.2.10", "", "a.100",
		   "4F1A2B3C"), "DUNNO", "END-OF-MESSAGE: DUNNO");
	a = ask(pol, t0 + 1000, "RCPT", "192.0.2.10", "", "a.101", "");
	is_str(a, "450 4.7.1 Message rate limit exceeded for client "
	       "192.0.2.10 (100 per 1h), try again in 3599 s",
	       "the 101st message, 1 s later, is deferred with when to retry");
	like_str(lastlog, "NOQUEUE: policyd action=defer "
		 "limit=client_message key=ip:192.0.2.10 used=100 max=100 "
		 "period=1h retry=3599s state=RCPT", "the deferral is logged");
	is_str(ask(pol, t0 + 1000, "RCPT", "192.0.2.10", "", "a.101", ""),
	       a, "the retry of a refused request is refused the same way");
	is_str(ask(pol, t0 + 1001, "DATA", "192.0.2.10", "", "a.102", ""),
	       "450 4.7.1 Message rate limit exceeded for client "
	       "192.0.2.10 (100 per 1h), try again in 3599 s",
	       "DATA counts too when RCPT was not checked");
	is_str(ask(pol, t0 + 1000, "RCPT", "192.0.2.11", "", "b.1", ""),
	       "DUNNO", "another client is not affected");
	is_str(ask(pol, t0 + 1000, "CONNECT", "192.0.2.10", "", "", ""),
	       "DUNNO", "CONNECT: DUNNO");
	is_str(ask(pol, t0 + 1000, "MAIL", "192.0.2.10", "", "a.103", ""),
	       "DUNNO", "MAIL: DUNNO (not counted)");
	is_str(ask(pol, t0 + H - 1, "RCPT", "192.0.2.10", "", "a.104", ""),
	       "450 4.7.1 Message rate limit exceeded for client "
	       "192.0.2.10 (100 per 1h), try again in 1 s",
	       "1 ms before the hour: still deferred");
	is_int(transactions(pol, t0 + H, "192.0.2.10", "", "a2", 100), 99,
	       "one hour after the first 99, 99 more pass");
	is_str(ask(pol, t0 + H, "RCPT", "192.0.2.10", "", "a.105", ""),
	       "450 4.7.1 Message rate limit exceeded for client "
	       "192.0.2.10 (100 per 1h), try again in 1 s",
	       "the next waits for the 100th to leave (1 ms, said 1 s)");
	is_str(ask(pol, t0 + H + 1, "RCPT", "192.0.2.10", "", "a.105", ""),
	       "DUNNO", "and passes then");

	/* SASL users: by name, whatever the address, 1000 per hour */
	is_int(transactions(pol, t0, "192.0.2.10", "alice", "u", 1000), 1000,
	       "alice sends 1000 from the deferred client's address");
	a = ask(pol, t0 + 5, "RCPT", "198.51.100.1", "alice", "u.x", "");
	is_str(a, "450 4.7.1 Message rate limit exceeded for user alice "
	       "(1000 per 1h), try again in 3600 s",
	       "her 1001st, from anywhere, is deferred");
	is_str(ask(pol, t0 + 5, "RCPT", "198.51.100.1", "bob", "v.1", ""),
	       "DUNNO", "bob is not affected");

	/* IPv6 by /64 */
	is_int(transactions(pol, t0, "2001:db8:1:2::1", "", "6a", 60), 60,
	       "60 from 2001:db8:1:2::1");
	is_int(transactions(pol, t0, "2001:db8:1:2:ffff::9", "", "6b", 60), 40,
	       "only 40 more from the same /64");
	is_int(transactions(pol, t0, "2001:db8:1:3::1", "", "6c", 10), 10,
	       "another /64 is not affected");

	/* a queue id, when Postfix has one, starts the log line */
	ask(pol, t0 + 10, "DATA", "192.0.2.10", "", "q.1", "4F1A2B3C");
	like_str(lastlog, "4F1A2B3C: policyd action=defer",
		 "log lines start with the queue id");

	/* reload: a new limit applies at once, to the same state */
	like_str(ask(pol, t0 + H + 2, "RCPT", "192.0.2.10", "", "a.200", ""),
		 "450 4.7.1", "at the limit again");
	c.client_message_limit.max = 150;
	policyd_policy_configure(pol, &c);
	is_str(ask(pol, t0 + H + 2, "RCPT", "192.0.2.10", "", "a.200", ""),
	       "DUNNO", "a raised limit applies at once");
	policyd_policy_free(&pol);
	policyd_store_close(&s);
}

/* test_restart - state survives close and reopen */
static void
test_restart(void)
{
	struct policyd_store *s = open_store(60000);
	struct policyd_policy *pol = policyd_policy_new(s);
	struct policyd_store_stats st;
	struct policyd_conf c;
	int64_t t0 = 1800000000000LL;
	char err[256];

	conf_default(&c);
	c.client_message_limit.max = 3;
	policyd_policy_configure(pol, &c);
	is_int(transactions(pol, t0, "203.0.113.5", "", "r", 3), 3,
	       "3 of 3 before the restart");
	policyd_store_stats(s, &st);
	is_int((long long)st.dirty, 1, "one dirty key, not written yet");
	policyd_policy_free(&pol);
	policyd_store_close(&s);	/* a clean stop flushes */

	s = open_store(60000);
	pol = policyd_policy_new(s);
	policyd_policy_configure(pol, &c);
	is_str(ask(pol, t0 + 1000, "RCPT", "203.0.113.5", "", "r.x", ""),
	       "450 4.7.1 Message rate limit exceeded for client "
	       "203.0.113.5 (3 per 1h), try again in 3599 s",
	       "after the restart the 4th is still deferred");
	policyd_store_stats(s, &st);
	is_int((long long)st.loads, 1, "the key was read from the database");

	/* the rows of expired keys are deleted by a tick */
	is_int(policyd_store_tick(s, t0 + 2 * H, err, sizeof(err)), 0,
	       "tick two hours later");
	is_int(policyd_store_sync(s, err, sizeof(err)), 0,
	       "the writer thread's flush succeeded");
	policyd_store_stats(s, &st);
	ok(st.cleaned >= 1, "expired rows deleted (%lu)", st.cleaned);
	policyd_policy_free(&pol);
	policyd_store_close(&s);
}

/* test_store_failure - the store fails: store_fail_action */
static void
test_store_failure(void)
{
	struct policyd_store *s = open_store(0);
	struct policyd_policy *pol = policyd_policy_new(s);
	struct policyd_conf c;
	sqlite3 *h;
	char *metrics;

	conf_default(&c);
	policyd_policy_configure(pol, &c);
	is_str(ask(pol, 1, "RCPT", "192.0.2.50", "", "f.1", ""), "DUNNO",
	       "a write-through store works");
	if (sqlite3_open(dbpath, &h) != SQLITE_OK
	    || sqlite3_exec(h, "DROP TABLE limit_state", NULL, NULL, NULL)
	    != SQLITE_OK)
		bail_out("cannot break the database: %s", sqlite3_errmsg(h));
	sqlite3_close(h);
	is_str(ask(pol, 2, "RCPT", "192.0.2.51", "", "f.2", ""), "DUNNO",
	       "store broken: DUNNO (store_fail_action=dunno)");
	like_str(lastlog, "NOQUEUE: policyd store error key=msg:ip:192.0.2.51",
		 "the failure is logged");
	like_str(lastlog, "action=dunno (store_fail_action)",
		 "with the action taken");
	c.store_fail_action = POLICYD_FAIL_DEFER;
	policyd_policy_configure(pol, &c);
	is_str(ask(pol, 3, "RCPT", "192.0.2.52", "", "f.3", ""),
	       "451 4.3.0 Rate limit service temporarily unavailable, try "
	       "again later", "store broken: 451 (store_fail_action=defer)");
	metrics = metrics_render(NULL);
	like_str(metrics, "elemta_policyd_store_errors_total{op=\"take\"} 2",
		 "store errors are counted");
	like_str(metrics, "elemta_policyd_requests_total{state=\"RCPT\","
		 "action=\"defer\"}", "requests counted by state and action");
	like_str(metrics, "elemta_policyd_limit_hits_total{limit="
		 "\"client_message\"}", "limit hits counted");
	like_str(metrics, "elemta_policyd_store_seconds_bucket",
		 "store latency histogram");
	if (strstr(metrics, "store_errors_total{op=\"take\"} 2") == NULL)
		diag("%s", metrics);
	x_free(&metrics);
	policyd_policy_free(&pol);
	policyd_store_close(&s);
}

/* db_rows - rows in limit_state, and the weight logged for key (its
 * decoded state) in *weight; -1 when the table cannot be read */
static long
db_rows(const char *key, uint64_t *weight)
{
	struct policyd_limit_state st;
	sqlite3_stmt *q;
	sqlite3 *h;
	long n = -1;
	uint32_t i;

	*weight = 0;
	if (sqlite3_open(dbpath, &h) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(h, "SELECT count(*) FROM limit_state", -1, &q,
			       NULL) == SQLITE_OK
	    && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (n >= 0 && sqlite3_prepare_v2(h, "SELECT state FROM limit_state"
					 " WHERE k = ?1", -1, &q, NULL)
	    == SQLITE_OK) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW
		    && policyd_limit_decode(&st, sqlite3_column_blob(q, 0),
			    (size_t)sqlite3_column_bytes(q, 0)) == 0)
			for (i = 0; i < st.n; i++)
				*weight += st.e[i].w;
		sqlite3_finalize(q);
	}
	sqlite3_close(h);
	return n;
}

/* db_sql - run SQL on the test database from another connection */
static void
db_sql(const char *sql)
{
	sqlite3 *h;

	if (sqlite3_open(dbpath, &h) != SQLITE_OK
	    || sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		bail_out("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

/* test_writer - write-behind in the writer thread: a tick hands the
 * dirty keys over, the writer writes them; a failed batch makes them
 * dirty again and a later one writes them; a key that changes while
 * its batch is being written is written again with the newer state */
static void
test_writer(void)
{
	struct policyd_limit lim = { 10, H };
	struct policyd_limit_result r;
	struct policyd_store_stats st;
	struct policyd_store *s;
	char err[256], key[64];
	int64_t t0 = 1900000000000LL;
	uint64_t w;
	int i, ok_all = 1;

	db_sql("DELETE FROM limit_state");
	s = open_store(1000);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "w:%d", i);
		ok_all &= policyd_store_take(s, key, &lim, t0, 1, 0, &r, err,
					     sizeof(err)) == 0 && r.allowed;
	}
	ok(ok_all, "50 keys taken");
	is_int(policyd_store_tick(s, t0, err, sizeof(err)), 0, "tick");
	policyd_store_stats(s, &st);
	is_int((long long)st.dirty, 0, "the tick handed every dirty key over");
	is_int(policyd_store_sync(s, err, sizeof(err)), 0,
	       "the writer wrote them");
	policyd_store_stats(s, &st);
	is_int((long long)st.written, 50, "50 rows written (%lu)", st.written);
	is_int(db_rows("w:7", &w), 50, "50 rows in the database");
	is_int((long long)w, 1, "w:7 holds its weight");

	/* a batch that fails: the keys are dirty again, then written */
	db_sql("ALTER TABLE limit_state RENAME TO away");
	(void)policyd_store_take(s, "w:7", &lim, t0 + 1, 2, 0, &r, err,
				 sizeof(err));
	(void)policyd_store_take(s, "w:8", &lim, t0 + 1, 1, 0, &r, err,
				 sizeof(err));
	is_int(policyd_store_tick(s, t0 + 1000, err, sizeof(err)), 0,
	       "tick with the table gone: handed over");
	is_int(policyd_store_sync(s, err, sizeof(err)), -1,
	       "the writer's batch failed");
	like_str(err, "sqlite", "with SQLite's reason (%s)", err);
	policyd_store_stats(s, &st);
	is_int((long long)st.dirty, 2, "both keys are dirty again");
	db_sql("ALTER TABLE away RENAME TO limit_state");
	/* and w:7 changes again before the next batch is written */
	is_int(policyd_store_tick(s, t0 + 2000, err, sizeof(err)), 0,
	       "tick with the table back");
	(void)policyd_store_take(s, "w:7", &lim, t0 + 2001, 3, 0, &r, err,
				 sizeof(err));
	is_int(policyd_store_sync(s, err, sizeof(err)), 0, "written");
	(void)db_rows("w:7", &w);
	is_int((long long)w, 3, "w:7 on disk: the batch's state (1 + 2)");
	is_int(policyd_store_tick(s, t0 + 3000, err, sizeof(err)), 0,
	       "the next tick");
	is_int(policyd_store_sync(s, err, sizeof(err)), 0, "written");
	(void)db_rows("w:7", &w);
	is_int((long long)w, 6, "w:7 on disk: the newer state (1 + 2 + 3)");
	(void)db_rows("w:8", &w);
	is_int((long long)w, 2, "w:8 written after the failure");
	policyd_store_close(&s);
}

/* main - run the groups in a temporary directory */
int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", tmpdir);
	dbpath = x_asprintf("%s/policyd.db", tmpdir);
	log_set_level(LOG_INFO);
	log_test_hook = hook;
	plan_lazy();
	test_keys();
	test_defaults();
	test_restart();
	test_writer();
	test_store_failure();
	tap_rmtree(tmpdir);
	x_free(&dbpath);
	done_testing();
	return exit_status();
}
