/*++
 * NAME
 *	0309-policyd-store-sqlite 1
 * SUMMARY
 *	unit tests for the SQLite store's rows (policyd-store-sqlite.c)
 * DESCRIPTION
 *	What a write-behind batch leaves in limit_state, read from another
 *	connection: a row's stored expiry is its entry's rounded up to
 *	the minute, never earlier; a later write that the stored expiry
 *	still covers changes the state alone (the expiry, and so its
 *	index, stay), one past it moves the expiry; a refund changes the
 *	state alone; expired rows are deleted at their stored expiry and
 *	not before; a reset deletes the row.  A database written by the
 *	previous version (the same schema, exact expiries, rows replaced
 *	whole, states in the first byte form) is read and counted on, and
 *	its rows are updated (in the varint form).  A row no version
 *	writes is counted from empty, with one warning.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "policyd-limit.h"
#include "policyd-store.h"
#include "tap.h"
#include "test-limit.h"
#include "xalloc.h"

#define H	(3600 * 1000LL)
#define MIN	(60 * 1000LL)

static char tmpdir[] = "/tmp/elemta-t0309.XXXXXX";
static char *dbpath;

/* row - key's row: its expiry and the weight its state holds; 0, or -1
 * when there is no such row */
static int
row(const char *key, int64_t *expires, uint64_t *weight)
{
	struct policyd_limit_state st;
	sqlite3_stmt *q;
	sqlite3 *h;
	uint32_t i;
	int rc = -1;

	*expires = 0;
	*weight = 0;
	if (sqlite3_open(dbpath, &h) != SQLITE_OK)
		bail_out("open %s: %s", dbpath, sqlite3_errmsg(h));
	if (sqlite3_prepare_v2(h, "SELECT expires, state FROM limit_state"
			       " WHERE k = ?1", -1, &q, NULL) != SQLITE_OK)
		bail_out("select: %s", sqlite3_errmsg(h));
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		*expires = sqlite3_column_int64(q, 0);
		if (policyd_limit_decode(&st, sqlite3_column_blob(q, 1),
				(size_t)sqlite3_column_bytes(q, 1)) == 0) {
			for (i = 0; i < st.n; i++)
				*weight += st.e[i].w;
			rc = 0;
		}
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	return rc;
}

/* open_store - the test's store, written behind every second */
/* row_form - the first byte of key's stored state (its byte form), or
 * -1 when there is no such row */
static int
row_form(const char *key)
{
	sqlite3_stmt *q;
	sqlite3 *h;
	int form = -1;

	if (sqlite3_open(dbpath, &h) != SQLITE_OK)
		bail_out("open %s: %s", dbpath, sqlite3_errmsg(h));
	if (sqlite3_prepare_v2(h, "SELECT state FROM limit_state"
			       " WHERE k = ?1", -1, &q, NULL) != SQLITE_OK)
		bail_out("select: %s", sqlite3_errmsg(h));
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) > 0)
		form = ((const unsigned char *)sqlite3_column_blob(q, 0))[0];
	sqlite3_finalize(q);
	sqlite3_close(h);
	return form;
}

static struct policyd_store *
open_store(void)
{
	struct policyd_store *s;
	char err[256];

	s = policyd_store_sqlite_open(dbpath, 1000, 1000, err, sizeof(err));
	if (s == NULL)
		bail_out("store: %s", err);
	return s;
}

/* flush - a tick at now hands the dirty keys over; wait for the batch */
static void
flush(struct policyd_store *s, int64_t now, const char *what)
{
	char err[256];

	if (policyd_store_tick(s, now, err, sizeof(err)) < 0
	    || policyd_store_sync(s, err, sizeof(err)) < 0)
		bail_out("%s: %s", what, err);
}

/* take - one take of weight w on key at now; r.allowed */
static int
take(struct policyd_store *s, const char *key,
     const struct policyd_limit *lim, int64_t now, uint64_t w)
{
	struct policyd_limit_result r;
	char err[256];

	if (policyd_store_take(s, key, lim, now, w, 0, &r, err,
			       sizeof(err)) < 0)
		bail_out("take %s: %s", key, err);
	return r.allowed;
}

