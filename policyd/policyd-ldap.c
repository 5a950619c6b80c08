/*++
 * NAME
 *	policyd-ldap 3
 * SUMMARY
 *	per-user rates from the directory, without stalling the loop
 * DESCRIPTION
 *	See policyd-ldap.h for why the searches run in threads.  The loop
 *	thread owns the cache and the configuration; a search is a job
 *	carrying its own copy of what it needs (base, filter, attributes),
 *	so a reload never races a worker.  Jobs go to the workers through
 *	a queue under a mutex and a condition variable, and come back
 *	through a second list under the same mutex plus one byte written
 *	to a non-blocking pipe, which wakes the loop's poll().  A job
 *	carries the configuration generation it was made for; an answer
 *	of an older one is thrown away.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "policyd-ldap.h"
#include "htable.h"
#include "xalloc.h"

#define LDAP_MAX_ATTRS	32	/* distinct ldap_attribute names */

struct policyd_ldap_answer {
	struct ldap_val {
		char *attr;
		struct policyd_ldap_rate r;
	} *vals;
	size_t n;
};

enum ldap_state { LDAP_PENDING, LDAP_FOUND, LDAP_NONE, LDAP_ERROR };

struct ldap_ent {
	enum ldap_state state;
	int64_t queued;			/* pending: since when (wall ms) */
	int64_t expires;		/* answered: until when */
	struct policyd_ldap_answer ans;	/* found */
};

/* Reports of one kind of trouble, at most one per POLICYD_LDAP_LOG_MS. */
struct ldap_report {
	int64_t at;			/* the last one */
	unsigned long more;		/* troubles not reported since */
};

struct ldap_job {
	struct ldap_job *next;
	unsigned gen;			/* of the configuration */
	char *user, *base, *filter;
	enum ldapc_scope scope;
	char **attrs;			/* NULL-terminated */
	/* the worker's answer */
	int rc;				/* 0, or -1 with err */
	struct ldapc_result res;
	double seconds;
	char err[256];
};

struct policyd_ldap {
	struct ldapc *client;
	/* the loop thread's */
	struct htable *cache;	/* user -> struct ldap_ent */
	unsigned gen;
	char *base, *filter;
	enum ldapc_scope scope;
	char *attrs[LDAP_MAX_ATTRS + 1];
	int64_t ttl_ms, neg_ttl_ms, wait_ms;
	size_t cache_size;
	struct ldap_report failed;	/* searches that failed */
	struct ldap_report slow;	/* requests that gave up waiting */
	int failing;			/* the last search failed */
	/* shared with the workers, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ldap_job *todo, **todo_tail, *done;
	size_t ntodo;
	int stop;
	pthread_t *workers;
	int nworkers;
	int pipe_r, pipe_w;
	/* metrics */
	struct metric_series *m_hit, *m_miss;
	struct metric_series *m_found, *m_none, *m_error;
	struct metric *m_defaults;	/* reason */
	struct metric_series *m_seconds;
};

/* ldap_strv_free - free a NULL-terminated string array */
static void
ldap_strv_free(char ***vp)
{
	size_t i;

	for (i = 0; *vp != NULL && (*vp)[i] != NULL; i++)
		x_free(&(*vp)[i]);
	x_free(vp);
}

/* ldap_job_free - free a job */
static void
ldap_job_free(struct ldap_job *j)
{
	x_free(&j->user);
	x_free(&j->base);
	x_free(&j->filter);
	ldap_strv_free(&j->attrs);
	ldapc_result_clear(&j->res);
	x_free(&j);
}

/* ldap_answer_clear - free an answer's values */
static void
ldap_answer_clear(struct policyd_ldap_answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		x_free(&a->vals[i].attr);
	x_free(&a->vals);
	a->n = 0;
}

/* ldap_ent_free - free a cache entry */
static void
ldap_ent_free(void *v)
{
	struct ldap_ent *e = v;

	ldap_answer_clear(&e->ans);
	x_free(&e);
}

