/*++
 * NAME
 *	htable 3
 * SUMMARY
 *	a string-keyed hash table, in recency order, with sweeping
 * DESCRIPTION
 *	See htable.h.  FNV-1a hashes; the key is stored in the same
 *	allocation as its entry.  Each entry is in two lists: its
 *	bucket's chain, for finding a key, and a doubly linked list in
 *	the order the entries were last used (most recent at the head),
 *	for evicting.
 *
 *	Why least recently used rather than emptying a cache when it is
 *	full: emptying throws the hot keys out with the cold ones, and
 *	what the cache stands in front of (a directory, a resolver) then
 *	gets every one of them at once.
 *--*/
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "htable.h"
#include "xalloc.h"

#define HTABLE_MIN_BUCKETS 64

struct htable_ent {
	struct htable_ent *next;	/* in the bucket */
	struct htable_ent *newer, *older;	/* recency list */
	uint64_t hash;
	void *value;
	char key[];
};

struct htable {
	struct htable_ent **b;
	size_t nb;		/* buckets, a power of two */
	size_t n;		/* entries */
	size_t cursor;		/* next bucket to sweep */
	struct htable_ent *newest, *oldest;
};

/* htable_hash - FNV-1a */
static uint64_t
htable_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* htable_new - an empty table */
struct htable *
htable_new(void)
{
	struct htable *t = x_calloc(1, sizeof(*t));

	t->nb = HTABLE_MIN_BUCKETS;
	t->b = x_calloc(t->nb, sizeof(*t->b));
	return t;
}

/* htable_free - destroy the table, handing values to free_value */
void
htable_free(struct htable **tp, void (*free_value)(void *))
{
	struct htable *t = *tp;
	struct htable_ent *e, *older;

	if (t == NULL)
		return;
	for (e = t->newest; e != NULL; e = older) {
		older = e->older;
		if (free_value != NULL)
			free_value(e->value);
		x_free(&e);
	}
	x_free(&t->b);
	x_free(tp);
}

/* htable_find - the link that points at key's entry */
static struct htable_ent **
htable_find(const struct htable *t, const char *key, uint64_t h)
{
	struct htable_ent **pp = &t->b[h & (t->nb - 1)];

	while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

/* htable_list_out - take e out of the recency list */
static void
htable_list_out(struct htable *t, struct htable_ent *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

/* htable_list_in - put e at the head of the recency list */
static void
htable_list_in(struct htable *t, struct htable_ent *e)
{
	e->newer = NULL;
	e->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

/* htable_unlink - remove the entry *pp points at; its value */
static void *
htable_unlink(struct htable *t, struct htable_ent **pp)
{
	struct htable_ent *e = *pp;
	void *value = e->value;

	*pp = e->next;
	htable_list_out(t, e);
	x_free(&e);
	t->n--;
	return value;
}

/* htable_get - the value of key, or NULL */
void *
htable_get(const struct htable *t, const char *key)
{
	struct htable_ent **pp;

	pp = htable_find(t, key, htable_hash(key));
	return *pp ? (*pp)->value : NULL;
}

/* htable_use - the value of key, now the most recently used; or NULL */
void *
htable_use(struct htable *t, const char *key)
{
	struct htable_ent *e = *htable_find(t, key, htable_hash(key));

	if (e == NULL)
		return NULL;
	htable_list_out(t, e);
	htable_list_in(t, e);
	return e->value;
}

/* htable_grow - double the buckets */
static void
htable_grow(struct htable *t)
{
	size_t nb = t->nb * 2, i;
	struct htable_ent **b = x_calloc(nb, sizeof(*b));
	struct htable_ent *e, *next;

	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	x_free(&t->b);
	t->b = b;
	t->nb = nb;
	t->cursor = 0;
}

/* htable_put - insert or replace, as the most recently used; the old
 * value or NULL */
void *
htable_put(struct htable *t, const char *key, void *value)
{
	uint64_t h = htable_hash(key);
	struct htable_ent **pp = htable_find(t, key, h);
	struct htable_ent *e;
	size_t len;
	void *old;

	if ((e = *pp) != NULL) {
		old = e->value;
		e->value = value;
		htable_list_out(t, e);
		htable_list_in(t, e);
		return old;
	}
	len = strlen(key);
	e = x_malloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	htable_list_in(t, e);
	if (++t->n > t->nb)
		htable_grow(t);
	return NULL;
}

/* htable_del - remove key; its value or NULL */
void *
htable_del(struct htable *t, const char *key)
{
	struct htable_ent **pp;

	pp = htable_find(t, key, htable_hash(key));
	return *pp != NULL ? htable_unlink(t, pp) : NULL;
}

/* htable_pop_oldest - remove the least recently used; its value */
void *
htable_pop_oldest(struct htable *t)
{
	struct htable_ent **pp;

	if (t->oldest == NULL)
		return NULL;
	pp = &t->b[t->oldest->hash & (t->nb - 1)];
	while (*pp != t->oldest)
		pp = &(*pp)->next;
	return htable_unlink(t, pp);
}

/* htable_size - the number of entries */
size_t
htable_size(const struct htable *t)
{
	return t->n;
}

/* htable_entry_size - what an entry for key takes */
size_t
htable_entry_size(const char *key)
{
	return sizeof(struct htable_ent) + strlen(key) + 1;
}

/* htable_sweep - offer a slice of the entries to drop() */
size_t
htable_sweep(struct htable *t, size_t nbuckets,
	     int (*drop)(const char *key, void *value, void *ctx), void *ctx)
{
	struct htable_ent **pp;
	size_t i, removed = 0;

	if (nbuckets > t->nb)
		nbuckets = t->nb;
	for (i = 0; i < nbuckets; i++) {
		pp = &t->b[t->cursor];
		while (*pp != NULL) {
			if (drop((*pp)->key, (*pp)->value, ctx)) {
				(void)htable_unlink(t, pp);
				removed++;
			} else {
				pp = &(*pp)->next;
			}
		}
		t->cursor = (t->cursor + 1) & (t->nb - 1);
	}
	return removed;
}
