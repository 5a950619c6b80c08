/*++
 * NAME
 *	policyd-table 3
 * SUMMARY
 *	a string-keyed hash table with incremental sweeping
 * DESCRIPTION
 *	See policyd-table.h.  FNV-1a hashes; the key is stored in the same
 *	allocation as its entry.
 *--*/
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "policyd-table.h"
#include "xalloc.h"

struct policyd_table_ent {
	struct policyd_table_ent *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct policyd_table {
	struct policyd_table_ent **b;
	size_t nb;		/* buckets, a power of two */
	size_t n;		/* entries */
	size_t cursor;		/* next bucket to sweep */
};

/* policyd_table_hash - FNV-1a */
static uint64_t
policyd_table_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* policyd_table_new - an empty table */
struct policyd_table *
policyd_table_new(void)
{
	struct policyd_table *t = x_calloc(1, sizeof(*t));

	t->nb = 64;
	t->b = x_calloc(t->nb, sizeof(*t->b));
	return t;
}

/* policyd_table_free - destroy the table, handing values to free_value */
void
policyd_table_free(struct policyd_table **tp, void (*free_value)(void *))
{
	struct policyd_table *t = *tp;
	struct policyd_table_ent *e, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			if (free_value != NULL)
				free_value(e->value);
			x_free(&e);
		}
	}
	x_free(&t->b);
	x_free(tp);
}

/* policyd_table_find - the link that points at key's entry */
static struct policyd_table_ent **
policyd_table_find(const struct policyd_table *t, const char *key,
		   uint64_t h)
{
	struct policyd_table_ent **pp = &t->b[h & (t->nb - 1)];

	while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

/* policyd_table_get - the value of key, or NULL */
void *
policyd_table_get(const struct policyd_table *t, const char *key)
{
	struct policyd_table_ent **pp;

	pp = policyd_table_find(t, key, policyd_table_hash(key));
	return *pp ? (*pp)->value : NULL;
}

/* policyd_table_grow - double the buckets */
static void
policyd_table_grow(struct policyd_table *t)
{
	size_t nb = t->nb * 2, i;
	struct policyd_table_ent **b = x_calloc(nb, sizeof(*b));
	struct policyd_table_ent *e, *next;

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

/* policyd_table_put - insert or replace; the old value or NULL */
void *
policyd_table_put(struct policyd_table *t, const char *key, void *value)
{
	uint64_t h = policyd_table_hash(key);
	struct policyd_table_ent **pp = policyd_table_find(t, key, h);
	struct policyd_table_ent *e;
	size_t len;
	void *old;

	if (*pp != NULL) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	len = strlen(key);
	e = x_malloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	if (++t->n > t->nb)
		policyd_table_grow(t);
	return NULL;
}

/* policyd_table_del - remove key; its value or NULL */
void *
policyd_table_del(struct policyd_table *t, const char *key)
{
	struct policyd_table_ent **pp, *e;
	void *value;

	pp = policyd_table_find(t, key, policyd_table_hash(key));
	if ((e = *pp) == NULL)
		return NULL;
	*pp = e->next;
	value = e->value;
	x_free(&e);
	t->n--;
	return value;
}

/* policyd_table_size - the number of entries */
size_t
policyd_table_size(const struct policyd_table *t)
{
	return t->n;
}

/* policyd_table_sweep - offer a slice of the entries to drop() */
size_t
policyd_table_sweep(struct policyd_table *t, size_t nbuckets,
		    int (*drop)(const char *key, void *value, void *ctx),
		    void *ctx)
{
	struct policyd_table_ent **pp, *e;
	size_t i, removed = 0;

	if (nbuckets > t->nb)
		nbuckets = t->nb;
	for (i = 0; i < nbuckets; i++) {
		pp = &t->b[t->cursor];
		while ((e = *pp) != NULL) {
			if (drop(e->key, e->value, ctx)) {
				*pp = e->next;
				x_free(&e);
				t->n--;
				removed++;
			} else {
				pp = &e->next;
			}
		}
		t->cursor = (t->cursor + 1) & (t->nb - 1);
	}
	return removed;
}
