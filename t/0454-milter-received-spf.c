/*++
 * NAME
 *	0454-milter-received-spf 1
 * SUMMARY
 *	unit tests for milter_spf_received() (milter/milter-spf.c)
 * DESCRIPTION
 *	A table of SPF outcomes, each rendered as a Received-SPF value
 *	(RFC 7208 9.1) and compared whole with the expected one: every
 *	result's comment, the HELO identity, no HELO, an IPv6 client
 *	(quoted: not a dot-atom), a sender and a HELO that need quoting,
 *	parentheses in a comment, and control or 8-bit bytes, which must
 *	never reach the header.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "tap.h"

struct rcase {
	const char *name;
	const char *result, *ip, *ident, *helo, *identity;
	const char *want;
};

#define KV "\n\tclient-ip="

static const struct rcase rcases[] = {
	{ "pass", "pass", "192.0.2.1", "u@example.test", "mx.example.test",
	  "mailfrom",
	  "pass (mx.test: domain of u@example.test designates 192.0.2.1 as "
	  "permitted sender)" KV "192.0.2.1; envelope-from=\"u@example.test\";"
	  " helo=mx.example.test; receiver=mx.test; identity=mailfrom;" },
	{ "fail", "fail", "192.0.2.10", "u@example.test", "h.test",
	  "mailfrom",
	  "fail (mx.test: domain of u@example.test does not designate "
	  "192.0.2.10 as permitted sender)" KV "192.0.2.10; envelope-from="
	  "\"u@example.test\"; helo=h.test; receiver=mx.test; "
	  "identity=mailfrom;" },
	{ "softfail", "softfail", "198.51.100.7", "u@other.test", "h.test",
	  "mailfrom",
	  "softfail (mx.test: domain of transitioning u@other.test does not "
	  "designate 198.51.100.7 as permitted sender)" KV "198.51.100.7; "
	  "envelope-from=\"u@other.test\"; helo=h.test; receiver=mx.test; "
	  "identity=mailfrom;" },
	{ "neutral", "neutral", "192.0.2.5", "u@n.test", "h.test", "mailfrom",
	  "neutral (mx.test: 192.0.2.5 is neither permitted nor denied by "
	  "domain of u@n.test)" KV "192.0.2.5; envelope-from=\"u@n.test\"; "
	  "helo=h.test; receiver=mx.test; identity=mailfrom;" },
	{ "none, HELO identity", "none", "192.0.2.5", "postmaster@h.test",
	  "h.test", "helo",
	  "none (mx.test: domain of postmaster@h.test does not designate "
	  "permitted sender hosts)" KV "192.0.2.5; envelope-from="
	  "\"postmaster@h.test\"; helo=h.test; receiver=mx.test; "
	  "identity=helo;" },
	{ "temperror, no HELO", "temperror", "192.0.2.5", "u@gone.test", NULL,
	  "mailfrom",
	  "temperror (mx.test: temporary error in processing during lookup "
	  "of u@gone.test)" KV "192.0.2.5; envelope-from=\"u@gone.test\"; "
	  "receiver=mx.test; identity=mailfrom;" },
	{ "permerror, IPv6 quoted", "permerror", "2001:db8::1", "u@p.test",
	  "h.test", "mailfrom",
	  "permerror (mx.test: permanent error in processing domain of "
	  "u@p.test)" KV "\"2001:db8::1\"; envelope-from=\"u@p.test\"; "
	  "helo=h.test; receiver=mx.test; identity=mailfrom;" },
	{ "quotes, parentheses, HELO literal", "pass", "192.0.2.1",
	  "\"a b\\\"(x)\"@q.test", "[192.0.2.1]", "mailfrom",
	  "pass (mx.test: domain of \"a b\\\\\"\\(x\\)\"@q.test designates "
	  "192.0.2.1 as permitted sender)" KV "192.0.2.1; envelope-from="
	  "\"\\\"a b\\\\\\\"(x)\\\"@q.test\"; helo=\"[192.0.2.1]\"; "
	  "receiver=mx.test; identity=mailfrom;" },
	{ "control and 8-bit bytes", "fail", "192.0.2.1",
	  "u\r\nX-Evil: 1@\xc3\xa9.test", "h\n.test", "mailfrom",
	  "fail (mx.test: domain of u??X-Evil: 1@??.test does not designate "
	  "192.0.2.1 as permitted sender)" KV "192.0.2.1; envelope-from="
	  "\"u??X-Evil: 1@??.test\"; helo=\"h?.test\"; receiver=mx.test; "
	  "identity=mailfrom;" },
};

int
main(void)
{
	size_t i;
	char *got;

	plan((int)(sizeof(rcases) / sizeof(rcases[0])));
	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];

		got = milter_spf_received(c->result, "mx.test", c->ip,
					  c->ident, c->helo, c->identity);
		is_str(got, c->want, "%s", c->name);
		free(got);
	}
	return exit_status();
}
