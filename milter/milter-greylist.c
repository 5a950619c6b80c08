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
 *	database.directory; milter-greylist-sqlite.c), one handle shared
 *	by the threads under a lock, each triplet read and written in one
 *	transaction, expired records removed at most once a minute on the
 *	way; or Redis (milter-greylist-redis.c), on Redis's clock, a client
 *	of a small pool taken by each message for its calls (no lock of
 *	ours: the threads greylist in parallel).  A store that
 *	cannot be opened or fails is logged, counted
 *	(elemta_milter_greylist_errors_total) and greylist_fail_action
 *	decides (accept by default: greylisting is a delay, not a
 *	filter).  Results: elemta_milter_greylist_total{result}.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-greylist.h"
#include "redis.h"
#include "str.h"
#include "xalloc.h"

/* The SQLite store, one for the process, used under gl_lock (Redis:
 * the pool of milter-greylist-redis.c). */
static pthread_mutex_t gl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db *gl_db;
static char *gl_db_path;
static int64_t gl_db_retry;		/* no reopen before (wall seconds) */
static int64_t gl_expired;		/* last expiry run */

static struct metric *m_greylist;
static struct metric *m_greylist_errors;

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
	gl_db_retry = 0;
	pthread_mutex_unlock(&gl_lock);
	greylist_redis_pool_free();
}

/* gl_sqlite_open - the open SQLite store of path (lock held), or NULL
 * with err (and no new try for 10 s) */
static struct db *
gl_sqlite_open(const char *path, int64_t now, char *err, size_t errlen)
{
	if (gl_db != NULL && strcmp(gl_db_path, path) == 0)
		return gl_db;
	db_close(&gl_db);
	x_free(&gl_db_path);
	if (now < gl_db_retry) {
		x_err(err, errlen, "not open (a retry is due in 10s)");
		return NULL;
	}
	if ((gl_db = greylist_db_open(path, err, errlen)) == NULL) {
		gl_db_retry = now + 10;
		return NULL;
	}
	gl_db_path = x_strdup(path);
	return gl_db;
}

/* gl_sqlite - the open SQLite store of path (lock held), or NULL */
static struct db *
gl_sqlite(struct milter_msg *m, const char *path, int64_t now)
{
	char err[512];
	int retrying = now < gl_db_retry;	/* then quiet, as before */
	struct db *db;

	if ((db = gl_sqlite_open(path, now, err, sizeof(err))) == NULL
	    && !retrying)
		qid_warn(m->qid, "greylist store %s: %s (retrying in 10s)",
			 path, err);
	return db;
}

/* What one message's decision needs. */
struct gl_msg {
	struct milter_msg *m;
	const struct greylist_conf *g;
	char client[DMARC_DOMAIN_MAX + 8];	/* network or "domain" */
	const char *keyed_by;			/* "net", "spf", "dkim" */
	char sender[GREYLIST_ADDR_MAX];
	long wait;				/* longest wait, seconds */
	unsigned deferred, passed;
	int auto_allowed;			/* the client has retried */
	struct db *db;				/* the store: SQLite, */
	struct redis_client *rc;		/* or Redis (taken) */
	unsigned rc_gen;			/* for greylist_redis_give */
	int64_t now;				/* SQLite: our clock */
	char err[512];				/* the store's error */
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
	if (greylist_allow_client(&c->gen->gl_clients, c->client_addr,
				  c->client_name))
		return "client-allowed";
	if (greylist_name_listed(x->g->senders,
				 greylist_addr_domain(x->sender)))
		return "sender-allowed";
	return NULL;
}

/* gl_check - a triplet in the store: its state and wait; 0 or -1 */
static int
gl_check(struct gl_msg *x, const char *key, enum greylist_state *st,
	 long *wait)
{
	const struct greylist_params *p = &x->g->params;
	struct greylist_rec rec;

	if (x->rc != NULL)	/* on Redis's clock */
		return greylist_redis_check(x->rc, key, 0, p, st, wait, x->err,
					    sizeof(x->err));
	if (greylist_db_check(x->db, key, x->now, p, st, &rec) < 0)
		return -1;
	*wait = greylist_wait(&rec, x->now, p);
	return 0;
}

/* gl_client_op - "check" (1: auto-allowed) or "pass" a client; -1 on
 * error */
