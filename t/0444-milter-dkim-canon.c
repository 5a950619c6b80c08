/*++
 * NAME
 *	0444-milter-dkim-canon 1
 * SUMMARY
 *	unit tests for milter/milter-dkim-canon.c
 * DESCRIPTION
 *	Body canonicalization, simple and relaxed, on a table: RFC 6376
 *	section 3.4.6's example, the empty body, trailing empty lines
 *	(white space only, for relaxed), no final line end, white space
 *	runs (leading, inner, trailing, tabs), bare LF and bare CR, long
 *	lines (the 16-byte blocks) and a body larger than the buffer.
 *	Each input goes in whole, split in two at every offset (a CRLF or
 *	a white space run split across chunks), and one byte at a time:
 *	the canonical bytes (seen through the tap) must be the expected
 *	ones every time and the hash their SHA-256.  Then header
 *	canonicalization on a table (section 3.4.6's headers, folding,
 *	empty values, no final CRLF).
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "milter-dkim-canon.h"
#include "tap.h"
#include "xalloc.h"

/* esc - the bytes with CR, LF and TAB made visible; malloc'ed */
static char *
esc(const char *p, size_t len)
{
	char *o = x_malloc(2 * len + 1), *q = o;
	size_t i;

	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '\r':
			*q++ = '\\';
			*q++ = 'r';
			break;
		case '\n':
			*q++ = '\\';
			*q++ = 'n';
			break;
		case '\t':
			*q++ = '\\';
			*q++ = 't';
			break;
		default:
			*q++ = p[i];
		}
	}
	*q = '\0';
	return o;
}

/* tap - collect the canonical bytes */
static void
tap(void *arg, const unsigned char *p, size_t len)
{
	milter_dkim_buf_add(arg, p, len);
}

/* body_run - in, fed in chunks of the ncuts sizes (0: the rest; the
 * last size repeats); the canonical bytes into out; 1 if the hash is
 * the SHA-256 of them */
static int
body_run(int relaxed, const char *in, size_t len, const size_t *cuts,
	 size_t ncuts, struct milter_dkim_buf *out)
{
	struct milter_dkim_body *b = milter_dkim_body_new(relaxed);
	unsigned char got[MILTER_DKIM_HASH_LEN], want[MILTER_DKIM_HASH_LEN];
	size_t off = 0, n, i, cut;

	if (b == NULL)
		bail_out("no SHA-256");
	milter_dkim_buf_add(out, "", 0);
	milter_dkim_body_tap(b, tap, out);
	for (i = 0; off < len; i++) {
		cut = cuts[i < ncuts ? i : ncuts - 1];
		n = cut == 0 || cut > len - off ? len - off : cut;
		milter_dkim_body_update(b, (const unsigned char *)in + off, n);
		off += n;
	}
	if (milter_dkim_body_final(b, got) < 0)
		bail_out("body_final failed");
	milter_dkim_body_free(&b);
	EVP_Digest(out->data, out->len, want, NULL, EVP_sha256(), NULL);
	return memcmp(got, want, sizeof(got)) == 0;
}

/* body_case - one input, every chunking */
static void
body_case(const char *name, int relaxed, const char *in, size_t len,
	  const char *want)
{
	struct milter_dkim_buf out = { 0 };
	size_t cuts[2], ones[1] = { 1 }, i, bad = 0, nohash = 0;
	const char *mode = relaxed ? "relaxed" : "simple";
	char *g, *w;

	cuts[0] = 0;
	if (!body_run(relaxed, in, len, cuts, 1, &out))
		nohash++;
	g = esc(out.data, out.len);
	w = esc(want, strlen(want));
	is_str(g, w, "%s body, %s: whole", mode, name);
	free(g);
	for (i = 1; i < len; i++) {	/* two chunks, cut at i */
		cuts[0] = i;
		cuts[1] = 0;
		out.len = 0;
		nohash += !body_run(relaxed, in, len, cuts, 2, &out);
		if (out.len != strlen(want) || memcmp(out.data, want, out.len))
			bad++;
	}
	out.len = 0;
	nohash += !body_run(relaxed, in, len, ones, 1, &out);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len))
		bad++;
	is_int((long long)bad, 0, "%s body, %s: every chunking", mode, name);
	is_int((long long)nohash, 0, "%s body, %s: the hash is the SHA-256 "
	       "of the canonical bytes", mode, name);
	free(w);
	milter_dkim_buf_free(&out);
}

