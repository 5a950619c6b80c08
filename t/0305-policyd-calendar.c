/*++
 * NAME
 *	0305-policyd-calendar 1
 * SUMMARY
 *	unit tests: calendar quotas (per day, per month)
 * DESCRIPTION
 *	The periods of policyd_calendar_bounds() in UTC, checked against
 *	this file's own civil-date arithmetic (not the C library's): the
 *	last millisecond of a day or month against the first of the next,
 *	months of 28, 29, 30 and 31 days, leap years (2024, 2000) and not
 *	(2023, 2100), the year's end.  In Europe/Berlin: the 23- and 25-hour
 *	days of the daylight saving changes and a month starting at 23:00
 *	UTC.  The limiter as a quota: N pass, the next is refused until the
 *	period ends (retry = the time to the reset, 1 ms before it too),
 *	the count starts again at the boundary, weights above N, refunds
 *	never reach into the next period, a log left by a sliding limit,
 *	the clock going back across midnight.  On a real SQLite store: a
 *	quota survives closing and reopening the store, and its row goes
 *	once the period is over.  The "N/day", "N/month" rate syntax, and
 *	the "N" or "N/PERIOD" of a user's directory entry.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policyd-calendar.h"
#include "policyd-limit.h"
#include "policyd-options.h"
#include "policyd-store.h"
#include "tap.h"
#include "xalloc.h"

#define DAY_MS	(86400 * 1000LL)

static char tmpdir[] = "/tmp/elemta-t0305.XXXXXX";

/* days_from_civil - days since 1970-01-01 of y-m-d (proleptic
 * Gregorian): the test's own arithmetic, by counting (slow, obvious) */
static int64_t
days_from_civil(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	int64_t n = 0;
	int i;

	for (i = 1970; i < y; i++)
		n += (i % 4 == 0 && (i % 100 != 0 || i % 400 == 0)) ? 366 : 365;
	for (i = 1; i < m; i++)
		n += mdays[i - 1] + (i == 2 && y % 4 == 0
				     && (y % 100 != 0 || y % 400 == 0));
	return n + d - 1;
}

/* at - ms since the epoch of a UTC time */
static int64_t
at(int y, int mo, int d, int h, int mi, int s, int ms)
{
	return days_from_civil(y, mo, d) * DAY_MS
		+ ((h * 60LL + mi) * 60 + s) * 1000 + ms;
}

/* day0 - midnight UTC of y-m-d */
static int64_t
day0(int y, int m, int d)
{
	return at(y, m, d, 0, 0, 0, 0);
}

