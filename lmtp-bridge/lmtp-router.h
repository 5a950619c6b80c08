/*++
 * NAME
 *	lmtp-router 3h
 * SUMMARY
 *	per-recipient routing: which backend, which mailbox address
 * SYNOPSIS
 *	#include "lmtp-router.h"
 *
 *	rt = lmtp_router_new("inet:127.0.0.1:24", "+", strict);
 *	map = lmtp_map_load("/etc/elemta/lmtp-map", err, sizeof(err));
 *	lmtp_router_add(rt, &lmtp_map_ops, map, NULL);
 *	sql = lmtp_sqlite_new("/etc/elemta/routes.db", query, 5000, err, len);
 *	lmtp_router_add(rt, &lmtp_sqlite_ops, sql,
 *			lmtp_cache_new("sqlite", 10000, 60, 10, NULL));
 *	lmtp_router_route(rt, "alice+tag@example.test", &route, err, len);
 *	... route.status, route.backend, route.address ...
 *	lmtp_route_clear(&route);
 *	lmtp_router_free(&rt);
 * DESCRIPTION
 *	A router asks its sources in order (the static map, then an
 *	SQLite table: lmtp-router-sqlite.c, then LDAP through lib/ldapc:
 *	lmtp-router-ldap.c) for each recipient.  Each
 *	source is tried with the keys a Postfix table would be: the whole
 *	address, the address without its +detail, then "@domain" -- all
 *	lower-cased.  The first answer wins.  A source error is a
 *	temporary failure (451 4.4.3: never a 5xx for our own trouble).
 *	No answer: with strict set, the user is unknown (550 5.1.1);
 *	otherwise the default backend gets the address unchanged.
 *
 *	A rewrite keeps the +detail: "alias+work@x" routed by the entry
 *	"alias@x -,alice@y" becomes "alice+work@y"; a rewrite to "@domain"
 *	keeps the local part too.  A rewrite that has its own detail is
 *	used as it is.
 *
 *	A source is a struct lmtp_lookup_ops (lookup + free), a context
 *	and, optionally, a cache of its answers (lmtp-cache.h) that the
 *	router asks before the source and fills after it (errors are
 *	never cached).  Sources must be thread-safe; the router is
 *	read-only after set-up and shared by every connection of one
 *	configuration snapshot.
 *
 *	Map file syntax, one entry a line, "#" comments:
 *
 *	    alice@example.test     -
 *	    sales@example.test     -,bob@example.test
 *	    @old.test              -,@example.test
 *	    carol@example.test     inet:10.0.0.2:24
 *	    dave@example.test      unix:/run/dovecot/lmtp,dave@example.test
 *	    eve@example.test       DISABLED
 *
 *	The value is BACKEND[,REWRITE]; BACKEND "-" means the default
 *	backend, "DISABLED" rejects the user with 550 5.2.1.
 *--*/
#ifndef ELEMTA_LMTP_ROUTER_H
#define ELEMTA_LMTP_ROUTER_H

#include <stddef.h>

enum lmtp_route_status {
	LMTP_ROUTE_OK,		/* deliver to backend as address */
	LMTP_ROUTE_UNKNOWN,	/* 550 5.1.1 */
	LMTP_ROUTE_DISABLED,	/* 550 5.2.1 */
	LMTP_ROUTE_TEMPFAIL,	/* 451 4.4.3 */
};

/* What a source says about one key. */
struct lmtp_lookup_result {
	int disabled;		/* the account exists but is disabled */
	int junk_optout;	/* spam goes to the INBOX, not to Junk */
	char *backend;		/* NULL: the default backend */
	char *rewrite;		/* NULL: keep the address */
};

struct lmtp_lookup_ops {
	const char *name;	/* "map", "ldap", ... for the logs */
	/* 1 found (res filled, malloc'ed), 0 not found, -1 error (err) */
	int (*lookup)(void *ctx, const char *key,
		      struct lmtp_lookup_result *res, char *err,
		      size_t errlen);
	void (*free)(void *ctx);
};

