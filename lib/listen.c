/*++
 * NAME
 *	listen 3
 * SUMMARY
 *	listener specs: parse them, format them, check their peers
 * DESCRIPTION
 *	See listen.h.  listen_parse() is strict: a spec that is not
 *	exactly one of the documented spellings is refused with a message
 *	that quotes it and says what is wrong, because a listener that
 *	silently binds somewhere else than the administrator meant is
 *	worse than a daemon that does not start.
 *
 *	Opening the sockets a spec names is in listen-open.c.
 *--*/
#include "config.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cidr.h"
#include "listen.h"
#include "xalloc.h"

#define LISTEN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* listen_parse_port - a port number or service name; 0 or -1 */
static int
listen_parse_port(const char *spec, const char *s, size_t n, unsigned *port,
		  char *err, size_t errlen)
{
	struct servent se, *res = NULL;
	char name[64], buf[1024];
	unsigned long v = 0;
	size_t i;

	if (n == 0) {
		x_err(err, errlen, "bad listener \"%s\": missing port", spec);
		return -1;
	}
	for (i = 0; i < n && isdigit((unsigned char)s[i]); i++)
		if (v <= 65535)
			v = v * 10 + (unsigned long)(s[i] - '0');
	if (i == n) {
		if (v < 1 || v > 65535) {
			x_err(err, errlen, "bad listener \"%s\": port out of "
			      "range (1-65535)", spec);
			return -1;
		}
		*port = (unsigned)v;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-'
		    && s[i] != '_')
			break;
	if (i < n || n >= sizeof(name)) {
		x_err(err, errlen, "bad listener \"%s\": bad port \"%.*s\"",
		      spec, (int)n, s);
		return -1;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	if (getservbyname_r(name, "tcp", &se, buf, sizeof(buf), &res) != 0
	    || res == NULL) {
		x_err(err, errlen, "bad listener \"%s\": unknown service "
		      "\"%s\"", spec, name);
		return -1;
	}
	*port = ntohs((uint16_t)res->s_port);
	return 0;
}

/* listen_is_hostname - letters, digits, '-', '_' and '.' only */
static int
listen_is_hostname(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-'
		    && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* listen_looks_ipv4 - only digits and dots: meant as an IPv4 literal */
static int
listen_looks_ipv4(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return n > 0;
}

/* listen_check_host - host (n bytes) fits the family: an address of
 * its own (not the other family's) or a host name; 0 or -1 with err */
static int
listen_check_host(const char *spec, enum listen_family family,
		  const char *host, size_t n, char *err, size_t errlen)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (family == LISTEN_INET6) {
		if (strchr(host, ':') != NULL) {
			if (inet_pton(AF_INET6, host, addr) != 1) {
				x_err(err, errlen, "bad listener \"%s\": bad "
				      "IPv6 address \"%s\"", spec, host);
				return -1;
			}
		} else if (listen_looks_ipv4(host, n)) {
			x_err(err, errlen, "bad listener \"%s\": IPv4 address "
			      "in an inet6 listener (use inet:)", spec);
			return -1;
		} else if (!listen_is_hostname(host, n)) {
			x_err(err, errlen, "bad listener \"%s\": bad host "
			      "name \"%s\"", spec, host);
			return -1;
		}
	} else {
		if (inet_pton(AF_INET6, host, addr) == 1) {
			x_err(err, errlen, "bad listener \"%s\": IPv6 address "
			      "in an inet listener (use inet6:[ADDR]:PORT)",
			      spec);
			return -1;
		}
		if (listen_looks_ipv4(host, n)) {
			if (inet_pton(AF_INET, host, addr) != 1) {
				x_err(err, errlen, "bad listener \"%s\": bad "
				      "IPv4 address \"%s\"", spec, host);
				return -1;
			}
		} else if (!listen_is_hostname(host, n)) {
			x_err(err, errlen, "bad listener \"%s\": bad host "
			      "name \"%s\"", spec, host);
			return -1;
		}
	}
	return 0;
}

/* listen_set_host - validate HOST for family and copy it; 0 or -1 */
static int
listen_set_host(const char *spec, enum listen_family family, const char *s,
		size_t n, int bracketed, struct listen_spec *out, char *err,
		size_t errlen)
{
	char host[sizeof(out->host)];

	if (n >= sizeof(host)) {
		x_err(err, errlen, "bad listener \"%s\": host name too long",
		      spec);
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (n == 0 || strcmp(host, "*") == 0) {
		if (bracketed) {
			x_err(err, errlen, "bad listener \"%s\": empty IPv6 "
			      "address", spec);
			return -1;
		}
		out->host[0] = '\0';
		return 0;
	}
	if (listen_check_host(spec, family, host, n, err, errlen) < 0)
		return -1;
	memcpy(out->host, host, n + 1);
	return 0;
}

/* listen_parse_inet - HOST:PORT, PORT@HOST or PORT (IPv4) */
static int
listen_parse_inet(const char *spec, const char *s, struct listen_spec *out,
		  char *err, size_t errlen)
{
	const char *at = strchr(s, '@');
	const char *colon = strrchr(s, ':');

	if (at != NULL) {
		if (listen_parse_port(spec, s, (size_t)(at - s), &out->port,
				      err, errlen) < 0)
			return -1;
		return listen_set_host(spec, LISTEN_INET, at + 1,
				       strlen(at + 1), 0, out, err, errlen);
	}
	if (s[0] == '[') {
		x_err(err, errlen, "bad listener \"%s\": IPv6 address in an "
		      "inet listener (use inet6:[ADDR]:PORT)", spec);
		return -1;
	}
	if (colon == NULL)
		return listen_parse_port(spec, s, strlen(s), &out->port,
					 err, errlen);
	if (listen_set_host(spec, LISTEN_INET, s, (size_t)(colon - s), 0,
			    out, err, errlen) < 0)
		return -1;
	return listen_parse_port(spec, colon + 1, strlen(colon + 1),
				 &out->port, err, errlen);
}

/* listen_parse_inet6 - [ADDR]:PORT, PORT@[ADDR], PORT@ADDR or PORT */
static int
listen_parse_inet6(const char *spec, const char *s, struct listen_spec *out,
		   char *err, size_t errlen)
{
	const char *at, *rb;

	if (s[0] == '[') {
		if ((rb = strchr(s, ']')) == NULL) {
			x_err(err, errlen, "bad listener \"%s\": missing ']'",
			      spec);
			return -1;
		}
		if (rb[1] != ':') {
			x_err(err, errlen, "bad listener \"%s\": expected "
			      "\":PORT\" after ']'", spec);
			return -1;
		}
		if (listen_set_host(spec, LISTEN_INET6, s + 1,
				    (size_t)(rb - s - 1), 1, out,
				    err, errlen) < 0)
			return -1;
		return listen_parse_port(spec, rb + 2, strlen(rb + 2),
					 &out->port, err, errlen);
	}
	if ((at = strchr(s, '@')) != NULL) {
		size_t n;

		if (listen_parse_port(spec, s, (size_t)(at - s), &out->port,
				      err, errlen) < 0)
			return -1;
		s = at + 1;
		n = strlen(s);
		if (s[0] == '[') {
			if (n < 2 || s[n - 1] != ']'
			    || memchr(s + 1, ']', n - 2) != NULL) {
				x_err(err, errlen, "bad listener \"%s\": "
				      "expected \"[ADDR]\" after '@'", spec);
				return -1;
			}
			return listen_set_host(spec, LISTEN_INET6, s + 1,
					       n - 2, 1, out, err, errlen);
		}
		return listen_set_host(spec, LISTEN_INET6, s, n, 0, out,
				       err, errlen);
	}
	if (strchr(s, ':') != NULL) {
		x_err(err, errlen, "bad listener \"%s\": an IPv6 address needs "
		      "brackets (inet6:[ADDR]:PORT)", spec);
		return -1;
	}
	return listen_parse_port(spec, s, strlen(s), &out->port, err, errlen);
}

/* The options of a unix listener, in the order of listen_option_index. */
static const char *const listen_options[] = { "mode", "owner", "group" };

/* listen_option_index - 0 mode, 1 owner, 2 group, 3 none of them */
static unsigned
listen_option_index(const char *s, size_t nlen)
{
	unsigned which;

	for (which = 0; which < 3; which++)
		if (strlen(listen_options[which]) == nlen
		    && strncmp(listen_options[which], s, nlen) == 0)
			break;
	return which;
}

/* listen_owner_ok - a user or group name: printable, no ':' */
static int
listen_owner_ok(const char *v, size_t vlen)
{
	size_t i;

	for (i = 0; i < vlen; i++)
		if (!isgraph((unsigned char)v[i]) || v[i] == ':')
			return 0;
	return 1;
}

/* listen_parse_mode - an octal mode of at most 07777, or -1 */
static int
listen_parse_mode(const char *v, size_t vlen)
{
	int mode = 0;
	size_t i;

	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '7' || mode > 07777)
			return -1;
		mode = mode * 8 + (v[i] - '0');
	}
	return mode > 07777 ? -1 : mode;
}

