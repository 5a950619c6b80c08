/*++
 * NAME
 *	milter-dmarc-history 3
 * SUMMARY
 *	the DMARC history writer: a bounded queue and one writer thread
 * DESCRIPTION
 *	The DMARC stage evaluates a message and hands its row (a copy,
 *	struct dmarc_hist_row) to dmarc_history_push(), which appends it
 *	to an in-memory queue and returns: the message never waits for
 *	SQLite, whose lock the report builder (elemta-dmarc-report) may
 *	hold while it reads or expires rows.  When milter.
 *	dmarc_history_queue_size rows wait already, the row is dropped and
 *	counted (elemta_milter_dmarc_history_dropped_total), with a
 *	warning at most once a second.
 *
 *	One writer thread, started with the first row, at nice 10 and with
 *	signals blocked (lib/daemon.c), as policyd's store writer: it
 *	takes a batch when DMARC_HQ_BATCH rows wait or DMARC_HQ_GATHER_MS
 *	after the first of them, and inserts it in one transaction on its
 *	own connection (lib/db.c's db_batch).  A batch holds rows of one
 *	file (a reload may change milter.dmarc_history).  The lock held by
 *	another connection past the short busy timeout (SQLITE_BUSY or
 *	SQLITE_LOCKED) is not a loss: the batch is tried again after a
 *	back-off (100 ms, doubling, at most 5 s), DMARC_HQ_TRIES times in
 *	all.  Any other failure, or the last try, loses the batch: logged
 *	and counted (elemta_milter_dmarc_history_errors_total, a row
 *	each), as is a file that cannot be opened (tried again 60 s later).
 *
 *	dmarc_history_flush() (a reload) asks for the queue to be written
 *	now and waits for it, bounded; dmarc_history_stop() (the end of
 *	the process, -t included) writes what is queued, retrying a held
 *	lock until its deadline, then drops what is left (counted), and
 *	joins the thread.  elemta_milter_dmarc_history_queue is the number
 *	of rows waiting.
 *--*/
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "clock.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "milter-dmarc.h"
#include "xalloc.h"

#define DMARC_HQ_BATCH		500	/* rows per transaction at most */
#define DMARC_HQ_GATHER_MS	100	/* a batch waits this for more */
#define DMARC_HQ_TRIES		10	/* a batch under a held lock */
#define DMARC_HQ_BACKOFF_MS	100
#define DMARC_HQ_BACKOFF_MAX	5000
#define DMARC_HQ_BUSY_MS	200	/* SQLite's own wait, per try */
#define DMARC_HQ_REOPEN_S	60	/* after a file that did not open */

static const struct db_migration dmarc_migrations[] = {
	{ 1, "CREATE TABLE dmarc_history ("
	     " id INTEGER PRIMARY KEY,"
	     " ts INTEGER NOT NULL,"		/* unix time */
	     " queue_id TEXT,"
	     " source_ip TEXT,"
	     " header_from TEXT,"
	     " envelope_from TEXT,"		/* SPF's domain */
	     " envelope_to TEXT,"		/* first recipient's domain */
	     " policy_domain TEXT,"		/* where the record was */
	     " p TEXT, sp TEXT, pct INTEGER, adkim TEXT, aspf TEXT,"
	     " result TEXT NOT NULL,"		/* pass fail none ... */
	     " disposition TEXT NOT NULL,"	/* none quarantine reject */
	     " reason TEXT,"			/* sampled_out ... */
	     " spf_domain TEXT, spf_result TEXT, spf_scope TEXT,"
	     " spf_aligned INTEGER,"
	     " dkim TEXT,"			/* "d=dom;s=sel;r=pass " ... */
	     " dkim_aligned INTEGER);"
	     "CREATE INDEX dmarc_history_ts ON dmarc_history(ts);"
	     "CREATE INDEX dmarc_history_from ON dmarc_history(header_from);"
	},
	/* a failure whose policy was not applied, and why (RFC 7489
	 * appendix C's PolicyOverrideReason: type, comment) */
	{ 2, "ALTER TABLE dmarc_history ADD COLUMN override TEXT;"
	     "ALTER TABLE dmarc_history ADD COLUMN override_comment TEXT;"
	},
};
#define DMARC_NMIGRATIONS \
	(sizeof(dmarc_migrations) / sizeof(dmarc_migrations[0]))

#define DMARC_HQ_INSERT "INSERT INTO dmarc_history (ts, queue_id," \
	" source_ip, header_from, envelope_from, envelope_to," \
	" policy_domain, p, sp, pct, adkim, aspf, result, disposition," \
	" reason, spf_domain, spf_result, spf_scope, spf_aligned, dkim," \
	" dkim_aligned, override, override_comment) VALUES (?,?,?,?,?," \
	"?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

