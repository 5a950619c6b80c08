/*++
 * NAME
 *	0430-milter-dmarc 1
 * SUMMARY
 *	unit tests for the pure parts of the DMARC stage
 * DESCRIPTION
 *	milter-dmarc-util.c: organisational domains with a small PSL
 *	(rules, wildcards, exceptions) and with Debian's real list when
 *	installed; strict and relaxed alignment; From parsing of one,
 *	several, grouped, commented, quoted, missing and broken
 *	addresses (the inputs of CVE-2021-34555 among them).
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "milter-dmarc.h"
#include "tap.h"

static const char psl_text[] =
	"// comment\n"
	"com\n"
	"uk\nco.uk\n"
	"jp\n*.kawasaki.jp\n!city.kawasaki.jp\n"
	"test\n"
	"  github.io   trailing words\n"
	"\n";

struct org_case {
	const char *in, *want;
};

static const struct org_case org_cases[] = {
	{ "example.com", "example.com" },
	{ "a.b.example.com", "example.com" },
	{ "EXAMPLE.Com.", "example.com" },
	{ "com", "com" },
	{ "www.example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },
	{ "x.y.kawasaki.jp", "x.y.kawasaki.jp" },
	{ "y.kawasaki.jp", "y.kawasaki.jp" },
	{ "a.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "user.github.io", "user.github.io" },
	{ "sub.example.test", "example.test" },
	{ "host.unlisted", "host.unlisted" },	/* default rule "*" */
	{ "a.host.unlisted", "host.unlisted" },
};

struct align_case {
	const char *a, *b;
	int strict, want;
};

static const struct align_case align_cases[] = {
	{ "example.com", "example.com", 1, 1 },
	{ "example.com", "EXAMPLE.COM", 1, 1 },
	{ "mail.example.com", "example.com", 1, 0 },
	{ "mail.example.com", "example.com", 0, 1 },
	{ "a.example.com", "b.example.com", 0, 1 },
	{ "example.com", "example.net", 0, 0 },
	{ "a.example.co.uk", "b.example.co.uk", 0, 1 },
	{ "example.co.uk", "other.co.uk", 0, 0 },
	{ "a.github.io", "b.github.io", 0, 0 },
	{ "", "example.com", 0, 0 },
};

struct from_case {
	const char *v1, *v2;		/* v2 NULL: one From field */
	int n;				/* number of fields (0..2) */
	enum dmarc_from_status want;
	const char *domain;
};

static const struct from_case from_cases[] = {
	{ " user@example.test", NULL, 1, DMARC_FROM_OK, "example.test" },
	{ " User <user@Example.TEST>", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " \"Doe, John\" <j@example.test>", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " j@example.test (Doe, John)", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " \"a@evil.test\" <j@example.test>", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " <@route.test,@r2.test:j@example.test>", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " a@example.test, b@EXAMPLE.test", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " a@example.test, b@other.test", NULL, 1, DMARC_FROM_MULTI,
	  "example.test" },
	{ " a@example.test", " b@other.test", 2, DMARC_FROM_MULTI,
	  "example.test" },
	{ " a@example.test", " a@example.test", 2, DMARC_FROM_OK,
	  "example.test" },
	{ " team: a@example.test, b@example.test;", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " undisclosed-recipients:;", NULL, 1, DMARC_FROM_NONE, "" },
	{ NULL, NULL, 0, DMARC_FROM_NONE, "" },
	{ " ", NULL, 1, DMARC_FROM_NONE, "" },
	{ " user", NULL, 1, DMARC_FROM_BAD, "" },
	{ " user@", NULL, 1, DMARC_FROM_BAD, "" },
	{ " user@[192.0.2.1]", NULL, 1, DMARC_FROM_BAD, "" },
	{ " <user@example.test", NULL, 1, DMARC_FROM_BAD, "" },
	{ " \"unterminated <u@example.test>", NULL, 1, DMARC_FROM_BAD, "" },
	{ " (unterminated u@example.test", NULL, 1, DMARC_FROM_BAD, "" },
	{ " u@exa mple.test", NULL, 1, DMARC_FROM_BAD, "" },
	{ " u@-bad.test", NULL, 1, DMARC_FROM_BAD, "" },
	{ " u@bad..test", NULL, 1, DMARC_FROM_BAD, "" },
	{ " a@example.test, junk", NULL, 1, DMARC_FROM_BAD, "" },
	/* the CVE-2021-34555 shape: an empty mailbox among others */
	{ " a@example.test,,b@example.test", NULL, 1, DMARC_FROM_OK,
	  "example.test" },
	{ " <>", NULL, 1, DMARC_FROM_BAD, "" },
	{ " \"\"@", NULL, 1, DMARC_FROM_BAD, "" },
};

/* The candidate domains: what a reader could take for the author's. */
struct cand_case {
	const char *v1, *v2;
	int n;
	const char *want;		/* space-separated, in order */
};

