/*++
 * NAME
 *	lmtp-router 3
 * SUMMARY
 *	per-recipient routing: which backend, which mailbox address
 * DESCRIPTION
 *	See lmtp-router.h.
 *--*/
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "lmtp-cache.h"
#include "lmtp-options.h"
#include "lmtp-router.h"
#include "lmtp-syntax.h"
#include "str.h"
#include "xalloc.h"

#define LMTP_MAX_SOURCES 8

struct lmtp_source {
	const struct lmtp_lookup_ops *ops;
	void *ctx;
	struct lmtp_cache *cache;	/* NULL: none */
};

struct lmtp_router {
	char *default_backend;
	char **allowed;		/* addresses SQLite or LDAP may name; NULL:
				 * any (lmtp_router_allow not called) */
	size_t nallowed;
	char delimiter;		/* '\0': none */
	int strict;
	struct lmtp_source src[LMTP_MAX_SOURCES];
	size_t nsrc;
};

/* lmtp_router_new - a router with no source yet */
struct lmtp_router *
lmtp_router_new(const char *default_backend, const char *delimiter,
		int strict)
{
	struct lmtp_router *rt = x_calloc(1, sizeof(*rt));

	rt->default_backend = x_strdup(default_backend);
	rt->delimiter = delimiter != NULL ? delimiter[0] : '\0';
	rt->strict = strict;
	return rt;
}

/* lmtp_router_allow_add - the addresses of one backend spec */
static void
lmtp_router_allow_add(struct lmtp_router *rt, const char *spec)
{
	char *copy = x_strdup(spec), *a, *save = NULL;

	for (a = strtok_r(copy, ";", &save); a != NULL;
	     a = strtok_r(NULL, ";", &save)) {
		rt->allowed = x_realloc(rt->allowed, (rt->nallowed + 1)
					* sizeof(*rt->allowed));
		rt->allowed[rt->nallowed++] = x_strdup(a);
	}
	x_free(&copy);
}

/* lmtp_router_allow - restrict what SQLite or LDAP may route to */
void
lmtp_router_allow(struct lmtp_router *rt, char *const *backends, size_t n)
{
	size_t i;

	lmtp_router_allow_add(rt, rt->default_backend);
	for (i = 0; i < n; i++)
		lmtp_router_allow_add(rt, backends[i]);
}

/* lmtp_router_allowed - may a source name backend spec?  1 or 0 */
static int
lmtp_router_allowed(const struct lmtp_router *rt, const char *spec)
{
	char *copy, *a, *save = NULL;
	size_t i;
	int ok = 1;

	if (rt->allowed == NULL)
		return 1;
	/* no empty address: ";;" named no backend and passed */
	if (*spec == '\0' || *spec == ';' || spec[strlen(spec) - 1] == ';'
	    || strstr(spec, ";;") != NULL)
		return 0;
	copy = x_strdup(spec);
	for (a = strtok_r(copy, ";", &save); a != NULL && ok;
	     a = strtok_r(NULL, ";", &save)) {
		for (i = 0; i < rt->nallowed; i++)
			if (strcmp(rt->allowed[i], a) == 0)
				break;
		ok = i < rt->nallowed;
	}
	x_free(&copy);
	return ok;
}

/* lmtp_router_add - append a source and its cache */
void
lmtp_router_add(struct lmtp_router *rt, const struct lmtp_lookup_ops *ops,
		void *ctx, struct lmtp_cache *cache)
{
	if (rt->nsrc == LMTP_MAX_SOURCES)
		msg_panic("lmtp_router_add: more than %d sources",
			  LMTP_MAX_SOURCES);
	rt->src[rt->nsrc].ops = ops;
	rt->src[rt->nsrc].ctx = ctx;
	rt->src[rt->nsrc].cache = cache;
	rt->nsrc++;
}

