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
 *	lmtp_router_add(rt, &lmtp_map_ops, map);
 *	lmtp_router_route(rt, "alice+tag@example.test", &route, err, len);
 *	... route.status, route.backend, route.address ...
 *	lmtp_route_clear(&route);
 *	lmtp_router_free(&rt);
 * DESCRIPTION
 *	A router asks its sources in order (the static map, then LDAP
 *	through lib/ldapc: lmtp-router-ldap.c) for each recipient.  Each
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
 *	A source is a struct lmtp_lookup_ops (lookup + free) and a
 *	context: the LDAP router is another one, with its own cache.
 *	Sources must be thread-safe; the router is read-only after set-up
 *	and shared by every connection of one configuration snapshot.
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
/* lmtp_router_add - append a source; the router frees ctx */
void lmtp_router_add(struct lmtp_router *rt, const struct lmtp_lookup_ops *ops,
		     void *ctx);
void lmtp_router_free(struct lmtp_router **rtp);

/* lmtp_router_route - route one recipient; always fills *route (err
 * says why on LMTP_ROUTE_TEMPFAIL) */
void lmtp_router_route(const struct lmtp_router *rt, const char *addr,
		       struct lmtp_route *route, char *err, size_t errlen);
void lmtp_route_clear(struct lmtp_route *route);

/* lmtp_route_reply - the RCPT reply for a route (malloc'ed) */
char *lmtp_route_reply(const struct lmtp_route *route, const char *addr);

/* The static map (a sorted table, read-only once loaded). */
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

#endif