static void
test_body(void)
{
	static const struct {
		const char *name, *in, *simple, *relaxed;
	} t[] = {
		{ "RFC 6376 3.4.6", " C \r\nD \t E\r\n\r\n\r\n",
		  " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
		{ "empty body", "", "\r\n", "" },
		{ "empty lines only", "\r\n\r\n\r\n", "\r\n", "" },
		{ "white space only", " \t \r\n", " \t \r\n", "" },
		{ "no final CRLF", "abc", "abc\r\n", "abc\r\n" },
		{ "no final CRLF, trailing space", "abc  ", "abc  \r\n",
		  "abc\r\n" },
		{ "trailing empty lines", "a\r\nb\r\n\r\n\r\n\r\n",
		  "a\r\nb\r\n", "a\r\nb\r\n" },
		{ "trailing blank lines", "a\r\n \t\r\n\r\n  \r\n",
		  "a\r\n \t\r\n\r\n  \r\n", "a\r\n" },
		{ "empty lines inside kept", "a\r\n\r\n\r\nb\r\n",
		  "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n" },
		{ "blank lines inside", "a\r\n  \r\nb\r\n",
		  "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n" },
		{ "white space runs", "a  \t b\t\tc   \r\n",
		  "a  \t b\t\tc   \r\n", "a b c\r\n" },
		{ "leading white space", "\t\t x\r\n  y\r\n",
		  "\t\t x\r\n  y\r\n", " x\r\n y\r\n" },
		{ "bare LF line ends", "a\nb \n\n\n", "a\r\nb \r\n",
		  "a\r\nb\r\n" },
		{ "mixed line ends", "a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n",
		  "a\r\nb\r\nc\r\n" },
		{ "bare CR inside a line", "a\rb \r c\r\n", "a\rb \r c\r\n",
		  "a\rb \r c\r\n" },
		{ "CR at the very end", "a\r", "a\r\r\n", "a\r\r\n" },
		{ "long lines", "The quick brown fox jumps over the lazy "
		  "dog, and once more: the quick brown fox.\r\nSecond line "
		  "with two  spaces and a\ttab near the end of it ok.  \r\n",
		  "The quick brown fox jumps over the lazy dog, and once "
		  "more: the quick brown fox.\r\nSecond line with two  spaces "
		  "and a\ttab near the end of it ok.  \r\n",
		  "The quick brown fox jumps over the lazy dog, and once "
		  "more: the quick brown fox.\r\nSecond line with two spaces "
		  "and a tab near the end of it ok.\r\n" },
		{ "space at a 16-byte edge", "0123456789abcde  f0123456789abc"
		  "def \r\n", "0123456789abcde  f0123456789abcdef \r\n",
		  "0123456789abcde f0123456789abcdef\r\n" },
		{ "dot and From lines", ".\r\nFrom x\r\n>From y\r\n",
		  ".\r\nFrom x\r\n>From y\r\n", ".\r\nFrom x\r\n>From y\r\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		body_case(t[i].name, MILTER_DKIM_SIMPLE, t[i].in,
			  strlen(t[i].in), t[i].simple);
		body_case(t[i].name, MILTER_DKIM_RELAXED, t[i].in,
			  strlen(t[i].in), t[i].relaxed);
	}
}

/* test_big - a body larger than the module's buffer, lines of 70 with
 * double spaces, in chunks of 1000 */
static void
test_big(void)
{
	struct milter_dkim_buf in = { 0 }, want = { 0 }, out = { 0 };
	size_t cuts[1] = { 1000 }, i;
	char line[80];

	for (i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "line %03zu  of the big body, "
			 "with double  spaces and a tab\there   \r\n", i);
		milter_dkim_buf_add(&in, line, strlen(line));
		snprintf(line, sizeof(line), "line %03zu of the big body, with "
			 "double spaces and a tab here\r\n", i);
		milter_dkim_buf_add(&want, line, strlen(line));
	}
	milter_dkim_buf_add(&in, "\r\n\r\n", 4);
	ok(body_run(MILTER_DKIM_RELAXED, in.data, in.len, cuts, 1, &out),
	   "big body: hash of the canonical bytes");
	ok(out.len == want.len && memcmp(out.data, want.data, out.len) == 0,
	   "big body (%zu bytes), relaxed, chunks of 1000", in.len);
	milter_dkim_buf_free(&in);
	milter_dkim_buf_free(&want);
	milter_dkim_buf_free(&out);
}

static void
test_header(void)
{
	static const struct {
		const char *name, *value;
		int crlf;
		const char *simple, *relaxed;
	} t[] = {
		/* RFC 6376 section 3.4.6 */
		{ "A", " X", 1, "A: X\r\n", "a:X\r\n" },
		{ "B ", " Y\t\n\tZ  ", 1, "B : Y\t\r\n\tZ  \r\n",
		  "b:Y Z\r\n" },
		{ "Subject", "", 1, "Subject:\r\n", "subject:\r\n" },
		{ "Subject", "  \t ", 1, "Subject:  \t \r\n", "subject:\r\n" },
		{ "To", " a@example.test,\r\n  b@example.test", 1,
		  "To: a@example.test,\r\n  b@example.test\r\n",
		  "to:a@example.test, b@example.test\r\n" },
		{ "X-Mixed", "\tA  b\n c\t", 1, "X-Mixed:\tA  b\r\n c\t\r\n",
		  "x-mixed:A b c\r\n" },
		{ "DKIM-Signature", " v=1; d=example.test;\n\th=From;\n\tb=",
		  0,
		  "DKIM-Signature: v=1; d=example.test;\r\n\th=From;\r\n\tb=",
		  "dkim-signature:v=1; d=example.test; h=From; b=" },
	};
	struct milter_dkim_buf b = { 0 };
	size_t i;
	char *g, *w;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (r = 0; r < 2; r++) {
			b.len = 0;
			milter_dkim_canon_header(&b, r, t[i].name,
						 t[i].value, t[i].crlf);
			g = esc(b.data, b.len);
			w = r ? esc(t[i].relaxed, strlen(t[i].relaxed))
			      : esc(t[i].simple, strlen(t[i].simple));
			is_str(g, w, "%s header: '%s'",
			       r ? "relaxed" : "simple", t[i].name);
			free(g);
			free(w);
		}
	/* appending: two headers after each other */
	b.len = 0;
	milter_dkim_canon_header(&b, 1, "From", " a@example.test", 1);
	milter_dkim_canon_header(&b, 1, "To", " b@example.test", 1);
	g = esc(b.data, b.len);
	is_str(g, "from:a@example.test\\r\\nto:b@example.test\\r\\n",
	       "headers append");
	free(g);
	milter_dkim_buf_free(&b);
}

int
main(void)
{
	plan_lazy();
	test_body();
	test_big();
	test_header();
	done_testing();
	return exit_status();
}