/* test_utc - the periods around a time, in UTC */
static void
test_utc(void)
{
	static const struct {
		const char *what;
		enum policyd_calendar cal;
		int t[7];		/* y m d h m s ms */
		int q[4][3];		/* y m d of each boundary */
	} t[] = {
		{ "a day in March", POLICYD_CAL_DAY, { 2024, 3, 15, 12 },
		  { { 2024, 3, 14 }, { 2024, 3, 15 }, { 2024, 3, 16 },
		    { 2024, 3, 17 } } },
		{ "23:59:59.999 is still that day", POLICYD_CAL_DAY,
		  { 2024, 3, 15, 23, 59, 59, 999 },
		  { { 2024, 3, 14 }, { 2024, 3, 15 }, { 2024, 3, 16 },
		    { 2024, 3, 17 } } },
		{ "00:00:00.000 is the next", POLICYD_CAL_DAY,
		  { 2024, 3, 16, 0, 0, 0, 0 },
		  { { 2024, 3, 15 }, { 2024, 3, 16 }, { 2024, 3, 17 },
		    { 2024, 3, 18 } } },
		{ "the year's last millisecond", POLICYD_CAL_DAY,
		  { 2024, 12, 31, 23, 59, 59, 999 },
		  { { 2024, 12, 30 }, { 2024, 12, 31 }, { 2025, 1, 1 },
		    { 2025, 1, 2 } } },
		{ "February 28 of a leap year: the 29th follows",
		  POLICYD_CAL_DAY, { 2024, 2, 28, 23, 59, 59, 999 },
		  { { 2024, 2, 27 }, { 2024, 2, 28 }, { 2024, 2, 29 },
		    { 2024, 3, 1 } } },
		{ "a day of 2100 (no leap year)", POLICYD_CAL_DAY,
		  { 2100, 2, 28, 8 },
		  { { 2100, 2, 27 }, { 2100, 2, 28 }, { 2100, 3, 1 },
		    { 2100, 3, 2 } } },
		{ "February 2024 has 29 days", POLICYD_CAL_MONTH,
		  { 2024, 2, 29, 23, 59, 59, 999 },
		  { { 2024, 1, 1 }, { 2024, 2, 1 }, { 2024, 3, 1 },
		    { 2024, 4, 1 } } },
		{ "February 2023 has 28", POLICYD_CAL_MONTH,
		  { 2023, 2, 28, 23, 59, 59, 999 },
		  { { 2023, 1, 1 }, { 2023, 2, 1 }, { 2023, 3, 1 },
		    { 2023, 4, 1 } } },
		{ "March 1st 2023, 00:00:00.000: March", POLICYD_CAL_MONTH,
		  { 2023, 3, 1, 0, 0, 0, 0 },
		  { { 2023, 2, 1 }, { 2023, 3, 1 }, { 2023, 4, 1 },
		    { 2023, 5, 1 } } },
		{ "February 2000 (a leap year, by 400)", POLICYD_CAL_MONTH,
		  { 2000, 2, 29, 12 },
		  { { 2000, 1, 1 }, { 2000, 2, 1 }, { 2000, 3, 1 },
		    { 2000, 4, 1 } } },
		{ "February 2100 (not one, by 100)", POLICYD_CAL_MONTH,
		  { 2100, 2, 28, 23, 59, 59, 999 },
		  { { 2100, 1, 1 }, { 2100, 2, 1 }, { 2100, 3, 1 },
		    { 2100, 4, 1 } } },
		{ "April has 30 days", POLICYD_CAL_MONTH,
		  { 2024, 4, 30, 23, 59, 59, 999 },
		  { { 2024, 3, 1 }, { 2024, 4, 1 }, { 2024, 5, 1 },
		    { 2024, 6, 1 } } },
		{ "December to January", POLICYD_CAL_MONTH,
		  { 2024, 12, 31, 23, 59, 59, 999 },
		  { { 2024, 11, 1 }, { 2024, 12, 1 }, { 2025, 1, 1 },
		    { 2025, 2, 1 } } },
		{ "January 1st, 00:00:00.000", POLICYD_CAL_MONTH,
		  { 2025, 1, 1 },
		  { { 2024, 12, 1 }, { 2025, 1, 1 }, { 2025, 2, 1 },
		    { 2025, 3, 1 } } },
	};
	int64_t q[4], now;
	size_t i;
	int k, good;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		now = at(t[i].t[0], t[i].t[1], t[i].t[2] ? t[i].t[2] : 1,
			 t[i].t[3], t[i].t[4], t[i].t[5], t[i].t[6]);
		policyd_calendar_bounds(t[i].cal, 1, now, q);
		good = 1;
		for (k = 0; k < 4; k++)
			if (q[k] != day0(t[i].q[k][0], t[i].q[k][1],
					 t[i].q[k][2]))
				good = 0;
		ok(good && q[1] <= now && now < q[2], "UTC %s: %s",
		   policyd_calendar_name(t[i].cal), t[i].what);
		if (!good)
			for (k = 0; k < 4; k++)
				diag("q[%d] got %lld want %lld", k,
				     (long long)q[k],
				     (long long)day0(t[i].q[k][0],
						     t[i].q[k][1],
						     t[i].q[k][2]));
	}
	/* every day of four years: 23:59:59.999 and 00:00:00.000 */
	good = 1;
	for (now = day0(2023, 1, 1); now < day0(2027, 1, 1); now += DAY_MS) {
		policyd_calendar_bounds(POLICYD_CAL_DAY, 1, now - 1, q);
		if (q[2] != now || q[1] != now - DAY_MS)
			good = 0;
		policyd_calendar_bounds(POLICYD_CAL_DAY, 1, now, q);
		if (q[1] != now || q[2] != now + DAY_MS)
			good = 0;
	}
	ok(good, "every day of 2023-2026: the boundary is at 00:00:00.000");
}

