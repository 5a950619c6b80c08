/*++
 * NAME
 *	policyd-store-sqlite 3
 * SUMMARY
 *	rate limit state in memory, written behind to SQLite
 * DESCRIPTION
 *	See policyd-store.h.  Schema (migrations through lib/db.h):
 *
 *	limit_state(k TEXT PRIMARY KEY, expires INTEGER, state BLOB):
 *	expires is no earlier than when the newest logged entry stops
 *	counting (ms since the epoch), so a row with expires <= now is
 *	empty and can go; state is policyd_limit_encode()'s byte form.
 *
 *	A row is written with its expiry rounded up to PS_EXPIRES_GRAIN,
 *	and a later write whose expiry the stored one still covers
 *	changes the state alone: most writes then leave the expires index
 *	alone (a key in steady use moves it once a grain, not once a
 *	flush), which is most of a batch's cost.  A row expires up to a
 *	grain later than it could, which only delays its deletion.  A row
 *	of an older version (its exact expiry) is read and written the
 *	same way: the schema is unchanged.
 *
 *	In memory: a table of entries by key, and a list of the dirty ones.
 *	An entry leaves memory when it is clean and has not been used for
 *	PS_IDLE_MS; a dirty one stays until a flush succeeds.
 *
 *	Write-behind flushes run in a writer thread on a connection of its
 *	own, so that the protocol loop never waits for a commit (a flush
 *	of ten thousand keys takes a good part of a second): a tick takes
 *	a snapshot of the dirty entries (key, expiry, encoded state) as a
 *	batch, marks them in flight (so the sweep keeps them) and clean,
 *	and hands the batch over; the writer writes it in one transaction,
 *	then deletes a batch of expired rows.  The next tick collects the
 *	outcome: on success the entries are no longer in flight; on
 *	failure each is dirty again (unless it changed meanwhile and is
 *	dirty already, with a newer state) and the error is returned.
 *	One batch at a time: a tick that finds the writer busy leaves the
 *	dirty entries for the next.  Reads on a cache miss stay on the
 *	loop's connection: under WAL they never wait for the writer.
 *	Write-through (flush interval 0) and policyd_store_flush() write
 *	on the loop's connection, after waiting for the writer.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon.h"
#include "db.h"
#include "policyd-store.h"
#include "htable.h"
#include "log.h"
#include "xalloc.h"

#define PS_IDLE_MS	(5 * 60 * 1000)	/* clean keys unused this long go */
#define PS_SWEEP	256		/* cache buckets swept per tick */
#define PS_CLEAN_BATCH	500		/* expired rows deleted per tick */
#define PS_STEP		256		/* dirty keys snapshotted per step */
#define PS_BATCH_MAX	100000		/* rows a batch holds at most */
#define PS_EXPIRES_GRAIN 60000		/* stored expiries rounded up (ms) */
/* the writing connection's page cache: SQLite's default (2 MB) holds a
 * few thousand keys, and a batch whose pages are not in it reads them
 * back from the file (about half a batch's CPU, measured); pages are
 * allocated as they are used, so this is a ceiling */
#define PS_WRITER_CACHE	"PRAGMA cache_size = -65536"	/* KiB: 64 MB */

struct ps_ent {
	struct policyd_limit_state st;
	int64_t expires;		/* of st: INT64_MIN when empty */
	int64_t touched;		/* last take/refund (ms) */
	int dirty;
	int inflight;			/* in the writer's batch */
	struct ps_ent *dirty_next;
	char *key;
};

/* One row of a batch: a snapshot, owned by the batch. */
struct ps_row {
	struct ps_ent *e;		/* the loop's entry (in flight) */
	const char *key;		/* e's: kept while e is in flight */
	int64_t expires;		/* e's, exact */
	size_t len;			/* 0: delete the row */
	unsigned char state[POLICYD_LIMIT_ENCODED_MAX];
};

/* The writer thread and the batch it works on; everything below mu is
 * shared with the writer and read or written under mu. */
struct ps_writer {
	struct db *db;			/* the writer's own connection */
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int busy;			/* a batch handed over, not collected */
	int done;			/* ... and written (or failed) */
	struct ps_row *rows;
	size_t nrows;
	int64_t clean_before;		/* delete rows expired by then */
	int rc;				/* 0, or -1 with err */
	unsigned long cleaned;
	char err[256];
};

