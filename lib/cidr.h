/*++
 * NAME
 *	cidr 3h
 * SUMMARY
 *	IPv4 and IPv6 addresses and prefixes: parse, match, mask
 * SYNOPSIS
 *	#include "cidr.h"
 *
 *	struct cidr net;
 *	if (cidr_parse("192.0.2.0/24", &net, err, sizeof err) < 0)
 *		... err says what is wrong ...
 *	if (cidr_match_text(&net, 1, "192.0.2.7"))
 *		... inside ...
 *
 *	unsigned char a[16];
 *	int family = cidr_addr_text("::ffff:192.0.2.7", a);  AF_INET
 *	cidr_mask(a, family, 24);			   192.0.2.0
 * DESCRIPTION
 *	A net is "ADDR" or "ADDR/PREFIX", IPv4 or IPv6, as in the
 *	listeners' allow-lists (listen_allow), the milter's
 *	internal_networks and policyd's exempt_networks; a bare address is
 *	its own /32 or /128.  The prefix is 0-32 or 0-128, decimal digits
 *	only.  Bits past the prefix may be set ("192.0.2.7/24" is
 *	192.0.2.0/24).
 *
 *	An address is read from text or from a socket address; an
 *	IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address it
 *	is, so it matches IPv4 nets and is masked with an IPv4 prefix (and
 *	never matches a net written ::ffff:0:0/96).  Pure functions: no
 *	I/O, no logging; errors go into the caller's buffer.
 *--*/
#ifndef ELEMTA_CIDR_H
#define ELEMTA_CIDR_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];	/* network order; 4 bytes for AF_INET */
	unsigned bits;		/* prefix length */
};

/* cidr_parse - "ADDR" or "ADDR/PREFIX"; 0, or -1 with a message in err */
int cidr_parse(const char *s, struct cidr *out, char *err, size_t errlen);

/* cidr_check - a CONF_CHECK_FUNC for one net */
int cidr_check(const char *value, char *err, size_t errlen);

/* cidr_addr_text - an address in text into addr (16 bytes); its family
 * (AF_INET for an IPv4-mapped one, then 4 bytes), or 0 if it is none */
int cidr_addr_text(const char *text, unsigned char *addr);

/* cidr_addr_sockaddr - the same for an AF_INET or AF_INET6 socket
 * address; 0 for any other, or one shorter than its family's */
int cidr_addr_sockaddr(const struct sockaddr *sa, socklen_t salen,
		       unsigned char *addr);

/* cidr_find - the index of the first of n nets that holds the address
 * (of family, as cidr_addr_* fill it), or -1 */
int cidr_find(const struct cidr *nets, size_t n, int family,
	      const unsigned char *addr);

/* cidr_match_text - 1 if the address in text is inside one of the
 * nets, 0 if not or if it is no address */
int cidr_match_text(const struct cidr *nets, size_t n, const char *text);

/* cidr_mask - keep the first bits of an address of family (bits past
 * its length: all of it) */
void cidr_mask(unsigned char *addr, int family, unsigned bits);

#endif
