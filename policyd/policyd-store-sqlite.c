/*++
 * NAME
 *	policyd-store-sqlite 3
 * SUMMARY
 *	rate limit state in memory, written behind to SQLite
 * DESCRIPTION
 *	See policyd-store.h.  Schema (migrations through lib/db.h):
 *
 *	limit_state(k TEXT PRIMARY KEY, expires INTEGER, state BLOB):
 *	expires is when the newest logged entry stops counting (ms since
 *	the epoch), so a row with expires <= now is empty and can go;
 *	state is policyd_limit_encode()'s byte form.
 *
 *	In memory: a table of entries by key, and a list of the dirty ones.
 *	An entry leaves memory when it is clean and has not been used for
 *	PS_IDLE_MS; a dirty one stays until a flush succeeds.
 *--*/
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "policyd-store.h"
#include "policyd-table.h"
#include "xalloc.h"

#define PS_IDLE_MS	(5 * 60 * 1000)	/* clean keys unused this long go */
#define PS_SWEEP	256		/* cache buckets swept per tick */
#define PS_CLEAN_BATCH	500		/* expired rows deleted per tick */

struct ps_ent {
	struct policyd_limit_state st;
	int64_t expires;		/* of st: INT64_MIN when empty */
	int64_t touched;		/* last take/refund (ms) */
	int dirty;
	struct ps_ent *dirty_next;
	char *key;
};

struct policyd_store {
	struct db *db;
	struct policyd_table *cache;
	struct ps_ent *dirty;		/* list of dirty entries */
	int64_t flush_ms;
	int64_t next_flush;
	int64_t now;			/* the last time seen, for sweeps */
	struct policyd_store_stats stats;
};

static const struct db_migration ps_migrations[] = {
	{ 1, "CREATE TABLE limit_state ("
	     " k TEXT PRIMARY KEY NOT NULL,"
	     " expires INTEGER NOT NULL,"
	     " state BLOB NOT NULL);"
	     "CREATE INDEX limit_state_expires ON limit_state (expires);" },
};

#define PS_SELECT "SELECT state FROM limit_state WHERE k = ?1"
#define PS_UPSERT "INSERT OR REPLACE INTO limit_state (k, expires, state)" \
	" VALUES (?1, ?2, ?3)"
#define PS_DELETE "DELETE FROM limit_state WHERE k = ?1"
#define PS_CLEAN "DELETE FROM limit_state WHERE k IN (SELECT k FROM" \
	" limit_state WHERE expires <= ?1 LIMIT ?2)"

/* ps_ent_free - free a cache entry */
static void
ps_ent_free(void *v)
{
	struct ps_ent *e = v;

	x_free(&e->key);
	x_free(&e);
}

/* policyd_store_sqlite_open - open and migrate the database */
struct policyd_store *
policyd_store_sqlite_open(const char *path, int busy_timeout_ms,
			  int64_t flush_ms, char *err, size_t errlen)
{
	struct policyd_store *s;
	struct db *db;
	char why[256];

	if ((db = db_open(path, busy_timeout_ms, why, sizeof(why))) == NULL) {
		x_err(err, errlen, "%s", why);
		return NULL;
	}
	if (db_migrate(db, ps_migrations,
		       sizeof(ps_migrations) / sizeof(ps_migrations[0]),
		       why, sizeof(why)) < 0) {
		x_err(err, errlen, "%s: %s", path, why);
		db_close(&db);
		return NULL;
	}
	s = x_calloc(1, sizeof(*s));
	s->db = db;
	s->cache = policyd_table_new();
	s->flush_ms = flush_ms;
	s->next_flush = INT64_MIN;
	return s;
}

/* ps_fail - count an error and fill err with SQLite's message */
static int
ps_fail(struct policyd_store *s, char *err, size_t errlen, const char *what)
{
	s->stats.errors++;
	x_err(err, errlen, "sqlite %s: %s", what, db_errmsg(s->db));
	return -1;
}

/* ps_load - a key's state from the database (empty if no row) */
static int
ps_load(struct policyd_store *s, const char *key,
	struct policyd_limit_state *st, char *err, size_t errlen)
{
	sqlite3_stmt *q = db_stmt(s->db, PS_SELECT);
	int rc;

	memset(st, 0, sizeof(*st));
	if (q == NULL)
		return ps_fail(s, err, errlen, "prepare");
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		/* an undecodable row (from a future format, or damaged) is
		 * treated as empty rather than failing that key forever */
		if (policyd_limit_decode(st, sqlite3_column_blob(q, 0),
					 (size_t)sqlite3_column_bytes(q, 0)) < 0)
			memset(st, 0, sizeof(*st));
		rc = sqlite3_step(q);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return ps_fail(s, err, errlen, "select");
	s->stats.loads++;
	return 0;
}

/* ps_get - the cache entry of key, loading it on a miss */
static struct ps_ent *
ps_get(struct policyd_store *s, const char *key, char *err, size_t errlen)
{
	struct ps_ent *e = policyd_table_get(s->cache, key);
	struct policyd_limit_state st;

	if (e != NULL)
		return e;
	if (ps_load(s, key, &st, err, errlen) < 0)
		return NULL;
	e = x_calloc(1, sizeof(*e));
	e->st = st;
	e->expires = INT64_MIN;
	e->key = x_strdup(key);
	policyd_table_put(s->cache, key, e);
	return e;
}

/* ps_dirty - mark an entry for the next flush */
static void
ps_dirty(struct policyd_store *s, struct ps_ent *e)
{
	if (e->dirty)
		return;
	e->dirty = 1;
	e->dirty_next = s->dirty;
	s->dirty = e;
	s->stats.dirty++;
}

