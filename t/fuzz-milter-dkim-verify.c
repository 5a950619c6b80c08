/*++
 * NAME
 *	fuzz-milter-dkim-verify 1
 * SUMMARY
 *	libFuzzer target: the DKIM verifier on a whole message
 * SYNOPSIS
 *	t/0425-milter-fuzz-dkim-verify.t [FILE...]
 * DESCRIPTION
 *	Every message we receive goes through milter-dkim-verify.c: its
 *	signature headers (DKIM-Signature, ARC-Message-Signature) and the
 *	key records of the domains they name are the sender's.  The input
 *	is: one byte of flags (bit 0: read ARC-Message-Signature headers
 *	as ARC does; bits 1-2: max signatures 1-4), a key record up to a
 *	0x1f byte, then a message: "Name:value" lines (a line starting
 *	with white space continues the value), an empty line, the body.
 *
 *	The key lookup answers by the selector's first letter: r an
 *	RSA-1024 record, e an Ed25519 record, v a revoked one, t a failed
 *	lookup, x the record from the input, anything else no record.
 *	Checks: no crash; every signature header is either verified or
 *	counted as ignored; each result is an RFC 8601 word that fits its
 *	reason; nothing passes with a key we hold no private key for
 *	(the r and e keys: a pass there is a forgery).
 *
 *	Without FUZZ_LIBFUZZER, main() is the plain driver (fuzz-driver.c)
 *	that make check runs under gcc.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "milter-dkim-verify.h"
#include "xalloc.h"
#include "fuzz-driver.h"

#define FUZZ_SEP	0x1f
#define FUZZ_MAXH	64

static const char rec_rsa[] = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4G"
	"NADCBiQKBgQC/YlJvalcb6nxK11P8cHsJYSrWhwxNKoCMYqTkkJmh6Fap7H8VxEoRzDD"
	"YLzALhV1UGPGB6PeGONxkSv4oFT4hXGEQwWSRAz+ZuXS2vX0CImzlkEWbdRp0rB0V/6n"
	"ZvRGz2LAq5zEMet6GDpy/MPhyDFCDQsh46t709MNy1uAYaQIDAQAB";
static const char rec_ed[] = "v=DKIM1; k=ed25519; "
	"p=OUnmiUhxlrW31ka+VCyymllK4YMssr6eKGwY8i9Gfrc=";

struct fuzz_ctx {
	const char *record;	/* the input's */
};

/* fuzz_lookup - the key records, by the selector's first letter */
static enum milter_dkim_err
fuzz_lookup(void *arg, const char *name, char **txt, int *ttl)
{
	struct fuzz_ctx *c = arg;

	*ttl = 0;		/* nothing kept: inputs stay independent */
	switch (name[0]) {
	case 'r':
		*txt = x_strdup(rec_rsa);
		return MILTER_DKIM_E_OK;
	case 'e':
		*txt = x_strdup(rec_ed);
		return MILTER_DKIM_E_OK;
	case 'v':
		*txt = x_strdup("v=DKIM1; p=");
		return MILTER_DKIM_E_OK;
	case 't':
		return MILTER_DKIM_E_DNS;
	case 'x':
		*txt = x_strdup(c->record);
		return MILTER_DKIM_E_OK;
	default:
		return MILTER_DKIM_E_NOKEY;
	}
}

/* fuzz_headers - "Name:value" lines into h; the body's start */
static const char *
fuzz_headers(const char *p, struct milter_header *h, size_t *nh)
{
	const char *e, *colon;

	*nh = 0;
	while (*p != '\0' && *p != '\n') {
		/* the logical line: up to a LF not followed by WSP */
		for (e = p; *e != '\0'; e++)
			if (*e == '\n' && e[1] != ' ' && e[1] != '\t')
				break;
		colon = memchr(p, ':', (size_t)(e - p));
		if (colon != NULL && *nh < FUZZ_MAXH) {
			h[*nh].name = x_strndup(p, (size_t)(colon - p));
			h[*nh].value = x_strndup(colon + 1,
						 (size_t)(e - colon - 1));
			(*nh)++;
		}
		p = *e ? e + 1 : e;
	}
	return *p ? p + 1 : p;
}