/* policyd_ldap_new - a client, no thread yet */
struct policyd_ldap *
policyd_ldap_new(const struct ldapc_conf *c, char *err, size_t errlen)
{
	struct policyd_ldap *ld;
	struct ldapc *client;
	struct metric *m;
	int fds[2];

	if ((client = ldapc_new(c, err, errlen)) == NULL)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		x_err(err, errlen, "ldap: pipe: %s", strerror(errno));
		ldapc_free(&client);
		return NULL;
	}
	ld = x_calloc(1, sizeof(*ld));
	ld->client = client;
	ld->pipe_r = fds[0];
	ld->pipe_w = fds[1];
	ld->cache = htable_new();
	ld->todo_tail = &ld->todo;
	ld->failed.at = ld->slow.at = INT64_MIN;
	pthread_mutex_init(&ld->lock, NULL);
	pthread_cond_init(&ld->cond, NULL);
	m = metrics_counter("elemta_policyd_ldap_cache_total",
			    "LDAP override cache lookups", "result");
	ld->m_hit = metric_series(m, "hit");
	ld->m_miss = metric_series(m, "miss");
	m = metrics_counter("elemta_policyd_ldap_lookups_total",
			    "LDAP override searches by outcome", "outcome");
	ld->m_found = metric_series(m, "found");
	ld->m_none = metric_series(m, "notfound");
	ld->m_error = metric_series(m, "error");
	ld->m_defaults = metrics_counter("elemta_policyd_ldap_defaults_total",
					 "Requests given the limits' own"
					 " rates because the directory failed"
					 " or was slow", "reason");
	m = metrics_histogram("elemta_policyd_ldap_seconds",
			      "LDAP override search latency", NULL,
			      ldapc_latency_buckets, LDAPC_LATENCY_BUCKETS);
	ld->m_seconds = metric_series(m);
	return ld;
}

/* ldap_search - a job's search, in a worker (no logging here) */
static void
ldap_search(struct ldapc *client, struct ldap_job *j)
{
	double t0 = clock_mono_s();

	/* two entries are enough to see that there are several */
	j->rc = ldapc_search(client, j->base, j->scope, j->filter,
			     (const char *const *)j->attrs, 2, &j->res,
			     j->err, sizeof(j->err));
	j->seconds = clock_mono_s() - t0;
}

