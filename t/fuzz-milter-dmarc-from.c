/*++
 * NAME
 *	fuzz-milter-dmarc-from 1
 * SUMMARY
 *	libFuzzer target for the DMARC From parser and PSL lookups
 * SYNOPSIS
 *	t/0433-milter-fuzz-dmarc-from.t
 *
 *	t/libfuzzer/milter-dmarc-from -max_len=4096 CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() splits the input at NUL bytes into From
 *	values (several From fields), parses them with dmarc_from_parse()
 *	and checks the invariants: an OK or MULTI status has a valid,
 *	lower-case domain; that domain's organisational domain (small
 *	built-in PSL) is a suffix of it; the first address (the one DKIM
 *	signing matches) ends in "@" and that domain, and the author
 *	address (dmarc_from_author) is it, for one field and one mailbox
 *	only.  The input is also taken whole as
 *	a domain for dmarc_psl_orgdomain() and dmarc_aligned().
 *
 *	Without FUZZ_LIBFUZZER, main() runs the seeds and deterministic
 *	mutations of them through t/fuzz-driver.c and prints TAP.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"
#include "milter-dmarc.h"
#include "xalloc.h"

static struct dmarc_psl *fuzz_psl;

/* fuzz_check - the invariants of one parse */
static void
fuzz_check(const struct dmarc_from *f)
{
	const char *at = strrchr(f->addr, '@'), *author;
	char org[DMARC_DOMAIN_MAX];
	size_t i, dl, ol;

	author = dmarc_from_author(f);
	if (author != NULL && (author != f->addr || f->naddrs != 1
			       || f->nfields != 1))
		abort();
	if (f->status != DMARC_FROM_OK && f->status != DMARC_FROM_MULTI)
		return;
	if (f->addr[0] != '\0' && (at == NULL || at == f->addr
				    || strcmp(at + 1, f->domain) != 0))
		abort();
	dl = strlen(f->domain);
	if (!dmarc_domain_valid(f->domain, dl))
		abort();
	for (i = 0; i < dl; i++)
		if (isupper((unsigned char)f->domain[i]))
			abort();
	if (dmarc_psl_orgdomain(fuzz_psl, f->domain, org, sizeof(org)) < 0)
		abort();
	ol = strlen(org);
	if (ol > dl || strcmp(f->domain + dl - ol, org) != 0)
		abort();
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = x_malloc(size + 1), org[DMARC_DOMAIN_MAX];
	const char *vals[16];
	struct dmarc_from f;
	size_t n = 0, i;

	if (fuzz_psl == NULL)
		fuzz_psl = dmarc_psl_from_text("com\nuk\nco.uk\n*.ck\n"
					       "!www.ck\ntest\n");
	memcpy(s, data, size);
	s[size] = '\0';
	vals[n++] = s;
	for (i = 0; i < size && n < 16; i++)
		if (s[i] == '\0')
			vals[n++] = s + i + 1;
	dmarc_from_parse(vals, n, &f);
	fuzz_check(&f);
	(void)dmarc_psl_orgdomain(fuzz_psl, s, org, sizeof(org));
	(void)dmarc_aligned(fuzz_psl, s, "a.example.co.uk", 0);
	free(s);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"User <user@example.test>",
	"\"Doe, John\" <j@sub.example.co.uk>, b@other.test",
	"team: a@example.test, b@example.test;",
	"<@route.test,@r2.test:j@example.test> (comment (nested))",
	"a@example.test,,b@example.test",
	"\"unterminated <u@example.test>",
	"u@a.b.www.ck",
	"x@" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	".test",
	"<>",
	"",
};
/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	int rc;

	rc = fuzz_driver_main(argc, argv, seeds,
			      sizeof(seeds) / sizeof(seeds[0]),
			      "<>()\",;:@.\\ \t\n");
	dmarc_psl_free(&fuzz_psl);
	return rc;
}
#endif
