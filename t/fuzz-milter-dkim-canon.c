/*++
 * NAME
 *	fuzz-milter-dkim-canon 1
 * SUMMARY
 *	libFuzzer target: DKIM body and header canonicalization
 * DESCRIPTION
 *	The body of every message we sign goes through
 *	milter_dkim_body_update() in the chunks the MTA sends, and its
 *	headers through milter_dkim_canon_header() (untrusted: any
 *	authenticated user writes them).  The first byte of the input
 *	picks the canonicalization and a chunk size, the rest is the body.
 *	Checks: no crash; the hash does not depend on the chunking (whole,
 *	in chunks of the chosen size, byte by byte); the canonical body
 *	has only CRLF line ends, no empty line at its end, and for relaxed
 *	no white space before a line end, no TAB and no two spaces in a
 *	row; a header, canonicalized relaxed, has one line end, at its
 *	end.
 *
 *	With libFuzzer: t/libfuzzer/milter-dkim-canon, built with clang by
 *	t/local.mk (run by t/0030); without it, t/fuzz-driver.c runs
 *	the seeds, corpus files given as arguments and 30000
 *	deterministic mutations (TAP), as "make check" does.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter-dkim-canon.h"
#include "xalloc.h"
#include "fuzz-driver.h"

/* collect - the canonical bytes */
static void
collect(void *arg, const unsigned char *p, size_t len)
{
	milter_dkim_buf_add(arg, p, len);
}

/* hash - the body hash of p fed in chunks of step (0: whole) */
static void
hash(int relaxed, const uint8_t *p, size_t len, size_t step,
     unsigned char out[MILTER_DKIM_HASH_LEN], struct milter_dkim_buf *canon)
{
	struct milter_dkim_body *b = milter_dkim_body_new(relaxed);
	size_t off, n;

	if (b == NULL)
		abort();
	if (canon != NULL)
		milter_dkim_body_tap(b, collect, canon);
	for (off = 0; off < len; off += n) {
		n = step == 0 || step > len - off ? len - off : step;
		milter_dkim_body_update(b, p + off, n);
	}
	if (milter_dkim_body_final(b, out) < 0)
		abort();
	milter_dkim_body_free(&b);
}

/* check_canon - the properties of a canonical body */
static void
check_canon(int relaxed, const struct milter_dkim_buf *c)
{
	const char *p = c->data;
	size_t i, n = c->len;

	if (n == 0) {
		if (!relaxed)
			abort();	/* simple: at least CRLF */
		return;
	}
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n')
		abort();
	if (n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0)
		abort();		/* an empty line at the end */
	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();	/* a bare LF */
		if (!relaxed)
			continue;
		if (p[i] == '\t'
		    || (p[i] == ' ' && i + 2 < n && (p[i + 1] == ' '
			|| (p[i + 1] == '\r' && p[i + 2] == '\n'))))
			abort();
	}
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char h1[MILTER_DKIM_HASH_LEN], h2[MILTER_DKIM_HASH_LEN];
	unsigned char h3[MILTER_DKIM_HASH_LEN];
	struct milter_dkim_buf canon = { 0 }, hdr = { 0 };
	size_t step, i;
	char *value;
	int relaxed;

	if (size == 0)
		return 0;
	relaxed = data[0] & 1;
	step = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;
	hash(relaxed, data, size, 0, h1, &canon);
	hash(relaxed, data, size, step, h2, NULL);
	hash(relaxed, data, size, 1, h3, NULL);
	if (memcmp(h1, h2, sizeof(h1)) != 0 || memcmp(h1, h3, sizeof(h1)))
		abort();
	check_canon(relaxed, &canon);
	milter_dkim_buf_free(&canon);

	/* the input as a header value (up to a NUL) */
	value = x_malloc(size + 1);
	memcpy(value, data, size);
	value[size] = '\0';
	milter_dkim_canon_header(&hdr, MILTER_DKIM_RELAXED, "Subject", value,
				 1);
	for (i = 0; i + 2 < hdr.len; i++)
		if (hdr.data[i] == '\r' || hdr.data[i] == '\n')
			abort();
	milter_dkim_buf_free(&hdr);
	milter_dkim_canon_header(&hdr, MILTER_DKIM_SIMPLE, "Subject", value,
				 0);
	milter_dkim_buf_free(&hdr);
	free(value);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"\x01 C \r\nD \t E\r\n\r\n\r\n",
	"\x02 C \r\nD \t E\r\n\r\n\r\n",
	"\x07" "a\rb\r\r\n\n \t \r\n",
	"\x21" "0123456789abcde  f0123456789abcdef \r\n\r\n",
	"\x03\r\n\r\n  \r\n",
	"\x05" "abc  ",
	"\x02",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				" \t\r\n\r\n");
}
#endif
