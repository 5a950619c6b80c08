/*++
 * NAME
 *	0301-policyd-limit 1
 * SUMMARY
 *	unit tests for policyd/policyd-limit.c (and the rate syntax)
 * DESCRIPTION
 *	The exact 100/hour case (100 pass at once, the 101st is refused
 *	with the right retry time, one more passes exactly then and not a
 *	millisecond before); window edges (never more than N in any window
 *	of P, checked by brute force over random traffic, with the log
 *	full and merging); weights; refunds; peek; clock steps backwards;
 *	the byte form; the "N/PERIOD" syntax of the options.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd-limit.h"
#include "policyd-options.h"
#include "tap.h"
#include "test-limit.h"

#define H	(3600 * 1000LL)

/* test_hundred - 100 per hour, exactly */
static void
test_hundred(void)
{
	struct policyd_limit lim = { 100, H };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	int64_t t0 = 1700000000000LL;
	int i, passed = 0;

	for (i = 0; i < 100; i++)
		passed += policyd_limit_take(&lim, &st, t0 + i * 10, 1, &r);
	is_int(passed, 100, "100 messages in one second all pass");
	is_int(policyd_limit_take(&lim, &st, t0 + 1000, 1, &r), 0,
	       "the 101st is refused");
	is_int((long long)r.used, 100, "used is 100");
	is_int(r.retry_ms, H - 1000, "retry when the first one leaves the hour");
	is_int(policyd_limit_retry_seconds(&r), 3599, "retry is 3599 s");
	is_int(policyd_limit_take(&lim, &st, t0 + H - 1, 1, &r), 0,
	       "1 ms before the hour: still refused");
	is_int(r.retry_ms, 1, "retry 1 ms");
	is_int(policyd_limit_retry_seconds(&r), 1, "rounded up to 1 s");
	is_int(policyd_limit_take(&lim, &st, t0 + H, 1, &r), 1,
	       "at exactly the hour after the first: one more passes");
	is_int(policyd_limit_take(&lim, &st, t0 + H, 1, &r), 0,
	       "and only one");
	is_int(r.retry_ms, 10, "the next leaves 10 ms later");
	is_int(policyd_limit_take(&lim, &st, t0 + H + 10, 1, &r), 1,
	       "which frees one more");
}

/* test_edge - the fixed-window edge case: never 2N around an edge */
static void
test_edge(void)
{
	struct policyd_limit lim = { 10, 60000 };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	int i, passed = 0;

	/* 10 at the end of one "minute", 10 more just after it */
	for (i = 0; i < 10; i++)
		passed += policyd_limit_take(&lim, &st, 59990 + i, 1, &r);
	for (i = 0; i < 10; i++)
		passed += policyd_limit_take(&lim, &st, 60000 + i, 1, &r);
	is_int(passed, 10, "10 per minute around a minute boundary: 10 pass");
	is_int(policyd_limit_take(&lim, &st, 119989, 1, &r), 0,
	       "still refused 59.999 s after the first");
	is_int(policyd_limit_take(&lim, &st, 119990, 1, &r), 1,
	       "one passes 60 s after the first");
}

/* test_brute - random traffic: count every window of P by brute force */
static void
test_brute(void)
{
	static int64_t times[20000];
	struct policyd_limit lim = { 50, 10000 };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	int64_t t = 0;
	size_t n = 0, i, j;
	int worst = 0, merged = 0, bad_retry = 0;
	unsigned seed = 12345;

	for (i = 0; i < 200000 && n < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		t += (seed >> 16) % 400;	/* 0..399 ms apart */
		if (policyd_limit_take(&lim, &st, t, 1, &r)) {
			times[n++] = t;
		} else {
			struct policyd_limit_state c1 = st, c2 = st;
			struct policyd_limit_result r2;

			/* refused: must pass at t + retry (nothing else
			 * taken meanwhile), and not 1 ms before (peek
			 * expires entries: one copy of the state each) */
			if (!policyd_limit_peek(&lim, &c1, t + r.retry_ms,
						1, &r2)
			    || (r.retry_ms > 1
				&& policyd_limit_peek(&lim, &c2,
						      t + r.retry_ms - 1, 1,
						      &r2)))
				bad_retry++;
		}
		if (st.n == POLICYD_LIMIT_SLOTS)
			merged = 1;
	}
	/* the most admitted in any window (t - P, t] */
	for (i = 0, j = 0; i < n; i++) {
		while (times[j] <= times[i] - lim.period_ms)
			j++;
		if ((int)(i - j + 1) > worst)
			worst = (int)(i - j + 1);
	}
	ok(n > 1000, "random traffic: %zu admitted", n);
	ok(worst <= 50, "never more than 50 in any 10 s window (worst %d)",
	   worst);
	is_int(worst, 50, "and the limit is reached");
	ok(merged, "the log filled up (merges happened)");
	is_int(bad_retry, 0, "every refusal's retry time is exact for its log");
}

