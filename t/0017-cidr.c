/*++
 * NAME
 *	0017-cidr 1
 * SUMMARY
 *	unit tests for lib/cidr
 * DESCRIPTION
 *	The edges of the one address and prefix code the daemons share
 *	(allow-lists, internal_networks, exempt_networks, policyd's
 *	per-prefix keys), on tables: prefixes /0, /32 and /128, an odd
 *	prefix inside a byte, host bits set, IPv4-mapped IPv6 addresses
 *	(from text and from a socket address), bad prefixes and addresses
 *	with their messages, the first matching net of a list, and masking.
 *	t/0013 has the allow-list's own cases (unix peers, getpeername).
 *--*/
#include "config.h"

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cidr.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Parsing: what is refused, and why (the allow-list's cases first,
 * from t/0013 when its parser was lib/listen's). */
static const struct {
	const char *s;
	const char *err;	/* NULL: good */
	int family;
	unsigned bits;
} parse_cases[] = {
	{ "127.0.0.1", NULL, AF_INET, 32 },
	{ "127.0.0.0/8", NULL, AF_INET, 8 },
	{ "0.0.0.0/0", NULL, AF_INET, 0 },
	{ "::1", NULL, AF_INET6, 128 },
	{ "2001:db8::/32", NULL, AF_INET6, 32 },
	{ "::/0", NULL, AF_INET6, 0 },
	{ "", "'': expected ADDRESS[/PREFIX]", 0, 0 },
	{ "/8", "'/8': expected ADDRESS[/PREFIX]", 0, 0 },
	{ "localhost", "'localhost': not an IPv4 or IPv6 address", 0, 0 },
	{ "10.0.0.0/33", "'10.0.0.0/33': bad prefix length (0-32)", 0, 0 },
	{ "10.0.0.0/", "'10.0.0.0/': bad prefix length (0-32)", 0, 0 },
	{ "10.0.0.0/8x", "'10.0.0.0/8x': bad prefix length (0-32)", 0, 0 },
	{ "10.0.0.0/-1", "'10.0.0.0/-1': bad prefix length (0-32)", 0, 0 },
	{ "::/129", "'::/129': bad prefix length (0-128)", 0, 0 },
	{ "::/99999999999", "'::/99999999999': bad prefix length (0-128)",
	  0, 0 },
	{ "10.0.0.1 ", "'10.0.0.1 ': not an IPv4 or IPv6 address", 0, 0 },
	{ "192.0.2.7/32", NULL, AF_INET, 32 },
	{ "192.0.2.7", NULL, AF_INET, 32 },
	{ "192.0.2.7/024", NULL, AF_INET, 24 },
	{ "2001:db8::1/128", NULL, AF_INET6, 128 },
	{ "::ffff:192.0.2.0/120", NULL, AF_INET6, 120 },
	{ "192.0.2.0/+24", "'192.0.2.0/+24': bad prefix length (0-32)", 0, 0 },
	{ "192.0.2.0/ 24", "'192.0.2.0/ 24': bad prefix length (0-32)", 0, 0 },
	{ "192.0.2.0/24/8", "'192.0.2.0/24/8': bad prefix length (0-32)",
	  0, 0 },
	{ "192.0.2.0/0x18", "'192.0.2.0/0x18': bad prefix length (0-32)",
	  0, 0 },
	{ "2001:db8::/4294967424",
	  "'2001:db8::/4294967424': bad prefix length (0-128)", 0, 0 },
	{ "192.0.2/24", "'192.0.2': not an IPv4 or IPv6 address", 0, 0 },
	{ "fe80::1%eth0", "'fe80::1%eth0': not an IPv4 or IPv6 address",
	  0, 0 },
	{ "[::1]/128", "'[::1]': not an IPv4 or IPv6 address", 0, 0 },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8",
	  "'0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8': expected "
	  "ADDRESS[/PREFIX]", 0, 0 },			/* too long */
	{ "192.0.2.001", "'192.0.2.001': not an IPv4 or IPv6 address", 0, 0 },
};

