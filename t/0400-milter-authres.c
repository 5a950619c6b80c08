/*++
 * NAME
 *	0400-milter-authres 1
 * SUMMARY
 *	unit tests for milter/milter-authres.c
 * DESCRIPTION
 *	Parsing: a table of real-world Authentication-Results values (Gmail,
 *	Microsoft with and without authserv-id, Yahoo, Fastmail, OpenDKIM,
 *	the RFC 8601 examples) and broken ones, each rendered into one
 *	canonical line compared with the expected one.  Formatting: our
 *	header for typical results, values that need quoting, CR/LF
 *	injection, comments, then a format -> parse round trip, and
 *	authres_id_is() on a table.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-authres.h"
#include "tap.h"
#include "xalloc.h"

struct pcase {
	const char *name;
	const char *in;
	const char *want;	/* canonical rendering; NULL: unparseable */
};

static const struct pcase pcases[] = {
	{ "Gmail",
	  "mx.google.com;\r\n       dkim=pass header.i=@example.com "
	  "header.s=20230601 header.b=AbCdEfGh;\r\n       spf=pass "
	  "(google.com: domain of user@example.com designates 209.85.220.41 "
	  "as permitted sender) smtp.mailfrom=user@example.com;\r\n"
	  "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com",
	  "id=mx.google.com v=0 | dkim=pass header.i=@example.com "
	  "header.s=20230601 header.b=AbCdEfGh | spf=pass (google.com: domain "
	  "of user@example.com designates 209.85.220.41 as permitted sender) "
	  "smtp.mailfrom=user@example.com | dmarc=pass (p=NONE sp=NONE "
	  "dis=NONE) header.from=example.com" },
	{ "Microsoft, no authserv-id",
	  "spf=pass (sender IP is 40.107.22.1) smtp.mailfrom=example.com; "
	  "dkim=pass (signature was verified) header.d=example.com;"
	  "dmarc=pass action=none header.from=example.com;compauth=pass "
	  "reason=100",
	  "id=(none) v=0 | spf=pass (sender IP is 40.107.22.1) "
	  "smtp.mailfrom=example.com | dkim=pass (signature was verified) "
	  "header.d=example.com | dmarc=pass .action=none "
	  "header.from=example.com | compauth=pass reason=100" },
	{ "Microsoft, version token",
	  "mx.microsoft.com 1; spf=pass smtp.mailfrom=example.com; "
	  "dmarc=pass action=none header.from=example.com; dkim=pass "
	  "header.d=example.com; arc=none",
	  "id=mx.microsoft.com v=1 | spf=pass smtp.mailfrom=example.com | "
	  "dmarc=pass .action=none header.from=example.com | dkim=pass "
	  "header.d=example.com | arc=none" },
	{ "Yahoo, comment glued to the result",
	  "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com; dkim=pass "
	  "header.i=@gmail.com header.s=20230601; spf=pass "
	  "smtp.mailfrom=gmail.com; dmarc=pass(p=NONE,sp=QUARANTINE) "
	  "header.from=gmail.com;",
	  "id=atlas-production.v2-mail-prod1-gq1.omega.yahoo.com v=0 | "
	  "dkim=pass header.i=@gmail.com header.s=20230601 | spf=pass "
	  "smtp.mailfrom=gmail.com | dmarc=pass (p=NONE,sp=QUARANTINE) "
	  "header.from=gmail.com" },
	{ "Fastmail, x- methods and x- properties",
	  "mx6.messagingengine.com; arc=none (no signatures found); "
	  "dkim=pass (2048-bit rsa key sha256) header.d=example.com "
	  "header.b=XxYyZz header.a=rsa-sha256 header.s=fm1 x-bits=2048; "
	  "iprev=pass smtp.remote-ip=192.0.2.4 (mail.example.com); "
	  "x-aligned-from=pass (Address match)",
	  "id=mx6.messagingengine.com v=0 | arc=none (no signatures found) | "
	  "dkim=pass (2048-bit rsa key sha256) header.d=example.com "
	  "header.b=XxYyZz header.a=rsa-sha256 header.s=fm1 .x-bits=2048 | "
	  "iprev=pass smtp.remote-ip=192.0.2.4 | x-aligned-from=pass "
	  "(Address match)" },
	{ "OpenDKIM, folded with a tab",
	  " mx.example.net;\n\tdkim=pass (2048-bit key; unprotected) "
	  "header.d=example.com header.i=@example.com header.a=rsa-sha256 "
	  "header.s=sel1 header.b=Ab+/12=x",
	  "id=mx.example.net v=0 | dkim=pass (2048-bit key; unprotected) "
	  "header.d=example.com header.i=@example.com header.a=rsa-sha256 "
	  "header.s=sel1 header.b=Ab+/12=x" },
	{ "RFC 8601 B.2: none", "example.org 1; none",
	  "id=example.org v=1 none | " },
	{ "RFC 8601 B.4: auth and spf",
	  "example.com;\n  auth=pass (cram-md5) smtp.auth=sender@example.net;"
	  "\n  spf=pass smtp.mailfrom=example.net",
	  "id=example.com v=0 | auth=pass (cram-md5) "
	  "smtp.auth=sender@example.net | spf=pass smtp.mailfrom=example.net" },
	{ "RFC 8601 B.6: reason as quoted-string",
	  "example.com; dkim=pass reason=\"good signature\" "
	  "header.i=@mail-router.example.net; dkim=fail "
	  "reason=\"bad signature\" header.i=@newyork.example.com",
	  "id=example.com v=0 | dkim=pass reason=good signature "
	  "header.i=@mail-router.example.net | dkim=fail reason=bad signature "
	  "header.i=@newyork.example.com" },
	{ "quoted authserv-id",
	  "\"mx example\"; spf=none",
	  "id=mx example v=0 | spf=none" },
	{ "comments everywhere",
	  "mx.example.org (c1) ; (c2) spf (c3) = (c4) pass (c5) smtp.mailfrom "
	  "(c6) = (c7) a@b (c8)",
	  "id=mx.example.org v=0 | spf=pass (c5) smtp.mailfrom=a@b" },
	{ "nested comment with escapes",
	  "mx; spf=pass (a (b \\) c) d) smtp.mailfrom=a@b",
	  "id=mx v=0 | spf=pass (a (b ) c) d) smtp.mailfrom=a@b" },
	{ "missing ';' between resinfo",
	  "mx.example.org; spf=pass smtp.mailfrom=a@b dkim=fail header.d=b",
	  "id=mx.example.org v=0 | spf=pass smtp.mailfrom=a@b | dkim=fail "
	  "header.d=b" },
	{ "method version",
	  "mx.example.org; dkim/1=pass header.d=x",
	  "id=mx.example.org v=0 | dkim/1=pass header.d=x" },
	{ "quoted local-part",
	  "mx; spf=pass smtp.mailfrom=\"j d\"@example.com",
	  "id=mx v=0 | spf=pass smtp.mailfrom=\"j d\"@example.com" },
	{ "quoted value with escaped quotes",
	  "mx; dkim=fail reason=\"a \\\"b\\\" c\" header.d=x",
	  "id=mx v=0 | dkim=fail reason=a \"b\" c header.d=x" },
	{ "unterminated quoted-string",
	  "mx; spf=pass smtp.mailfrom=\"a@b",
	  "id=mx v=0 | spf=pass smtp.mailfrom=a@b" },
	{ "unterminated comment",
	  "mx; spf=pass (never closed smtp.mailfrom=a@b",
	  "id=mx v=0 | spf=pass (never closed smtp.mailfrom=a@b)" },
	{ "resinfo without result is skipped",
	  "mx; spf= ; dkim=pass header.d=x",
	  "id=mx v=0 | dkim=pass header.d=x" },
	{ "junk resinfo is skipped",
	  "mx; ===; spf=pass",
	  "id=mx v=0 | spf=pass" },
	{ "property without '=' ends the resinfo",
	  "mx; spf=pass smtp.mailfrom a@b; dkim=none",
	  "id=mx v=0 | spf=pass | dkim=none" },
	{ "authserv-id only", "mx.example.org", "id=mx.example.org v=0 | " },
	{ "empty", "", NULL },
	{ "only separators", " ; ;; ", NULL },
	{ "only a comment", "(((", NULL },
};

