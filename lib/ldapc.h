/*++
 * NAME
 *	ldapc 3h
 * SUMMARY
 *	the shared LDAP client: [ldap] section, pooled connections, filters
 * SYNOPSIS
 *	#include "ldapc.h"
 *
 *	const struct ldapc_conf *lc = conf_get(conf, &ldapc_conf_section);
 *	struct ldapc *cl = ldapc_new(lc, err, sizeof(err));
 *	ldapc_filter_expand("(mail=%s)", addr, strlen(addr), &f, err, len);
 *	ldapc_search(cl, base, LDAPC_SCOPE_SUB, f, attrs, 2, &res, err, len);
 *	v = ldapc_entry_value(&res.entries[0], "mailHost");
 *	ldapc_result_clear(&res);
 *	ldapc_free(&cl);
 * DESCRIPTION
 *	Named ldapc ("LDAP client"), not ldap: a lib/ldap.h would shadow
 *	the system <ldap.h> (lib/ is on the include path) and an ldap_
 *	prefix is libldap's own name space.
 *
 *	URIs: ldap://, ldaps:// and ldapi:// (several, space-separated:
 *	libldap tries them in order).  Simple bind with bind_dn and
 *	bind_password or bind_password_file (read by ldapc_new, so read
 *	before privileges are dropped), or anonymous; optional StartTLS.
 *
 *	Threads: a small pool.  A search takes an idle connection or opens
 *	a new one, and gives it back afterwards; at most pool_size idle
 *	connections are kept (more may be open while many threads search
 *	at once).  A connection that failed is closed, and a search that
 *	failed with a connection-level error on a pooled connection (slapd
 *	restarted, idle timeout) is retried once on a fresh connection:
 *	that is the reconnect.  network_timeout bounds connecting (and
 *	StartTLS, bind), search_timeout each search (client and server
 *	side).  Thread-safe; lib/ returns errors, the caller logs.
 *
 *	ldapc_filter_expand() is pure: a Postfix ldap_table(5) style
 *	template with %s (the whole address), %u (the local part, the
 *	whole key if it has no @), %d (the domain; with no @ the query is
 *	suppressed, return 0) and %%; every substituted byte that RFC 4515
 *	requires is escaped ("*" "(" ")" "\" NUL as \2a \28 \29 \5c \00).
 *--*/
#ifndef ELEMTA_LDAPC_H
#define ELEMTA_LDAPC_H

#include <stddef.h>

#include "conf.h"

struct ldapc_conf {
	char *uri;		/* NULL: LDAP not configured */
	char *bind_dn;		/* NULL: anonymous */
	char *bind_password;
	char *bind_password_file;
	int start_tls;
	char *tls_ca_file;	/* NULL: the system's */
	long network_timeout;	/* seconds */
	long search_timeout;	/* seconds */
	long pool_size;		/* idle connections kept */
};

extern const struct conf_section ldapc_conf_section;

enum ldapc_scope {
	LDAPC_SCOPE_BASE,
	LDAPC_SCOPE_ONE,
	LDAPC_SCOPE_SUB,
};

/* The scope names an ldap_scope option takes, in enum order, NULL
 * ended (a CONF_CHECK_ENUM list). */
extern const char *const ldapc_scope_names[];

/* ldapc_scope_parse - "base", "one" or "sub"; -1 if none of those */
int ldapc_scope_parse(const char *s);

/* ldapc_escape - RFC 4515 value escaping of len bytes; malloc'ed */
char *ldapc_escape(const char *s, size_t len);

/* ldapc_filter_check - is tmpl a usable template (balanced parentheses,
 * only %s %u %d %%)?  0, or -1 with err */
int ldapc_filter_check(const char *tmpl, char *err, size_t errlen);

/* ldapc_filter_expand - expand tmpl for key (keylen bytes, may hold
 * NUL); 1 with *out malloc'ed, 0 query suppressed (%d and no domain),
 * -1 bad template (err) */
int ldapc_filter_expand(const char *tmpl, const char *key, size_t keylen,
			char **out, char *err, size_t errlen);

struct ldapc_attr {
	char *name;
	char **vals;
	size_t nvals;
};

struct ldapc_entry {
	char *dn;
	struct ldapc_attr *attrs;
	size_t nattrs;
};

struct ldapc_result {
	struct ldapc_entry *entries;
	size_t nentries;
	int truncated;		/* the size limit was reached */
};

struct ldapc;

/* ldapc_new - a client (no connection yet); NULL with err when the
 * password file cannot be read */
struct ldapc *ldapc_new(const struct ldapc_conf *c, char *err, size_t errlen);
void ldapc_free(struct ldapc **clp);

/* ldapc_search - search; 0 with *res filled (possibly no entry), or -1
 * with err (server unreachable, timeout, bind refused, a base that does
 * not exist: noSuchObject is a directory error, not "no entry").  attrs
 * is NULL-terminated; sizelimit 0 means none. */
int ldapc_search(struct ldapc *cl, const char *base, enum ldapc_scope scope,
		 const char *filter, const char *const *attrs,
		 int sizelimit, struct ldapc_result *res, char *err,
		 size_t errlen);
void ldapc_result_clear(struct ldapc_result *res);

/* ldapc_entry_value - the first value of attr (case-insensitive name),
 * or NULL; points into the entry */
const char *ldapc_entry_value(const struct ldapc_entry *e, const char *attr);

/* The buckets of a histogram of search latencies, in seconds, for the
 * daemons' metrics: half a millisecond to ten seconds. */
#define LDAPC_LATENCY_BUCKETS	14
extern const double ldapc_latency_buckets[LDAPC_LATENCY_BUCKETS];

#endif
