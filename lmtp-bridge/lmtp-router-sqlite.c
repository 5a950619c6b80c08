/*++
 * NAME
 *	lmtp-router-sqlite 3
 * SUMMARY
 *	the SQLite lookup source of the router
 * DESCRIPTION
 *	A struct lmtp_lookup_ops over an administrator's SQLite file,
 *	opened read-only (lib/db.c: db_open_readonly) and never changed.
 *	The query is a template in the style of Postfix's sqlite_table(5)
 *	(db_query_template): %s, %u and %d are bound as parameters, never
 *	pasted into the SQL.  A template that uses %u finds nothing for a
 *	key with no local part ("@dom"), one that uses %d nothing for a
 *	key with no domain, as Postfix does; otherwise the router's keys
 *	("user+detail@dom", "user@dom", "@dom") are all asked.
 *
 *	The query's result columns are read by name (use AS):
 *
 *	    backend	NULL, "", "-" or "default": the default backend;
 *			else inet:H:P or unix:PATH, or several with ';'
 *	    rewrite	NULL or "": the address as it came; else the
 *			mailbox address (the router keeps the +detail)
 *	    enabled	FALSE, 0 or no: disabled (550 5.2.1)
 *	    junk_optout	TRUE, 1 or yes: spam stays in the INBOX
 *
 *	Any other column is an error, so that a typo is not silently
 *	ignored.  No row: not found (550 5.1.1).  One row: found.  More
 *	than one row, an unusable value, a file that cannot be opened or
 *	read, a query that does not prepare on it, SQLITE_BUSY after the
 *	busy timeout: an error, which the router turns into 451 4.4.3.
 *
 *	One connection, opened at the first lookup and kept, under a
 *	mutex (a struct db is for one thread at a time; a lookup takes
 *	microseconds and the router's cache is in front); the statement is
 *	prepared once and cached by lib/db.c.  The file is stat()ed at each
 *	lookup: when it was replaced (a new table built aside and renamed
 *	over the old one, the usual way), the connection is reopened on
 *	the new file.  Changes made in place are seen by the next query.
 *--*/
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "clock.h"
#include "db.h"
#include "lmtp-options.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

/* The result columns the source knows, by name. */
enum lmtp_sql_col {
	LMTP_SQL_BACKEND,
	LMTP_SQL_REWRITE,
	LMTP_SQL_ENABLED,
	LMTP_SQL_JUNK,
	LMTP_SQL_NCOLS
};
static const char *const lmtp_sql_names[LMTP_SQL_NCOLS] = {
	"backend", "rewrite", "enabled", "junk_optout",
};

struct lmtp_sqlite {
	char *path;
	char *sql;		/* the template with ?1 ?2 ?3 */
	unsigned uses;		/* DB_TMPL_* */
	int busy_timeout;	/* milliseconds */
	pthread_mutex_t lock;	/* everything below */
	struct db *db;		/* NULL: not open */
	dev_t dev;		/* the file db reads */
	ino_t ino;
	int col[LMTP_SQL_NCOLS];	/* result column, or -1 */
	struct lmtp_source_metrics m;
};

/* lmtp_sqlite_columns - map the statement's result columns; 0 or -1 */
static int
lmtp_sqlite_columns(struct lmtp_sqlite *s, sqlite3_stmt *st, char *err,
		    size_t errlen)
{
	int i, n = sqlite3_column_count(st), k;
	const char *name;

	for (k = 0; k < LMTP_SQL_NCOLS; k++)
		s->col[k] = -1;
	for (i = 0; i < n; i++) {
		name = sqlite3_column_name(st, i);
		for (k = 0; k < LMTP_SQL_NCOLS; k++)
			if (name != NULL
			    && strcasecmp(name, lmtp_sql_names[k]) == 0)
				break;
		if (k == LMTP_SQL_NCOLS || s->col[k] >= 0) {
			x_err(err, errlen, "sqlite_query: result column '%s' "
			      "is %s", name ? name : "?", k == LMTP_SQL_NCOLS
			      ? "none of backend, rewrite, enabled, "
			      "junk_optout (use AS)" : "there twice");
			return -1;
		}
		s->col[k] = i;
	}
	return 0;
}

