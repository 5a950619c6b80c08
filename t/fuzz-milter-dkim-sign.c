/*++
 * NAME
 *	fuzz-milter-dkim-sign 1
 * SUMMARY
 *	libFuzzer target: the From parser of the DKIM signing stage and
 *	the signing-table matcher
 * DESCRIPTION
 *	milter_dkim_sign_from() reads the From header of mail we are about
 *	to sign (untrusted: any authenticated user writes it), then
 *	milter_keys_glob() matches the address against patterns.  Checks:
 *	no crash, an accepted address has one "@", no white space or
 *	angle brackets, and fits the buffer; glob("*", s) always matches
 *	and glob(s, s) matches when s has no "*".
 *
 *	With libFuzzer: clang -fsanitize=fuzzer,address -DFUZZ_LIBFUZZER
 *	-I. -I$(top_srcdir)/lib -I$(top_srcdir)/milter
 *	t/fuzz-milter-dkim-sign.c milter/libelemta-milter.a
 *	lib/libelemta.a -lopendkim -lcrypto ... ; without it, main()
 *	below runs the seeds, corpus files given as arguments and 30000
 *	deterministic mutations (TAP), as "make check" does.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = x_malloc(size + 1), out[256], *at;

	memcpy(s, data, size);
	s[size] = '\0';
	if (milter_dkim_sign_from(s, out, sizeof(out)) == 0) {
		if (strlen(out) >= sizeof(out)
		    || (at = strchr(out, '@')) == NULL
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

/* fuzz_rand - a small deterministic PRNG (xorshift32) */
static uint32_t
fuzz_rand(uint32_t *st)
{
	uint32_t x = *st;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

/* fuzz_file - one corpus file */
static int
fuzz_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	static uint8_t buf[1 << 16];
	size_t n;

	if (fp == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char specials[] = "()<>,\"\\@. \r\n\t";
	uint8_t buf[1024];
	uint32_t st = 0x2545f491;
	size_t i, n, len, runs = 0;
	int k, a, failed = 0;

	printf("1..2\n");
	for (k = 1; k < argc; k++)
		if (fuzz_file(argv[k]) < 0) {
			printf("# cannot read %s\n", argv[k]);
			failed = 1;
		}
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++, runs++)
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[i],
				       strlen(seeds[i]));
	printf("%sok 1 - seeds and corpus files\n", failed ? "not " : "");
	for (n = 0; n < 30000; n++, runs++) {
		i = fuzz_rand(&st) % (sizeof(seeds) / sizeof(seeds[0]));
		len = strlen(seeds[i]);
		if (len > sizeof(buf) - 16)
			len = sizeof(buf) - 16;
		memcpy(buf, seeds[i], len);
		for (a = (int)(fuzz_rand(&st) % 6); a >= 0; a--) {
			size_t pos = len ? fuzz_rand(&st) % (len + 1) : 0;

			switch (fuzz_rand(&st) % 4) {
			case 0:		/* flip a byte */
				if (pos < len)
					buf[pos] ^= (uint8_t)(1u
						<< (fuzz_rand(&st) % 8));
				break;
			case 1:		/* truncate */
				len = pos;
				break;
			case 2:		/* insert a special */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos,
						len - pos);
					buf[pos] = (uint8_t)specials[
						fuzz_rand(&st) %
						(sizeof(specials) - 1)];
					len++;
				}
				break;
			default:	/* a random byte */
				if (pos < len)
					buf[pos] = (uint8_t)fuzz_rand(&st);
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("ok 2 - %zu mutated inputs without a crash\n", runs);
	return failed;
}
#endif