/* The queue, shared with the message threads under mu; the database
 * below it is the writer's alone. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* rows, a flush or stop asked */
	pthread_cond_t idle;		/* the queue is written */
	pthread_once_t once;
	pthread_t tid;
	int started, stopped;
	int stop;			/* write what is queued, then end */
	int64_t stop_by;		/* monotonic ms: give up retrying */
	int flush;			/* write now, no gathering */
	struct dmarc_hist_row *head, **tail;
	size_t depth;
	int writing;			/* a batch out of the queue */
	time_t drop_logged;
	/* the writer's */
	struct db *db;
	char *db_path;
	time_t reopen_at;
} hq = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.once = PTHREAD_ONCE_INIT,
	.tail = &hq.head,
};

static struct metric *m_errors;
static struct metric *m_dropped;
static struct metric_series *m_queue;

/* dmarc_hq_conds - the conditions, on the monotonic clock */
static void
dmarc_hq_conds(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&hq.cv, &a);
	pthread_cond_init(&hq.idle, &a);
	pthread_condattr_destroy(&a);
}

/* dmarc_hq_wait - wait on c until the monotonic deadline (ms); 0, or
 * ETIMEDOUT once it has passed */
static int
dmarc_hq_wait(pthread_cond_t *c, int64_t deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
	return pthread_cond_timedwait(c, &hq.mu, &ts);
}

/* dmarc_hq_now - monotonic ms, as the conditions count */
static int64_t
dmarc_hq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dmarc_history_init - the metrics */
void
dmarc_history_init(void)
{
	pthread_once(&hq.once, dmarc_hq_conds);
	m_errors = metrics_counter(
		"elemta_milter_dmarc_history_errors_total",
		"DMARC history rows that could not be written", NULL);
	m_dropped = metrics_counter(
		"elemta_milter_dmarc_history_dropped_total",
		"DMARC history rows dropped because the writer's queue was "
		"full (milter.dmarc_history_queue_size)", NULL);
	m_queue = metric_series(metrics_gauge(
		"elemta_milter_dmarc_history_queue",
		"DMARC history rows waiting for the writer", NULL));
}

/* dmarc_hist_str - a copy for a row, NULL when empty */
char *
dmarc_hist_str(const char *s)
{
	return s != NULL && *s != '\0' ? x_strdup(s) : NULL;
}

/* dmarc_hq_free - a row and its copies */
static void
dmarc_hq_free(struct dmarc_hist_row *r)
{
	char **s[] = { &r->path, &r->queue_id, &r->source_ip,
		       &r->header_from, &r->envelope_from, &r->envelope_to,
		       &r->policy_domain, &r->result, &r->disposition,
		       &r->reason, &r->spf_domain, &r->spf_result,
		       &r->spf_scope, &r->dkim, &r->override,
		       &r->override_comment };
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		x_free(s[i]);
	free(r);
}

/* dmarc_hq_count - n rows lost (errors) or dropped (queue full) */
static void
dmarc_hq_count(struct metric *m, size_t n)
{
	if (m != NULL && n > 0)
		metric_add(m, (double)n);
}

/* dmarc_hq_gauge - the queue's depth, for the metrics (mu held) */
static void
dmarc_hq_gauge(void)
{
	if (m_queue != NULL)
		metric_series_set(m_queue, (double)hq.depth);
}

/* dmarc_hq_open - the writer's connection to path; 0 or -1 (logged) */
static int
dmarc_hq_open(const char *path)
{
	char err[512];
	time_t now = time(NULL);

	if (hq.db != NULL && strcmp(hq.db_path, path) == 0)
		return 0;
	db_close(&hq.db);
	x_free(&hq.db_path);
	if (now < hq.reopen_at)
		return -1;
	if ((hq.db = db_open(path, DMARC_HQ_BUSY_MS, err, sizeof(err))) == NULL
	    || db_migrate(hq.db, dmarc_migrations, DMARC_NMIGRATIONS, err,
			  sizeof(err)) < 0) {
		msg_warn("dmarc history %s: %s (retrying in %ds)", path, err,
			 DMARC_HQ_REOPEN_S);
		db_close(&hq.db);
		hq.reopen_at = now + DMARC_HQ_REOPEN_S;
		return -1;
	}
	hq.db_path = x_strdup(path);
	return 0;
}