/* test_zone - Europe/Berlin: a day is not always 24 hours */
static void
test_zone(void)
{
	char err[256];
	int64_t q[4];
	int rc;

	rc = policyd_calendar_set_zone("Europe/Berlin", err, sizeof(err));
	if (rc != 0) {
		missing(7, "no Europe/Berlin here: %s", err);
		return;
	}
	/* 2024-03-31: 02:00 CET becomes 03:00 CEST */
	policyd_calendar_bounds(POLICYD_CAL_DAY, 0,
				at(2024, 3, 31, 12, 0, 0, 0), q);
	is_int(q[1], at(2024, 3, 30, 23, 0, 0, 0),
	       "Berlin, 31 March 2024 starts at 23:00 UTC the day before");
	is_int(q[2] - q[1], 23 * 3600 * 1000LL, "and has 23 hours");
	is_int(q[1] - q[0], 24 * 3600 * 1000LL, "the day before, 24");
	/* 2024-10-27: 03:00 CEST becomes 02:00 CET */
	policyd_calendar_bounds(POLICYD_CAL_DAY, 0,
				at(2024, 10, 27, 12, 0, 0, 0), q);
	is_int(q[2] - q[1], 25 * 3600 * 1000LL,
	       "27 October 2024 has 25 hours");
	/* 00:30 on February 1st in Berlin is 23:30 UTC on January 31st */
	policyd_calendar_bounds(POLICYD_CAL_MONTH, 0,
				at(2024, 1, 31, 23, 30, 0, 0), q);
	is_int(q[1], at(2024, 1, 31, 23, 0, 0, 0),
	       "in Berlin, February starts at 23:00 UTC on January 31st");
	policyd_calendar_bounds(POLICYD_CAL_MONTH, 0,
				at(2024, 1, 31, 22, 59, 59, 999), q);
	is_int(q[2], at(2024, 1, 31, 23, 0, 0, 0),
	       "22:59:59.999 UTC is still January there");
	/* March 2024 starts in CET and ends in CEST */
	policyd_calendar_bounds(POLICYD_CAL_MONTH, 0,
				at(2024, 3, 10, 0, 0, 0, 0), q);
	is_int(q[2], at(2024, 3, 31, 22, 0, 0, 0),
	       "Berlin's March ends at 22:00 UTC (summer time)");
	ok(policyd_calendar_set_zone("Mars/Olympus", err, sizeof(err)) < 0,
	   "an unknown zone is refused");
	like_str(err, "unknown time zone 'Mars/Olympus'", "saying so");
	ok(policyd_calendar_set_zone("../etc/passwd", err, sizeof(err)) < 0,
	   "a path is no zone");
	is_int(policyd_calendar_set_zone("UTC", err, sizeof(err)), 1,
	       "UTC is always there (and means utc = 1)");
}

/* test_freeze - once threads may run, TZ does not change: another zone
 * is refused (-2) and the one in use stays; UTC and the zone in use
 * still answer (last: the freeze lasts for the process) */
static void
test_freeze(void)
{
	char err[256];
	int64_t q[4];

	if (policyd_calendar_set_zone("Europe/Berlin", err, sizeof(err))
	    != 0) {
		missing(6, "no Europe/Berlin here: %s", err);
		return;
	}
	policyd_calendar_freeze();
	is_int(policyd_calendar_set_zone("Europe/Berlin", err, sizeof(err)),
	       0, "frozen: the zone in use is still fine");
	is_int(policyd_calendar_set_zone("UTC", err, sizeof(err)), 1,
	       "frozen: UTC too (TZ is not needed for it)");
	err[0] = '\0';
	is_int(policyd_calendar_set_zone("Asia/Tokyo", err, sizeof(err)), -2,
	       "frozen: another zone is refused");
	like_str(err, "Asia/Tokyo takes effect at the next restart",
		 "saying when it will");
	is_str(getenv("TZ"), "Europe/Berlin", "TZ was not touched");
	policyd_calendar_bounds(POLICYD_CAL_DAY, 0,
				at(2024, 3, 31, 12, 0, 0, 0), q);
	is_int(q[1], at(2024, 3, 30, 23, 0, 0, 0),
	       "days are still Berlin's");
}

/* quota - a limit of max per day around now (UTC) */
static struct policyd_limit
quota(uint64_t max, int64_t now)
{
	struct policyd_limit lim = { max, 0, { 0 } };

	policyd_calendar_bounds(POLICYD_CAL_DAY, 1, now, lim.q);
	return lim;
}