/* lmtp_router_free - destroy the router and its sources */
void
lmtp_router_free(struct lmtp_router **rtp)
{
	struct lmtp_router *rt = *rtp;
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->nsrc; i++) {
		if (rt->src[i].ops->free != NULL)
			rt->src[i].ops->free(rt->src[i].ctx);
		lmtp_cache_free(&rt->src[i].cache);
	}
	while (rt->nallowed > 0)
		x_free(&rt->allowed[--rt->nallowed]);
	x_free(&rt->allowed);
	x_free(&rt->default_backend);
	x_free(rtp);
}

/* lmtp_route_clear - free a route's strings */
void
lmtp_route_clear(struct lmtp_route *route)
{
	x_free(&route->backend);
	x_free(&route->address);
}

/* lmtp_rewrite - the target of a rewrite, with the detail kept when the
 * entry matched without it; malloc'ed */
static char *
lmtp_rewrite(const char *rewrite, const char *local, const char *detail,
	     char delim, int matched_full)
{
	const char *at = strrchr(rewrite, '@');
	size_t llen;

	if (rewrite[0] == '@')		/* domain rewrite: keep the user */
		return detail != NULL
			? x_asprintf("%s%c%s%s", local, delim, detail, rewrite)
			: x_asprintf("%s%s", local, rewrite);
	if (matched_full || detail == NULL || at == NULL
	    || (delim != '\0' && memchr(rewrite, delim,
					(size_t)(at - rewrite)) != NULL))
		return x_strdup(rewrite);
	llen = (size_t)(at - rewrite);
	return x_asprintf("%.*s%c%s%s", (int)llen, rewrite, delim, detail, at);
}

/* lmtp_value_false - a flag value that says no */
int
lmtp_value_false(const char *v)
{
	return strcasecmp(v, "FALSE") == 0 || strcmp(v, "0") == 0
		|| strcasecmp(v, "no") == 0;
}

/* lmtp_value_true - a flag value that says yes */
int
lmtp_value_true(const char *v)
{
	return strcasecmp(v, "TRUE") == 0 || strcmp(v, "1") == 0
		|| strcasecmp(v, "yes") == 0;
}

/* lmtp_rewrite_check - an address or @domain fit for a rewrite */
int
lmtp_rewrite_check(const char *v)
{
	if (!lmtp_printable_ok(v))	/* it goes into RCPT TO and the logs */
		return -1;
	return *v == '\0' || strchr(v, '@') == NULL
		|| strpbrk(v, " \t<>,\"") != NULL ? -1 : 0;
}

/* lmtp_router_clean - no control character, no white space */
static int
lmtp_router_clean(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v <= ' ' || *v == 127)
			return 0;
	return 1;
}

/* lmtp_router_ask - one key from one source, through its cache */
static int
lmtp_router_ask(const struct lmtp_source *s, const char *key,
		struct lmtp_lookup_result *res, char *err, size_t errlen)
{
	int found;

	if (s->cache != NULL
	    && (found = lmtp_cache_get(s->cache, key, res)) >= 0)
		return found;
	found = s->ops->lookup(s->ctx, key, res, err, errlen);
	if (found >= 0 && s->cache != NULL)
		lmtp_cache_put(s->cache, key, found, res);
	return found;
}

/* lmtp_router_keys - the keys addr is looked up by, in order:
 * user+detail@dom, user@dom, @dom (lower case); *lowerp, *localp (the
 * local part in its original case, without the detail) and *detailp
 * (NULL: none) for the caller to free; how many keys */
static size_t
lmtp_router_keys(const struct lmtp_router *rt, const char *addr,
		 char **keys, char **lowerp, char **localp, char **detailp)
{
	char *lower, *local, *at, *d;
	size_t nkeys = 0;

	lower = str_lower_dup(addr);
	at = strrchr(lower, '@');
	local = at ? x_strndup(lower, (size_t)(at - lower)) : x_strdup(lower);
	/* the original case of the local part is kept for rewrites */
	if (at != NULL)
		memcpy(local, addr, strlen(local));
	keys[nkeys++] = x_strdup(lower);
	if (rt->delimiter != '\0' && at != NULL
	    && (d = memchr(lower, rt->delimiter, (size_t)(at - lower))) != NULL
	    && d > lower) {
		keys[nkeys++] = x_asprintf("%.*s%s", (int)(d - lower), lower, at);
		*detailp = x_strdup(local + (d - lower) + 1);
		local[d - lower] = '\0';
	}
	if (at != NULL)
		keys[nkeys++] = x_strdup(at);
	*lowerp = lower;
	*localp = local;
	return nkeys;
}