/* fuzz_check - the invariants of one signature's outcome */
static void
fuzz_check(const struct milter_dkim_vent *e)
{
	enum milter_dkim_class cls;
	const char *want = milter_dkim_err_result(e->res.err, &cls);

	if (e->res.result == NULL || strcmp(e->res.result, want) != 0
	    || cls != e->res.cls)
		abort();
	if ((strcmp(e->res.result, "pass") == 0) != (e->res.err == 0))
		abort();
	if (e->res.err == 0 && e->sig.s != NULL
	    && (e->sig.s[0] == 'r' || e->sig.s[0] == 'e'))
		abort();		/* a forgery */
	if (e->res.partial && e->res.err != 0)
		abort();
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_header h[FUZZ_MAXH];
	struct milter_dkim_vopts o = { "DKIM-Signature", 0, 1, 1024 };
	struct milter_dkim_verifier *v;
	struct fuzz_ctx c;
	const char *body;
	char *copy, *sep;
	size_t nh, i, named = 0;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		o.hname = "ARC-Message-Signature";
		o.flags = MILTER_DKIM_V_ARC;
	}
	o.max = 1 + ((data[0] >> 1) & 3);
	copy = x_malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';		/* a NUL inside ends it early */
	if ((sep = strchr(copy, FUZZ_SEP)) != NULL)
		*sep++ = '\0';
	else
		sep = copy + strlen(copy);
	c.record = copy;
	body = fuzz_headers(sep, h, &nh);
	v = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(v, h, nh);
	milter_dkim_verifier_body(v, (const unsigned char *)body,
				  strlen(body) / 2);
	milter_dkim_verifier_body(v, (const unsigned char *)body
				  + strlen(body) / 2,
				  strlen(body) - strlen(body) / 2);
	milter_dkim_verifier_eom(v, h, nh, fuzz_lookup, &c, 1700000000);
	for (i = 0; i < nh; i++)
		named += strcasecmp(h[i].name, o.hname) == 0;
	if (v->n + v->nignored != named || v->n > (size_t)o.max)
		abort();
	for (i = 0; i < v->n; i++)
		fuzz_check(&v->sigs[i]);
	milter_dkim_verifier_free(&v);
	for (i = 0; i < nh; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(copy);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"\x06\x1f" "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
	"d=example.test; s=r1; t=1699999000; h=from:to:from; "
	"bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; b=AbCd\n"
	"From: a@example.test\nTo: b@example.test\n\nHello.\n",
	"\x02\x1f" "DKIM-Signature: v=1; a=ed25519-sha256; d=example.test; "
	"s=e1; h=from; l=3; x=1; bh=AAAA; b=AAAA\n\tAAAA\n"
	"DKIM-Signature: v=1; a=rsa-sha1; d=e.test; s=v; h=From; bh=AA; "
	"b=AA\nFrom:x\n\n\n\n",
	"\x01\x1f" "ARC-Message-Signature: i=1; a=rsa-sha256; d=e.test; "
	"s=t; h=from; bh=AA; b=AA\nFrom: x\n\nbody \t \n",
	"\x07v=DKIM1; k=rsa; h=sha1; s=email; t=y:s; p=MIGfMA0G\x1f"
	"DKIM-Signature: v=1; a=rsa-sha256; d=e.test; i=@a.e.test; s=x; "
	"h=from:subject:subject; bh=AA==; b=AA==; c=simple/simple; "
	"q=dns/txt; z=a|b\nSubject: 1\nFrom: x\nSubject:  2\n\nb\n",
	"\x02v=DKIM1; k=ed25519; p=\x1f" "DKIM-Signature: v=1; "
	"a=ed25519-sha256; d=e.test; s=x; h=from; bh=AA; b=AA\n\n",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\x1f;=:\n\t @.");
}
#endif
