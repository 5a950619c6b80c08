/*++
 * NAME
 *	fuzz-driver 3
 * SUMMARY
 *	run a libFuzzer target without libFuzzer, as a TAP test
 * SYNOPSIS
 *	#include "fuzz-driver.h"
 *
 *	int main(int argc, char **argv)
 *	{ return fuzz_driver_main(argc, argv, seeds, nseeds, "();=\"@"); }
 * DESCRIPTION
 *	For `make check` with gcc: feeds LLVMFuzzerTestOneInput() the
 *	corpus files named on the command line, the seeds, then 30000
 *	deterministic mutations of the seeds (bit flips, truncation,
 *	inserted special characters, random bytes, the input repeated --
 *	pipelined commands for protocol parsers), so a crash or a
 *	sanitizer report fails the test.  Built with clang
 *	-fsanitize=fuzzer, the target's own file is used without this.
 *
 *	With FUZZ_WRITE_SEEDS=DIR in the environment it writes the seeds
 *	into DIR instead (seed-0, seed-1, ...), the starting corpus of the
 *	libFuzzer build (t/0030-libfuzzer.t), and exits.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"

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

/* fuzz_write_seeds - the seeds as files in dir; 0 or 1 */
static int
fuzz_write_seeds(const char *dir, const char *const *seeds, size_t nseeds)
{
	char path[4096];
	FILE *fp;
	size_t i;

	for (i = 0; i < nseeds; i++) {
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
		if ((fp = fopen(path, "wb")) == NULL) {
			perror(path);
			return 1;
		}
		fwrite(seeds[i], 1, strlen(seeds[i]), fp);
		if (fclose(fp) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}

/* fuzz_driver_main - seeds, corpus files, then mutations of the seeds */
int
fuzz_driver_main(int argc, char **argv, const char *const *seeds,
		 size_t nseeds, const char *specials)
{
	size_t nspecials = strlen(specials);
	static uint8_t buf[8192];
	uint32_t st = 0x2545f491;
	size_t i, n, len, runs = 0;
	int k, a, failed = 0;

	if (getenv("FUZZ_WRITE_SEEDS") != NULL)
		return fuzz_write_seeds(getenv("FUZZ_WRITE_SEEDS"), seeds,
					nseeds);
	printf("1..2\n");
	for (k = 1; k < argc; k++)
		if (fuzz_file(argv[k]) < 0) {
			printf("# cannot read %s\n", argv[k]);
			failed = 1;
		}
	for (i = 0; i < nseeds; i++, runs++)
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[i],
				       strlen(seeds[i]));
	printf("%sok 1 - seeds and corpus files\n", failed ? "not " : "");
	for (n = 0; n < 30000; n++, runs++) {
		i = fuzz_rand(&st) % (nseeds);
		len = strlen(seeds[i]);
		if (len > sizeof(buf) / 2 - 16)
			len = sizeof(buf) / 2 - 16;
		memcpy(buf, seeds[i], len);
		for (a = (int)(fuzz_rand(&st) % 6); a >= 0; a--) {
			size_t pos = len ? fuzz_rand(&st) % (len + 1) : 0;

			switch (fuzz_rand(&st) % 5) {
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
						nspecials];
					len++;
				}
				break;
			case 3:		/* repeat the input */
				if (2 * len < sizeof(buf)) {
					memcpy(buf + len, buf, len);
					len *= 2;
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