/* ldap_worker - take jobs, search, hand the answers back */
static void *
ldap_worker(void *arg)
{
	struct policyd_ldap *ld = arg;
	struct ldap_job *j;
	ssize_t n;

	pthread_mutex_lock(&ld->lock);
	for (;;) {
		while (!ld->stop && ld->todo == NULL)
			pthread_cond_wait(&ld->cond, &ld->lock);
		if (ld->stop)
			break;
		j = ld->todo;
		if ((ld->todo = j->next) == NULL)
			ld->todo_tail = &ld->todo;
		ld->ntodo--;
		pthread_mutex_unlock(&ld->lock);
		ldap_search(ld->client, j);
		pthread_mutex_lock(&ld->lock);
		j->next = ld->done;
		ld->done = j;
		/* a full pipe is already readable: nothing lost */
		do
			n = write(ld->pipe_w, "", 1);
		while (n < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&ld->lock);
	return NULL;
}

/* policyd_ldap_start - the worker threads, with every signal blocked
 * (the loop thread takes them) */
int
policyd_ldap_start(struct policyd_ldap *ld, int n, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc = 0;

	if (n < 1)
		n = 1;
	if (n > POLICYD_LDAP_WORKERS)
		n = POLICYD_LDAP_WORKERS;
	ld->workers = x_calloc((size_t)n, sizeof(*ld->workers));
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (ld->nworkers = 0; ld->nworkers < n; ld->nworkers++)
		if ((rc = pthread_create(&ld->workers[ld->nworkers], NULL,
					 ldap_worker, ld)) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0 && ld->nworkers == 0) {
		x_err(err, errlen, "ldap: cannot start a thread: %s",
		      strerror(rc));
		return -1;
	}
	return 0;
}

/* ldap_flush - forget every answer; pending searches are forgotten too
 * (their answers will be of an older generation) */
static void
ldap_flush(struct policyd_ldap *ld)
{
	htable_free(&ld->cache, ldap_ent_free);
	ld->cache = htable_new();
	ld->gen++;
}

/* policyd_ldap_configure - what the searches look for */
void
policyd_ldap_configure(struct policyd_ldap *ld, const struct policyd_conf *c)
{
	size_t i, j, n = 0;

	ldap_flush(ld);
	x_free(&ld->base);
	x_free(&ld->filter);
	for (i = 0; ld->attrs[i] != NULL; i++)
		x_free(&ld->attrs[i]);
	ld->base = x_strdup(c->ldap_base ? c->ldap_base : "");
	ld->filter = x_strdup(c->ldap_filter);
	ld->scope = (enum ldapc_scope)c->ldap_scope;
	ld->ttl_ms = c->ldap_cache_ttl * 1000;
	ld->neg_ttl_ms = c->ldap_negative_cache_ttl * 1000;
	ld->wait_ms = c->ldap_wait_ms;
	ld->cache_size = (size_t)c->ldap_cache_size;
	for (i = 0; i < c->nlimits && n < LDAP_MAX_ATTRS; i++) {
		const char *a = c->limits[i].ldap_attribute;

		for (j = 0; a != NULL && j < n; j++)
			if (strcasecmp(ld->attrs[j], a) == 0)
				break;
		if (a != NULL && j == n)
			ld->attrs[n++] = x_strdup(a);
	}
	if (n == 0)
		ld->attrs[n++] = x_strdup("1.1");	/* RFC 4511: none */
	ld->attrs[n] = NULL;
}

/* ldap_report - trouble of one kind, logged at most once per
 * POLICYD_LDAP_LOG_MS (with how many more there were meanwhile) */
static void ATTR_PRINTF(3, 4)
ldap_report(struct ldap_report *rep, int64_t now, const char *fmt, ...)
{
	char line[700];
	va_list ap;

	if (rep->at != INT64_MIN && now >= rep->at
	    && now - rep->at < POLICYD_LDAP_LOG_MS) {
		rep->more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rep->more > 0)
		msg_warn("policyd ldap: %s; the limits' own rates apply (and"
			 " %lu more like it since the last report)", line,
			 rep->more);
	else
		msg_warn("policyd ldap: %s; the limits' own rates apply",
			 line);
	rep->at = now;
	rep->more = 0;
}

/* ldap_drop_answered - forget an answer (not a search on its way) */
static int
ldap_drop_answered(const char *key, void *value, void *ctx)
{
	struct ldap_ent *e = value;

	(void)key;
	(void)ctx;
	if (e->state == LDAP_PENDING)
		return 0;
	ldap_ent_free(e);
	return 1;
}

/* ldap_queue - a search for user, for a worker; 0, or -1 (too many) */
static int
ldap_queue(struct policyd_ldap *ld, const char *user, char *filter)
{
	struct ldap_job *j;
	size_t i, n;

	pthread_mutex_lock(&ld->lock);
	n = ld->ntodo;
	pthread_mutex_unlock(&ld->lock);
	if (n >= POLICYD_LDAP_QUEUE_MAX || ld->nworkers == 0)
		return -1;
	j = x_calloc(1, sizeof(*j));
	j->gen = ld->gen;
	j->user = x_strdup(user);
	j->base = x_strdup(ld->base);
	j->filter = filter;
	j->scope = ld->scope;
	for (n = 0; ld->attrs[n] != NULL; n++)
		;
	j->attrs = x_calloc(n + 1, sizeof(*j->attrs));
	for (i = 0; i < n; i++)
		j->attrs[i] = x_strdup(ld->attrs[i]);
	pthread_mutex_lock(&ld->lock);
	*ld->todo_tail = j;
	ld->todo_tail = &j->next;
	ld->ntodo++;
	pthread_cond_signal(&ld->cond);
	pthread_mutex_unlock(&ld->lock);
	return 0;
}

/* ldap_put - a new cache entry for user */
static struct ldap_ent *
ldap_put(struct policyd_ldap *ld, const char *user, enum ldap_state state,
	 int64_t now)
{
	struct ldap_ent *e = x_calloc(1, sizeof(*e)), *old;

	if (htable_size(ld->cache) >= ld->cache_size)
		htable_sweep(ld->cache, (size_t)-1, ldap_drop_answered, NULL);
	e->state = state;
	e->queued = now;
	e->expires = now + (state == LDAP_NONE ? ld->neg_ttl_ms : 0);
	if ((old = htable_put(ld->cache, user, e)) != NULL)
		ldap_ent_free(old);
	return e;
}

/* ldap_miss - user is not in the cache: queue a search */
static int
ldap_miss(struct policyd_ldap *ld, const char *user, int64_t now)
{
	char *filter = NULL, why[256];
	int rc;

	metric_series_add(ld->m_miss, 1);
	rc = ldapc_filter_expand(ld->filter, user, strlen(user), &filter, why,
				 sizeof(why));
	if (rc == 0) {		/* %d and no domain: nothing to ask */
		ldap_put(ld, user, LDAP_NONE, now);
		return POLICYD_LDAP_READY;
	}
	if (rc < 0 || ldap_queue(ld, user, filter) < 0) {
		if (rc > 0)
			x_free(&filter);
		metric_inc(ld->m_defaults, "overload");
		ldap_report(&ld->slow, now, "user=%s: %s", user, rc < 0 ? why
			    : "too many searches waiting for the directory");
		return POLICYD_LDAP_DEFAULT;
	}
	ldap_put(ld, user, LDAP_PENDING, now);
	return POLICYD_LDAP_WAIT;
}

/* policyd_ldap_get - the cached answer, or a search on its way */
int
policyd_ldap_get(struct policyd_ldap *ld, const char *user, int64_t now,
		 const struct policyd_ldap_answer **ans)
{
	struct ldap_ent *e = htable_get(ld->cache, user);

	*ans = NULL;
	if (e != NULL && e->state != LDAP_PENDING && e->expires <= now) {
		ldap_ent_free(htable_del(ld->cache, user));
		e = NULL;
	}
	if (e == NULL)
		return ldap_miss(ld, user, now);
	switch (e->state) {
	case LDAP_PENDING:
		/* (a clock stepped back ends the wait too) */
		if (now - e->queued < ld->wait_ms && now >= e->queued)
			return POLICYD_LDAP_WAIT;
		metric_inc(ld->m_defaults, "timeout");
		ldap_report(&ld->slow, now, "user=%s: no answer from the"
			    " directory within ldap_wait_ms (%lld ms)", user,
			    (long long)ld->wait_ms);
		return POLICYD_LDAP_DEFAULT;
	case LDAP_FOUND:
		metric_series_add(ld->m_hit, 1);
		*ans = &e->ans;
		return POLICYD_LDAP_READY;
	case LDAP_NONE:
		metric_series_add(ld->m_hit, 1);
		return POLICYD_LDAP_READY;
	case LDAP_ERROR:
		metric_inc(ld->m_defaults, "error");
		return POLICYD_LDAP_DEFAULT;
	}
	return POLICYD_LDAP_DEFAULT;
}

/* policyd_ldap_rate - the rate an attribute gave, or NULL */
const struct policyd_ldap_rate *
policyd_ldap_rate(const struct policyd_ldap_answer *ans, const char *attr)
{
	size_t i;

	for (i = 0; ans != NULL && i < ans->n; i++)
		if (strcasecmp(ans->vals[i].attr, attr) == 0)
			return &ans->vals[i].r;
	return NULL;
}

/* ldap_read_entry - the rates of one entry into e->ans; an unusable
 * value is logged and left out */
static void
ldap_read_entry(struct policyd_ldap *ld, struct ldap_ent *e,
		const char *user, const struct ldapc_entry *le)
{
	struct policyd_ldap_rate r;
	const char *v;
	char why[256];
	size_t i;

	for (i = 0; ld->attrs[i] != NULL; i++) {
		if ((v = ldapc_entry_value(le, ld->attrs[i])) == NULL)
			continue;
		if (policyd_conf_parse_override(v, &r.rate, &r.has_period,
						why, sizeof(why)) < 0) {
			msg_warn("policyd ldap: user=%s dn=\"%s\" %s: %s; the"
				 " limit's own rate applies", user, le->dn,
				 ld->attrs[i], why);
			continue;
		}
		e->ans.vals = x_realloc(e->ans.vals, (e->ans.n + 1)
					* sizeof(*e->ans.vals));
		e->ans.vals[e->ans.n].attr = x_strdup(ld->attrs[i]);
		e->ans.vals[e->ans.n].r = r;
		e->ans.n++;
	}
}

/* ldap_answer - a worker's answer into the cache */
static void
ldap_answer(struct policyd_ldap *ld, struct ldap_job *j, int64_t now)
{
	struct ldap_ent *e = htable_get(ld->cache, j->user);

	metric_series_observe(ld->m_seconds, j->seconds);
	if (j->gen != ld->gen || e == NULL || e->state != LDAP_PENDING)
		return;		/* configured again since: not ours */
	if (j->rc < 0) {
		metric_series_add(ld->m_error, 1);
		e->state = LDAP_ERROR;
		e->expires = now + POLICYD_LDAP_RETRY_MS;
		ld->failing = 1;
		ldap_report(&ld->failed, now, "user=%s: %s", j->user, j->err);
		return;
	}
	if (ld->failing) {	/* the next failure is reported at once */
		ld->failing = 0;
		ld->failed.at = ld->slow.at = INT64_MIN;
		msg_info("policyd ldap: the directory answers again");
	}
	if (j->res.nentries == 0 || j->res.nentries > 1 || j->res.truncated) {
		if (j->res.nentries > 0)
			msg_warn("policyd ldap: user=%s: %s matches more than"
				 " one entry (%s, ...): taken as none",
				 j->user, j->filter, j->res.entries[0].dn);
		metric_series_add(ld->m_none, 1);
		e->state = LDAP_NONE;
		e->expires = now + ld->neg_ttl_ms;
		return;
	}
	metric_series_add(ld->m_found, 1);
	e->state = LDAP_FOUND;
	e->expires = now + ld->ttl_ms;
	ldap_read_entry(ld, e, j->user, &j->res.entries[0]);
	msg_debug("policyd ldap: user=%s dn=\"%s\" rates=%zu (%.1f ms)",
		  j->user, j->res.entries[0].dn, e->ans.n, j->seconds * 1000);
}

/* policyd_ldap_drain - the answers that are back */
size_t
policyd_ldap_drain(struct policyd_ldap *ld, int64_t now)
{
	struct ldap_job *list, *j, *rev = NULL;
	char buf[256];
	size_t n = 0;

	while (read(ld->pipe_r, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&ld->lock);
	list = ld->done;
	ld->done = NULL;
	pthread_mutex_unlock(&ld->lock);
	while ((j = list) != NULL) {	/* oldest first */
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while ((j = rev) != NULL) {
		rev = j->next;
		ldap_answer(ld, j, now);
		ldap_job_free(j);
		n++;
	}
	return n;
}

/* ldap_expired - an answer past its time */
static int
ldap_expired(const char *key, void *value, void *ctx)
{
	struct ldap_ent *e = value;
	const int64_t *now = ctx;

	(void)key;
	if (e->state == LDAP_PENDING || e->expires > *now)
		return 0;
	ldap_ent_free(e);
	return 1;
}

/* policyd_ldap_tick - forget a slice of the expired answers */
void
policyd_ldap_tick(struct policyd_ldap *ld, int64_t now)
{
	htable_sweep(ld->cache, 256, ldap_expired, &now);
}

/* policyd_ldap_fd - the read end of the answer pipe */
int
policyd_ldap_fd(const struct policyd_ldap *ld)
{
	return ld->pipe_r;
}

/* policyd_ldap_free - stop, join, free */
void
policyd_ldap_free(struct policyd_ldap **ldp)
{
	struct policyd_ldap *ld = *ldp;
	struct ldap_job *j;
	int i;

	if (ld == NULL)
		return;
	pthread_mutex_lock(&ld->lock);
	ld->stop = 1;
	pthread_cond_broadcast(&ld->cond);
	pthread_mutex_unlock(&ld->lock);
	for (i = 0; i < ld->nworkers; i++)
		pthread_join(ld->workers[i], NULL);
	x_free(&ld->workers);
	while ((j = ld->todo) != NULL) {
		ld->todo = j->next;
		ldap_job_free(j);
	}
	while ((j = ld->done) != NULL) {
		ld->done = j->next;
		ldap_job_free(j);
	}
	htable_free(&ld->cache, ldap_ent_free);
	for (i = 0; ld->attrs[i] != NULL; i++)
		x_free(&ld->attrs[i]);
	x_free(&ld->base);
	x_free(&ld->filter);
	close(ld->pipe_r);
	close(ld->pipe_w);
	pthread_cond_destroy(&ld->cond);
	pthread_mutex_destroy(&ld->lock);
	ldapc_free(&ld->client);
	x_free(ldp);
}