/* render - one line for a parsed header */
static char *
render(const struct authres *ar)
{
	char *out, *tmp;
	size_t i, j;

	out = x_asprintf("id=%s v=%d%s |", ar->authserv_id ? ar->authserv_id
		       : "(none)", ar->version, ar->none ? " none" : "");
	for (i = 0; i < ar->nresults; i++) {
		const struct authres_result *r = &ar->results[i];
		char ver[16] = "";

		if (r->version)
			snprintf(ver, sizeof(ver), "/%d", r->version);
		tmp = x_asprintf("%s%s %s%s=%s%s%s%s%s%s", out,
				 i ? " |" : "", r->method, ver, r->result,
				 r->comment ? " (" : "",
				 r->comment ? r->comment : "",
				 r->comment ? ")" : "",
				 r->reason ? " reason=" : "",
				 r->reason ? r->reason : "");
		free(out);
		out = tmp;
		for (j = 0; j < r->nprops; j++) {
			tmp = x_asprintf("%s %s.%s=%s", out, r->props[j].ptype,
					 r->props[j].property,
					 r->props[j].value);
			free(out);
			out = tmp;
		}
	}
	if (ar->nresults == 0) {
		tmp = x_asprintf("%s ", out);
		free(out);
		out = tmp;
	}
	return out;
}