/* lmtp_sqlite_stmt - the prepared query on an open, current connection
 * (lock held); NULL with err */
static sqlite3_stmt *
lmtp_sqlite_stmt(struct lmtp_sqlite *s, char *err, size_t errlen)
{
	struct stat sb;
	sqlite3_stmt *st;
	char oerr[300];

	if (stat(s->path, &sb) < 0) {
		x_err(err, errlen, "sqlite: %s: %s", s->path, strerror(errno));
		db_close(&s->db);
		return NULL;
	}
	if (s->db != NULL && (sb.st_dev != s->dev || sb.st_ino != s->ino))
		db_close(&s->db);	/* replaced: read the new file */
	if (s->db == NULL) {
		s->db = db_open_readonly(s->path, s->busy_timeout, oerr,
					 sizeof(oerr));
		if (s->db == NULL) {
			x_err(err, errlen, "sqlite: %s", oerr);
			return NULL;
		}
		s->dev = sb.st_dev;
		s->ino = sb.st_ino;
	}
	if ((st = db_stmt(s->db, s->sql)) == NULL) {
		x_err(err, errlen, "sqlite: %s: %s", s->path,
		      db_errmsg(s->db));
		db_close(&s->db);	/* retried at the next lookup */
		return NULL;
	}
	if (!sqlite3_stmt_readonly(st)) {
		x_err(err, errlen, "sqlite_query: not a read-only query");
		db_close(&s->db);
		return NULL;
	}
	if (lmtp_sqlite_columns(s, st, oerr, sizeof(oerr)) < 0) {
		x_err(err, errlen, "%s", oerr);
		db_close(&s->db);
		return NULL;
	}
	return st;
}

/* lmtp_sqlite_text - the text of column k of the row, or NULL */
static const char *
lmtp_sqlite_text(const struct lmtp_sqlite *s, sqlite3_stmt *st,
		 enum lmtp_sql_col k)
{
	return s->col[k] < 0 ? NULL
		: (const char *)sqlite3_column_text(st, s->col[k]);
}

/* lmtp_sqlite_row - read the row into res; 1, or -1 with err */
static int
lmtp_sqlite_row(const struct lmtp_sqlite *s, sqlite3_stmt *st,
		const char *key, struct lmtp_lookup_result *res, char *err,
		size_t errlen)
{
	const char *v;
	char berr[256];

	if ((v = lmtp_sqlite_text(s, st, LMTP_SQL_ENABLED)) != NULL
	    && lmtp_value_false(v)) {
		res->disabled = 1;
		return 1;
	}
	if ((v = lmtp_sqlite_text(s, st, LMTP_SQL_JUNK)) != NULL
	    && lmtp_value_true(v))
		res->junk_optout = 1;
	if ((v = lmtp_sqlite_text(s, st, LMTP_SQL_BACKEND)) != NULL
	    && *v != '\0' && strcmp(v, "-") != 0 && strcmp(v, "default") != 0) {
		if (lmtp_options_backend_check(v, berr, sizeof(berr)) < 0) {
			x_err(err, errlen, "sqlite: backend of %s: %s", key,
			      berr);
			return -1;
		}
		res->backend = x_strdup(v);
	}
	if ((v = lmtp_sqlite_text(s, st, LMTP_SQL_REWRITE)) != NULL
	    && *v != '\0') {
		if (lmtp_rewrite_check(v) < 0) {
			x_err(err, errlen, "sqlite: rewrite of %s: '%s' is not "
			      "an address", key, v);
			x_free(&res->backend);
			return -1;
		}
		res->rewrite = x_strdup(v);
	}
	return 1;
}

/* lmtp_sqlite_bind - the key's parts as the template's parameters */
static int
lmtp_sqlite_bind(const struct lmtp_sqlite *s, sqlite3_stmt *st,
		 const char *key, const char *at)
{
	int rc = SQLITE_OK;

	if (s->uses & DB_TMPL_KEY)
		rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && (s->uses & DB_TMPL_LOCAL))
		rc = sqlite3_bind_text(st, 2, key, at != NULL
				       ? (int)(at - key) : -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && (s->uses & DB_TMPL_DOMAIN))
		rc = sqlite3_bind_text(st, 3, at + 1, -1, SQLITE_STATIC);
	return rc;
}

