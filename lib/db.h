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

/* The [database] configuration section (lib/db.c). */
struct conf_section;
extern const struct conf_section db_conf_section;
struct db_conf {
	char *directory;	/* where daemons keep their SQLite files */
	int busy_timeout;	/* milliseconds */
};

#endif
