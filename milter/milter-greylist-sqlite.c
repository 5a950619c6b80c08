/*++
 * NAME
 *	milter-greylist-sqlite 3
 * SUMMARY
 *	greylisting's SQLite store (the default)
 * DESCRIPTION
 *	Two tables: greylist (a triplet's key, its first attempt, when it
 *	passed, when it was last seen) and greylist_clients (a client's
 *	passed retries, for auto-allow).  Each triplet is read, stepped
 *	(greylist_step) and written in one transaction, so that two
 *	processes on one file agree.  The caller passes the time in and
 *	removes what expired (greylist_db_expire).  Nothing here logs.
 *--*/
#include "config.h"

#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "milter-greylist.h"

static const struct db_migration gl_migrations[] = {
	{ 1, "CREATE TABLE greylist (k TEXT PRIMARY KEY,"
	     " first INTEGER NOT NULL, passed INTEGER NOT NULL,"
	     " last INTEGER NOT NULL);"
	     "CREATE INDEX greylist_last ON greylist(last);"
	     "CREATE TABLE greylist_clients (client TEXT PRIMARY KEY,"
	     " n INTEGER NOT NULL, last INTEGER NOT NULL);" },
};

/* greylist_db_open - see milter-greylist.h */
struct db *
greylist_db_open(const char *path, char *err, size_t errlen)
{
	struct db *db;

	if ((db = db_open(path, 200, err, errlen)) == NULL)
		return NULL;
	if (db_migrate(db, gl_migrations, 1, err, errlen) < 0) {
		db_close(&db);
		return NULL;
	}
	return db;
}

/* greylist_db_step - the triplet's record, stepped and written; inside
 * a transaction */
static int
greylist_db_step(struct db *db, const char *key, int64_t now,
		 const struct greylist_params *p, enum greylist_state *state,
		 struct greylist_rec *r)
{
	sqlite3_stmt *st;
	int found = 0, rc;

	if ((st = db_stmt(db, "SELECT first, passed, last FROM greylist "
			  "WHERE k = ?")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = 1;
		r->first = sqlite3_column_int64(st, 0);
		r->passed = sqlite3_column_int64(st, 1);
		r->last = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	*state = greylist_step(r, found, now, p);
	if ((st = db_stmt(db, "INSERT OR REPLACE INTO greylist (k, first, "
			  "passed, last) VALUES (?, ?, ?, ?)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->first);
	sqlite3_bind_int64(st, 3, r->passed);
	sqlite3_bind_int64(st, 4, r->last);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* greylist_db_check - see milter-greylist.h */
int
greylist_db_check(struct db *db, const char *key, int64_t now,
		  const struct greylist_params *p, enum greylist_state *state,
		  struct greylist_rec *rec)
{
	if (db_begin(db) != SQLITE_OK)
		return -1;
	memset(rec, 0, sizeof(*rec));
	if (greylist_db_step(db, key, now, p, state, rec) < 0) {
		(void)db_rollback(db);
		return -1;
	}
	return db_commit(db) == SQLITE_OK ? 0 : -1;
}

/* gl_write - run sql, a write of text ?1 at time ?2; 0 or -1 */
static int
gl_write(struct db *db, const char *sql, const char *text, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* greylist_db_client_pass - see milter-greylist.h */
int
greylist_db_client_pass(struct db *db, const char *client, int64_t now)
{
	return gl_write(db, "INSERT INTO greylist_clients (client, n, last)"
			" VALUES (?1, 1, ?2) ON CONFLICT(client) DO UPDATE"
			" SET n = n + 1, last = ?2", client, now);
}

/* greylist_db_client_allowed - see milter-greylist.h */
int
greylist_db_client_allowed(struct db *db, const char *client, int64_t now,
			   const struct greylist_params *p)
{
	sqlite3_stmt *st;
	int rc, allowed = 0;

	if (p->auto_allow <= 0)
		return 0;
	if ((st = db_stmt(db, "SELECT n FROM greylist_clients WHERE "
			  "client = ? AND last >= ?")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now - p->max_age);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		allowed = sqlite3_column_int(st, 0) >= p->auto_allow;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return allowed;
}

/* greylist_db_expire - see milter-greylist.h: records unused for
 * max_age, and unpassed ones whose retry window has closed */
long
greylist_db_expire(struct db *db, int64_t now,
		   const struct greylist_params *p)
{
	static const char *const sql[] = {
		"DELETE FROM greylist WHERE last < ?1 OR "
		"(passed = 0 AND first < ?2)",
		"DELETE FROM greylist_clients WHERE last < ?1",
	};
	sqlite3_stmt *st;
	long n = 0;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((st = db_stmt(db, sql[i])) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, now - p->max_age);
		if (i == 0)
			sqlite3_bind_int64(st, 2, now - p->window);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
		n += sqlite3_changes(db_handle(db));
	}
	return n;
}

/* gl_select - bind a selection: "k = ?1" or a prefix "substr(k, 1,
 * ?2) = ?1" (a prefix ends at a tab, so it never cuts a field) */
static sqlite3_stmt *
gl_select(struct db *db, const char *sql_exact, const char *sql_prefix,
	  const char *prefix, int exact)
{
	sqlite3_stmt *st;

	if ((st = db_stmt(db, exact ? sql_exact : sql_prefix)) == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
	if (!exact)
		sqlite3_bind_int(st, 2, (int)strlen(prefix));
	return st;
}

/* greylist_db_list - see milter-greylist.h */
long
greylist_db_list(struct db *db, const char *prefix, int exact, long max,
		 greylist_list_fn fn, void *ctx)
{
	struct greylist_rec r;
	sqlite3_stmt *st;
	long n = 0;
	int rc;

	if ((st = gl_select(db, "SELECT k, first, passed, last FROM greylist"
			    " WHERE k = ?1",
			    "SELECT k, first, passed, last FROM greylist"
			    " WHERE substr(k, 1, ?2) = ?1 ORDER BY last DESC",
			    prefix, exact)) == NULL)
		return -1;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.first = sqlite3_column_int64(st, 1);
		r.passed = sqlite3_column_int64(st, 2);
		r.last = sqlite3_column_int64(st, 3);
		fn((const char *)sqlite3_column_text(st, 0), &r, ctx);
		n++;
	}
	if (n < max && rc != SQLITE_DONE)
		n = -1;
	sqlite3_reset(st);
	return n;
}

/* greylist_db_delete - see milter-greylist.h */
long
greylist_db_delete(struct db *db, const char *prefix, int exact)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = gl_select(db, "DELETE FROM greylist WHERE k = ?1",
			    "DELETE FROM greylist WHERE substr(k, 1, ?2) = ?1",
			    prefix, exact)) == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? (long)sqlite3_changes(sqlite3_db_handle(st))
				 : -1;
}

/* greylist_db_allow - see milter-greylist.h */
int
greylist_db_allow(struct db *db, const char *key, int64_t now)
{
	return gl_write(db, "INSERT OR REPLACE INTO greylist (k, first, "
			"passed, last) VALUES (?1, ?2, ?2, ?2)", key, now);
}