/* dmarc_hq_text - bind a text, NULL when there is none */
static void
dmarc_hq_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL && *s != '\0')
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* dmarc_hq_row - insert row i of a batch (db_batch's callback) */
static int
dmarc_hq_row(struct db *db, size_t i, void *ctx)
{
	const struct dmarc_hist_row *r = ((struct dmarc_hist_row **)ctx)[i];
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, DMARC_HQ_INSERT)) == NULL)
		return sqlite3_errcode(db_handle(db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->ts);
	dmarc_hq_text(st, 2, r->queue_id);
	dmarc_hq_text(st, 3, r->source_ip);
	dmarc_hq_text(st, 4, r->header_from);
	dmarc_hq_text(st, 5, r->envelope_from);
	dmarc_hq_text(st, 6, r->envelope_to);
	dmarc_hq_text(st, 7, r->policy_domain);
	dmarc_hq_text(st, 8, r->p);
	dmarc_hq_text(st, 9, r->sp);
	if (r->pct >= 0)
		sqlite3_bind_int(st, 10, r->pct);
	dmarc_hq_text(st, 11, r->adkim);
	dmarc_hq_text(st, 12, r->aspf);
	dmarc_hq_text(st, 13, r->result);
	dmarc_hq_text(st, 14, r->disposition);
	dmarc_hq_text(st, 15, r->reason);
	dmarc_hq_text(st, 16, r->spf_domain);
	dmarc_hq_text(st, 17, r->spf_result);
	dmarc_hq_text(st, 18, r->spf_scope);
	sqlite3_bind_int(st, 19, r->spf_aligned);
	dmarc_hq_text(st, 20, r->dkim);
	sqlite3_bind_int(st, 21, r->dkim_aligned);
	dmarc_hq_text(st, 22, r->override);
	dmarc_hq_text(st, 23, r->override ? r->override_comment : NULL);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* dmarc_hq_giving_up - stopping, and past the deadline (mu held) */
static int
dmarc_hq_giving_up(void)
{
	return hq.stop && dmarc_hq_now() >= hq.stop_by;
}

/* dmarc_hq_backoff - sleep ms, or less when the stop deadline comes
 * first (mu not held) */
static void
dmarc_hq_backoff(int ms)
{
	int64_t until = dmarc_hq_now() + ms;

	pthread_mutex_lock(&hq.mu);
	while (!dmarc_hq_giving_up()
	       && dmarc_hq_wait(&hq.cv, hq.stop ? (until < hq.stop_by
						   ? until : hq.stop_by)
						: until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&hq.mu);
}

/* dmarc_hq_write - a batch of one file, in one transaction; a held
 * lock is waited out with a back-off, anything else loses the batch
 * (logged, counted) */
static void
dmarc_hq_write(struct dmarc_hist_row **rows, size_t n)
{
	const char *path = rows[0]->path;
	char err[512];
	int rc, tries = 0, delay = DMARC_HQ_BACKOFF_MS, give_up;

	for (;;) {
		if (dmarc_hq_open(path) < 0) {
			dmarc_hq_count(m_errors, n);
			return;
		}
		rc = db_batch(hq.db, n, dmarc_hq_row, rows, err, sizeof(err));
		if (rc == SQLITE_OK) {
			if (tries > 0)
				msg_info("dmarc history %s: %zu rows written "
					 "after %d tries", path, n, tries + 1);
			return;
		}
		pthread_mutex_lock(&hq.mu);
		give_up = dmarc_hq_giving_up();
		pthread_mutex_unlock(&hq.mu);
		if (!db_busy(rc) || ++tries >= DMARC_HQ_TRIES || give_up) {
			msg_warn("dmarc history %s: %s (%zu rows lost)", path,
				 err, n);
			dmarc_hq_count(m_errors, n);
			return;
		}
		if (tries == 1)
			msg_info("dmarc history %s: %s: %zu rows wait for "
				 "the lock", path, err, n);
		dmarc_hq_backoff(delay);
		delay = delay * 2 > DMARC_HQ_BACKOFF_MAX
			? DMARC_HQ_BACKOFF_MAX : delay * 2;
	}
}

/* dmarc_hq_take - up to DMARC_HQ_BATCH rows of the first row's file
 * off the queue into rows (mu held); how many */
static size_t
dmarc_hq_take(struct dmarc_hist_row **rows)
{
	struct dmarc_hist_row *r;
	size_t n = 0;

	while ((r = hq.head) != NULL && n < DMARC_HQ_BATCH
	       && (n == 0 || strcmp(r->path, rows[0]->path) == 0)) {
		hq.head = r->next;
		r->next = NULL;
		rows[n++] = r;
	}
	if (hq.head == NULL)
		hq.tail = &hq.head;
	hq.depth -= n;
	dmarc_hq_gauge();
	return n;
}

/* dmarc_hq_drop_all - past the stop deadline: what is left is lost
 * (mu held) */
static void
dmarc_hq_drop_all(void)
{
	struct dmarc_hist_row *r;
	size_t n = hq.depth;

	while ((r = hq.head) != NULL) {
		hq.head = r->next;
		dmarc_hq_free(r);
	}
	hq.tail = &hq.head;
	hq.depth = 0;
	dmarc_hq_gauge();
	msg_warn("dmarc history: stopping: %zu rows not written (the "
		 "database stayed locked)", n);
	dmarc_hq_count(m_errors, n);
}

/* dmarc_hq_run - the writer thread */
static void *
dmarc_hq_run(void *arg)
{
	struct dmarc_hist_row *rows[DMARC_HQ_BATCH];
	int64_t due;
	size_t n, i;

	(void)arg;
	(void)daemon_thread_background(10);	/* the messages come first */
	pthread_mutex_lock(&hq.mu);
	for (;;) {
		while (hq.head == NULL && !hq.stop)
			pthread_cond_wait(&hq.cv, &hq.mu);
		if (hq.head == NULL)
			break;
		if (dmarc_hq_giving_up()) {
			dmarc_hq_drop_all();
			continue;
		}
		/* a few rows more per transaction: the first waits at most
		 * DMARC_HQ_GATHER_MS */
		due = dmarc_hq_now() + DMARC_HQ_GATHER_MS;
		while (hq.depth < DMARC_HQ_BATCH && !hq.stop && !hq.flush
		       && dmarc_hq_wait(&hq.cv, due) != ETIMEDOUT)
			;
		n = dmarc_hq_take(rows);
		hq.writing = 1;
		pthread_mutex_unlock(&hq.mu);
		dmarc_hq_write(rows, n);
		for (i = 0; i < n; i++)
			dmarc_hq_free(rows[i]);
		pthread_mutex_lock(&hq.mu);
		hq.writing = 0;
		if (hq.head == NULL) {
			hq.flush = 0;
			pthread_cond_broadcast(&hq.idle);
		}
	}
	pthread_mutex_unlock(&hq.mu);
	return NULL;
}

/* dmarc_hq_start - the writer, with the first row (mu held); 0 or -1 */
static int
dmarc_hq_start(void)
{
	int rc;

	if (hq.started)
		return 0;
	if (hq.stopped)
		return -1;
	pthread_once(&hq.once, dmarc_hq_conds);
	if ((rc = pthread_create(&hq.tid, NULL, dmarc_hq_run, NULL)) != 0) {
		msg_warn("dmarc history: cannot start the writer thread: %s",
			 strerror(rc));
		return -1;
	}
	hq.started = 1;
	return 0;
}

/* dmarc_history_push - queue a row, or drop it when the queue is full */
void
dmarc_history_push(struct dmarc_hist_row *r, int queue_max,
		   const char *qid)
{
	time_t now;

	pthread_mutex_lock(&hq.mu);
	if (dmarc_hq_start() < 0 || hq.stop
	    || hq.depth >= (size_t)(queue_max > 0 ? queue_max : 1)) {
		now = time(NULL);
		if (now != hq.drop_logged) {
			hq.drop_logged = now;
			qid_warn(qid, "dmarc history: writer queue full (%zu "
				 "rows): row dropped", hq.depth);
		}
		pthread_mutex_unlock(&hq.mu);
		dmarc_hq_count(m_dropped, 1);
		dmarc_hq_free(r);
		return;
	}
	r->next = NULL;
	*hq.tail = r;
	hq.tail = &r->next;
	if (++hq.depth == 1 || hq.depth >= DMARC_HQ_BATCH)
		pthread_cond_signal(&hq.cv);
	dmarc_hq_gauge();
	pthread_mutex_unlock(&hq.mu);
}

/* dmarc_history_flush - write the queue now; wait at most wait_ms */
int
dmarc_history_flush(int wait_ms)
{
	int64_t due = dmarc_hq_now() + wait_ms;
	int rc = 0;

	pthread_mutex_lock(&hq.mu);
	if (hq.started && !hq.stopped && (hq.head != NULL || hq.writing)) {
		hq.flush = 1;
		pthread_cond_broadcast(&hq.cv);
		while ((hq.head != NULL || hq.writing)
		       && dmarc_hq_wait(&hq.idle, due) != ETIMEDOUT)
			;
		if (hq.head != NULL || hq.writing) {
			msg_warn("dmarc history: %zu rows still queued after "
				 "%d ms, written later", hq.depth, wait_ms);
			rc = -1;
		}
	}
	pthread_mutex_unlock(&hq.mu);
	return rc;
}

/* dmarc_history_stop - write what is queued (bounded), end the writer */
void
dmarc_history_stop(int wait_ms)
{
	pthread_mutex_lock(&hq.mu);
	if (!hq.started || hq.stopped) {
		hq.stopped = 1;
		pthread_mutex_unlock(&hq.mu);
		return;
	}
	hq.stop = 1;
	hq.stop_by = dmarc_hq_now() + wait_ms;
	pthread_cond_broadcast(&hq.cv);
	pthread_mutex_unlock(&hq.mu);
	pthread_join(hq.tid, NULL);
	pthread_mutex_lock(&hq.mu);
	hq.stopped = 1;
	pthread_mutex_unlock(&hq.mu);
	db_close(&hq.db);
	x_free(&hq.db_path);
}