/* test_quota - the limiter as a calendar quota */
static void
test_quota(void)
{
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result r;
	struct policyd_limit lim;
	int64_t t = at(2024, 2, 29, 10, 0, 0, 0), mid = day0(2024, 3, 1);
	int64_t day1;
	int i, n = 0;

	lim = quota(3, t);
	for (i = 0; i < 3; i++)
		n += policyd_limit_take(&lim, &st, t + i, 1, &r);
	is_int(n, 3, "3 per day: 3 pass");
	ok(!policyd_limit_take(&lim, &st, t + 10, 1, &r), "the 4th is refused");
	is_int(r.used, 3, "used 3");
	is_int(r.retry_ms, mid - (t + 10), "retry: until midnight (14 h)");
	is_int(policyd_limit_retry_seconds(&r), 50400, "50400 s");
	lim = quota(3, mid - 1);
	ok(!policyd_limit_take(&lim, &st, mid - 1, 1, &r),
	   "23:59:59.999: still refused");
	is_int(r.retry_ms, 1, "retry 1 ms");
	is_int(policyd_limit_retry_seconds(&r), 1, "said 1 s");
	is_int(policyd_limit_expiry(&lim, &st), mid,
	       "the state expires at midnight");
	lim = quota(3, mid);
	ok(policyd_limit_take(&lim, &st, mid, 1, &r), "00:00:00.000: passes");
	is_int(r.used, 0, "a fresh count");
	is_int(r.at, mid, "counted at the period's start");
	is_int(st.n, 1, "one entry");
	n = 0;
	for (i = 0; i < 3; i++)
		n += policyd_limit_take(&lim, &st, mid + 1000 + i, 1, &r);
	is_int(n, 2, "2 more pass that day, not 3");
	is_int(r.retry_ms, DAY_MS - 1002, "retry until the next midnight");

	/* a refund never reaches into the next period */
	memset(&st, 0, sizeof(st));
	lim = quota(2, mid - 1000);
	policyd_limit_take(&lim, &st, mid - 1000, 1, &r);
	day1 = r.at;
	is_int(day1, day0(2024, 2, 29), "taken on the 29th");
	lim = quota(2, mid + 1000);
	policyd_limit_take(&lim, &st, mid + 1000, 2, &r);
	is_int(policyd_limit_refund_quota(&st, day1, 1), 0,
	       "the 29th's refund, on the 1st: nothing given back");
	is_int(policyd_limit_used(&st), 2, "the 1st keeps its 2");
	is_int(policyd_limit_refund_quota(&st, mid, 1), 1,
	       "a refund of the 1st gives back");
	ok(policyd_limit_take(&lim, &st, mid + 2000, 1, &r), "and it counts");

	/* weights */
	memset(&st, 0, sizeof(st));
	lim = quota(10, t);
	ok(policyd_limit_take(&lim, &st, t, 10, &r), "weight 10 of 10");
	ok(!policyd_limit_take(&lim, &st, t, 1, &r), "then 1 is refused");
	memset(&st, 0, sizeof(st));
	ok(!policyd_limit_take(&lim, &st, t, 11, &r),
	   "a weight above the quota never passes");
	is_int(r.retry_ms, mid - t, "its retry: the reset");

	/* a sliding limit's log on the same key (configuration changed) */
	memset(&st, 0, sizeof(st));
	st.n = 3;
	st.e[0].t = day0(2024, 2, 28) + 5;	/* yesterday */
	st.e[0].w = 7;
	st.e[1].t = t - 2000;
	st.e[1].w = 1;
	st.e[2].t = t - 1000;
	st.e[2].w = 1;
	lim = quota(3, t);
	ok(policyd_limit_take(&lim, &st, t, 1, &r),
	   "a sliding log: yesterday's 7 do not count");
	is_int(r.used, 2, "today's 2 do");
	is_int(st.n, 1, "folded into one entry");
	ok(!policyd_limit_take(&lim, &st, t, 1, &r), "3 of 3");

	/* the clock goes back across midnight: no time passed */
	memset(&st, 0, sizeof(st));
	lim = quota(2, mid + 5);
	policyd_limit_take(&lim, &st, mid + 5, 2, &r);
	lim = quota(2, mid - 5);
	ok(!policyd_limit_take(&lim, &st, mid - 5, 1, &r),
	   "clock back to 23:59:59.995: the new day's count still holds");
	ok(r.retry_ms >= 1, "with a retry");
	{
		unsigned char buf[POLICYD_LIMIT_ENCODED_MAX];
		struct policyd_limit_state back;
		size_t len = policyd_limit_encode(&st, buf);

		is_int(policyd_limit_decode(&back, buf, len), 0,
		       "the state is still a valid log");
	}
	is_int(policyd_limit_expiry(&lim, &st), lim.q[3],
	       "and expires with the day it belongs to");
}

