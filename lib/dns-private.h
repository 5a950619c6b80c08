/*++
 * NAME
 *	dns-private 3h
 * SUMMARY
 *	what lib/dns*.c share (private to lib/)
 * SYNOPSIS
 *	#include "dns-private.h"
 * DESCRIPTION
 *	The resolver, whose cache dns-cache.c keeps, and the records of
 *	an answer, in one allocation.
 *--*/
#ifndef DNS_PRIVATE_H
#define DNS_PRIVATE_H

#include <pthread.h>
#include <stddef.h>

#include "dns.h"
#include "snapshot.h"

struct ub_ctx;
struct htable;

/* Records in one allocation: the lengths, the pointers, the bytes. */
struct dns_rdata {
	size_t count;
	size_t *len;
	const unsigned char **data;
};

struct dns_resolver {
	struct snapshot snap;
	struct ub_ctx *ctx;
	int timeout;			/* seconds per attempt */
	int retries;
	pthread_mutex_t lock;		/* queries' state, dispatcher start */
	pthread_t dispatcher;
	int running;			/* dispatcher started */
	volatile int stopping;

	pthread_mutex_t cache_lock;	/* everything below */
	struct htable *cache;		/* key -> struct dns_entry */
	size_t bytes;			/* what the entries take */
	size_t max_bytes;		/* cache_size */
	int recursing;			/* no forwarder: from the root */
	unsigned long hits, misses;
};

/* dns-answer.c */
/* dns_rdata_new - count records copied into one allocation (free()) */
struct dns_rdata *dns_rdata_new(size_t count,
				const unsigned char *const *data,
				const size_t *len);
/* dns_rdata_size - what dns_rdata_new allocates for these records */
size_t dns_rdata_size(size_t count, const size_t *len);

/* dns-cache.c */
/* dns_key - "TYPE name" as the cache keeps it (the name in lower case,
 * no final dot) into out; 0, or -1 if it does not fit */
int dns_key(const char *name, int type, char *out, size_t outlen);
/* dns_entry_free - free one cached answer (an htable_free callback) */
void dns_entry_free(void *p);
/* dns_cache_get - a live cached answer for key filled into a; 1 if
 * found, else 0 (counted as a hit or a miss) */
int dns_cache_get(struct dns_resolver *r, const char *key,
		  struct dns_answer *a);
/* dns_cache_put - keep answer a for key until its TTL runs out */
void dns_cache_put(struct dns_resolver *r, const char *key,
		   const struct dns_answer *a);

#endif
