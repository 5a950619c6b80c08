/*++
 * NAME
 *	clock 3
 * SUMMARY
 *	the daemons' clocks: monotonic and wall, in ms or seconds
 * DESCRIPTION
 *	See clock.h.  The test offset is an atomic: the DNS dispatcher
 *	and the daemons' worker threads read the clock while a test's
 *	main thread moves it.
 *--*/
#include "config.h"

#include <stdatomic.h>
#include <time.h>

#include "clock.h"

static _Atomic int64_t clock_offset_ms;	/* clock_test_advance() */

/* clock_mono_ns - monotonic nanoseconds, with the test offset */
static int64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec
	       + atomic_load(&clock_offset_ms) * 1000000;
}

/* clock_mono_ms - monotonic milliseconds */
int64_t
clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

/* clock_mono_us - monotonic microseconds */
int64_t
clock_mono_us(void)
{
	return clock_mono_ns() / 1000;
}

/* clock_mono_s - monotonic seconds, with the fraction */
double
clock_mono_s(void)
{
	int64_t ns = clock_mono_ns();

	return (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9;
}

/* clock_wall_ms - milliseconds since the epoch */
int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* clock_test_advance - tests only: the monotonic clock jumps ms ahead */
void
clock_test_advance(int64_t ms)
{
	atomic_fetch_add(&clock_offset_ms, ms);
}
