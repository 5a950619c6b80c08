/*++
 * NAME
 *	policyd-policy-private 3h
 * SUMMARY
 *	what the policyd-policy*.c files share (private)
 * SYNOPSIS
 *	#include "policyd-policy-private.h"
 * DESCRIPTION
 *	The policy (made and configured by policyd-policy-conf.c), the
 *	request being answered, and the store operations of a request:
 *	planned and looked at by policyd-policy.c, run by
 *	policyd-policy-run.c (in Redis, or in the local store), for one
 *	request or for a batch (policyd-policy-batch.c).
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
struct policy_hit;
struct policyd_exempt;
struct policyd_ldap;
struct policyd_ldap_answer;
struct policyd_redis;
struct policyd_req;
struct policyd_session;
struct policyd_store;

/* A configured limit, as the decisions use it. */
struct policy_limit {
	struct policyd_limit_conf c;
	char period[24];	/* "1h", for texts */
	const char *prefix;	/* of store keys: "msg" or the name */
	int lprefix;		/* "l:" before a name */
};

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

/* The request being answered. */
struct policy_ctx {
	const struct policyd_req *req;
	const char *state, *qid, *inst;
	int rcpt, data, eom;		/* which state */
	int64_t now;
	struct policy_txn *txn;		/* NULL: not seen before */
	struct policy_take *takes;	/* grown as needed */
	size_t ntakes, maxtakes;
	struct policy_op *ops;		/* planned, then run together */
	size_t nops, maxops;
	struct policy_hit *hits;
	size_t nhits;
	int store_failed;		/* and store_fail_action = defer */
	int store_errors;
	const struct policyd_ldap_answer *ldap;	/* the user's entry */
	char why[256];
};

#define POLICY_PLANNED	((size_t)-1)	/* policyd_policy_begin: ops to run */

/* policyd_policy_begin - a request up to its store operations: answered
 * at once (the reply's length), 0 when it waits for the directory, or
 * POLICY_PLANNED with the operations in cx->ops (policyd-policy.c) */
size_t policyd_policy_begin(struct policyd_policy *pol,
			    struct policyd_session *sess,
			    const struct policyd_req *req, int64_t now,
			    struct policy_ctx *cx, char *reply,
			    size_t replylen);
/* policyd_policy_finish - the answer of a planned request, its
 * operations run (policyd-policy.c) */
size_t policyd_policy_finish(struct policyd_policy *pol,
			     struct policyd_session *sess,
			     struct policy_ctx *cx, char *reply,
			     size_t replylen);
/* policyd_policy_calendar - a quota's periods around now, into q
 * (policyd-policy.c) */
void policyd_policy_calendar(struct policyd_policy *pol,
			     enum policyd_calendar cal, int64_t now,
			     int64_t q[4]);
/* policyd_policy_unit_text - "Message", "Recipient", "Byte"
 * (policyd-policy.c) */
const char *policyd_policy_unit_text(enum policyd_unit u);
/* policyd_policy_period_text - 3600 -> "1h", a quota "day"
 * (policyd-policy-conf.c) */
void policyd_policy_period_text(const struct policyd_rate *rate,
				char *out, size_t len);

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
