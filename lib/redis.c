/*++
 * NAME
 *	redis 3
 * SUMMARY
 *	a small, synchronous Redis client with short timeouts (hiredis)
 * DESCRIPTION
 *	See redis.h.  Node 0 is the configured server in use (the next is
 *	tried when it fails); the other nodes are those of a cluster that
 *	redirections named, each with its own connection, opened when
 *	first needed.  The SHA1 of each script is learnt with SCRIPT LOAD
 *	on each connection and forgotten with it.  The slot map (which
 *	node serves which of the 16384 hash slots) and the redirections
 *	are in redis-cluster.c; the pipelines (several calls in one round
 *	trip per node) in redis-pipe.c.
 *--*/
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "redis.h"
#include "redis-private.h"
#include "xalloc.h"

#define REDIS_CLOCK_MS		1000	/* a node's TIME asked again after */
#define REDIS_CLOCK_SLACK_US	1000	/* deadlines: the clocks' drift */

/* redis_split - host and port of "host:port" / "[v6]:port"; 0 or -1 */
static int
redis_split(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long p;

	if (*s == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		h = s + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL
		    || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

/* redis_server_check - a server spec? */
int
redis_server_check(const char *s, char *err, size_t errlen)
{
	char host[256];
	int port;

	if (*s == '/')
		return 0;
	if (redis_split(s, host, sizeof(host), &port) < 0) {
		x_err(err, errlen, "bad Redis server '%s' (HOST:PORT,"
		      " [IPV6]:PORT or /path/to/socket)", s);
		return -1;
	}
	return 0;
}

/* redis_conf_copy - see redis.h */
void
redis_conf_copy(struct redis_conf *dst, const struct redis_conf *src)
{
	size_t i;

	*dst = *src;
	dst->servers = x_calloc(src->nservers + 1, sizeof(char *));
	for (i = 0; i < src->nservers; i++)
		dst->servers[i] = x_strdup(src->servers[i]);
	dst->password = src->password ? x_strdup(src->password) : NULL;
	dst->key_prefix = x_strdup(src->key_prefix ? src->key_prefix : "");
}

/* redis_conf_free - see redis.h */
void
redis_conf_free(struct redis_conf *c)
{
	size_t i;

	for (i = 0; i < c->nservers; i++)
		free(c->servers[i]);
	x_free(&c->servers);
	c->nservers = 0;
	x_free(&c->password);
	x_free(&c->key_prefix);
}

/* redis_conf_str_same - two optional strings ("" and NULL alike) */
static int
redis_conf_str_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* redis_conf_equal - see redis.h */
int
redis_conf_equal(const struct redis_conf *a, const struct redis_conf *b)
{
	size_t i;

	if (a->database != b->database
	    || a->connect_timeout_ms != b->connect_timeout_ms
	    || a->command_timeout_ms != b->command_timeout_ms
	    || a->nservers != b->nservers
	    || !redis_conf_str_same(a->password, b->password)
	    || !redis_conf_str_same(a->key_prefix, b->key_prefix))
		return 0;
	for (i = 0; i < a->nservers; i++)
		if (strcmp(a->servers[i], b->servers[i]) != 0)
			return 0;
	return 1;
}

/* redis_client_new - copy the configuration */
struct redis_client *
redis_client_new(const struct redis_conf *c)
{
	struct redis_client *rc = x_calloc(1, sizeof(*rc));

	redis_conf_copy(&rc->conf, c);
	rc->backoff = REDIS_BACKOFF_MIN_MS;
	rc->nnodes = 1;
	return rc;
}

/* redis_drop - forget node n's connection and what it knew; a node of
 * the cluster is forgotten too (the slot map sends its slots to node 0
 * again, which redirects them) */
void
redis_drop(struct redis_client *rc, size_t n)
{
	struct redis_node *nd = &rc->nodes[n];
	size_t i;

	if (nd->ctx != NULL)
		redisFree(nd->ctx);
	nd->ctx = NULL;
	nd->nshas = 0;
	nd->clock_at = 0;
	if (n == 0) {
		rc->stats.up = 0;
		return;
	}
	for (i = 0; rc->slots != NULL && i < REDIS_SLOTS; i++)
		if (rc->slots[i] == n)
			rc->slots[i] = REDIS_NO_NODE;
}

/* redis_client_free - disconnect and destroy */
void
redis_client_free(struct redis_client **rcp)
{
	struct redis_client *rc = *rcp;
	size_t i;

	if (rc == NULL)
		return;
	for (i = 0; i < rc->nnodes; i++)
		redis_drop(rc, i);
	x_free(&rc->slots);
	x_free(&rc->learnt);
	redis_conf_free(&rc->conf);
	x_free(rcp);
}

/* redis_client_key - prefix ns{name} */
void
redis_client_key(const struct redis_client *rc, const char *ns,
		 const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s{%s}", rc->conf.key_prefix, ns, name);
}

/* redis_reply_free - free and clear */
void
redis_reply_free(struct redisReply **rp)
{
	if (*rp != NULL)
		freeReplyObject(*rp);
	*rp = NULL;
}

/* redis_failed - a failure on node n: drop its connection (node 0: the
 * next server is tried next), back off */
int
redis_failed(struct redis_client *rc, size_t n, char *err, size_t errlen,
	     const char *what, const char *why)
{
	x_err(err, errlen, "redis %s %s: %s", rc->nodes[n].addr, what, why);
	redis_drop(rc, n);
	if (n == 0 && rc->conf.nservers > 0)
		rc->server = (rc->server + 1) % rc->conf.nservers;
	rc->next_try = clock_mono_ms() + rc->backoff;
	rc->backoff *= 2;
	if (rc->backoff > REDIS_BACKOFF_MAX_MS)
		rc->backoff = REDIS_BACKOFF_MAX_MS;
	rc->stats.failures++;
	return -1;
}

/* redis_ctx_why - the error text of a context */
const char *
redis_ctx_why(const redisContext *ctx)
{
	if (ctx->err == REDIS_ERR_IO && (errno == EAGAIN
					 || errno == EWOULDBLOCK))
		return "timed out";
	return ctx->errstr[0] ? ctx->errstr : "I/O error";
}

/* redis_simple - a setup command that must answer OK; 0 or -1 */
static int
redis_simple(struct redis_client *rc, size_t n, const char *what, int argc,
	     const char **argv, char *err, size_t errlen)
{
	redisReply *r = redisCommandArgv(rc->nodes[n].ctx, argc, argv, NULL);
	char why[200];

	if (r == NULL)
		return redis_failed(rc, n, err, errlen, what,
				    redis_ctx_why(rc->nodes[n].ctx));
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s", r->str);
		freeReplyObject(r);
		return redis_failed(rc, n, err, errlen, what, why);
	}
	freeReplyObject(r);
	return 0;
}

/* redis_open - connect to node n's address (timeouts, AUTH, SELECT) */
static int
redis_open(struct redis_client *rc, size_t n, char *err, size_t errlen)
{
	struct redis_node *nd = &rc->nodes[n];
	struct timeval ct, wt;
	const char *argv[2];
	char host[256], num[16];
	int port;

	ct.tv_sec = rc->conf.connect_timeout_ms / 1000;
	ct.tv_usec = (rc->conf.connect_timeout_ms % 1000) * 1000;
	wt.tv_sec = rc->conf.command_timeout_ms / 1000;
	wt.tv_usec = (rc->conf.command_timeout_ms % 1000) * 1000;
	if (nd->addr[0] == '/') {
		nd->ctx = redisConnectUnixWithTimeout(nd->addr, ct);
	} else {
		if (redis_split(nd->addr, host, sizeof(host), &port) < 0)
			return redis_failed(rc, n, err, errlen, "connect",
					    "bad address");
		nd->ctx = redisConnectWithTimeout(host, port, ct);
	}
	if (nd->ctx == NULL)
		return redis_failed(rc, n, err, errlen, "connect",
				    "out of memory");
	if (nd->ctx->err)
		return redis_failed(rc, n, err, errlen, "connect",
				    redis_ctx_why(nd->ctx));
	if (redisSetTimeout(nd->ctx, wt) != REDIS_OK)
		return redis_failed(rc, n, err, errlen, "connect",
				    "cannot set the command timeout");
	if (rc->conf.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = rc->conf.password;
		if (redis_simple(rc, n, "AUTH", 2, argv, err, errlen) < 0)
			return -1;
	}
	if (rc->conf.database != 0) {
		snprintf(num, sizeof(num), "%d", rc->conf.database);
		argv[0] = "SELECT";
		argv[1] = num;
		if (redis_simple(rc, n, "SELECT", 2, argv, err, errlen) < 0)
			return -1;
	}
	rc->stats.connects++;
	if (n == 0)
		rc->stats.up = 1;
	return 0;
}

/* redis_connect - make sure node n has a connection; 0 or -1 */
int
redis_connect(struct redis_client *rc, size_t n, char *err, size_t errlen)
{
	if (rc->nodes[n].ctx != NULL)
		return 0;
	if (rc->conf.nservers == 0) {
		x_err(err, errlen, "redis: no server configured");
		rc->stats.failures++;
		return -1;
	}
	if (n == 0)
		snprintf(rc->nodes[0].addr, sizeof(rc->nodes[0].addr), "%s",
			 rc->conf.servers[rc->server]);
	if (clock_mono_ms() < rc->next_try) {
		x_err(err, errlen, "redis %s unavailable (next attempt in"
		      " %lld ms)", rc->nodes[n].addr,
		      (long long)(rc->next_try - clock_mono_ms()));
		rc->stats.failures++;
		return -1;
	}
	return redis_open(rc, n, err, errlen);
}

/* redis_call - one command on node n; 0 (reply may be an error reply:
 * the caller looks) or -1 */
int
redis_call(struct redis_client *rc, size_t n, const char *what, int argc,
	   const char **argv, redisReply **reply, char *err, size_t errlen)
{
	*reply = redisCommandArgv(rc->nodes[n].ctx, argc, argv, NULL);
	if (*reply == NULL)
		return redis_failed(rc, n, err, errlen, what,
				    redis_ctx_why(rc->nodes[n].ctx));
	return 0;
}

/* redis_error_reply - an error reply is a failure (connection kept) */
static int
redis_error_reply(struct redis_client *rc, size_t n, redisReply **reply,
		  const char *what, char *err, size_t errlen)
{
	x_err(err, errlen, "redis %s %s: %s", rc->nodes[n].addr, what,
	      (*reply)->str);
	redis_reply_free(reply);
	rc->stats.failures++;
	return -1;
}

/* redis_sha_known - the SHA1 of script on a node, if loaded there */
const char *
redis_sha_known(const struct redis_node *nd, const char *script)
{
	size_t i;

	for (i = 0; i < nd->nshas; i++)
		if (nd->shas[i].script == script)
			return nd->shas[i].sha;
	return NULL;
}

/* redis_sha_of - the SHA1 of script on node n (SCRIPT LOAD) */
const char *
redis_sha_of(struct redis_client *rc, size_t n, const char *script,
	     char *err, size_t errlen)
{
	struct redis_node *nd = &rc->nodes[n];
	const char *argv[3] = { "SCRIPT", "LOAD", script };
	const char *sha;
	redisReply *r;

	if ((sha = redis_sha_known(nd, script)) != NULL)
		return sha;
	if (redis_call(rc, n, REDIS_OP_SCRIPT, 3, argv, &r, err, errlen) < 0)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		redis_error_reply(rc, n, &r, REDIS_OP_SCRIPT, err, errlen);
		return NULL;
	}
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		freeReplyObject(r);
		redis_failed(rc, n, err, errlen, REDIS_OP_SCRIPT,
			     "odd reply to SCRIPT LOAD");
		return NULL;
	}
	if (nd->nshas == REDIS_SCRIPTS)
		nd->nshas--;	/* forget the last: loaded again later */
	nd->shas[nd->nshas].script = script;
	memcpy(nd->shas[nd->nshas].sha, r->str, 40);
	nd->shas[nd->nshas].sha[40] = '\0';
	freeReplyObject(r);
	return nd->shas[nd->nshas++].sha;
}

