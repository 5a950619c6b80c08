/*++
 * NAME
 *	milter-greylist 3
 * SUMMARY
 *	the greylisting stage and its SQLite store
 * DESCRIPTION
 *	See milter-greylist.h for the triplet.  The stage runs at end of
 *	message (greylist_when = eom, the default), after SPF, DKIM and
 *	DMARC, so that an authenticated sender domain can replace the
 *	client's network in the triplet.  It is skipped for authenticated
 *	clients, internal_networks, clients on the allow file or
 *	auto-allowed (greylist_auto_allow passed retries), and sender
 *	domains on greylist_sender_allow; recipients on
 *	greylist_recipient_allow (and postmaster@, abuse@ always) are not
 *	greylisted.  With several recipients, each triplet is looked at
 *	(and recorded); the message passes when every one of them does,
 *	else one reply, 450 4.7.1, names the longest wait.  One decision
 *	per message.
 *
 *	The store is one SQLite file (greylist_path, relative to
 *	database.directory), one handle shared by the threads under a
 *	lock, each triplet read and written in one transaction.  Expired
 *	records go at most once a minute, on the way.  A store that
 *	cannot be opened or fails is logged, counted
 *	(elemta_milter_greylist_errors_total) and greylist_fail_action
 *	decides (accept by default: greylisting is a delay, not a
 *	filter).  Results: elemta_milter_greylist_total{result}.
 *--*/
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-greylist.h"
#include "xalloc.h"

static pthread_mutex_t gl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db *gl_db;
static char *gl_db_path;
static int64_t gl_db_retry;		/* no reopen before (wall seconds) */
static int64_t gl_expired;		/* last expiry run */

static struct metric *m_greylist;
static struct metric *m_greylist_errors;

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

/* greylist_db_client_pass - see milter-greylist.h */
int
greylist_db_client_pass(struct db *db, const char *client, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, "INSERT INTO greylist_clients (client, n, last)"
			  " VALUES (?1, 1, ?2) ON CONFLICT(client) DO UPDATE"
			  " SET n = n + 1, last = ?2")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
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

/* milter_greylist_init - the metrics (once, before threads) */
void
milter_greylist_init(void)
{
	m_greylist = metrics_counter("elemta_milter_greylist_total",
				     "Greylisting decisions", "result");
	m_greylist_errors = metrics_counter(
		"elemta_milter_greylist_errors_total",
		"Greylist store failures", NULL);
}

/* milter_greylist_finish - close the store (at exit) */
void
milter_greylist_finish(void)
{
	pthread_mutex_lock(&gl_lock);
	db_close(&gl_db);
	x_free(&gl_db_path);
	pthread_mutex_unlock(&gl_lock);
}

/* gl_store - the open store of path (lock held), or NULL (logged) */
static struct db *
gl_store(struct milter_msg *m, const char *path, int64_t now)
{
	char err[512];

	if (gl_db != NULL && strcmp(gl_db_path, path) == 0)
		return gl_db;
	db_close(&gl_db);
	x_free(&gl_db_path);
	if (now < gl_db_retry)
		return NULL;
	if ((gl_db = greylist_db_open(path, err, sizeof(err))) == NULL) {
		qid_warn(m->qid, "greylist store %s: %s (retrying in 10s)",
			 path, err);
		gl_db_retry = now + 10;
		return NULL;
	}
	gl_db_path = x_strdup(path);
	return gl_db;
}

/* What one message's decision needs. */
struct gl_msg {
	struct milter_msg *m;
	const struct greylist_conf *g;
	char client[DMARC_DOMAIN_MAX + 8];	/* network or "domain" */
	const char *keyed_by;			/* "net", "spf", "dkim" */
	char sender[GREYLIST_KEY_MAX / 2];
	long wait;				/* longest wait, seconds */
	unsigned deferred, passed;
	int auto_allowed;			/* the client has retried */
};

/* gl_metric - count one decision */
static void
gl_metric(const char *result)
{
	if (m_greylist != NULL)
		metric_inc(m_greylist, result);
}

/* gl_dkim_aligned - a passing DKIM signature whose d= is the sender's
 * domain or a parent of it (relaxed alignment without the PSL: the
 * sender's own claim, checked by a signature) */
static const char *
gl_dkim_aligned(const struct milter_msg *m, const char *domain)
{
	const struct milter_dkim_results *r = &m->dkim_results;
	const char *d;
	size_t i, dl, nl = strlen(domain);

	for (i = 0; r->done && i < r->nsigs; i++) {
		if (!r->sigs[i].pass || (d = r->sigs[i].domain) == NULL)
			continue;
		dl = strlen(d);
		if (dl <= nl && strcasecmp(domain + nl - dl, d) == 0
		    && (dl == nl || domain[nl - dl - 1] == '.'))
			return d;
	}
	return NULL;
}