struct policyd_store {
	struct db *db;
	struct htable *cache;
	struct ps_ent *dirty;		/* list of dirty entries */
	int64_t flush_ms;
	int64_t next_flush;
	int64_t now;			/* the last time seen, for sweeps */
	struct ps_writer *w;		/* write-behind only */
	struct ps_row *build;		/* the batch being snapshotted */
	size_t nbuild, capbuild;
	int building;
	int failed;			/* a batch failed: err, for the tick */
	char err[256];
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
/* the state alone, when the stored expiry covers the new one */
#define PS_UPDATE "UPDATE limit_state SET state = ?3" \
	" WHERE k = ?1 AND expires >= ?2"
/* else both (an update in place: the row keeps its rowid, so the key's
 * index is left alone too) */
#define PS_UPSERT "INSERT INTO limit_state (k, expires, state)" \
	" VALUES (?1, ?2, ?3) ON CONFLICT (k) DO UPDATE" \
	" SET expires = excluded.expires, state = excluded.state"
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

static void *ps_writer_run(void *arg);

/* ps_writer_start - the writer thread on a connection of its own */
static struct ps_writer *
ps_writer_start(const char *path, int busy_timeout_ms, char *err,
		size_t errlen)
{
	struct ps_writer *w = x_calloc(1, sizeof(*w));
	char why[256];

	if ((w->db = db_open(path, busy_timeout_ms, why, sizeof(why)))
	    == NULL) {
		x_err(err, errlen, "%s (the writer's connection)", why);
		x_free(&w);
		return NULL;
	}
	if (db_exec(w->db, PS_WRITER_CACHE, why, sizeof(why)) < 0) {
		x_err(err, errlen, "%s: %s (the writer's connection)", path,
		      why);
		db_close(&w->db);
		x_free(&w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->tid, NULL, ps_writer_run, w) != 0) {
		x_err(err, errlen, "%s: cannot start the writer thread", path);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		db_close(&w->db);
		x_free(&w);
		return NULL;
	}
	return w;
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
	s->cache = htable_new();
	s->flush_ms = flush_ms;
	s->next_flush = INT64_MIN;
	if (flush_ms > 0
	    && (s->w = ps_writer_start(path, busy_timeout_ms, err, errlen))
	    == NULL) {
		htable_free(&s->cache, NULL);
		db_close(&s->db);
		x_free(&s);
		return NULL;
	}
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
		 * treated as empty rather than failing that key forever;
		 * said once a key, as it stays cached */
		if (policyd_limit_decode(st, sqlite3_column_blob(q, 0),
					 (size_t)sqlite3_column_bytes(q, 0)) < 0) {
			msg_warn("sqlite store: key %s: its stored state (%d "
				 "bytes) is not one this version reads "
				 "(damaged, or from a newer version): counted "
				 "from empty", key, sqlite3_column_bytes(q, 0));
			memset(st, 0, sizeof(*st));
		}
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
	struct ps_ent *e = htable_get(s->cache, key);
	struct policyd_limit_state st;

	if (e != NULL)
		return e;
	if (ps_load(s, key, &st, err, errlen) < 0)
		return NULL;
	e = x_calloc(1, sizeof(*e));
	e->st = st;
	e->expires = INT64_MIN;
	e->key = x_strdup(key);
	htable_put(s->cache, key, e);
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
		if (ps_write_through(s, err, errlen) < 0) {
			/* a failed take takes nothing: the caller answers
			 * store_fail_action, and a deferred message must not
			 * count when Postfix's client sends it again */
			(void)(lim->period_ms == 0
			       ? policyd_limit_refund_quota(&e->st, r->at, weight)
			       : policyd_limit_refund(&e->st, r->at, weight));
			e->expires = policyd_limit_expiry(lim, &e->st);
			return -1;
		}
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

/* policyd_store_reset - an empty log for key, written like any change */
int
policyd_store_reset(struct policyd_store *s, const char *key, char *err,
		    size_t errlen)
{
	struct ps_ent *e;

	if ((e = ps_get(s, key, err, errlen)) == NULL)
		return -1;
	memset(&e->st, 0, sizeof(e->st));
	e->expires = INT64_MIN;
	ps_dirty(s, e);
	return ps_write_through(s, err, errlen);
}

/* ps_row_fill - the snapshot of entry e */
static void
ps_row_fill(struct ps_row *r, struct ps_ent *e)
{
	r->e = e;
	r->key = e->key;
	r->expires = e->expires;
	r->len = e->st.n == 0 ? 0 : policyd_limit_encode(&e->st, r->state);
}

/* ps_expires_stored - the expiry a row is written with: exp rounded up
 * to PS_EXPIRES_GRAIN (never earlier, so never deleted too soon) */
static int64_t
ps_expires_stored(int64_t exp)
{
	int64_t r;

	if (exp <= 0 || exp > INT64_MAX - PS_EXPIRES_GRAIN)
		return exp;
	r = exp % PS_EXPIRES_GRAIN;
	return r == 0 ? exp : exp - r + PS_EXPIRES_GRAIN;
}

/* ps_step_row - run sql (one of the statements above) on a row;
 * SQLITE_OK or SQLite's code */
static int
ps_step_row(struct db *db, const char *sql, const struct ps_row *r,
	    int64_t expires)
{
	sqlite3_stmt *q;
	int rc;

	if ((q = db_stmt(db, sql)) == NULL)
		return sqlite3_errcode(db_handle(db));
	sqlite3_bind_text(q, 1, r->key, -1, SQLITE_STATIC);
	if (r->len > 0) {
		sqlite3_bind_int64(q, 2, expires);
		sqlite3_bind_blob(q, 3, r->state, (int)r->len, SQLITE_STATIC);
	}
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ps_write - write row i of a batch inside a transaction on db: the
 * state alone where the stored expiry still covers the row's, else the
 * state and the rounded-up expiry */
static int
ps_write(struct db *db, size_t i, void *ctx)
{
	const struct ps_row *r = (const struct ps_row *)ctx + i;
	int rc;

	if (r->len == 0)
		return ps_step_row(db, PS_DELETE, r, 0);
	if ((rc = ps_step_row(db, PS_UPDATE, r, r->expires)) != SQLITE_OK
	    || sqlite3_changes(db_handle(db)) > 0)
		return rc;
	return ps_step_row(db, PS_UPSERT, r, ps_expires_stored(r->expires));
}

/* ps_write_rows - rows in one transaction on db; 0, or -1 with err */
static int
ps_write_rows(struct db *db, const struct ps_row *rows, size_t n,
	      char *err, size_t errlen)
{
	return db_batch(db, n, ps_write, (void *)rows, err, errlen)
	       == SQLITE_OK ? 0 : -1;
}

/* ps_clean_db - delete one batch of expired rows on db; the number
 * deleted, or -1 with err */
static long
ps_clean_db(struct db *db, int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *q = db_stmt(db, PS_CLEAN);
	int rc;

	if (q == NULL) {
		x_err(err, errlen, "sqlite prepare: %s", db_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, PS_CLEAN_BATCH);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		x_err(err, errlen, "sqlite clean: %s", db_errmsg(db));
		return -1;
	}
	return (long)sqlite3_changes(db_handle(db));
}

/* ps_writer_background - the writer runs below the protocol loop: nice
 * 10.  Not SCHED_IDLE: measured with bench/policyd (SQLite paced at
 * 50,000 requests/s on two cores), an idle-class writer doubled to
 * tripled the loop's p99 (2.5-3 ms against 0.3-1 ms), even with the
 * loop never waiting for the writer's lock: starved, it holds SQLite's
 * locks and its batches for longer. */
static void
ps_writer_background(void)
{
	(void)daemon_thread_background(10);
}

/* ps_writer_run - the writer thread: a batch, then expired rows */
static void *
ps_writer_run(void *arg)
{
	struct ps_writer *w = arg;
	char err[256] = "";
	long cleaned;
	int rc;

	ps_writer_background();	/* the protocol loop comes first */
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !(w->busy && !w->done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		/* the batch is ours until done is set */
		pthread_mutex_unlock(&w->mu);
		rc = ps_write_rows(w->db, w->rows, w->nrows, err, sizeof(err));
		cleaned = 0;
		if (rc == 0 && (cleaned = ps_clean_db(w->db, w->clean_before,
						      err, sizeof(err))) < 0)
			rc = -1;
		pthread_mutex_lock(&w->mu);
		w->rc = rc;
		w->cleaned = cleaned > 0 ? (unsigned long)cleaned : 0;
		snprintf(w->err, sizeof(w->err), "%s", rc == 0 ? "" : err);
		w->done = 1;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ps_finish - a batch is written (rc 0) or failed: its entries are no
 * longer in flight; after a failure each is dirty again (unless it
 * changed meanwhile and is already, with a newer state) */
static void
ps_finish(struct policyd_store *s, struct ps_row **rowsp, size_t n, int rc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		(*rowsp)[i].e->inflight = 0;
		if (rc < 0)
			ps_dirty(s, (*rowsp)[i].e);
	}
	if (rc < 0) {
		s->stats.errors++;
	} else {
		s->stats.flushes++;
		s->stats.written += n;
	}
	x_free(rowsp);			/* the keys are the entries' */
}

/* ps_snapshot - move at most max dirty entries into the batch being
 * built, in flight */
static void
ps_snapshot(struct policyd_store *s, size_t max)
{
	struct ps_ent *e;
	size_t k;

	for (k = 0; k < max && s->dirty != NULL
	     && s->nbuild < PS_BATCH_MAX; k++) {
		e = s->dirty;
		s->dirty = e->dirty_next;
		if (s->nbuild == s->capbuild) {
			s->capbuild = s->capbuild ? 2 * s->capbuild : 1024;
			s->build = x_realloc(s->build, s->capbuild
					     * sizeof(*s->build));
		}
		ps_row_fill(&s->build[s->nbuild++], e);
		e->dirty = 0;
		e->dirty_next = NULL;
		e->inflight = 1;
		s->stats.dirty--;
	}
}

/* ps_collect - take the outcome of a finished batch (wait for it when
 * wait is set); 0, or -1 with err when it failed */
static int
ps_collect(struct policyd_store *s, int wait, char *err, size_t errlen)
{
	struct ps_writer *w = s->w;
	struct ps_row *rows;
	size_t n;
	int rc;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (wait && w->busy && !w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	if (!w->busy || !w->done) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	rows = w->rows;
	n = w->nrows;
	rc = w->rc;
	if (rc < 0)
		x_err(err, errlen, "%s", w->err);
	s->stats.cleaned += w->cleaned;
	w->rows = NULL;
	w->nrows = 0;
	w->busy = w->done = 0;
	pthread_mutex_unlock(&w->mu);
	ps_finish(s, &rows, n, rc);
	return rc;
}

/* ps_handover - give the batch built so far to the (idle) writer */
static void
ps_handover(struct policyd_store *s, int64_t now)
{
	struct ps_writer *w = s->w;

	pthread_mutex_lock(&w->mu);
	w->rows = s->build;
	w->nrows = s->nbuild;
	w->clean_before = now;
	w->busy = 1;
	w->done = 0;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	s->build = NULL;
	s->nbuild = s->capbuild = 0;
	s->building = 0;
	s->next_flush = now + s->flush_ms;
}

/* ps_step - snapshot at most max dirty entries into the batch being
 * built (starting one when a flush is due and the writer is idle), and
 * hand it over once no entry is dirty.  A little at a time, so that no
 * loop iteration pays for all the keys of a busy second: an entry
 * snapshotted and changed again is dirty again and snapshotted again,
 * later in the same batch, whose rows are written in order. */
static void
ps_step(struct policyd_store *s, int64_t now, size_t max)
{
	struct ps_writer *w = s->w;
	int busy;

	if (w == NULL)
		return;
	if (!s->building) {
		/* due: even with nothing dirty, the writer deletes a batch
		 * of expired rows */
		if (now < s->next_flush)
			return;
		if (ps_collect(s, 0, s->err, sizeof(s->err)) < 0)
			s->failed = 1;	/* the tick says so */
		pthread_mutex_lock(&w->mu);
		busy = w->busy;
		pthread_mutex_unlock(&w->mu);
		if (busy)
			return;
		s->building = 1;
	}
	ps_snapshot(s, max);
	if (s->dirty == NULL || s->nbuild >= PS_BATCH_MAX)
		ps_handover(s, now);
}

/* policyd_store_step - a little of the write-behind work */
void
policyd_store_step(struct policyd_store *s, int64_t now)
{
	ps_step(s, now, PS_STEP);
}

/* policyd_store_flush - write every dirty entry in one transaction, now,
 * on the loop's connection (after the writer's batch, if any) */
int
policyd_store_flush(struct policyd_store *s, char *err, size_t errlen)
{
	struct ps_row *rows;
	size_t n;
	int rc, wrc;

	if (s->building)		/* the writer is idle: hand it over */
		ps_step(s, s->now, SIZE_MAX);
	rc = ps_collect(s, 1, err, errlen);
	while (s->dirty != NULL) {	/* PS_BATCH_MAX rows at a time */
		ps_snapshot(s, SIZE_MAX);
		rows = s->build;
		n = s->nbuild;
		s->build = NULL;
		s->nbuild = s->capbuild = 0;
		wrc = ps_write_rows(s->db, rows, n, err, errlen);
		ps_finish(s, &rows, n, wrc);
		if (wrc < 0)
			return -1;
	}
	return rc;
}

/* policyd_store_sync - wait for the writer's batch and take its outcome */
int
policyd_store_sync(struct policyd_store *s, char *err, size_t errlen)
{
	return ps_collect(s, 1, err, errlen);
}

/* ps_sweep_drop - a clean entry unused for a while leaves the cache */
static int
ps_sweep_drop(const char *key, void *value, void *ctx)
{
	struct policyd_store *s = ctx;
	struct ps_ent *e = value;

	(void)key;
	if (e->dirty || e->inflight || e->touched > s->now - PS_IDLE_MS)
		return 0;
	ps_ent_free(e);
	return 1;
}

/* policyd_store_tick - flush when due, clean a batch, sweep a slice */
int
policyd_store_tick(struct policyd_store *s, int64_t now, char *err,
		   size_t errlen)
{
	long cleaned;
	int rc;

	s->now = now;
	rc = ps_collect(s, 0, err, errlen);	/* the last batch */
	if (rc == 0 && s->failed) {		/* one that step collected */
		x_err(err, errlen, "%s", s->err);
		rc = -1;
	}
	s->failed = 0;
	if (s->w != NULL) {
		ps_step(s, now, PS_STEP);	/* if step is not called */
	} else if (now >= s->next_flush) {
		s->next_flush = now + 1000;
		if (rc == 0) {
			/* write-through: nothing is dirty but the rows that
			 * expired, which go here */
			if (policyd_store_flush(s, err, errlen) < 0)
				rc = -1;
			else if ((cleaned = ps_clean_db(s->db, now, err,
							errlen)) < 0) {
				s->stats.errors++;
				rc = -1;
			} else
				s->stats.cleaned += (unsigned long)cleaned;
		}
	}
	htable_sweep(s->cache, PS_SWEEP, ps_sweep_drop, s);
	return rc;
}

/* policyd_store_stats - counters and sizes */
void
policyd_store_stats(const struct policyd_store *s,
		    struct policyd_store_stats *out)
{
	*out = s->stats;
	out->cached = htable_size(s->cache);
}

/* policyd_store_close - flush, close, free */
void
policyd_store_close(struct policyd_store **sp)
{
	struct policyd_store *s = *sp;

	if (s == NULL)
		return;
	(void)policyd_store_flush(s, NULL, 0);
	if (s->w != NULL) {
		pthread_mutex_lock(&s->w->mu);
		s->w->stop = 1;
		pthread_cond_broadcast(&s->w->cv);
		pthread_mutex_unlock(&s->w->mu);
		pthread_join(s->w->tid, NULL);
		pthread_cond_destroy(&s->w->cv);
		pthread_mutex_destroy(&s->w->mu);
		db_close(&s->w->db);
		x_free(&s->w);
	}
	htable_free(&s->cache, ps_ent_free);
	db_close(&s->db);
	x_free(sp);
}
