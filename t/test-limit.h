/*++
 * NAME
 *	test-limit 3h
 * SUMMARY
 *	the limiter's first byte form, for the tests that read it
 * SYNOPSIS
 *	#include "test-limit.h"
 *
 *	len = test_limit_encode_fixed(&st, buf);
 * DESCRIPTION
 *	policyd_limit_encode() writes the varint form; rows written by
 *	earlier versions hold the first form (4 bytes n, then n times 8
 *	bytes t + 8 bytes w, little-endian), which policyd_limit_decode()
 *	still reads.  This writes it, as those versions did, so that
 *	t/0301 and t/0309 can give it to decode and to the store.  buf
 *	holds TEST_LIMIT_FIXED_MAX bytes.
 *--*/
#ifndef ELEMTA_TEST_LIMIT_H
#define ELEMTA_TEST_LIMIT_H

#include <stddef.h>

#include "policyd-limit.h"

#define TEST_LIMIT_FIXED_MAX	(4 + 16 * POLICYD_LIMIT_SLOTS)

size_t test_limit_encode_fixed(const struct policyd_limit_state *st,
			       unsigned char *buf);

#endif
