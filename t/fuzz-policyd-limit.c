/*++
 * NAME
 *	fuzz-policyd-limit 1
 * SUMMARY
 *	fuzz target for policyd-limit.c's stored form and its limiter
 * SYNOPSIS
 *	t/0307-policyd-limit-fuzz.t [FILE | DIR]...
 * DESCRIPTION
 *	The input is hexadecimal (other characters are skipped), so that
 *	the gcc driver's seeds, strings, can hold any byte.  Its first 32
 *	bytes are a limit and an operation (max,
 *	period, now, weight, little-endian); the rest is a key's state as
 *	a store holds it (policyd_limit_encode's byte form, or the first
 *	form of earlier versions: the SQLite store's rows, which a damaged
 *	or hostile database file gives us).  policyd_limit_decode() must
 *	refuse what is not a valid state or give one that encodes back to
 *	exactly the same bytes (the varint form) or to bytes that decode
 *	to the same state (the first form); on a decoded
 *	state, take, peek, expire and refund must keep it valid (it encodes
 *	and decodes again, times strictly increasing, at most
 *	POLICYD_LIMIT_SLOTS entries), and a refund never gives back more
 *	than asked.  (The Redis store's MessagePack form is decoded by
 *	Redis's cmsgpack, inside Redis: its scripts are checked against
 *	this limiter by t/0321.)
 *
 *	Without -DFUZZ_LIBFUZZER, main() is the shared gcc driver.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"
#include "policyd-limit.h"

#define FUZZ_HEAD	32

/* fuzz_u64 - 8 little-endian bytes */
static uint64_t
fuzz_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* fuzz_valid - abort unless st is a valid state */
static void
fuzz_valid(const struct policyd_limit_state *st, const char *after)
{
	static unsigned char buf[POLICYD_LIMIT_ENCODED_MAX];
	struct policyd_limit_state back;
	size_t n;

	if (st->n > POLICYD_LIMIT_SLOTS) {
		fprintf(stderr, "%s: %u entries\n", after, st->n);
		abort();
	}
	n = policyd_limit_encode(st, buf);
	if (policyd_limit_decode(&back, buf, n) < 0 || back.n != st->n
	    || memcmp(back.e, st->e, st->n * sizeof(st->e[0])) != 0) {
		fprintf(stderr, "%s: the state does not decode back\n", after);
		abort();
	}
}

/* fuzz_unhex - the bytes of the hex digits of in (a lone last digit
 * is dropped); their number */
static size_t
fuzz_unhex(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i, n = 0;
	int half = -1, v;

	for (i = 0; i < len; i++) {
		if (in[i] >= '0' && in[i] <= '9')
			v = in[i] - '0';
		else if ((in[i] | 0x20) >= 'a' && (in[i] | 0x20) <= 'f')
			v = (in[i] | 0x20) - 'a' + 10;
		else
			continue;
		if (half < 0) {
			half = v;
		} else {
			out[n++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	return n;
}

/* LLVMFuzzerTestOneInput - decode, then use the state */
int
LLVMFuzzerTestOneInput(const uint8_t *hex, size_t hexlen)
{
	static unsigned char buf[POLICYD_LIMIT_ENCODED_MAX];
	struct policyd_limit_state st;
	struct policyd_limit_result r;
	struct policyd_limit lim;
	uint64_t w, back;
	int64_t now;
	uint8_t *data = malloc(hexlen / 2 + 1);
	size_t n, size;

	if (data == NULL)
		return 0;
	size = fuzz_unhex(hex, hexlen, data);
	if (size < FUZZ_HEAD
	    || policyd_limit_decode(&st, data + FUZZ_HEAD,
				    size - FUZZ_HEAD) < 0) {
		free(data);
		return 0;
	}
	/* the varint form has one spelling per state; the first form
	 * (earlier versions' rows) is written again in the varint form */
	n = policyd_limit_encode(&st, buf);
	if (data[FUZZ_HEAD] == POLICYD_LIMIT_FORM
	    && (n != size - FUZZ_HEAD
		|| memcmp(buf, data + FUZZ_HEAD, n) != 0)) {
		fprintf(stderr, "decode then encode changed the bytes\n");
		abort();
	}
	fuzz_valid(&st, "decode");
	memset(&lim, 0, sizeof(lim));
	lim.max = fuzz_u64(data) % 1000000000000ULL;	/* rate's range */
	lim.period_ms = (int64_t)(fuzz_u64(data + 8) % (366ULL * 86400000))
		+ 1000;
	/* a clock from 1970 to the end of what a state may hold */
	now = (int64_t)(fuzz_u64(data + 16) % POLICYD_LIMIT_MAX_TIME);
	w = fuzz_u64(data + 24) % 1000000000000ULL;
	policyd_limit_peek(&lim, &st, now, w, &r);
	fuzz_valid(&st, "peek");
	policyd_limit_take(&lim, &st, now, w, &r);
	fuzz_valid(&st, "take");
	if (r.allowed && w > 0) {
		back = policyd_limit_refund(&st, r.at, w);
		if (back > w) {
			fprintf(stderr, "refund gave %llu of %llu\n",
				(unsigned long long)back,
				(unsigned long long)w);
			abort();
		}
		fuzz_valid(&st, "refund");
	}
	policyd_limit_expire(&lim, &st, now);
	fuzz_valid(&st, "expire");
	free(data);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
/* Seeds: a head (max 10, period 1 h, now 1 h, weight 1), then states
 * in the first form: none, one entry, two (the second of the largest
 * weight), refused ones (times not increasing, a count too large, a
 * length off); then in the varint form */
#define HEAD "0a00000000000000 80ee360000000000 80ee360000000000 " \
	"0100000000000000 "
static const char *const fuzz_corpus[] = {
	HEAD "00000000",
	HEAD "01000000 e803000000000000 0200000000000000",
	HEAD "02000000 e803000000000000 0200000000000000"
	" d007000000000000 ffffffffffffffff",
	HEAD "02000000 d007000000000000 0200000000000000"
	" e803000000000000 0100000000000000",
	HEAD "ffffffff",
	HEAD "01000000 e803000000000000 02000000000000",
	"ffffffffffffffff ffffffffffffffff ffffffffffffffff ffffffffffffffff"
	" 01000000 ffffffffffffff7f ffffffffffffffff",
	/* the varint form: none, one entry (t 1000, w 2), two (a gap of
	 * 1000, w 2^53), refused ones (a gap of 0, a needless zero byte,
	 * a byte left over, a count too large) */
	HEAD "e100",
	HEAD "e101 e807 02",
	HEAD "e102 e807 02 e807 8080808080808010",
	HEAD "e102 e807 02 00 01",
	HEAD "e101 e807 8200",
	HEAD "e101 e807 02 00",
	HEAD "e121 e807 02",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, fuzz_corpus,
				sizeof(fuzz_corpus) / sizeof(fuzz_corpus[0]),
				"0f 8a");
}
#endif
