/*++
 * NAME
 *	db 3
 * SUMMARY
 *	a small SQLite helper: WAL, busy timeout, cached statements, migrations
 * DESCRIPTION
 *	See db.h.  The connection is opened in SQLite's multi-thread mode
 *	(no per-connection mutex): a struct db is used by one thread at a
 *	time, which is what the daemons do (one per worker, or one behind
 *	their own lock).
 *
 *	The statement cache is a sorted array searched by SQL text; a
 *	daemon has a few dozen statements, not thousands.  Statements are
 *	prepared with SQLITE_PREPARE_PERSISTENT, as they live as long as
 *	the connection.
 *
 *	Migrations re-read user_version after BEGIN IMMEDIATE, so that two
 *	processes starting on the same file at once do not both run the
 *	same migration: the second finds the bump already made and skips.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "conf.h"
#include "db.h"
#include "xalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

struct db_cached {
	char *sql;
	sqlite3_stmt *stmt;
};

struct db {
	sqlite3 *handle;
	struct db_cached *cache;	/* sorted by sql */
	size_t ncache;
	size_t acache;
	int has_err;			/* err overrides SQLite's message */
	char err[128];
};

/* db_connect - an SQLite connection with flags (no mutex of its own)
 * and the busy timeout; NULL with err */
static sqlite3 *
db_connect(const char *path, int flags, int busy_timeout_ms, char *err,
	   size_t errlen)
{
	sqlite3 *h = NULL;
	int rc;

	if (path == NULL || *path == '\0') {
		x_err(err, errlen, "no database path");
		return NULL;
	}
	rc = sqlite3_open_v2(path, &h, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		x_err(err, errlen, "%s: %s", path,
		      h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, busy_timeout_ms > 0 ? busy_timeout_ms : 0);
	return h;
}

/* db_open - open or create a database: WAL, busy timeout, NORMAL sync */
struct db *
db_open(const char *path, int busy_timeout_ms, char *err, size_t errlen)
{
	static const char pragmas[] =
		"PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";
	struct db *db;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	const char *mode;
	char *msg = NULL;
	int rc;

	if ((h = db_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    busy_timeout_ms, err, errlen)) == NULL)
		return NULL;

	/* journal_mode answers with the mode in force: "wal", or "memory"
	 * for an in-memory database, which has no WAL. */
	rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		x_err(err, errlen, "%s: cannot set WAL mode: %s", path,
		      sqlite3_errmsg(h));
		goto fail;
	}
	mode = (const char *) sqlite3_column_text(st, 0);
	if (mode == NULL || (strcmp(mode, "wal") != 0
			     && strcmp(mode, "memory") != 0)) {
		x_err(err, errlen, "%s: cannot set WAL mode (journal_mode "
		      "is %s)", path, mode ? mode : "unknown");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_exec(h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		x_err(err, errlen, "%s: %s", path,
		      msg ? msg : sqlite3_errmsg(h));
		sqlite3_free(msg);
		goto fail;
	}
	db = x_calloc(1, sizeof(*db));
	db->handle = h;
	return db;

fail:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return NULL;
}

/* db_open_readonly - open an existing database read-only, as it is */
struct db *
db_open_readonly(const char *path, int busy_timeout_ms, char *err,
		 size_t errlen)
{
	struct db *db;
	sqlite3 *h;

	if ((h = db_connect(path, SQLITE_OPEN_READONLY, busy_timeout_ms, err,
			    errlen)) == NULL)
		return NULL;
	db = x_calloc(1, sizeof(*db));
	db->handle = h;
	return db;
}

/* db_close - finalize every statement, close, and set *dbp to NULL */
void
db_close(struct db **dbp)
{
	struct db *db;
	sqlite3_stmt *st;
	size_t i;

	if (dbp == NULL || (db = *dbp) == NULL)
		return;
	for (i = 0; i < db->ncache; i++)
		free(db->cache[i].sql);
	free(db->cache);
	/* Ours and any the caller prepared on db_handle(): a connection
	 * with live statements does not close. */
	while ((st = sqlite3_next_stmt(db->handle, NULL)) != NULL)
		sqlite3_finalize(st);
	sqlite3_close_v2(db->handle);
	free(db);
	*dbp = NULL;
}

