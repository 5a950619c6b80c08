/*++
 * NAME
 *	policyd-table 3h
 * SUMMARY
 *	a string-keyed hash table with incremental sweeping
 * SYNOPSIS
 *	#include "policyd-table.h"
 *
 *	struct policyd_table *t = policyd_table_new();
 *	policyd_table_put(t, "ip:192.0.2.10/32", value);
 *	value = policyd_table_get(t, "ip:192.0.2.10/32");
 *	policyd_table_sweep(t, 256, too_old, ctx);	   a slice per tick
 *	policyd_table_free(&t, free_value);
 * DESCRIPTION
 *	Chained buckets, doubled when the table holds more entries than
 *	buckets.  Keys are copied; values belong to the caller (the table
 *	only hands them to the callbacks).  policyd_table_sweep() visits
 *	a slice of the buckets from where the previous sweep stopped, so
 *	expiring old entries costs a little on every tick instead of a
 *	long pause now and then.  Not thread-safe: one table per thread.
 *--*/
#ifndef ELEMTA_POLICYD_TABLE_H
#define ELEMTA_POLICYD_TABLE_H

#include <stddef.h>

struct policyd_table;

struct policyd_table *policyd_table_new(void);
/* policyd_table_free - destroy, calling free_value (if not NULL) on
 * every value; sets *tp to NULL */
void policyd_table_free(struct policyd_table **tp, void (*free_value)(void *));

void *policyd_table_get(const struct policyd_table *t, const char *key);
/* policyd_table_put - insert or replace; returns the value replaced
 * (NULL if the key was new) */
void *policyd_table_put(struct policyd_table *t, const char *key, void *value);
/* policyd_table_del - remove; returns the value (NULL if absent) */
void *policyd_table_del(struct policyd_table *t, const char *key);
size_t policyd_table_size(const struct policyd_table *t);

/* policyd_table_sweep - visit the entries of the next nbuckets buckets;
 * those for which drop() returns 1 are removed (drop owns the value
 * then).  Returns how many were removed. */
size_t policyd_table_sweep(struct policyd_table *t, size_t nbuckets,
			   int (*drop)(const char *key, void *value, void *ctx),
			   void *ctx);

#endif