static long
gl_client_op(struct gl_msg *x, const char *op)
{
	const struct greylist_params *p = &x->g->params;

	if (strcmp(op, "check") == 0 && p->auto_allow <= 0)
		return 0;
	if (x->rc != NULL)
		return greylist_redis_client(x->rc, x->client, op, p, x->err,
					     sizeof(x->err));
	if (strcmp(op, "check") == 0)
		return greylist_db_client_allowed(x->db, x->client, x->now, p);
	return greylist_db_client_pass(x->db, x->client, x->now);
}

#define GREYLIST_ADDR_TAG	"~SHA256:"
#define GREYLIST_ADDR_HASHED	(sizeof(GREYLIST_ADDR_TAG) - 1 + 64)
/* the tag and the hash take 72 bytes: out keeps at least 7 of the
 * address before them (GREYLIST_ADDR_KEY_MIN, milter-greylist.h) */
_Static_assert(GREYLIST_ADDR_KEY_MIN == GREYLIST_ADDR_HASHED + 1 + 7,
	       "GREYLIST_ADDR_KEY_MIN: the tag, the hash, 7 bytes, a NUL");

/* greylist_addr_key - see milter-greylist.h */
int
greylist_addr_key(const char *addr, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;
	size_t keep;
	char *low;
	int rc = -1;

	if (str_lower_buf(out, len, addr) >= 0)
		return 0;
	if (len < GREYLIST_ADDR_KEY_MIN)
		return -1;
	low = str_lower_dup(addr);
	if (EVP_Digest(low, strlen(low), md, &mdlen, EVP_sha256(), NULL) == 1
	    && mdlen == 32) {
		keep = len - 1 - GREYLIST_ADDR_HASHED;
		memcpy(out, low, keep);
		memcpy(out + keep, GREYLIST_ADDR_TAG,
		       sizeof(GREYLIST_ADDR_TAG) - 1);
		keep += sizeof(GREYLIST_ADDR_TAG) - 1;
		for (i = 0; i < mdlen; i++) {
			out[keep++] = hex[md[i] >> 4];
			out[keep++] = hex[md[i] & 15];
		}
		out[keep] = '\0';
		rc = 1;
	}
	free(low);
	return rc;
}

/* greylist_sender_key - see milter-greylist.h */
int
greylist_sender_key(const char *sender, char *out, size_t len)
{
	if (greylist_sender(sender, out, len) == 0)
		return 0;
	/* too long to normalise (RFC 5321 allows 256 bytes): its first
	 * bytes and a hash of the whole, as a long recipient, never
	 * another sender's triplets (the null sender's, say) */
	return greylist_addr_key(sender, out, len);
}

/* gl_triplet - one recipient's triplet (lock held); 0 or -1 */
static int
gl_triplet(struct gl_msg *x, const char *rcpt)
{
	char key[2 * GREYLIST_KEY_MAX], r[GREYLIST_ADDR_MAX];
	enum greylist_state st;
	long w;
	int rc;

	/* a recipient too long for the key: its first bytes and a hash of
	 * the whole, never a prefix another recipient shares */
	if ((rc = greylist_addr_key(rcpt, r, sizeof(r))) < 0) {
		snprintf(x->err, sizeof(x->err), "recipient: no SHA-256");
		return -1;
	}
	if (rc > 0)
		qid_info(x->m->qid, "greylist rcpt_length=%zu over %zu: keyed "
			 "by its first bytes and a SHA-256 of the whole",
			 strlen(rcpt), sizeof(r) - 1);
	snprintf(key, sizeof(key), "%s\t%s\t%s", x->client, x->sender, r);
	if (gl_check(x, key, &st, &w) < 0)
		return -1;
	if (st == GREYLIST_NEW || st == GREYLIST_EARLY) {
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
			 "client=%s keyed_by=%s sender=%s rcpt=%s",
			 x->client, x->keyed_by, x->sender, r);
		if (gl_client_op(x, "pass") < 0)
			return -1;
	}
	return 0;
}

/* gl_open - the SQLite store (lock held): 0, or -1 with x->err */
static int
gl_open(struct gl_msg *x, const char *path)
{
	if ((x->db = gl_sqlite(x->m, path, x->now)) == NULL) {
		snprintf(x->err, sizeof(x->err), "not open");
		return -1;
	}
	if (x->now - gl_expired >= 60) {
		gl_expired = x->now;
		if (greylist_db_expire(x->db, x->now, &x->g->params) < 0)
			qid_warn(x->m->qid, "greylist store %s: expiry: %s",
				 path, db_errmsg(x->db));
	}
	return 0;
}

