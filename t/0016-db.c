/*++
 * NAME
 *	0016-db 1
 * SUMMARY
 *	unit tests for lib/db.c
 * DESCRIPTION
 *	Opening (":memory:" and a file in a temporary directory, with the
 *	pragmas checked), migrations (a table of cases: 0 -> 2, re-runs,
 *	a newer database, failing migrations that roll back, bad tables),
 *	the statement cache, transactions and the busy timeout against a
 *	second connection holding the write lock, db_batch (all rows or
 *	none; SQLITE_BUSY under that lock), read-only opening of an
 *	existing file, the sqlite_table(5) style query templates, and the
 *	[database] configuration section.
 *--*/
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "conf.h"
#include "db.h"
#include "tap.h"
#include "tap-conf.h"

static char tmpdir[] = "/tmp/elemta-t0016.XXXXXX";

/* query_text - the first column of the first row, as text (malloc'ed) */
static char *
query_text(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
		return x_asprintf("error: %s", db_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		out = x_strdup(sqlite3_column_text(st, 0) ?
			       (const char *) sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	return out;
}

/* query_int - the first column of the first row, -1 on error */
static long long
query_int(struct db *db, const char *sql)
{
	char *s = query_text(db, sql);
	long long n = s && *s >= '0' && *s <= '9' ? strtoll(s, NULL, 10) : -1;

	free(s);
	return n;
}

/*
 * Opening.
 */
static const struct open_case {
	const char *name;
	const char *path;		/* "@" prefix: inside the temp dir */
	int timeout;
	const char *journal;		/* NULL: opening must fail */
	const char *want_err;
} open_cases[] = {
	{ "in memory", ":memory:", 5000, "memory", NULL },
	{ "a new file", "@/new.db", 1234, "wal", NULL },
	{ "the same file again", "@/new.db", 0, "wal", NULL },
	{ "no such directory", "@/nonexistent/x.db", 5000, NULL,
	  "unable to open database file" },
	{ "empty path", "", 5000, NULL, "no database path" },
};

/* test_open - db_open on the table of paths */
static void
test_open(void)
{
	const struct open_case *c;
	char path[256], err[256];
	struct db *db;
	char *got;

	for (c = open_cases; c < open_cases + sizeof(open_cases)
	     / sizeof(open_cases[0]); c++) {
		if (*c->path == '@')
			snprintf(path, sizeof(path), "%s%s", tmpdir, c->path + 1);
		else
			snprintf(path, sizeof(path), "%s", c->path);
		err[0] = '\0';
		db = db_open(path, c->timeout, err, sizeof(err));
		if (c->journal == NULL) {
			ok(db == NULL, "open: %s: fails", c->name);
			like_str(err, c->want_err, "open: %s: error", c->name);
			db_close(&db);
			continue;
		}
		if (!ok(db != NULL, "open: %s: opens", c->name)) {
			diag("error: %s", err);
			continue;
		}
		got = query_text(db, "PRAGMA journal_mode");
		is_str(got, c->journal, "open: %s: journal_mode", c->name);
		free(got);
		is_int(query_int(db, "PRAGMA synchronous"), 1,
		       "open: %s: synchronous=NORMAL", c->name);
		is_int(query_int(db, "PRAGMA foreign_keys"), 1,
		       "open: %s: foreign_keys=ON", c->name);
		is_int(query_int(db, "PRAGMA busy_timeout"), c->timeout,
		       "open: %s: busy_timeout", c->name);
		is_int(db_version(db), 0, "open: %s: user_version", c->name);
		db_close(&db);
		ok(db == NULL, "open: %s: db_close clears the pointer",
		   c->name);
	}
	db_close(&db);
	ok(1, "db_close(NULL) is harmless");
}

/*
 * Migrations: each case starts from a fresh in-memory database, runs
 * an optional preparation, then db_migrate() on the case's table.
 */
static const struct db_migration mig2[] = {
	{ 1, "CREATE TABLE triplet (k TEXT PRIMARY KEY, t INTEGER)" },
	{ 2, "ALTER TABLE triplet ADD COLUMN n INTEGER DEFAULT 0;"
	     "INSERT INTO triplet (k, t) VALUES ('seed', 1)" },
};
static const struct db_migration mig3_bad[] = {
	{ 1, "CREATE TABLE triplet (k TEXT PRIMARY KEY, t INTEGER)" },
	{ 2, "ALTER TABLE triplet ADD COLUMN n INTEGER DEFAULT 0;"
	     "INSERT INTO triplet (k, t) VALUES ('seed', 1)" },
	{ 3, "CREATE TABLE extra (x); INSERT INTO nosuch VALUES (1)" },
};
static const struct db_migration mig_syntax[] = {
	{ 1, "CREATE TABLE (oops" },
};
static const struct db_migration mig_unordered[] = {
	{ 2, "CREATE TABLE a (x)" },
	{ 1, "CREATE TABLE b (x)" },
};
static const struct db_migration mig_zero[] = {
	{ 0, "CREATE TABLE a (x)" },
};
static const struct db_migration mig_nosql[] = {
	{ 1, NULL },
};

#define MIG(m) (m), sizeof(m) / sizeof((m)[0])

static const struct migrate_case {
	const char *name;
	const char *prep_sql;		/* run first, or NULL */
	const struct db_migration *prep;	/* migrated first, or NULL */
	size_t nprep;
	const struct db_migration *mig;
	size_t n;
	int want_rc;
	int want_version;
	const char *want_err;		/* substring, when want_rc is -1 */
	const char *check;		/* a query, or NULL */
	long long want_check;
} migrate_cases[] = {
	{ "0 -> 2", NULL, NULL, 0, MIG(mig2), 0, 2, NULL,
	  "SELECT count(*) FROM triplet", 1 },
	{ "again at 2: nothing runs", NULL, MIG(mig2), MIG(mig2), 0, 2, NULL,
	  "SELECT count(*) FROM triplet", 1 },
	{ "1 -> 2", NULL, mig2, 1, MIG(mig2), 0, 2, NULL,
	  "SELECT n FROM triplet WHERE k = 'seed'", 0 },
	{ "a newer database is refused", "PRAGMA user_version = 5", NULL, 0,
	  MIG(mig2), -1, 5, "schema version 5 is newer than this program "
	  "knows (2)", NULL, 0 },
	{ "a failing migration rolls back", NULL, MIG(mig2), MIG(mig3_bad),
	  -1, 2, "migration to version 3 failed: no such table: nosuch",
	  "SELECT count(*) FROM sqlite_master WHERE name = 'extra'", 0 },
	{ "0 -> 3 failing at 3 keeps 1 and 2", NULL, NULL, 0, MIG(mig3_bad),
	  -1, 2, "migration to version 3 failed",
	  "SELECT count(*) FROM triplet", 1 },
	{ "a syntax error", NULL, NULL, 0, MIG(mig_syntax), -1, 0,
	  "migration to version 1 failed: near \"(\": syntax error",
	  "SELECT count(*) FROM sqlite_master", 0 },
	{ "versions out of order", NULL, NULL, 0, MIG(mig_unordered), -1, 0,
	  "entry 2: versions must be positive and ascending",
	  "SELECT count(*) FROM sqlite_master", 0 },
	{ "version 0", NULL, NULL, 0, MIG(mig_zero), -1, 0, "entry 1", NULL,
	  0 },
	{ "no SQL", NULL, NULL, 0, MIG(mig_nosql), -1, 0, "entry 1", NULL, 0 },
	{ "an empty table on a new database", NULL, NULL, 0, NULL, 0, 0, 0,
	  NULL, NULL, 0 },
	{ "an empty table on a versioned database", "PRAGMA user_version = 1",
	  NULL, 0, NULL, 0, -1, 1, "newer than this program knows (0)", NULL,
	  0 },
};

/* test_migrate - the table of migration cases */
static void
test_migrate(void)
{
	const struct migrate_case *c;
	char err[256];
	struct db *db;
	int rc;

	for (c = migrate_cases; c < migrate_cases + sizeof(migrate_cases)
	     / sizeof(migrate_cases[0]); c++) {
		db = db_open(":memory:", 1000, err, sizeof(err));
		if (db == NULL)
			bail_out("db_open(:memory:): %s", err);
		if (c->prep_sql != NULL
		    && db_exec(db, c->prep_sql, err, sizeof(err)) < 0)
			bail_out("%s: preparation: %s", c->name, err);
		if (c->prep != NULL
		    && db_migrate(db, c->prep, c->nprep, err, sizeof(err)) < 0)
			bail_out("%s: preparation: %s", c->name, err);
		err[0] = '\0';
		rc = db_migrate(db, c->mig, c->n, err, sizeof(err));
		if (!is_int(rc, c->want_rc, "migrate: %s: result", c->name))
			diag("error: %s", err);
		if (c->want_rc < 0)
			like_str(err, c->want_err, "migrate: %s: error",
				 c->name);
		is_int(db_version(db), c->want_version,
		       "migrate: %s: user_version", c->name);
		if (c->check != NULL)
			is_int(query_int(db, c->check), c->want_check,
			       "migrate: %s: %s", c->name, c->check);
		ok(sqlite3_get_autocommit(db_handle(db)),
		   "migrate: %s: no transaction left open", c->name);
		db_close(&db);
	}
}

/* test_migrate_file - the same on a WAL file, reopened */
static void
test_migrate_file(void)
{
	char path[256], err[256];
	struct db *db;

	snprintf(path, sizeof(path), "%s/mig.db", tmpdir);
	db = db_open(path, 1000, err, sizeof(err));
	if (db == NULL)
		bail_out("db_open(%s): %s", path, err);
	is_int(db_migrate(db, MIG(mig3_bad), err, sizeof(err)), -1,
	       "migrate file: 0 -> 3 fails at 3");
	db_close(&db);
	db = db_open(path, 1000, err, sizeof(err));
	if (db == NULL)
		bail_out("db_open(%s): %s", path, err);
	is_int(db_version(db), 2, "migrate file: reopened at version 2");
	is_int(query_int(db, "SELECT count(*) FROM sqlite_master "
			 "WHERE name = 'extra'"), 0,
	       "migrate file: version 3's table is not there");
	is_int(db_migrate(db, MIG(mig2), err, sizeof(err)), 0,
	       "migrate file: at 2, the code's 2 is a no-op");
	db_close(&db);
}

/*
 * The statement cache.
 */
static void
test_stmt(void)
{
	static const char *const bad[][2] = {
		{ "SELEC 1", "syntax error" },
		{ "SELECT 1; SELECT 2", "more than one statement" },
		{ "", "empty statement" },
		{ "  -- just a comment", "empty statement" },
		{ "SELECT * FROM nosuch", "no such table: nosuch" },
	};
	sqlite3_stmt *st, *st2, *ins;
	char err[256];
	struct db *db;
	size_t i;
	int rc;

	db = db_open(":memory:", 1000, err, sizeof(err));
	if (db == NULL)
		bail_out("db_open(:memory:): %s", err);
	if (db_migrate(db, MIG(mig2), err, sizeof(err)) < 0)
		bail_out("migrate: %s", err);

	st = db_stmt(db, "SELECT ?1 + 1");
	ok(st != NULL, "stmt: prepared");
	st2 = db_stmt(db, "SELECT ?1 + 1");
	ok(st == st2, "stmt: the same SQL gives the same statement");
	ok(db_stmt(db, "SELECT ?1 + 2") != st, "stmt: other SQL, other one");
	st = db_stmt(db, "SELECT ?1 + 1");
	sqlite3_bind_int(st, 1, 41);
	is_int(sqlite3_step(st), SQLITE_ROW, "stmt: step");
	is_int(sqlite3_column_int(st, 0), 42, "stmt: bound value used");
	/* left on a row: the next db_stmt() resets it */
	st = db_stmt(db, "SELECT ?1 + 1");
	is_int(sqlite3_step(st), SQLITE_ROW, "stmt: reused: step");
	is_int(sqlite3_column_type(st, 0), SQLITE_NULL,
	       "stmt: reused: bindings cleared");
	sqlite3_reset(st);

	for (i = 0; i < 3; i++) {
		ins = db_stmt(db, "INSERT INTO triplet (k, t) VALUES (?, ?)");
		sqlite3_bind_text(ins, 1, i == 0 ? "a" : i == 1 ? "b" : "c",
				  -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 2, (int) i);
		rc = sqlite3_step(ins);
		if (!is_int(rc, SQLITE_DONE, "stmt: insert %zu", i))
			diag("error: %s", db_errmsg(db));
	}
	is_int(query_int(db, "SELECT count(*) FROM triplet"), 4,
	       "stmt: three inserts through one cached statement");
	ins = db_stmt(db, "INSERT INTO triplet (k, t) VALUES (?, ?)");
	sqlite3_bind_text(ins, 1, "a", -1, SQLITE_STATIC);
	is_int(sqlite3_step(ins), SQLITE_CONSTRAINT, "stmt: a failing step");
	ins = db_stmt(db, "INSERT INTO triplet (k, t) VALUES (?, ?)");
	sqlite3_bind_text(ins, 1, "d", -1, SQLITE_STATIC);
	is_int(sqlite3_step(ins), SQLITE_DONE,
	       "stmt: usable again after a failed step");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(db_stmt(db, bad[i][0]) == NULL, "stmt: \"%s\" is refused",
		   bad[i][0]);
		like_str(db_errmsg(db), bad[i][1], "stmt: \"%s\": message",
			 bad[i][0]);
	}
	ok(db_stmt(db, "SELECT 1;  ") != NULL,
	   "stmt: a trailing semicolon is fine");

	/* A statement prepared by the caller is finalized by db_close. */
	sqlite3_prepare_v2(db_handle(db), "SELECT 1", -1, &st, NULL);
	db_close(&db);
	ok(db == NULL, "stmt: db_close with live statements");
}

/*
 * db_exec, transactions, foreign keys.
 */
static void
test_exec(void)
{
	char err[256];
	struct db *db;

	db = db_open(":memory:", 1000, err, sizeof(err));
	if (db == NULL)
		bail_out("db_open(:memory:): %s", err);
	is_int(db_exec(db, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
		       "CREATE TABLE c (p INTEGER REFERENCES p (id))",
		       err, sizeof(err)), 0, "exec: two statements");
	err[0] = '\0';
	is_int(db_exec(db, "INSERT INTO nosuch VALUES (1)", err, sizeof(err)),
	       -1, "exec: an error");
	like_str(err, "no such table: nosuch", "exec: the error message");
	err[0] = '\0';
	is_int(db_exec(db, "INSERT INTO c VALUES (7)", err, sizeof(err)), -1,
	       "exec: foreign keys are enforced");
	like_str(err, "FOREIGN KEY constraint failed", "exec: fk message");

	is_int(db_begin(db), SQLITE_OK, "tx: begin");
	ok(!sqlite3_get_autocommit(db_handle(db)), "tx: in a transaction");
	db_exec(db, "INSERT INTO p VALUES (1)", err, sizeof(err));
	is_int(db_rollback(db), SQLITE_OK, "tx: rollback");
	is_int(query_int(db, "SELECT count(*) FROM p"), 0,
	       "tx: rolled back");
	is_int(db_begin(db), SQLITE_OK, "tx: begin again");
	db_exec(db, "INSERT INTO p VALUES (1)", err, sizeof(err));
	is_int(db_commit(db), SQLITE_OK, "tx: commit");
	is_int(query_int(db, "SELECT count(*) FROM p"), 1, "tx: committed");
	is_int(db_commit(db), SQLITE_ERROR, "tx: commit outside a transaction");
	like_str(db_errmsg(db), "no transaction is active",
		 "tx: commit outside a transaction: message");
	db_close(&db);
}

/*
 * The busy timeout: a second connection holds the write lock; BEGIN
 * IMMEDIATE from the first waits about its timeout, then SQLITE_BUSY.
 * Timing is asserted loosely: a slow machine must not fail this.
 */
static void
test_busy(void)
{
	char path[256], err[256];
	struct db *a, *b;
	double t0, elapsed;
	int rc;

	snprintf(path, sizeof(path), "%s/busy.db", tmpdir);
	a = db_open(path, 100, err, sizeof(err));
	if (a == NULL)
		bail_out("db_open(%s): %s", path, err);
	b = db_open(path, 100, err, sizeof(err));
	if (b == NULL)
		bail_out("db_open(%s): %s", path, err);
	db_exec(a, "CREATE TABLE t (x)", err, sizeof(err));

	is_int(db_begin(b), SQLITE_OK, "busy: the other connection locks");
	db_exec(b, "INSERT INTO t VALUES (1)", err, sizeof(err));
	t0 = clock_mono_s();
	rc = db_begin(a);
	elapsed = (clock_mono_s() - t0) * 1000;
	is_int(rc, SQLITE_BUSY, "busy: BEGIN IMMEDIATE gives SQLITE_BUSY");
	like_str(db_errmsg(a), "locked", "busy: message");
	if (!ok(elapsed >= 50, "busy: waited (>= 50 ms)"))
		diag("waited %.1f ms", elapsed);
	if (!ok(elapsed < 5000, "busy: but not forever (< 5 s)"))
		diag("waited %.1f ms", elapsed);
	ok(sqlite3_get_autocommit(db_handle(a)),
	   "busy: no transaction left open");
	is_int(query_int(a, "SELECT count(*) FROM t"), 0,
	       "busy: readers still read (WAL)");
	is_int(db_commit(b), SQLITE_OK, "busy: the other one commits");
	is_int(db_begin(a), SQLITE_OK, "busy: now the lock is ours");
	is_int(db_commit(a), SQLITE_OK, "busy: commit");
	db_close(&a);
	db_close(&b);
}

/*
 * db_batch: a transaction of rows, all or none, and a held lock told
 * apart from a real failure.
 */
static int
batch_row(struct db *db, size_t i, void *ctx)
{
	const int *vals = ctx;
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO u (x) VALUES (?)");
	int rc;

	if (st == NULL)
		return sqlite3_errcode(db_handle(db));
	sqlite3_bind_int(st, 1, vals[i]);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const struct batch_case {
	const char *name;
	int vals[3];
	size_t n;
	int locked;		/* the other connection has the lock */
	int want_rc;
	int want_busy;
	const char *want_err;		/* a part of err, or "" */
	long long want_rows;		/* in u afterwards */
} batch_cases[] = {
	{ "three rows", { 1, 2, 3 }, 3, 0, SQLITE_OK, 0, "", 3 },
	{ "no rows", { 0 }, 0, 0, SQLITE_OK, 0, "", 3 },
	{ "a failing row: none kept", { 4, 4, 5 }, 3, 0, SQLITE_CONSTRAINT,
	  0, "sqlite write: UNIQUE", 3 },
	{ "lock held: busy, none kept", { 6, 7, 8 }, 3, 1, SQLITE_BUSY, 1,
	  "sqlite begin: database is locked", 3 },
	{ "lock released: written", { 6, 7, 8 }, 3, 0, SQLITE_OK, 0, "", 6 },
};

static void
test_batch(void)
{
	const struct batch_case *c;
	char path[256], err[256];
	struct db *a, *b;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/batch.db", tmpdir);
	a = db_open(path, 50, err, sizeof(err));
	b = db_open(path, 50, err, sizeof(err));
	if (a == NULL || b == NULL)
		bail_out("db_open(%s): %s", path, err);
	if (db_exec(a, "CREATE TABLE u (x INTEGER UNIQUE)", err,
		    sizeof(err)) < 0)
		bail_out("create: %s", err);
	for (i = 0; i < sizeof(batch_cases) / sizeof(batch_cases[0]); i++) {
		c = &batch_cases[i];
		if (c->locked && db_begin(b) != SQLITE_OK)
			bail_out("the other connection cannot lock");
		err[0] = '\0';
		rc = db_batch(a, c->n, batch_row, (void *)c->vals, err,
			      sizeof(err));
		if (c->locked)
			db_rollback(b);
		is_int(rc, c->want_rc, "batch: %s: result", c->name);
		is_int(db_busy(rc), c->want_busy, "batch: %s: db_busy",
		       c->name);
		if (*c->want_err)
			like_str(err, c->want_err, "batch: %s: message",
				 c->name);
		ok(sqlite3_get_autocommit(db_handle(a)),
		   "batch: %s: no transaction left open", c->name);
		is_int(query_int(a, "SELECT count(*) FROM u"), c->want_rows,
		       "batch: %s: rows", c->name);
	}
	is_int(db_busy(SQLITE_LOCKED), 1, "batch: SQLITE_LOCKED is busy too");
	is_int(db_busy(SQLITE_BUSY_SNAPSHOT), 1,
	       "batch: extended busy codes too");
	is_int(db_busy(SQLITE_FULL), 0, "batch: SQLITE_FULL is not busy");
	db_close(&a);
	db_close(&b);
}

/*
 * The [database] section, through the real loader.
 */
static const struct conf_case {
	const char *name;
	const char *override;		/* NULL: defaults */
	const char *want_dir;		/* NULL: an error is expected */
	int want_timeout;
	const char *want_err;
} conf_cases[] = {
	{ "defaults", NULL, LOCALSTATEDIR "/lib/elemta", 5000, NULL },
	{ "directory", "database.directory=/srv/elemta", "/srv/elemta", 5000,
	  NULL },
	{ "relative directory", "database.directory=var/db", NULL, 0,
	  "must be an absolute path" },
	{ "empty directory", "database.directory=", NULL, 0,
	  "must be an absolute path" },
	{ "busy_timeout 0", "database.busy_timeout=0",
	  LOCALSTATEDIR "/lib/elemta", 0, NULL },
	{ "busy_timeout at most", "database.busy_timeout=600000",
	  LOCALSTATEDIR "/lib/elemta", 600000, NULL },
	{ "busy_timeout too long", "database.busy_timeout=600001", NULL, 0,
	  "out of range (0-600000)" },
	{ "busy_timeout negative", "database.busy_timeout=-1", NULL, 0,
	  "out of range (0-600000)" },
};

/* test_conf - the [database] section's table of cases */
static void
test_conf(void)
{
	const struct conf_case *c;
	const struct db_conf *dc;
	struct conf *conf;

	for (c = conf_cases; c < conf_cases + sizeof(conf_cases)
	     / sizeof(conf_cases[0]); c++) {
		conf = tap_conf_case(&db_conf_section, c->name, c->override,
				     c->want_dir ? NULL : c->want_err);
		if (c->want_dir != NULL) {
			dc = conf ? conf_get(conf, &db_conf_section) : NULL;
			is_str(dc ? dc->directory : NULL, c->want_dir,
			       "conf: %s: directory", c->name);
			is_int(dc ? dc->busy_timeout : -1, c->want_timeout,
			       "conf: %s: busy_timeout", c->name);
		}
		conf_unref(&conf);
	}
}

/*
 * Read-only: an existing file as it is, no creation, no writes.
 */
static void
test_readonly(void)
{
	char path[256], err[256];
	struct db *ro;
	sqlite3_stmt *st;
	sqlite3 *h;
	char *got;

	snprintf(path, sizeof(path), "%s/ro.db", tmpdir);
	ro = db_open_readonly(path, 100, err, sizeof(err));
	ok(ro == NULL, "readonly: a missing file is not created");
	like_str(err, "unable to open database file", "readonly: error");
	ok(access(path, F_OK) < 0, "readonly: ... and nothing is left");
	ok(db_open_readonly("", 100, err, sizeof(err)) == NULL,
	   "readonly: empty path refused");

	/* a rollback-journal file, as an administrator's tool makes one */
	if (sqlite3_open(path, &h) != SQLITE_OK
	    || sqlite3_exec(h, "CREATE TABLE t (a TEXT);"
			    "INSERT INTO t VALUES ('one')", NULL, NULL,
			    NULL) != SQLITE_OK)
		bail_out("cannot build %s", path);
	sqlite3_close(h);
	ro = db_open_readonly(path, 250, err, sizeof(err));
	if (!ok(ro != NULL, "readonly: opens an existing file"))
		bail_out("readonly: %s", err);
	got = query_text(ro, "SELECT a FROM t");
	is_str(got, "one", "readonly: reads");
	free(got);
	got = query_text(ro, "PRAGMA journal_mode");
	is_str(got, "delete", "readonly: the journal mode is left alone");
	free(got);
	is_int(query_int(ro, "PRAGMA busy_timeout"), 250,
	       "readonly: busy_timeout");
	st = db_stmt(ro, "INSERT INTO t VALUES ('two')");
	ok(st != NULL && sqlite3_step(st) == SQLITE_READONLY,
	   "readonly: a write fails with SQLITE_READONLY");
	if (st != NULL)
		sqlite3_reset(st);
	is_int(query_int(ro, "SELECT count(*) FROM t"), 1,
	       "readonly: nothing was written");
	db_close(&ro);
	unlink(path);
}

/*
 * Query templates: Postfix sqlite_table(5) style to SQL parameters.
 */
static const struct tmpl_case {
	const char *tmpl;
	const char *sql;		/* NULL: refused */
	unsigned uses;
	const char *err;
} tmpl_cases[] = {
	{ "SELECT b FROM t WHERE a = %s", "SELECT b FROM t WHERE a = ?1",
	  DB_TMPL_KEY, NULL },
	{ "SELECT b FROM t WHERE a = '%s'", "SELECT b FROM t WHERE a = ?1",
	  DB_TMPL_KEY, NULL },
	{ "SELECT b FROM t WHERE u='%u' AND d=%d",
	  "SELECT b FROM t WHERE u=?2 AND d=?3",
	  DB_TMPL_LOCAL | DB_TMPL_DOMAIN, NULL },
	{ "SELECT 100 %% 7 AS n FROM t WHERE a = %s OR b = %s",
	  "SELECT 100 % 7 AS n FROM t WHERE a = ?1 OR b = ?1", DB_TMPL_KEY,
	  NULL },
	/* inside other literals and quoted names, text is left alone */
	{ "SELECT \"%s\" FROM t WHERE a LIKE '%s%' AND b = 'it''s %d' "
	  "AND c = %d", "SELECT \"%s\" FROM t WHERE a LIKE '%s%' AND "
	  "b = 'it''s %d' AND c = ?3", DB_TMPL_DOMAIN, NULL },
	{ "SELECT b FROM t WHERE a = '%s' AND x = '''%s'''",
	  "SELECT b FROM t WHERE a = ?1 AND x = '''%s'''", DB_TMPL_KEY,
	  NULL },
	{ "SELECT b FROM t WHERE a = %x", NULL, 0, "'%x' in" },
	{ "SELECT b FROM t WHERE a = %", NULL, 0, "only %s, %u, %d" },
	{ "SELECT b FROM t WHERE a = 'x", NULL, 0, "unterminated '" },
	{ "SELECT b FROM t", NULL, 0, "uses none of %s, %u, %d" },
	{ "SELECT b FROM t WHERE a = '%s%'", NULL, 0, "uses none" },
};

/* test_template - the table of templates */
static void
test_template(void)
{
	const struct tmpl_case *c;
	char err[256], *sql;
	unsigned uses;
	int rc;

	for (c = tmpl_cases; c < tmpl_cases + sizeof(tmpl_cases)
	     / sizeof(tmpl_cases[0]); c++) {
		sql = NULL;
		err[0] = '\0';
		rc = db_query_template(c->tmpl, &sql, &uses, err, sizeof(err));
		if (c->sql == NULL) {
			ok(rc < 0 && sql == NULL, "template: %s: refused",
			   c->tmpl);
			like_str(err, c->err, "template: %s: error", c->tmpl);
			continue;
		}
		if (!ok(rc == 0, "template: %s: accepted", c->tmpl))
			diag("error: %s", err);
		is_str(sql, c->sql, "template: %s: SQL", c->tmpl);
		is_int(rc == 0 ? uses : 0, c->uses, "template: %s: uses",
		       c->tmpl);
		free(sql);
	}
}

/* cleanup - remove the temporary directory and what is in it */
static void
cleanup(void)
{
	static const char *const files[] = {
		"new.db", "new.db-wal", "new.db-shm", "mig.db", "mig.db-wal",
		"mig.db-shm", "busy.db", "busy.db-wal", "busy.db-shm",
		"batch.db", "batch.db-wal", "batch.db-shm",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	if (rmdir(tmpdir) < 0)
		diag("rmdir %s: %s", tmpdir, strerror(errno));
}

int
main(void)
{
	plan_lazy();
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	test_open();
	test_migrate();
	test_migrate_file();
	test_stmt();
	test_exec();
	test_busy();
	test_batch();
	test_readonly();
	test_template();
	test_conf();
	cleanup();
	done_testing();
	return exit_status();
}
