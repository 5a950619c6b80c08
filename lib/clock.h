/*++
 * NAME
 *	clock 3h
 * SUMMARY
 *	the daemons' clocks: monotonic and wall, in ms or seconds
 * SYNOPSIS
 *	#include "clock.h"
 *
 *	int64_t t0 = clock_mono_ms();		   timeouts, TTLs, back-off
 *	int64_t d = clock_mono_us();		   finer deadlines
 *	double s = clock_mono_s();		   latencies (histograms)
 *	int64_t now = clock_wall_ms();		   what outlives the process
 * DESCRIPTION
 *	One place to read the time.  The monotonic clock (CLOCK_MONOTONIC)
 *	measures durations: a TTL of 1 s lasts 1 s whatever happens to the
 *	date.  The wall clock (CLOCK_REALTIME) is for what is compared
 *	with other processes or kept across restarts (rate-limit windows,
 *	calendar periods).
 *
 *	clock_test_advance() moves the monotonic clock forward by ms for
 *	the rest of the process, so that a test can let a cache entry
 *	expire without sleeping.  Only test programs call it: no option,
 *	environment variable or signal reaches it, so a daemon's clock is
 *	never moved.  It never moves the wall clock, nor the clocks the
 *	kernel uses for a timed wait.  All of this is thread-safe.
 *--*/
#ifndef ELEMTA_CLOCK_H
#define ELEMTA_CLOCK_H

#include <stdint.h>

/* clock_mono_ms - monotonic milliseconds */
int64_t clock_mono_ms(void);

/* clock_mono_us - monotonic microseconds (deadlines sent to a peer) */
int64_t clock_mono_us(void);

/* clock_mono_s - monotonic seconds, with the fraction */
double clock_mono_s(void);

/* clock_wall_ms - milliseconds since the epoch */
int64_t clock_wall_ms(void);

/* clock_test_advance - tests only: the monotonic clock jumps ms ahead */
void clock_test_advance(int64_t ms);

#endif