/* gl_client - the client part of the triplets: the authenticated
 * domain at end of message, else the network; -1 if there is none */
static int
gl_client(struct gl_msg *x, int identity)
{
	const struct milter_msg *m = x->m;
	const char *dom = greylist_addr_domain(x->sender), *d;

	if (identity && m->spf_results.done
	    && m->spf_results.result == MILTER_SPF_PASS
	    && m->spf_results.scope == MILTER_SPF_MAILFROM
	    && m->spf_results.domain[0] != '\0') {
		snprintf(x->client, sizeof(x->client), "%s",
			 m->spf_results.domain);
		x->keyed_by = "spf";
		return 0;
	}
	if (identity && *dom != '\0' && (d = gl_dkim_aligned(m, dom)) != NULL) {
		snprintf(x->client, sizeof(x->client), "%s", dom);
		x->keyed_by = "dkim";
		return 0;
	}
	x->keyed_by = "net";
	return greylist_client_net(m->conn->client_addr, x->g->prefix_v4,
				   x->g->prefix_v6, x->client,
				   sizeof(x->client));
}

/* gl_skip - why the message is not greylisted at all, or NULL */
static const char *
gl_skip(const struct gl_msg *x)
{
	const struct milter_msg *m = x->m;
	const struct milter_conn *c = m->conn;

	if (m->auth_type != NULL)
		return "authenticated";
	if (c->internal)
		return "internal";
	if (greylist_allow_client(&x->g->clients, c->client_addr,
				  c->client_name))
		return "client-allowed";
	if (greylist_name_listed(x->g->senders,
				 greylist_addr_domain(x->sender)))
		return "sender-allowed";
	return NULL;
}

/* gl_triplet - one recipient's triplet (lock held); 0 or -1 */
static int
gl_triplet(struct gl_msg *x, struct db *db, const char *rcpt, int64_t now)
{
	char key[2 * GREYLIST_KEY_MAX], r[GREYLIST_KEY_MAX / 2];
	const struct greylist_params *p = &x->g->params;
	struct greylist_rec rec;
	enum greylist_state st;
	size_t i;
	long w;

	for (i = 0; rcpt[i] != '\0' && i + 1 < sizeof(r); i++)
		r[i] = (char)tolower((unsigned char)rcpt[i]);
	r[i] = '\0';
	snprintf(key, sizeof(key), "%s\t%s\t%s", x->client, x->sender, r);
	if (greylist_db_check(db, key, now, p, &st, &rec) < 0)
		return -1;
	if (st == GREYLIST_NEW || st == GREYLIST_EARLY) {
		w = greylist_wait(&rec, now, p);
		if (w > x->wait)
			x->wait = w;
		x->deferred++;
		qid_info(x->m->qid, "greylist action=defer state=%s client=%s "
			 "keyed_by=%s sender=%s rcpt=%s wait=%lds",
			 greylist_state_name(st), x->client, x->keyed_by,
			 x->sender, r, w);
		return 0;
	}
	x->passed++;
	if (st == GREYLIST_PASSED) {
		qid_info(x->m->qid, "greylist action=pass state=passed "
			 "client=%s keyed_by=%s sender=%s rcpt=%s delay=%llds",
			 x->client, x->keyed_by, x->sender, r,
			 (long long)(now - rec.first));
		if (greylist_db_client_pass(db, x->client, now) < 0)
			return -1;
	}
	return 0;
}

/* gl_run - every recipient's triplet in the store; 0 or -1 */
static int
gl_run(struct gl_msg *x, const char *path, const char *const *rcpts,
       size_t n)
{
	const struct greylist_params *p = &x->g->params;
	int64_t now = clock_wall_ms() / 1000;
	struct db *db;
	size_t i;
	int rc = 0, allowed;

	pthread_mutex_lock(&gl_lock);
	if ((db = gl_store(x->m, path, now)) == NULL) {
		pthread_mutex_unlock(&gl_lock);
		return -1;
	}
	if (now - gl_expired >= 60) {
		gl_expired = now;
		if (greylist_db_expire(db, now, p) < 0)
			qid_warn(x->m->qid, "greylist store %s: expiry: %s",
				 path, db_errmsg(db));
	}
	if ((allowed = greylist_db_client_allowed(db, x->client, now, p)) > 0)
		x->auto_allowed = 1;
	for (i = 0; allowed == 0 && rc == 0 && i < n; i++)
		if (!greylist_rcpt_allowed(x->g->recipients, rcpts[i]))
			rc = gl_triplet(x, db, rcpts[i], now);
	if (allowed < 0 || rc < 0) {
		qid_warn(x->m->qid, "greylist store %s: %s", path,
			 db_errmsg(db));
		rc = -1;
	}
	pthread_mutex_unlock(&gl_lock);
	return rc;
}

