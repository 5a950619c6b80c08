/*++
 * NAME
 *	milter-greylist-redis 3
 * SUMMARY
 *	greylisting's Redis store: one greylist for several gateway nodes
 * DESCRIPTION
 *	greylist_store = redis keeps the triplets in the [redis] section's
 *	server (lib/redis), so that every node of a gateway sees the same
 *	greylist: the first attempt may reach one node and the retry
 *	another.  Each triplet is one hash, "PREFIX greylist:{KEY}"
 *	(f: first attempt, p: passed), read and written by one Lua script,
 *	atomic on the server, on Redis's clock (TIME): the nodes' clocks
 *	never meet.  Its TTL is the expiry: the retry window while it has
 *	not passed, greylist_max_age (renewed by each use) once it has.
 *	A client's passed retries (auto-allow) are a counter
 *	"PREFIX greylist-client:{CLIENT}" with the max_age TTL.  The
 *	scripts take one key each, so Redis Cluster works.
 *
 *	The state machine is greylist_step()'s (milter-greylist-util.c),
 *	spelt again in Lua (t/0457 drives it from two processes: new,
 *	early, passed, known, TTLs).  A clock argument (seconds; 0: TIME)
 *	lets a caller pin the time; the stage always passes 0.
 *
 *	The clients: a pool of at most GREYLIST_REDIS_CONNS connections
 *	for the process (lib/redis's clients are one thread's at a time):
 *	a message takes one for its calls and gives it back, so that the
 *	milter's threads greylist in parallel instead of one after the
 *	other.  Idle ones are kept, newest on top; all are made again when
 *	the [redis] section changes (SIGHUP).  Failures keep the one
 *	client's semantics: a call that fails with Redis unreachable
 *	(redis_client_stats: not up) marks the pool down, closes the idle
 *	clients (their connections went with the server) and leaves the
 *	one that failed on top; while down one client is used at a time,
 *	that one, so its back-off (lib/redis) is everyone's: calls fail at
 *	once with "unavailable" rather than each connection timing out on
 *	its own, and one success ends it.  Nothing here logs.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "milter-greylist.h"
#include "redis.h"
#include "xalloc.h"

/* KEYS[1]: the triplet; ARGV: delay, window, max_age (s), a clock (s)
 * that replaces TIME unless 0.  Returns {state, wait}: state as enum
 * greylist_state (0 new, 1 early, 2 passed, 3 known). */
static const char gl_redis_script[] =
"local now = tonumber(ARGV[4])\n"
"if now == 0 then now = tonumber(redis.call('TIME')[1]) end\n"
"local delay, window, maxage = tonumber(ARGV[1]), tonumber(ARGV[2]),"
" tonumber(ARGV[3])\n"
"local r = redis.call('HMGET', KEYS[1], 'f', 'p')\n"
"local f, p = tonumber(r[1]), tonumber(r[2])\n"
"if f == nil or p == nil or (p == 0 and now - f > window) then\n"
"  redis.call('HSET', KEYS[1], 'f', now, 'p', 0)\n"
"  redis.call('EXPIRE', KEYS[1], window)\n"
"  return {0, delay}\n"
"end\n"
"if p ~= 0 then\n"
"  redis.call('EXPIRE', KEYS[1], maxage)\n"
"  return {3, 0}\n"
"end\n"
"if now - f < delay then\n"
"  return {1, math.max(1, f + delay - now)}\n"
"end\n"
"redis.call('HSET', KEYS[1], 'p', now)\n"
"redis.call('EXPIRE', KEYS[1], maxage)\n"
"return {2, 0}\n";

/* KEYS[1]: a client's counter; ARGV: "pass" or "check", auto_allow,
 * max_age (s).  pass: counted, returns the count; check: 1 if allowed */
static const char gl_redis_client_script[] =
"if ARGV[1] == 'pass' then\n"
"  local n = redis.call('INCR', KEYS[1])\n"
"  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))\n"
"  return n\n"
"end\n"
"local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
"if n >= tonumber(ARGV[2]) then return 1 end\n"
"return 0\n";