/* test_parse - the table */
static void
test_parse(void)
{
	struct authres *ar;
	char *got;
	size_t i;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		ar = authres_parse(pcases[i].in);
		if (pcases[i].want == NULL) {
			ok(ar == NULL, "parse %s: unparseable", pcases[i].name);
			authres_free(&ar);
			continue;
		}
		if (!ok(ar != NULL, "parse %s: parsed", pcases[i].name)) {
			ok(0, "parse %s: content", pcases[i].name);
			continue;
		}
		got = render(ar);
		is_str(got, pcases[i].want, "parse %s: content",
		       pcases[i].name);
		free(got);
		authres_free(&ar);
	}
}

/* test_caps - more results and properties than kept */
static void
test_caps(void)
{
	struct authres *ar;
	char *s = x_strdup("mx"), *tmp;
	int i;

	for (i = 0; i < AUTHRES_MAX_RESULTS + 10; i++) {
		tmp = x_asprintf("%s; spf=pass smtp.mailfrom=a%d@b", s, i);
		free(s);
		s = tmp;
	}
	tmp = x_asprintf("%s; dkim=pass", s);
	free(s);
	s = tmp;
	for (i = 0; i < AUTHRES_MAX_PROPS + 10; i++) {
		tmp = x_asprintf("%s header.p%d=v", s, i);
		free(s);
		s = tmp;
	}
	ar = authres_parse(s);
	ok(ar != NULL, "caps: parsed");
	if (ar != NULL) {
		is_int((long long)ar->nresults, AUTHRES_MAX_RESULTS,
		       "caps: results capped");
		is_str(ar->results[AUTHRES_MAX_RESULTS - 1].props[0].value,
		       "a63@b", "caps: last kept result");
	}
	authres_free(&ar);
	free(s);

	tmp = x_strdup("mx; dkim=pass");
	for (i = 0; i < AUTHRES_MAX_PROPS + 10; i++) {
		s = x_asprintf("%s header.p%d=v", tmp, i);
		free(tmp);
		tmp = s;
	}
	ar = authres_parse(tmp);
	is_int(ar ? (long long)ar->results[0].nprops : -1, AUTHRES_MAX_PROPS,
	       "caps: properties capped");
	authres_free(&ar);
	free(tmp);
}

