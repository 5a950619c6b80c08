/*++
 * NAME
 *	fuzz-milter-dns 1
 * SUMMARY
 *	libFuzzer target for what DNS data and the milter's DNS glue build
 * SYNOPSIS
 *	t/0408-milter-fuzz-dns.t [FILE...]
 * DESCRIPTION
 *	The first byte of the input picks one of (its value modulo 4;
 *	the seeds use '0' to '3'); strings inside the input end at a 0x1f
 *	byte (the seeds are C strings: no NUL in them):
 *
 *	0  dns_txt_join() on the rest as TXT rdata: NULL, or a string no
 *	   longer than the rdata;
 *	1  dns_name_text() on the rest as an uncompressed name: -1, or a
 *	   length within the input and text of LDH-or-anything bytes that
 *	   fits the buffer;
 *	2  milter_dkim_record() on an answer whose records are taken from
 *	   the input: a record no longer than its rdata; then the record
 *	   through the DKIM key parser and, as a header value, the
 *	   signature parser (for DKIM and ARC): a usable key has an
 *	   EVP_PKEY, a signature that parses has d=, s=, h= with From,
 *	   b= and bh=;
 *	3  milter_spf_received(), the Received-SPF value, from six
 *	   0x1f-separated strings (the first picks the result word, the
 *	   last the identity: those are ours, the rest the sender's): never CR, LF only as its one fold
 *	   ("\n\t"), never a byte outside printable ASCII and TAB.
 *
 *	Without FUZZ_LIBFUZZER, main() is the plain driver (fuzz-driver.c)
 *	that make check runs under gcc.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "milter.h"
#include "milter-dkim.h"
#include "milter-dkim-verify.h"
#include "xalloc.h"
#include "fuzz-driver.h"

#define FUZZ_MAX_RR	8
#define FUZZ_SEP	0x1f

/* fuzz_txt - dns_txt_join */
static void
fuzz_txt(const uint8_t *d, size_t n)
{
	char *s = dns_txt_join(d, n);

	if (s != NULL && strlen(s) > n)
		abort();
	free(s);
}

/* fuzz_name - dns_name_text */
static void
fuzz_name(const uint8_t *d, size_t n)
{
	char out[256];
	int used = dns_name_text(d, n, out, sizeof(out));

	if (used < -1 || (used >= 0 && ((size_t)used > n
					|| strlen(out) >= sizeof(out))))
		abort();
}

/* fuzz_parse - the key and signature parsers on text */
static void
fuzz_parse(const char *text)
{
	struct milter_dkim_vsig sig;
	struct milter_dkim_vkey key;
	int flags;

	milter_dkim_key_parse(text, &key);
	if ((key.err == MILTER_DKIM_E_OK) != (key.pkey != NULL))
		abort();
	milter_dkim_key_free(&key);
	for (flags = 0; flags <= MILTER_DKIM_V_ARC; flags++) {
		milter_dkim_sig_parse(text, flags, &sig);
		if (sig.err == MILTER_DKIM_E_OK
		    && (sig.d == NULL || sig.s == NULL || sig.nh == 0
			|| sig.b == NULL || sig.bh == NULL || sig.blen == 0
			|| sig.b_end > strlen(text)))
			abort();
		milter_dkim_sig_free(&sig);
	}
}

/* fuzz_record - milter_dkim_record, then the parsers */
static void
fuzz_record(const uint8_t *d, size_t n)
{
	const unsigned char *rd[FUZZ_MAX_RR];
	size_t rdlen[FUZZ_MAX_RR], count = 0, len;
	struct dns_answer a;
	char *txt = NULL;
	int ttl;

	/* records: a length byte, then that many bytes */
	while (n > 0 && count < FUZZ_MAX_RR) {
		len = d[0];
		if (len > n - 1)
			len = n - 1;
		rd[count] = d + 1;
		rdlen[count++] = len;
		d += len + 1;
		n -= len + 1;
	}
	memset(&a, 0, sizeof(a));
	a.status = DNS_OK;
	a.ttl = 300;
	a.count = count;
	a.data = rd;
	a.len = rdlen;
	if (milter_dkim_record(&a, &txt, &ttl) == MILTER_DKIM_E_OK) {
		if (txt == NULL || strlen(txt) > rdlen[0] || ttl != 300)
			abort();
		fuzz_parse(txt);
	}
	free(txt);
}

/* fuzz_received - milter_spf_received from six strings */
static void
fuzz_received(const uint8_t *d, size_t n)
{
	static const char *const words[] = {
		"pass", "fail", "softfail", "neutral", "none", "temperror",
		"permerror",
	};
	char *copy = x_malloc(n + 1), *f[6], *p = copy, *v;
	const unsigned char *q;
	size_t i;

	memcpy(copy, d, n);
	copy[n] = '\0';
	for (i = 0; i < 6; i++) {
		f[i] = p;
		if ((p = memchr(p, FUZZ_SEP, (size_t)(copy + n - p))) == NULL)
			p = copy + n;	/* the rest: empty strings */
		else
			*p++ = '\0';
	}
	/* the result and the identity are ours, never the sender's: one
	 * of the words, picked by the first field's first byte */
	v = milter_spf_received(words[(unsigned char)*f[0] % 7], f[1], f[2],
				f[3], *f[4] ? f[4] : NULL,
				*f[5] == 'h' ? "helo" : "mailfrom");
	for (q = (const unsigned char *)v; *q; q++) {
		if (*q == '\n' && q[1] == '\t')
			continue;
		if (*q == '\r' || *q == '\n' || *q > '~'
		    || (*q < ' ' && *q != '\t'))
			abort();
	}
	free(v);
	free(copy);
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_txt(data + 1, size - 1);
		break;
	case 1:
		fuzz_name(data + 1, size - 1);
		break;
	case 2:
		fuzz_record(data + 1, size - 1);
		break;
	default:
		fuzz_received(data + 1, size - 1);
		break;
	}
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"0\x0bv=spf1 -all\x05 a=b;",
	"0\xff",
	"1\x07" "example\x04test",
	"1\x3fxxx",
	"1\xc0\x0c",
	"2\x0bv=DKIM1; p=\x03" "abc",
	"2\x2ev=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg==",
	"2\x7fv=1; a=rsa-sha256; c=relaxed/simple; d=example.test; s=s; "
	"h=From:To:From; bh=AAAA; b=Ab\r\n\tCd; l=10; t=1; x=2; i=@example.test",
	"2\x3ai=1; a=ed25519-sha256; d=e.test; s=s; h=from; bh=AA; b=AA",
	"2\x01;",
	"3pass\x1fmx.example.test\x1f" "192.0.2.1\x1fuser@example.test\x1f"
	"mail.example.test\x1fmailfrom",
	"3fail\x1fmx\r\nX-Evil: 1\x1f::1\x1f\"a b\"@x\x1fh\x1fhelo",
	"3",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\x1f\x01\x03\x3f\xc0.@\"\\\r\n\t()");
}
#endif
