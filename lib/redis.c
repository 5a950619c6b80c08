/*++
 * NAME
 *	redis 3
 * SUMMARY
 *	a small, synchronous Redis client with short timeouts (hiredis)
 * DESCRIPTION
 *	See redis.h.  One connection at a time; the SHA1 of each script
 *	is learnt with SCRIPT LOAD on the connection in use and forgotten
 *	with it.
 *--*/
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "redis.h"
#include "xalloc.h"

#define REDIS_BACKOFF_MIN_MS	250
#define REDIS_BACKOFF_MAX_MS	5000
#define REDIS_SCRIPTS		8

struct redis_sha {
	const char *script;	/* the caller's text (compared by address) */
	char sha[41];
};

struct redis_client {
	struct redis_conf conf;		/* copied */
	redisContext *ctx;		/* NULL: not connected */
	size_t server;			/* in use, or the next to try */
	int64_t next_try;		/* monotonic ms: no connect before */
	int64_t backoff;
	struct redis_sha shas[REDIS_SCRIPTS];
	size_t nshas;
	struct redis_stats stats;
};

/* redis_mono - monotonic ms */
static int64_t
redis_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* redis_client_new - copy the configuration */
struct redis_client *
redis_client_new(const struct redis_conf *c)
{
	struct redis_client *rc = x_calloc(1, sizeof(*rc));
	size_t i;

	rc->conf = *c;
	rc->conf.servers = x_calloc(c->nservers + 1, sizeof(char *));
	for (i = 0; i < c->nservers; i++)
		rc->conf.servers[i] = x_strdup(c->servers[i]);
	rc->conf.password = c->password ? x_strdup(c->password) : NULL;
	rc->conf.key_prefix = x_strdup(c->key_prefix ? c->key_prefix : "");
	rc->backoff = REDIS_BACKOFF_MIN_MS;
	return rc;
}

/* redis_drop - forget the connection and what it knew */
static void
redis_drop(struct redis_client *rc)
{
	if (rc->ctx != NULL)
		redisFree(rc->ctx);
	rc->ctx = NULL;
	rc->nshas = 0;
	rc->stats.up = 0;
}

/* redis_client_free - disconnect and destroy */
void
redis_client_free(struct redis_client **rcp)
{
	struct redis_client *rc = *rcp;
	size_t i;

	if (rc == NULL)
		return;
	redis_drop(rc);
	for (i = 0; i < rc->conf.nservers; i++)
		free(rc->conf.servers[i]);
	x_free(&rc->conf.servers);
	x_free(&rc->conf.password);
	x_free(&rc->conf.key_prefix);
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

/* redis_failed - a failure: drop the connection, next server, back off */
static int
redis_failed(struct redis_client *rc, char *err, size_t errlen,
	     const char *what, const char *why)
{
	const char *srv = rc->conf.nservers
		? rc->conf.servers[rc->server] : "(none)";

	x_err(err, errlen, "redis %s %s: %s", srv, what, why);
	redis_drop(rc);
	if (rc->conf.nservers > 0)
		rc->server = (rc->server + 1) % rc->conf.nservers;
	rc->next_try = redis_mono() + rc->backoff;
	rc->backoff *= 2;
	if (rc->backoff > REDIS_BACKOFF_MAX_MS)
		rc->backoff = REDIS_BACKOFF_MAX_MS;
	rc->stats.failures++;
	return -1;
}

/* redis_ctx_why - the error text of a context */
static const char *
redis_ctx_why(const redisContext *ctx)
{
	if (ctx->err == REDIS_ERR_IO && (errno == EAGAIN
					 || errno == EWOULDBLOCK))
		return "timed out";
	return ctx->errstr[0] ? ctx->errstr : "I/O error";
}

/* redis_simple - a setup command that must answer OK; 0 or -1 */
static int
redis_simple(struct redis_client *rc, const char *what, int argc,
	     const char **argv, char *err, size_t errlen)
{
	redisReply *r = redisCommandArgv(rc->ctx, argc, argv, NULL);
	char why[200];

	if (r == NULL)
		return redis_failed(rc, err, errlen, what,
				    redis_ctx_why(rc->ctx));
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s", r->str);
		freeReplyObject(r);
		return redis_failed(rc, err, errlen, what, why);
	}
	freeReplyObject(r);
	return 0;
}

/* redis_connect - make sure there is a connection; 0 or -1 */
static int
redis_connect(struct redis_client *rc, char *err, size_t errlen)
{
	struct timeval ct, wt;
	const char *srv, *argv[2];
	char host[256], num[16];
	int port;

	if (rc->ctx != NULL)
		return 0;
	if (rc->conf.nservers == 0) {
		x_err(err, errlen, "redis: no server configured");
		rc->stats.failures++;
		return -1;
	}
	if (redis_mono() < rc->next_try) {
		x_err(err, errlen, "redis %s unavailable (next attempt in"
		      " %lld ms)", rc->conf.servers[rc->server],
		      (long long)(rc->next_try - redis_mono()));
		rc->stats.failures++;
		return -1;
	}
	srv = rc->conf.servers[rc->server];
	ct.tv_sec = rc->conf.connect_timeout_ms / 1000;
	ct.tv_usec = (rc->conf.connect_timeout_ms % 1000) * 1000;
	wt.tv_sec = rc->conf.command_timeout_ms / 1000;
	wt.tv_usec = (rc->conf.command_timeout_ms % 1000) * 1000;
	if (*srv == '/') {
		rc->ctx = redisConnectUnixWithTimeout(srv, ct);
	} else {
		if (redis_split(srv, host, sizeof(host), &port) < 0)
			return redis_failed(rc, err, errlen, "connect",
					    "bad address");
		rc->ctx = redisConnectWithTimeout(host, port, ct);
	}
	if (rc->ctx == NULL)
		return redis_failed(rc, err, errlen, "connect",
				    "out of memory");
	if (rc->ctx->err)
		return redis_failed(rc, err, errlen, "connect",
				    redis_ctx_why(rc->ctx));
	if (redisSetTimeout(rc->ctx, wt) != REDIS_OK)
		return redis_failed(rc, err, errlen, "connect",
				    "cannot set the command timeout");
	if (rc->conf.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = rc->conf.password;
		if (redis_simple(rc, "AUTH", 2, argv, err, errlen) < 0)
			return -1;
	}
	if (rc->conf.database != 0) {
		snprintf(num, sizeof(num), "%d", rc->conf.database);
		argv[0] = "SELECT";
		argv[1] = num;
		if (redis_simple(rc, "SELECT", 2, argv, err, errlen) < 0)
			return -1;
	}
	rc->stats.connects++;
	rc->stats.up = 1;
	return 0;
}