/* ps_write_through - flush now when there is no write-behind */
static int
ps_write_through(struct policyd_store *s, char *err, size_t errlen)
{
	if (s->flush_ms > 0 || s->dirty == NULL)
		return 0;
	return policyd_store_flush(s, err, errlen);
}

/* policyd_store_take - take or peek on one key's state */
int
policyd_store_take(struct policyd_store *s, const char *key,
		   const struct policyd_limit *lim, int64_t now,
		   uint64_t weight, int peek, struct policyd_limit_result *r,
		   char *err, size_t errlen)
{
	struct ps_ent *e;

	s->now = now;
	if ((e = ps_get(s, key, err, errlen)) == NULL)
		return -1;
	e->touched = now;
	if (peek) {
		policyd_limit_peek(lim, &e->st, now, weight, r);
		return 0;
	}
	if (policyd_limit_take(lim, &e->st, now, weight, r)
	    && lim->max > 0 && weight > 0) {
		e->expires = policyd_limit_expiry(lim, &e->st);
		ps_dirty(s, e);
		return ps_write_through(s, err, errlen);
	}
	return 0;
}

/* policyd_store_refund - give weight back to one key */
int64_t
policyd_store_refund(struct policyd_store *s, const char *key,
		     const struct policyd_limit *lim, int64_t at,
		     uint64_t weight, char *err, size_t errlen)
{
	struct ps_ent *e;
	uint64_t back;

	if ((e = ps_get(s, key, err, errlen)) == NULL)
		return -1;
	back = lim->period_ms == 0
		? policyd_limit_refund_quota(&e->st, at, weight)
		: policyd_limit_refund(&e->st, at, weight);
	if (back > 0) {
		e->expires = policyd_limit_expiry(lim, &e->st);
		ps_dirty(s, e);
		if (ps_write_through(s, err, errlen) < 0)
			return -1;
	}
	return (int64_t)back;
}

/* ps_write - write one entry inside the flush transaction */
static int
ps_write(struct policyd_store *s, struct ps_ent *e)
{
	unsigned char buf[POLICYD_LIMIT_ENCODED_MAX];
	sqlite3_stmt *q;
	size_t len;
	int rc;

	if (e->st.n == 0) {
		if ((q = db_stmt(s->db, PS_DELETE)) == NULL)
			return -1;
		sqlite3_bind_text(q, 1, e->key, -1, SQLITE_STATIC);
	} else {
		if ((q = db_stmt(s->db, PS_UPSERT)) == NULL)
			return -1;
		len = policyd_limit_encode(&e->st, buf);
		sqlite3_bind_text(q, 1, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, e->expires);
		sqlite3_bind_blob(q, 3, buf, (int)len, SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* policyd_store_flush - write every dirty entry in one transaction */
int
policyd_store_flush(struct policyd_store *s, char *err, size_t errlen)
{
	struct ps_ent *e, *next;
	unsigned long n = 0;

	if (s->dirty == NULL)
		return 0;
	if (db_begin(s->db) != SQLITE_OK)
		return ps_fail(s, err, errlen, "begin");
	for (e = s->dirty; e != NULL; e = e->dirty_next, n++) {
		if (ps_write(s, e) < 0) {
			ps_fail(s, err, errlen, "write");
			db_rollback(s->db);
			return -1;
		}
	}
	if (db_commit(s->db) != SQLITE_OK) {
		ps_fail(s, err, errlen, "commit");
		db_rollback(s->db);
		return -1;
	}
	for (e = s->dirty; e != NULL; e = next) {
		next = e->dirty_next;
		e->dirty = 0;
		e->dirty_next = NULL;
	}
	s->dirty = NULL;
	s->stats.dirty = 0;
	s->stats.flushes++;
	s->stats.written += n;
	return 0;
}

/* ps_sweep_drop - a clean entry unused for a while leaves the cache */
static int
ps_sweep_drop(const char *key, void *value, void *ctx)
{
	struct policyd_store *s = ctx;
	struct ps_ent *e = value;

	(void)key;
	if (e->dirty || e->touched > s->now - PS_IDLE_MS)
		return 0;
	ps_ent_free(e);
	return 1;
}

/* ps_clean - delete one batch of expired rows */
static int
ps_clean(struct policyd_store *s, int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *q = db_stmt(s->db, PS_CLEAN);
	int rc;

	if (q == NULL)
		return ps_fail(s, err, errlen, "prepare");
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, PS_CLEAN_BATCH);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return ps_fail(s, err, errlen, "clean");
	s->stats.cleaned += (unsigned long)sqlite3_changes(db_handle(s->db));
	return 0;
}

/* policyd_store_tick - flush when due, clean a batch, sweep a slice */
int
policyd_store_tick(struct policyd_store *s, int64_t now, char *err,
		   size_t errlen)
{
	int rc = 0;

	s->now = now;
	if (now >= s->next_flush) {
		s->next_flush = now + (s->flush_ms > 0 ? s->flush_ms : 1000);
		if (policyd_store_flush(s, err, errlen) < 0)
			return -1;
		rc = ps_clean(s, now, err, errlen);
	}
	policyd_table_sweep(s->cache, PS_SWEEP, ps_sweep_drop, s);
	return rc;
}

/* policyd_store_stats - counters and sizes */
void
policyd_store_stats(const struct policyd_store *s,
		    struct policyd_store_stats *out)
{
	*out = s->stats;
	out->cached = policyd_table_size(s->cache);
}

/* policyd_store_close - flush, close, free */
void
policyd_store_close(struct policyd_store **sp)
{
	struct policyd_store *s = *sp;

	if (s == NULL)
		return;
	(void)policyd_store_flush(s, NULL, 0);
	policyd_table_free(&s->cache, ps_ent_free);
	db_close(&s->db);
	x_free(sp);
}