/* listen_parse_option - one NAME=VALUE of a unix spec */
static int
listen_parse_option(const char *spec, const char *s, size_t n,
		    struct listen_spec *out, unsigned *seen, char *err,
		    size_t errlen)
{
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	const char *v = eq ? eq + 1 : s + n;
	size_t vlen = (size_t)(s + n - v);
	unsigned which;
	char *dst;
	int mode;

	if (n == 0) {
		x_err(err, errlen, "bad listener \"%s\": empty option", spec);
		return -1;
	}
	if ((which = listen_option_index(s, nlen)) == 3) {
		x_err(err, errlen, "bad listener \"%s\": unknown option "
		      "\"%.*s\" (mode, owner, group)", spec, (int)nlen, s);
		return -1;
	}
	if (eq == NULL || vlen == 0) {
		x_err(err, errlen, "bad listener \"%s\": option \"%s\" needs "
		      "a value", spec, listen_options[which]);
		return -1;
	}
	if (*seen & (1U << which)) {
		x_err(err, errlen, "bad listener \"%s\": option \"%s\" given "
		      "twice", spec, listen_options[which]);
		return -1;
	}
	*seen |= 1U << which;
	if (which == 0) {
		if ((mode = listen_parse_mode(v, vlen)) < 0) {
			x_err(err, errlen, "bad listener \"%s\": bad mode "
			      "\"%.*s\" (octal, at most 07777)", spec,
			      (int)vlen, v);
			return -1;
		}
		out->mode = mode;
		return 0;
	}
	dst = which == 1 ? out->owner : out->group;
	if (vlen >= sizeof(out->owner)) {
		x_err(err, errlen, "bad listener \"%s\": %s name too long",
		      spec, listen_options[which]);
		return -1;
	}
	if (!listen_owner_ok(v, vlen)) {
		x_err(err, errlen, "bad listener \"%s\": bad %s name "
		      "\"%.*s\"", spec, listen_options[which], (int)vlen, v);
		return -1;
	}
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return 0;
}