/* redis_call - one command on the connection; 0 (reply may be an error
 * reply: the caller looks) or -1 */
static int
redis_call(struct redis_client *rc, const char *what, int argc,
	   const char **argv, redisReply **reply, char *err, size_t errlen)
{
	*reply = redisCommandArgv(rc->ctx, argc, argv, NULL);
	if (*reply == NULL)
		return redis_failed(rc, err, errlen, what,
				    redis_ctx_why(rc->ctx));
	return 0;
}

/* redis_error_reply - an error reply is a failure (connection kept) */
static int
redis_error_reply(struct redis_client *rc, redisReply **reply,
		  const char *what, char *err, size_t errlen)
{
	x_err(err, errlen, "redis %s %s: %s", rc->conf.servers[rc->server],
	      what, (*reply)->str);
	redis_reply_free(reply);
	rc->stats.failures++;
	return -1;
}

/* redis_sha_of - the SHA1 of script on this connection (SCRIPT LOAD) */
static const char *
redis_sha_of(struct redis_client *rc, const char *script, char *err,
	     size_t errlen)
{
	const char *argv[3] = { "SCRIPT", "LOAD", script };
	redisReply *r;
	size_t i;

	for (i = 0; i < rc->nshas; i++)
		if (rc->shas[i].script == script)
			return rc->shas[i].sha;
	if (redis_call(rc, "SCRIPT LOAD", 3, argv, &r, err, errlen) < 0)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		redis_error_reply(rc, &r, "SCRIPT LOAD", err, errlen);
		return NULL;
	}
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		freeReplyObject(r);
		redis_failed(rc, err, errlen, "SCRIPT LOAD", "odd reply");
		return NULL;
	}
	if (rc->nshas == REDIS_SCRIPTS)
		rc->nshas--;	/* forget the last: loaded again later */
	rc->shas[rc->nshas].script = script;
	memcpy(rc->shas[rc->nshas].sha, r->str, 40);
	rc->shas[rc->nshas].sha[40] = '\0';
	freeReplyObject(r);
	return rc->shas[rc->nshas++].sha;
}

/* redis_success - a call went through: reset the back-off */
static int
redis_success(struct redis_client *rc)
{
	rc->backoff = REDIS_BACKOFF_MIN_MS;
	return 0;
}

/* redis_client_eval - EVALSHA, EVAL on NOSCRIPT; one key */
int
redis_client_eval(struct redis_client *rc, const char *script,
		  const char *key, int argc, const char *const *argv,
		  struct redisReply **reply, char *err, size_t errlen)
{
	const char **av;
	const char *sha;
	redisReply *r;
	int i, rc2;

	*reply = NULL;
	if (redis_connect(rc, err, errlen) < 0)
		return -1;
	if ((sha = redis_sha_of(rc, script, err, errlen)) == NULL)
		return -1;
	av = x_calloc((size_t)argc + 4, sizeof(char *));
	av[0] = "EVALSHA";
	av[1] = sha;
	av[2] = "1";
	av[3] = key;
	for (i = 0; i < argc; i++)
		av[i + 4] = argv[i];
	rc2 = redis_call(rc, "EVALSHA", argc + 4, av, &r, err, errlen);
	if (rc2 == 0 && r->type == REDIS_REPLY_ERROR
	    && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* flushed, or another node of a cluster: EVAL loads it */
		rc->stats.noscript++;
		freeReplyObject(r);
		av[0] = "EVAL";
		av[1] = script;
		rc2 = redis_call(rc, "EVAL", argc + 4, av, &r, err, errlen);
	}
	free(av);
	if (rc2 < 0)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return redis_error_reply(rc, &r, "script", err, errlen);
	*reply = r;
	return redis_success(rc);
}

/* redis_client_command - one plain command */
int
redis_client_command(struct redis_client *rc, int argc,
		     const char *const *argv, struct redisReply **reply,
		     char *err, size_t errlen)
{
	redisReply *r;

	*reply = NULL;
	if (redis_connect(rc, err, errlen) < 0)
		return -1;
	if (redis_call(rc, argv[0], argc, (const char **)argv, &r, err,
		       errlen) < 0)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		return redis_error_reply(rc, &r, argv[0], err, errlen);
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
	struct redis_conf *c = out;
	size_t i;

	for (i = 0; i < c->nservers; i++)
		free(c->servers[i]);
	x_free(&c->servers);
	c->nservers = 0;
	x_free(&c->password);
	x_free(&c->key_prefix);
}

const struct conf_section redis_conf_section = {
	"redis", redis_opts, redis_checks, sizeof(struct redis_conf),
	redis_conf_load, redis_conf_release,
};
