/*++
 * NAME
 *	redis-private 3h
 * SUMMARY
 *	what lib/redis*.c share (private to lib/)
 * SYNOPSIS
 *	#include "redis-private.h"
 * DESCRIPTION
 *	The client and its nodes.  redis.c connects to the nodes and calls
 *	them; redis-cluster.c says which node serves a key and follows
 *	redirections; redis-pipe.c sends many calls in one round trip.
 *--*/
#ifndef REDIS_PRIVATE_H
#define REDIS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis.h"

#define REDIS_SCRIPTS		8
#define REDIS_NODES		16	/* connections at most, node 0 included */
#define REDIS_SLOTS		16384
#define REDIS_NO_NODE		0xff	/* slot map: not known, ask node 0 */
#define REDIS_REDIRECTS		5	/* per call, against loops */
#define REDIS_ADDR		280
/* What the errors of a script call name, whichever of its commands
 * failed (SCRIPT LOAD, TIME for the deadline, ASKING, EVALSHA, EVAL):
 * "redis HOST:PORT script: timed out" */
#define REDIS_OP_SCRIPT		"script"
#define REDIS_BACKOFF_MIN_MS	250	/* after a failure, no connect for */
#define REDIS_BACKOFF_MAX_MS	5000	/* (doubled at each, up to this) */

struct redis_sha {
	const char *script;	/* the caller's text (compared by address) */
	char sha[41];
};

struct redis_node {
	char addr[280];			/* "host:port", "[v6]:port", "/path" */
	redisContext *ctx;		/* NULL: not connected */
	struct redis_sha shas[REDIS_SCRIPTS];
	size_t nshas;
	int64_t off_us;			/* its TIME minus our monotonic us, */
	int64_t clock_at;		/* learnt then (monotonic ms, 0: not) */
};

struct redis_client {
	struct redis_conf conf;		/* copied */
	struct redis_node nodes[REDIS_NODES];
	size_t nnodes;			/* node 0 always counts */
	unsigned char *slots;		/* slot -> node; NULL until a MOVED */
	char (*learnt)[REDIS_ADDR];	/* nodes CLUSTER SLOTS named */
	size_t nlearnt;
	int64_t learnt_at;		/* monotonic ms of the last ask */
	size_t server;			/* in use, or the next to try */
	int64_t next_try;		/* monotonic ms: no connect before */
	int64_t backoff;
	struct redis_stats stats;
};

/* redis.c */
/* redis_drop - forget node n's connection and what it knew */
void redis_drop(struct redis_client *rc, size_t n);
/* redis_connect - make sure node n has a connection; 0 or -1 */
int redis_connect(struct redis_client *rc, size_t n, char *err,
		  size_t errlen);
/* redis_call - one command on node n; 0 (*r may be an error reply), or
 * -1 with err */
int redis_call(struct redis_client *rc, size_t n, const char *what,
	       int argc, const char **argv, redisReply **r, char *err,
	       size_t errlen);
/* redis_failed - a failure of what on node n (why): err filled, the
 * connection dropped, the back-off grown; -1 */
int redis_failed(struct redis_client *rc, size_t n, char *err,
		 size_t errlen, const char *what, const char *why);
/* redis_success - a call went through: reset the back-off; 0 */
int redis_success(struct redis_client *rc);
/* redis_ctx_why - the error text of a context */
const char *redis_ctx_why(const redisContext *ctx);
/* redis_sha_known - the SHA1 of script on a node, if loaded there */
const char *redis_sha_known(const struct redis_node *nd,
			    const char *script);
/* redis_sha_of - the SHA1 of script on node n (SCRIPT LOAD when not
 * known there); NULL with err */
const char *redis_sha_of(struct redis_client *rc, size_t n,
			 const char *script, char *err, size_t errlen);
/* redis_deadline - the deadline of a call about to be sent to node n,
 * on the node's clock, as text into buf; 0 or -1 */
int redis_deadline(struct redis_client *rc, size_t n, char *buf,
		   size_t buflen, char *err, size_t errlen);
/* redis_eval_one - one script call on the key's node, following
 * redirections (with deadline: the call's deadline as one more
 * argument; with check: the reply checked, as redis_eval.check says);
 * 0 with *reply, or -1 with err */
int redis_eval_one(struct redis_client *rc, const char *script,
		   const char *key, int argc, const char *const *argv,
		   int deadline,
		   int (*check)(const struct redisReply *, char *, size_t),
		   struct redisReply **reply, char *err, size_t errlen);

/* redis-cluster.c */
/* redis_node_of - the node that serves a slot, as far as we know */
size_t redis_node_of(const struct redis_client *rc, unsigned slot);
/* redis_redirected - follow a MOVED or ASK reply r of node *n: 1 (*n
 * the node it names, *asking for an ASK), 0 when r is no redirection,
 * -1 with err when the node it names is not to be trusted */
int redis_redirected(struct redis_client *rc, const redisReply *r,
		     size_t *n, int *asking, char *err, size_t errlen);

#endif
