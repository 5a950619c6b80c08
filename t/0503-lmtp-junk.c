/*++
 * NAME
 *	0503-lmtp-junk 1
 * SUMMARY
 *	unit test of spam to Junk (lmtp-bridge/lmtp-junk.c) and of backend
 *	address lists (lmtp_options_backend_check)
 * DESCRIPTION
 *	Tables: header sections with the rule that must match (or none),
 *	addresses with their Junk form, backend specs accepted or refused.
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "xalloc.h"
#include "../lmtp-bridge/lmtp-options.h"
#include "../lmtp-bridge/lmtp-junk.h"

static char *rules[] = { "X-Spam: Yes", "X-Spam-Flag: YES" };

static const struct {
	const char *name;
	const char *head;
	int want;
} match_cases[] = {
	{ "rspamd flag", "From: a@b\r\nX-Spam-Flag: YES\r\n\r\nbody", 1 },
	{ "case-insensitive name and value", "x-spam: yes\r\n\r\n", 0 },
	{ "value with more after a comma", "X-Spam: Yes, score=7.1\r\n\r\n", 0 },
	{ "value with more after a space", "X-Spam: Yes score=7\n\n", 0 },
	{ "folded value", "X-Spam:\r\n Yes\r\nSubject: s\r\n\r\n", 0 },
	{ "LF line ends", "Subject: x\nX-Spam-Flag: YES\n\nbody", 1 },
	{ "no: another word", "X-Spam: Yesterday\r\n\r\n", -1 },
	{ "no: the value No", "X-Spam: No\r\n\r\n", -1 },
	{ "no: in the body", "Subject: s\r\n\r\nX-Spam: Yes\r\n", -1 },
	{ "no: a longer header name", "X-Spam-Status: Yes\r\n\r\n", -1 },
	{ "the topmost field counts", "X-Spam: No\r\nX-Spam: Yes\r\n\r\n", -1 },
	{ "no header section end", "X-Spam-Flag: YES", 1 },
	{ "empty", "", -1 },
	{ "a name alone", "X-Spam\r\n\r\n", -1 },
};

static const struct {
	const char *addr, *want;
} addr_cases[] = {
	{ "alice@example.test", "alice+Junk@example.test" },
	{ "alice+work@example.test", "alice+Junk@example.test" },
	{ "+x@example.test", "+x+Junk@example.test" },
	{ "postmaster", "postmaster+Junk" },
};

static const struct {
	const char *spec;
	int ok;
} backend_cases[] = {
	{ "inet:127.0.0.1:24", 1 },
	{ "inet:10.0.0.1:24;inet:10.0.0.2:24", 1 },
	{ "unix:/run/dovecot/lmtp;inet:10.0.0.2:24", 1 },
	{ "inet:10.0.0.1:24;inet::24", 0 },
	{ "inet:10.0.0.1:24;bogus", 0 },
	{ ";", 0 },
	{ "", 0 },
	{ "inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;"
	  "inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;inet:a:1;"
	  "inet:a:1;inet:a:1;inet:a:1", 0 },
};

/* main - run the tables */
int
main(void)
{
	char err[256], *s;
	size_t i;

	plan_lazy();
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++)
		is_int(lmtp_junk_match(rules, 2, match_cases[i].head,
				       strlen(match_cases[i].head)),
		       match_cases[i].want, "match: %s", match_cases[i].name);
	is_int(lmtp_junk_match(rules, 0, "X-Spam: Yes\r\n\r\n", 15), -1,
	       "match: no rules, no verdict");
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		s = lmtp_junk_address(addr_cases[i].addr, '+', "Junk");
		is_str(s, addr_cases[i].want, "address: %s", addr_cases[i].addr);
		x_free(&s);
	}
	for (i = 0; i < sizeof(backend_cases) / sizeof(backend_cases[0]); i++) {
		err[0] = '\0';
		is_int(lmtp_options_backend_check(backend_cases[i].spec, err,
						  sizeof(err)) == 0,
		       backend_cases[i].ok, "backend '%.40s'%s%s",
		       backend_cases[i].spec, err[0] ? ": " : "", err);
	}
	done_testing();
	return exit_status();
}
