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
 *
 *	fuzz_driver_dir() takes its seeds from the files of a directory
 *	below $top_srcdir instead (binary files too: a seed may hold a
 *	NUL), the corpus t/0030 and bench/fuzz start from: two checks a
 *	file (the file, then 500 mutations of it), then the empty input and
 *	a lone newline, then the files named on the command line if any.
 *--*/
#include "config.h"

#include <dirent.h>
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

/* fuzz_mutate - up to six mutations of buf's len bytes (cap at most) in
 * place; the new length */
static size_t
fuzz_mutate(uint8_t *buf, size_t len, size_t cap, const char *specials,
	    size_t nspecials, uint32_t *st)
{
	int a;

	for (a = (int)(fuzz_rand(st) % 6); a >= 0; a--) {
		size_t pos = len ? fuzz_rand(st) % (len + 1) : 0;

		switch (fuzz_rand(st) % 5) {
		case 0:		/* flip a byte */
			if (pos < len)
				buf[pos] ^= (uint8_t)(1u << (fuzz_rand(st) % 8));
			break;
		case 1:		/* truncate */
			len = pos;
			break;
		case 2:		/* insert a special */
			if (len + 1 < cap) {
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = (uint8_t)specials[fuzz_rand(st)
							     % nspecials];
				len++;
			}
			break;
		case 3:		/* repeat the input */
			if (2 * len < cap) {
				memcpy(buf + len, buf, len);
				len *= 2;
			}
			break;
		default:	/* a random byte */
			if (pos < len)
				buf[pos] = (uint8_t)fuzz_rand(st);
			break;
		}
	}
	return len;
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
	int k, failed = 0;

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
		len = fuzz_mutate(buf, len, sizeof(buf), specials, nspecials,
				  &st);
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("ok 2 - %zu mutated inputs without a crash\n", runs);
	return failed;
}

/* fuzz_read - a whole file, malloc'ed, its length in *len; NULL if not */
static uint8_t *
fuzz_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) < 0 || (n = ftell(fp)) < 0
	    || fseek(fp, 0, SEEK_SET) < 0
	    || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	return buf;
}

/* fuzz_path - dir/name in path; 0, or -1 if it does not fit */
static int
fuzz_path(char *path, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(path, size, "%s/%s", dir, name) >= size)
		return -1;
	return 0;
}

/* fuzz_visible - scandir filter: not a dot file */
static int
fuzz_visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* fuzz_dir_file - one seed file: as it is, then 500 mutations of it */
static int
fuzz_dir_file(const char *path, const char *name, const char *specials,
	      uint32_t *st, int *t)
{
	size_t nspecials = strlen(specials), len = 0, cap, mlen;
	uint8_t *seed, *buf;
	int m;

	if ((seed = fuzz_read(path, &len)) == NULL) {
		printf("not ok %d - %s: cannot read it\n", ++*t, name);
		printf("not ok %d - %s: no mutations\n", ++*t, name);
		return 1;
	}
	LLVMFuzzerTestOneInput(seed, len);
	printf("ok %d - %s: as it is\n", ++*t, name);
	cap = 2 * len + 64;
	if ((buf = malloc(cap)) == NULL)
		abort();
	for (m = 0; m < 500; m++) {
		memcpy(buf, seed, len);
		mlen = fuzz_mutate(buf, len, cap, specials, nspecials, st);
		LLVMFuzzerTestOneInput(buf, mlen);
	}
	printf("ok %d - %s: 500 mutations of it\n", ++*t, name);
	free(buf);
	free(seed);
	return 0;
}

/* fuzz_copy_seeds - FUZZ_WRITE_SEEDS for a seed directory; 0 or 1 */
static int
fuzz_copy_seeds(const char *to, const char *from, struct dirent **ents,
		int n)
{
	char path[4096];
	uint8_t *buf;
	size_t len = 0;
	FILE *fp;
	int i, rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (fuzz_path(path, sizeof(path), from, ents[i]->d_name) < 0
		    || (buf = fuzz_read(path, &len)) == NULL) {
			perror(path);
			return 1;
		}
		if (fuzz_path(path, sizeof(path), to, ents[i]->d_name) < 0
		    || (fp = fopen(path, "wb")) == NULL) {
			perror(path);
			rc = 1;
		} else if ((fwrite(buf, 1, len, fp) != len) | (fclose(fp) != 0)) {
			perror(path);
			rc = 1;
		}
		free(buf);
	}
	return rc;
}

/* fuzz_driver_dir - the files of $top_srcdir/dir as the seeds, as TAP */
int
fuzz_driver_dir(int argc, char **argv, const char *dir, const char *specials)
{
	const char *src = getenv("top_srcdir");
	char from[4096], path[4096];
	struct dirent **ents;
	uint32_t st = 0x2545f491;
	int n, i, k, t = 0, failed = 0, bad = 0;

	snprintf(from, sizeof(from), "%s/%s", src ? src : ".", dir);
	if ((n = scandir(from, &ents, fuzz_visible, alphasort)) < 0) {
		printf("Bail out! cannot read the seeds in %s\n", from);
		return 1;
	}
	if (getenv("FUZZ_WRITE_SEEDS") != NULL) {
		failed = fuzz_copy_seeds(getenv("FUZZ_WRITE_SEEDS"), from,
					 ents, n);
		for (i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
		return failed;
	}
	printf("1..%d\n", 2 * n + 2 + (argc > 1));
	for (i = 0; i < n; i++) {
		if (fuzz_path(path, sizeof(path), from, ents[i]->d_name) < 0)
			path[0] = '\0';	/* unreadable: a failed check */
		failed |= fuzz_dir_file(path, ents[i]->d_name, specials, &st,
					&t);
		free(ents[i]);
	}
	free(ents);
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("ok %d - the empty input\n", ++t);
	LLVMFuzzerTestOneInput((const uint8_t *)"\n", 1);
	printf("ok %d - a lone newline\n", ++t);
	if (argc > 1) {
		for (k = 1; k < argc; k++)
			if (fuzz_file(argv[k]) < 0) {
				printf("# cannot read %s\n", argv[k]);
				bad = 1;
			}
		printf("%sok %d - the corpus files given\n", bad ? "not " : "",
		       ++t);
	}
	return failed | bad;
}