/* gl_redis_check_state - the greylist script's answer is {state, wait}
 * (a redis_eval.check: another is a failure of the call) */
static int
gl_redis_check_state(const struct redisReply *reply, char *err,
		     size_t errlen)
{
	if (redis_reply_ints(reply, 2)
	    && reply->element[0]->integer >= GREYLIST_NEW
	    && reply->element[0]->integer <= GREYLIST_KNOWN)
		return 0;
	x_err(err, errlen, "unexpected reply to the greylist script");
	return -1;
}

/* greylist_redis_check - see milter-greylist.h */
int
greylist_redis_check(struct redis_client *rc, const char *key, int64_t now,
		     const struct greylist_params *p,
		     enum greylist_state *state, long *wait, char *err,
		     size_t errlen)
{
	char rkey[2 * GREYLIST_KEY_MAX + 64], a[4][24];
	const char *argv[4] = { a[0], a[1], a[2], a[3] };
	struct redisReply *reply;

	redis_client_key(rc, "greylist:", key, rkey, sizeof(rkey));
	snprintf(a[0], sizeof(a[0]), "%ld", p->delay);
	snprintf(a[1], sizeof(a[1]), "%ld", p->window);
	snprintf(a[2], sizeof(a[2]), "%ld", p->max_age);
	snprintf(a[3], sizeof(a[3]), "%lld", (long long)now);
	if (redis_client_eval(rc, gl_redis_script, rkey, 4, argv,
			      gl_redis_check_state, &reply, err, errlen) < 0)
		return -1;
	*state = (enum greylist_state)reply->element[0]->integer;
	*wait = (long)reply->element[1]->integer;
	redis_reply_free(&reply);
	return 0;
}

/* greylist_redis_client - "pass" or "check" a client's counter; the
 * script's answer, or -1 with err */
long
greylist_redis_client(struct redis_client *rc, const char *client,
		      const char *op, const struct greylist_params *p,
		      char *err, size_t errlen)
{
	char rkey[GREYLIST_KEY_MAX + 64], a[2][24];
	const char *argv[3] = { op, a[0], a[1] };
	struct redisReply *reply;
	long n;

	redis_client_key(rc, "greylist-client:", client, rkey, sizeof(rkey));
	snprintf(a[0], sizeof(a[0]), "%d", p->auto_allow);
	snprintf(a[1], sizeof(a[1]), "%ld", p->max_age);
	if (redis_client_eval(rc, gl_redis_client_script, rkey, 3, argv,
			      redis_check_int, &reply, err, errlen) < 0)
		return -1;
	n = (long)reply->integer;
	redis_reply_free(&reply);
	return n;
}

/* A triplet passed now, on Redis's clock; ARGV: max_age (s). */
static const char gl_redis_allow_script[] =
"local t = redis.call('TIME')[1]\n"
"redis.call('HSET', KEYS[1], 'f', t, 'p', t)\n"
"redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))\n"
"return 1\n";

/* gl_redis_glob - s with Redis's glob characters escaped */
static void
gl_redis_glob(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s && n + 3 < len; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
}

/* gl_redis_scan - the keys a selection names: SCAN ... MATCH, or the
 * one key; fn(rkey, key, ctx) each, at most max; how many or -1 */
