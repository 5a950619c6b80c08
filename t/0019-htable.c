/*++
 * NAME
 *	0019-htable 1
 * SUMMARY
 *	unit tests for lib/htable
 * DESCRIPTION
 *	Insert, replace, look up and delete; growth (every key found again
 *	after the buckets doubled several times); the recency order that
 *	the caches evict by (put and use make an entry the newest,
 *	pop_oldest takes the least recently used, and what del and sweep
 *	removed is never popped); sweeping in slices; free hands every
 *	value to the callback once.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "tap.h"

#define NMANY	5000

static int freed;

/* count_free - a free_value that counts */
static void
count_free(void *value)
{
	(void)value;
	freed++;
}

/* drop_odd - a sweep's drop(): the values that are odd numbers */
static int
drop_odd(const char *key, void *value, void *ctx)
{
	(void)key;
	(*(int *)ctx)++;
	return *(int *)value % 2 == 1;
}

/* test_basic - put, get, replace, del */
static void
test_basic(void)
{
	struct htable *t = htable_new();
	int a = 1, b = 2;

	ok(htable_get(t, "a") == NULL, "empty: not found");
	ok(htable_put(t, "a", &a) == NULL, "put new: NULL returned");
	ok(htable_get(t, "a") == &a, "get: the value");
	ok(htable_get(t, "A") == NULL, "keys are case-sensitive");
	ok(htable_put(t, "a", &b) == &a, "put again: the old value");
	ok(htable_get(t, "a") == &b, "replaced");
	is_int(htable_size(t), 1, "one entry");
	ok(htable_del(t, "b") == NULL, "del absent: NULL");
	ok(htable_del(t, "a") == &b, "del: the value");
	is_int(htable_size(t), 0, "empty again");
	ok(htable_pop_oldest(t) == NULL, "pop of empty: NULL");
	ok(htable_entry_size("abc") > 4, "entry size counts the key");
	htable_free(&t, NULL);
	ok(t == NULL, "free clears the pointer");
}

/* test_many - growth keeps every key */
static void
test_many(void)
{
	struct htable *t = htable_new();
	int *v = calloc(NMANY, sizeof(*v));
	char key[32];
	int i, found = 0;

	for (i = 0; i < NMANY; i++) {
		v[i] = i;
		snprintf(key, sizeof(key), "key-%d", i);
		htable_put(t, key, &v[i]);
	}
	is_int(htable_size(t), NMANY, "many: all held");
	for (i = 0; i < NMANY; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		found += htable_get(t, key) == &v[i];
	}
	is_int(found, NMANY, "many: all found after growing");
	ok(htable_pop_oldest(t) == &v[0], "many: the first put is the oldest");
	freed = 0;
	htable_free(&t, count_free);
	is_int(freed, NMANY - 1, "free: every value once");
	free(v);
}

/* test_recency - put and use make the newest; pop takes the oldest */
static void
test_recency(void)
{
	struct htable *t = htable_new();
	int v[4] = { 0, 1, 2, 3 };

	htable_put(t, "0", &v[0]);
	htable_put(t, "1", &v[1]);
	htable_put(t, "2", &v[2]);
	htable_put(t, "3", &v[3]);
	ok(htable_use(t, "0") == &v[0], "use: the value");
	ok(htable_use(t, "9") == NULL, "use absent: NULL");
	htable_put(t, "1", &v[1]);		/* replaced: the newest */
	ok(htable_get(t, "2") == &v[2], "get does not change the order");
	htable_del(t, "3");
	ok(htable_pop_oldest(t) == &v[2], "oldest: neither used nor put since");
	ok(htable_pop_oldest(t) == &v[0], "then the one used");
	ok(htable_pop_oldest(t) == &v[1], "then the one put again");
	ok(htable_pop_oldest(t) == NULL, "deleted: never popped");
	is_int(htable_size(t), 0, "pop removes");
	htable_free(&t, NULL);
}

/* test_sweep - slices, removal, and the order kept */
static void
test_sweep(void)
{
	struct htable *t = htable_new();
	int v[200], i, visited = 0, popped = 0, odd = 0;
	size_t removed = 0;
	char key[32];
	int *p;

	for (i = 0; i < 200; i++) {
		v[i] = i;
		snprintf(key, sizeof(key), "k%d", i);
		htable_put(t, key, &v[i]);
	}
	/* 200 entries: 256 buckets, swept 64 at a time */
	for (i = 0; i < 4; i++)
		removed += htable_sweep(t, 64, drop_odd, &visited);
	is_int(visited, 200, "sweep: four slices visit every entry");
	is_int(removed, 100, "sweep: the odd ones removed");
	is_int(htable_size(t), 100, "sweep: the even ones kept");
	while ((p = htable_pop_oldest(t)) != NULL) {
		odd += *p % 2;
		if (popped++ == 0)
			is_int(*p, 0, "sweep: the oldest kept is still first");
	}
	is_int(popped, 100, "sweep: the order holds what is left");
	is_int(odd, 0, "sweep: nothing removed comes back");
	htable_free(&t, NULL);
}

int
main(void)
{
	plan_lazy();
	test_basic();
	test_many();
	test_recency();
	test_sweep();
	done_testing();
	return exit_status();
}
