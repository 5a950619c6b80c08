/*++
 * NAME
 *	policyd-store-redis 3
 * SUMMARY
 *	rate limit state shared by several nodes in Redis
 * DESCRIPTION
 *	See policyd-store-redis.h.  The script is a line-by-line port of
 *	policyd-limit.c; t/0320-policyd-redis-script.t runs both on the
 *	same random sequences and compares every answer and state.
 *--*/
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "policyd-store-redis.h"
#include "xalloc.h"

struct policyd_redis {
	struct redis_client *rc;
};

/* The log's stored form, shared by the scripts: MessagePack of two
 * arrays (times, weights), which cmsgpack (C, in every Redis since 2.6)
 * reads and writes in a fifth of the time the text "T:W T:W ..." takes
 * Lua with gmatch and string.format; the text form (earlier versions,
 * and calendar quotas' single entry) is still read.  log_load returns
 * the arrays, their length, and whether the text form was read. */
#define POLICYD_REDIS_CODEC \
"local function log_load(s)\n" \
"  if not s then return {}, {}, 0, false end\n" \
"  if string.byte(s, 1) >= 128 then\n" \
"    local ts, ws = cmsgpack.unpack(s)\n" \
"    return ts, ws, #ts, false\n" \
"  end\n" \
"  local ts, ws, n = {}, {}, 0\n" \
"  for a, b in string.gmatch(s, '(%d+):(%d+)') do\n" \
"    n = n + 1; ts[n] = tonumber(a); ws[n] = tonumber(b)\n" \
"  end\n" \
"  return ts, ws, n, true\n" \
"end\n" \
"local function log_text(ts, ws, n)\n" \
"  local parts = {}\n" \
"  for i = 1, n do\n" \
"    parts[i] = string.format('%.0f:%.0f', ts[i], ws[i])\n" \
"  end\n" \
"  return table.concat(parts, ' ')\n" \
"end\n"

/* The time a take counts at, and its deadline: clock(c, d) is c (ms), a
 * clock injected by tests, or Redis's TIME when c is 0; and when d (us
 * on Redis's clock, lib/redis.c's deadline; 0: none) has passed, nil
 * and how late (ms): policyd gave up on this call (command_timeout_ms)
 * and answered without it, so it must take nothing.  A late script
 * returns {-1, 0, 0, late}. */
#define POLICYD_REDIS_CLOCK \
"local function clock(c, d)\n" \
"  c = tonumber(c or '0'); d = tonumber(d or '0')\n" \
"  if c ~= 0 and d == 0 then return c, 0 end\n" \
"  local t = redis.call('TIME')\n" \
"  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])\n" \
"  if d > 0 and us > d then return nil, math.floor((us - d) / 1000) end\n" \
"  if c ~= 0 then return c, 0 end\n" \
"  return math.floor(us / 1000), 0\n" \
"end\n"

/* KEYS[1]: the log; ARGV: max, period_ms, weight, "take" or "peek",
 * slots, a clock (ms) that replaces TIME unless 0 (tests), and the
 * deadline (clock()). */
