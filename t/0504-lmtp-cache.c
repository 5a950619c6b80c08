/*++
 * NAME
 *	0504-lmtp-cache 1
 * SUMMARY
 *	unit test of the routing sources' answer cache (lmtp-cache.c)
 * DESCRIPTION
 *	Scripts of puts, gets and clock ticks on a clock the test moves,
 *	each with the answer every get must give: the least recently used
 *	answer is the one evicted, a hit makes an answer the most recent,
 *	the TTLs (positive and negative) still expire answers, storing a
 *	key again replaces its answer; the metrics count exactly that.
 *	Then 100000 keys through a cache of 50000 (the table grows, the
 *	oldest half is gone, the newest half is there), threads hammering
 *	one small cache, and the entries gauge over two caches.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"
#include "../lmtp-bridge/lmtp-cache.h"
#include "../lmtp-bridge/lmtp-router.h"

static double fake_now = 5000;

/* fake_clock - the time the test says it is */
static double
fake_clock(void)
{
	return fake_now;
}

enum op { PUT, PUT_NEG, GET, TICK, COUNT, END };

struct step {
	enum op op;
	const char *key;	/* PUT, GET */
	const char *backend;	/* PUT: stored; GET: wanted (found only) */
	long n;			/* GET: 1, 0, -1; TICK: seconds; COUNT */
};

struct script {
	const char *name;
	size_t max;
	long ttl, neg_ttl;
	struct step steps[40];
	/* the metrics at the end */
	int hits, misses, lru, expired;
};

static const struct script scripts[] = {
	{ "full: the least recently stored goes", 2, 60, 10, {
		{ PUT, "a", "inet:a:24", 0 }, { PUT, "b", "inet:b:24", 0 },
		{ PUT, "c", "inet:c:24", 0 }, { COUNT, NULL, NULL, 2 },
		{ GET, "a", NULL, -1 }, { GET, "b", "inet:b:24", 1 },
		{ GET, "c", "inet:c:24", 1 }, { END, NULL, NULL, 0 } },
	  2, 1, 1, 0 },
	{ "full: a hit makes an answer the most recent", 2, 60, 10, {
		{ PUT, "a", "inet:a:24", 0 }, { PUT, "b", "inet:b:24", 0 },
		{ GET, "a", "inet:a:24", 1 }, { PUT, "c", "inet:c:24", 0 },
		{ GET, "b", NULL, -1 }, { GET, "a", "inet:a:24", 1 },
		{ GET, "c", "inet:c:24", 1 }, { END, NULL, NULL, 0 } },
	  3, 1, 1, 0 },
	{ "eviction order, negative answers, TTLs", 3, 60, 10, {
		{ PUT, "a", "inet:a:24", 0 }, { PUT, "b", "inet:b:24", 0 },
		{ PUT_NEG, "c", NULL, 0 }, { COUNT, NULL, NULL, 3 },
		{ GET, "a", "inet:a:24", 1 },	/* oldest: b, c, a */
		{ PUT, "d", "inet:d:24", 0 },	/* b goes */
		{ GET, "b", NULL, -1 },
		{ GET, "c", NULL, 0 },		/* oldest: a, d, c */
		{ PUT, "e", "inet:e:24", 0 },	/* a goes */
		{ GET, "a", NULL, -1 }, { GET, "d", "inet:d:24", 1 },
		{ GET, "e", "inet:e:24", 1 }, { GET, "c", NULL, 0 },
		{ COUNT, NULL, NULL, 3 },
		{ TICK, NULL, NULL, 11 },	/* c's 10 s are over */
		{ GET, "c", NULL, -1 }, { COUNT, NULL, NULL, 2 },
		{ PUT, "f", "inet:f:24", 0 },	/* room: nothing goes */
		{ COUNT, NULL, NULL, 3 }, { GET, "d", "inet:d:24", 1 },
		{ TICK, NULL, NULL, 50 },	/* d's and e's 60 s too */
		{ GET, "d", NULL, -1 }, { GET, "e", NULL, -1 },
		{ GET, "f", "inet:f:24", 1 }, { COUNT, NULL, NULL, 1 },
		{ END, NULL, NULL, 0 } },
	  7, 5, 2, 3 },
	{ "a hit does not extend the TTL", 5, 60, 10, {
		{ PUT, "a", "inet:a:24", 0 }, { TICK, NULL, NULL, 59 },
		{ GET, "a", "inet:a:24", 1 }, { TICK, NULL, NULL, 1 },
		{ GET, "a", NULL, -1 }, { COUNT, NULL, NULL, 0 },
		{ END, NULL, NULL, 0 } },
	  1, 1, 0, 1 },
	{ "stored again: replaced, not duplicated", 2, 60, 10, {
		{ PUT_NEG, "a", NULL, 0 }, { PUT, "b", "inet:b:24", 0 },
		{ PUT, "a", "inet:a2:24", 0 }, { COUNT, NULL, NULL, 2 },
		{ GET, "a", "inet:a2:24", 1 },
		{ PUT, "b", "inet:b2:24", 0 },	/* oldest: a, b */
		{ PUT, "c", "inet:c:24", 0 },	/* a goes */
		{ GET, "a", NULL, -1 }, { GET, "b", "inet:b2:24", 1 },
		{ END, NULL, NULL, 0 } },
	  2, 1, 1, 0 },
	{ "negative TTL 0: unknown keys are not kept", 2, 60, 0, {
		{ PUT_NEG, "a", NULL, 0 }, { COUNT, NULL, NULL, 0 },
		{ GET, "a", NULL, -1 }, { PUT, "b", "inet:b:24", 0 },
		{ GET, "b", "inet:b:24", 1 }, { END, NULL, NULL, 0 } },
	  1, 1, 0, 0 },
};