static long
gl_redis_scan(struct redis_client *rc, const char *prefix, int exact,
	      long max, int (*fn)(struct redis_client *, const char *,
				  const char *, void *, char *, size_t),
	      void *ctx, char *err, size_t errlen)
{
	char rkey[2 * GREYLIST_KEY_MAX + 64], glob[2 * GREYLIST_KEY_MAX + 8];
	char pat[4 * GREYLIST_KEY_MAX + 64], cursor[32] = "0", *key, *end;
	const char *argv[6] = { "SCAN", cursor, "MATCH", pat, "COUNT", "500" };
	struct redisReply *reply;
	long n = 0;
	size_t i;
	int k;

	if (exact) {
		redis_client_key(rc, "greylist:", prefix, rkey, sizeof(rkey));
		return fn(rc, rkey, prefix, ctx, err, errlen);
	}
	gl_redis_glob(prefix, glob, sizeof(glob) - 1);
	strcat(glob, "*");
	redis_client_key(rc, "greylist:", glob, pat, sizeof(pat));
	do {
		if (redis_client_command(rc, 6, argv, &reply, err, errlen) < 0)
			return -1;
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
		    || reply->element[1]->type != REDIS_REPLY_ARRAY) {
			redis_reply_free(&reply);
			x_err(err, errlen, "unexpected reply to SCAN");
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
		for (i = 0; i < reply->element[1]->elements && n < max; i++) {
			key = strchr(reply->element[1]->element[i]->str, '{');
			if (key == NULL || (end = strrchr(key, '}')) == NULL)
				continue;
			key = x_strndup(key + 1, (size_t)(end - key - 1));
			k = fn(rc, reply->element[1]->element[i]->str, key,
			       ctx, err, errlen);
			free(key);
			if (k < 0) {
				redis_reply_free(&reply);
				return -1;
			}
			n += k;
		}
		redis_reply_free(&reply);
	} while (strcmp(cursor, "0") != 0 && n < max);
	return n;
}

struct gl_redis_listing {
	greylist_list_fn fn;
	void *ctx;
};

/* gl_redis_show - one triplet's record (a key gone meanwhile: none) */
static int
gl_redis_show(struct redis_client *rc, const char *rkey, const char *key,
	      void *ctx, char *err, size_t errlen)
{
	struct gl_redis_listing *l = ctx;
	const char *argv[4] = { "HMGET", rkey, "f", "p" };
	struct redisReply *reply;
	struct greylist_rec r;

	if (redis_client_command(rc, 4, argv, &reply, err, errlen) < 0)
		return -1;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
	    && reply->element[0]->type == REDIS_REPLY_STRING) {
		r.first = strtoll(reply->element[0]->str, NULL, 10);
		r.passed = reply->element[1]->type == REDIS_REPLY_STRING
			? strtoll(reply->element[1]->str, NULL, 10) : 0;
		r.last = r.passed ? r.passed : r.first;
		l->fn(key, &r, l->ctx);
		redis_reply_free(&reply);
		return 1;
	}
	redis_reply_free(&reply);
	return 0;
}

/* greylist_redis_list - see milter-greylist.h */
long
greylist_redis_list(struct redis_client *rc, const char *prefix, int exact,
		    long max, greylist_list_fn fn, void *ctx, char *err,
		    size_t errlen)
{
	struct gl_redis_listing l = { fn, ctx };

	return gl_redis_scan(rc, prefix, exact, max, gl_redis_show, &l, err,
			     errlen);
}

/* gl_redis_del - DEL one key: 1 if it existed */
static int
gl_redis_del(struct redis_client *rc, const char *rkey, const char *key,
	     void *ctx, char *err, size_t errlen)
{
	const char *argv[2] = { "DEL", rkey };
	struct redisReply *reply;
	int n;

	(void)key;
	(void)ctx;
	if (redis_client_command(rc, 2, argv, &reply, err, errlen) < 0)
		return -1;
	n = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
	redis_reply_free(&reply);
	return n;
}

/* greylist_redis_delete - see milter-greylist.h */
long
greylist_redis_delete(struct redis_client *rc, const char *prefix,
		      int exact, char *err, size_t errlen)
{
	return gl_redis_scan(rc, prefix, exact, 1000000, gl_redis_del, NULL,
			     err, errlen);
}

