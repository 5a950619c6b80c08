/*++
 * NAME
 *	lmtp-router-ldap 3
 * SUMMARY
 *	the LDAP lookup source of the router, with its answer cache
 * DESCRIPTION
 *	A struct lmtp_lookup_ops over lib/ldapc.  For each key (the
 *	router passes "user+detail@dom", then "user@dom", then "@dom";
 *	the last is not asked here: a directory holds users) the filter
 *	template is expanded and searched for under ldap_base.
 *
 *	No entry: not found (the router answers 550 5.1.1).  One entry:
 *	the enabled attribute FALSE (or 0, no) disables it (550 5.2.1);
 *	the host attribute names the backend -- "inet:H:P" or "unix:PATH"
 *	as it is, a bare host name as inet:HOST:ldap_backend_port, or
 *	several of these separated by ';' (tried in order); the
 *	rewrite attribute is the mailbox address (the router keeps the
 *	+detail); the junk opt-out attribute TRUE (or 1, yes) keeps
 *	spam in the INBOX.  Several entries, an unusable value, or any trouble with
 *	the directory: an error, which the router turns into 451 4.4.3.
 *
 *	Answers are cached per key: positive (found, disabled) for
 *	ldap_cache_ttl, negative for ldap_negative_cache_ttl; errors never.
 *	The cache is a chained hash table under one mutex, emptied when it
 *	holds ldap_cache_size entries (simple, and bounded).
 *--*/
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ldapc.h"
#include "lmtp-options.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

#define LMTP_LDAP_BUCKETS 4096

struct lmtp_ldap_cached {
	struct lmtp_ldap_cached *next;
	char *key;
	int found;
	int disabled;
	int junk_optout;
	char *backend;
	char *rewrite;
	double expires;
};

struct lmtp_ldap {
	struct ldapc *client;
	char *base;
	enum ldapc_scope scope;
	char *filter;
	char *attr_enabled;
	char *attr_host;
	char *attr_rewrite;
	char *attr_junk;	/* TRUE: spam to the INBOX */
	long port;
	long ttl, neg_ttl;
	size_t cache_size;
	pthread_mutex_t lock;
	struct lmtp_ldap_cached **bucket;
	size_t ncached;
	struct metric_series *m_hit, *m_miss;
	struct metric_series *m_found, *m_notfound, *m_error;
	struct metric_series *m_latency;
};

/* lmtp_ldap_now - monotonic seconds */
static double
lmtp_ldap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* lmtp_ldap_hash - FNV-1a */
static size_t
lmtp_ldap_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619UL;
	return (size_t)(h % LMTP_LDAP_BUCKETS);
}

/* lmtp_ldap_cached_free - free one cache entry */
static void
lmtp_ldap_cached_free(struct lmtp_ldap_cached *c)
{
	x_free(&c->key);
	x_free(&c->backend);
	x_free(&c->rewrite);
	x_free(&c);
}

/* lmtp_ldap_flush - empty the cache (lock held) */
static void
lmtp_ldap_flush(struct lmtp_ldap *l)
{
	struct lmtp_ldap_cached *c, *next;
	size_t i;

	for (i = 0; i < LMTP_LDAP_BUCKETS; i++) {
		for (c = l->bucket[i]; c != NULL; c = next) {
			next = c->next;
			lmtp_ldap_cached_free(c);
		}
		l->bucket[i] = NULL;
	}
	l->ncached = 0;
}