const char policyd_redis_script[] =
POLICYD_REDIS_CODEC
POLICYD_REDIS_CLOCK
"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
"local max = tonumber(ARGV[1])\n"
"local period = tonumber(ARGV[2])\n"
"local w = tonumber(ARGV[3])\n"
"local take = ARGV[4] == 'take'\n"
"local slots = tonumber(ARGV[5])\n"
"local injected = tonumber(ARGV[6] or '0') ~= 0\n"
"local now, late = clock(ARGV[6], ARGV[7])\n"
"if not now then return {-1, 0, 0, late} end\n"
"if max == 0 then return {1, 0, now, 0} end\n"
"local ts, ws, n = log_load(redis.call('GET', KEYS[1]))\n"
/* time going backwards: no time passed */
"if n > 0 and now < ts[n] then now = ts[n] end\n"
/* expire: an entry at t counts in (t, t + P) */
"local first = 1\n"
"while first <= n and ts[first] <= now - period do first = first + 1 end\n"
"local dirty = first > 1\n"
"local used = 0\n"
"if dirty then\n"
"  local t2, w2 = {}, {}\n"
"  for i = first, n do t2[#t2 + 1] = ts[i]; w2[#w2 + 1] = ws[i] end\n"
"  ts, ws, n = t2, w2, #t2\n"
"end\n"
"for i = 1, n do used = used + ws[i] end\n"
"local allowed, retry = 0, 0\n"
"if w > max then\n"
"  retry = period\n"
"elseif used <= max - w then\n"
"  allowed = 1\n"
"else\n"
/* the oldest entries leave first: when enough of them have gone */
"  local need, freed, i = used - (max - w), 0, 1\n"
"  while i <= n do\n"
"    freed = freed + ws[i]\n"
"    if freed >= need then break end\n"
"    i = i + 1\n"
"  end\n"
"  if i > n then i = n end\n"
"  retry = ts[i] + period - now\n"
"  if retry < 1 then retry = 1 end\n"
"end\n"
"if allowed == 1 and take and w > 0 then\n"
"  dirty = true\n"
"  if n > 0 and ts[n] == now then\n"
"    ws[n] = ws[n] + w; w = 0\n"
"  elseif n == slots then\n"
/* merge the closest pair (the new entry included) into the later time */
"    local best, bestgap = n, now - ts[n]\n"
"    for j = 1, n - 1 do\n"
"      local gap = ts[j + 1] - ts[j]\n"
"      if gap < bestgap then bestgap = gap; best = j end\n"
"    end\n"
"    if best == n then\n"
"      ts[n] = now; ws[n] = ws[n] + w; w = 0\n"
"    else\n"
"      ws[best + 1] = ws[best + 1] + ws[best]\n"
"      table.remove(ts, best); table.remove(ws, best); n = n - 1\n"
"    end\n"
"  end\n"
"  if w > 0 then n = n + 1; ts[n] = now; ws[n] = w end\n"
"end\n"
"if dirty then\n"
"  if n == 0 then\n"
"    redis.call('DEL', KEYS[1])\n"
"  else\n"
"    local ttl = ts[n] + period - now\n"
"    if ttl < 1 then ttl = 1 end\n"
/* an injected clock does not move with Redis's: keep test keys a while */
"    if injected and ttl < 600000 then ttl = 600000 end\n"
"    local t2, w2 = {}, {}\n"
"    for i = 1, n do t2[i] = ts[i]; w2[i] = ws[i] end\n"
"    redis.call('SET', KEYS[1], cmsgpack.pack(t2, w2), 'PX',\n"
"               string.format('%.0f', ttl))\n"
"  end\n"
"end\n"
"return {allowed, used, now, retry}\n";

/* A calendar quota (policyd_limit_take with period_ms 0).  KEYS[1]: the
 * log; ARGV: max, weight, "take" or "peek", the node's q[0..3] (the
 * periods around its time), a clock (ms) that replaces TIME unless 0
 * (tests), and the deadline (clock()).  Redis's time picks the period among the node's three:
 * a node whose clock is a little off still counts in Redis's day.  The
 * rest is policyd_limit_take's quota: entries of earlier periods go,
 * the rest folds into one entry, "START:COUNT", which expires when its
 * period ends. */