/* redis_clock - learn node n's clock (TIME) against ours, when not
 * learnt in the last REDIS_CLOCK_MS: TIME was read between t0 and t1
 * (our monotonic clock), so T - t1 is the offset at its lowest, which a
 * deadline needs (never later than the moment we give up); 0 or -1 */
static int
redis_clock(struct redis_client *rc, size_t n, char *err, size_t errlen)
{
	struct redis_node *nd = &rc->nodes[n];
	const char *argv[1] = { "TIME" };
	redisReply *r;
	int64_t t1;

	if (nd->clock_at != 0 && clock_mono_ms() - nd->clock_at < REDIS_CLOCK_MS)
		return 0;
	if (redis_call(rc, n, REDIS_OP_SCRIPT, 1, argv, &r, err, errlen) < 0)
		return -1;
	t1 = clock_mono_us();
	if (r->type == REDIS_REPLY_ERROR)
		return redis_error_reply(rc, n, &r, REDIS_OP_SCRIPT, err,
					 errlen);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
	    || r->element[0]->type != REDIS_REPLY_STRING
	    || r->element[1]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return redis_failed(rc, n, err, errlen, REDIS_OP_SCRIPT,
				    "odd reply to TIME");
	}
	nd->off_us = strtoll(r->element[0]->str, NULL, 10) * 1000000
		+ strtoll(r->element[1]->str, NULL, 10) - t1;
	nd->clock_at = t1 / 1000;
	freeReplyObject(r);
	return 0;
}