static const struct cand_case cand_cases[] = {
	{ " user@Example.test", NULL, 1, "example.test" },
	{ " a@example.test, b@other.test, c@example.test", NULL, 1,
	  "example.test other.test" },
	{ " a@example.test", " b@other.test", 2, "example.test other.test" },
	/* unreadable: every "@domain" of the raw text */
	{ " (unterminated u@example.test", NULL, 1, "example.test" },
	{ " \"PayPal <ceo@paypal.test>", NULL, 1, "paypal.test" },
	{ " <user@example.test", NULL, 1, "example.test" },
	{ " x@evil.test (see ceo@bank.test., <a@b", NULL, 1,
	  "evil.test bank.test" },
	{ " user", NULL, 1, "" },
	{ " u@-bad.test junk@ok.test.", NULL, 1, "ok.test" },
	{ " @@@ (", NULL, 1, "" },
	{ " a@d1.test, a@d2.test, a@d3.test, a@d4.test, a@d5.test, "
	  "a@d6.test, a@d7.test, a@d8.test, a@d9.test", NULL, 1,
	  "d1.test d2.test d3.test d4.test d5.test d6.test d7.test d8.test" },
};

/* cand_joined - f's candidates as one string */
static void
cand_joined(const struct dmarc_from *f, char *out, size_t len)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < f->ncand && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "",
				      f->cand[i]);
}

int
main(void)
{
	struct dmarc_psl *p = dmarc_psl_from_text(psl_text), *real;
	char joined[1024];
	struct dmarc_from f;
	const char *vals[2];
	char out[DMARC_DOMAIN_MAX], err[256], big[1200];
	size_t i;

	plan_lazy();
	is_int((long long)dmarc_psl_count(p), 8, "PSL: 8 rules read");
	for (i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++) {
		out[0] = '\0';
		dmarc_psl_orgdomain(p, org_cases[i].in, out, sizeof(out));
		is_str(out, org_cases[i].want, "orgdomain(%s)",
		       org_cases[i].in);
	}
	for (i = 0; i < sizeof(align_cases) / sizeof(align_cases[0]); i++)
		is_int(dmarc_aligned(p, align_cases[i].a, align_cases[i].b,
				     align_cases[i].strict),
		       align_cases[i].want, "%s %s %s", align_cases[i].a,
		       align_cases[i].strict ? "strict" : "relaxed",
		       align_cases[i].b);
	for (i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		vals[0] = from_cases[i].v1;
		vals[1] = from_cases[i].v2;
		dmarc_from_parse(vals, (size_t)from_cases[i].n, &f);
		is_int(f.status, from_cases[i].want, "From [%s]%s%s: status",
		       vals[0] ? vals[0] : "(none)", vals[1] ? " + " : "",
		       vals[1] ? vals[1] : "");
		if (from_cases[i].want == DMARC_FROM_OK
		    || from_cases[i].want == DMARC_FROM_MULTI)
			is_str(f.domain, from_cases[i].domain,
			       "From [%s]: domain", vals[0]);
	}
	for (i = 0; i < sizeof(cand_cases) / sizeof(cand_cases[0]); i++) {
		vals[0] = cand_cases[i].v1;
		vals[1] = cand_cases[i].v2;
		dmarc_from_parse(vals, (size_t)cand_cases[i].n, &f);
		cand_joined(&f, joined, sizeof(joined));
		is_str(joined, cand_cases[i].want, "From [%s]%s%s: candidates",
		       vals[0], vals[1] ? " + " : "", vals[1] ? vals[1] : "");
	}
	is_int((long long)f.ncand_lost, 1, "a ninth domain is counted lost");
	/* a From value longer than the address buffer: BAD, no overflow */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + sizeof(big) - 14, "@example.test", 13);
	vals[0] = big;
	dmarc_from_parse(vals, 1, &f);
	is_int(f.status, DMARC_FROM_BAD, "a 1200-byte address: bad");
	ok(dmarc_psl_load("/nonexistent/psl", err, sizeof(err)) == NULL,
	   "a missing PSL file is an error");
	like_str(err, "nonexistent", "... that names the file");

	real = dmarc_psl_load("/usr/share/publicsuffix/public_suffix_list.dat",
			      err, sizeof(err));
	if (real == NULL) {
		missing(3, "Debian's publicsuffix not installed");
	} else {
		dmarc_psl_orgdomain(real, "a.b.example.co.uk", out,
				    sizeof(out));
		is_str(out, "example.co.uk", "real PSL: co.uk");
		dmarc_psl_orgdomain(real, "x.user.github.io", out,
				    sizeof(out));
		is_str(out, "user.github.io", "real PSL: private github.io");
		ok(dmarc_aligned(real, "mail.example.com", "example.com", 0),
		   "real PSL: relaxed alignment");
		dmarc_psl_free(&real);
	}
	dmarc_psl_free(&p);
	done_testing();
	return exit_status();
}