const char policyd_redis_quota_script[] =
POLICYD_REDIS_CODEC
POLICYD_REDIS_CLOCK
"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
"local max = tonumber(ARGV[1])\n"
"local w = tonumber(ARGV[2])\n"
"local take = ARGV[3] == 'take'\n"
"local q = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),\n"
"           tonumber(ARGV[7])}\n"
"local injected = tonumber(ARGV[8] or '0') ~= 0\n"
"local now, late = clock(ARGV[8], ARGV[9])\n"
"if not now then return {-1, 0, 0, late} end\n"
"local ps, pe, pn = q[2], q[3], q[4]\n"
"if now < q[2] then ps, pe, pn = q[1], q[2], q[3]\n"
"elseif now >= q[3] then ps, pe, pn = q[3], q[4], q[4] end\n"
"if max == 0 then return {1, 0, now, 0} end\n"
"local at, used, dirty = ps, 0, false\n"
"local ts, ws, n, text = log_load(redis.call('GET', KEYS[1]))\n"
"if n > 0 and not text then dirty = true end\n"
"for i = 1, n do\n"
"  if ts[i] < ps then dirty = true\n"
"  else at = ts[i]; used = used + ws[i] end\n"
"end\n"
"if n > 1 then dirty = true end\n"
"if at > now then now = at end\n"
"local allowed, retry, count = 0, 0, used\n"
"if w <= max and used <= max - w then\n"
"  allowed = 1\n"
"  if take and w > 0 then count = used + w; dirty = true end\n"
"else\n"
"  retry = pe - now\n"
"  if retry < 1 then retry = 1 end\n"
"end\n"
"if dirty then\n"
"  if count == 0 then\n"
"    redis.call('DEL', KEYS[1])\n"
"  else\n"
"    local ttl = pe - now\n"
"    if at >= pe then ttl = pn - now end\n"
"    if ttl < 1 then ttl = 1 end\n"
/* an injected clock does not move with Redis's: keep test keys a while */
"    if injected and ttl < 600000 then ttl = 600000 end\n"
"    redis.call('SET', KEYS[1], string.format('%.0f:%.0f', at, count),\n"
"               'PX', string.format('%.0f', ttl))\n"
"  end\n"
"end\n"
"return {allowed, used, at, retry}\n";

/* KEYS[1]: the log; ARGV: at (ms), weight, and "exact" for a quota.
 * Returns the weight given back: from the first entry at or after "at"
 * on, as policyd_limit_refund does (a quota: from the entry at exactly
 * "at" only, as policyd_limit_refund_quota); an emptied log is deleted,
 * otherwise its TTL is kept (at most a little long: never too short). */
const char policyd_redis_refund_script[] =
POLICYD_REDIS_CODEC
"local at = tonumber(ARGV[1])\n"
"local w = tonumber(ARGV[2])\n"
"local ts, ws, n, text = log_load(redis.call('GET', KEYS[1]))\n"
"if n == 0 then return 0 end\n"
"local back, i = 0, 1\n"
"while i <= n and ts[i] < at do i = i + 1 end\n"
"local last = n\n"
"if ARGV[3] == 'exact' then\n"
"  if i > n or ts[i] ~= at then return 0 end\n"
"  last = i\n"
"end\n"
"while i <= last and back < w do\n"
"  local x = ws[i]\n"
"  if x > w - back then x = w - back end\n"
"  ws[i] = ws[i] - x; back = back + x; i = i + 1\n"
"end\n"
"if back == 0 then return 0 end\n"
"local t2, w2, m = {}, {}, 0\n"
"for j = 1, n do\n"
"  if ws[j] > 0 then m = m + 1; t2[m] = ts[j]; w2[m] = ws[j] end\n"
"end\n"
"if m == 0 then\n"
"  redis.call('DEL', KEYS[1])\n"
"elseif text then\n"	/* a quota's "T:W": as it was */
"  redis.call('SET', KEYS[1], log_text(t2, w2, m), 'KEEPTTL')\n"
"else\n"
"  redis.call('SET', KEYS[1], cmsgpack.pack(t2, w2), 'KEEPTTL')\n"
"end\n"
"return back\n";

/* KEYS[1]: a log; returns it as text, "T:W T:W ...", whatever its
 * stored form (tests and debugging: redis-cli EVAL) */
const char policyd_redis_dump_script[] =
POLICYD_REDIS_CODEC
"local ts, ws, n = log_load(redis.call('GET', KEYS[1]))\n"
"if n == 0 then return false end\n"
"return log_text(ts, ws, n)\n";