/* listen_parse_unix - PATH[,NAME=VALUE...] */
static int
listen_parse_unix(const char *spec, const char *s, struct listen_spec *out,
		  char *err, size_t errlen)
{
	const char *comma = strchr(s, ',');
	size_t n = comma ? (size_t)(comma - s) : strlen(s);
	unsigned seen = 0;

	if (n == 0) {
		x_err(err, errlen, "bad listener \"%s\": empty path", spec);
		return -1;
	}
	if (n > LISTEN_PATH_MAX) {
		x_err(err, errlen, "bad listener \"%s\": path too long (at "
		      "most %zu bytes)", spec, (size_t)LISTEN_PATH_MAX);
		return -1;
	}
	memcpy(out->path, s, n);
	out->path[n] = '\0';
	while (comma != NULL) {
		s = comma + 1;
		comma = strchr(s, ',');
		n = comma ? (size_t)(comma - s) : strlen(s);
		if (listen_parse_option(spec, s, n, out, &seen, err,
					errlen) < 0)
			return -1;
	}
	return 0;
}

/* listen_parse - parse a spec; 0, or -1 with a message in err */
int
listen_parse(const char *spec, struct listen_spec *out, char *err,
	     size_t errlen)
{
	struct listen_spec ls;
	const char *colon;
	size_t tlen;
	int rc;

	memset(&ls, 0, sizeof(ls));
	ls.mode = -1;
	if (spec == NULL || *spec == '\0') {
		x_err(err, errlen, "bad listener \"\": empty");
		return -1;
	}
	if ((colon = strchr(spec, ':')) == NULL) {
		x_err(err, errlen, "bad listener \"%s\": missing type (inet:, "
		      "inet6:, unix: or local:)", spec);
		return -1;
	}
	tlen = (size_t)(colon - spec);
	if (tlen == 4 && strncmp(spec, "inet", 4) == 0) {
		ls.family = LISTEN_INET;
		rc = listen_parse_inet(spec, colon + 1, &ls, err, errlen);
	} else if (tlen == 5 && strncmp(spec, "inet6", 5) == 0) {
		ls.family = LISTEN_INET6;
		rc = listen_parse_inet6(spec, colon + 1, &ls, err, errlen);
	} else if ((tlen == 4 && strncmp(spec, "unix", 4) == 0)
		   || (tlen == 5 && strncmp(spec, "local", 5) == 0)) {
		ls.family = LISTEN_UNIX;
		rc = listen_parse_unix(spec, colon + 1, &ls, err, errlen);
	} else {
		x_err(err, errlen, "bad listener \"%s\": unknown type \"%.*s\" "
		      "(inet, inet6, unix or local)", spec, (int)tlen, spec);
		return -1;
	}
	if (rc < 0)
		return -1;
	*out = ls;
	return 0;
}

