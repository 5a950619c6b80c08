/*++
 * NAME
 *	test-limit 3
 * SUMMARY
 *	the limiter's first byte form, for the tests that read it
 * DESCRIPTION
 *	See test-limit.h.
 *--*/
#include "config.h"

#include <stdint.h>

#include "test-limit.h"

/* test_limit_put64 - little-endian 64-bit */
static void
test_limit_put64(unsigned char *p, uint64_t v)
{
	int k;

	for (k = 0; k < 8; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

/* test_limit_encode_fixed - st in the first byte form; its length */
size_t
test_limit_encode_fixed(const struct policyd_limit_state *st,
			unsigned char *buf)
{
	uint32_t i;
	int k;

	for (k = 0; k < 4; k++)
		buf[k] = (unsigned char)(st->n >> (8 * k));
	for (i = 0; i < st->n; i++) {
		test_limit_put64(buf + 4 + 16 * i, (uint64_t)st->e[i].t);
		test_limit_put64(buf + 12 + 16 * i, st->e[i].w);
	}
	return 4 + 16 * (size_t)st->n;
}
