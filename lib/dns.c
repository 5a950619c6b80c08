/*++
 * NAME
 *	dns 3
 * SUMMARY
 *	the one DNS resolver of a process (libunbound)
 * DESCRIPTION
 *	See dns.h.  libunbound's synchronous ub_resolve() has no timeout
 *	of its own (a dead forwarder can hold it for tens of seconds), so
 *	queries are asynchronous: ub_resolve_async() from the asking
 *	thread, answers delivered by one dispatcher thread that runs
 *	ub_process(), and each asking thread waits on its own condition
 *	variable with a deadline.  A query that times out is cancelled;
 *	when the answer is already on its way (ub_cancel fails), the
 *	callback frees the abandoned query instead.
 *
 *	Forwarders: the configured nameservers, else those of resolv_conf.
 *	Forwarding, libunbound may ask loopback (our forwarders) and the
 *	LAN's reverse zones, and the special-use zones (test., invalid.,
 *	the reverse zones of the documentation networks...), which it
 *	answers itself with NXDOMAIN by default, are made transparent so
 *	that the forwarders are asked, which is what a test DNS (and a site
 *	that serves such names) needs.  With no forwarder at all it
 *	recurses from the root, and then loopback is never asked and the
 *	LAN zones stay blocked: there, NS records from the Internet decide
 *	where queries go, and an attacker's must not reach local services.
 *
 *	The cache (dns-cache.c).  libunbound caches too, but asking it is
 *	a round trip through its thread and ours (a pipe each way, two
 *	wake-ups), for every lookup: about as much as the SPF evaluation
 *	that asked.  So answers (records, NXDOMAIN, no data) are kept here
 *	as well, in a lib/htable under the name in lower case and the
 *	type, until their TTL runs out (an answer with TTL 0 is not kept;
 *	TTLs are capped as unbound caps them: a day, an hour for negative
 *	answers), at most cache_size bytes of them (the entry, its name,
 *	its records), the least recently used going first.  Failures are
 *	never kept.  A lookup that finds its answer here is a hit; any
 *	other is a miss and goes to libunbound, which asks the network
 *	unless its own cache has the answer (only for an entry evicted
 *	here, or for two threads missing the same name at once: the TTLs
 *	are the ones libunbound hands out, counting down in both caches
 *	alike).
 *
 *	The records of an answer are kept and read by dns-answer.c; the
 *	[dns] section is dns-conf.c's.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "clock.h"
#include "dns.h"
#include "dns-private.h"
#include "htable.h"
#include "snapshot.h"
#include "xalloc.h"

#define DNS_CLASS_IN	1
/* TTL caps, unbound's defaults (cache-max-ttl, cache-max-negative-ttl):
 * libunbound hands out 32768 s for a negative answer without an SOA. */
#define DNS_MAX_TTL	86400
#define DNS_MAX_NEG_TTL	3600

struct dns_pending {
	pthread_cond_t cond;
	int done;
	int abandoned;
	int err;
	struct ub_result *result;
	struct dns_resolver *r;
};

/* Special-use zones libunbound would answer itself (see dns_setup). */
static const char *const dns_special_zones[] = {
	"test.", "invalid.", "onion.", "home.arpa.",
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.", NULL,
};

/* dns_local - whether loopback and the LAN's reverse zones may be
 * asked: with our forwarders (allow), or from the root (not) */
