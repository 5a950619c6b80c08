/*++
 * NAME
 *	snapshot 3
 * SUMMARY
 *	reference-counted publication of immutable generations
 * DESCRIPTION
 *	See snapshot.h.  The count is atomic so that a holder drops its
 *	reference without a lock; the slot's mutex only orders "read the
 *	published pointer and count a reference to it" against "replace
 *	the pointer", which is what keeps a reader from taking a
 *	reference to an object whose last reference is being dropped.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "snapshot.h"

/* snapshot_init - one reference, the caller's */
void
snapshot_init(struct snapshot *s, void *obj, void (*destroy)(void *))
{
	atomic_init(&s->refs, 1);
	s->generation = 0;
	s->obj = obj;
	s->destroy = destroy;
}

/* snapshot_ref - one more reference */
void *
snapshot_ref(struct snapshot *s)
{
	if (s == NULL)
		return NULL;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s->obj;
}

/* snapshot_unref - drop a reference; the last one destroys */
void
snapshot_unref(struct snapshot *s)
{
	if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1,
						   memory_order_acq_rel) == 1)
		s->destroy(s->obj);
}

/* snapshot_current - a new reference to the published object */
void *
snapshot_current(struct snapshot_slot *slot)
{
	void *obj;

	pthread_mutex_lock(&slot->lock);
	obj = snapshot_ref(slot->current);
	pthread_mutex_unlock(&slot->lock);
	return obj;
}

/* snapshot_publish - replace the published object */
void
snapshot_publish(struct snapshot_slot *slot, struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->current;
	if (s != NULL)
		s->generation = ++slot->generations;
	slot->current = s;
	pthread_mutex_unlock(&slot->lock);
	snapshot_unref(old);
}
