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

/* KEYS[1]: the log; ARGV: max, period_ms, weight, "take" or "peek",
 * slots, and a clock (ms) that replaces TIME when given (tests). */
const char policyd_redis_script[] =
POLICYD_REDIS_CODEC
"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
"local max = tonumber(ARGV[1])\n"
"local period = tonumber(ARGV[2])\n"
"local w = tonumber(ARGV[3])\n"
"local take = ARGV[4] == 'take'\n"
"local slots = tonumber(ARGV[5])\n"
"local now\n"
"if ARGV[6] then\n"
"  now = tonumber(ARGV[6])\n"
"else\n"
"  local t = redis.call('TIME')\n"
"  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"end\n"
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
"    if ARGV[6] and ttl < 600000 then ttl = 600000 end\n"
"    local t2, w2 = {}, {}\n"
"    for i = 1, n do t2[i] = ts[i]; w2[i] = ws[i] end\n"
"    redis.call('SET', KEYS[1], cmsgpack.pack(t2, w2), 'PX',\n"
"               string.format('%.0f', ttl))\n"
"  end\n"
"end\n"
"return {allowed, used, now, retry}\n";

/* A calendar quota (policyd_limit_take with period_ms 0).  KEYS[1]: the
 * log; ARGV: max, weight, "take" or "peek", the node's q[0..3] (the
 * periods around its time) and a clock (ms) that replaces TIME when
 * given (tests).  Redis's time picks the period among the node's three:
 * a node whose clock is a little off still counts in Redis's day.  The
 * rest is policyd_limit_take's quota: entries of earlier periods go,
 * the rest folds into one entry, "START:COUNT", which expires when its
 * period ends. */
const char policyd_redis_quota_script[] =
POLICYD_REDIS_CODEC
"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
"local max = tonumber(ARGV[1])\n"
"local w = tonumber(ARGV[2])\n"
"local take = ARGV[3] == 'take'\n"
"local q = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),\n"
"           tonumber(ARGV[7])}\n"
"local now\n"
"if ARGV[8] then\n"
"  now = tonumber(ARGV[8])\n"
"else\n"
"  local t = redis.call('TIME')\n"
"  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"end\n"
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
"    if ARGV[8] and ttl < 600000 then ttl = 600000 end\n"
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

/* policyd_redis_run - run a limit script, read its {allowed, used, at,
 * retry} into r; 0, or -1 with err */
static int
policyd_redis_run(struct policyd_redis *rs, const char *script,
		  const char *rkey, int argc, const char *const *argv,
		  struct policyd_limit_result *r, char *err, size_t errlen)
{
	struct redisReply *reply;
	size_t i;

	if (redis_client_eval(rs->rc, script, rkey, argc, argv, &reply, err,
			      errlen) < 0)
		return -1;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
		redis_reply_free(&reply);
		x_err(err, errlen, "redis: unexpected answer of the limit"
		      " script");
		return -1;
	}
	for (i = 0; i < 4; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
			redis_reply_free(&reply);
			x_err(err, errlen, "redis: unexpected answer of the"
			      " limit script");
			return -1;
		}
	r->allowed = reply->element[0]->integer != 0;
	r->used = (uint64_t)reply->element[1]->integer;
	r->at = reply->element[2]->integer;
	r->retry_ms = reply->element[3]->integer;
	redis_reply_free(&reply);
	return 0;
}

/* policyd_redis_take_quota - one atomic quota check in Redis */
static int
policyd_redis_take_quota(struct policyd_redis *rs, const char *rkey,
			 const struct policyd_limit *lim, int64_t clock,
			 uint64_t weight, int peek,
			 struct policyd_limit_result *r, char *err,
			 size_t errlen)
{
	char a_max[24], a_w[24], a_q[4][24], a_clock[24];
	const char *argv[8] = { a_max, a_w, peek ? "peek" : "take", a_q[0],
				a_q[1], a_q[2], a_q[3], a_clock };
	int i;

	snprintf(a_max, sizeof(a_max), "%" PRIu64, lim->max);
	snprintf(a_w, sizeof(a_w), "%" PRIu64, weight);
	for (i = 0; i < 4; i++)
		snprintf(a_q[i], sizeof(a_q[i]), "%" PRId64, lim->q[i]);
	snprintf(a_clock, sizeof(a_clock), "%" PRId64, clock);
	return policyd_redis_run(rs, policyd_redis_quota_script, rkey,
				 clock != 0 ? 8 : 7, argv, r, err, errlen);
}

/* policyd_redis_take - one atomic check in Redis */
int
policyd_redis_take(struct policyd_redis *rs, const char *key,
		   const struct policyd_limit *lim, int64_t clock,
		   uint64_t weight, int peek, struct policyd_limit_result *r,
		   char *err, size_t errlen)
{
	char rkey[600], a_max[24], a_period[24], a_w[24], a_slots[8];
	char a_clock[24];
	const char *argv[6] = { a_max, a_period, a_w, peek ? "peek" : "take",
				a_slots, a_clock };

	memset(r, 0, sizeof(*r));
	policyd_redis_key(rs, key, rkey, sizeof(rkey));
	if (lim->period_ms == 0)
		return policyd_redis_take_quota(rs, rkey, lim, clock, weight,
						peek, r, err, errlen);
	snprintf(a_max, sizeof(a_max), "%" PRIu64, lim->max);
	snprintf(a_period, sizeof(a_period), "%" PRId64, lim->period_ms);
	snprintf(a_w, sizeof(a_w), "%" PRIu64, weight);
	snprintf(a_slots, sizeof(a_slots), "%d", POLICYD_LIMIT_SLOTS);
	snprintf(a_clock, sizeof(a_clock), "%" PRId64, clock);
	return policyd_redis_run(rs, policyd_redis_script, rkey,
				 clock != 0 ? 6 : 5, argv, r, err, errlen);
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
	char rkey[600], a_at[24], a_w[24];
	const char *argv[3] = { a_at, a_w, "exact" };
	struct redisReply *reply;
	int64_t back;

	policyd_redis_key(rs, key, rkey, sizeof(rkey));
	snprintf(a_at, sizeof(a_at), "%" PRId64, at);
	snprintf(a_w, sizeof(a_w), "%" PRIu64, weight);
	if (redis_client_eval(rs->rc, policyd_redis_refund_script, rkey,
			      lim->period_ms == 0 ? 3 : 2, argv, &reply, err,
			      errlen) < 0)
		return -1;
	if (reply->type != REDIS_REPLY_INTEGER) {
		redis_reply_free(&reply);
		x_err(err, errlen, "redis: unexpected answer of the refund"
		      " script");
		return -1;
	}
	back = reply->integer;
	redis_reply_free(&reply);
	return back;
}
