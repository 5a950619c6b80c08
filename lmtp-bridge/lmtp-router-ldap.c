/*++
 * NAME
 *	lmtp-router-ldap 3
 * SUMMARY
 *	the LDAP lookup source of the router
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
 *	The router caches the answers (lmtp-cache.c: ldap_cache_ttl for
 *	found and disabled users, ldap_negative_cache_ttl for unknown
 *	ones, errors never).
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ldapc.h"
#include "lmtp-options.h"
#include "lmtp-router.h"
#include "metrics.h"
#include "xalloc.h"

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
	struct lmtp_source_metrics m;
};

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
	    && lmtp_value_false(v)) {
		res->disabled = 1;
		return 1;
	}
	if (l->attr_junk != NULL
	    && (v = ldapc_entry_value(e, l->attr_junk)) != NULL
	    && lmtp_value_true(v))
		res->junk_optout = 1;
	if (l->attr_host != NULL
	    && (v = ldapc_entry_value(e, l->attr_host)) != NULL
	    && (res->backend = lmtp_ldap_backend(l, v, err, errlen)) == NULL)
		return -1;
	if (l->attr_rewrite != NULL
	    && (v = ldapc_entry_value(e, l->attr_rewrite)) != NULL) {
		if (lmtp_rewrite_check(v) < 0) {
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
	rc = ldapc_filter_expand(l->filter, key, strlen(key), &filter, err,
				 errlen);
	if (rc <= 0) {
		if (rc < 0)
			lmtp_source_metrics_count(&l->m, -1);
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
	t0 = clock_mono_s();
	rc = ldapc_search(l->client, l->base, l->scope, filter, attrs, 2,
			  &lr, err, errlen);
	metric_series_observe(l->m.latency, clock_mono_s() - t0);
	if (rc < 0) {
		x_free(&filter);
		lmtp_source_metrics_count(&l->m, -1);
		return -1;
	}
	if (lr.nentries == 0) {
		rc = 0;
	} else if (lr.nentries > 1 || lr.truncated) {
		x_err(err, errlen, "ldap: %s matches more than one entry "
		      "(%s, %s)", filter, lr.entries[0].dn,
		      lr.nentries > 1 ? lr.entries[1].dn : "...");
		rc = -1;
	} else {
		rc = lmtp_ldap_entry(l, &lr.entries[0], res, err, errlen);
	}
	lmtp_source_metrics_count(&l->m, rc);
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
	lmtp_source_metrics_init(&l->m, "ldap",
				 "LDAP routing searches by outcome",
				 "LDAP routing search latency",
				 ldapc_latency_buckets, LDAPC_LATENCY_BUCKETS);
	return l;
}

const struct lmtp_lookup_ops lmtp_ldap_ops = {
	"ldap", lmtp_ldap_lookup, lmtp_ldap_free,
};