/* listen_format - canonical Postfix spelling of the address */
char *
listen_format(const struct listen_spec *ls, char *buf, size_t len)
{
	int hn = (int)strnlen(ls->host, sizeof(ls->host));
	int pn = (int)strnlen(ls->path, sizeof(ls->path));

	if (len == 0)
		return buf;
	switch (ls->family) {
	case LISTEN_INET:
		snprintf(buf, len, "inet:%.*s:%u", hn ? hn : 1,
			 hn ? ls->host : "*", ls->port);
		break;
	case LISTEN_INET6:
		snprintf(buf, len, "inet6:[%.*s]:%u", hn ? hn : 2,
			 hn ? ls->host : "::", ls->port);
		break;
	case LISTEN_UNIX:
		snprintf(buf, len, "unix:%.*s", pn, ls->path);
		break;
	default:
		snprintf(buf, len, "unknown:%d", (int)ls->family);
		break;
	}
	return buf;
}

/* listen_net_match - is the peer address inside one of the nets? */
int
listen_net_match(const struct cidr *nets, size_t n,
		 const struct sockaddr *sa, socklen_t salen)
{
	unsigned char addr[16];

	if (sa != NULL && salen >= (socklen_t)sizeof(sa_family_t)
	    && sa->sa_family == AF_UNIX)
		return 1;
	return cidr_find(nets, n, cidr_addr_sockaddr(sa, salen, addr),
			 addr) >= 0;
}

/* listen_peer_check - is a connected socket's peer allowed? */
int
listen_peer_check(int fd, const struct cidr *nets, size_t n,
		  char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[INET6_ADDRSTRLEN];

	if (peerlen > 0)
		peer[0] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		if (peerlen > 0)
			snprintf(peer, peerlen, "unknown");
		return -1;
	}
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  buf, sizeof(buf));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s",
			 ss.ss_family == AF_UNIX ? "unix" : "unknown");
	if (peerlen > 0)
		snprintf(peer, peerlen, "%s", buf);
	return listen_net_match(nets, n, (struct sockaddr *)&ss, len);
}

/* listen_peer_name - "addr:port", "[addr]:port" or "unix" of a peer */
void
listen_peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	snprintf(out, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(out, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		snprintf(out, len, "unix");
	}
}