/* policyd_redis_new - a store on a new client */
struct policyd_redis *
policyd_redis_new(const struct redis_conf *c)
{
	struct policyd_redis *rs = x_calloc(1, sizeof(*rs));

	rs->rc = redis_client_new(c);
	return rs;
}

/* policyd_redis_free - disconnect and destroy */
void
policyd_redis_free(struct policyd_redis **rsp)
{
	if (*rsp == NULL)
		return;
	redis_client_free(&(*rsp)->rc);
	x_free(rsp);
}

/* policyd_redis_key - the Redis key of a limit key */
void
policyd_redis_key(const struct policyd_redis *rs, const char *key,
		  char *out, size_t outlen)
{
	redis_client_key(rs->rc, "policyd:", key, out, outlen);
}

/* The arguments of one op's script call. */
struct policyd_redis_call {
	char rkey[600];
	char a[8][24];
	const char *argv[8];
};

/* policyd_redis_check_limit - a limit script's answer is {allowed,
 * used, at, retry}, four integers (a redis_eval.check) */
static int
policyd_redis_check_limit(const struct redisReply *reply, char *err,
			  size_t errlen)
{
	if (redis_reply_ints(reply, 4))
		return 0;
	x_err(err, errlen, "redis: unexpected answer of the limit script");
	return -1;
}

/* policyd_redis_result - read a limit script's {allowed, used, at,
 * retry} (policyd_redis_check_limit passed) into op->r; 0, or -1 with
 * op->err (allowed -1: the script ran after its deadline and took
 * nothing, retry says how late) */
static int
policyd_redis_result(struct policyd_redis_op *op, struct redisReply *reply)
{
	if (reply->element[0]->integer < 0) {
		x_err(op->err, sizeof(op->err), "redis: the limit script ran"
		      " %lld ms past its deadline (command_timeout_ms after"
		      " it was sent): nothing taken",
		      (long long)reply->element[3]->integer);
		return -1;
	}
	op->r.allowed = reply->element[0]->integer != 0;
	op->r.used = (uint64_t)reply->element[1]->integer;
	op->r.at = reply->element[2]->integer;
	op->r.retry_ms = reply->element[3]->integer;
	return 0;
}

/* policyd_redis_prepare - the script call of a take (or peek): a
 * window's script, or a calendar quota's */
static void
policyd_redis_prepare(struct policyd_redis *rs, struct policyd_redis_op *op,
		      struct policyd_redis_call *c, struct redis_eval *ev)
{
	const struct policyd_limit *lim = op->lim;
	int i, n = 0;

	policyd_redis_key(rs, op->key, c->rkey, sizeof(c->rkey));
	ev->key = c->rkey;
	ev->argv = c->argv;
	snprintf(c->a[n++], 24, "%" PRIu64, lim->max);
	if (op->refund) {
		snprintf(c->a[0], 24, "%" PRId64, op->at);
		snprintf(c->a[1], 24, "%" PRIu64, op->weight);
		snprintf(c->a[2], 24, "exact");
		n = lim->period_ms == 0 ? 3 : 2;
		ev->script = policyd_redis_refund_script;
		ev->check = redis_check_int;	/* the weight given back */
	} else if (lim->period_ms == 0) {
		snprintf(c->a[n++], 24, "%" PRIu64, op->weight);
		snprintf(c->a[n++], 24, "%s", op->peek ? "peek" : "take");
		for (i = 0; i < 4; i++)
			snprintf(c->a[n++], 24, "%" PRId64, lim->q[i]);
		snprintf(c->a[n++], 24, "%" PRId64, op->clock);
		ev->script = policyd_redis_quota_script;
		ev->check = policyd_redis_check_limit;
		ev->deadline = 1;
	} else {
		snprintf(c->a[n++], 24, "%" PRId64, lim->period_ms);
		snprintf(c->a[n++], 24, "%" PRIu64, op->weight);
		snprintf(c->a[n++], 24, "%s", op->peek ? "peek" : "take");
		snprintf(c->a[n++], 24, "%d", POLICYD_LIMIT_SLOTS);
		snprintf(c->a[n++], 24, "%" PRId64, op->clock);
		ev->script = policyd_redis_script;
		ev->check = policyd_redis_check_limit;
		ev->deadline = 1;
	}
	for (i = 0; i < n; i++)
		c->argv[i] = c->a[i];
	ev->argc = n;
}