/* test_parse - the table above, and the CONF_CHECK_FUNC's answer */
static void
test_parse(void)
{
	struct cidr n;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < NELEM(parse_cases); i++) {
		err[0] = '\0';
		rc = cidr_parse(parse_cases[i].s, &n, err, sizeof(err));
		if (parse_cases[i].err == NULL) {
			is_int(rc, 0, "\"%s\" parses %s", parse_cases[i].s,
			       err);
			is_int(n.family, parse_cases[i].family,
			       "\"%s\": family", parse_cases[i].s);
			is_int((int)n.bits, (int)parse_cases[i].bits,
			       "\"%s\": prefix", parse_cases[i].s);
		} else {
			is_int(rc, -1, "\"%s\" refused", parse_cases[i].s);
			is_str(err, parse_cases[i].err, "\"%s\": message",
			       parse_cases[i].s);
		}
		is_int(cidr_check(parse_cases[i].s, err, sizeof(err)),
		       parse_cases[i].err == NULL ? 0 : -1,
		       "\"%s\": the configuration check agrees",
		       parse_cases[i].s);
	}
}

/* Matching an address in text against one net. */
static const struct {
	const char *net;
	const char *addr;
	int want;
} match_cases[] = {
	{ "0.0.0.0/0", "255.255.255.255", 1 },
	{ "0.0.0.0/0", "::1", 0 },			/* families apart */
	{ "0.0.0.0/0", "::ffff:198.51.100.1", 1 },	/* mapped: IPv4 */
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "192.0.2.1", 0 },
	{ "::/0", "::ffff:192.0.2.1", 0 },		/* mapped: not IPv6 */
	{ "::ffff:0:0/96", "::ffff:192.0.2.1", 0 },
	{ "192.0.2.7/32", "192.0.2.7", 1 },
	{ "192.0.2.7/32", "192.0.2.6", 0 },
	{ "192.0.2.7", "::ffff:192.0.2.7", 1 },
	{ "2001:db8::1/128", "2001:db8::1", 1 },
	{ "2001:db8::1/128", "2001:db8::", 0 },
	{ "2001:db8::1", "2001:DB8:0:0:0:0:0:1", 1 },
	{ "192.0.2.7/24", "192.0.2.200", 1 },		/* host bits set */
	{ "192.0.2.128/25", "192.0.2.127", 0 },	/* inside a byte */
	{ "192.0.2.128/25", "192.0.2.255", 1 },
	{ "2001:db8::/33", "2001:db8:7fff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "10.0.0.0/8", "10.0.0.1 ", 0 },		/* not an address */
	{ "10.0.0.0/8", "", 0 },
	{ "10.0.0.0/8", "unknown", 0 },
};

/* test_match - the table above, then NULL and a list */
static void
test_match(void)
{
	struct cidr n, list[3];
	unsigned char a[16];
	char err[256];
	size_t i;

	for (i = 0; i < NELEM(match_cases); i++) {
		if (cidr_parse(match_cases[i].net, &n, err, sizeof(err)) < 0)
			bail_out("%s: %s", match_cases[i].net, err);
		is_int(cidr_match_text(&n, 1, match_cases[i].addr),
		       match_cases[i].want, "'%s' in %s", match_cases[i].addr,
		       match_cases[i].net);
	}
	is_int(cidr_match_text(&n, 1, NULL), 0, "no address: no match");
	is_int(cidr_match_text(NULL, 0, "192.0.2.1"), 0,
	       "an empty list: no match");

	cidr_parse("2001:db8::/32", &list[0], err, sizeof(err));
	cidr_parse("192.0.2.0/24", &list[1], err, sizeof(err));
	cidr_parse("192.0.2.0/28", &list[2], err, sizeof(err));
	is_int(cidr_find(list, 3, cidr_addr_text("192.0.2.3", a), a), 1,
	       "the first net that holds the address is named");
	is_int(cidr_find(list, 3, cidr_addr_text("198.51.100.1", a), a), -1,
	       "none: -1");
	is_int(cidr_find(list, 3, cidr_addr_text("nonsense", a), a), -1,
	       "not an address: -1");
}