struct lmtp_route {
	enum lmtp_route_status status;
	char *backend;		/* backend address (never NULL when OK) */
	char *address;		/* the mailbox address to deliver to */
	const char *source;	/* which source answered, or "default" */
	int junk_optout;	/* the user opted out of spam to Junk */
};

struct lmtp_router;

struct lmtp_router *lmtp_router_new(const char *default_backend,
				    const char *delimiter, int strict);
/* lmtp_router_add - append a source and its cache (or NULL); the router
 * frees both */
struct lmtp_cache;
void lmtp_router_add(struct lmtp_router *rt, const struct lmtp_lookup_ops *ops,
		     void *ctx, struct lmtp_cache *cache);
void lmtp_router_free(struct lmtp_router **rtp);

/* lmtp_router_allow - from now on a backend that a source other than
 * the map names (SQLite, LDAP) must be the default backend or one of
 * backends[0..n-1], address by address ("a;b" needs both); any other
 * is a temporary failure (451 4.4.3).  Without this call, any backend
 * is taken (unit tests). */
void lmtp_router_allow(struct lmtp_router *rt, char *const *backends,
		       size_t n);

/* lmtp_router_route - route one recipient; always fills *route (err
 * says why on LMTP_ROUTE_TEMPFAIL) */
void lmtp_router_route(const struct lmtp_router *rt, const char *addr,
		       struct lmtp_route *route, char *err, size_t errlen);
void lmtp_route_clear(struct lmtp_route *route);

/* lmtp_route_reply - the RCPT reply for a route (malloc'ed) */
char *lmtp_route_reply(const struct lmtp_route *route, const char *addr);

/* What the sources share: a flag value that is off ("FALSE", "0",
 * "no", any case), one that is on ("TRUE", "1", "yes"), and a usable
 * rewrite (an address or @domain, no spaces, < > , or "): 0 or -1. */
int lmtp_value_false(const char *v);
int lmtp_value_true(const char *v);
int lmtp_rewrite_check(const char *v);

/* The static map (a sorted table, read-only once loaded). */
/* What a source that asks elsewhere (a directory, a database) counts:
 * elemta_lmtp_NAME_lookups_total{outcome="found|notfound|error"} and
 * the latency histogram elemta_lmtp_NAME_seconds. */
struct metric_series;
struct lmtp_source_metrics {
	struct metric_series *found, *notfound, *error, *latency;
};
/* lmtp_source_metrics_init - register NAME's two metrics */
void lmtp_source_metrics_init(struct lmtp_source_metrics *m,
			      const char *name, const char *count_help,
			      const char *latency_help, const double *buckets,
			      size_t nbuckets);
/* lmtp_source_metrics_count - one lookup's outcome, as a lookup returns
 * it (1 found, 0 not found, -1 error) */
void lmtp_source_metrics_count(const struct lmtp_source_metrics *m, int rc);

extern const struct lmtp_lookup_ops lmtp_map_ops;
/* lmtp_map_load - read a map file; a context, or NULL with "file:line:
 * problem" in err */
void *lmtp_map_load(const char *path, char *err, size_t errlen);

/* The LDAP source (lmtp-router-ldap.c): the [ldap] section's client,
 * the lmtp_bridge section's ldap_* options; a context, or NULL with err */
struct lmtp_conf;
struct ldapc_conf;
extern const struct lmtp_lookup_ops lmtp_ldap_ops;
void *lmtp_ldap_new(const struct lmtp_conf *lc, const struct ldapc_conf *dc,
		    char *err, size_t errlen);

/* The SQLite source (lmtp-router-sqlite.c): a database file, read-only,
 * and a query template (db_query_template); a context, or NULL with err
 * for a template that cannot work.  The database is opened at the first
 * lookup (or lmtp_sqlite_check) and whenever the file was replaced. */
extern const struct lmtp_lookup_ops lmtp_sqlite_ops;
void *lmtp_sqlite_new(const char *path, const char *query,
		      int busy_timeout_ms, char *err, size_t errlen);
/* lmtp_sqlite_check - can the database be read and the query run on it
 * now?  0, or -1 with err (lookups then fail: 451 4.4.3) */
int lmtp_sqlite_check(void *ctx, char *err, size_t errlen);

#endif
