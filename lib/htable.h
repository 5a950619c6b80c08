/*++
 * NAME
 *	htable 3h
 * SUMMARY
 *	a string-keyed hash table, in recency order, with sweeping
 * SYNOPSIS
 *	#include "htable.h"
 *
 *	struct htable *t = htable_new();
 *	htable_put(t, "ip:192.0.2.10/32", value);
 *	value = htable_get(t, "ip:192.0.2.10/32");
 *	value = htable_use(t, key);		   a hit of a cache
 *	value = htable_pop_oldest(t);		   a cache is full
 *	htable_sweep(t, 256, too_old, ctx);	   a slice per tick
 *	htable_free(&t, free_value);
 * DESCRIPTION
 *	Chained buckets, doubled when the table holds more entries than
 *	buckets.  Keys are copied; values belong to the caller (the table
 *	only hands them to the callbacks, or back when they are removed).
 *
 *	The entries are also kept in the order they were last used
 *	(htable_put() or htable_use()), so that a cache evicts the least
 *	recently used one with htable_pop_oldest(); all of these are
 *	O(1).  What a value means, and when it expires, is the caller's:
 *	the caches above keep their expiry time in the value.
 *
 *	htable_sweep() visits a slice of the buckets from where the
 *	previous sweep stopped, so expiring old entries costs a little on
 *	every tick instead of a long pause now and then.
 *
 *	Not thread-safe: one table per thread, or a lock of the caller's.
 *--*/
#ifndef ELEMTA_HTABLE_H
#define ELEMTA_HTABLE_H

#include <stddef.h>

struct htable;

struct htable *htable_new(void);
/* htable_free - destroy, calling free_value (if not NULL) on every
 * value; sets *tp to NULL */
void htable_free(struct htable **tp, void (*free_value)(void *));

/* htable_get - the value of key, or NULL */
void *htable_get(const struct htable *t, const char *key);
/* htable_use - the same, and key's entry becomes the most recently used */
void *htable_use(struct htable *t, const char *key);
/* htable_put - insert or replace, as the most recently used; returns
 * the value replaced (NULL if the key was new) */
void *htable_put(struct htable *t, const char *key, void *value);
/* htable_del - remove; returns the value (NULL if absent) */
void *htable_del(struct htable *t, const char *key);
/* htable_pop_oldest - remove the least recently used entry; returns its
 * value (NULL if the table is empty) */
void *htable_pop_oldest(struct htable *t);
size_t htable_size(const struct htable *t);
/* htable_entry_size - the bytes the table allocates for key's entry */
size_t htable_entry_size(const char *key);

/* htable_sweep - visit the entries of the next nbuckets buckets; those
 * for which drop() returns 1 are removed (drop owns the value then).
 * Returns how many were removed. */
size_t htable_sweep(struct htable *t, size_t nbuckets,
		    int (*drop)(const char *key, void *value, void *ctx),
		    void *ctx);

#endif