/* test_store - a quota on SQLite survives a restart, then goes */
static void
test_store(void)
{
	struct policyd_limit_result r;
	struct policyd_store_stats ss;
	struct policyd_store *s;
	struct policyd_limit lim;
	char path[300], err[256];
	int64_t t = at(2024, 3, 31, 20, 0, 0, 0);
	int i, n = 0;

	snprintf(path, sizeof(path), "%s/q.db", tmpdir);
	if ((s = policyd_store_sqlite_open(path, 1000, 1000, err,
					   sizeof(err))) == NULL)
		bail_out("store: %s", err);
	lim = quota(2, t);
	for (i = 0; i < 2; i++)
		if (policyd_store_take(s, "q:user:alice", &lim, t + i, 1, 0, &r,
				       err, sizeof(err)) == 0 && r.allowed)
			n++;
	is_int(n, 2, "2 of 2 per day on SQLite");
	policyd_store_close(&s);
	if ((s = policyd_store_sqlite_open(path, 1000, 1000, err,
					   sizeof(err))) == NULL)
		bail_out("store: %s", err);
	ok(policyd_store_take(s, "q:user:alice", &lim, t + 60000, 1, 0, &r,
			      err, sizeof(err)) == 0 && !r.allowed,
	   "after a restart the 3rd is still refused");
	is_int(r.retry_ms, day0(2024, 4, 1) - (t + 60000),
	       "until midnight UTC");
	lim = quota(2, day0(2024, 4, 1));
	ok(policyd_store_take(s, "q:user:alice", &lim, day0(2024, 4, 1), 1, 0,
			      &r, err, sizeof(err)) == 0 && r.allowed,
	   "at midnight it passes again");
	policyd_store_close(&s);
	if ((s = policyd_store_sqlite_open(path, 1000, 1000, err,
					   sizeof(err))) == NULL)
		bail_out("store: %s", err);
	policyd_store_tick(s, day0(2024, 4, 2), err, sizeof(err));
	policyd_store_sync(s, err, sizeof(err));	/* the writer thread */
	policyd_store_stats(s, &ss);
	is_int((long long)ss.cleaned, 1, "the row goes when its day is over");
	policyd_store_close(&s);
}

/* test_rates - the "N/day" and "N/month" syntax, and the values a
 * directory may hold for a user ("N" or a rate) */
static void
test_rates(void)
{
	static const struct {
		const char *s;
		unsigned long max;
		enum policyd_calendar cal;
		int ok;
	} t[] = {
		{ "500/day", 500, POLICYD_CAL_DAY, 1 },
		{ "20000/month", 20000, POLICYD_CAL_MONTH, 1 },
		{ "0", 0, POLICYD_CAL_NONE, 1 },
		{ "100/1d", 100, POLICYD_CAL_NONE, 1 },
		{ "5/days", 0, POLICYD_CAL_NONE, 0 },
		{ "5/Day", 0, POLICYD_CAL_NONE, 0 },
		{ "day", 0, POLICYD_CAL_NONE, 0 },
		{ "5/1month", 0, POLICYD_CAL_NONE, 0 },
	};
	static const struct {
		const char *s;
		unsigned long max;
		int has_period;
		enum policyd_calendar cal;
	} ov[] = {
		{ "500", 500, 0, POLICYD_CAL_NONE },
		{ "0", 0, 0, POLICYD_CAL_NONE },
		{ "500/1h", 500, 1, POLICYD_CAL_NONE },
		{ "3/month", 3, 1, POLICYD_CAL_MONTH },
		{ "lots", 0, -1, POLICYD_CAL_NONE },
		{ "5 ", 0, -1, POLICYD_CAL_NONE },
		{ "-5", 0, -1, POLICYD_CAL_NONE },
		{ "", 0, -1, POLICYD_CAL_NONE },
		{ "5/", 0, -1, POLICYD_CAL_NONE },
	};
	struct policyd_rate rate;
	char err[256];
	size_t i;
	int rc, hp;

	for (i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
		rc = policyd_conf_parse_override(ov[i].s, &rate, &hp, err,
						 sizeof(err));
		if (ov[i].has_period < 0)
			ok(rc < 0, "directory value '%s' refused (%s)", ov[i].s,
			   err);
		else
			ok(rc == 0 && rate.max == ov[i].max
			   && hp == ov[i].has_period && rate.cal == ov[i].cal,
			   "directory value '%s'", ov[i].s);
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = policyd_conf_parse_rate(t[i].s, &rate, err, sizeof(err));
		if (!t[i].ok) {
			ok(rc < 0, "rate '%s' refused (%s)", t[i].s, err);
			continue;
		}
		ok(rc == 0 && rate.max == t[i].max && rate.cal == t[i].cal
		   && (rate.cal == POLICYD_CAL_NONE) == (rate.period > 0
						       || rate.max == 0),
		   "rate '%s'", t[i].s);
	}
}

/* main - the groups, in a temporary directory */
int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", tmpdir);
	plan_lazy();
	test_utc();
	test_zone();
	test_quota();
	test_store();
	test_rates();
	test_freeze();
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
