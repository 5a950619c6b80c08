/*++
 * NAME
 *	dns-cache 3
 * SUMMARY
 *	the resolver's own cache of answers (lib/dns.c)
 * DESCRIPTION
 *	See "The cache" in dns.c: answers (records, NXDOMAIN, no data)
 *	kept under "TYPE name" until their TTL runs out, at most
 *	cache_size bytes of them, the least recently used going first.
 *	Failures are never kept.  Under the resolver's cache_lock.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dns.h"
#include "dns-private.h"
#include "htable.h"
#include "str.h"
#include "xalloc.h"

/* A cached answer (the key: "TYPE name"). */
struct dns_entry {
	enum dns_status status;		/* DNS_OK, DNS_NXDOMAIN, DNS_NODATA */
	int rcode;
	long long expires;		/* clock_mono_ms() */
	size_t bytes;			/* this entry's allocations */
	struct dns_rdata *rd;		/* DNS_OK: the records */
};

/* dns_key - "TYPE name" as the cache keeps it (the name in lower case,
 * no final dot) into out; 0, or -1 if it does not fit */
int
dns_key(const char *name, int type, char *out, size_t outlen)
{
	size_t n = strlen(name);
	int len;

	if (n > 0 && name[n - 1] == '.')
		n--;
	len = snprintf(out, outlen, "%d ", type);
	if (len < 0 || (size_t)len + n >= outlen) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out + len, name, n);
	out[len + n] = '\0';
	str_lower(out + len);
	return 0;
}

/* dns_entry_free - free one cached answer */
void
dns_entry_free(void *p)
{
	struct dns_entry *e = p;

	free(e->rd);
	free(e);
}

/* dns_entry_drop - free an answer taken out of the cache, uncounting
 * its bytes (cache_lock held) */
static void
dns_entry_drop(struct dns_resolver *r, struct dns_entry *e)
{
	r->bytes -= e->bytes;
	dns_entry_free(e);
}

/* dns_cache_get - a live cached answer for key/type filled into a
 * (status, rcode, ttl, records); 1 if found, else 0 */
int
dns_cache_get(struct dns_resolver *r, const char *key, struct dns_answer *a)
{
	struct dns_entry *e;
	long long now = clock_mono_ms();
	int found = 0;

	pthread_mutex_lock(&r->cache_lock);
	if ((e = htable_use(r->cache, key)) != NULL && e->expires <= now) {
		dns_entry_drop(r, htable_del(r->cache, key));
		e = NULL;
	}
	if (e != NULL) {
		a->status = e->status;
		a->rcode = e->rcode;
		a->ttl = (int)((e->expires - now) / 1000);
		if (e->rd != NULL) {
			a->priv = dns_rdata_new(e->rd->count, e->rd->data,
						e->rd->len);
			a->count = e->rd->count;
		}
		found = 1;
		r->hits++;
	} else {
		r->misses++;
	}
	pthread_mutex_unlock(&r->cache_lock);
	return found;
}

/* dns_cache_put - keep answer a for key/type until its TTL runs out */
void
dns_cache_put(struct dns_resolver *r, const char *key,
	      const struct dns_answer *a)
{
	struct dns_entry *e;
	size_t bytes;

	if (a->ttl <= 0 || (a->status != DNS_OK && a->status != DNS_NXDOMAIN
			    && a->status != DNS_NODATA))
		return;
	pthread_mutex_lock(&r->cache_lock);
	/* another thread may have put it there meanwhile */
	if ((e = htable_del(r->cache, key)) != NULL)
		dns_entry_drop(r, e);
	/* Counted in bytes, so that big answers (TXT records of 64 KB)
	 * cannot make the cache many times what it was given; one larger
	 * than the whole cache is not kept. */
	bytes = sizeof(*e) + htable_entry_size(key)
		+ (a->status == DNS_OK ? dns_rdata_size(a->count, a->len) : 0);
	if (bytes > r->max_bytes) {
		pthread_mutex_unlock(&r->cache_lock);
		return;
	}
	while (r->bytes + bytes > r->max_bytes)
		dns_entry_drop(r, htable_pop_oldest(r->cache));
	e = x_calloc(1, sizeof(*e));
	e->bytes = bytes;
	e->status = a->status;
	e->rcode = a->rcode;
	e->expires = clock_mono_ms() + (long long)a->ttl * 1000;
	if (a->status == DNS_OK)
		e->rd = dns_rdata_new(a->count, a->data, a->len);
	htable_put(r->cache, key, e);
	r->bytes += bytes;
	pthread_mutex_unlock(&r->cache_lock);
}
