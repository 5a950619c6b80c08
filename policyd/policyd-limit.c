/*++
 * NAME
 *	policyd-limit 3
 * SUMMARY
 *	exact "N per P" rate limits over any sliding window
 * DESCRIPTION
 *	See policyd-limit.h for the semantics.  Everything here is
 *	arithmetic on a caller's struct: no clock, no I/O, no allocation.
 *--*/
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "policyd-limit.h"

/* policyd_limit_drop - forget the first i entries */
static void
policyd_limit_drop(struct policyd_limit_state *st, uint32_t i)
{
	if (i > 0) {
		memmove(st->e, st->e + i, (st->n - i) * sizeof(st->e[0]));
		st->n -= i;
	}
}

/* policyd_limit_drop_one - forget entry i */
static void
policyd_limit_drop_one(struct policyd_limit_state *st, uint32_t i)
{
	memmove(st->e + i, st->e + i + 1, (st->n - i - 1) * sizeof(st->e[0]));
	st->n--;
}

/* policyd_limit_expire_quota - a quota's state: entries of earlier
 * periods go, the rest is folded into one entry at the latest time */
static void
policyd_limit_expire_quota(const struct policyd_limit *lim,
			   struct policyd_limit_state *st)
{
	uint32_t i = 0;

	while (i < st->n && st->e[i].t < lim->q[1])
		i++;
	policyd_limit_drop(st, i);
	for (i = 0; st->n > 1 && i + 1 < st->n; i++)
		st->e[st->n - 1].w += st->e[i].w;
	policyd_limit_drop(st, st->n > 1 ? st->n - 1 : 0);
}

/* policyd_limit_expire - drop entries that stopped counting at now */
void
policyd_limit_expire(const struct policyd_limit *lim,
		     struct policyd_limit_state *st, int64_t now)
{
	uint32_t i = 0;

	if (lim->period_ms == 0) {
		policyd_limit_expire_quota(lim, st);
		return;
	}
	/* an entry at t counts in (t, t + P): gone once now >= t + P */
	while (i < st->n && st->e[i].t <= now - lim->period_ms)
		i++;
	policyd_limit_drop(st, i);
}

/* policyd_limit_used - the weight logged */
uint64_t
policyd_limit_used(const struct policyd_limit_state *st)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < st->n; i++)
		sum += st->e[i].w;
	return sum;
}

/* policyd_limit_expiry - when the newest entry stops counting */
int64_t
policyd_limit_expiry(const struct policyd_limit *lim,
		     const struct policyd_limit_state *st)
{
	if (st->n == 0)
		return INT64_MIN;
	if (lim->period_ms == 0)	/* a later period's entry: its end */
		return st->e[st->n - 1].t >= lim->q[2] ? lim->q[3] : lim->q[2];
	return st->e[st->n - 1].t + lim->period_ms;
}

/* policyd_limit_retry_seconds - whole seconds to wait, at least 1 */
long
policyd_limit_retry_seconds(const struct policyd_limit_result *r)
{
	long s = (long)((r->retry_ms + 999) / 1000);

	return s < 1 ? 1 : s;
}

/* policyd_limit_clock - now, never before the newest entry */
static int64_t
policyd_limit_clock(const struct policyd_limit_state *st, int64_t now)
{
	if (st->n > 0 && now < st->e[st->n - 1].t)
		return st->e[st->n - 1].t;
	return now;
}

/* policyd_limit_decide_quota - the decision of a quota (expired): room
 * until the period ends; r->at is the time of the entry it counts in */
static int
policyd_limit_decide_quota(const struct policyd_limit *lim,
			   const struct policyd_limit_state *st, int64_t now,
			   uint64_t weight, struct policyd_limit_result *r)
{
	r->at = st->n > 0 ? st->e[st->n - 1].t : lim->q[1];
	if (weight <= lim->max && r->used <= lim->max - weight) {
		r->allowed = 1;
		return 1;
	}
	/* a weight above max never passes: say "when the quota resets" */
	r->retry_ms = lim->q[2] - now;
	if (r->retry_ms < 1)
		r->retry_ms = 1;
	return 0;
}

