/*++
 * NAME
 *	fuzz-policyd-proto 1
 * SUMMARY
 *	fuzz target for policyd/policyd-proto.c, with a driver for make check
 * SYNOPSIS
 *	t/0303-policyd-fuzz-proto.t [FILE]...
 *
 *	t/libfuzzer/policyd-proto [-max_total_time=60] CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz
 *	from a copy of t/data/policyd-proto)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() parses the input three ways, whole, one
 *	byte at a time, and in pieces whose sizes come from the input
 *	itself, and aborts unless all three give the same requests (each
 *	request's attributes compared) and the same error or none: how
 *	bytes arrive must never change what is parsed.
 *
 *	Without -DFUZZ_LIBFUZZER main() runs it under gcc as a TAP test
 *	through the shared driver (t/fuzz-driver.c, fuzz_driver_dir): each
 *	file of the corpus t/data/policyd-proto and 500 deterministic
 *	mutations of it, the empty input, a lone newline, then the files
 *	given.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"
#include "policyd-proto.h"
#include "xalloc.h"

struct outcome {
	char *text;		/* every request and the end, serialized */
	size_t len, cap;
};

/* out_add - append to an outcome */
static void
out_add(struct outcome *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->text = x_realloc(o->text, o->cap);
	}
	memcpy(o->text + o->len, s, n);
	o->len += n;
	o->text[o->len] = '\0';
}

/* out_req - serialize one request */
static void
out_req(struct outcome *o, const struct policyd_req *rq)
{
	char num[32];
	int i;

	for (i = 0; i < POLICYD_A_COUNT; i++) {
		if (rq->v[i] == NULL)
			continue;
		out_add(o, policyd_proto_attr_name(i),
			strlen(policyd_proto_attr_name(i)));
		out_add(o, "=", 1);
		out_add(o, rq->v[i], strlen(rq->v[i]));
		out_add(o, "\n", 1);
	}
	snprintf(num, sizeof(num), "#%u/%u\n", rq->nlines, rq->nunknown);
	out_add(o, num, strlen(num));
}

/* parse - feed data in pieces; sizes cycle through piece[] */
static void
parse(const uint8_t *data, size_t size, const size_t *piece, size_t npiece,
      struct outcome *o)
{
	struct policyd_proto *p = policyd_proto_new();
	const struct policyd_req *rq;
	size_t off = 0, k = 0, n, used, fed;
	char err[256];
	int rc = POLICYD_PROTO_MORE;

	while (off < size) {
		n = piece[k++ % npiece];
		if (n > size - off)
			n = size - off;
		fed = 0;
		while (fed < n) {
			rc = policyd_proto_feed(p, (const char *)data + off
						+ fed, n - fed, &used, &rq,
						err, sizeof(err));
			if (rc == POLICYD_PROTO_ERROR)
				break;
			fed += used;
			if (rc == POLICYD_PROTO_DONE)
				out_req(o, rq);
		}
		if (rc == POLICYD_PROTO_ERROR) {
			/* the line number is part of the message */
			out_add(o, "ERROR ", 6);
			out_add(o, err, strlen(err));
			break;
		}
		off += n;
	}
	if (rc != POLICYD_PROTO_ERROR) {
		snprintf(err, sizeof(err), "END pending=%zu",
			 policyd_proto_pending(p));
		out_add(o, err, strlen(err));
	}
	policyd_proto_free(&p);
}

/* fuzz_check - 0 when the three ways agree, else -1 */
static int
fuzz_check(const uint8_t *data, size_t size, char **why)
{
	static const size_t whole[] = { SIZE_MAX }, bytes[] = { 1 };
	size_t pieces[8];
	struct outcome a = { 0 }, b = { 0 }, c = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < 8; i++)	/* piece sizes from the data itself */
		pieces[i] = 1 + (size > i ? data[i] % 97 : i * 13);
	out_add(&a, "", 0);
	out_add(&b, "", 0);
	out_add(&c, "", 0);
	parse(data, size, whole, 1, &a);
	parse(data, size, bytes, 1, &b);
	parse(data, size, pieces, 8, &c);
	if (strcmp(a.text, b.text) != 0 || strcmp(a.text, c.text) != 0) {
		rc = -1;
		if (why != NULL)
			*why = x_asprintf("whole:\n%s\nbytes:\n%s\npieces:\n%s",
					  a.text, b.text, c.text);
	}
	x_free(&a.text);
	x_free(&b.text);
	x_free(&c.text);
	return rc;
}

/* LLVMFuzzerTestOneInput - the libFuzzer entry point: the three ways
 * disagree, say how and abort */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *why = NULL;

	if (fuzz_check(data, size, &why) < 0) {
		fprintf(stderr, "fuzz-policyd-proto: %s\n", why);
		abort();
	}
	return 0;
}

#ifndef FUZZ_LIBFUZZER

/* main - the shared gcc driver (t/fuzz-driver.c) on the corpus */
int
main(int argc, char **argv)
{
	return fuzz_driver_dir(argc, argv, "t/data/policyd-proto",
			       "\n\r=\xff");
}

#endif