/* test_weights - weights: recipients or bytes */
static void
test_weights(void)
{
	struct policyd_limit lim = { 1000, 60000 };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;

	is_int(policyd_limit_take(&lim, &st, 0, 600, &r), 1, "600 of 1000");
	is_int(policyd_limit_take(&lim, &st, 1000, 300, &r), 1, "900 of 1000");
	is_int(policyd_limit_take(&lim, &st, 2000, 200, &r), 0,
	       "200 more would be 1100: refused");
	is_int(r.retry_ms, 58000, "passes when the 600 leave");
	is_int(policyd_limit_take(&lim, &st, 2000, 100, &r), 1,
	       "100 more fit exactly");
	is_int(policyd_limit_take(&lim, &st, 3000, 1001, &r), 0,
	       "a weight above N never passes");
	is_int(r.retry_ms, 60000, "its retry is one period");
	is_int((long long)policyd_limit_used(&st), 1000, "used 1000");
	is_int(policyd_limit_take(&lim, &st, 3000, 0, &r), 1,
	       "weight 0 passes even when full (nothing to count)");
}

/* test_refund - give weight back */
static void
test_refund(void)
{
	struct policyd_limit lim = { 3, 60000 };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r, r1;
	int i;

	policyd_limit_take(&lim, &st, 100, 1, &r1);
	policyd_limit_take(&lim, &st, 200, 1, &r);
	policyd_limit_take(&lim, &st, 300, 1, &r);
	is_int(policyd_limit_take(&lim, &st, 400, 1, &r), 0, "3 of 3: refused");
	is_int((long long)policyd_limit_refund(&st, r1.at, 1), 1,
	       "refund the first");
	is_int(policyd_limit_take(&lim, &st, 500, 1, &r), 1,
	       "then one more passes");
	is_int((long long)policyd_limit_refund(&st, 250, 5), 2,
	       "a refund gives back at most what is logged after its time");
	is_int((long long)policyd_limit_used(&st), 1, "one left");
	is_int((long long)policyd_limit_refund(&st, 99999, 1), 0,
	       "nothing logged after: nothing back");

	/* refunds after merges: the weight is in a later entry */
	memset(&st, 0, sizeof(st));
	lim.max = 1000;
	for (i = 0; i < POLICYD_LIMIT_SLOTS + 5; i++)
		policyd_limit_take(&lim, &st, i * 10, 1, &r);
	is_int(st.n, POLICYD_LIMIT_SLOTS, "log is full");
	is_int((long long)policyd_limit_used(&st), POLICYD_LIMIT_SLOTS + 5,
	       "no weight lost in merges");
	is_int((long long)policyd_limit_refund(&st, 0, 1), 1,
	       "refund of a merged entry");
	is_int((long long)policyd_limit_used(&st), POLICYD_LIMIT_SLOTS + 4,
	       "weight went down by one");
}

/* test_misc - peek, off, clock going backwards, expiry */
static void
test_misc(void)
{
	struct policyd_limit lim = { 2, 1000 };
	struct policyd_limit off = { 0, 1000 };
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	int i;

	for (i = 0; i < 5; i++)
		policyd_limit_peek(&lim, &st, 10, 1, &r);
	is_int(st.n, 0, "peek logs nothing");
	is_int(policyd_limit_take(&off, &st, 10, 1, &r), 1, "max 0: passes");
	is_int(st.n, 0, "max 0: logs nothing");
	policyd_limit_take(&lim, &st, 5000, 1, &r);
	policyd_limit_take(&lim, &st, 4000, 1, &r);	/* clock stepped back */
	is_int(st.n, 1, "a time in the past is taken as the newest time");
	is_int(st.e[0].t, 5000, "no entry in the future");
	is_int(policyd_limit_take(&lim, &st, 4500, 1, &r), 0,
	       "still limited while the clock is behind");
	is_int(policyd_limit_expiry(&lim, &st), 6000, "expiry is last + P");
	policyd_limit_expire(&lim, &st, 6000);
	is_int(st.n, 0, "expired at last + P");
	ok(policyd_limit_expiry(&lim, &st) == INT64_MIN, "empty: no expiry");
}