/* lmtp_ldap_cache_get - 1 hit (res filled), 0 found nothing, -1 miss */
static int
lmtp_ldap_cache_get(struct lmtp_ldap *l, const char *key,
		    struct lmtp_lookup_result *res)
{
	struct lmtp_ldap_cached **pp, *c;
	double now = lmtp_ldap_now();
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	for (pp = &l->bucket[lmtp_ldap_hash(key)]; (c = *pp) != NULL;
	     pp = &c->next) {
		if (strcmp(c->key, key) != 0)
			continue;
		if (c->expires <= now) {
			*pp = c->next;
			lmtp_ldap_cached_free(c);
			l->ncached--;
			break;
		}
		rc = c->found;
		if (rc == 1) {
			res->disabled = c->disabled;
			res->junk_optout = c->junk_optout;
			res->backend = c->backend ? x_strdup(c->backend)
						  : NULL;
			res->rewrite = c->rewrite ? x_strdup(c->rewrite)
						  : NULL;
		}
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* lmtp_ldap_cache_put - remember an answer (found 1 or 0) */
static void
lmtp_ldap_cache_put(struct lmtp_ldap *l, const char *key, int found,
		    const struct lmtp_lookup_result *res)
{
	struct lmtp_ldap_cached *c;
	long ttl = found ? l->ttl : l->neg_ttl;
	size_t h;

	if (ttl <= 0 || l->cache_size == 0)
		return;
	c = x_calloc(1, sizeof(*c));
	c->key = x_strdup(key);
	c->found = found;
	if (found) {
		c->disabled = res->disabled;
		c->junk_optout = res->junk_optout;
		c->backend = res->backend ? x_strdup(res->backend) : NULL;
		c->rewrite = res->rewrite ? x_strdup(res->rewrite) : NULL;
	}
	c->expires = lmtp_ldap_now() + (double)ttl;
	h = lmtp_ldap_hash(key);
	pthread_mutex_lock(&l->lock);
	if (l->ncached >= l->cache_size)
		lmtp_ldap_flush(l);
	/* two threads may have looked the same key up: keep both, the
	 * newer one first; the older expires unseen */
	c->next = l->bucket[h];
	l->bucket[h] = c;
	l->ncached++;
	pthread_mutex_unlock(&l->lock);
}

/* lmtp_ldap_backend - the backend spec for a host attribute value: one
 * address or host, or several separated by ';'; malloc'ed, or NULL
 * with err */
static char *
lmtp_ldap_backend(const struct lmtp_ldap *l, const char *v, char *err,
		  size_t errlen)
{
	char *copy = x_strdup(v), *one, *save = NULL, *spec = NULL, *part;
	char *prev, berr[256];

	for (one = strtok_r(copy, ";", &save); one != NULL;
	     one = strtok_r(NULL, ";", &save)) {
		one += strspn(one, " \t");
		if (strncmp(one, "inet:", 5) == 0
		    || strncmp(one, "unix:", 5) == 0)
			part = x_strdup(one);
		else if (strchr(one, ':') != NULL && strchr(one, '[') == NULL)
			part = x_asprintf("inet:[%s]:%ld", one, l->port);
		else
			part = x_asprintf("inet:%s:%ld", one, l->port);
		prev = spec;
		spec = prev ? x_asprintf("%s;%s", prev, part) : x_strdup(part);
		x_free(&prev);
		x_free(&part);
	}
	x_free(&copy);
	if (spec == NULL
	    || lmtp_options_backend_check(spec, berr, sizeof(berr)) < 0) {
		x_err(err, errlen, "%s '%s' is not a backend: %s",
		      l->attr_host, v, spec ? berr : "empty");
		x_free(&spec);
	}
	return spec;
}

/* lmtp_ldap_entry - read one entry into res; 1, or -1 with err */
static int
lmtp_ldap_entry(const struct lmtp_ldap *l, const struct ldapc_entry *e,
		struct lmtp_lookup_result *res, char *err, size_t errlen)
{
	const char *v;

	if (l->attr_enabled != NULL
	    && (v = ldapc_entry_value(e, l->attr_enabled)) != NULL
	    && (strcasecmp(v, "FALSE") == 0 || strcmp(v, "0") == 0
		|| strcasecmp(v, "no") == 0)) {
		res->disabled = 1;
		return 1;
	}
	if (l->attr_junk != NULL
	    && (v = ldapc_entry_value(e, l->attr_junk)) != NULL
	    && (strcasecmp(v, "TRUE") == 0 || strcmp(v, "1") == 0
		|| strcasecmp(v, "yes") == 0))
		res->junk_optout = 1;
	if (l->attr_host != NULL
	    && (v = ldapc_entry_value(e, l->attr_host)) != NULL
	    && (res->backend = lmtp_ldap_backend(l, v, err, errlen)) == NULL)
		return -1;
	if (l->attr_rewrite != NULL
	    && (v = ldapc_entry_value(e, l->attr_rewrite)) != NULL) {
		if (strchr(v, '@') == NULL || strpbrk(v, " \t<>,\"") != NULL) {
			x_err(err, errlen, "%s of %s: '%s' is not an address",
			      l->attr_rewrite, e->dn, v);
			x_free(&res->backend);
			return -1;
		}
		res->rewrite = x_strdup(v);
	}
	return 1;
}

/* lmtp_ldap_lookup - the lookup of struct lmtp_lookup_ops */
static int
lmtp_ldap_lookup(void *ctx, const char *key, struct lmtp_lookup_result *res,
		 char *err, size_t errlen)
{
	struct lmtp_ldap *l = ctx;
	struct ldapc_result lr;
	const char *attrs[5];
	char *filter = NULL;
	size_t n = 0;
	double t0;
	int rc;

	if (key[0] == '@')		/* a directory holds users */
		return 0;
	if ((rc = lmtp_ldap_cache_get(l, key, res)) >= 0) {
		metric_series_add(l->m_hit, 1);
		return rc;
	}
	metric_series_add(l->m_miss, 1);
	rc = ldapc_filter_expand(l->filter, key, strlen(key), &filter, err,
				 errlen);
	if (rc <= 0) {
		if (rc < 0)
			metric_series_add(l->m_error, 1);
		return rc;
	}
	if (l->attr_enabled != NULL)
		attrs[n++] = l->attr_enabled;
	if (l->attr_host != NULL)
		attrs[n++] = l->attr_host;
	if (l->attr_rewrite != NULL)
		attrs[n++] = l->attr_rewrite;
	if (l->attr_junk != NULL)
		attrs[n++] = l->attr_junk;
	if (n == 0)
		attrs[n++] = "1.1";	/* RFC 4511: no attributes */
	attrs[n] = NULL;
	t0 = lmtp_ldap_now();
	rc = ldapc_search(l->client, l->base, l->scope, filter, attrs, 2,
			  &lr, err, errlen);
	metric_series_observe(l->m_latency, lmtp_ldap_now() - t0);
	if (rc < 0) {
		x_free(&filter);
		metric_series_add(l->m_error, 1);
		return -1;
	}
	if (lr.nentries == 0) {
		rc = 0;
		lmtp_ldap_cache_put(l, key, 0, NULL);
		metric_series_add(l->m_notfound, 1);
	} else if (lr.nentries > 1 || lr.truncated) {
		x_err(err, errlen, "ldap: %s matches more than one entry "
		      "(%s, %s)", filter, lr.entries[0].dn,
		      lr.nentries > 1 ? lr.entries[1].dn : "...");
		rc = -1;
		metric_series_add(l->m_error, 1);
	} else if ((rc = lmtp_ldap_entry(l, &lr.entries[0], res, err,
					 errlen)) < 0) {
		metric_series_add(l->m_error, 1);
	} else {
		lmtp_ldap_cache_put(l, key, 1, res);
		metric_series_add(l->m_found, 1);
	}
	ldapc_result_clear(&lr);
	x_free(&filter);
	return rc;
}

/* lmtp_ldap_free - the free of struct lmtp_lookup_ops */
static void
lmtp_ldap_free(void *ctx)
{
	struct lmtp_ldap *l = ctx;

	if (l == NULL)
		return;
	lmtp_ldap_flush(l);
	x_free(&l->bucket);
	pthread_mutex_destroy(&l->lock);
	ldapc_free(&l->client);
	x_free(&l->base);
	x_free(&l->filter);
	x_free(&l->attr_enabled);
	x_free(&l->attr_host);
	x_free(&l->attr_rewrite);
	x_free(&l->attr_junk);
	x_free(&l);
}

/* lmtp_ldap_new - an LDAP source; NULL with err */
void *
lmtp_ldap_new(const struct lmtp_conf *lc, const struct ldapc_conf *dc,
	      char *err, size_t errlen)
{
	static const double buckets[] = {
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
		0.5, 1, 2.5, 5, 10,
	};
	struct metric *m;
	struct lmtp_ldap *l;
	struct ldapc *client;

	if (dc->uri == NULL) {
		x_err(err, errlen, "lmtp_bridge: ldap_lookup = true needs "
		      "the ldap section's uri");
		return NULL;
	}
	if ((client = ldapc_new(dc, err, errlen)) == NULL)
		return NULL;
	l = x_calloc(1, sizeof(*l));
	l->client = client;
	l->base = x_strdup(lc->ldap_base);
	l->scope = (enum ldapc_scope)ldapc_scope_parse(lc->ldap_scope);
	l->filter = x_strdup(lc->ldap_filter);
	l->attr_enabled = lc->ldap_enabled_attribute
		? x_strdup(lc->ldap_enabled_attribute) : NULL;
	l->attr_host = lc->ldap_host_attribute
		? x_strdup(lc->ldap_host_attribute) : NULL;
	l->attr_rewrite = lc->ldap_rewrite_attribute
		? x_strdup(lc->ldap_rewrite_attribute) : NULL;
	l->attr_junk = lc->ldap_junk_optout_attribute
		? x_strdup(lc->ldap_junk_optout_attribute) : NULL;
	l->port = lc->ldap_backend_port;
	l->ttl = lc->ldap_cache_ttl;
	l->neg_ttl = lc->ldap_negative_cache_ttl;
	l->cache_size = (size_t)lc->ldap_cache_size;
	l->bucket = x_calloc(LMTP_LDAP_BUCKETS, sizeof(*l->bucket));
	pthread_mutex_init(&l->lock, NULL);
	m = metrics_counter("elemta_lmtp_ldap_cache_total",
			    "LDAP routing cache lookups", "result");
	l->m_hit = metric_series(m, "hit");
	l->m_miss = metric_series(m, "miss");
	m = metrics_counter("elemta_lmtp_ldap_lookups_total",
			    "LDAP routing searches by outcome", "outcome");
	l->m_found = metric_series(m, "found");
	l->m_notfound = metric_series(m, "notfound");
	l->m_error = metric_series(m, "error");
	m = metrics_histogram("elemta_lmtp_ldap_seconds",
			      "LDAP routing search latency", NULL, buckets,
			      sizeof(buckets) / sizeof(buckets[0]));
	l->m_latency = metric_series(m);
	return l;
}

const struct lmtp_lookup_ops lmtp_ldap_ops = {
	"ldap", lmtp_ldap_lookup, lmtp_ldap_free,
};