/* db_version - PRAGMA user_version, -1 on error */
int
db_version(struct db *db)
{
	sqlite3_stmt *st;
	int version = -1;

	db->has_err = 0;
	if (sqlite3_prepare_v2(db->handle, "PRAGMA user_version", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* db_cache_find - binary search the cache; index or insertion point */
static size_t
db_cache_find(const struct db *db, const char *sql, int *found)
{
	size_t lo = 0;
	size_t hi = db->ncache;
	size_t mid;
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(sql, db->cache[mid].sql);
		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* db_set_err - an error of ours for db_errmsg() */
static void
db_set_err(struct db *db, const char *msg)
{
	snprintf(db->err, sizeof(db->err), "%s", msg);
	db->has_err = 1;
}

/* db_stmt - a cached prepared statement, reset, bindings cleared */
sqlite3_stmt *
db_stmt(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	const char *tail = NULL;
	size_t at;
	int found;

	db->has_err = 0;
	at = db_cache_find(db, sql, &found);
	if (found) {
		st = db->cache[at].stmt;
		/* reset returns the last step's error, which is history */
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	if (sqlite3_prepare_v3(db->handle, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &st, &tail) != SQLITE_OK)
		return NULL;
	if (st == NULL) {
		db_set_err(db, "empty statement");
		return NULL;
	}
	tail += strspn(tail, " \t\r\n;");
	if (*tail != '\0') {
		sqlite3_finalize(st);
		db_set_err(db, "more than one statement");
		return NULL;
	}
	if (db->ncache == db->acache) {
		db->acache = db->acache ? 2 * db->acache : 16;
		db->cache = x_realloc(db->cache,
				      db->acache * sizeof(*db->cache));
	}
	memmove(db->cache + at + 1, db->cache + at,
		(db->ncache - at) * sizeof(*db->cache));
	db->cache[at].sql = x_strdup(sql);
	db->cache[at].stmt = st;
	db->ncache++;
	return st;
}

/* db_exec - run one or more statements without results */
int
db_exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	db->has_err = 0;
	if (sqlite3_exec(db->handle, sql, NULL, NULL, &msg) != SQLITE_OK) {
		x_err(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->handle));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* db_step_once - run a cached statement that returns no rows */
static int
db_step_once(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	int rc;

	if (st == NULL)
		return sqlite3_errcode(db->handle);
	rc = sqlite3_step(st);
	/* Keep the message: reset would not clear it, but be explicit. */
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* db_begin - BEGIN IMMEDIATE; SQLITE_OK or the SQLite error code */
int
db_begin(struct db *db)
{
	return db_step_once(db, "BEGIN IMMEDIATE");
}

/* db_commit - COMMIT; SQLITE_OK or the SQLite error code */
int
db_commit(struct db *db)
{
	return db_step_once(db, "COMMIT");
}

/* db_rollback - ROLLBACK; SQLITE_OK or the SQLite error code */
int
db_rollback(struct db *db)
{
	return db_step_once(db, "ROLLBACK");
}

/* db_errmsg - the message of the last failed call */
const char *
db_errmsg(struct db *db)
{
	return db->has_err ? db->err : sqlite3_errmsg(db->handle);
}

/* db_handle - the SQLite connection (owned by db) */
sqlite3 *
db_handle(struct db *db)
{
	return db->handle;
}

/* db_batch - rows in one transaction, rolled back on a failure */
int
db_batch(struct db *db, size_t n, db_row_fn row, void *ctx, char *err,
	 size_t errlen)
{
	const char *what = "begin";
	size_t i;
	int rc;

	if ((rc = db_begin(db)) != SQLITE_OK)
		goto bad;
	what = "write";
	for (i = 0; i < n; i++)
		if ((rc = row(db, i, ctx)) != SQLITE_OK)
			goto rollback;
	what = "commit";
	if ((rc = db_commit(db)) != SQLITE_OK)
		goto rollback;
	return SQLITE_OK;
rollback:
	x_err(err, errlen, "sqlite %s: %s", what, db_errmsg(db));
	/* an error may already have ended the transaction */
	if (!sqlite3_get_autocommit(db->handle))
		db_rollback(db);
	return rc;
bad:
	x_err(err, errlen, "sqlite %s: %s", what, db_errmsg(db));
	return rc;
}

/* db_busy - the code says another connection held the lock */
int
db_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* db_migrate_one - run one migration and its version bump, atomically */
static int
db_migrate_one(struct db *db, const struct db_migration *m, int latest,
	       char *err, size_t errlen)
{
	char bump[64];
	char *msg = NULL;
	int current;
	int rc;

	if ((rc = db_begin(db)) != SQLITE_OK) {
		x_err(err, errlen, "migration to version %d: cannot begin: %s",
		      m->version, sqlite3_errmsg(db->handle));
		return -1;
	}
	/* Another process may have migrated while we waited for the lock. */
	current = db_version(db);
	if (current < 0 || current > latest) {
		if (current < 0)
			x_err(err, errlen, "migration to version %d: cannot "
			      "read user_version: %s", m->version,
			      sqlite3_errmsg(db->handle));
		else
			x_err(err, errlen, "database schema version %d is "
			      "newer than this program knows (%d)", current,
			      latest);
		db_rollback(db);
		return -1;
	}
	if (current >= m->version)
		return db_commit(db) == SQLITE_OK ? 0 : -1;

	snprintf(bump, sizeof(bump), "PRAGMA user_version=%d", m->version);
	if (sqlite3_exec(db->handle, m->sql, NULL, NULL, &msg) != SQLITE_OK
	    || sqlite3_exec(db->handle, bump, NULL, NULL, &msg) != SQLITE_OK
	    || (rc = db_commit(db)) != SQLITE_OK) {
		x_err(err, errlen, "migration to version %d failed: %s",
		      m->version, msg ? msg : sqlite3_errmsg(db->handle));
		sqlite3_free(msg);
		/* An error may already have ended the transaction. */
		if (!sqlite3_get_autocommit(db->handle))
			db_rollback(db);
		return -1;
	}
	return 0;
}

/* db_migrate - bring the schema to the highest version in m[] */
int
db_migrate(struct db *db, const struct db_migration *m, size_t n,
	   char *err, size_t errlen)
{
	int latest = n > 0 ? m[n - 1].version : 0;
	int current;
	size_t i;

	for (i = 0; i < n; i++) {
		if (m[i].version <= (i > 0 ? m[i - 1].version : 0)
		    || m[i].sql == NULL) {
			x_err(err, errlen, "migration table: entry %zu: "
			      "versions must be positive and ascending, each "
			      "with SQL", i + 1);
			return -1;
		}
	}
	if ((current = db_version(db)) < 0) {
		x_err(err, errlen, "cannot read user_version: %s",
		      sqlite3_errmsg(db->handle));
		return -1;
	}
	if (current > latest) {
		x_err(err, errlen, "database schema version %d is newer than "
		      "this program knows (%d)", current, latest);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (m[i].version > current
		    && db_migrate_one(db, m + i, latest, err, errlen) < 0)
			return -1;
	return 0;
}

/* db_tmpl_param - the parameter for placeholder letter c, or NULL */
static const char *
db_tmpl_param(char c, unsigned *uses)
{
	switch (c) {
	case 's':
		*uses |= DB_TMPL_KEY;
		return "?1";
	case 'u':
		*uses |= DB_TMPL_LOCAL;
		return "?2";
	case 'd':
		*uses |= DB_TMPL_DOMAIN;
		return "?3";
	}
	return NULL;
}

/* db_query_template - a Postfix-style query template as SQL with
 * parameters */
int
db_query_template(const char *tmpl, char **sql, unsigned *uses, char *err,
		  size_t errlen)
{
	const char *p = tmpl, *end, *param;
	char *out = x_malloc(2 * strlen(tmpl) + 1), *o = out;

	*uses = 0;
	while (*p != '\0') {
		if (*p == '\'' || *p == '"') {
			/* a literal or a quoted name; '' and "" inside */
			for (end = p + 1; *end != '\0'; end++)
				if (*end == *p && end[1] != *p)
					break;
				else if (*end == *p)
					end++;
			if (*end == '\0') {
				x_err(err, errlen, "unterminated %c in '%s'",
				      *p, tmpl);
				goto bad;
			}
			if (*p == '\'' && end - p == 3 && p[1] == '%'
			    && (param = db_tmpl_param(p[2], uses)) != NULL) {
				o = stpcpy(o, param);
			} else {
				memcpy(o, p, (size_t)(end - p + 1));
				o += end - p + 1;
			}
			p = end + 1;
			continue;
		}
		if (*p != '%') {
			*o++ = *p++;
			continue;
		}
		if (p[1] == '%') {
			*o++ = '%';
		} else if ((param = db_tmpl_param(p[1], uses)) != NULL) {
			o = stpcpy(o, param);
		} else {
			x_err(err, errlen, "'%%%.1s' in '%s': only %%s, %%u, "
			      "%%d and %%%% are known", p + 1, tmpl);
			goto bad;
		}
		p += 2;
	}
	*o = '\0';
	if (*uses == 0) {
		x_err(err, errlen, "'%s' uses none of %%s, %%u, %%d", tmpl);
		goto bad;
	}
	*sql = out;
	return 0;
bad:
	x_free(&out);
	return -1;
}

/*
 * The [database] section.
 */
static cfg_opt_t db_opts[] = {
	CFG_STR("directory", LOCALSTATEDIR "/lib/elemta", CFGF_NONE),
	CFG_INT("busy_timeout", 5000, CFGF_NONE),
	CFG_END()
};

static const struct conf_check db_checks[] = {
	{ "directory", CONF_CHECK_PATH, 1, 0, NULL, NULL },
	{ "busy_timeout", CONF_CHECK_RANGE, 0, 600000, NULL, NULL },
	CONF_CHECK_END
};

/* db_conf_load - copy the [database] section into struct db_conf */
static int
db_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct db_conf *dc = out;

	/* The checks above have run; this only catches an empty value. */
	dc->directory = conf_strdup_opt(sec, "directory");
	if (dc->directory == NULL) {
		x_err(err, errlen, "directory: must be an absolute path");
		return -1;
	}
	dc->busy_timeout = (int) cfg_getint(sec, "busy_timeout");
	return 0;
}

/* db_conf_release - free what db_conf_load allocated */
static void
db_conf_release(void *out)
{
	struct db_conf *dc = out;

	x_free(&dc->directory);
}

const struct conf_section db_conf_section = {
	"database", db_opts, db_checks, sizeof(struct db_conf),
	db_conf_load, db_conf_release,
};