/* greylist_redis_allow - see milter-greylist.h */
int
greylist_redis_allow(struct redis_client *rc, const char *key,
		     const struct greylist_params *p, char *err,
		     size_t errlen)
{
	char rkey[2 * GREYLIST_KEY_MAX + 64], a[24];
	const char *argv[1] = { a };
	struct redisReply *reply;

	redis_client_key(rc, "greylist:", key, rkey, sizeof(rkey));
	snprintf(a, sizeof(a), "%ld", p->max_age);
	if (redis_client_eval(rc, gl_redis_allow_script, rkey, 1, argv, NULL,
			      &reply, err, errlen) < 0)
		return -1;
	redis_reply_free(&reply);
	return 0;
}

/* The pool (see above); under gl_pool_lock. */
static pthread_mutex_t gl_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gl_pool_cond = PTHREAD_COND_INITIALIZER;
/* the [redis] settings served (none yet while servers is NULL: a copy
 * always has the array) */
static struct redis_conf gl_pool_conf;
static unsigned gl_pool_gen;		/* clients of another are freed */
static struct redis_client *gl_pool_idle[GREYLIST_REDIS_CONNS];
static size_t gl_pool_nidle;
static size_t gl_pool_nused;		/* taken now */
static int gl_pool_down;		/* the last failure: unreachable */

/* gl_pool_drop - close the idle clients, and have those in use closed
 * when given back (a new generation); lock held */
static void
gl_pool_drop(void)
{
	while (gl_pool_nidle > 0)
		redis_client_free(&gl_pool_idle[--gl_pool_nidle]);
	gl_pool_gen++;
}

/* gl_pool_for - the pool serves rc, a [redis] section: its clients are
 * made again when the settings change; lock held */
static void
gl_pool_for(const struct redis_conf *rc)
{
	if (gl_pool_conf.servers != NULL
	    && redis_conf_equal(&gl_pool_conf, rc))
		return;
	gl_pool_drop();
	redis_conf_free(&gl_pool_conf);
	redis_conf_copy(&gl_pool_conf, rc);
	gl_pool_down = 0;
}

/* greylist_redis_take - see milter-greylist.h */
struct redis_client *
greylist_redis_take(const struct conf *conf, unsigned *gen)
{
	const struct redis_conf *c = conf_get(conf, &redis_conf_section);
	struct redis_client *rc;

	pthread_mutex_lock(&gl_pool_lock);
	gl_pool_for(c);
	while (gl_pool_nused >= GREYLIST_REDIS_CONNS
	       || (gl_pool_down && gl_pool_nused > 0))
		pthread_cond_wait(&gl_pool_cond, &gl_pool_lock);
	gl_pool_nused++;
	rc = gl_pool_nidle > 0 ? gl_pool_idle[--gl_pool_nidle]
			       : redis_client_new(c);
	*gen = gl_pool_gen;
	pthread_mutex_unlock(&gl_pool_lock);
	return rc;
}

/* greylist_redis_give - see milter-greylist.h */
void
greylist_redis_give(struct redis_client **rcp, unsigned gen, int ok)
{
	struct redis_client *rc = *rcp;
	struct redis_stats st;

	*rcp = NULL;
	if (rc == NULL)
		return;
	redis_client_stats(rc, &st);
	pthread_mutex_lock(&gl_pool_lock);
	gl_pool_nused--;
	if (gen == gl_pool_gen) {
		if (!ok && !st.up) {
			/* down: the others' connections went with it; this
			 * one, backing off, is the one used until it ends */
			gl_pool_drop();
			gl_pool_down = 1;
		} else if (ok) {
			gl_pool_down = 0;
		}
		gl_pool_idle[gl_pool_nidle++] = rc;
		rc = NULL;
	}
	pthread_cond_broadcast(&gl_pool_cond);
	pthread_mutex_unlock(&gl_pool_lock);
	redis_client_free(&rc);
}

/* greylist_redis_pool_free - see milter-greylist.h */
void
greylist_redis_pool_free(void)
{
	pthread_mutex_lock(&gl_pool_lock);
	gl_pool_drop();
	redis_conf_free(&gl_pool_conf);
	gl_pool_down = 0;
	pthread_mutex_unlock(&gl_pool_lock);
}
