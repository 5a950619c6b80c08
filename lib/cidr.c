/*++
 * NAME
 *	cidr 3
 * SUMMARY
 *	IPv4 and IPv6 addresses and prefixes: parse, match, mask
 * DESCRIPTION
 *	See cidr.h.  One implementation for every address list and every
 *	address prefix of the daemons: a list that matched differently
 *	from another (a mapped address, a /0) would let a client through
 *	one door and not the next.
 *--*/
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cidr.h"
#include "xalloc.h"

/* cidr_parse - "ADDR" or "ADDR/PREFIX", IPv4 or IPv6 */
int
cidr_parse(const char *s, struct cidr *out, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/'), *p;
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits = 0;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr)) {
		x_err(err, errlen, "'%s': expected ADDRESS[/PREFIX]", s);
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		x_err(err, errlen, "'%s': not an IPv4 or IPv6 address", addr);
		return -1;
	}
	out->bits = max;
	if (slash == NULL)
		return 0;
	for (p = slash + 1; isdigit((unsigned char)*p) && bits <= max; p++)
		bits = bits * 10 + (unsigned)(*p - '0');
	if (p == slash + 1 || *p != '\0' || bits > max) {
		x_err(err, errlen, "'%s': bad prefix length (0-%u)", s, max);
		return -1;
	}
	out->bits = bits;
	return 0;
}

/* cidr_check - a CONF_CHECK_FUNC for one net */
int
cidr_check(const char *value, char *err, size_t errlen)
{
	struct cidr n;

	return cidr_parse(value, &n, err, errlen);
}

/* cidr_unmap - AF_INET for an IPv4-mapped IPv6 address (moved to the
 * front of addr), else AF_INET6 */
static int
cidr_unmap(unsigned char *addr)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (memcmp(addr, v4mapped, sizeof(v4mapped)) != 0)
		return AF_INET6;
	memmove(addr, addr + sizeof(v4mapped), 4);
	memset(addr + 4, 0, 12);
	return AF_INET;
}

/* cidr_addr_text - an address in text: its family, or 0 */
int
cidr_addr_text(const char *text, unsigned char *addr)
{
	memset(addr, 0, 16);
	if (text == NULL)
		return 0;
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return cidr_unmap(addr);
	memset(addr, 0, 16);
	return 0;
}

/* cidr_addr_sockaddr - a socket address: its family, or 0 */
int
cidr_addr_sockaddr(const struct sockaddr *sa, socklen_t salen,
		   unsigned char *addr)
{
	memset(addr, 0, 16);
	if (sa == NULL || salen < (socklen_t)sizeof(sa_family_t))
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		if (salen < (socklen_t)sizeof(struct sockaddr_in))
			return 0;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	case AF_INET6:
		if (salen < (socklen_t)sizeof(struct sockaddr_in6))
			return 0;
		memcpy(addr, ((const struct sockaddr_in6 *)sa)->sin6_addr
		       .s6_addr, 16);
		return cidr_unmap(addr);
	}
	return 0;
}

/* cidr_in - are the first bits of a and b the same? */
static int
cidr_in(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* cidr_find - the first net that holds the address, or -1 */
int
cidr_find(const struct cidr *nets, size_t n, int family,
	  const unsigned char *addr)
{
	size_t i;

	for (i = 0; family != 0 && i < n; i++)
		if (nets[i].family == family
		    && cidr_in(addr, nets[i].addr, nets[i].bits))
			return (int)i;
	return -1;
}

/* cidr_match_text - is the address (text) inside one of the nets? */
int
cidr_match_text(const struct cidr *nets, size_t n, const char *text)
{
	unsigned char a[16];

	return cidr_find(nets, n, cidr_addr_text(text, a), a) >= 0;
}

/* cidr_mask - keep the first bits of an address */
void
cidr_mask(unsigned char *addr, int family, unsigned bits)
{
	size_t i, len = family == AF_INET ? 4 : 16;

	for (i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		addr[i] &= (unsigned char)(0xff << (8 - bits));
		bits = 0;
	}
}
