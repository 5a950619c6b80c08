/*++
 * NAME
 *	fuzz-milter-dkim-sign 1
 * SUMMARY
 *	libFuzzer target: the author address the DKIM signing stage takes
 *	from the milter's one From parser, and the signing-table matcher
 * DESCRIPTION
 *	dmarc_from_parse() and dmarc_from_author() read the From header of
 *	mail we are about to sign (untrusted: any authenticated user writes
 *	it), then milter_keys_glob() matches the address against patterns.
 *	The parser itself is fuzzed by fuzz-milter-dmarc-from.c; checks
 *	here: no crash, an accepted address has an "@", no white space or
 *	angle brackets, and fits the buffer; glob("*", s) always matches
 *	and glob(s, s) matches when s has no "*".
 *
 *	With libFuzzer: t/libfuzzer/milter-dkim-sign, built with clang by
 *	t/local.mk (run by t/0030); without it, main()
 *	below runs the seeds, corpus files given as arguments and 30000
 *	deterministic mutations (TAP), as "make check" does.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-dmarc.h"
#include "milter-keys.h"
#include "xalloc.h"
#include "fuzz-driver.h"


/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = x_malloc(size + 1);
	const char *out, *at;
	struct dmarc_from f;

	memcpy(s, data, size);
	s[size] = '\0';
	dmarc_from_parse((const char *const *)&s, 1, &f);
	if ((out = dmarc_from_author(&f)) != NULL) {
		if (strlen(out) >= sizeof(f.addr)
		    || (at = strrchr(out, '@')) == NULL
		    || strpbrk(out, " \t\r\n<>") != NULL)
			abort();
		(void)milter_keys_glob("*@example.test", out);
		(void)milter_keys_glob("*.example.test", at + 1);
	}
	if (!milter_keys_glob("*", s))
		abort();
	if (strchr(s, '*') == NULL && !milter_keys_glob(s, s))
		abort();
	(void)milter_keys_glob(s, "user@example.test");
	free(s);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	" User <user@example.test>",
	" \"Doe, John\" <jd@example.test>",
	" (comment) user@example.test (more (nested) \\) x)",
	" a@example.test, b@example.test",
	" =?utf-8?q?J=C3=B6rg?= <joerg@example.test>",
	" <user@[192.0.2.1]>",
	" \"a <b@c>\" <x@example.test>",
	"*@*.example.*", "**a*", "<", "\"", "(", "\\", "",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"()<>,\"\\@. \r\n\t");
}
#endif
