/*++
 * NAME
 *	0018-snapshot 1
 * SUMMARY
 *	unit tests for lib/snapshot
 * DESCRIPTION
 *	References and the destructor (called once, by the last unref,
 *	never before), publication (the slot's own reference, generation
 *	numbers, NULL unpublishes), a generation made of others (as the
 *	milter's per-connection configuration + resolver + keys will be:
 *	its parts live as long as it does, whatever is published since),
 *	and readers taking and dropping references in several threads
 *	while a writer publishes: no reader ever holds an object whose
 *	destructor has run, generations only grow, and every object is
 *	destroyed exactly once at the end.  The writer waits for the
 *	readers to keep up, so that the publications and the references
 *	overlap.  Destroyed objects are marked,
 *	not freed, until the end, so a reference to one is seen without
 *	the sanitizer build too (which also runs this test).
 *--*/
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "snapshot.h"
#include "tap.h"

#define NREADERS	4
#define NPUBLISH	2000

struct obj {
	struct snapshot snap;
	int id;
	atomic_int destroyed;	/* times the destructor ran */
	struct obj *part[2];	/* composite: references to these */
};

static atomic_int destroyed_total;

/* obj_destroy - the destructor: mark, count, drop the parts */
static void
obj_destroy(void *p)
{
	struct obj *o = p;

	atomic_fetch_add(&o->destroyed, 1);
	atomic_fetch_add(&destroyed_total, 1);
	snapshot_unref(o->part[0] ? &o->part[0]->snap : NULL);
	snapshot_unref(o->part[1] ? &o->part[1]->snap : NULL);
}

/* obj_new - one reference, the caller's */
static struct obj *
obj_new(int id)
{
	struct obj *o = x_calloc(1, sizeof(*o));

	o->id = id;
	atomic_init(&o->destroyed, 0);
	snapshot_init(&o->snap, o, obj_destroy);
	return o;
}

/* refs - the count now */
static unsigned
refs(struct obj *o)
{
	return atomic_load(&o->snap.refs);
}

/* test_refs - init, ref, unref, the destructor once */
static void
test_refs(void)
{
	struct obj *a = obj_new(1);

	is_int(refs(a), 1, "new: one reference");
	ok(snapshot_ref(&a->snap) == a, "ref returns the object");
	is_int(refs(a), 2, "ref: two");
	ok(snapshot_ref(NULL) == NULL, "ref of NULL is NULL");
	snapshot_unref(NULL);
	snapshot_unref(&a->snap);
	is_int(atomic_load(&a->destroyed), 0, "unref of two: still alive");
	is_int(a->snap.generation, 0, "never published: generation 0");
	snapshot_unref(&a->snap);
	is_int(atomic_load(&a->destroyed), 1, "last unref destroys");
	free(a);
}

/* test_publish - the slot's reference, generations, NULL */
static void
test_publish(void)
{
	struct snapshot_slot slot = SNAPSHOT_SLOT_INIT;
	struct obj *a = obj_new(1), *b = obj_new(2), *cur;

	ok(snapshot_current(&slot) == NULL, "nothing published: NULL");
	snapshot_publish(&slot, &a->snap);
	is_int(refs(a), 1, "publish takes the caller's reference");
	is_int(a->snap.generation, 1, "first publication: generation 1");
	cur = snapshot_current(&slot);
	ok(cur == a, "current is the published one");
	is_int(refs(a), 2, "current: a reference of its own");
	snapshot_publish(&slot, &b->snap);
	is_int(b->snap.generation, 2, "second publication: generation 2");
	is_int(atomic_load(&a->destroyed), 0,
	       "replaced but held: not destroyed");
	is_int(refs(a), 1, "replaced: the slot's reference dropped");
	snapshot_unref(&cur->snap);
	is_int(atomic_load(&a->destroyed), 1,
	       "replaced: destroyed by its last holder");
	cur = snapshot_current(&slot);
	ok(cur == b, "new work gets the new one");
	snapshot_unref(&cur->snap);
	snapshot_publish(&slot, NULL);
	is_int(atomic_load(&b->destroyed), 1, "NULL unpublishes, destroys");
	ok(snapshot_current(&slot) == NULL, "unpublished: NULL");
	free(a);
	free(b);
}