/* redis_deadline - the deadline of a call about to be sent to node n,
 * as text into buf: the moment we give up on it (now + the command
 * timeout: any read that times out starts after the call is sent), on
 * the node's clock (us), less the drift the clocks may have had since
 * the node's TIME was asked; 0 or -1 */
int
redis_deadline(struct redis_client *rc, size_t n, char *buf, size_t buflen,
	       char *err, size_t errlen)
{
	if (redis_clock(rc, n, err, errlen) < 0)
		return -1;
	snprintf(buf, buflen, "%lld", (long long)(clock_mono_us()
		 + rc->nodes[n].off_us
		 + (int64_t)rc->conf.command_timeout_ms * 1000
		 - REDIS_CLOCK_SLACK_US));
	return 0;
}

/* redis_asking - ASKING on node n before the command (what) an ASK sent
 * there */
static int
redis_asking(struct redis_client *rc, size_t n, const char *what, char *err,
	     size_t errlen)
{
	const char *argv[1] = { "ASKING" };

	return redis_simple(rc, n, what, 1, argv, err, errlen);
}

/* redis_success - a call went through: reset the back-off */
int
redis_success(struct redis_client *rc)
{
	rc->backoff = REDIS_BACKOFF_MIN_MS;
	return 0;
}

/* redis_evalsha - the script on node n: EVALSHA, EVAL on NOSCRIPT (the
 * script flushed); an ASK's ASKING before each; 0 with *r or -1 */
