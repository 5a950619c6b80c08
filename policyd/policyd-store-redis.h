/*++
 * NAME
 *	policyd-store-redis 3h
 * SUMMARY
 *	rate limit state shared by several nodes in Redis
 * SYNOPSIS
 *	#include "policyd-store-redis.h"
 *
 *	struct policyd_redis *rs = policyd_redis_new(redis_conf);
 *	if (policyd_redis_take(rs, "msg:ip:192.0.2.10", &lim, 0, 1, 0, &r,
 *			       err, sizeof err) < 0)
 *		... Redis failed: fall back, or store_fail_action ...
 *	policyd_redis_free(&rs);
 * DESCRIPTION
 *	Each check is one Lua script on one key (policyd_redis_script),
 *	run atomically by the server: it reads the key's log of (time,
 *	weight) entries, applies exactly the rules of policyd_limit_take()
 *	(see policyd-limit.h: "N per P" over any window, the same merging
 *	of a full log, the same retry time), writes the log back and sets
 *	the key to expire when its newest entry stops counting (PX), or
 *	deletes it when nothing counts any more (a peek, too, drops the
 *	entries that stopped counting, as policyd_limit_peek() does).
 *	The time is Redis's own (TIME), so the clocks of the nodes do not
 *	matter; a clock argument other than 0 replaces it, for tests only.
 *
 *	A calendar quota (period_ms 0) is another script on the same kind
 *	of key, policyd_redis_quota_script: the node sends the calendar
 *	(the starts and ends of the periods around its time, from its time
 *	zone: policyd-calendar.h) and Redis's TIME picks the period among
 *	them, so the nodes' clocks still do not matter (within a period).
 *	The value is one "START:COUNT" entry, expiring when its period
 *	ends.
 *
 *	The key is redis.key_prefix + "policyd:{" + key + "}": one key per
 *	script call, hash-tagged, so it works against Redis Cluster (whose
 *	MOVED and ASK redirections lib/redis.c follows).  The value is
 *	MessagePack of two arrays, times (ms) and weights (cmsgpack is four
 *	times faster in Redis's Lua than parsing text); the text form
 *	"T:W T:W ..." of earlier versions is still read.  To look at one:
 *	redis-cli EVAL "$(policyd_redis_dump_script)" 1 KEY, or
 *	EVAL "return cjson.encode({cmsgpack.unpack(redis.call('GET',
 *	KEYS[1]))})" 1 KEY.
 *
 *	A take (or peek) has a deadline (redis.h): a script that Redis
 *	runs after policyd gave up on it (command_timeout_ms: Redis
 *	stopped, or too busy) takes nothing and answers {-1, 0, 0, late};
 *	policyd_redis_take fails then, as for the timeout.  So a request
 *	answered with store_fail_action is never counted, whenever Redis
 *	gets to its script.  A refund has none (late, it gives back what
 *	was meant to be given back).

 *	Blocking: see redis.h (synchronous, command_timeout_ms at most).
 *--*/
#ifndef ELEMTA_POLICYD_STORE_REDIS_H
#define ELEMTA_POLICYD_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-limit.h"
#include "redis.h"

struct policyd_redis;

extern const char policyd_redis_script[];
/* a key's log as text, "T:W T:W ..." (it is stored as MessagePack) */
extern const char policyd_redis_dump_script[];

/* policyd_redis_new - a store on a client for c (connects lazily) */
struct policyd_redis *policyd_redis_new(const struct redis_conf *c);
void policyd_redis_free(struct policyd_redis **rsp);

/* policyd_redis_take - policyd_limit_take (or _peek) on key's state in
 * Redis; clock: 0 for Redis's clock (ms otherwise, tests); 0 with r
 * filled, -1 with a message */
int policyd_redis_take(struct policyd_redis *rs, const char *key,
		       const struct policyd_limit *lim, int64_t clock,
		       uint64_t weight, int peek,
		       struct policyd_limit_result *r, char *err,
		       size_t errlen);

/* policyd_redis_refund - policyd_limit_refund (a quota's: _refund_quota)
 * on key's state in Redis (one script, policyd_redis_refund_script; the
 * key keeps its TTL); the weight given back, or -1 with a message */
extern const char policyd_redis_refund_script[];
extern const char policyd_redis_quota_script[];
int64_t policyd_redis_refund(struct policyd_redis *rs, const char *key,
			     const struct policyd_limit *lim, int64_t at,
			     uint64_t weight, char *err, size_t errlen);

/* policyd_redis_reset - delete key's state in Redis (elemta-ctl
 * ratelimit reset): every node sees it at its next check; 1 if there
 * was a state, 0 if not, -1 with a message */
int policyd_redis_reset(struct policyd_redis *rs, const char *key,
			char *err, size_t errlen);

/* One check or refund of a batch (policyd_redis_run_many). */
struct policyd_redis_op {
	const char *key;		/* in: the limit key */
	const struct policyd_limit *lim;
	uint64_t weight;
	int refund;			/* 1: a refund (at), else a take */
	int peek;			/* a take: only look */
	int64_t clock;			/* a take: 0, Redis's clock */
	int64_t at;			/* a refund: the take's r.at */
	int rc;				/* out: 0, or -1 with err */
	struct policyd_limit_result r;	/* out: a take's */
	int64_t back;			/* out: a refund's weight given back */
	char err[256];
};

/* policyd_redis_run_many - every op in one round trip (pipelined, see
 * redis_client_eval_many), run by Redis in their order; each op's rc
 * says how it went (a Redis that fails in the middle fails the ops not
 * answered yet); returns how many failed */
size_t policyd_redis_run_many(struct policyd_redis *rs,
			      struct policyd_redis_op *ops, size_t n);

/* policyd_redis_key - the Redis key of a limit key */
void policyd_redis_key(const struct policyd_redis *rs, const char *key,
		       char *out, size_t outlen);

void policyd_redis_stats(const struct policyd_redis *rs,
			 struct redis_stats *out);

#endif