/* test_codec_fixed - the first byte form is still read */
static void
test_codec_fixed(const struct policyd_limit_state *st)
{
	unsigned char buf[TEST_LIMIT_FIXED_MAX];
	struct policyd_limit_state back;
	size_t len;

	memset(buf, 0, sizeof(buf));
	len = test_limit_encode_fixed(st, buf);
	is_int(policyd_limit_decode(&back, buf, len), 0,
	       "the first form (rows of earlier versions) decodes");
	ok(back.n == st->n
	   && memcmp(back.e, st->e, st->n * sizeof(st->e[0])) == 0,
	   "the first form gives the same state");
	is_int(policyd_limit_decode(&back, buf, len - 1), -1,
	       "first form, short: refused");
	is_int(policyd_limit_decode(&back, buf, 3), -1,
	       "first form, tiny: refused");
	buf[0] = 200;
	is_int(policyd_limit_decode(&back, buf, len), -1,
	       "first form, too many entries: refused");
	buf[0] = 2;
	memcpy(buf + 4 + 16, buf + 4, 8);	/* second time = first */
	is_int(policyd_limit_decode(&back, buf, 4 + 32), -1,
	       "first form, times out of order: refused");
	is_int(back.n, 0, "a refused decode leaves an empty state");
}

/* test_codec - the byte form */
static void
test_codec(void)
{
	struct policyd_limit lim = { 100, H };
	struct policyd_limit_state st = { 0 }, back;
	struct policyd_limit_result r;
	unsigned char buf[POLICYD_LIMIT_ENCODED_MAX], bad[POLICYD_LIMIT_ENCODED_MAX];
	size_t len, i, gaps = 0;
	int k;

	for (k = 0; k < 40; k++)
		policyd_limit_take(&lim, &st, 1700000000000LL + k * 1000, 1, &r);
	len = policyd_limit_encode(&st, buf);
	is_int(st.n, POLICYD_LIMIT_SLOTS, "the log is full");
	for (i = 1; i < st.n; i++)
		gaps += st.e[i].t - st.e[i - 1].t < 16384 ? 2 : 3;
	/* form byte, n; the first time (41 bits: 6 bytes) and weight; per
	 * further entry its gap (1,000-2,000 ms: 2 bytes) and weight (1-2:
	 * 1 byte) */
	is_int((long long)len, 2 + 6 + 1 + (long long)gaps + 31,
	       "encoded length: 2 + 7 + 3 a further entry");
	ok(len < 4 + 16 * POLICYD_LIMIT_SLOTS / 4,
	   "under a quarter of the first form's 516 bytes");
	is_int(buf[0], POLICYD_LIMIT_FORM, "the form's first byte");
	is_int(buf[1], POLICYD_LIMIT_SLOTS, "then the number of entries");
	is_int(policyd_limit_decode(&back, buf, len), 0, "decodes");
	ok(memcmp(&back, &st, sizeof(st)) == 0, "round trip is identical");
	is_int(policyd_limit_decode(&back, buf, len - 1), -1, "short: refused");
	is_int(policyd_limit_decode(&back, buf, 1), -1, "tiny: refused");
	is_int(policyd_limit_decode(&back, buf, 0), -1, "empty: refused");
	memcpy(bad, buf, len);
	bad[len] = 0;
	is_int(policyd_limit_decode(&back, bad, len + 1), -1,
	       "a byte after the last entry: refused");
	bad[1] = 200;
	is_int(policyd_limit_decode(&back, bad, len), -1,
	       "too many entries: refused");
	bad[1] = 31;
	is_int(policyd_limit_decode(&back, bad, len), -1,
	       "fewer entries than the bytes hold: refused");
	/* two entries: the second's gap 0 (the same time twice) */
	memcpy(bad, buf, 2 + 7);
	bad[1] = 2;
	bad[9] = 0;
	bad[10] = 1;
	is_int(policyd_limit_decode(&back, bad, 11), -1,
	       "times out of order (a gap of 0): refused");
	is_int(back.n, 0, "a refused decode leaves an empty state");
	bad[9] = 1;
	is_int(policyd_limit_decode(&back, bad, 11), 0,
	       "a gap of 1 ms: read");
	/* the weight 1 spelt in two bytes (0x81 0x00) */
	bad[10] = 0x81;
	bad[11] = 0x00;
	is_int(policyd_limit_decode(&back, bad, 12), -1,
	       "a varint not in its shortest form: refused");
	bad[10] = 0x81;
	is_int(policyd_limit_decode(&back, bad, 11), -1,
	       "a varint cut short: refused");
	/* a gap of 2^64 - 1: ten bytes, the last 0x01 */
	memset(bad + 9, 0xff, 9);
	bad[18] = 0x01;
	bad[19] = 1;
	is_int(policyd_limit_decode(&back, bad, 20), -1,
	       "a gap past the largest time: refused");
	bad[18] = 0x02;
	is_int(policyd_limit_decode(&back, bad, 20), -1,
	       "a varint past 64 bits: refused");
	test_codec_fixed(&st);
	/* what a damaged or hostile database could hold: times whose
	 * arithmetic overflows, absurd weights (found by t/0307's fuzzing:
	 * a time near 2^63 overflowed the retry time) */
	st.n = 1;
	st.e[0].t = POLICYD_LIMIT_MAX_TIME + 1;
	st.e[0].w = 1;
	len = policyd_limit_encode(&st, buf);
	is_int(policyd_limit_decode(&back, buf, len), -1,
	       "a time past POLICYD_LIMIT_MAX_TIME: refused");
	st.e[0].t = -1;
	len = policyd_limit_encode(&st, buf);
	is_int((long long)len, 2 + 10 + 1, "a negative time: 10 bytes");
	is_int(policyd_limit_decode(&back, buf, len), -1,
	       "a negative time: refused");
	st.e[0].t = POLICYD_LIMIT_MAX_TIME;
	st.e[0].w = POLICYD_LIMIT_MAX_WEIGHT + 1;
	len = policyd_limit_encode(&st, buf);
	is_int(policyd_limit_decode(&back, buf, len), -1,
	       "a weight past POLICYD_LIMIT_MAX_WEIGHT: refused");
	st.e[0].w = POLICYD_LIMIT_MAX_WEIGHT;
	len = policyd_limit_encode(&st, buf);
	is_int(policyd_limit_decode(&back, buf, len), 0,
	       "the largest of both: read");
	test_codec_fixed(&st);
	st.n = 0;
	len = policyd_limit_encode(&st, buf);
	is_int((long long)len, 2, "an empty log: two bytes");
	is_int(policyd_limit_decode(&back, buf, len), 0, "and is read");
	is_int(back.n, 0, "as empty");
}