static int
redis_evalsha(struct redis_client *rc, size_t n, int asking,
	      const char *script, int argc, const char **av, redisReply **r,
	      char *err, size_t errlen)
{
	const char *sha;

	if ((sha = redis_sha_of(rc, n, script, err, errlen)) == NULL)
		return -1;
	av[0] = "EVALSHA";
	av[1] = sha;
	if (asking && redis_asking(rc, n, REDIS_OP_SCRIPT, err, errlen) < 0)
		return -1;
	if (redis_call(rc, n, REDIS_OP_SCRIPT, argc, av, r, err, errlen) < 0)
		return -1;
	if ((*r)->type != REDIS_REPLY_ERROR
	    || strncmp((*r)->str, "NOSCRIPT", 8) != 0)
		return 0;
	rc->stats.noscript++;
	redis_reply_free(r);
	av[0] = "EVAL";
	av[1] = script;
	if (asking && redis_asking(rc, n, REDIS_OP_SCRIPT, err, errlen) < 0)
		return -1;
	return redis_call(rc, n, REDIS_OP_SCRIPT, argc, av, r, err,
			  errlen);
}

/* redis_eval_one - EVALSHA on the key's node, following MOVED and ASK
 * redirections; with deadline, one more argument: the call's deadline
 * on the node it is sent to (redis_deadline) */
int
redis_eval_one(struct redis_client *rc, const char *script, const char *key,
	       int argc, const char *const *argv, int deadline,
	       int (*check)(const struct redisReply *, char *, size_t),
	       struct redisReply **reply, char *err, size_t errlen)
{
	const char **av;
	redisReply *r = NULL;
	size_t n = redis_node_of(rc, redis_key_slot(key));
	int i, hop, asking = 0, rc2 = -1;
	char dl[24];

	*reply = NULL;
	av = x_calloc((size_t)argc + 5, sizeof(char *));
	av[2] = "1";
	av[3] = key;
	for (i = 0; i < argc; i++)
		av[i + 4] = argv[i];
	av[argc + 4] = dl;
	for (hop = 0; hop <= REDIS_REDIRECTS; hop++) {
		if ((rc2 = redis_connect(rc, n, err, errlen)) < 0
		    || (deadline && (rc2 = redis_deadline(rc, n, dl,
							  sizeof(dl), err,
							  errlen)) < 0)
		    || (rc2 = redis_evalsha(rc, n, asking, script,
					    argc + 4 + (deadline != 0), av,
					    &r, err, errlen)) < 0
		    || hop == REDIS_REDIRECTS
		    || (rc2 = redis_redirected(rc, r, &n, &asking, err,
					       errlen)) == 0)
			break;
		redis_reply_free(&r);
		if (rc2 < 0)
			break;
	}
	free(av);
	if (rc2 < 0)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return redis_error_reply(rc, n, &r, REDIS_OP_SCRIPT, err,
					 errlen);
	if (check != NULL && check(r, err, errlen) < 0) {
		/* the node answered, but not as the script does: no sign
		 * of health, the back-off stays */
		redis_reply_free(&r);
		rc->stats.failures++;
		return -1;
	}
	*reply = r;
	return redis_success(rc);
}