/* gl_path - the store's file: relative to database.directory */
static char *
gl_path(const struct milter_msg *m)
{
	const struct db_conf *dbc = conf_get(m->conn->conf, &db_conf_section);
	const char *p = m->conn->mc->greylist.path;

	return p[0] == '/' || dbc->directory == NULL
	       ? x_strdup(p) : x_asprintf("%s/%s", dbc->directory, p);
}

/* gl_decide - greylist the message for rcpts (identity: the SPF and
 * DKIM results may key the triplet) */
static void
gl_decide(struct milter_msg *m, const char *const *rcpts, size_t n,
	  int identity)
{
	struct gl_msg x;
	const char *why;
	char *path, text[128];

	memset(&x, 0, sizeof(x));
	x.m = m;
	x.g = &m->conn->mc->greylist;
	if (greylist_sender(m->sender, x.sender, sizeof(x.sender)) < 0)
		snprintf(x.sender, sizeof(x.sender), "<>");
	if ((why = gl_skip(&x)) != NULL
	    || (gl_client(&x, identity) < 0 && (why = "no-client"))) {
		milter_msg_summary(m, "greylist=skipped(%s)", why);
		gl_metric("skipped");
		return;
	}
	path = gl_path(m);
	if (gl_run(&x, path, rcpts, n) < 0) {
		if (m_greylist_errors != NULL)
			metric_inc(m_greylist_errors);
		gl_metric("error");
		milter_msg_summary(m, "greylist=error");
		milter_msg_enforce(m, MILTER_REPLY_GREYLIST,
				   x.g->fail_action, "Greylisting is "
				   "temporarily unavailable, please try "
				   "again later");
	} else if (x.auto_allowed) {
		gl_metric("skipped");
		milter_msg_summary(m, "greylist=skipped(auto-allowed)");
	} else if (x.deferred > 0) {
		gl_metric("defer");
		milter_msg_summary(m, "greylist=defer(%lds)", x.wait);
		snprintf(text, sizeof(text), "Greylisted, please try again "
			 "in %ld seconds", x.wait);
		milter_msg_enforce(m, MILTER_REPLY_GREYLIST, MILTER_TEMPFAIL,
				   text);
	} else if (x.passed > 0) {
		gl_metric("pass");
		milter_msg_summary(m, "greylist=pass(%s)", x.keyed_by);
	} else {
		gl_metric("skipped");
		milter_msg_summary(m, "greylist=skipped(recipients-allowed)");
	}
	free(path);
}

/* milter_greylist_eom - the stage, at end of message */
void
milter_greylist_eom(struct milter_msg *m)
{
	const struct greylist_conf *g = &m->conn->mc->greylist;

	if (!g->on || g->when != GREYLIST_WHEN_EOM || m->nrcpts == 0)
		return;
	gl_decide(m, (const char *const *)m->rcpts, m->nrcpts, 1);
}

/* milter_greylist_rcpt - greylist_when = rcpt: 1 when this recipient is
 * deferred (or the store failed and greylist_fail_action says so), its
 * reply in v (v->text malloc'ed); 0 when it goes on.  The message's own
 * verdict is left as it was: the other recipients may pass. */
int
milter_greylist_rcpt(struct milter_msg *m, const char *rcpt,
		     struct milter_verdict *v)
{
	const struct greylist_conf *g = &m->conn->mc->greylist;
	enum milter_action saved = m->action;
	const char *saved_stage = m->action_stage;

	memset(v, 0, sizeof(*v));
	if (!g->on || g->when != GREYLIST_WHEN_RCPT)
		return 0;
	gl_decide(m, &rcpt, 1, 0);
	if (m->action == saved)
		return 0;
	v->action = m->action;
	snprintf(v->code, sizeof(v->code), "%s", m->reply_code);
	snprintf(v->xcode, sizeof(v->xcode), "%s", m->reply_xcode);
	v->text = x_strdup(m->reply_text ? m->reply_text : "");
	m->action = saved;
	m->action_stage = saved_stage;
	return 1;
}