/* metric_is - the rendered metrics hold "NAME VALUE" */
static void
metric_is(const char *text, const char *name, long value, const char *what)
{
	char *want = x_asprintf("\n%s %ld\n", name, value);

	like_str(text, want, "%s: %s", what, name);
	x_free(&want);
}

/* run_step - one step of a script */
static void
run_step(struct lmtp_cache *c, const struct script *s, const struct step *p,
	 size_t i)
{
	struct lmtp_lookup_result res;
	int got;

	memset(&res, 0, sizeof(res));
	switch (p->op) {
	case PUT:
	case PUT_NEG:
		res.backend = (char *)p->backend;
		lmtp_cache_put(c, p->key, p->op == PUT, &res);
		break;
	case GET:
		got = lmtp_cache_get(c, p->key, &res);
		is_int(got, p->n, "%s: step %zu: get %s", s->name, i, p->key);
		if (p->n == 1)
			is_str(res.backend, p->backend, "%s: step %zu: %s's "
			       "answer", s->name, i, p->key);
		x_free(&res.backend);
		x_free(&res.rewrite);
		break;
	case TICK:
		fake_now += (double)p->n;
		break;
	case COUNT:
		is_int((long long)lmtp_cache_count(c), p->n,
		       "%s: step %zu: count", s->name, i);
		break;
	case END:
		break;
	}
}

/* test_scripts - every script on a fresh cache */
static void
test_scripts(void)
{
	const struct script *s;
	const struct step *p;
	struct lmtp_cache *c;
	char *text;

	for (s = scripts; s < scripts + sizeof(scripts) / sizeof(scripts[0]);
	     s++) {
		metrics_reset();
		c = lmtp_cache_new("t", s->max, s->ttl, s->neg_ttl,
				   fake_clock);
		if (!ok(c != NULL, "%s: a cache", s->name))
			continue;
		for (p = s->steps; p->op != END; p++)
			run_step(c, s, p, (size_t)(p - s->steps) + 1);
		text = metrics_render(NULL);
		metric_is(text, "elemta_lmtp_t_cache_total{result=\"hit\"}",
			  s->hits, s->name);
		metric_is(text, "elemta_lmtp_t_cache_total{result=\"miss\"}",
			  s->misses, s->name);
		metric_is(text, "elemta_lmtp_t_cache_evictions_total"
			  "{reason=\"lru\"}", s->lru, s->name);
		metric_is(text, "elemta_lmtp_t_cache_evictions_total"
			  "{reason=\"expired\"}", s->expired, s->name);
		metric_is(text, "elemta_lmtp_t_cache_entries",
			  (long)lmtp_cache_count(c), s->name);
		x_free(&text);
		lmtp_cache_free(&c);
		ok(c == NULL, "%s: freed", s->name);
	}
}

