/*++
 * NAME
 *	fuzz-ldap-filter 1
 * SUMMARY
 *	libFuzzer target for LDAP filter expansion (lib/ldapc.c)
 * DESCRIPTION
 *	The input is a recipient address (any bytes, NUL included).  It is
 *	expanded into the bridge's default filter and "(uid=%u)(dc=%d)";
 *	the invariant: the key can never change the filter's structure --
 *	with every "\XX" escape removed, the expansion has exactly the
 *	template's parentheses and no "*" or NUL, and every escape is one
 *	of \2a \28 \29 \5c \00.
 *
 *	Built with -DFUZZ_LIBFUZZER for libFuzzer by t/local.mk
 *	(t/libfuzzer/ldap-filter; run by t/0030).  Without it,
 *	main() runs it under gcc as a TAP test through t/fuzz-driver.c:
 *	a built-in table of keys plus deterministic mutations of them.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"
#include "ldapc.h"

static const char *const fuzz_tmpls[] = {
	"(|(mail=%s)(mailAlias=%s)(mailAlternateAddress=%s))",
	"(&(uid=%u)(dc=%d)(x=%%))",
};

/* fuzz_check - the invariant for one expansion; 0 or abort */
static void
fuzz_check(const char *tmpl, const char *out)
{
	size_t i, tp = 0, op = 0;

	for (i = 0; tmpl[i]; i++)
		tp += tmpl[i] == '(' || tmpl[i] == ')';
	for (i = 0; out[i]; i++) {
		if (out[i] == '\\') {
			if (strncmp(out + i, "\\2a", 3) != 0
			    && strncmp(out + i, "\\28", 3) != 0
			    && strncmp(out + i, "\\29", 3) != 0
			    && strncmp(out + i, "\\5c", 3) != 0
			    && strncmp(out + i, "\\00", 3) != 0) {
				fprintf(stderr, "bad escape in %s\n", out);
				abort();
			}
			i += 2;
			continue;
		}
		if (out[i] == '*') {
			fprintf(stderr, "unescaped * in %s\n", out);
			abort();
		}
		op += out[i] == '(' || out[i] == ')';
	}
	if (op != tp) {
		fprintf(stderr, "parentheses changed: %s\n", out);
		abort();
	}
}

/* LLVMFuzzerTestOneInput - expand the input into every template */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *out;
	size_t i;

	for (i = 0; i < sizeof(fuzz_tmpls) / sizeof(fuzz_tmpls[0]); i++) {
		if (ldapc_filter_expand(fuzz_tmpls[i], (const char *)data,
					size, &out, err, sizeof(err)) == 1) {
			fuzz_check(fuzz_tmpls[i], out);
			free(out);
		}
	}
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const fuzz_corpus[] = {
	"alice@example.test", "*", "*)(uid=*", "a)(|(objectClass=*", "\\",
	"\\2a", "@", "@@", "no-domain", "x@*)(", "((((((((@))))))))", "",
	"caf\xc3\xa9@x.test",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, fuzz_corpus,
				sizeof(fuzz_corpus) / sizeof(fuzz_corpus[0]),
				"a@*()\\%sdu+.");
}
#endif
