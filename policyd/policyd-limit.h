/*++
 * NAME
 *	policyd-limit 3h
 * SUMMARY
 *	exact "N per P" rate limits over any sliding window
 * SYNOPSIS
 *	#include "policyd-limit.h"
 *
 *	struct policyd_limit lim = { 100, 3600 * 1000 };   100 per hour
 *	struct policyd_limit_state st = { 0 };
 *	struct policyd_limit_result r;
 *
 *	if (policyd_limit_take(&lim, &st, now_ms, 1, &r) == 0)
 *		... deferred: retry in policyd_limit_retry_seconds(&r) ...
 *	policyd_limit_refund(&st, r.at, 1);		   abandoned
 * DESCRIPTION
 *	The promise: whatever the timing, the weights admitted in any
 *	window of length P never add up to more than N, and a burst of N
 *	passes at once.  Fixed windows let 2N through around a window edge;
 *	a token bucket or GCRA whose burst is N lets N + (N - 1) through
 *	in a window of P (the burst, then the refill); a GCRA whose burst is
 *	1 holds the promise but refuses the second of two messages sent
 *	together.  Only remembering when the admitted weight came in can
 *	do both, so the state is a short log of (time, weight) entries:
 *	a request of weight w is admitted at time t when the weight logged
 *	in (t - P, t] plus w is at most N, and an entry at time t0 stops
 *	counting at exactly t0 + P.
 *
 *	The log holds at most POLICYD_LIMIT_SLOTS entries.  Requests in the
 *	same millisecond share an entry; when a new time finds the log full,
 *	the two entries closest in time are merged into one at the later
 *	time.  Moving weight later only makes it count longer, so the
 *	promise still holds; what it costs is that some weight becomes
 *	available again a little later than it would be exactly (by at most
 *	the gap merged, P / POLICYD_LIMIT_SLOTS on average for evenly spread
 *	traffic).  A burst sent within one millisecond is one entry, so the
 *	usual cases ("100 at once", "one per minute") are exact.
 *
 *	Time is injected (milliseconds, any epoch): nothing here reads a
 *	clock, so the tests drive it.  Time going backwards (a clock step)
 *	is treated as "no time passed": the log never holds a future entry.
 *	Weights are messages, recipients or bytes (64-bit).  A weight above
 *	N can never pass: it is refused with a retry of P.
 *
 *	A calendar quota (period_ms 0) counts from the start of a
 *	calendar period to its end, q[1] <= now < q[2], which the caller
 *	gives (policyd-calendar.h) for its now, with q[0] the start of the
 *	period before and q[3] the end of the one after (for a store with
 *	its own clock).  Its state is at most one entry: the time the
 *	period started (or, when the clock went back across a boundary,
 *	that of the later period the entry belongs to) and the weight
 *	admitted since.  An entry older than q[1] no longer counts; a log
 *	left by a sliding limit of the same key (a changed configuration)
 *	is folded into one entry, the part of it in the period counting.
 *	A refusal's retry is the time until the period ends (q[2] - now),
 *	when the quota starts again.  r.at is the entry's time, which is
 *	what a refund needs.
 *
 *	policyd_limit_encode()/decode() give the state a compact byte
 *	form for stores: POLICYD_LIMIT_FORM, the number of entries (one
 *	byte), then per entry its time and weight as unsigned LEB128
 *	varints, each time but the first as the gap to the one before.
 *	A full log of a busy key (32 entries milliseconds to seconds
 *	apart, weights of 1) takes about 110 bytes instead of the first
 *	form's 516, which is most of what a store's flush writes.  decode
 *	also reads the first form (4 bytes n, then n times 8 bytes t and
 *	8 bytes w, little-endian), which rows written by earlier versions
 *	hold; a row is in the new form once written again.  decode checks
 *	what it reads (its length, varints in their shortest form, times
 *	increasing and within POLICYD_LIMIT_MAX_TIME, weights within
 *	POLICYD_LIMIT_MAX_WEIGHT), so that a state has one byte form.
 *--*/