/* test_none - configurations that cache nothing make no cache */
static void
test_none(void)
{
	struct lmtp_cache *c;

	ok(lmtp_cache_new("t", 0, 60, 10, NULL) == NULL, "size 0: no cache");
	ok(lmtp_cache_new("t", 10, 0, 0, NULL) == NULL, "TTLs 0: no cache");
	c = NULL;
	lmtp_cache_free(&c);
	ok(1, "lmtp_cache_free(NULL) is harmless");
}

/* test_many - 100000 keys through 50000 places: the newest half stays */
static void
test_many(void)
{
	struct lmtp_lookup_result res;
	struct lmtp_cache *c;
	char key[64], *text;
	int i, got, wrong_old = 0, wrong_new = 0;

	metrics_reset();
	c = lmtp_cache_new("t", 50000, 60, 60, fake_clock);
	memset(&res, 0, sizeof(res));
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "user%d@example.test", i);
		lmtp_cache_put(c, key, i % 2, &res);
	}
	is_int((long long)lmtp_cache_count(c), 50000, "many: full, no more");
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "user%d@example.test", i);
		got = lmtp_cache_get(c, key, &res);
		if (i < 50000 && got != -1)
			wrong_old++;
		if (i >= 50000 && got != i % 2)
			wrong_new++;
	}
	is_int(wrong_old, 0, "many: the 50000 oldest were evicted");
	is_int(wrong_new, 0, "many: the 50000 newest answer, as stored");
	text = metrics_render(NULL);
	metric_is(text, "elemta_lmtp_t_cache_evictions_total{reason=\"lru\"}",
		  50000, "many");
	x_free(&text);
	lmtp_cache_free(&c);
}

#define THREADS 4
#define ROUNDS 20000

/* hammer - random gets and puts on 500 keys */
static void *
hammer(void *arg)
{
	struct lmtp_cache *c = arg;
	struct lmtp_lookup_result res;
	unsigned seed = (unsigned)(size_t)&res;
	char key[32];
	int i;

	for (i = 0; i < ROUNDS; i++) {
		snprintf(key, sizeof(key), "k%d", rand_r(&seed) % 500);
		memset(&res, 0, sizeof(res));
		if (rand_r(&seed) % 3 == 0) {
			res.backend = key;
			lmtp_cache_put(c, key, 1, &res);
		} else if (lmtp_cache_get(c, key, &res) == 1) {
			if (res.backend == NULL || strcmp(res.backend, key))
				abort();	/* another key's answer */
			x_free(&res.backend);
		}
	}
	return NULL;
}

/* test_threads - several threads on one cache of 64 */
static void
test_threads(void)
{
	struct lmtp_cache *c = lmtp_cache_new("t", 64, 60, 60, NULL);
	pthread_t tid[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		if (pthread_create(&tid[i], NULL, hammer, c) != 0)
			bail_out("pthread_create");
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	ok(lmtp_cache_count(c) <= 64 && lmtp_cache_count(c) > 0,
	   "threads: %zu entries, at most 64, each key's own answer",
	   lmtp_cache_count(c));
	lmtp_cache_free(&c);
}

/* test_gauge - the entries gauge counts every live cache of a source */
static void
test_gauge(void)
{
	struct lmtp_lookup_result res;
	struct lmtp_cache *a, *b;
	char *text;

	metrics_reset();
	memset(&res, 0, sizeof(res));
	a = lmtp_cache_new("t", 10, 60, 60, fake_clock);
	b = lmtp_cache_new("t", 10, 60, 60, fake_clock);
	lmtp_cache_put(a, "x", 1, &res);
	lmtp_cache_put(a, "y", 0, &res);
	lmtp_cache_put(b, "x", 1, &res);
	text = metrics_render(NULL);
	metric_is(text, "elemta_lmtp_t_cache_entries", 3, "gauge: two caches");
	x_free(&text);
	lmtp_cache_free(&a);
	text = metrics_render(NULL);
	metric_is(text, "elemta_lmtp_t_cache_entries", 1,
		  "gauge: the first freed");
	x_free(&text);
	lmtp_cache_free(&b);
}

/* main - run every table */
int
main(void)
{
	plan_lazy();
	test_none();
	test_scripts();
	test_many();
	test_threads();
	test_gauge();
	done_testing();
	return exit_status();
}
