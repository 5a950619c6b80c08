/*++
 * NAME
 *	lmtp-cache 3
 * SUMMARY
 *	the answer cache of a routing source (LDAP, SQLite)
 * DESCRIPTION
 *	See lmtp-cache.h.  A hash table of chains, for finding a key, and
 *	a doubly linked list of the same entries in the order they were
 *	last used (most recent at the head), for evicting: a lookup, an
 *	insertion and an eviction are O(1).  The table doubles when it
 *	holds more entries than buckets (amortized O(1), and no memory
 *	taken up front for a large max_entries).
 *
 *	Why least recently used rather than emptying the cache when it is
 *	full: emptying throws the hot users out with the cold ones, and
 *	the directory then gets every recipient of the next messages at
 *	once.  An expired entry is dropped when it is found; one that is
 *	never asked for again ages to the tail and is evicted there.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lmtp-cache.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

#define LMTP_CACHE_MIN_BUCKETS 64

struct lmtp_cached {
	struct lmtp_cached *chain;	/* next in the bucket */
	struct lmtp_cached *newer, *older;	/* recency list */
	uint64_t hash;
	double expires;
	int found;
	int disabled;
	int junk_optout;
	char *backend;
	char *rewrite;
	char key[];
};

struct lmtp_cache {
	pthread_mutex_t lock;	/* everything below */
	struct lmtp_cached **bucket;
	size_t nbuckets;	/* a power of two */
	struct lmtp_cached *newest, *oldest;
	size_t n, max;
	long ttl, neg_ttl;
	double (*clock)(void);
	struct metric_series *m_hit, *m_miss;
	struct metric_series *m_lru, *m_expired;
	struct metric_series *m_entries;
};

/* lmtp_cache_hash - FNV-1a, 64 bits */
static uint64_t
lmtp_cache_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* lmtp_cached_free - free one answer */
static void
lmtp_cached_free(struct lmtp_cached *e)
{
	x_free(&e->backend);
	x_free(&e->rewrite);
	free(e);
}

/* lmtp_cache_slot - the bucket of hash (lock held) */
static struct lmtp_cached **
lmtp_cache_slot(const struct lmtp_cache *c, uint64_t hash)
{
	return &c->bucket[hash & (c->nbuckets - 1)];
}

/* lmtp_cache_find - the entry for key, or NULL (lock held) */
static struct lmtp_cached *
lmtp_cache_find(const struct lmtp_cache *c, const char *key, uint64_t hash)
{
	struct lmtp_cached *e;

	for (e = *lmtp_cache_slot(c, hash); e != NULL; e = e->chain)
		if (e->hash == hash && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* lmtp_cache_list_out - take e out of the recency list (lock held) */
static void
lmtp_cache_list_out(struct lmtp_cache *c, struct lmtp_cached *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

/* lmtp_cache_list_in - put e at the head of the list (lock held) */
static void
lmtp_cache_list_in(struct lmtp_cache *c, struct lmtp_cached *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

/* lmtp_cache_drop - remove e and free it (lock held) */
static void
lmtp_cache_drop(struct lmtp_cache *c, struct lmtp_cached *e)
{
	struct lmtp_cached **pp = lmtp_cache_slot(c, e->hash);

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lmtp_cache_list_out(c, e);
	lmtp_cached_free(e);
	c->n--;
	metric_series_add(c->m_entries, -1);
}

/* lmtp_cache_grow - twice the buckets, the entries rehashed (lock held) */
static void
lmtp_cache_grow(struct lmtp_cache *c)
{
	struct lmtp_cached **old = c->bucket, *e, *next, **slot;
	size_t i, n = c->nbuckets;

	c->nbuckets = 2 * n;
	c->bucket = x_calloc(c->nbuckets, sizeof(*c->bucket));
	for (i = 0; i < n; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->chain;
			slot = lmtp_cache_slot(c, e->hash);
			e->chain = *slot;
			*slot = e;
		}
	}
	x_free(&old);
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
	c->nbuckets = LMTP_CACHE_MIN_BUCKETS;
	c->bucket = x_calloc(c->nbuckets, sizeof(*c->bucket));
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
	struct lmtp_cached *e, *older;

	if (c == NULL)
		return;
	for (e = c->newest; e != NULL; e = older) {
		older = e->older;
		lmtp_cached_free(e);
	}
	/* the gauge counts every live cache (a reload makes new ones) */
	metric_series_add(c->m_entries, -(double)c->n);
	x_free(&c->bucket);
	pthread_mutex_destroy(&c->lock);
	x_free(cp);
}

/* lmtp_cache_get - a live answer for key, copied into res; a hit makes
 * it the most recently used */
int
lmtp_cache_get(struct lmtp_cache *c, const char *key,
	       struct lmtp_lookup_result *res)
{
	uint64_t h = lmtp_cache_hash(key);
	struct lmtp_cached *e;
	double now = c->clock();
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	if ((e = lmtp_cache_find(c, key, h)) != NULL && e->expires <= now) {
		lmtp_cache_drop(c, e);
		metric_series_add(c->m_expired, 1);
	} else if (e != NULL) {
		lmtp_cache_list_out(c, e);
		lmtp_cache_list_in(c, e);
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
	uint64_t h = lmtp_cache_hash(key);
	struct lmtp_cached *e, **slot;
	size_t klen = strlen(key);
	double expires;

	if (ttl <= 0)
		return;
	expires = c->clock() + (double)ttl;
	pthread_mutex_lock(&c->lock);
	if ((e = lmtp_cache_find(c, key, h)) != NULL) {
		/* two threads looked the same key up: the later answer */
		lmtp_cache_fill(e, found, res, expires);
		lmtp_cache_list_out(c, e);
		lmtp_cache_list_in(c, e);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (c->n >= c->max) {
		lmtp_cache_drop(c, c->oldest);
		metric_series_add(c->m_lru, 1);
	}
	e = x_calloc(1, sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	lmtp_cache_fill(e, found, res, expires);
	slot = lmtp_cache_slot(c, h);
	e->chain = *slot;
	*slot = e;
	lmtp_cache_list_in(c, e);
	c->n++;
	metric_series_add(c->m_entries, 1);
	if (c->n > c->nbuckets)
		lmtp_cache_grow(c);
	pthread_mutex_unlock(&c->lock);
}

/* lmtp_cache_count - answers held now */
size_t
lmtp_cache_count(struct lmtp_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
