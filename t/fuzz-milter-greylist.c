/*++
 * NAME
 *	fuzz-milter-greylist 1
 * SUMMARY
 *	libFuzzer target for greylisting's keys: the sender's normalisation
 *	and the address key, with a plain driver
 * SYNOPSIS
 *	t/0419-milter-fuzz-greylist.t [FILE...]
 *
 *	t/libfuzzer/milter-greylist -max_len=4096 CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz)
 * DESCRIPTION
 *	The input is a MAIL FROM or RCPT TO address, as a client sent it
 *	(any bytes but NUL).  greylist_sender() (SRS and BATV undone,
 *	+detail and case dropped) must stay in its buffer, at every size
 *	from too small to the stage's; what it accepts is lower case,
 *	shorter than the buffer, made of the input's own bytes, and no
 *	longer than the input, except "<>" for the null sender.
 *	greylist_addr_key() must give the lower-cased address when it
 *	fits, else exactly len - 1 bytes: the address' first bytes, then
 *	"~SHA256:" and 64 upper-case hex digits, the same for the same
 *	address in any case and never a key an address that fits would
 *	give.  greylist_addr_domain() points inside what it is given.
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
#include "milter-greylist.h"
#include "str.h"
#include "xalloc.h"

#define TAG	"~SHA256:"
#define TAGLEN	(sizeof(TAG) - 1)

/* fuzz_fail - an invariant broken: say which, on what, and stop */
static void
fuzz_fail(const char *what, const char *in, const char *out)
{
	fprintf(stderr, "%s: in \"%.200s\" out \"%.200s\"\n", what, in, out);
	abort();
}

/* fuzz_sender - greylist_sender() into a buffer of len bytes */
static void
fuzz_sender(const char *in, const char *low, size_t len)
{
	char *out = x_malloc(len);
	const char *p, *dom;

	if (greylist_sender(in, out, len) == 0) {
		if (strlen(out) >= len)
			fuzz_fail("sender: longer than its buffer", in, out);
		if (strcmp(out, "<>") != 0) {
			if (strlen(out) > strlen(in))
				fuzz_fail("sender: longer than the input", in,
					  out);
			for (p = out; *p != '\0'; p++)
				if (isupper((unsigned char)*p)
				    || strchr(low, *p) == NULL)
					fuzz_fail("sender: a byte not the "
						  "input's, lower-cased", in,
						  out);
		}
		dom = greylist_addr_domain(out);
		if (*dom != '\0' && (dom <= out || dom > out + strlen(out)))
			fuzz_fail("sender: the domain outside", in, out);
	}
	free(out);
}

/* fuzz_key - greylist_addr_key() into a buffer of len bytes */
static void
fuzz_key(const char *in, const char *low, size_t len)
{
	char *out = x_malloc(len), *again = x_malloc(len), *up;
	size_t n, i;
	int rc;

	rc = greylist_addr_key(in, out, len);
	if (rc == 0 && strcmp(out, low) != 0)
		fuzz_fail("key: fits but is not the lower-cased address", in,
			  out);
	if (rc == 0 && strstr(out, TAG) != NULL)
		fuzz_fail("key: an address that fits spells the tag", in,
			  out);
	if (rc == 1) {
		n = strlen(out);
		if (n != len - 1 || n < TAGLEN + 64
		    || strncmp(out, low, n - TAGLEN - 64) != 0
		    || memcmp(out + n - TAGLEN - 64, TAG, TAGLEN) != 0)
			fuzz_fail("key: not the first bytes and the tag", in,
				  out);
		for (i = n - 64; i < n; i++)
			if (!isdigit((unsigned char)out[i])
			    && (out[i] < 'A' || out[i] > 'F'))
				fuzz_fail("key: not upper-case hex", in, out);
		/* the same address in upper case: the same key */
		up = x_strdup(in);
		for (i = 0; up[i] != '\0'; i++)
			up[i] = (char)toupper((unsigned char)up[i]);
		if (greylist_addr_key(up, again, len) != 1
		    || strcmp(again, out) != 0)
			fuzz_fail("key: another case, another key", in, out);
		free(up);
	}
	if (rc < 0 && len >= GREYLIST_ADDR_KEY_MIN)
		fuzz_fail("key: refused with room for the hash", in, "");
	free(again);
	free(out);
}

/* LLVMFuzzerTestOneInput - one address */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t lens[] = {
		1, 3, 8, GREYLIST_ADDR_KEY_MIN - 1, GREYLIST_ADDR_KEY_MIN, 200,
		GREYLIST_ADDR_MAX
	};
	char *in = x_malloc(size + 1), *low;
	size_t i;

	memcpy(in, data, size);
	in[size] = '\0';		/* an address ends at a NUL */
	low = str_lower_dup(in);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fuzz_sender(in, low, lens[i]);
		fuzz_key(in, low, lens[i]);
	}
	free(low);
	free(in);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"Bob+Detail@Example.TEST",
	"SRS0=HHH=TT=example.org=bob@forwarder.test",
	"SRS1=XXX=fwd1.test==HHH=TT=example.org=bob@fwd2.test",
	"srs0=h=t==x@f.test",
	"srs1=x@f.test",
	"prvs=1234abcd=bob@example.test",
	"msprvs1=17=ab=bob@example.test",
	"prvs==@example.test",
	"+only@example.test",
	"no-at-sign",
	"<>",
	"",
	"a@b@c.test",
	"\"quoted local\"@example.test",
	"bob@example.test~SHA256:",
	"x@" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	".test",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"=+@<>~.\"\\ \tSRsrs01");
}
#endif
