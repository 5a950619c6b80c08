/*++
 * NAME
 *	redis-pipe 3
 * SUMMARY
 *	several script calls in one round trip per node (a pipeline)
 * DESCRIPTION
 *	See redis.h (redis_client_eval_many).  The calls are grouped by
 *	the node that serves their key; on each node the scripts are
 *	loaded first (SCRIPT LOAD is a round trip of its own), then every
 *	EVALSHA is queued, sent, and the replies read in order.  A call
 *	that comes back redirected (MOVED, ASK) or NOSCRIPT runs again
 *	alone, through redis_eval_one.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis.h"
#include "redis-private.h"
#include "xalloc.h"

/* The state of one call of a pipeline. */
enum redis_pstate {
	REDIS_P_PENDING,	/* not sent yet */
	REDIS_P_SENT,		/* sent: its reply is to be read */
	REDIS_P_DONE,		/* answered, or failed */
	REDIS_P_ALONE,		/* to run again alone (redirected, NOSCRIPT) */
};

/* redis_pipe_fail - call i of a pipeline failed with err */
static void
redis_pipe_fail(struct redis_eval *ev, unsigned char *st, const char *err)
{
	ev->rc = -1;
	snprintf(ev->err, sizeof(ev->err), "%s", err);
	*st = REDIS_P_DONE;
}

/* redis_pipe_fail_node - every call of node nd not sent yet failed
 * with err */
static void
redis_pipe_fail_node(size_t nd, struct redis_eval *ev, const size_t *node,
		     unsigned char *st, size_t n, const char *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (node[i] == nd && st[i] == REDIS_P_PENDING)
			redis_pipe_fail(&ev[i], &st[i], err);
}

/* redis_pipe_load - SCRIPT LOAD (a round trip) once per script and
 * connection, before anything is queued: its reply must not be taken
 * for another's */
static void
redis_pipe_load(struct redis_client *rc, size_t nd, struct redis_eval *ev,
		const size_t *node, unsigned char *st, size_t n, char *err,
		size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (node[i] != nd || st[i] != REDIS_P_PENDING)
			continue;
		if (ev[i].argc < 0 || ev[i].argc > 60) {
			redis_pipe_fail(&ev[i], &st[i], "redis: too many"
					" arguments");
			continue;
		}
		if (redis_sha_of(rc, nd, ev[i].script, err,
				 errlen) == NULL) {
			if (rc->nodes[nd].ctx == NULL)
				break;		/* the connection is gone */
			redis_pipe_fail(&ev[i], &st[i], err);
		}
	}
}

/* redis_pipe_send - queue the EVALSHA of every pending call of node nd
 * (dl: the deadline argument); how many were sent */
static size_t
redis_pipe_send(struct redis_client *rc, size_t nd, struct redis_eval *ev,
		const size_t *node, unsigned char *st, size_t n,
		const char *dl, char *err, size_t errlen)
{
	const char *av[66], *sha;
	size_t i, sent = 0;
	int k;

	for (i = 0; i < n && rc->nodes[nd].ctx != NULL; i++) {
		if (node[i] != nd || st[i] != REDIS_P_PENDING)
			continue;
		if ((sha = redis_sha_known(&rc->nodes[nd], ev[i].script))
		    == NULL) {
			st[i] = REDIS_P_ALONE;	/* (more than REDIS_SCRIPTS) */
			continue;
		}
		av[0] = "EVALSHA";
		av[1] = sha;
		av[2] = "1";
		av[3] = ev[i].key;
		for (k = 0; k < ev[i].argc; k++)
			av[k + 4] = ev[i].argv[k];
		av[k + 4] = dl;
		if (redisAppendCommandArgv(rc->nodes[nd].ctx, ev[i].argc + 4
					   + (ev[i].deadline != 0), av, NULL)
		    != REDIS_OK) {
			redis_failed(rc, nd, err, errlen, REDIS_OP_SCRIPT,
				     "out of memory");
			break;
		}
		st[i] = REDIS_P_SENT;
		sent++;
	}
	return sent;
}

/* redis_pipe_read - the replies of the sent calls of node nd, in
 * order; 1 if one was an answer */
