/*++
 * NAME
 *	policyd-calendar 3
 * SUMMARY
 *	calendar periods (day, month) for quotas, in UTC or a time zone
 * DESCRIPTION
 *	See policyd-calendar.h.  The arithmetic is the C library's: a
 *	broken-down time with its day (or month) moved and normalised by
 *	timegm() or mktime(), which know month lengths, leap years and,
 *	for mktime(), the zone's offsets.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policyd-calendar.h"
#include "xalloc.h"

/* Set once the process has threads: TZ is read by them (localtime_r,
 * syslog), and setenv() under a getenv() is undefined behaviour. */
static int calendar_frozen;

/* calendar_floor_div - a / b rounded towards minus infinity (b > 0) */
static int64_t
calendar_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* calendar_start - the start (ms) of the period k periods after the one
 * holding tm: midnight k days later, or the first of the month k months
 * later */
static int64_t
calendar_start(enum policyd_calendar cal, int utc, const struct tm *tm,
	       int k)
{
	struct tm t = *tm;

	t.tm_hour = t.tm_min = t.tm_sec = 0;
	t.tm_isdst = -1;		/* whatever the zone says then */
	if (cal == POLICYD_CAL_MONTH) {
		t.tm_mday = 1;
		t.tm_mon += k;
	} else {
		t.tm_mday += k;
	}
	return (int64_t)(utc ? timegm(&t) : mktime(&t)) * 1000;
}

/* policyd_calendar_bounds - the periods before, holding and after now */
void
policyd_calendar_bounds(enum policyd_calendar cal, int utc, int64_t now,
			int64_t q[4])
{
	time_t s = (time_t)calendar_floor_div(now, 1000);
	struct tm tm;
	int k;

	if (utc)
		gmtime_r(&s, &tm);
	else
		localtime_r(&s, &tm);
	for (k = 0; k < 4; k++)
		q[k] = calendar_start(cal, utc, &tm, k - 1);
}

/* policyd_calendar_freeze - no more changes of TZ: threads may run */
void
policyd_calendar_freeze(void)
{
	calendar_frozen = 1;
}

/* policyd_calendar_set_zone - the process's time zone for quotas */
int
policyd_calendar_set_zone(const char *zone, char *err, size_t errlen)
{
	const char *old = getenv("TZ");

	if (policyd_conf_zone_check(zone, err, errlen) < 0)
		return -1;
	if (strcmp(zone, "UTC") == 0)
		return 1;
	if (old == NULL || strcmp(old, zone) != 0) {
		if (calendar_frozen) {
			x_err(err, errlen, "%s takes effect at the next"
			      " restart: the time zone is the process's, read"
			      " by its threads, and cannot change while they"
			      " run (the zone in use stays)", zone);
			return -2;
		}
		if (setenv("TZ", zone, 1) < 0) {
			x_err(err, errlen, "setenv TZ: out of memory");
			return -1;
		}
		tzset();
	}
	return 0;
}

/* policyd_calendar_name - the configuration word of a period */
const char *
policyd_calendar_name(enum policyd_calendar cal)
{
	return cal == POLICYD_CAL_DAY ? "day"
		: cal == POLICYD_CAL_MONTH ? "month" : "";
}