/* policyd_redis_run_many - the ops, pipelined (redis_client_eval_many) */
size_t
policyd_redis_run_many(struct policyd_redis *rs, struct policyd_redis_op *ops,
		       size_t n)
{
	struct policyd_redis_call *calls;
	struct redis_eval *ev;
	size_t i, failed = 0;

	if (n == 0)
		return 0;
	calls = x_calloc(n, sizeof(*calls));
	ev = x_calloc(n, sizeof(*ev));
	for (i = 0; i < n; i++) {
		memset(&ops[i].r, 0, sizeof(ops[i].r));
		ops[i].back = 0;
		ops[i].err[0] = '\0';
		policyd_redis_prepare(rs, &ops[i], &calls[i], &ev[i]);
	}
	redis_client_eval_many(rs->rc, ev, n);
	for (i = 0; i < n; i++) {
		ops[i].rc = ev[i].rc;
		if (ev[i].rc < 0)
			snprintf(ops[i].err, sizeof(ops[i].err), "%s",
				 ev[i].err);
		else if (!ops[i].refund)
			ops[i].rc = policyd_redis_result(&ops[i], ev[i].reply);
		else
			ops[i].back = ev[i].reply->integer;
		redis_reply_free(&ev[i].reply);
		failed += ops[i].rc != 0;
	}
	free(calls);
	free(ev);
	return failed;
}

/* policyd_redis_take - one atomic check in Redis */
int
policyd_redis_take(struct policyd_redis *rs, const char *key,
		   const struct policyd_limit *lim, int64_t clock,
		   uint64_t weight, int peek, struct policyd_limit_result *r,
		   char *err, size_t errlen)
{
	struct policyd_redis_op op;

	memset(&op, 0, sizeof(op));
	op.key = key;
	op.lim = lim;
	op.clock = clock;
	op.weight = weight;
	op.peek = peek;
	policyd_redis_run_many(rs, &op, 1);
	*r = op.r;
	if (op.rc < 0)
		x_err(err, errlen, "%s", op.err);
	return op.rc;
}

/* policyd_redis_reset - DEL the key */
int
policyd_redis_reset(struct policyd_redis *rs, const char *key, char *err,
		    size_t errlen)
{
	struct redisReply *reply = NULL;
	char rkey[600];
	const char *argv[2];
	int rc;

	policyd_redis_key(rs, key, rkey, sizeof(rkey));
	argv[0] = "DEL";
	argv[1] = rkey;
	if (redis_client_command(rs->rc, 2, argv, &reply, err, errlen) < 0)
		return -1;
	rc = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
	redis_reply_free(&reply);
	return rc;
}

/* policyd_redis_stats - the client's counters */
void
policyd_redis_stats(const struct policyd_redis *rs, struct redis_stats *out)
{
	redis_client_stats(rs->rc, out);
}

/* policyd_redis_refund - give weight back in Redis */
int64_t
policyd_redis_refund(struct policyd_redis *rs, const char *key,
		     const struct policyd_limit *lim, int64_t at,
		     uint64_t weight, char *err, size_t errlen)
{
	struct policyd_redis_op op;

	memset(&op, 0, sizeof(op));
	op.key = key;
	op.lim = lim;
	op.refund = 1;
	op.at = at;
	op.weight = weight;
	policyd_redis_run_many(rs, &op, 1);
	if (op.rc < 0) {
		x_err(err, errlen, "%s", op.err);
		return -1;
	}
	return op.back;
}
