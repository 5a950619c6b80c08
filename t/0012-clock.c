/*++
 * NAME
 *	0012-clock 1
 * SUMMARY
 *	unit tests for lib/clock
 * DESCRIPTION
 *	The monotonic clock in ms and in seconds agree and never go back;
 *	the wall clock is the date; clock_test_advance() moves both
 *	monotonic readings ahead at once, by exactly what it was given
 *	(give or take the time the test itself takes), and never the wall
 *	clock; it adds up, and another thread sees it.
 *--*/
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "tap.h"

/* reader - a thread's reading of the monotonic clock */
static void *
reader(void *arg)
{
	*(int64_t *)arg = clock_mono_ms();
	return NULL;
}

int
main(void)
{
	int64_t ms, ms2, wall, wall2, seen;
	double s, s2;
	pthread_t th;

	plan(9);

	ms = clock_mono_ms();
	s = clock_mono_s();
	ms2 = clock_mono_ms();
	ok(ms2 >= ms, "monotonic ms never go back (%" PRId64 " then %"
	   PRId64 ")", ms, ms2);
	ok(s * 1000 >= (double)ms - 1 && s * 1000 <= (double)ms2 + 1,
	   "seconds and ms read the same clock (%.3f s, %" PRId64 " ms)",
	   s, ms);
	wall = clock_wall_ms();
	ok(wall / 1000 - (int64_t)time(NULL) <= 1
	   && (int64_t)time(NULL) - wall / 1000 <= 1,
	   "the wall clock is the date (%" PRId64 " ms)", wall);

	clock_test_advance(3600 * 1000);
	ms2 = clock_mono_ms();
	s2 = clock_mono_s();
	wall2 = clock_wall_ms();
	ok(ms2 - ms >= 3600 * 1000 && ms2 - ms < 3600 * 1000 + 1000,
	   "advanced an hour: ms (%" PRId64 " later)", ms2 - ms);
	ok(s2 - s >= 3600 && s2 - s < 3601,
	   "advanced an hour: seconds too (%.3f later)", s2 - s);
	ok(wall2 - wall < 1000, "the wall clock does not move (%" PRId64
	   " ms later)", wall2 - wall);

	clock_test_advance(2000);
	ms = clock_mono_ms();
	ok(ms - ms2 >= 2000 && ms - ms2 < 3000,
	   "advances add up (%" PRId64 " ms later)", ms - ms2);
	if (pthread_create(&th, NULL, reader, &seen) != 0)
		bail_out("pthread_create");
	pthread_join(th, NULL);
	ok(seen >= ms, "another thread sees the advanced clock");
	ok(clock_mono_ms() >= seen, "and it still never goes back");
	return exit_status();
}