static int
redis_pipe_read(struct redis_client *rc, size_t nd, struct redis_eval *ev,
		const size_t *node, unsigned char *st, size_t n, size_t sent,
		char *err, size_t errlen)
{
	redisReply *r;
	size_t i;
	int ok = 0;

	for (i = 0; i < n && sent > 0; i++) {
		if (node[i] != nd || st[i] != REDIS_P_SENT)
			continue;
		sent--;
		if (rc->nodes[nd].ctx == NULL) {	/* failed before */
			redis_pipe_fail(&ev[i], &st[i], err);
			continue;
		}
		if (redisGetReply(rc->nodes[nd].ctx, (void **)&r) != REDIS_OK
		    || r == NULL) {
			redis_failed(rc, nd, err, errlen, REDIS_OP_SCRIPT,
				     redis_ctx_why(rc->nodes[nd].ctx));
			redis_pipe_fail(&ev[i], &st[i], err);
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR
		    && (strncmp(r->str, "NOSCRIPT", 8) == 0
			|| strncmp(r->str, "MOVED ", 6) == 0
			|| strncmp(r->str, "ASK ", 4) == 0)) {
			freeReplyObject(r);
			st[i] = REDIS_P_ALONE;
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis %s %s: %s",
				 rc->nodes[nd].addr, REDIS_OP_SCRIPT, r->str);
			freeReplyObject(r);
			rc->stats.failures++;
			redis_pipe_fail(&ev[i], &st[i], err);
			continue;
		}
		if (ev[i].check != NULL
		    && ev[i].check(r, ev[i].err, sizeof(ev[i].err)) < 0) {
			/* answered, but not as the script does: a failure,
			 * no sign of health for the back-off */
			freeReplyObject(r);
			rc->stats.failures++;
			st[i] = REDIS_P_DONE;
			continue;
		}
		ev[i].reply = r;
		ev[i].rc = 0;
		st[i] = REDIS_P_DONE;
		ok = 1;
	}
	return ok;
}

/* redis_pipe_node - the pending calls of node nd: all sent, then all
 * replies read */
static void
redis_pipe_node(struct redis_client *rc, size_t nd, struct redis_eval *ev,
		const size_t *node, unsigned char *st, size_t n)
{
	char err[256], dl[24];
	size_t i, sent;
	int ok, deadline = 0;

	err[0] = '\0';
	if (redis_connect(rc, nd, err, sizeof(err)) < 0) {
		redis_pipe_fail_node(nd, ev, node, st, n, err);
		return;
	}
	redis_pipe_load(rc, nd, ev, node, st, n, err, sizeof(err));
	/* one deadline for the pipeline, just before it is sent */
	for (i = 0; i < n && !deadline; i++)
		deadline = node[i] == nd && st[i] == REDIS_P_PENDING
			&& ev[i].deadline;
	if (deadline && rc->nodes[nd].ctx != NULL
	    && redis_deadline(rc, nd, dl, sizeof(dl), err, sizeof(err)) < 0) {
		redis_pipe_fail_node(nd, ev, node, st, n, err);
		return;
	}
	sent = redis_pipe_send(rc, nd, ev, node, st, n, dl, err, sizeof(err));
	ok = redis_pipe_read(rc, nd, ev, node, st, n, sent, err, sizeof(err));
	/* not sent: the connection failed */
	redis_pipe_fail_node(nd, ev, node, st, n, err);
	if (ok)
		redis_success(rc);
}

/* redis_client_eval_many - the calls, one pipeline per node */
size_t
redis_client_eval_many(struct redis_client *rc, struct redis_eval *ev,
		       size_t n)
{
	unsigned char *st;
	size_t *node, i, nd, nnodes = rc->nnodes, failed = 0;

	if (n == 0)
		return 0;
	st = x_calloc(n, 1);
	node = x_calloc(n, sizeof(*node));
	for (i = 0; i < n; i++) {
		ev[i].reply = NULL;
		ev[i].rc = -1;
		ev[i].err[0] = '\0';
		node[i] = redis_node_of(rc, redis_key_slot(ev[i].key));
	}
	for (nd = 0; nd < nnodes; nd++)
		redis_pipe_node(rc, nd, ev, node, st, n);
	for (i = 0; i < n; i++)
		if (st[i] == REDIS_P_ALONE)
			ev[i].rc = redis_eval_one(rc, ev[i].script, ev[i].key,
						  ev[i].argc, ev[i].argv,
						  ev[i].deadline, ev[i].check,
						  &ev[i].reply, ev[i].err,
						  sizeof(ev[i].err));
	for (i = 0; i < n; i++)
		failed += ev[i].rc != 0;
	free(st);
	free(node);
	return failed;
}
