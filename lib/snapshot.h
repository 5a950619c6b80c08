/*++
 * NAME
 *	snapshot 3h
 * SUMMARY
 *	reference-counted publication of immutable generations
 * SYNOPSIS
 *	#include "snapshot.h"
 *
 *	struct thing {
 *		struct snapshot snap;
 *		...
 *	};
 *	static struct snapshot_slot thing_slot = SNAPSHOT_SLOT_INIT;
 *
 *	t = x_calloc(1, sizeof(*t));
 *	snapshot_init(&t->snap, t, thing_free);	(one reference, ours)
 *	snapshot_publish(&thing_slot, &t->snap);	(the slot takes it)
 *
 *	t = snapshot_current(&thing_slot);	(a reference of our own)
 *	...
 *	snapshot_unref(&t->snap);
 * DESCRIPTION
 *	A daemon builds a new generation of something (a configuration,
 *	a resolver, a key table, a routing state) when it reloads, and
 *	publishes it for new work while work in progress finishes on the
 *	generation it holds.  The object embeds a struct snapshot: its
 *	reference count and its destructor.  A struct snapshot_slot holds
 *	the published generation.
 *
 *	snapshot_current() hands out a new reference to the published
 *	object; snapshot_publish() replaces it, taking over the caller's
 *	reference and dropping the slot's reference to the one it
 *	replaces; the last snapshot_unref() calls the destructor.  A
 *	reader therefore never sees a freed object: the slot's own
 *	reference keeps the published one alive until the reader has
 *	taken its reference, under the slot's lock.  All of this is
 *	thread-safe; the objects themselves are meant to be immutable
 *	once published (or to lock what changes, as a cache does).
 *
 *	An object made of others (a per-connection generation holding a
 *	configuration, a resolver and keys) is one more snapshot whose
 *	destructor unrefs its parts: publishing it makes the parts change
 *	together.
 *
 *	Each publication numbers the object it publishes: generation is
 *	1 for the first published in a slot, then 2, 3...; 0 for one never
 *	published.
 *--*/
#ifndef ELEMTA_SNAPSHOT_H
#define ELEMTA_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>

struct snapshot {
	atomic_uint refs;
	unsigned long generation;	/* set by snapshot_publish */
	void *obj;			/* what destroy frees */
	void (*destroy)(void *obj);
};

struct snapshot_slot {
	pthread_mutex_t lock;
	struct snapshot *current;	/* holds one reference */
	unsigned long generations;	/* published so far */
};

#define SNAPSHOT_SLOT_INIT	{ PTHREAD_MUTEX_INITIALIZER, NULL, 0 }

/* snapshot_init - s belongs to obj; one reference (the caller's); the
 * last unref calls destroy(obj) */
void snapshot_init(struct snapshot *s, void *obj, void (*destroy)(void *));

/* snapshot_ref - one more reference; returns s's object (NULL for a
 * NULL s) */
void *snapshot_ref(struct snapshot *s);

/* snapshot_unref - drop a reference (NULL is ignored); the last one
 * destroys the object */
void snapshot_unref(struct snapshot *s);

/* snapshot_current - a new reference to the published object, or NULL
 * when nothing is published */
void *snapshot_current(struct snapshot_slot *slot);

/* snapshot_publish - make s (NULL: nothing) the published one, taking
 * over the caller's reference; the replaced one loses the slot's */
void snapshot_publish(struct snapshot_slot *slot, struct snapshot *s);

#endif
