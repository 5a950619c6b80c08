/*++
 * NAME
 *	policyd-policy-private 3h
 * SUMMARY
 *	what policyd-policy.c and policyd-policy-run.c share (private)
 * SYNOPSIS
 *	#include "policyd-policy-private.h"
 * DESCRIPTION
 *	The policy, and the store operations of a request: planned and
 *	looked at by policyd-policy.c, run by policyd-policy-run.c (in
 *	Redis, or in the local store).
 *--*/
#ifndef POLICYD_POLICY_PRIVATE_H
#define POLICYD_POLICY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-limit.h"
#include "policyd-options.h"
#include "policyd-txn.h"

struct htable;
struct metric;
struct policy_limit;
struct policyd_exempt;
struct policyd_ldap;
struct policyd_redis;
struct policyd_store;

struct policyd_policy {
	struct policyd_store *store;
	struct htable *txns;	/* instance -> struct policy_txn */
	struct policyd_limit_conf *conf_limits;	/* owns names */
	struct policy_limit *limits;
	size_t nlimits;
	struct policyd_exempt *exempt;
	enum policyd_fail_action fail_action;
	struct policyd_redis *redis;	/* NULL: the local store only */
	struct policyd_ldap *ldap;	/* NULL: no directory */
	int ldap_used;			/* a limit has an ldap_attribute */
	enum policyd_fallback fallback;
	int redis_down;			/* its last call failed */
	int cal_utc;			/* quotas in UTC (else TZ's zone) */
	int64_t calq[3][4];		/* by enum policyd_calendar: the
					 * periods around the last now */
	struct metric *m_requests;	/* state, action */
	struct metric *m_hits;		/* limit */
	struct metric *m_dry;		/* limit */
	struct metric *m_refunds;	/* reason */
	struct metric *m_store_seconds;
	struct metric *m_store_errors;	/* op */
	struct metric *m_txns;
	struct metric *m_fallbacks;
	struct metric *m_redis_up;
};

/* One store operation of a request: planned, then run with the others
 * of the request (in Redis: one round trip for them all), then looked
 * at.  A take (or peek) or a refund. */
struct policy_op {
	const struct policy_limit *pl;	/* a take's limit */
	char *key;			/* a take's TAG:VALUE */
	char *skey;			/* the store key */
	struct policyd_limit lim;	/* as applied */
	char period[24];
	int from_ldap;			/* the user's own rate */
	uint64_t w;
	int peek;
	const struct policy_take *refund;	/* a refund: of that take */
	int rc;				/* 0, or -1 with why */
	int in_redis;			/* counted in Redis */
	struct policyd_limit_result r;
	int64_t back;			/* a refund's weight given back */
	char why[256];
};

/* policyd_policy_run - run ops: in Redis, all at once, or in the local
 * store (where Redis failed, with store_fallback = local; a refund goes
 * where its take was); each op's rc, r, back and why filled in */
void policyd_policy_run(struct policyd_policy *pol, const char *qid,
			struct policy_op *ops, size_t n, int64_t now);
/* policyd_policy_refund - give n takes back (one round trip in Redis);
 * logs each */
void policyd_policy_refund(struct policyd_policy *pol, const char *qid,
			   const struct policy_take *t, size_t n,
			   const char *reason);

#endif