/* lmtp_router_found - the route from what source src found for key
 * (exact: the whole address), or LMTP_ROUTE_TEMPFAIL with err when its
 * answer is not to be used; res is freed */
static void
lmtp_router_found(const struct lmtp_router *rt,
		  const struct lmtp_source *src,
		  struct lmtp_lookup_result *res, const char *key, int exact,
		  const char *local, const char *detail,
		  struct lmtp_route *route, char *err, size_t errlen)
{
	route->source = src->ops->name;
	/* the map is the administrator's own file; what a table or a
	 * directory says must name a backend of the configuration, not
	 * any socket */
	if (!res->disabled && res->backend != NULL
	    && src->ops != &lmtp_map_ops
	    && !lmtp_router_allowed(rt, res->backend)) {
		x_err(err, errlen, "%s: backend '%s' of %s is "
		      "not in allowed_backends", route->source,
		      res->backend, key);
		route->status = LMTP_ROUTE_TEMPFAIL;
		x_free(&res->backend);
		x_free(&res->rewrite);
		return;
	}
	/* whatever a source checked itself: nothing with a control
	 * character or a space reaches RCPT TO, a connect or a log line
	 * (the map, SQLite and LDAP check; a new source may not) */
	if (!res->disabled
	    && ((res->backend != NULL && !lmtp_router_clean(res->backend))
		|| (res->rewrite != NULL
		    && lmtp_rewrite_check(res->rewrite) < 0))) {
		x_err(err, errlen, "%s: unusable backend or rewrite for %s",
		      route->source, key);
		route->status = LMTP_ROUTE_TEMPFAIL;
		x_free(&res->backend);
		x_free(&res->rewrite);
		return;
	}
	if (res->disabled) {
		route->status = LMTP_ROUTE_DISABLED;
	} else {
		route->status = LMTP_ROUTE_OK;
		route->backend = res->backend, res->backend = NULL;
		route->junk_optout = res->junk_optout;
		if (res->rewrite != NULL)
			route->address = lmtp_rewrite(res->rewrite, local,
						      detail, rt->delimiter,
						      exact);
	}
	x_free(&res->backend);
	x_free(&res->rewrite);
}

/* lmtp_router_route - route one recipient */
void
lmtp_router_route(const struct lmtp_router *rt, const char *addr,
		  struct lmtp_route *route, char *err, size_t errlen)
{
	struct lmtp_lookup_result res;
	char *lower, *keys[3], *local, *detail = NULL;
	size_t i, k, nkeys;
	int found;

	memset(route, 0, sizeof(*route));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (rt->nsrc == 0) {
		route->status = LMTP_ROUTE_OK;
		route->backend = x_strdup(rt->default_backend);
		route->address = x_strdup(addr);
		route->source = "default";
		return;
	}
	nkeys = lmtp_router_keys(rt, addr, keys, &lower, &local, &detail);
	route->status = rt->strict ? LMTP_ROUTE_UNKNOWN : LMTP_ROUTE_OK;
	route->source = "default";
	for (i = 0; i < rt->nsrc; i++) {
		for (k = 0; k < nkeys; k++) {
			memset(&res, 0, sizeof(res));
			found = lmtp_router_ask(&rt->src[i], keys[k], &res, err,
						errlen);
			if (found < 0) {
				route->status = LMTP_ROUTE_TEMPFAIL;
				route->source = rt->src[i].ops->name;
				goto done;
			}
			if (found == 0)
				continue;
			lmtp_router_found(rt, &rt->src[i], &res, keys[k],
					  k == 0, local, detail, route, err,
					  errlen);
			goto done;
		}
	}
done:
	if (route->status == LMTP_ROUTE_OK) {
		if (route->backend == NULL)
			route->backend = x_strdup(rt->default_backend);
		if (route->address == NULL)
			route->address = x_strdup(addr);
	}
	for (k = 0; k < nkeys; k++)
		x_free(&keys[k]);
	x_free(&lower);
	x_free(&local);
	x_free(&detail);
}

