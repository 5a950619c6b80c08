/*++
 * NAME
 *	db 3h
 * SUMMARY
 *	a small SQLite helper: WAL, busy timeout, cached statements, migrations
 * SYNOPSIS
 *	#include "db.h"
 *
 *	static const struct db_migration mig[] = {
 *		{ 1, "CREATE TABLE triplet (k TEXT PRIMARY KEY, t INTEGER)" },
 *		{ 2, "ALTER TABLE triplet ADD COLUMN n INTEGER DEFAULT 0" },
 *	};
 *	struct db *db = db_open(path, 5000, err, sizeof err);
 *	db_migrate(db, mig, 2, err, sizeof err);
 *	sqlite3_stmt *st = db_stmt(db, "SELECT t FROM triplet WHERE k=?");
 *
 *	struct db *ro = db_open_readonly(path, 5000, err, sizeof err);
 *	db_query_template("SELECT x FROM t WHERE a = '%s'", &sql, &uses,
 *			  err, sizeof err);	   "... WHERE a = ?1"
 * DESCRIPTION
 *	db_open() opens (creating) a database in WAL mode with the given
 *	busy timeout and synchronous=NORMAL.  ":memory:" works for tests.
 *	db_migrate() brings the schema to the highest version listed:
 *	each migration whose version is above PRAGMA user_version runs,
 *	with the version bump, in its own transaction; a database newer
 *	than the code is an error (never silently used); a migration that
 *	fails is rolled back, leaving the version where it was, and the
 *	error names the version and SQLite's message.  db_stmt()
 *	prepares once and caches by SQL text; the statement is reset and
 *	its bindings cleared before it is returned.  A struct db is for one
 *	thread at a time.  Nothing here logs.
 *
 *	db_open_readonly() opens an existing database someone else owns
 *	(an administrator's table): read-only, never created, no pragma
 *	and no journal mode changed; db_stmt() works on it as on any
 *	other, and a statement that would write fails.
 *
 *	db_query_template() turns a query written in the style of
 *	Postfix's sqlite_table(5) into one with parameters, so that no
 *	value is ever pasted into SQL: %s (the whole key) becomes ?1, %u
 *	(its local part) ?2, %d (its domain) ?3, each also when it is a
 *	whole quoted literal ('%s', as Postfix's examples write it);
 *	%% is a percent sign.  Text inside other literals is left alone
 *	(LIKE '%x%' keeps its meaning); any other % outside a literal is an
 *	error, as is a template using none of the three.
 *--*/
#ifndef ELEMTA_DB_H
#define ELEMTA_DB_H

#include <stddef.h>
#include <sqlite3.h>

struct db;

struct db_migration {
	int version;		/* 1, 2, 3 ... ascending */
	const char *sql;	/* one or more statements; no BEGIN/COMMIT */
};

struct db *db_open(const char *path, int busy_timeout_ms,
		   char *err, size_t errlen);
void db_close(struct db **dbp);

int db_migrate(struct db *db, const struct db_migration *m, size_t n,
	       char *err, size_t errlen);
int db_version(struct db *db);		/* PRAGMA user_version, -1 on error */

/* db_stmt - a cached prepared statement (owned by db), or NULL with the
 * SQLite message available from db_errmsg().  sql is one statement.
 * Reset it (or step it to SQLITE_DONE) when done: a SELECT left on a
 * row keeps its read transaction open until the next db_stmt() call. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);
/* db_exec - run statements without results; 0, or -1 with a message */
int db_exec(struct db *db, const char *sql, char *err, size_t errlen);
/* These return SQLITE_OK (0) or SQLite's result code (SQLITE_BUSY once
 * the busy timeout has passed); db_errmsg() has the message. */
int db_begin(struct db *db);		/* BEGIN IMMEDIATE */
int db_commit(struct db *db);
int db_rollback(struct db *db);
const char *db_errmsg(struct db *db);
sqlite3 *db_handle(struct db *db);

/* db_batch - n rows in one transaction: BEGIN IMMEDIATE, row(db, i,
 * ctx) for each i (it returns SQLITE_OK or SQLite's code of what
 * failed), COMMIT; rolled back on a failure.  SQLITE_OK, or the SQLite
 * code of the failure with err ("sqlite begin|write|commit: message");
 * SQLITE_BUSY or SQLITE_LOCKED says another connection held the lock
 * past the busy timeout, and that trying again later may succeed. */
typedef int (*db_row_fn)(struct db *db, size_t i, void *ctx);
int db_batch(struct db *db, size_t n, db_row_fn row, void *ctx,
	     char *err, size_t errlen);
/* db_busy - rc (from db_batch, db_begin...) says the lock was held */
int db_busy(int rc);

/* db_open_readonly - an existing database, read-only; NULL with err */
struct db *db_open_readonly(const char *path, int busy_timeout_ms,
			    char *err, size_t errlen);

/* What a query template uses (db_query_template's *uses). */
#define DB_TMPL_KEY	1	/* %s -> ?1 */
#define DB_TMPL_LOCAL	2	/* %u -> ?2 */
#define DB_TMPL_DOMAIN	4	/* %d -> ?3 */
/* db_query_template - the SQL for a template (*sql malloc'ed, the
 * caller frees it) and what it uses; 0, or -1 with err */
int db_query_template(const char *tmpl, char **sql, unsigned *uses,
		      char *err, size_t errlen);

/* The [database] configuration section (lib/db.c). */
struct conf_section;
extern const struct conf_section db_conf_section;
struct db_conf {
	char *directory;	/* where daemons keep their SQLite files */
	int busy_timeout;	/* milliseconds */
};

#endif
