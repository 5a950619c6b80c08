/*++
 * NAME
 *	fuzz-milter-arc 1
 * SUMMARY
 *	libFuzzer target for milter/milter-arc.c, with a plain driver
 * SYNOPSIS
 *	t/0407-milter-fuzz-arc.t [FILE...]
 *
 *	t/libfuzzer/milter-arc -max_len=4096 CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() splits the input into header lines
 *	("Name: value", one a line, a line starting with white space
 *	folded into the one before) and checks the ARC chain's
 *	structure: the result must agree with itself (none only without
 *	an ARC header; pass only with sets 1..n complete, each index
 *	naming a header of the right kind; fail with a reason and a
 *	failed instance within the count), the A-AR instance reader
 *	gets the whole input as one value, and every header goes through
 *	the seal parser (b='s place within the value) and, for the seals
 *	of a passing chain, the seal's header data.  The sealer's plan
 *	(milter-arc-seal.c) reads the same headers, whatever the chain's
 *	result is said to be: a seal only at instances 1..50, cv=none only
 *	at 1, the instance after a passing chain's last, a reason when
 *	it refuses.
 *
 *	Without FUZZ_LIBFUZZER, main() is a driver that gcc and "make
 *	check" can run: it feeds the seed table (and any FILE given), then
 *	deterministic mutations of the seeds, and prints TAP.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "milter-arc.h"
#include "milter-arc-seal.h"
#include "milter-dkim-canon.h"
#include "xalloc.h"
#include "fuzz-driver.h"

#define FUZZ_MAXH	256

/* fuzz_is - does header index+1 idx exist and carry name? */
static int
fuzz_is(const struct milter_header *h, size_t n, size_t idx,
	const char *name)
{
	return idx >= 1 && idx <= n && strcasecmp(h[idx - 1].name, name) == 0;
}

/* fuzz_check - the chain's outcome must be consistent */
static void
fuzz_check(const struct milter_header *h, size_t n,
	   const struct milter_arc_chain *c)
{
	size_t i, arc = 0;

	for (i = 0; i < n; i++)
		if (strncasecmp(h[i].name, "ARC-", 4) == 0)
			arc++;
	if (c->n > MILTER_ARC_MAX || c->failed > c->n)
		abort();
	switch (c->result) {
	case MILTER_ARC_NONE:
		if (c->reason != MILTER_ARC_R_OK || c->n != 0)
			abort();
		break;
	case MILTER_ARC_PASS:
		if (c->reason != MILTER_ARC_R_OK || c->n == 0 || arc == 0)
			abort();
		for (i = 1; i <= c->n; i++)
			if (!fuzz_is(h, n, c->sets[i].as, "ARC-Seal")
			    || !fuzz_is(h, n, c->sets[i].ams,
					"ARC-Message-Signature")
			    || !fuzz_is(h, n, c->sets[i].aar,
					"ARC-Authentication-Results")
			    || c->sets[i].cv != (i == 1 ? MILTER_ARC_CV_NONE
						 : MILTER_ARC_CV_PASS))
				abort();
		break;
	case MILTER_ARC_FAIL:
		if (c->reason == MILTER_ARC_R_OK || arc == 0)
			abort();
		break;
	default:
		abort();
	}
	if (*milter_arc_reason_str(c->reason) == '\0'
	    && c->reason != MILTER_ARC_R_OK)
		abort();
}

/* fuzz_seal - a seal parsed; on a passing chain, the header data of
 * its instance built (b= cut out where the parser said) */
