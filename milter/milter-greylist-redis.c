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
 *	One client for the process, under the caller's lock (the calls are
 *	short and bounded by redis.command_timeout_ms); it is made again
 *	when the [redis] section changes (SIGHUP).  Nothing here logs.
 *--*/
#include "config.h"

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

/* gl_redis_check_count - the client script's answer is an integer */
static int
gl_redis_check_count(const struct redisReply *reply, char *err,
		     size_t errlen)
{
	if (reply->type == REDIS_REPLY_INTEGER)
		return 0;
	x_err(err, errlen, "unexpected reply to the client script");
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
			      gl_redis_check_count, &reply, err, errlen) < 0)
		return -1;
	n = (long)reply->integer;
	redis_reply_free(&reply);
	return n;
}
