/*++
 * NAME
 *	dns 3h
 * SUMMARY
 *	the one DNS resolver of a process (libunbound)
 * SYNOPSIS
 *	#include "dns.h"
 *
 *	struct dns_resolver *r = dns_resolver_new(dc, err, sizeof(err));
 *	struct dns_counter cnt = { 0, 50 };
 *	struct dns_answer *a;
 *
 *	switch (dns_query(r, "example.test", DNS_T_TXT, &cnt, &a)) {
 *	case DNS_OK: ... a->data[i], a->len[i] ...
 *	}
 *	dns_answer_free(&a);
 * DESCRIPTION
 *	Every lookup of a daemon (SPF, DKIM keys, DMARC records) goes
 *	through one struct dns_resolver: one libunbound context, so one
 *	cache that honours the records' TTLs, shared by all threads.
 *	The nameservers are forwarders with an optional port, in unbound's
 *	spelling ("127.0.0.1@5353", "::1@53"); with none configured the
 *	resolver forwards to the servers of /etc/resolv.conf, or recurses
 *	from the root when that file has none.  No DNSSEC validation.
 *
 *	dns_query() is synchronous and thread-safe: it waits at most the
 *	configured timeout per attempt, and retries a timed-out or
 *	SERVFAIL query the configured number of times.  The outcome is one
 *	clear status; the answer (when asked for) carries the records'
 *	rdata, as libunbound hands it over (domain names inside rdata are
 *	not compressed).  A struct dns_counter counts the lookups of one
 *	unit of work (a message), and how many of them the cache
 *	answered, and refuses more than its limit, without asking the
 *	network.
 *
 *	Answers are cached in the resolver until their TTL runs out (see
 *	dns.c); dns_resolver_stats() says how many lookups the cache
 *	answered (hits) and how many went to libunbound (misses).
 *
 *	The first query starts a dispatcher thread, so create resolvers
 *	whenever convenient but query only after the process has detached
 *	(threads do not survive fork).  Nothing here logs: temporary
 *	failures say why in dns_answer.why.
 *
 *	A resolver is reference-counted (lib/snapshot): a daemon builds a
 *	new one when the [dns] section changes and publishes it for new
 *	work inside its own generation (the milter's milter_gen), while
 *	work in progress finishes on the one it holds; the last reference
 *	stops its dispatcher and frees it.
 *--*/
#ifndef ELEMTA_DNS_H
#define ELEMTA_DNS_H

#include <stddef.h>

/* The record types the daemons ask for. */
enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
};

enum dns_status {
	DNS_OK,			/* records in the answer */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_NODATA,		/* the name exists, no record of that type */
	DNS_TEMPFAIL,		/* SERVFAIL, REFUSED, resolver error */
	DNS_TIMEOUT,		/* no answer within timeout x (retries + 1) */
	DNS_LIMIT,		/* the counter's limit or time budget was reached:
				 * not asked */
};

struct dns_answer {
	enum dns_status status;
	int rcode;		/* DNS rcode (0 NOERROR, 3 NXDOMAIN ...) */
	int ttl;		/* of the answer, seconds */
	size_t count;		/* number of records */
	const unsigned char **data;	/* rdata of each record */
	const size_t *len;	/* its length */
	char why[128];		/* for DNS_TEMPFAIL / DNS_TIMEOUT / DNS_LIMIT */
	void *priv;		/* owned by dns.c */
};

/*
 * The time a unit of work may spend waiting on the network, shared by
 * the counters that point to it: an attempt waits at most what is left,
 * and none starts when nothing is.  Time between lookups (a client
 * sending its message) is not spent.
 */
struct dns_budget {
	long long limit_ms;	/* 0: none */
	long long spent_ms;
};

/*
 * Lookups of one unit of work.  limit caps the queries that go to the
 * network (lookups - hits); 0 means no limit.  budget (NULL: none)
 * caps the time they take.  An answer in the cache is always served,
 * whatever the limit and the budget: what was spent by one part of
 * the work must not blind another to what is already known.  Not
 * locked: one counter per thread of work.
 */
