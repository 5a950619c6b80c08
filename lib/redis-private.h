/*++
 * NAME
 *	redis-private 3h
 * SUMMARY
 *	what lib/redis.c and lib/redis-cluster.c share (private to lib/)
 * SYNOPSIS
 *	#include "redis-private.h"
 * DESCRIPTION
 *	The client and its nodes.  redis.c connects to the nodes and calls
 *	them; redis-cluster.c says which node serves a key and follows
 *	redirections.
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

/* redis-cluster.c */
/* redis_node_of - the node that serves a slot, as far as we know */
size_t redis_node_of(const struct redis_client *rc, unsigned slot);
/* redis_redirected - follow a MOVED or ASK reply r of node *n: 1 (*n
 * the node it names, *asking for an ASK), 0 when r is no redirection,
 * -1 with err when the node it names is not to be trusted */
int redis_redirected(struct redis_client *rc, const redisReply *r,
		     size_t *n, int *asking, char *err, size_t errlen);

#endif