/* gl_run - every recipient's triplet in the store; 0 or -1 (logged) */
static int
gl_run(struct gl_msg *x, const char *path, const char *const *rcpts,
       size_t n)
{
	const char *name = x->g->store == GREYLIST_STORE_REDIS ? "redis"
							       : path;
	long allowed = 0;
	size_t i;
	int rc;

	x->now = clock_wall_ms() / 1000;
	if (x->g->store == GREYLIST_STORE_REDIS) {
		x->rc = greylist_redis_take(x->m->conn->conf, &x->rc_gen);
		rc = 0;
	} else {
		pthread_mutex_lock(&gl_lock);
		rc = gl_open(x, path);
	}
	if (rc == 0 && (allowed = gl_client_op(x, "check")) > 0)
		x->auto_allowed = 1;
	for (i = 0; rc == 0 && allowed == 0 && i < n; i++)
		if (!greylist_rcpt_allowed(x->g->recipients, rcpts[i]))
			rc = gl_triplet(x, rcpts[i]);
	if (rc == 0 && allowed < 0)
		rc = -1;
	if (rc < 0 && x->db != NULL)
		snprintf(x->err, sizeof(x->err), "%s", db_errmsg(x->db));
	if (x->rc != NULL)
		greylist_redis_give(&x->rc, x->rc_gen, rc == 0);
	else
		pthread_mutex_unlock(&gl_lock);
	if (rc < 0 && strcmp(x->err, "not open") != 0)
		qid_warn(x->m->qid, "greylist store %s: %s", name, x->err);
	return rc;
}

/* gl_path_for - the store's file in c: relative to database.directory */
static char *
gl_path_for(const struct conf *c, const struct milter_conf *mc)
{
	const struct db_conf *dbc = conf_get(c, &db_conf_section);
	const char *p = mc->greylist.path;

	return p[0] == '/' || dbc->directory == NULL
	       ? x_strdup(p) : x_asprintf("%s/%s", dbc->directory, p);
}

/* gl_path - the message's store file */
static char *
gl_path(const struct milter_msg *m)
{
	return gl_path_for(m->conn->conf, m->conn->mc);
}

/* milter_greylist_admin - fn on the configured store, under the lock */
long
milter_greylist_admin(const struct conf *c, greylist_admin_fn fn, void *ctx,
		      char *err, size_t errlen)
{
	const struct milter_conf *mc = conf_get(c, &milter_conf_section);
	const struct greylist_conf *g = &mc->greylist;
	struct redis_client *rc;
	struct db *db;
	char *path;
	unsigned gen;
	long n;

	if (g->store == GREYLIST_STORE_REDIS) {
		rc = greylist_redis_take(c, &gen);
		n = fn(NULL, rc, g, ctx, err, errlen);
		greylist_redis_give(&rc, gen, n >= 0);
		return n;
	}
	pthread_mutex_lock(&gl_lock);
	db = gl_sqlite_open(path = gl_path_for(c, mc), clock_wall_ms() / 1000,
			    err, errlen);
	n = db != NULL ? fn(db, NULL, g, ctx, err, errlen) : -1;
	if (n < 0 && db != NULL && *err == '\0')
		snprintf(err, errlen, "%s: %s", path, db_errmsg(db));
	pthread_mutex_unlock(&gl_lock);
	free(path);
	return n;
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
	int rc;

	memset(&x, 0, sizeof(x));
	x.m = m;
	x.g = &m->conn->mc->greylist;
	if ((rc = greylist_sender_key(m->sender, x.sender,
				      sizeof(x.sender))) > 0)
		qid_info(m->qid, "greylist sender_length=%zu over %zu: keyed "
			 "by its first bytes and a SHA-256 of the whole",
			 strlen(m->sender), sizeof(x.sender) - 1);
	else if (rc < 0) {
		qid_warn(m->qid, "greylist sender_length=%zu over %zu: no "
			 "SHA-256: keyed as <>", strlen(m->sender),
			 sizeof(x.sender) - 1);
		snprintf(x.sender, sizeof(x.sender), "<>");
	}
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

	if (!g->on || g->when != GREYLIST_WHEN_EOM || m->nrcpts == 0
	    || g->mode == GREYLIST_MODE_RSPAMD)
		return;
	gl_decide(m, (const char *const *)m->rcpts, m->nrcpts, 1);
}

/* milter_greylist_rspamd - see milter-greylist.h */
void
milter_greylist_rspamd(struct milter_msg *m)
{
	const struct greylist_conf *g = &m->conn->mc->greylist;

	if (!g->on) {
		milter_msg_summary(m, "greylist=off");
		return;
	}
	if (g->mode != GREYLIST_MODE_RSPAMD || m->nrcpts == 0)
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
