/*++
 * NAME
 *	fuzz-milter-authres 1
 * SUMMARY
 *	libFuzzer target for milter/milter-authres.c, with a plain driver
 * SYNOPSIS
 *	t/0409-milter-fuzz-authres.t [FILE...]
 *
 *	t/libfuzzer/milter-authres -max_len=2048 CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() parses the input as someone's
 *	Authentication-Results value, checks that authres_id_is() (the
 *	removal decision) gives the same answer after CFWS (over 4 KB of
 *	it for one input in eight, by length), and
 *	formats what was parsed back, then parses that again: our output
 *	must always be readable by our parser, and never hold CR or LF
 *	outside folding.
 *
 *	Without FUZZ_LIBFUZZER, main() is a driver that gcc and "make
 *	check" can run: it feeds the seed table (and any FILE given), then
 *	deterministic mutations of the seeds (byte flips, truncations,
 *	insertions of the grammar's special characters), and prints TAP.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-authres.h"
#include "xalloc.h"
#include "fuzz-driver.h"


/* fuzz_check_output - our formatted header must be well-formed */
static void
fuzz_check_output(const char *v)
{
	const char *p;
	struct authres *again;

	for (p = v; *p; p++) {
		if (*p == '\r')
			abort();
		if (*p == '\n' && p[1] != '\t')
			abort();	/* LF only as folding */
	}
	if ((again = authres_parse(v)) == NULL)
		abort();
	authres_free(&again);
}

/* fuzz_check_removal - whether a header claims our authserv-id (and is
 * removed) must not change when any amount of CFWS comes first: the
 * whole header decides, not a prefix (issue 10) */
static void
fuzz_check_removal(const char *s)
{
	static const char *const pads[] = {
		" \r\n\t", "(c) ", "(a (nested) comment)\r\n ",
	};
	size_t len = strlen(s), plen, n, o;
	int yes = authres_id_is(s, "mx.example.net");
	const char *pad = pads[len % (sizeof(pads) / sizeof(pads[0]))];
	char *padded;

	/* over 4 KB of one kind of CFWS (the old prefix scan's length) for
	 * one input in eight, a short run for the others: the long pad
	 * costs more than the rest of the target, and the campaign's figure
	 * is executions */
	plen = strlen(pad);
	n = plen * ((len % 8 == 0 ? 4100 : 8 * (len % 8)) / plen + 1);
	padded = x_malloc(n + len + 1);
	for (o = 0; o < n; o += plen)
		memcpy(padded + o, pad, plen);
	memcpy(padded + n, s, len + 1);
	if (authres_id_is(padded, "mx.example.net") != yes)
		abort();
	free(padded);
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authres *ar;
	char *s = x_malloc(size + 1), *v;

	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_check_removal(s);
	if ((ar = authres_parse(s)) != NULL) {
		v = authres_format(ar->authserv_id ? ar->authserv_id : "x",
				   ar->results, ar->nresults);
		fuzz_check_output(v);
		free(v);
		authres_free(&ar);
	}
	free(s);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"mx.google.com;\r\n dkim=pass header.i=@example.com header.s=2023 "
	"header.b=AbCd;\r\n spf=pass (google.com: domain) smtp.mailfrom=a@b;"
	"\r\n dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com",
	"spf=pass (sender IP is 40.107.22.1) smtp.mailfrom=example.com; "
	"dkim=pass header.d=example.com;dmarc=pass action=none "
	"header.from=example.com;compauth=pass reason=100",
	"mx.microsoft.com 1; spf=pass smtp.mailfrom=example.com; arc=none",
	"example.org 1; none",
	"example.com; dkim=pass reason=\"good \\\"signature\" header.i=@x",
	"\"mx example\" (c) ; (c2) spf (c3) = (c4) pass (a (b \\) c) d) x.y=z",
	"mx; dkim/1=pass header.b=Ab+/12=x dkim=fail; ;;",
	"(((", "\"", "\\", "=", ";", "",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"();=\"\\/. @\r\n\t");
}
#endif