/* policyd_limit_decide - fill r: would weight pass at now? */
static int
policyd_limit_decide(const struct policyd_limit *lim,
		     struct policyd_limit_state *st, int64_t now,
		     uint64_t weight, struct policyd_limit_result *r)
{
	uint64_t need, freed = 0;
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->at = now;
	if (lim->max == 0) {
		r->allowed = 1;
		return 1;
	}
	policyd_limit_expire(lim, st, now);
	r->used = policyd_limit_used(st);
	if (lim->period_ms == 0)
		return policyd_limit_decide_quota(lim, st, now, weight, r);
	if (weight > lim->max) {
		r->retry_ms = lim->period_ms;	/* never; say "a period" */
		return 0;
	}
	if (r->used <= lim->max - weight) {
		r->allowed = 1;
		return 1;
	}
	/* the oldest entries leave first: when enough of them have gone */
	need = r->used - (lim->max - weight);
	for (i = 0; i < st->n; i++) {
		freed += st->e[i].w;
		if (freed >= need)
			break;
	}
	r->retry_ms = st->e[i < st->n ? i : st->n - 1].t + lim->period_ms
		- now;
	if (r->retry_ms < 1)
		r->retry_ms = 1;
	return 0;
}

/* policyd_limit_log - add weight at now to the log, merging if full */
static void
policyd_limit_log(struct policyd_limit_state *st, int64_t now,
		  uint64_t weight)
{
	uint32_t i, best;
	int64_t gap, best_gap;

	if (weight == 0)
		return;
	if (st->n > 0 && st->e[st->n - 1].t == now) {
		st->e[st->n - 1].w += weight;
		return;
	}
	if (st->n == POLICYD_LIMIT_SLOTS) {
		/* merge the closest pair (the new entry included) into the
		 * later time: weight may count longer, never shorter */
		best = st->n - 1;
		best_gap = now - st->e[st->n - 1].t;
		for (i = 0; i + 1 < st->n; i++) {
			gap = st->e[i + 1].t - st->e[i].t;
			if (gap < best_gap) {
				best_gap = gap;
				best = i;
			}
		}
		if (best == st->n - 1) {
			st->e[best].t = now;
			st->e[best].w += weight;
			return;
		}
		st->e[best + 1].w += st->e[best].w;
		memmove(st->e + best, st->e + best + 1,
			(st->n - best - 1) * sizeof(st->e[0]));
		st->n--;
	}
	st->e[st->n].t = now;
	st->e[st->n].w = weight;
	st->n++;
}

/* policyd_limit_take - admit (and log) or refuse */
int
policyd_limit_take(const struct policyd_limit *lim,
		   struct policyd_limit_state *st, int64_t now,
		   uint64_t weight, struct policyd_limit_result *r)
{
	now = policyd_limit_clock(st, now);
	if (!policyd_limit_decide(lim, st, now, weight, r))
		return 0;
	if (lim->max > 0)	/* a quota's: the entry of its period */
		policyd_limit_log(st, r->at, weight);
	return 1;
}

/* policyd_limit_peek - would it pass?  Logs nothing */
int
policyd_limit_peek(const struct policyd_limit *lim,
		   struct policyd_limit_state *st, int64_t now,
		   uint64_t weight, struct policyd_limit_result *r)
{
	now = policyd_limit_clock(st, now);
	return policyd_limit_decide(lim, st, now, weight, r);
}

/* policyd_limit_refund - give back weight logged at time at */
uint64_t
policyd_limit_refund(struct policyd_limit_state *st, int64_t at,
		     uint64_t weight)
{
	uint64_t back = 0, w;
	uint32_t i = 0, j;

	/* merges only move weight later, and only into the next entry: the
	 * weight logged at "at" is in the first entry at or after it */
	while (i < st->n && st->e[i].t < at)
		i++;
	while (i < st->n && back < weight) {
		w = st->e[i].w < weight - back ? st->e[i].w : weight - back;
		st->e[i].w -= w;
		back += w;
		i++;
	}
	for (i = j = 0; i < st->n; i++)	/* drop emptied entries */
		if (st->e[i].w > 0)
			st->e[j++] = st->e[i];
	st->n = j;
	return back;
}

/* policyd_limit_refund_quota - give back weight of the entry at "at" */
uint64_t
policyd_limit_refund_quota(struct policyd_limit_state *st, int64_t at,
			   uint64_t weight)
{
	uint32_t i;

	for (i = 0; i < st->n; i++)
		if (st->e[i].t == at)
			break;
	if (i == st->n)
		return 0;	/* its period is over: nothing to give back */
	if (st->e[i].w < weight)
		weight = st->e[i].w;
	st->e[i].w -= weight;
	if (st->e[i].w == 0)
		policyd_limit_drop_one(st, i);
	return weight;
}