/* lmtp_route_reply - the RCPT reply for a route */
char *
lmtp_route_reply(const struct lmtp_route *route, const char *addr)
{
	switch (route->status) {
	case LMTP_ROUTE_OK:
		return x_strdup("250 2.1.5 Ok");
	case LMTP_ROUTE_UNKNOWN:
		return x_asprintf("550 5.1.1 <%s>: Recipient address rejected:"
				  " User unknown", addr);
	case LMTP_ROUTE_DISABLED:
		return x_asprintf("550 5.2.1 <%s>: Recipient address rejected:"
				  " Mailbox disabled", addr);
	case LMTP_ROUTE_TEMPFAIL:
		break;
	}
	return x_asprintf("451 4.4.3 <%s>: Recipient address rejected: "
			  "Directory temporarily unavailable", addr);
}

/*
 * The static map
 */

struct lmtp_map_entry {
	char *key;
	int disabled;
	char *backend;
	char *rewrite;
};

struct lmtp_map {
	struct lmtp_map_entry *e;
	size_t n;
};

/* lmtp_map_cmp - order entries by key */
static int
lmtp_map_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lmtp_map_entry *)a)->key,
		      ((const struct lmtp_map_entry *)b)->key);
}

/* lmtp_map_free - destroy a map */
static void
lmtp_map_free(void *ctx)
{
	struct lmtp_map *m = ctx;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		x_free(&m->e[i].key);
		x_free(&m->e[i].backend);
		x_free(&m->e[i].rewrite);
	}
	x_free(&m->e);
	x_free(&m);
}

/* lmtp_map_value - parse "BACKEND[,REWRITE]" into e; 0 or -1 */
static int
lmtp_map_value(char *val, struct lmtp_map_entry *e, char *err, size_t errlen)
{
	char *comma = strchr(val, ','), *rw = NULL, berr[256];

	if (comma != NULL) {
		*comma = '\0';
		rw = comma + 1;
		if (lmtp_rewrite_check(rw) < 0) {
			x_err(err, errlen, "rewrite '%s' is not an address",
			      rw);
			return -1;
		}
	}
	if (strcmp(val, "DISABLED") == 0) {
		if (rw != NULL) {
			x_err(err, errlen, "DISABLED takes no rewrite");
			return -1;
		}
		e->disabled = 1;
		return 0;
	}
	if (strcmp(val, "-") != 0 && strcmp(val, "default") != 0) {
		if (lmtp_options_backend_check(val, berr, sizeof(berr)) < 0) {
			x_err(err, errlen, "backend %s", berr);
			return -1;
		}
		e->backend = x_strdup(val);
	}
	if (rw != NULL)
		e->rewrite = x_strdup(rw);
	return 0;
}

/* lmtp_map_line - one line of a map file into e: 1, 0 when it has
 * no entry (blank, a comment), or -1 with err */