/* test_addr - addresses from text and from socket addresses */
static void
test_addr(void)
{
	static const unsigned char v4[4] = { 192, 0, 2, 1 };
	static const unsigned char zero[16];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr sa;
	unsigned char a[16];

	is_int(cidr_addr_text("::ffff:192.0.2.1", a), AF_INET,
	       "text: an IPv4-mapped address is IPv4");
	ok(memcmp(a, v4, 4) == 0 && memcmp(a + 4, zero, 12) == 0,
	   "text: its 4 bytes, the rest zero");
	is_int(cidr_addr_text("::192.0.2.1", a), AF_INET6,
	       "text: an IPv4-compatible address stays IPv6");
	is_int(cidr_addr_text("not-an-address", a), 0, "text: none: 0");
	ok(memcmp(a, zero, 16) == 0, "text: none: zeroed");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	is_int(cidr_addr_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), a),
	       AF_INET, "sockaddr: an IPv4-mapped address is IPv4");
	ok(memcmp(a, v4, 4) == 0, "sockaddr: its 4 bytes");
	is_int(cidr_addr_sockaddr((struct sockaddr *)&sin6,
				  sizeof(sin6) - 1, a), 0,
	       "sockaddr: a short IPv6 address: 0");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, v4, 4);
	is_int(cidr_addr_sockaddr((struct sockaddr *)&sin, sizeof(sin), a),
	       AF_INET, "sockaddr: IPv4");
	is_int(cidr_addr_sockaddr((struct sockaddr *)&sin, sizeof(sin) - 1,
				  a), 0, "sockaddr: a short IPv4 address: 0");
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	is_int(cidr_addr_sockaddr(&sa, sizeof(sa), a), 0,
	       "sockaddr: unix: 0");
	is_int(cidr_addr_sockaddr(NULL, 0, a), 0, "sockaddr: NULL: 0");
}

/* Masking: an address, a prefix, what is left. */
static const struct {
	const char *addr;
	unsigned bits;
	const char *want;
} mask_cases[] = {
	{ "192.0.2.77", 32, "192.0.2.77" },
	{ "192.0.2.77", 24, "192.0.2.0" },
	{ "192.0.2.200", 25, "192.0.2.128" },
	{ "192.0.2.77", 1, "128.0.0.0" },
	{ "192.0.2.77", 0, "0.0.0.0" },
	{ "192.0.2.77", 40, "192.0.2.77" },		/* past its length */
	{ "2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6" },
	{ "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::" },
	{ "2001:db8:1:2:3:4:5:7", 127, "2001:db8:1:2:3:4:5:6" },
	{ "2001:db8:1:2:3:4:5:6", 0, "::" },
	{ "::ffff:192.0.2.77", 24, "192.0.2.0" },	/* mapped: IPv4 */
};

/* test_mask - the table above */
static void
test_mask(void)
{
	unsigned char a[16];
	char out[INET6_ADDRSTRLEN];
	size_t i;
	int family;

	for (i = 0; i < NELEM(mask_cases); i++) {
		family = cidr_addr_text(mask_cases[i].addr, a);
		cidr_mask(a, family, mask_cases[i].bits);
		inet_ntop(family, a, out, sizeof(out));
		is_str(out, mask_cases[i].want, "%s masked to /%u",
		       mask_cases[i].addr, mask_cases[i].bits);
	}
}

int
main(void)
{
	plan_lazy();
	test_parse();
	test_match();
	test_addr();
	test_mask();
	done_testing();
	return exit_status();
}
