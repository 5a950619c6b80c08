/*++
 * NAME
 *	report-xml 3
 * SUMMARY
 *	one DMARC aggregate report as XML (RFC 9990), gzipped
 * DESCRIPTION
 *	The format of RFC 9990 (namespace urn:ietf:params:xml:ns:dmarc-2.0,
 *	t/data/dmarc-report/dmarc-2.0.xsd), limited to what RFC 7489's
 *	readers also know where the two differ: disposition "none" for a
 *	pass (not 2.0's "pass"), envelope_from and a DKIM selector always
 *	present (7489 requires the first), an spf element always present.
 *	pct= has no place in 2.0's policy_published (t= replaced it); a
 *	message sampled out by pct= is reported as a policy_test_mode
 *	override with the pct in its comment.  SPF's scope: "mfrom"; a
 *	HELO identity (null sender) has no scope in 2.0 and gets none.
 *
 *	Every text comes from the history, which came from senders and
 *	DNS: it is escaped (& < > " '), control characters and bytes
 *	that are not UTF-8 become '?', so the document always parses.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "db.h"
#include "report.h"
#include "xalloc.h"

/* report_utf8_len - length of a valid UTF-8 sequence at s, or 0 */
static size_t
report_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned c = s[0];

	if (c < 0xC2 || c > 0xF4)
		return 0;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xF0 && s[1] < 0x90)
	    || (c == 0xF4 && s[1] > 0x8F) || (c == 0xED && s[1] > 0x9F))
		return 0;		/* overlong, > U+10FFFF, surrogates */
	return n;
}

/* report_xml_escape - s as XML character data or attribute value */
void
report_xml_escape(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	for (; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", fp);
			continue;
		case '<':
			fputs("&lt;", fp);
			continue;
		case '>':
			fputs("&gt;", fp);
			continue;
		case '"':
			fputs("&quot;", fp);
			continue;
		case '\'':
			fputs("&apos;", fp);
			continue;
		default:
			break;
		}
		if (*p < 0x20 || *p == 0x7F) {
			fputc('?', fp);
		} else if (*p < 0x80) {
			fputc(*p, fp);
		} else if ((n = report_utf8_len(p)) > 0) {
			fwrite(p, 1, n, fp);
			p += n - 1;
		} else {
			fputc('?', fp);
		}
	}
}

/* report_elem - <name>escaped text</name> */
static void
report_elem(FILE *fp, const char *indent, const char *name, const char *s)
{
	fprintf(fp, "%s<%s>", indent, name);
	report_xml_escape(fp, s);
	fprintf(fp, "</%s>\n", name);
}

/* report_word - s if it is one of words[], else dflt */
static const char *
report_word(const char *s, const char *const *words, const char *dflt)
{
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return words[i];
	return dflt;
}

static const char *const report_authres_words[] = {
	"none", "pass", "fail", "softfail", "policy", "neutral", "temperror",
	"permerror", NULL
};
static const char *const report_dkim_words[] = {
	"none", "pass", "fail", "policy", "neutral", "temperror",
	"permerror", NULL
};

static const char *const report_override_words[] = {
	"local_policy", "mailing_list", "other", "policy_test_mode",
	"trusted_forwarder", NULL
};

/* report_reasons - the policy_evaluated reasons: a local override, a
 * pct= sample, a failing message not given its policy (enforcement
 * off, or quarantine_action=accept), the milter's other reasons */
static void
report_reasons(FILE *fp, const struct report_record *r)
{
	const char *t = NULL;
	char buf[160];
	const char *comment = NULL;

	if (r->override_type != NULL) {
		t = report_word(r->override_type, report_override_words,
				"other");
		comment = r->override_comment;
	} else if (strcmp(r->reason, "sampled_out") == 0) {
		t = "policy_test_mode";
		snprintf(buf, sizeof(buf), "sampled out (pct=%d)", r->pct);
		comment = buf;
	} else if (r->reason[0] != '\0') {
		t = "other";
		comment = r->reason;
	} else if (!r->dkim_aligned && !r->spf_aligned
		   && ((r->applied[0] == 'r'
			&& strcmp(r->disposition, "reject") != 0)
		       || (r->applied[0] == 'q'
			   && strcmp(r->disposition, "none") == 0))) {
		t = "local_policy";
		comment = "policy not enforced by the receiver";
	}
	if (t == NULL)
		return;
	fprintf(fp, "        <reason>\n          <type>%s</type>\n", t);
	if (comment != NULL)
		report_elem(fp, "          ", "comment", comment);
	fputs("        </reason>\n", fp);
}