static int
lmtp_map_line(char *line, struct lmtp_map_entry *e, char *err,
	      size_t errlen)
{
	char *p, *key, *val, *extra;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	key = strtok_r(line, " \t\r\n", &p);
	if (key == NULL)
		return 0;
	val = strtok_r(NULL, " \t\r\n", &p);
	extra = strtok_r(NULL, " \t\r\n", &p);
	if (val == NULL || extra != NULL) {
		x_err(err, errlen, "expected \"address backend[,rewrite]\"");
		return -1;
	}
	if (strchr(key, '@') == NULL) {
		x_err(err, errlen, "'%s' is not an address or @domain", key);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	if (lmtp_map_value(val, e, err, errlen) < 0)
		return -1;
	e->key = str_lower_dup(key);
	return 1;
}

/* lmtp_map_load - read a map file */
void *
lmtp_map_load(const char *path, char *err, size_t errlen)
{
	struct lmtp_map *m = x_calloc(1, sizeof(*m));
	struct lmtp_map_entry e;
	size_t alloc = 0, i;
	char line[2048], perr[300];
	unsigned lineno = 0;
	FILE *fp;
	int rc;

	if ((fp = fopen(path, "r")) == NULL) {
		x_err(err, errlen, "%s: %s", path, strerror(errno));
		x_free(&m);
		return NULL;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			x_err(err, errlen, "%s:%u: line too long", path, lineno);
			goto bad;
		}
		if ((rc = lmtp_map_line(line, &e, perr, sizeof(perr))) < 0) {
			x_err(err, errlen, "%s:%u: %s", path, lineno, perr);
			goto bad;
		}
		if (rc == 0)
			continue;
		if (m->n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			m->e = x_realloc(m->e, alloc * sizeof(*m->e));
		}
		m->e[m->n++] = e;
	}
	if (ferror(fp)) {
		x_err(err, errlen, "%s: read error", path);
		goto bad;
	}
	fclose(fp);
	if (m->n > 0)
		qsort(m->e, m->n, sizeof(*m->e), lmtp_map_cmp);
	for (i = 1; i < m->n; i++) {
		if (strcmp(m->e[i - 1].key, m->e[i].key) == 0) {
			x_err(err, errlen, "%s: '%s' is listed twice", path,
			      m->e[i].key);
			lmtp_map_free(m);
			return NULL;
		}
	}
	return m;
bad:
	fclose(fp);
	lmtp_map_free(m);
	return NULL;
}

/* lmtp_map_lookup - binary search of the sorted table */
static int
lmtp_map_lookup(void *ctx, const char *key, struct lmtp_lookup_result *res,
		char *err, size_t errlen)
{
	const struct lmtp_map *m = ctx;
	struct lmtp_map_entry probe, *e;

	probe.key = (char *)key;
	e = m->n ? bsearch(&probe, m->e, m->n, sizeof(*m->e), lmtp_map_cmp)
		 : NULL;
	if (e == NULL)
		return 0;
	res->disabled = e->disabled;
	res->backend = e->backend ? x_strdup(e->backend) : NULL;
	res->rewrite = e->rewrite ? x_strdup(e->rewrite) : NULL;
	return 1;
}

const struct lmtp_lookup_ops lmtp_map_ops = {
	"map", lmtp_map_lookup, lmtp_map_free,
};

/* lmtp_source_metrics_init - a source's lookup counter and latency */
void
lmtp_source_metrics_init(struct lmtp_source_metrics *m, const char *name,
			 const char *count_help, const char *latency_help,
			 const double *buckets, size_t nbuckets)
{
	struct metric *c;
	char *metric;

	metric = x_asprintf("elemta_lmtp_%s_lookups_total", name);
	c = metrics_counter(metric, count_help, "outcome");
	x_free(&metric);
	m->found = metric_series(c, "found");
	m->notfound = metric_series(c, "notfound");
	m->error = metric_series(c, "error");
	metric = x_asprintf("elemta_lmtp_%s_seconds", name);
	c = metrics_histogram(metric, latency_help, NULL, buckets, nbuckets);
	x_free(&metric);
	m->latency = metric_series(c);
}

/* lmtp_source_metrics_count - count one lookup's outcome */
void
lmtp_source_metrics_count(const struct lmtp_source_metrics *m, int rc)
{
	metric_series_add(rc > 0 ? m->found : rc == 0 ? m->notfound
						 : m->error, 1);
}
