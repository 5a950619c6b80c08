/*++
 * NAME
 *	policyd-policy-batch 3
 * SUMMARY
 *	requests of several connections answered with one store round trip
 * DESCRIPTION
 *	See policyd-policy.h.  Each request of a batch is taken up to its
 *	store operations (policyd_policy_begin); the operations of them
 *	all then run at once (one Redis round trip) and each request is
 *	answered in turn (policyd_policy_finish).  A batch holds one
 *	request per connection and per transaction.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policyd-policy.h"
#include "policyd-policy-private.h"
#include "xalloc.h"

/* A request in a batch. */
struct policy_batch_item {
	struct policy_ctx cx;
	struct policyd_session *sess;
	void *owner;
};

struct policyd_batch {
	struct policy_batch_item **items;
	size_t n, max;
};

/* policyd_policy_batch_new - an empty batch */
struct policyd_batch *
policyd_policy_batch_new(void)
{
	return x_calloc(1, sizeof(struct policyd_batch));
}

/* policyd_policy_batch_free - destroy an empty batch */
void
policyd_policy_batch_free(struct policyd_batch **bp)
{
	if (*bp == NULL)
		return;
	if ((*bp)->n > 0)
		msg_panic("policyd_policy_batch_free: %zu requests not run",
			  (*bp)->n);
	x_free(&(*bp)->items);
	x_free(bp);
}

/* policyd_policy_batch_size - how many requests wait in the batch */
size_t
policyd_policy_batch_size(const struct policyd_batch *b)
{
	return b->n;
}

/* policyd_policy_batch_add - req joins the batch, or is answered now */
size_t
policyd_policy_batch_add(struct policyd_policy *pol, struct policyd_batch *b,
			 struct policyd_session *sess,
			 const struct policyd_req *req, int64_t now,
			 void *owner, char *reply, size_t replylen)
{
	struct policy_batch_item *it;
	const char *inst = req->v[POLICYD_A_INSTANCE] != NULL
		? req->v[POLICYD_A_INSTANCE] : "";
	size_t i, n;

	/* one request per session and per transaction: the second would
	 * have to see what the first took */
	for (i = 0; i < b->n; i++)
		if ((sess != NULL && b->items[i]->sess == sess)
		    || (*inst && strcmp(b->items[i]->cx.inst, inst) == 0))
			return POLICYD_BATCH_FULL;
	it = x_malloc(sizeof(*it));
	if ((n = policyd_policy_begin(pol, sess, req, now, &it->cx, reply,
				      replylen)) != POLICY_PLANNED) {
		x_free(&it);
		return n;
	}
	it->sess = sess;
	it->owner = owner;
	if (b->n == b->max) {
		b->max = b->max ? 2 * b->max : 16;
		b->items = x_realloc(b->items, b->max * sizeof(*b->items));
	}
	b->items[b->n++] = it;
	return POLICYD_BATCH_JOINED;
}

/* policyd_policy_batch_run - every request's store operations at once
 * (one Redis round trip), then each request's answer, in order */
void
policyd_policy_batch_run(struct policyd_policy *pol, struct policyd_batch *b,
			 void (*done)(void *owner, const char *reply,
				      size_t len, void *arg), void *arg)
{
	struct policy_op *all;
	char reply[1024];
	size_t i, k, nall = 0;

	for (i = 0; i < b->n; i++)
		nall += b->items[i]->cx.nops;
	if (nall > 0) {
		all = x_malloc(nall * sizeof(*all));
		for (i = 0, k = 0; i < b->n; i++) {
			struct policy_ctx *cx = &b->items[i]->cx;

			if (cx->nops > 0)
				memcpy(all + k, cx->ops, cx->nops
				       * sizeof(*all));
			k += cx->nops;
		}
		policyd_policy_run(pol, b->n == 1 ? b->items[0]->cx.qid
				   : "NOQUEUE", all, nall,
				   b->items[0]->cx.now);
		for (i = 0, k = 0; i < b->n; i++) {
			struct policy_ctx *cx = &b->items[i]->cx;

			if (cx->nops > 0)
				memcpy(cx->ops, all + k, cx->nops
				       * sizeof(*all));
			k += cx->nops;
		}
		free(all);
	}
	for (i = 0; i < b->n; i++) {
		struct policy_batch_item *it = b->items[i];
		size_t n = policyd_policy_finish(pol, it->sess, &it->cx,
						 reply, sizeof(reply));

		done(it->owner, reply, n, arg);
		x_free(&it);
	}
	b->n = 0;
}