static void
fuzz_seal(const struct milter_arc_chain *c, const struct milter_header *h,
	  const char *value)
{
	struct milter_dkim_vsig seal;
	struct milter_dkim_buf hd = { NULL, 0, 0 };

	if (milter_arc_seal_parse(value, &seal) == MILTER_DKIM_E_OK) {
		if (seal.b_start > seal.b_end || seal.b_end > strlen(value)
		    || seal.blen == 0 || seal.d == NULL || seal.s == NULL)
			abort();
		if (c->result == MILTER_ARC_PASS && seal.instance >= 1
		    && seal.instance <= c->n
		    && h[c->sets[seal.instance].as - 1].value == value)
			milter_arc_seal_hdata(c, h, seal.instance, &seal, &hd);
	}
	milter_dkim_buf_free(&hd);
	milter_dkim_sig_free(&seal);
}

/* fuzz_plan - the sealer's plan must agree with the chain */
static void
fuzz_plan(const struct milter_header *h, size_t n,
	  const struct milter_arc_chain *c)
{
	static const enum milter_arc_result results[] = {
		MILTER_ARC_NONE, MILTER_ARC_PASS, MILTER_ARC_FAIL,
	};
	enum milter_arc_cv cv;
	const char *why;
	unsigned inst;
	size_t r;

	for (r = 0; r < sizeof(results) / sizeof(results[0]); r++) {
		why = NULL;
		inst = 0;
		cv = MILTER_ARC_CV_UNKNOWN;
		if (milter_arc_seal_plan(h, n, results[r], &inst, &cv,
					 &why) < 0) {
			if (why == NULL || *why == '\0')
				abort();
			continue;
		}
		if (inst < 1 || inst > MILTER_ARC_MAX
		    || cv == MILTER_ARC_CV_UNKNOWN
		    || (cv == MILTER_ARC_CV_NONE && inst != 1))
			abort();
		if (results[r] == MILTER_ARC_PASS && c->result == MILTER_ARC_PASS
		    && (inst != c->n + 1 || cv != MILTER_ARC_CV_PASS))
			abort();
	}
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_header h[FUZZ_MAXH];
	struct milter_arc_chain *c = x_malloc(sizeof(*c));
	char *s = x_malloc(size + 1), *line, *next, *colon;
	size_t n = 0, i;
	int inst;

	memcpy(s, data, size);
	s[size] = '\0';
	inst = milter_arc_aar_instance(s);
	if (inst < -1 || inst > 999)
		abort();
	for (line = s; line != NULL && n < FUZZ_MAXH; line = next) {
		/* the header ends at a newline not followed by white space */
		for (next = line; (next = strchr(next, '\n')) != NULL; next++)
			if (next[1] != ' ' && next[1] != '\t')
				break;
		if (next != NULL)
			*next++ = '\0';
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		h[n].name = line;
		h[n].value = colon + 1;
		n++;
	}
	milter_arc_chain_check(h, n, c);
	fuzz_check(h, n, c);
	fuzz_plan(h, n, c);
	for (i = 0; i < n; i++) {
		(void)milter_arc_aar_instance(h[i].value);
		fuzz_seal(c, h, h[i].value);
	}
	free(c);
	free(s);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=arc;"
	" t=1700000000; b=AAAA\n"
	"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\n"
	"\td=example.org; s=arc; h=from:to; bh=AAAA; b=AAAA\n"
	"ARC-Authentication-Results: i=1; mx.example.org; spf=pass\n"
	"From: a@example.org\n",
	"ARC-Seal: i=2; cv=pass; b=A\nARC-Message-Signature: i=2; b=A\n"
	"ARC-Authentication-Results: i=2; mx; none\n"
	"ARC-Seal: i=1; cv=none; b=A\nARC-Message-Signature: i=1; b=A\n"
	"ARC-Authentication-Results: i=1; mx; none\n",
	"ARC-Seal: i=2; cv=fail; b=A\nARC-Seal: i=1; cv=none\n",
	"ARC-Authentication-Results: i = 1 ; mx\n",
	"ARC-Seal: i=0\nARC-Seal: i=51\nARC-Seal: i=\n",
	"arc-seal: cv=none; i=1; i=1\n",
	"Subject: no ARC\n", "i=1;", ":", "",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"i=;:\n\t 0159ARC-");
}
#endif
