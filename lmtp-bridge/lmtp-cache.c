/*++
 * NAME
 *	lmtp-cache 3
 * SUMMARY
 *	the answer cache of a routing source (LDAP, SQLite)
 * DESCRIPTION
 *	See lmtp-cache.h.  A chained hash table under one mutex, emptied
 *	when it holds max_entries answers (simple, and bounded).
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp-cache.h"
#include "lmtp-client.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

#define LMTP_CACHE_BUCKETS 4096

struct lmtp_cached {
	struct lmtp_cached *next;
	char *key;
	int found;
	int disabled;
	int junk_optout;
	char *backend;
	char *rewrite;
	double expires;
};

struct lmtp_cache {
	pthread_mutex_t lock;
	struct lmtp_cached **bucket;
	size_t n, max;
	long ttl, neg_ttl;
	double (*clock)(void);
	struct metric_series *m_hit, *m_miss;
};

/* lmtp_cache_hash - FNV-1a */
static size_t
lmtp_cache_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619UL;
	return (size_t)(h % LMTP_CACHE_BUCKETS);
}

/* lmtp_cached_free - free one answer */
static void
lmtp_cached_free(struct lmtp_cached *e)
{
	x_free(&e->key);
	x_free(&e->backend);
	x_free(&e->rewrite);
	x_free(&e);
}

/* lmtp_cache_flush - forget every answer (lock held) */
static void
lmtp_cache_flush(struct lmtp_cache *c)
{
	struct lmtp_cached *e, *next;
	size_t i;

	for (i = 0; i < LMTP_CACHE_BUCKETS; i++) {
		for (e = c->bucket[i]; e != NULL; e = next) {
			next = e->next;
			lmtp_cached_free(e);
		}
		c->bucket[i] = NULL;
	}
	c->n = 0;
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
	c->bucket = x_calloc(LMTP_CACHE_BUCKETS, sizeof(*c->bucket));
	c->max = max_entries;
	c->ttl = ttl;
	c->neg_ttl = negative_ttl;
	c->clock = clock != NULL ? clock : lmtp_client_now;
	snprintf(name, sizeof(name), "elemta_lmtp_%s_cache_total", source);
	snprintf(help, sizeof(help), "%s routing cache lookups", source);
	m = metrics_counter(name, help, "result");
	c->m_hit = metric_series(m, "hit");
	c->m_miss = metric_series(m, "miss");
	return c;
}

/* lmtp_cache_free - forget everything, free the cache */
void
lmtp_cache_free(struct lmtp_cache **cp)
{
	struct lmtp_cache *c = *cp;

	if (c == NULL)
		return;
	lmtp_cache_flush(c);
	x_free(&c->bucket);
	pthread_mutex_destroy(&c->lock);
	x_free(cp);
}

/* lmtp_cache_get - a live answer for key, copied into res */
int
lmtp_cache_get(struct lmtp_cache *c, const char *key,
	       struct lmtp_lookup_result *res)
{
	struct lmtp_cached **pp, *e;
	double now = c->clock();
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->bucket[lmtp_cache_hash(key)]; (e = *pp) != NULL;
	     pp = &e->next) {
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->expires <= now) {
			*pp = e->next;
			lmtp_cached_free(e);
			c->n--;
			break;
		}
		rc = e->found;
		if (rc == 1) {
			res->disabled = e->disabled;
			res->junk_optout = e->junk_optout;
			res->backend = e->backend ? x_strdup(e->backend) : NULL;
			res->rewrite = e->rewrite ? x_strdup(e->rewrite) : NULL;
		}
		break;
	}
	pthread_mutex_unlock(&c->lock);
	metric_series_add(rc >= 0 ? c->m_hit : c->m_miss, 1);
	return rc;
}

/* lmtp_cache_put - remember an answer (found 1 or 0) */
void
lmtp_cache_put(struct lmtp_cache *c, const char *key, int found,
	       const struct lmtp_lookup_result *res)
{
	struct lmtp_cached *e;
	long ttl = found ? c->ttl : c->neg_ttl;
	size_t h;

	if (ttl <= 0)
		return;
	e = x_calloc(1, sizeof(*e));
	e->key = x_strdup(key);
	e->found = found;
	if (found) {
		e->disabled = res->disabled;
		e->junk_optout = res->junk_optout;
		e->backend = res->backend ? x_strdup(res->backend) : NULL;
		e->rewrite = res->rewrite ? x_strdup(res->rewrite) : NULL;
	}
	e->expires = c->clock() + (double)ttl;
	h = lmtp_cache_hash(key);
	pthread_mutex_lock(&c->lock);
	if (c->n >= c->max)
		lmtp_cache_flush(c);
	/* two threads may have looked the same key up: keep both, the
	 * newer one first; the older expires unseen */
	e->next = c->bucket[h];
	c->bucket[h] = e;
	c->n++;
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