/* test_composite - a generation holding references to its parts */
static void
test_composite(void)
{
	struct snapshot_slot conf_slot = SNAPSHOT_SLOT_INIT;
	struct snapshot_slot keys_slot = SNAPSHOT_SLOT_INIT;
	struct snapshot_slot gen_slot = SNAPSHOT_SLOT_INIT;
	struct obj *c1 = obj_new(1), *k1 = obj_new(2), *c2 = obj_new(3);
	struct obj *gen, *held;

	snapshot_publish(&conf_slot, &c1->snap);
	snapshot_publish(&keys_slot, &k1->snap);
	gen = obj_new(10);
	gen->part[0] = snapshot_current(&conf_slot);
	gen->part[1] = snapshot_current(&keys_slot);
	snapshot_publish(&gen_slot, &gen->snap);
	held = snapshot_current(&gen_slot);	/* a connection */
	snapshot_publish(&conf_slot, &c2->snap);	/* a reload */
	ok(held->part[0] == c1 && atomic_load(&c1->destroyed) == 0,
	   "composite: its configuration outlives a newer publication");
	snapshot_publish(&gen_slot, NULL);
	snapshot_publish(&keys_slot, NULL);
	is_int(atomic_load(&k1->destroyed), 0,
	       "composite: its keys live while a holder has it");
	snapshot_unref(&held->snap);
	ok(atomic_load(&gen->destroyed) == 1
	   && atomic_load(&c1->destroyed) == 1
	   && atomic_load(&k1->destroyed) == 1,
	   "composite: the last holder frees it and its parts");
	snapshot_publish(&conf_slot, NULL);
	is_int(atomic_load(&c2->destroyed), 1, "newer part: freed apart");
	free(c1);
	free(k1);
	free(c2);
	free(gen);
}

/*
 * Readers and a writer
 */

static struct snapshot_slot race_slot = SNAPSHOT_SLOT_INIT;
static atomic_int race_done;
static atomic_long race_taken;		/* by all readers */

struct reader {
	pthread_t tid;
	long taken;		/* references taken */
	long dead;		/* ... to an object already destroyed */
	long backwards;		/* ... of a generation older than seen */
	long none;		/* NULL from current() */
};

/* race_reader - take, check, hold a moment, drop; until the end */
static void *
race_reader(void *arg)
{
	struct reader *r = arg;
	unsigned long last = 0;
	struct obj *o;

	while (!atomic_load(&race_done)) {
		if ((o = snapshot_current(&race_slot)) == NULL) {
			r->none++;
			continue;
		}
		r->taken++;
		atomic_fetch_add(&race_taken, 1);
		if (o->snap.generation < last)
			r->backwards++;
		last = o->snap.generation;
		if (r->taken % 4 == 0)
			sched_yield();
		if (atomic_load(&o->destroyed) != 0)
			r->dead++;
		snapshot_unref(&o->snap);
	}
	return NULL;
}

/* test_race - NREADERS readers while NPUBLISH generations go by */
static void
test_race(void)
{
	struct reader rd[NREADERS] = { 0 };
	struct obj **all = x_calloc(NPUBLISH, sizeof(*all));
	long taken = 0, dead = 0, backwards = 0, none = 0, twice = 0;
	int i;

	atomic_store(&destroyed_total, 0);
	all[0] = obj_new(0);
	snapshot_publish(&race_slot, &all[0]->snap);
	for (i = 0; i < NREADERS; i++)
		if (pthread_create(&rd[i].tid, NULL, race_reader, &rd[i]) != 0)
			bail_out("pthread_create failed");
	for (i = 1; i < NPUBLISH; i++) {
		all[i] = obj_new(i);
		snapshot_publish(&race_slot, &all[i]->snap);
		/* let the readers take a few of each generation */
		while (atomic_load(&race_taken) < 4L * i)
			sched_yield();
	}
	atomic_store(&race_done, 1);
	for (i = 0; i < NREADERS; i++) {
		pthread_join(rd[i].tid, NULL);
		taken += rd[i].taken;
		dead += rd[i].dead;
		backwards += rd[i].backwards;
		none += rd[i].none;
	}
	diag("race: %ld references taken by %d readers over %d "
	     "publications", taken, NREADERS, NPUBLISH);
	ok(taken > 0, "race: the readers took references");
	is_int(dead, 0, "race: no reader held a destroyed object");
	is_int(backwards, 0, "race: no reader saw an older generation");
	is_int(none, 0, "race: always something published");
	is_int(atomic_load(&destroyed_total), NPUBLISH - 1,
	       "race: every replaced generation destroyed");
	is_int(refs(all[NPUBLISH - 1]), 1,
	       "race: the last one holds the slot's reference only");
	is_int(all[NPUBLISH - 1]->snap.generation, NPUBLISH,
	       "race: one generation number per publication");
	snapshot_publish(&race_slot, NULL);
	for (i = 0; i < NPUBLISH; i++) {
		if (atomic_load(&all[i]->destroyed) != 1)
			twice++;
		free(all[i]);
	}
	is_int(twice, 0, "race: each destroyed exactly once");
	free(all);
}

int
main(void)
{
	plan_lazy();
	test_refs();
	test_publish();
	test_composite();
	test_race();
	done_testing();
	return exit_status();
}