/* test_expiry - the stored expiry, the writes that leave it, cleaning */
static void
test_expiry(void)
{
	struct policyd_limit lim = { 10, H };
	struct policyd_store_stats st;
	struct policyd_store *s = open_store();
	/* the entry stops counting 1 ms past a whole minute */
	int64_t t0 = 1899999960000LL + 1 - H;
	int64_t stored, exp, now;
	uint64_t w;
	char err[256];

	ok(take(s, "g:1", &lim, t0, 1), "a take");
	flush(s, t0, "first batch");
	is_int(row("g:1", &exp, &w), 0, "the row is written");
	is_int((long long)w, 1, "with its weight");
	stored = t0 + H - 1 + MIN;
	is_int((long long)exp, (long long)stored,
	       "its expiry: the entry's (t0 + 1h) rounded up to the minute");

	now = t0 + 30 * 1000;	/* the entry's expiry moves 30 s */
	ok(take(s, "g:1", &lim, now, 2), "a take 30 s later");
	flush(s, now, "second batch");
	(void)row("g:1", &exp, &w);
	is_int((long long)w, 3, "the state is written (1 + 2)");
	is_int((long long)exp, (long long)stored,
	       "the expiry, still covered, is left as it was");

	(void)policyd_store_refund(s, "g:1", &lim, now, 2, err, sizeof(err));
	flush(s, now + 1000, "the refund's batch");
	(void)row("g:1", &exp, &w);
	is_int((long long)w, 1, "a refund is written (3 - 2)");
	is_int((long long)exp, (long long)stored,
	       "and leaves the expiry as it was");

	now = t0 + MIN;		/* past the stored expiry's minute */
	ok(take(s, "g:1", &lim, now, 1), "a take a minute later");
	flush(s, now, "third batch");
	(void)row("g:1", &exp, &w);
	is_int((long long)w, 2, "the state is written (1 + 1)");
	is_int((long long)exp, (long long)(stored + MIN),
	       "the expiry moves to the next minute");
	ok(exp >= now + H, "never earlier than the entry's (%lld >= %lld)",
	   (long long)exp, (long long)(now + H));

	/* cleaning: at the stored expiry, not before (the entry's passed
	 * at stored + 1) */
	flush(s, stored + MIN - 1000, "a batch 1 s before the stored expiry");
	is_int(row("g:1", &exp, &w), 0, "the row is kept until then");
	flush(s, stored + MIN, "a batch at the stored expiry");
	is_int(row("g:1", &exp, &w), -1, "the row is deleted then");
	policyd_store_stats(s, &st);
	is_int((long long)st.cleaned, 1, "one row cleaned (%lu)", st.cleaned);

	/* a reset deletes the row at the next batch */
	now = stored + MIN + 1000;
	ok(take(s, "g:2", &lim, now, 1), "another key");
	flush(s, now, "its batch");
	is_int(row("g:2", &exp, &w), 0, "its row");
	is_int(policyd_store_reset(s, "g:2", err, sizeof(err)), 0, "reset");
	flush(s, now + 1000, "the reset's batch");
	is_int(row("g:2", &exp, &w), -1, "the reset deleted the row");
	policyd_store_close(&s);
}

/* old_db - a database as the previous version left it: the same schema
 * (version 1), a row of key with two entries and their exact expiry,
 * replaced whole as that version did */
static void
old_db(const char *key, int64_t t0, const struct policyd_limit *lim)
{
	static const char schema[] =
		"CREATE TABLE limit_state ("
		" k TEXT PRIMARY KEY NOT NULL,"
		" expires INTEGER NOT NULL,"
		" state BLOB NOT NULL);"
		"CREATE INDEX limit_state_expires ON limit_state (expires);"
		"PRAGMA user_version = 1;";
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	unsigned char buf[TEST_LIMIT_FIXED_MAX];
	sqlite3_stmt *q;
	sqlite3 *h;
	size_t len;

	policyd_limit_take(lim, &st, t0, 1, &r);
	policyd_limit_take(lim, &st, t0 + 1, 1, &r);
	len = test_limit_encode_fixed(&st, buf);
	if (sqlite3_open(dbpath, &h) != SQLITE_OK
	    || sqlite3_exec(h, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)
	    != SQLITE_OK
	    || sqlite3_exec(h, schema, NULL, NULL, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO limit_state"
				  " (k, expires, state) VALUES (?1, ?2, ?3)",
				  -1, &q, NULL) != SQLITE_OK)
		bail_out("old database: %s", sqlite3_errmsg(h));
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, policyd_limit_expiry(lim, &st));
	sqlite3_bind_blob(q, 3, buf, (int)len, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		bail_out("old row: %s", sqlite3_errmsg(h));
	sqlite3_finalize(q);
	sqlite3_close(h);
}

