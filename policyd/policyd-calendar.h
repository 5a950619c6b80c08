/*++
 * NAME
 *	policyd-calendar 3h
 * SUMMARY
 *	calendar periods (day, month) for quotas, in UTC or a time zone
 * SYNOPSIS
 *	#include "policyd-calendar.h"
 *
 *	int64_t q[4];
 *
 *	policyd_calendar_bounds(POLICYD_CAL_DAY, 1, now_ms, q);
 *	  q[1] <= now_ms < q[2]: today, from midnight to midnight (UTC)
 *
 *	if (policyd_calendar_set_zone("Europe/Berlin", err, sizeof err) < 0)
 *		... no such zone ...
 *	policyd_calendar_bounds(POLICYD_CAL_MONTH, 0, now_ms, q);
 * DESCRIPTION
 *	A quota counts from the start of a calendar period to its end:
 *	from 00:00:00.000 of a day to 00:00:00.000 of the next one, from
 *	the first of a month at midnight to the first of the next month.
 *	policyd_calendar_bounds() gives, in milliseconds since the epoch,
 *	q[0] the start of the period before the one holding now, q[1] the
 *	start of the one holding now, q[2] its end (the next one's start)
 *	and q[3] the next one's end: the neighbours let a store whose
 *	clock is not ours (Redis) pick the period by its own time.
 *
 *	utc set: in UTC, on gmtime_r()/timegm(), which depend on no
 *	time zone (months of 28 to 31 days, leap years as the Gregorian
 *	calendar has them).  utc clear: in the process's time zone
 *	(localtime_r()/mktime(), so a day may be 23 or 25 hours long
 *	around a daylight saving change; a midnight that does not exist
 *	becomes the first time that does).
 *
 *	policyd_calendar_set_zone() makes a zone the process's own (TZ
 *	and tzset(): there is one time zone per process); "UTC" unsets
 *	nothing and is always known, any other name must be a file of the
 *	zone database (TZDIR, else /usr/share/zoneinfo).  It returns 1
 *	for "UTC" (pass utc = 1 to bounds), 0 for a zone, -1 with err.
 *
 *	TZ is the process's, and read by every thread (localtime_r(),
 *	syslog()): setenv() while another thread reads it is undefined
 *	behaviour.  So the daemon sets the zone before it starts any
 *	thread and then calls policyd_calendar_freeze(): from then on,
 *	set_zone() still answers for "UTC" and for the zone in use, but
 *	refuses another zone (-2 with err; TZ is left alone) - a new
 *	calendar_time_zone takes effect at the next restart.
 *--*/
#ifndef ELEMTA_POLICYD_CALENDAR_H
#define ELEMTA_POLICYD_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-options.h"

/* policyd_calendar_bounds - the periods around now (see above); cal is
 * POLICYD_CAL_DAY or POLICYD_CAL_MONTH */
void policyd_calendar_bounds(enum policyd_calendar cal, int utc, int64_t now,
			     int64_t q[4]);

/* policyd_calendar_set_zone - TZ for the process; 1 UTC, 0, -1 + err,
 * -2 + err when frozen and zone is another than the one in use */
int policyd_calendar_set_zone(const char *zone, char *err, size_t errlen);

/* policyd_calendar_freeze - threads start: TZ must not change now */
void policyd_calendar_freeze(void);

/* policyd_calendar_name - "day" or "month" ("" for none) */
const char *policyd_calendar_name(enum policyd_calendar cal);

#endif