static int
dns_local(struct ub_ctx *ctx, int allow, char *err, size_t errlen)
{
	int rc;

	if ((rc = ub_ctx_set_option(ctx, "do-not-query-localhost:",
				    allow ? "no" : "yes")) != 0
	    || (rc = ub_ctx_set_option(ctx, "unblock-lan-zones:",
				       allow ? "yes" : "no")) != 0) {
		x_err(err, errlen, "libunbound: %s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

/* dns_forwarders - the configured nameservers, else those of
 * resolv_conf; *recursing set when there is none at all */
static int
dns_forwarders(struct ub_ctx *ctx, const struct dns_conf *dc,
	       int *recursing, char *err, size_t errlen)
{
	size_t i;
	int rc;

	*recursing = 0;
	for (i = 0; i < dc->nnameservers; i++) {
		if (dns_nameserver_check(dc->nameservers[i], err, errlen) < 0)
			return -1;
		if ((rc = ub_ctx_set_fwd(ctx, dc->nameservers[i])) != 0) {
			x_err(err, errlen, "nameserver %s: %s",
			      dc->nameservers[i], ub_strerror(rc));
			return -1;
		}
	}
	/* No nameservers: those of resolv.conf (libunbound takes
	 * 127.0.0.1 from one that names none); without it, recurse. */
	if (dc->nnameservers == 0) {
		if (dc->resolv_conf == NULL
		    || (rc = ub_ctx_resolvconf(ctx, dc->resolv_conf))
		       == UB_READFILE) {
			*recursing = 1;
		} else if (rc != 0) {
			x_err(err, errlen, "%s: %s", dc->resolv_conf,
			      ub_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* dns_forwarding - the options and zones of a context with forwarders */
static int
dns_forwarding(struct ub_ctx *ctx, char *err, size_t errlen)
{
	const char *const *z;
	char opt[64];
	int rc;

	/* Forwarding: the forwarders are ours (tests and local caches
	 * listen on loopback), and they may serve the LAN's reverse zones
	 * and the special-use names, which libunbound would otherwise
	 * answer itself with NXDOMAIN; an empty "transparent" zone
	 * forwards like any other name ("nodefault" has no effect through
	 * ub_ctx_set_option() in unbound 1.17). */
	if (dns_local(ctx, 1, err, errlen) < 0)
		return -1;
	for (z = dns_special_zones; *z != NULL; z++) {
		snprintf(opt, sizeof(opt), "%s transparent", *z);
		if ((rc = ub_ctx_set_option(ctx, "local-zone:", opt)) != 0) {
			x_err(err, errlen, "libunbound: local-zone %s: %s", *z,
			      ub_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* dns_setup - forwarders, then options and zones of a new context;
 * *recursing is set when there is no forwarder at all */
static int
dns_setup(struct ub_ctx *ctx, const struct dns_conf *dc, int *recursing,
	  char *err, size_t errlen)
{
	int rc;

	/* Threads, not a forked helper: nothing outlives the process. */
	if ((rc = ub_ctx_async(ctx, 1)) != 0) {
		x_err(err, errlen, "libunbound: %s", ub_strerror(rc));
		return -1;
	}
	if (dns_forwarders(ctx, dc, recursing, err, errlen) < 0)
		return -1;
	if (!*recursing)
		return dns_forwarding(ctx, err, errlen);
	/* From the root, answers name the servers to ask next: an
	 * attacker's NS records must not point our queries at loopback
	 * services or the LAN.  Those are unbound's defaults; set anyway,
	 * so that no default can change it. */
	return dns_local(ctx, 0, err, errlen);
}

/* dns_resolver_describe - how the resolver asks, for a log line */
char *
dns_resolver_describe(struct dns_resolver *r, char *buf, size_t len)
{
	char *lh = NULL, *lan = NULL;

	(void)ub_ctx_get_option(r->ctx, "do-not-query-localhost", &lh);
	(void)ub_ctx_get_option(r->ctx, "unblock-lan-zones", &lan);
	snprintf(buf, len, "mode=%s do-not-query-localhost=%s "
		 "unblock-lan-zones=%s cache_size=%zu",
		 r->recursing ? "recursion" : "forward", lh ? lh : "?",
		 lan ? lan : "?", r->max_bytes);
	free(lh);
	free(lan);
	return buf;
}

/* dns_resolver_stats - the cache's counters so far */
void
dns_resolver_stats(struct dns_resolver *r, struct dns_stats *st)
{
	pthread_mutex_lock(&r->cache_lock);
	st->hits = r->hits;
	st->misses = r->misses;
	st->entries = htable_size(r->cache);
	st->bytes = r->bytes;
	pthread_mutex_unlock(&r->cache_lock);
}

/* dns_resolver_free - the last reference is gone: stop the dispatcher
 * and free everything */
static void
dns_resolver_free(void *obj)
{
	struct dns_resolver *r = obj;

	if (r->running) {
		r->stopping = 1;
		pthread_join(r->dispatcher, NULL);
	}
	ub_ctx_delete(r->ctx);
	htable_free(&r->cache, dns_entry_free);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->cache_lock);
	free(r);
}

/* dns_resolver_new - one libunbound context configured from dc */
struct dns_resolver *
dns_resolver_new(const struct dns_conf *dc, char *err, size_t errlen)
{
	struct dns_resolver *r;
	struct ub_ctx *ctx;
	int recursing;

	if ((ctx = ub_ctx_create()) == NULL) {
		x_err(err, errlen, "ub_ctx_create failed");
		return NULL;
	}
	if (dns_setup(ctx, dc, &recursing, err, errlen) < 0) {
		ub_ctx_delete(ctx);
		return NULL;
	}
	r = x_calloc(1, sizeof(*r));
	r->recursing = recursing;
	r->max_bytes = dc->cache_size;
	snapshot_init(&r->snap, r, dns_resolver_free);
	r->ctx = ctx;
	r->timeout = dc->timeout > 0 ? dc->timeout : 5;
	r->retries = dc->retries >= 0 ? dc->retries : 0;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->cache_lock, NULL);
	r->cache = htable_new();
	return r;
}

/* dns_dispatch - the dispatcher thread: deliver answers to callbacks */
static void *
dns_dispatch(void *arg)
{
	struct dns_resolver *r = arg;
	struct pollfd pfd;

	pfd.fd = ub_fd(r->ctx);
	pfd.events = POLLIN;
	while (!r->stopping) {
		/* A short timeout, only to notice r->stopping. */
		if (poll(&pfd, 1, 200) > 0)
			(void)ub_process(r->ctx);
	}
	return NULL;
}

/* dns_resolver_ref - one more reference */
struct dns_resolver *
dns_resolver_ref(struct dns_resolver *r)
{
	return r != NULL ? snapshot_ref(&r->snap) : NULL;
}

/* dns_resolver_unref - drop a reference; clears *rp */
void
dns_resolver_unref(struct dns_resolver **rp)
{
	snapshot_unref(*rp != NULL ? &(*rp)->snap : NULL);
	*rp = NULL;
}

/* dns_pending_free - destroy a query's state */
static void
dns_pending_free(struct dns_pending *q)
{
	pthread_cond_destroy(&q->cond);
	free(q);
}

/* dns_callback - an answer arrived (dispatcher thread) */
static void
dns_callback(void *arg, int err, struct ub_result *result)
{
	struct dns_pending *q = arg;
	struct dns_resolver *r = q->r;

	pthread_mutex_lock(&r->lock);
	if (q->abandoned) {
		pthread_mutex_unlock(&r->lock);
		if (result != NULL)
			ub_resolve_free(result);
		dns_pending_free(q);
		return;
	}
	q->done = 1;
	q->err = err;
	q->result = result;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&r->lock);
}

/* dns_start - start the dispatcher once (caller holds the lock) */
static int
dns_start(struct dns_resolver *r)
{
	if (r->running)
		return 0;
	if (pthread_create(&r->dispatcher, NULL, dns_dispatch, r) != 0)
		return -1;
	r->running = 1;
	return 0;
}

/* dns_pending_new - a query's state, its condition variable on the
 * monotonic clock */
static struct dns_pending *
dns_pending_new(struct dns_resolver *r)
{
	pthread_condattr_t ca;
	struct dns_pending *q;

	q = x_calloc(1, sizeof(*q));
	q->r = r;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

/* dns_deadline - when an attempt stops waiting (CLOCK_MONOTONIC): after
 * the timeout, or at until when it comes first; 1 when until cut it */
static int
dns_deadline(const struct dns_resolver *r, long long until,
	     struct timespec *deadline)
{
	long long now, wait_ms;
	int cut = 0;

	/* the work's own deadline (lib/clock's), when it comes first */
	now = clock_mono_ms();
	wait_ms = (long long)r->timeout * 1000;
	if (until > 0 && until - now < wait_ms) {
		wait_ms = until > now ? until - now : 0;
		cut = 1;
	}
	/* the condition variable's clock: the kernel's, never moved */
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += (time_t)(wait_ms / 1000);
	deadline->tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
	return cut;
}

/* dns_wait - wait for the answer of query q (id) until deadline: 0
 * answered, 1 timed out (q abandoned: freed here when the query is
 * cancelled, else by the callback, which is on its way) */
static int
dns_wait(struct dns_resolver *r, struct dns_pending *q, int id,
	 const struct timespec *deadline)
{
	int timed_out = 0;

	pthread_mutex_lock(&r->lock);
	while (!q->done && !timed_out)
		if (pthread_cond_timedwait(&q->cond, &r->lock,
					   deadline) == ETIMEDOUT)
			timed_out = !q->done;
	if (!timed_out) {
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	q->abandoned = 1;
	pthread_mutex_unlock(&r->lock);
	/* Cancelled: the callback never runs, q is ours to free.
	 * Otherwise the callback is on its way and frees q. */
	if (ub_cancel(r->ctx, id) == 0)
		dns_pending_free(q);
	return 1;
}

/* dns_attempt - one asynchronous query with a deadline */
static int
dns_attempt(struct dns_resolver *r, const char *name, int type,
	    long long until, struct ub_result **resp, char *why,
	    size_t whylen)
{
	struct dns_pending *q;
	struct timespec deadline;
	int id, rc, cut;

	*resp = NULL;
	q = dns_pending_new(r);

	pthread_mutex_lock(&r->lock);
	if (dns_start(r) < 0) {
		pthread_mutex_unlock(&r->lock);
		dns_pending_free(q);
		x_err(why, whylen, "cannot start the DNS dispatcher thread");
		return -1;
	}
	pthread_mutex_unlock(&r->lock);

	rc = ub_resolve_async(r->ctx, name, type, DNS_CLASS_IN, q,
			      dns_callback, &id);
	if (rc != 0) {
		dns_pending_free(q);
		x_err(why, whylen, "%s", ub_strerror(rc));
		return -1;
	}
	cut = dns_deadline(r, until, &deadline);
	if (dns_wait(r, q, id, &deadline)) {
		if (cut)
			x_err(why, whylen, "no answer within the time "
			      "budget left");
		else
			x_err(why, whylen, "no answer within %ds",
			      r->timeout);
		return 1;
	}
	rc = q->err;
	*resp = q->result;
	dns_pending_free(q);
	if (rc != 0) {
		if (*resp != NULL)
			ub_resolve_free(*resp);
		*resp = NULL;
		x_err(why, whylen, "%s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

/* dns_classify - the status of a libunbound result */
static enum dns_status
dns_classify(const struct ub_result *res, char *why, size_t whylen)
{
	if (res->nxdomain)
		return DNS_NXDOMAIN;
	if (res->rcode != 0) {
		x_err(why, whylen, "rcode %d%s", res->rcode,
		      res->rcode == 2 ? " (SERVFAIL)" :
		      res->rcode == 5 ? " (REFUSED)" : "");
		return DNS_TEMPFAIL;
	}
	if (!res->havedata)
		return DNS_NODATA;
	return DNS_OK;
}

/* dns_ask - ask libunbound (with timeout and retries), fill a */
static void
dns_ask(struct dns_resolver *r, const char *name, int type,
	long long until, struct dns_answer *a)
{
	struct ub_result *res = NULL;
	int attempt, rc;
	size_t n;

	for (attempt = 0; attempt <= r->retries; attempt++) {
		if (res != NULL)
			ub_resolve_free(res);
		res = NULL;
		if (attempt > 0 && until > 0 && clock_mono_ms() >= until)
			break;		/* no time left for a retry */
		rc = dns_attempt(r, name, type, until, &res, a->why,
				 sizeof(a->why));
		if (rc < 0) {
			a->status = DNS_TEMPFAIL;
			continue;
		}
		if (rc > 0) {
			a->status = DNS_TIMEOUT;
			continue;
		}
		a->status = dns_classify(res, a->why, sizeof(a->why));
		a->rcode = res->rcode;
		if (a->status != DNS_TEMPFAIL)
			break;
	}
	if (res == NULL)
		return;
	a->ttl = res->ttl;
	if (a->ttl > (a->status == DNS_OK ? DNS_MAX_TTL : DNS_MAX_NEG_TTL))
		a->ttl = a->status == DNS_OK ? DNS_MAX_TTL : DNS_MAX_NEG_TTL;
	if (a->status == DNS_OK) {
		size_t *len;

		for (n = 0; res->data[n] != NULL; n++)
			;
		len = x_calloc(n + 1, sizeof(size_t));
		for (a->count = 0; a->count < n; a->count++)
			len[a->count] = (size_t)res->len[a->count];
		a->priv = dns_rdata_new(n, (const unsigned char *const *)
					res->data, len);
		free(len);
	}
	ub_resolve_free(res);
}

/* dns_query - look up name/type: the cache, else libunbound */
enum dns_status
dns_query(struct dns_resolver *r, const char *name, int type,
	  struct dns_counter *cnt, struct dns_answer **ap)
{
	struct dns_answer *a = x_calloc(1, sizeof(*a));
	const struct dns_rdata *rd;
	char key[264];		/* "65535 " and a name of 255 */
	int keep, rc;

	keep = dns_key(name, type, key, sizeof(key)) == 0;
	if (keep && dns_cache_get(r, key, a)) {
		/* known: served whatever the limit and the deadline */
		if (cnt != NULL)
			cnt->lookups++, cnt->hits++;
		keep = 0;		/* nothing new to keep */
	} else if (cnt != NULL && cnt->limit > 0
		   && cnt->lookups - cnt->hits >= cnt->limit) {
		a->status = DNS_LIMIT;
		x_err(a->why, sizeof(a->why), "more than %u DNS lookups",
		      cnt->limit);
		goto out;
	} else if (cnt != NULL && cnt->budget != NULL
		   && cnt->budget->limit_ms > 0
		   && cnt->budget->spent_ms >= cnt->budget->limit_ms) {
		a->status = DNS_LIMIT;
		x_err(a->why, sizeof(a->why), "time budget of %lld ms for "
		      "DNS lookups spent", cnt->budget->limit_ms);
		goto out;
	} else {
		struct dns_budget *b = cnt != NULL ? cnt->budget : NULL;
		long long t0 = clock_mono_ms();

		if (cnt != NULL)
			cnt->lookups++;
		dns_ask(r, name, type, b != NULL && b->limit_ms > 0
			? t0 + b->limit_ms - b->spent_ms : 0, a);
		if (b != NULL)
			b->spent_ms += clock_mono_ms() - t0;
	}
	if ((rd = a->priv) != NULL) {
		a->data = rd->data;
		a->len = rd->len;
	}
	if (keep)
		dns_cache_put(r, key, a);
out:
	rc = a->status;
	if (ap != NULL)
		*ap = a;
	else
		dns_answer_free(&a);
	return (enum dns_status)rc;
}