#ifndef ELEMTA_POLICYD_LIMIT_H
#define ELEMTA_POLICYD_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#define POLICYD_LIMIT_SLOTS	32
/* what a stored state may hold (policyd_limit_decode): times from 0 to
 * about the year 33000, weights up to 2^53 (a limit's max is at most
 * 10^12); beyond, a damaged or hostile store could make the arithmetic
 * on times overflow */
#define POLICYD_LIMIT_MAX_TIME	1000000000000000LL
#define POLICYD_LIMIT_MAX_WEIGHT	(1ULL << 53)

struct policyd_limit {
	uint64_t max;		/* N: weight allowed per period; 0 = no limit */
	int64_t period_ms;	/* P, > 0; 0: a calendar quota */
	int64_t q[4];		/* quota: the periods around now (see above) */
};

struct policyd_limit_ent {
	int64_t t;		/* when (ms) */
	uint64_t w;		/* weight admitted then */
};

struct policyd_limit_state {
	uint32_t n;		/* entries used, oldest first */
	struct policyd_limit_ent e[POLICYD_LIMIT_SLOTS];
};

struct policyd_limit_result {
	int allowed;		/* 1: admitted (and logged), 0: refused */
	uint64_t used;		/* weight in the window before this request */
	int64_t at;		/* admitted: the time logged (for a refund) */
	int64_t retry_ms;	/* refused: wait this long, then it passes */
};

/* policyd_limit_take - admit weight at now (logging it) or refuse it;
 * returns r->allowed.  A limit with max 0 admits all and logs nothing. */
int policyd_limit_take(const struct policyd_limit *lim,
		       struct policyd_limit_state *st, int64_t now,
		       uint64_t weight, struct policyd_limit_result *r);

/* policyd_limit_peek - like take, but never logs: "would it pass?" */
int policyd_limit_peek(const struct policyd_limit *lim,
		       struct policyd_limit_state *st, int64_t now,
		       uint64_t weight, struct policyd_limit_result *r);

/* policyd_limit_refund - give back weight logged at time at (the r.at of
 * its take); returns the weight actually given back (less if some has
 * expired or was refunded already) */
uint64_t policyd_limit_refund(struct policyd_limit_state *st, int64_t at,
			      uint64_t weight);

/* policyd_limit_refund_quota - the same for a quota: only from the entry
 * of exactly time at (its period's), never from a later period's */
uint64_t policyd_limit_refund_quota(struct policyd_limit_state *st,
				    int64_t at, uint64_t weight);

/* policyd_limit_expire - drop entries that stopped counting at now */
void policyd_limit_expire(const struct policyd_limit *lim,
			  struct policyd_limit_state *st, int64_t now);

/* policyd_limit_used - the weight logged (call expire first) */
uint64_t policyd_limit_used(const struct policyd_limit_state *st);

/* policyd_limit_expiry - when the last entry stops counting (a store's
 * TTL; for a quota, the end of its period); INT64_MIN for an empty log */
int64_t policyd_limit_expiry(const struct policyd_limit *lim,
			     const struct policyd_limit_state *st);

/* policyd_limit_retry_seconds - r->retry_ms rounded up, at least 1 */
long policyd_limit_retry_seconds(const struct policyd_limit_result *r);

/* Byte form (see above): its first byte, which the first form (whose
 * first byte is n, at most POLICYD_LIMIT_SLOTS) never starts with; the
 * most it takes, for any state (a varint of 64 bits is 10 bytes). */
#define POLICYD_LIMIT_FORM	0xe1
#define POLICYD_LIMIT_ENCODED_MAX (2 + POLICYD_LIMIT_SLOTS * 20)
size_t policyd_limit_encode(const struct policyd_limit_state *st,
			    unsigned char *buf);
/* 0, or -1 if buf is not a valid state (wrong length, too many entries,
 * times out of order) */
int policyd_limit_decode(struct policyd_limit_state *st,
			 const unsigned char *buf, size_t len);

#endif