/* report_dkim - one <dkim> per stored signature ("d=D;s=S;r=R ...") */
static void
report_dkim(FILE *fp, const char *list)
{
	char *copy = x_strdup(list), *sig, *save = NULL, *f, *fs;
	const char *d, *s, *res;
	int n = 0;

	for (sig = strtok_r(copy, " ", &save); sig != NULL && n < 100;
	     sig = strtok_r(NULL, " ", &save)) {
		d = s = res = "";
		for (f = strtok_r(sig, ";", &fs); f != NULL;
		     f = strtok_r(NULL, ";", &fs)) {
			if (strncmp(f, "d=", 2) == 0)
				d = f + 2;
			else if (strncmp(f, "s=", 2) == 0)
				s = f + 2;
			else if (strncmp(f, "r=", 2) == 0)
				res = f + 2;
		}
		if (*d == '\0')
			continue;
		fputs("      <dkim>\n", fp);
		report_elem(fp, "        ", "domain", d);
		report_elem(fp, "        ", "selector", s);
		report_elem(fp, "        ", "result",
			    report_word(res, report_dkim_words, "permerror"));
		fputs("      </dkim>\n", fp);
		n++;
	}
	free(copy);
}

/* report_xml_record - one <record> */
int
report_xml_record(const struct report_record *r, FILE *fp)
{
	fputs("  <record>\n    <row>\n", fp);
	report_elem(fp, "      ", "source_ip", r->source_ip);
	fprintf(fp, "      <count>%lld</count>\n", r->count);
	fputs("      <policy_evaluated>\n", fp);
	fprintf(fp, "        <disposition>%s</disposition>\n",
		strcmp(r->disposition, "reject") == 0 ? "reject"
		: strcmp(r->disposition, "quarantine") == 0 ? "quarantine"
		: "none");
	fprintf(fp, "        <dkim>%s</dkim>\n",
		r->dkim_aligned ? "pass" : "fail");
	fprintf(fp, "        <spf>%s</spf>\n",
		r->spf_aligned ? "pass" : "fail");
	report_reasons(fp, r);
	fputs("      </policy_evaluated>\n    </row>\n", fp);
	fputs("    <identifiers>\n", fp);
	report_elem(fp, "      ", "header_from", r->header_from);
	report_elem(fp, "      ", "envelope_from", r->envelope_from);
	fputs("    </identifiers>\n    <auth_results>\n", fp);
	report_dkim(fp, r->dkim);
	fputs("      <spf>\n", fp);
	report_elem(fp, "        ", "domain", r->spf_domain);
	if (strcmp(r->spf_scope, "helo") != 0)
		fputs("        <scope>mfrom</scope>\n", fp);
	report_elem(fp, "        ", "result",
		    report_word(r->spf_result, report_authres_words, "none"));
	fputs("      </spf>\n    </auth_results>\n  </record>\n", fp);
	return ferror(fp) ? -1 : 0;
}

/* report_xml_open - the report's head: metadata, published policy */
FILE *
report_xml_open(const struct report_meta *meta,
		const struct report_policy *pol, char **xml, size_t *xmllen,
		char *err, size_t errlen)
{
	FILE *fp;

	*xml = NULL;
	*xmllen = 0;
	if ((fp = open_memstream(xml, xmllen)) == NULL) {
		x_err(err, errlen, "open_memstream: %m");
		return NULL;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"
	      "  <version>1.0</version>\n  <report_metadata>\n", fp);
	report_elem(fp, "    ", "org_name", meta->org_name);
	report_elem(fp, "    ", "email", meta->email);
	report_elem(fp, "    ", "report_id", meta->report_id);
	fprintf(fp, "    <date_range>\n      <begin>%lld</begin>\n"
		"      <end>%lld</end>\n    </date_range>\n",
		(long long)meta->begin, (long long)meta->end);
	report_elem(fp, "    ", "generator", meta->generator);
	fputs("  </report_metadata>\n  <policy_published>\n", fp);
	report_elem(fp, "    ", "domain", pol->domain);
	fputs("    <discovery_method>psl</discovery_method>\n", fp);
	fprintf(fp, "    <p>%s</p>\n    <sp>%s</sp>\n", pol->p, pol->sp);
	fprintf(fp, "    <adkim>%s</adkim>\n    <aspf>%s</aspf>\n",
		pol->adkim, pol->aspf);
	fputs("  </policy_published>\n", fp);
	return fp;
}

/* report_xml_close - the end of the report; the stream is closed */
int
report_xml_close(FILE *fp)
{
	int bad;

	fputs("</feedback>\n", fp);
	bad = ferror(fp);
	return fclose(fp) != 0 || bad ? -1 : 0;
}

/* report_gzip - data as a gzip file (RFC 1952) named name */
int
report_gzip(const char *name, const char *data, size_t len, char **out,
	    size_t *outlen, char *err, size_t errlen)
{
	z_stream z;
	gz_header h;
	size_t cap;
	int rc;

	memset(&z, 0, sizeof(z));
	memset(&h, 0, sizeof(h));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		x_err(err, errlen, "zlib: deflateInit2 failed");
		return -1;
	}
	h.name = (Bytef *)name;
	h.os = 3;			/* Unix */
	(void)deflateSetHeader(&z, &h);
	cap = deflateBound(&z, len) + strlen(name) + 64;
	*out = x_malloc(cap);
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)*out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		x_err(err, errlen, "zlib: deflate failed (%d)", rc);
		x_free(out);
		return -1;
	}
	return 0;
}
