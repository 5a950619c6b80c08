/*++
 * NAME
 *	lmtp-cache 3h
 * SUMMARY
 *	the answer cache of a routing source (LDAP, SQLite)
 * SYNOPSIS
 *	#include "lmtp-cache.h"
 *
 *	c = lmtp_cache_new("ldap", 10000, 300, 60, NULL);
 *	lmtp_router_add(rt, &lmtp_ldap_ops, ldap, c);
 *	... the router: lmtp_cache_get(), on a miss the source, then
 *	    lmtp_cache_put() of what it said (never of an error) ...
 * DESCRIPTION
 *	Answers per lookup key: found (with what was found) for ttl
 *	seconds, not found for negative_ttl seconds.  Errors are never
 *	cached: the next recipient asks the source again.  One cache is
 *	shared by every connection (one mutex); it holds at most
 *	max_entries answers, and when it is full the least recently used
 *	one (asked for or stored longest ago) makes room.  A hit makes an
 *	answer the most recently used; it does not extend its TTL.  An
 *	answer stored again for the same key replaces the old one.
 *
 *	Metrics, per source: elemta_lmtp_SOURCE_cache_total
 *	{result="hit"|"miss"} (an expired answer is a miss),
 *	elemta_lmtp_SOURCE_cache_evictions_total{reason="lru"|"expired"},
 *	and the gauge elemta_lmtp_SOURCE_cache_entries (all the live
 *	caches of the source: a reload makes new ones).
 *
 *	clock is the time source in seconds (NULL: clock_mono_s), so
 *	that the tests can move time.
 *--*/
#ifndef ELEMTA_LMTP_CACHE_H
#define ELEMTA_LMTP_CACHE_H

#include <stddef.h>

struct lmtp_lookup_result;
struct lmtp_cache;

/* lmtp_cache_new - a cache for source (a metric name part: [a-z_]);
 * NULL when it would hold nothing (max_entries 0, both TTLs 0) */
struct lmtp_cache *lmtp_cache_new(const char *source, size_t max_entries,
				  long ttl, long negative_ttl,
				  double (*clock)(void));
void lmtp_cache_free(struct lmtp_cache **cp);

/* lmtp_cache_get - 1 found (res filled, malloc'ed strings), 0 known not
 * to exist, -1 not cached (or expired) */
int lmtp_cache_get(struct lmtp_cache *c, const char *key,
		   struct lmtp_lookup_result *res);
/* lmtp_cache_put - remember a source's answer (found 1, with res; or 0) */
void lmtp_cache_put(struct lmtp_cache *c, const char *key, int found,
		    const struct lmtp_lookup_result *res);
/* lmtp_cache_count - answers held now (expired ones included) */
size_t lmtp_cache_count(struct lmtp_cache *c);

#endif