/* test_old_db - the previous version's database keeps working */
static void
test_old_db(void)
{
	struct policyd_limit lim = { 3, H };
	struct policyd_store *s;
	int64_t t0 = 1800000000000LL, exp;
	uint64_t w;

	old_db("msg:ip:192.0.2.7", t0, &lim);
	is_int(row_form("msg:ip:192.0.2.7"), 2,
	       "the old row holds the first form (n = 2)");
	s = open_store();
	ok(take(s, "msg:ip:192.0.2.7", &lim, t0 + 1000, 1),
	   "the third of 3 passes: the old row's two count");
	ok(!take(s, "msg:ip:192.0.2.7", &lim, t0 + 2000, 1),
	   "the fourth is refused");
	flush(s, t0 + 2000, "a batch over the old row");
	is_int(row("msg:ip:192.0.2.7", &exp, &w), 0, "the row is updated");
	is_int((long long)w, 3, "with the three");
	is_int(row_form("msg:ip:192.0.2.7"), POLICYD_LIMIT_FORM,
	       "in the varint form");
	ok(exp >= t0 + 1000 + H && exp % MIN == 0,
	   "its expiry moved past the exact one, to a whole minute (%lld)",
	   (long long)exp);
	policyd_store_close(&s);

	s = open_store();
	ok(!take(s, "msg:ip:192.0.2.7", &lim, t0 + 3000, 1),
	   "after a restart, still refused");
	policyd_store_close(&s);
}

static char warned[512];

/* hook - keep the last warning the store logs */
static void
hook(int prio, const char *line)
{
	if (prio == LOG_WARNING)
		snprintf(warned, sizeof(warned), "%s", line);
}

/* test_damaged_row - a row no version writes: counted from empty, said */
static void
test_damaged_row(void)
{
	static const unsigned char junk[] = { 0xe1, 0x05, 0xff };
	struct policyd_limit lim = { 3, H };
	struct policyd_store *s;
	int64_t t0 = 1800000000000LL;
	sqlite3_stmt *q;
	sqlite3 *h;

	s = open_store();		/* the schema */
	policyd_store_close(&s);
	if (sqlite3_open(dbpath, &h) != SQLITE_OK
	    || sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO limit_state"
				  " (k, expires, state) VALUES (?1, ?2, ?3)",
				  -1, &q, NULL) != SQLITE_OK)
		bail_out("damaged row: %s", sqlite3_errmsg(h));
	sqlite3_bind_text(q, 1, "msg:ip:192.0.2.9", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, t0 + H);
	sqlite3_bind_blob(q, 3, junk, (int)sizeof(junk), SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		bail_out("damaged row: %s", sqlite3_errmsg(h));
	sqlite3_finalize(q);
	sqlite3_close(h);

	log_set_level(LOG_INFO);
	log_test_hook = hook;
	s = open_store();
	ok(take(s, "msg:ip:192.0.2.9", &lim, t0, 3),
	   "a damaged row: counted from empty (3 of 3 pass)");
	ok(strstr(warned, "key msg:ip:192.0.2.9: its stored state (3 bytes) "
		  "is not one this version reads") != NULL,
	   "... and said (%s)", warned);
	warned[0] = '\0';
	ok(!take(s, "msg:ip:192.0.2.9", &lim, t0 + 1, 1),
	   "then counted: the fourth is refused");
	is_str(warned, "", "... said once, not at each take");
	flush(s, t0 + 2000, "a batch over the damaged row");
	is_int(row_form("msg:ip:192.0.2.9"), POLICYD_LIMIT_FORM,
	       "the row is written again, readable");
	policyd_store_close(&s);
	log_test_hook = NULL;
}

/* main - each group on a database of its own */
int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", tmpdir);
	plan_lazy();
	dbpath = x_asprintf("%s/expiry.db", tmpdir);
	test_expiry();
	x_free(&dbpath);
	dbpath = x_asprintf("%s/old.db", tmpdir);
	test_old_db();
	x_free(&dbpath);
	dbpath = x_asprintf("%s/damaged.db", tmpdir);
	test_damaged_row();
	x_free(&dbpath);
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
