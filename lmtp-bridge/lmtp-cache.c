/*++
 * NAME
 *	lmtp-cache 3
 * SUMMARY
 *	the answer cache of a routing source (LDAP, SQLite)
 * DESCRIPTION
 *	See lmtp-cache.h.  The answers are kept in a lib/htable, which
 *	keeps them in the order they were last used: a lookup, an
 *	insertion and an eviction are O(1).  An expired entry is dropped
 *	when it is found; one that is never asked for again ages to the
 *	tail and is evicted there.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "htable.h"
#include "lmtp-cache.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

struct lmtp_cached {
	double expires;
	int found;
	int disabled;
	int junk_optout;
	char *backend;
	char *rewrite;
};

struct lmtp_cache {
	pthread_mutex_t lock;	/* everything below */
	struct htable *table;	/* key -> struct lmtp_cached */
	size_t max;
	long ttl, neg_ttl;
	double (*clock)(void);
	struct metric_series *m_hit, *m_miss;
	struct metric_series *m_lru, *m_expired;
	struct metric_series *m_entries;
};

/* lmtp_cached_free - free one answer */
static void
lmtp_cached_free(void *p)
{
	struct lmtp_cached *e = p;

	x_free(&e->backend);
	x_free(&e->rewrite);
	free(e);
}

/* lmtp_cache_drop - free an answer out of the table (lock held) */
static void
lmtp_cache_drop(struct lmtp_cache *c, struct lmtp_cached *e)
{
	lmtp_cached_free(e);
	metric_series_add(c->m_entries, -1);
}

/* lmtp_cache_fill - copy an answer into an entry */
static void
lmtp_cache_fill(struct lmtp_cached *e, int found,
		const struct lmtp_lookup_result *res, double expires)
{
	x_free(&e->backend);
	x_free(&e->rewrite);
	e->found = found;
	e->disabled = found ? res->disabled : 0;
	e->junk_optout = found ? res->junk_optout : 0;
	if (found && res->backend != NULL)
		e->backend = x_strdup(res->backend);
	if (found && res->rewrite != NULL)
		e->rewrite = x_strdup(res->rewrite);
	e->expires = expires;
}

/* lmtp_cache_new - an empty cache, its metrics registered */
struct lmtp_cache *
lmtp_cache_new(const char *source, size_t max_entries, long ttl,
	       long negative_ttl, double (*clock)(void))
{
	struct lmtp_cache *c;
	struct metric *m;
	char name[128], help[128];

	if (max_entries == 0 || (ttl <= 0 && negative_ttl <= 0))
		return NULL;
	c = x_calloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->table = htable_new();
	c->max = max_entries;
	c->ttl = ttl;
	c->neg_ttl = negative_ttl;
	c->clock = clock != NULL ? clock : clock_mono_s;
	snprintf(name, sizeof(name), "elemta_lmtp_%s_cache_total", source);
	snprintf(help, sizeof(help), "%s routing cache lookups", source);
	m = metrics_counter(name, help, "result");
	c->m_hit = metric_series(m, "hit");
	c->m_miss = metric_series(m, "miss");
	snprintf(name, sizeof(name), "elemta_lmtp_%s_cache_evictions_total",
		 source);
	snprintf(help, sizeof(help), "%s routing cache entries removed: "
		 "least recently used when full, or expired", source);
	m = metrics_counter(name, help, "reason");
	c->m_lru = metric_series(m, "lru");
	c->m_expired = metric_series(m, "expired");
	snprintf(name, sizeof(name), "elemta_lmtp_%s_cache_entries", source);
	snprintf(help, sizeof(help), "%s routing cache entries held", source);
	c->m_entries = metric_series(metrics_gauge(name, help, NULL));
	return c;
}

/* lmtp_cache_free - forget everything, free the cache */
void
lmtp_cache_free(struct lmtp_cache **cp)
{
	struct lmtp_cache *c = *cp;

	if (c == NULL)
		return;
	/* the gauge counts every live cache (a reload makes new ones) */
	metric_series_add(c->m_entries, -(double)htable_size(c->table));
	htable_free(&c->table, lmtp_cached_free);
	pthread_mutex_destroy(&c->lock);
	x_free(cp);
}

/* lmtp_cache_get - a live answer for key, copied into res; a hit makes
 * it the most recently used */
int
lmtp_cache_get(struct lmtp_cache *c, const char *key,
	       struct lmtp_lookup_result *res)
{
	struct lmtp_cached *e;
	double now = c->clock();
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	if ((e = htable_use(c->table, key)) != NULL && e->expires <= now) {
		lmtp_cache_drop(c, htable_del(c->table, key));
		metric_series_add(c->m_expired, 1);
	} else if (e != NULL) {
		rc = e->found;
		if (rc == 1) {
			res->disabled = e->disabled;
			res->junk_optout = e->junk_optout;
			res->backend = e->backend ? x_strdup(e->backend) : NULL;
			res->rewrite = e->rewrite ? x_strdup(e->rewrite) : NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	metric_series_add(rc >= 0 ? c->m_hit : c->m_miss, 1);
	return rc;
}

/* lmtp_cache_put - remember an answer (found 1 or 0) as the most
 * recently used; the least recently used goes when the cache is full */
void
lmtp_cache_put(struct lmtp_cache *c, const char *key, int found,
	       const struct lmtp_lookup_result *res)
{
	long ttl = found ? c->ttl : c->neg_ttl;
	struct lmtp_cached *e;
	double expires;

	if (ttl <= 0)
		return;
	expires = c->clock() + (double)ttl;
	pthread_mutex_lock(&c->lock);
	if ((e = htable_use(c->table, key)) != NULL) {
		/* two threads looked the same key up: the later answer */
		lmtp_cache_fill(e, found, res, expires);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (htable_size(c->table) >= c->max) {
		lmtp_cache_drop(c, htable_pop_oldest(c->table));
		metric_series_add(c->m_lru, 1);
	}
	e = x_calloc(1, sizeof(*e));
	lmtp_cache_fill(e, found, res, expires);
	htable_put(c->table, key, e);
	metric_series_add(c->m_entries, 1);
	pthread_mutex_unlock(&c->lock);
}

/* lmtp_cache_count - answers held now */
size_t
lmtp_cache_count(struct lmtp_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = htable_size(c->table);
	pthread_mutex_unlock(&c->lock);
	return n;
}