/* lmtp_sqlite_query - run the query for key (lock held); 1 found, 0
 * not, -1 error */
static int
lmtp_sqlite_query(struct lmtp_sqlite *s, const char *key, const char *at,
		  struct lmtp_lookup_result *res, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, found;

	if ((st = lmtp_sqlite_stmt(s, err, errlen)) == NULL)
		return -1;
	if ((rc = lmtp_sqlite_bind(s, st, key, at)) == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		found = 0;
	} else if (rc != SQLITE_ROW) {
		x_err(err, errlen, "sqlite: %s: %s", s->path,
		      sqlite3_errmsg(db_handle(s->db)));
		found = -1;
	} else if ((found = lmtp_sqlite_row(s, st, key, res, err, errlen)) > 0
		   && (rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc == SQLITE_ROW)
			x_err(err, errlen, "sqlite: %s: more than one row for "
			      "%s", s->path, key);
		else
			x_err(err, errlen, "sqlite: %s: %s", s->path,
			      sqlite3_errmsg(db_handle(s->db)));
		x_free(&res->backend);
		x_free(&res->rewrite);
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

/* lmtp_sqlite_lookup - the lookup of struct lmtp_lookup_ops */
static int
lmtp_sqlite_lookup(void *ctx, const char *key,
		   struct lmtp_lookup_result *res, char *err, size_t errlen)
{
	struct lmtp_sqlite *s = ctx;
	const char *at = strrchr(key, '@');
	double t0;
	int found;

	/* Postfix's rules: %u needs a local part, %d a domain */
	if (((s->uses & DB_TMPL_LOCAL) && at == key)
	    || ((s->uses & DB_TMPL_DOMAIN) && (at == NULL || at[1] == '\0')))
		return 0;
	t0 = clock_mono_s();
	pthread_mutex_lock(&s->lock);
	found = lmtp_sqlite_query(s, key, at, res, err, errlen);
	pthread_mutex_unlock(&s->lock);
	metric_series_observe(s->m.latency, clock_mono_s() - t0);
	lmtp_source_metrics_count(&s->m, found);
	return found;
}

/* lmtp_sqlite_check - open and prepare now */
int
lmtp_sqlite_check(void *ctx, char *err, size_t errlen)
{
	struct lmtp_sqlite *s = ctx;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = lmtp_sqlite_stmt(s, err, errlen) != NULL ? 0 : -1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* lmtp_sqlite_free - the free of struct lmtp_lookup_ops */
static void
lmtp_sqlite_free(void *ctx)
{
	struct lmtp_sqlite *s = ctx;

	if (s == NULL)
		return;
	db_close(&s->db);
	pthread_mutex_destroy(&s->lock);
	x_free(&s->path);
	x_free(&s->sql);
	x_free(&s);
}

/* lmtp_sqlite_new - an SQLite source; NULL with err */
void *
lmtp_sqlite_new(const char *path, const char *query, int busy_timeout_ms,
		char *err, size_t errlen)
{
	static const double buckets[] = {
		0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
		0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
	};
	struct lmtp_sqlite *s;
	char terr[300];
	char *sql;
	unsigned uses;

	if (db_query_template(query, &sql, &uses, terr, sizeof(terr)) < 0) {
		x_err(err, errlen, "sqlite_query: %s", terr);
		return NULL;
	}
	s = x_calloc(1, sizeof(*s));
	s->path = x_strdup(path);
	s->sql = sql;
	s->uses = uses;
	s->busy_timeout = busy_timeout_ms;
	pthread_mutex_init(&s->lock, NULL);
	lmtp_source_metrics_init(&s->m, "sqlite",
				 "SQLite routing queries by outcome",
				 "SQLite routing query latency", buckets,
				 sizeof(buckets) / sizeof(buckets[0]));
	return s;
}

const struct lmtp_lookup_ops lmtp_sqlite_ops = {
	"sqlite", lmtp_sqlite_lookup, lmtp_sqlite_free,
};
