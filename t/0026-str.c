/*++
 * NAME
 *	0026-str 1
 * SUMMARY
 *	unit tests for lib/str
 * DESCRIPTION
 *	The one lower-casing of names the daemons share: in place, as a
 *	copy, and as a domain (a final dot dropped, only one); ASCII only,
 *	so UTF-8 bytes and \xNN escapes pass unchanged.  Into a fixed
 *	buffer (str_lower_buf): what fits is copied whole, what does not is
 *	an error and an empty buffer, never a truncated name.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	const char *in;
	const char *lower;	/* str_lower, str_lower_dup */
	const char *domain;	/* str_domain_dup */
} cases[] = {
	{ "empty", "", "", "" },
	{ "lower already", "example.test", "example.test", "example.test" },
	{ "mixed case", "Alice@Example.TEST", "alice@example.test",
	  "alice@example.test" },
	{ "final dot", "Example.COM.", "example.com.", "example.com" },
	{ "only a dot", ".", ".", "" },
	{ "two final dots", "a..", "a..", "a." },
	{ "inner dot kept", "A.B", "a.b", "a.b" },
	{ "edges of A-Z", "@AZ[`az{", "@az[`az{", "@az[`az{" },
	{ "digits, hyphen", "MX-1.Example", "mx-1.example", "mx-1.example" },
	{ "UTF-8 kept", "\xc3\x89T\xc3\x89", "\xc3\x89t\xc3\x89",
	  "\xc3\x89t\xc3\x89" },
	{ "escape kept", "A\\x0aB", "a\\x0ab", "a\\x0ab" },
	{ "high bytes kept", "\xc0\xde\xff", "\xc0\xde\xff", "\xc0\xde\xff" },
};

static const struct {
	const char *name;
	const char *in;
	size_t outlen;
	int rc;			/* the length, or -1 */
	const char *want;	/* out afterwards */
} buf_cases[] = {
	{ "fits with room", "Bob@Example.TEST", 32, 16, "bob@example.test" },
	{ "fits exactly", "Bob@X.T", 8, 7, "bob@x.t" },
	{ "one byte short", "Bob@X.TE", 8, -1, "" },
	{ "far too long", "AVeryVeryLongRecipient@Example.TEST", 8, -1, "" },
	{ "empty", "", 1, 0, "" },
	{ "UTF-8 kept", "\xc3\x89T", 4, 3, "\xc3\x89t" },
};

/* test_buf - str_lower_buf: whole or nothing */
static void
test_buf(void)
{
	char out[64];
	size_t i;
	int rc;

	for (i = 0; i < NELEM(buf_cases); i++) {
		memset(out, 'x', sizeof(out));
		rc = str_lower_buf(out, buf_cases[i].outlen, buf_cases[i].in);
		if (!ok(rc == buf_cases[i].rc, "%s: str_lower_buf returns %d",
			buf_cases[i].name, buf_cases[i].rc))
			diag("got %d", rc);
		is_str(out, buf_cases[i].want, "%s: str_lower_buf's out",
		       buf_cases[i].name);
		ok(out[buf_cases[i].outlen] == 'x',
		   "%s: nothing written past outlen", buf_cases[i].name);
	}
	out[0] = 'x';
	ok(str_lower_buf(out, 0, "a") == -1 && out[0] == 'x',
	   "outlen 0: -1, nothing written");
}

int
main(void)
{
	char buf[64], *got;
	size_t i;

	plan((int)(NELEM(cases) * 4 + NELEM(buf_cases) * 3 + 1));
	test_buf();
	for (i = 0; i < NELEM(cases); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		ok(str_lower(buf) == buf, "%s: str_lower returns its argument",
		   cases[i].name);
		is_str(buf, cases[i].lower, "%s: str_lower", cases[i].name);
		got = str_lower_dup(cases[i].in);
		is_str(got, cases[i].lower, "%s: str_lower_dup",
		       cases[i].name);
		free(got);
		got = str_domain_dup(cases[i].in);
		is_str(got, cases[i].domain, "%s: str_domain_dup",
		       cases[i].name);
		free(got);
	}
	return exit_status();
}
