/*++
 * NAME
 *	policyd-policy-run 3
 * SUMMARY
 *	where a request's store operations run: Redis, or the local store
 * DESCRIPTION
 *	See policyd-policy.h.  With Redis, the operations of a request (or
 *	of a batch) go in one round trip; where Redis fails, an operation
 *	is counted in the local store when store_fallback = local, and
 *	Redis going down or coming back is logged once and shown in
 *	elemta_policyd_redis_up.  A refund goes where its take was.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "policyd-policy.h"
#include "policyd-policy-private.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"
#include "xalloc.h"

/* policy_redis_state - note Redis going down or coming back */
static void
policy_redis_state(struct policyd_policy *pol, int ok, const char *why)
{
	if (ok && pol->redis_down) {
		pol->redis_down = 0;
		metric_set(pol->m_redis_up, 1);
		msg_info("policyd redis store is back: counting in Redis"
			 " again");
	} else if (!ok && !pol->redis_down) {
		pol->redis_down = 1;
		metric_set(pol->m_redis_up, 0);
		msg_warn("policyd redis store failed: %s; until it is back, %s",
			 why, pol->fallback == POLICYD_FALLBACK_LOCAL
			 ? "counting in the local store (store_fallback ="
			 " local)" : "store_fail_action answers");
	}
}

/* policy_local_run - one op on the local store */
static void
policy_local_run(struct policyd_policy *pol, struct policy_op *op,
		 int64_t now)
{
	const struct policy_take *t = op->refund;

	op->in_redis = 0;
	if (t != NULL) {
		op->back = policyd_store_refund(pol->store, t->key, &t->lim,
						t->at, t->weight, op->why,
						sizeof(op->why));
		op->rc = op->back < 0 ? -1 : 0;
	} else
		op->rc = policyd_store_take(pol->store, op->skey, &op->lim, now,
					    op->w, op->peek, &op->r, op->why,
					    sizeof(op->why));
}

/* policyd_policy_run - run ops: in Redis, all at once, or in the local
 * store (where Redis failed, with store_fallback = local; a refund goes
 * where its take was) */
void
policyd_policy_run(struct policyd_policy *pol, const char *qid,
		   struct policy_op *ops, size_t n, int64_t now)
{
	struct policyd_redis_op *rops = NULL;
	size_t i, nr = 0;
	double t0 = clock_mono_s();

	if (n == 0)
		return;
	for (i = 0; pol->redis != NULL && i < n; i++)
		if (ops[i].refund == NULL || ops[i].refund->redis)
			nr++;
	if (nr > 0) {
		rops = x_calloc(nr, sizeof(*rops));
		for (i = 0, nr = 0; i < n; i++) {
			const struct policy_take *t = ops[i].refund;

			if (t != NULL && !t->redis)
				continue;
			rops[nr].key = t ? t->key : ops[i].skey;
			rops[nr].lim = t ? &t->lim : &ops[i].lim;
			rops[nr].weight = t ? t->weight : ops[i].w;
			rops[nr].refund = t != NULL;
			rops[nr].peek = ops[i].peek;
			rops[nr].at = t ? t->at : 0;
			nr++;
		}
		policyd_redis_run_many(pol->redis, rops, nr);
	}
	for (i = 0, nr = 0; i < n; i++) {
		struct policy_op *op = &ops[i];

		if (pol->redis == NULL || (op->refund && !op->refund->redis)) {
			policy_local_run(pol, op, now);
			continue;
		}
		op->rc = rops[nr].rc;
		op->r = rops[nr].r;
		op->back = rops[nr].back;
		snprintf(op->why, sizeof(op->why), "%s", rops[nr].err);
		nr++;
		policy_redis_state(pol, op->rc == 0, op->why);
		op->in_redis = op->rc == 0;
		if (op->rc == 0 || op->refund != NULL
		    || pol->fallback != POLICYD_FALLBACK_LOCAL)
			continue;
		metric_inc(pol->m_store_errors, "redis");
		metric_inc(pol->m_fallbacks);
		qid_debug(qid, "policyd redis failed (%s): key=%s counted in"
			  " the local store", op->why, op->skey);
		policy_local_run(pol, op, now);
	}
	free(rops);
	t0 = (clock_mono_s() - t0) / (double)n;	/* each op's share */
	for (i = 0; i < n; i++)
		metric_observe(pol->m_store_seconds, t0);
}

/* policyd_policy_refund - give takes back (one round trip in Redis);
 * logs each */
void
policyd_policy_refund(struct policyd_policy *pol, const char *qid,
		      const struct policy_take *t, size_t n,
		      const char *reason)
{
	struct policy_op *ops;
	size_t i;

	if (n == 0)
		return;
	ops = x_calloc(n, sizeof(*ops));
	for (i = 0; i < n; i++)
		ops[i].refund = &t[i];
	policyd_policy_run(pol, qid, ops, n, 0);	/* (no clock) */
	for (i = 0; i < n; i++) {
		if (ops[i].rc < 0) {
			metric_inc(pol->m_store_errors, "refund");
			qid_warn(qid, "policyd refund failed key=%s"
				 " weight=%llu error=\"%s\"", t[i].key,
				 (unsigned long long)t[i].weight, ops[i].why);
			continue;
		}
		metric_inc(pol->m_refunds, reason);
		qid_debug(qid, "policyd refund key=%s weight=%llu"
			  " given_back=%lld reason=%s", t[i].key,
			  (unsigned long long)t[i].weight,
			  (long long)ops[i].back, reason);
	}
	free(ops);
}
