/*++
 * NAME
 *	0491-dmarc-report-unit 1
 * SUMMARY
 *	unit tests of elemta-dmarc-report's pure parts (reports/)
 * DESCRIPTION
 *	A table of rua= values (RFC 7489 6.4: mailto: URIs, !size with
 *	its units, percent-encoding, the first rua= only), each compared
 *	with the destinations wanted, including values that try to put a
 *	header or an option into the message or sendmail's argv; a table
 *	of texts escaped for XML (markup characters, control bytes, bytes
 *	that are not UTF-8, overlong forms and surrogates); the gzip of a
 *	report read back with zlib.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report.h"
#include "tap.h"
#include "xalloc.h"

struct rcase {
	const char *name;
	const char *record;
	const char *want;	/* "addr/size addr/size ..." */
	int nskipped;		/* lines in skipped */
};

static const struct rcase rcases[] = {
	{ "one mailto", "v=DMARC1; p=none; rua=mailto:d@example.test",
	  "d@example.test/0", 0 },
	{ "two, spaces, sizes", "v=DMARC1;rua = mailto:a@x.test!10m ,"
	  " mailto:b@y.test!512 ;p=reject",
	  "a@x.test/10485760 b@y.test/512", 0 },
	{ "k g t units, case", "v=DMARC1; RUA=mailto:a@x.test!2K,"
	  "MAILTO:b@x.test!1g,mailto:c@x.test!1t",
	  "a@x.test/2048 b@x.test/1073741824 c@x.test/1099511627776", 0 },
	{ "not mailto", "v=DMARC1; rua=https://r.test/,mailto:a@x.test",
	  "a@x.test/0", 1 },
	{ "bad size", "v=DMARC1; rua=mailto:a@x.test!10q,mailto:b@x.test!",
	  "", 2 },
	{ "percent-encoded", "v=DMARC1; rua=mailto:a%2Bb@x.test",
	  "a+b@x.test/0", 0 },
	{ "header injection", "v=DMARC1; rua=mailto:a@x.test%0D%0ABcc:"
	  "v@evil.test", "", 1 },
	{ "space inside", "v=DMARC1; rua=mailto:a%20b@x.test", "", 1 },
	{ "option for sendmail", "v=DMARC1; rua=mailto:-oQ/tmp@x.test",
	  "", 1 },
	{ "angle brackets", "v=DMARC1; rua=mailto:<a@x.test>", "", 1 },
	{ "no domain", "v=DMARC1; rua=mailto:a@,mailto:b", "", 2 },
	{ "bad domain", "v=DMARC1; rua=mailto:a@x..test", "", 1 },
	{ "NUL escape", "v=DMARC1; rua=mailto:a%00@x.test", "", 1 },
	{ "query dropped", "v=DMARC1; rua=mailto:a@x.test?subject=hi",
	  "a@x.test/0", 0 },
	{ "listed twice", "v=DMARC1; rua=mailto:a@x.test,mailto:A@x.test",
	  "a@x.test/0", 0 },
	{ "first rua only", "v=DMARC1; rua=mailto:a@x.test; "
	  "rua=mailto:b@x.test", "a@x.test/0", 0 },
	{ "no rua", "v=DMARC1; p=reject; ruf=mailto:f@x.test", "", 0 },
	{ "empty rua", "v=DMARC1; rua=", "", 0 },
	{ "ruax is not rua", "v=DMARC1; ruax=mailto:a@x.test", "", 0 },
};

/* test_rua - each case's destinations, sizes, skipped count */
static void
test_rua(void)
{
	const struct rcase *c;
	struct report_dest *d;
	char *skipped, got[1024];
	size_t i, n, off;
	int nsk;

	for (c = rcases; c < rcases + sizeof(rcases) / sizeof(*rcases);
	     c++) {
		skipped = NULL;
		n = report_rua_parse(c->record, &d, &skipped);
		got[0] = '\0';
		for (i = 0, off = 0; i < n; i++)
			off += (size_t)snprintf(got + off, sizeof(got) - off,
				"%s%s/%llu", i ? " " : "", d[i].addr,
				d[i].max_size);
		is_str(got, c->want, "rua: %s", c->name);
		nsk = 0;
		for (const char *p = skipped; p != NULL && *p;
		     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			nsk++;
		is_int(nsk, c->nskipped, "rua: %s: skipped", c->name);
		report_rua_free(&d, n);
		free(skipped);
	}
}

struct xcase {
	const char *name;
	const char *in, *want;
};

static const struct xcase xcases[] = {
	{ "plain", "example.test", "example.test" },
	{ "markup", "x<&\">'y", "x&lt;&amp;&quot;&gt;&apos;y" },
	{ "entity stays text", "&amp;", "&amp;amp;" },
	{ "controls", "a\tb\r\nc\x01\x7f", "a?b??c??" },
	{ "UTF-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	{ "lone continuation", "a\x80z", "a?z" },
	{ "truncated sequence", "a\xe2\x82", "a??" },
	{ "overlong", "\xc0\xaf \xe0\x80\xaf", "?? ???" },
	{ "surrogate", "\xed\xa0\x80", "???" },
	{ "above U+10FFFF", "\xf4\x90\x80\x80", "????" },
	{ "latin-1", "\xe9t\xe9", "?t?" },
};

/* test_escape - report_xml_escape into a memory stream */
static void
test_escape(void)
{
	const struct xcase *c;
	char *buf;
	size_t len;
	FILE *fp;

	for (c = xcases; c < xcases + sizeof(xcases) / sizeof(*xcases);
	     c++) {
		buf = NULL;
		if ((fp = open_memstream(&buf, &len)) == NULL)
			bail_out("open_memstream failed");
		report_xml_escape(fp, c->in);
		fclose(fp);
		is_str(buf, c->want, "escape: %s", c->name);
		free(buf);
	}
}

/* test_gzip - what report_gzip makes, zlib reads back */
static void
test_gzip(void)
{
	const char text[] = "<feedback>report</feedback>\n";
	char *gz, err[256], out[256];
	size_t gzlen;
	z_stream z;
	int rc;

	rc = report_gzip("r.xml", text, strlen(text), &gz, &gzlen, err,
			 sizeof(err));
	is_int(rc, 0, "gzip: made");
	if (rc < 0)
		return;
	ok(gzlen > 18 && (unsigned char)gz[0] == 0x1f
	   && (unsigned char)gz[1] == 0x8b, "gzip: RFC 1952 magic");
	memset(&z, 0, sizeof(z));
	inflateInit2(&z, 15 + 16);
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = sizeof(out) - 1;
	rc = inflate(&z, Z_FINISH);
	out[sizeof(out) - 1 - z.avail_out] = '\0';
	inflateEnd(&z);
	is_int(rc, Z_STREAM_END, "gzip: one complete stream");
	is_str(out, text, "gzip: the same text back");
	free(gz);
}

int
main(void)
{
	plan_lazy();
	test_rua();
	test_escape();
	test_gzip();
	is_int(report_addr_ok("dmarc@reports.example.test"), 1,
	       "addr: plain");
	is_int(report_addr_ok("a@b@c.test"), 0, "addr: two @");
	done_testing();
	return exit_status();
}