struct dns_counter {
	unsigned lookups;	/* queries asked (retries not counted) */
	unsigned limit;
	unsigned hits;		/* of the lookups, answered by the cache */
	struct dns_budget *budget;
};

/* dns_counter_add - add src's lookups and hits to dst (for totals) */
void dns_counter_add(struct dns_counter *dst, const struct dns_counter *src);

/* The cache of a resolver since it was made. */
struct dns_stats {
	unsigned long hits;	/* lookups answered from the cache */
	unsigned long misses;	/* lookups that went to libunbound */
	size_t entries;		/* answers kept now */
	size_t bytes;		/* what they take (at most cache_size) */
};

/* The [dns] configuration section (shared by every daemon). */
struct conf_section;
extern const struct conf_section dns_conf_section;
struct dns_conf {
	char **nameservers;	/* "ADDR" or "ADDR@PORT"; NULL-terminated */
	size_t nnameservers;	/* 0: /etc/resolv.conf */
	int timeout;		/* seconds per attempt */
	int retries;		/* further attempts after a timeout */
	char *resolv_conf;	/* forwarders when nameservers is empty;
				 * NULL or unreadable: recurse */
	size_t cache_size;	/* bytes of answers kept (0: none) */
};

struct dns_resolver;

/* dns_resolver_new - a resolver as dc says (one reference, the
 * caller's); NULL with a message */
struct dns_resolver *dns_resolver_new(const struct dns_conf *dc,
				      char *err, size_t errlen);
/* dns_resolver_ref - one more reference (NULL stays NULL) */
struct dns_resolver *dns_resolver_ref(struct dns_resolver *r);
/* dns_resolver_unref - drop a reference, sets *rp to NULL; the last one
 * stops the dispatcher and frees (no query of it may be in progress:
 * whoever queries holds a reference) */
void dns_resolver_unref(struct dns_resolver **rp);

/* dns_conf_equal - do two [dns] sections ask for the same resolver? */
int dns_conf_equal(const struct dns_conf *a, const struct dns_conf *b);

/* dns_resolver_describe - "mode=forward|recursion
 * do-not-query-localhost=... unblock-lan-zones=... cache_size=N" into
 * buf (for logs and tests); returns buf */
char *dns_resolver_describe(struct dns_resolver *r, char *buf, size_t len);

/* dns_resolver_stats - the cache's counters (thread-safe) */
void dns_resolver_stats(struct dns_resolver *r, struct dns_stats *st);

/*
 * dns_query - look up name/type; the status.  With ap non-NULL, *ap
 * gets a new answer (whatever the status; free with dns_answer_free).
 * cnt may be NULL (not counted).
 */
enum dns_status dns_query(struct dns_resolver *r, const char *name,
			  int type, struct dns_counter *cnt,
			  struct dns_answer **ap);
void dns_answer_free(struct dns_answer **ap);

/* dns_status_str - "ok", "nxdomain", "nodata", "tempfail", "timeout",
 * "limit" */
const char *dns_status_str(enum dns_status st);

/* dns_txt_join - the character-strings of a TXT rdata joined, as SPF
 * and DKIM read them; malloc'ed, or NULL if the rdata is malformed */
char *dns_txt_join(const unsigned char *rdata, size_t len);

/* dns_name_text - an uncompressed wire-format name at rdata (len bytes
 * available) as text without the final dot ("" for the root); returns
 * the bytes it occupies, or -1 if malformed or out does not hold it */
int dns_name_text(const unsigned char *rdata, size_t len, char *out,
		  size_t outlen);

/* dns_nameserver_check - is s "ADDR" or "ADDR@PORT" (IPv4 or IPv6)?
 * 0, or -1 with a message */
int dns_nameserver_check(const char *s, char *err, size_t errlen);

#endif