/* policyd_limit_get64 - little-endian 64-bit (the first byte form) */
static uint64_t
policyd_limit_get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* policyd_limit_put_var - v as an unsigned LEB128 varint; its length */
static size_t
policyd_limit_put_var(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* policyd_limit_get_var - read a varint from *pp (before end), in its
 * shortest form only (so that a state has one byte form); 0, or -1 */
static int
policyd_limit_get_var(const unsigned char **pp, const unsigned char *end,
		      uint64_t *v)
{
	const unsigned char *p = *pp;
	unsigned shift = 0;

	*v = 0;
	for (;;) {
		if (p == end || shift > 63)
			return -1;
		if (shift == 63 && *p > 1)
			return -1;		/* past 64 bits */
		*v |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p & 0x80) == 0)
			break;
		p++;
		shift += 7;
	}
	if (*p == 0 && p != *pp)
		return -1;			/* a needless zero byte */
	*pp = p + 1;
	return 0;
}

/* policyd_limit_encode - the byte form; returns its length */
size_t
policyd_limit_encode(const struct policyd_limit_state *st,
		     unsigned char *buf)
{
	size_t len = 0;
	uint32_t i;

	buf[len++] = POLICYD_LIMIT_FORM;
	buf[len++] = (unsigned char)st->n;
	for (i = 0; i < st->n && i < POLICYD_LIMIT_SLOTS; i++) {
		/* times as the gap to the one before (wrapping for a state
		 * out of order, which decode refuses) */
		len += policyd_limit_put_var(buf + len, i == 0
					     ? (uint64_t)st->e[0].t
					     : (uint64_t)st->e[i].t
					       - (uint64_t)st->e[i - 1].t);
		len += policyd_limit_put_var(buf + len, st->e[i].w);
	}
	return len;
}

/* policyd_limit_valid - entry i of st may follow the ones before it */
static int
policyd_limit_valid(const struct policyd_limit_state *st, uint32_t i)
{
	return !((i > 0 && st->e[i].t <= st->e[i - 1].t)
		 || st->e[i].t < 0 || st->e[i].t > POLICYD_LIMIT_MAX_TIME
		 || st->e[i].w > POLICYD_LIMIT_MAX_WEIGHT);
}

/* policyd_limit_decode_fixed - the first byte form: 4 bytes n, then n
 * times 8 bytes t + 8 bytes w (rows written before the varint form) */
static int
policyd_limit_decode_fixed(struct policyd_limit_state *st,
			   const unsigned char *buf, size_t len)
{
	uint32_t n, i;

	if (len < 4)
		return -1;
	n = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16
		| (uint32_t)buf[3] << 24;
	if (n > POLICYD_LIMIT_SLOTS || len != 4 + 16 * (size_t)n)
		return -1;
	for (i = 0; i < n; i++) {
		st->e[i].t = (int64_t)policyd_limit_get64(buf + 4 + 16 * i);
		st->e[i].w = policyd_limit_get64(buf + 12 + 16 * i);
		if (!policyd_limit_valid(st, i))
			return -1;
	}
	st->n = n;
	return 0;
}

/* policyd_limit_decode_var - the varint form (see the header) */
static int
policyd_limit_decode_var(struct policyd_limit_state *st,
			 const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf + 2, *end = buf + len;
	uint64_t t, w;
	uint32_t n, i;

	if (len < 2 || buf[0] != POLICYD_LIMIT_FORM
	    || (n = buf[1]) > POLICYD_LIMIT_SLOTS)
		return -1;
	for (i = 0; i < n; i++) {
		if (policyd_limit_get_var(&p, end, &t) < 0
		    || policyd_limit_get_var(&p, end, &w) < 0)
			return -1;
		/* a gap past the largest time cannot be added safely */
		if (t > (uint64_t)POLICYD_LIMIT_MAX_TIME)
			return -1;
		st->e[i].t = i == 0 ? (int64_t)t : st->e[i - 1].t + (int64_t)t;
		st->e[i].w = w;
		if (!policyd_limit_valid(st, i))
			return -1;
	}
	if (p != end)
		return -1;
	st->n = n;
	return 0;
}

/* policyd_limit_decode - read either byte form back; 0 or -1 */
int
policyd_limit_decode(struct policyd_limit_state *st,
		     const unsigned char *buf, size_t len)
{
	int rc;

	memset(st, 0, sizeof(*st));
	rc = len > 0 && buf[0] == POLICYD_LIMIT_FORM
		? policyd_limit_decode_var(st, buf, len)
		: policyd_limit_decode_fixed(st, buf, len);
	if (rc < 0)
		memset(st, 0, sizeof(*st));
	return rc;
}