/* test_rates - "N/PERIOD" */
static void
test_rates(void)
{
	static const struct {
		const char *in;
		int rc;
		unsigned long max;
		long period;
	} t[] = {
		{ "100/1h", 0, 100, 3600 },
		{ "1000/1d", 0, 1000, 86400 },
		{ "5/90", 0, 5, 90 },
		{ "5/90s", 0, 5, 90 },
		{ "3/2m", 0, 3, 120 },
		{ "1/1w", 0, 1, 604800 },
		{ "0", 0, 0, 3600 },
		{ "0/1h", 0, 0, 3600 },
		{ "/1h", -1, 0, 0 },
		{ "100", -1, 0, 0 },
		{ "100/", -1, 0, 0 },
		{ "100/h", 0, 100, 3600 },
		{ "100/0", -1, 0, 0 },
		{ "100/1y", -1, 0, 0 },
		{ "100/1hh", -1, 0, 0 },
		{ "-1/1h", -1, 0, 0 },
		{ "100/400d", -1, 0, 0 },
		{ "abc", -1, 0, 0 },
	};
	struct policyd_rate r;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		is_int(policyd_conf_parse_rate(t[i].in, &r, err, sizeof(err)),
		       t[i].rc, "rate '%s' %s", t[i].in,
		       t[i].rc ? "refused" : "accepted");
		if (t[i].rc == 0) {
			is_int((long long)r.max, (long long)t[i].max,
			       "'%s' max", t[i].in);
			is_int(r.period, t[i].period, "'%s' period", t[i].in);
		} else {
			ok(err[0] != '\0', "'%s': %s", t[i].in, err);
		}
	}
}

/* main - run the groups */
int
main(void)
{
	plan_lazy();
	test_hundred();
	test_edge();
	test_brute();
	test_weights();
	test_refund();
	test_misc();
	test_codec();
	test_rates();
	done_testing();
	return exit_status();
}