/* redis_reply_ints - an array of exactly n integers? */
int
redis_reply_ints(const struct redisReply *r, size_t n)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return 0;
	for (i = 0; i < n; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return 0;
	return 1;
}

/* redis_check_int - a script's answer is an integer (a check) */
int
redis_check_int(const struct redisReply *r, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return 0;
	x_err(err, errlen, "redis: the script's answer is not an integer "
	      "(reply type %d)", r->type);
	return -1;
}

/* redis_client_eval - a script call without a deadline */
int
redis_client_eval(struct redis_client *rc, const char *script,
		  const char *key, int argc, const char *const *argv,
		  int (*check)(const struct redisReply *, char *, size_t),
		  struct redisReply **reply, char *err, size_t errlen)
{
	return redis_eval_one(rc, script, key, argc, argv, 0, check, reply,
			      err, errlen);
}

/* redis_client_command - one plain command, on the node of argv[1] (its
 * key, if it has one), following MOVED and ASK redirections */
int
redis_client_command(struct redis_client *rc, int argc,
		     const char *const *argv, struct redisReply **reply,
		     char *err, size_t errlen)
{
	redisReply *r = NULL;
	size_t n = argc > 1 ? redis_node_of(rc, redis_key_slot(argv[1])) : 0;
	int hop, asking = 0, rc2 = -1;

	*reply = NULL;
	for (hop = 0; hop <= REDIS_REDIRECTS; hop++) {
		if ((rc2 = redis_connect(rc, n, err, errlen)) < 0
		    || (asking && (rc2 = redis_asking(rc, n, argv[0], err,
						      errlen)) < 0)
		    || (rc2 = redis_call(rc, n, argv[0], argc,
					 (const char **)argv, &r, err,
					 errlen)) < 0
		    || hop == REDIS_REDIRECTS
		    || (rc2 = redis_redirected(rc, r, &n, &asking, err,
					       errlen)) == 0)
			break;
		redis_reply_free(&r);
		if (rc2 < 0)
			break;
	}
	if (rc2 < 0)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return redis_error_reply(rc, n, &r, argv[0], err, errlen);
	*reply = r;
	return redis_success(rc);
}

/* redis_client_stats - counters */
void
redis_client_stats(const struct redis_client *rc, struct redis_stats *out)
{
	*out = rc->stats;
}

/*
 * The [redis] section.
 */
static cfg_opt_t redis_opts[] = {
	CFG_STR_LIST("servers", "{127.0.0.1:6379}", CFGF_NONE),
	CFG_STR("password", "", CFGF_NONE),
	CFG_INT("database", 0, CFGF_NONE),
	CFG_INT("connect_timeout_ms", 200, CFGF_NONE),
	CFG_INT("command_timeout_ms", 100, CFGF_NONE),
	CFG_STR("key_prefix", "elemta:", CFGF_NONE),
	CFG_END()
};

static const struct conf_check redis_checks[] = {
	{ "servers", CONF_CHECK_FUNC, 0, 0, NULL, redis_server_check },
	{ "database", CONF_CHECK_RANGE, 0, 1000, NULL, NULL },
	{ "connect_timeout_ms", CONF_CHECK_RANGE, 1, 60000, NULL, NULL },
	{ "command_timeout_ms", CONF_CHECK_RANGE, 1, 60000, NULL, NULL },
	CONF_CHECK_END
};

/* redis_conf_load - copy the [redis] section into struct redis_conf */
static int
redis_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct redis_conf *c = out;
	unsigned i, n = cfg_size(sec, "servers");

	(void)err;
	(void)errlen;
	c->servers = x_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		c->servers[c->nservers++] = x_strdup(cfg_getnstr(sec,
								 "servers", i));
	c->password = conf_strdup_opt(sec, "password");
	c->database = (int)cfg_getint(sec, "database");
	c->connect_timeout_ms = (int)cfg_getint(sec, "connect_timeout_ms");
	c->command_timeout_ms = (int)cfg_getint(sec, "command_timeout_ms");
	c->key_prefix = x_strdup(cfg_getstr(sec, "key_prefix")
				 ? cfg_getstr(sec, "key_prefix") : "");
	return 0;
}

/* redis_conf_release - free what redis_conf_load allocated */
static void
redis_conf_release(void *out)
{
	redis_conf_free(out);
}

const struct conf_section redis_conf_section = {
	"redis", redis_opts, redis_checks, sizeof(struct redis_conf),
	redis_conf_load, redis_conf_release,
};