/* test_format - our header */
static void
test_format(void)
{
	struct authres_result r[3];
	struct authres *ar;
	char *v, *got;

	v = authres_format("mx.example.net", NULL, 0);
	is_str(v, "mx.example.net; none", "format: no results");
	free(v);

	memset(r, 0, sizeof(r));
	r[0].method = "spf";
	r[0].result = "pass";
	authres_prop_add(&r[0], "smtp", "mailfrom", "user@example.test");
	v = authres_format("mx.example.net", r, 1);
	is_str(v, "mx.example.net;\n\tspf=pass smtp.mailfrom=user@example.test",
	       "format: spf pass");
	free(v);
	authres_result_clear(&r[0]);

	r[0].method = "spf";
	r[0].result = "fail";
	authres_prop_add(&r[0], "smtp", "mailfrom", "\"john doe\"@example.com");
	r[1].method = "dmarc";
	r[1].result = "pass";
	authres_set_comment(&r[1], "p=REJECT (x) \\");
	authres_prop_add(&r[1], "header", "from", "example.com");
	r[2].method = "dkim";
	r[2].result = "neutral";
	authres_set_reason(&r[2], "bad\r\nX-Evil: 1");
	authres_prop_add(&r[2], "header", "b", "Ab+/12=x");
	v = authres_format("mx example", r, 3);
	is_str(v, "\"mx example\";\n"
	       "\tspf=fail smtp.mailfrom=\"\\\"john doe\\\"@example.com\";\n"
	       "\tdmarc=pass (p=REJECT \\(x\\) \\\\) header.from=example.com;\n"
	       "\tdkim=neutral reason=\"badX-Evil: 1\" header.b=\"Ab+/12=x\"",
	       "format: quoting, comment escapes, no CR/LF injection");
	ok(strchr(v, '\r') == NULL, "format: no CR anywhere");

	ar = authres_parse(v);
	got = ar ? render(ar) : x_strdup("(null)");
	is_str(got, "id=mx example v=0 | spf=fail "
	       "smtp.mailfrom=\"john doe\"@example.com | dmarc=pass "
	       "(p=REJECT (x) \\) header.from=example.com | dkim=neutral "
	       "reason=badX-Evil: 1 header.b=Ab+/12=x",
	       "format -> parse round trip");
	free(got);
	authres_free(&ar);
	free(v);
	authres_result_clear(&r[0]);
	authres_result_clear(&r[1]);
	authres_result_clear(&r[2]);

	v = authres_format("", NULL, 0);
	is_str(v, "localhost; none", "format: empty authserv-id");
	free(v);
}

struct idcase {
	const char *value;
	const char *id;
	int want;
};

static const struct idcase idcases[] = {
	{ "mx.example.net; spf=pass", "mx.example.net", 1 },
	{ " MX.Example.NET ;spf=pass", "mx.example.net", 1 },
	{ "\"mx.example.net\" 1; none", "mx.example.net", 1 },
	{ "mx.example.net (forged) ; dkim=pass", "mx.example.net", 1 },
	{ "mx.example.net.evil; spf=pass", "mx.example.net", 0 },
	{ "evil.mx.example.net; spf=pass", "mx.example.net", 0 },
	{ "spf=pass smtp.mailfrom=mx.example.net", "mx.example.net", 0 },
	{ "mx.example.net=pass", "mx.example.net", 0 },
	{ "", "mx.example.net", 0 },
};

/* test_id - authres_id_is */
static void
test_id(void)
{
	size_t i;

	for (i = 0; i < sizeof(idcases) / sizeof(idcases[0]); i++)
		is_int(authres_id_is(idcases[i].value, idcases[i].id),
		       idcases[i].want, "id_is '%s' %s", idcases[i].value,
		       idcases[i].id);
}

int
main(void)
{
	plan_lazy();
	test_parse();
	test_caps();
	test_format();
	test_id();
	done_testing();
	return exit_status();
}
