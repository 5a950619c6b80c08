/*++
 * NAME
 *	fuzz-milter-authres 1
 * SUMMARY
 *	libFuzzer target for milter/milter-authres.c, with a plain driver
 * SYNOPSIS
 *	t/0409-milter-fuzz-authres.t [FILE...]
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -DFUZZ_LIBFUZZER \
 *	    -I$BUILDDIR -Ilib -Imilter t/fuzz-milter-authres.c \
 *	    milter/milter-authres.c lib/xalloc.c lib/log.c lib/conf.c \
 *	    lib/listen.c $(pkg-config --cflags --libs libconfuse) \
 *	    -o fuzz-authres
 *	./fuzz-authres -max_len=2048
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() parses the input as someone's
 *	Authentication-Results value, checks authres_id_is() on it, and
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authres *ar;
	char *s = x_malloc(size + 1), *v;

	memcpy(s, data, size);
	s[size] = '\0';
	(void)authres_id_is(s, "mx.example.net");
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
	static const char specials[] = "();=\"\\/. @\r\n\t";
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
					buf[pos] ^= (uint8_t)(1u << (fuzz_rand(&st) % 8));
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
