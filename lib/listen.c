/*++
 * NAME
 *	listen 3
 * SUMMARY
 *	parse and open listening sockets
 * DESCRIPTION
 *	See listen.h.  listen_parse() is strict: a spec that is not
 *	exactly one of the documented spellings is refused with a message
 *	that quotes it and says what is wrong, because a listener that
 *	silently binds somewhere else than the administrator meant is
 *	worse than a daemon that does not start.
 *
 *	listen_open() never removes anything but a stale socket: a path
 *	that exists and is not a socket is left alone, and a socket that
 *	a live process still accepts on is reported as in use.  The mode
 *	of a unix socket is the umask's at bind() (set to give exactly the
 *	spec's mode), its owner and group are set between bind() and
 *	listen() without following links, so no client can connect while
 *	they are not yet the spec's.  A socket's directory must not be
 *	writable by others; a missing one (the last level only) is made,
 *	with the socket's owner and group.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cidr.h"
#include "listen.h"
#include "xalloc.h"

#define LISTEN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define LISTEN_ERRBUF	128
#define LISTEN_NAMEBUF	300	/* a formatted spec: "inet6:[" host "]:port" */


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

/* listen_set_host - validate HOST for family and copy it; 0 or -1 */
static int
listen_set_host(const char *spec, enum listen_family family, const char *s,
		size_t n, int bracketed, struct listen_spec *out, char *err,
		size_t errlen)
{
	unsigned char addr[sizeof(struct in6_addr)];
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
	if (family == LISTEN_INET6) {
		if (strchr(host, ':') != NULL) {
			if (inet_pton(AF_INET6, host, addr) != 1) {
				x_err(err, errlen, "bad listener \"%s\": bad "
				      "IPv6 address \"%s\"", spec, host);
				return -1;
			}
		} else if (listen_looks_ipv4(s, n)) {
			x_err(err, errlen, "bad listener \"%s\": IPv4 address "
			      "in an inet6 listener (use inet:)", spec);
			return -1;
		} else if (!listen_is_hostname(s, n)) {
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
		if (listen_looks_ipv4(s, n)) {
			if (inet_pton(AF_INET, host, addr) != 1) {
				x_err(err, errlen, "bad listener \"%s\": bad "
				      "IPv4 address \"%s\"", spec, host);
				return -1;
			}
		} else if (!listen_is_hostname(s, n)) {
			x_err(err, errlen, "bad listener \"%s\": bad host "
			      "name \"%s\"", spec, host);
			return -1;
		}
	}
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

/* listen_parse_option - one NAME=VALUE of a unix spec */
static int
listen_parse_option(const char *spec, const char *s, size_t n,
		    struct listen_spec *out, unsigned *seen, char *err,
		    size_t errlen)
{
	static const char *const names[] = { "mode", "owner", "group" };
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	const char *v = eq ? eq + 1 : s + n;
	size_t vlen = (size_t)(s + n - v);
	unsigned which, i;
	char *dst;

	if (n == 0) {
		x_err(err, errlen, "bad listener \"%s\": empty option", spec);
		return -1;
	}
	for (which = 0; which < 3; which++)
		if (strlen(names[which]) == nlen
		    && strncmp(names[which], s, nlen) == 0)
			break;
	if (which == 3) {
		x_err(err, errlen, "bad listener \"%s\": unknown option "
		      "\"%.*s\" (mode, owner, group)", spec, (int)nlen, s);
		return -1;
	}
	if (eq == NULL || vlen == 0) {
		x_err(err, errlen, "bad listener \"%s\": option \"%s\" needs "
		      "a value", spec, names[which]);
		return -1;
	}
	if (*seen & (1U << which)) {
		x_err(err, errlen, "bad listener \"%s\": option \"%s\" given "
		      "twice", spec, names[which]);
		return -1;
	}
	*seen |= 1U << which;
	if (which == 0) {
		int mode = 0;

		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '7' || mode > 07777)
				break;
			mode = mode * 8 + (v[i] - '0');
		}
		if (i < vlen || mode > 07777) {
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
		      spec, names[which]);
		return -1;
	}
	for (i = 0; i < vlen; i++)
		if (!isgraph((unsigned char)v[i]) || v[i] == ':') {
			x_err(err, errlen, "bad listener \"%s\": bad %s name "
			      "\"%.*s\"", spec, names[which], (int)vlen, v);
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

/* listen_lookup_id - a user or group name (or number) to an id */
static int
listen_lookup_id(const char *spec, const char *what, const char *name,
		 int is_group, unsigned *id, char *err, size_t errlen)
{
	struct passwd pw, *pwres = NULL;
	struct group gr, *grres = NULL;
	char ebuf[LISTEN_ERRBUF];
	size_t len = 4096;
	char *buf;
	int rc;

	for (;;) {
		buf = x_malloc(len);
		if (is_group)
			rc = getgrnam_r(name, &gr, buf, len, &grres);
		else
			rc = getpwnam_r(name, &pw, buf, len, &pwres);
		if (rc != ERANGE || len >= 1024 * 1024)
			break;
		free(buf);
		len *= 2;
	}
	if (is_group && grres != NULL)
		*id = (unsigned)grres->gr_gid;
	else if (!is_group && pwres != NULL)
		*id = (unsigned)pwres->pw_uid;
	free(buf);
	if (grres != NULL || pwres != NULL)
		return 0;
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF
	    || rc == EPERM) {
		char *end;
		unsigned long v;

		/* a numeric id that has no name is fine (containers) */
		errno = 0;
		v = strtoul(name, &end, 10);
		if (isdigit((unsigned char)*name) && *end == '\0'
		    && errno == 0 && v < 0xffffffffUL) {
			*id = (unsigned)v;
			return 0;
		}
		x_err(err, errlen, "%s: %s \"%s\": no such %s", spec, what,
		      name, is_group ? "group" : "user");
		return -1;
	}
	x_err(err, errlen, "%s: %s \"%s\": lookup failed: %s", spec, what,
	      name, x_strerror(rc, ebuf, sizeof(ebuf)));
	return -1;
}

/* listen_socket - a non-blocking, close-on-exec stream socket */
static int
listen_socket(int domain, const char *name, char *err, size_t errlen)
{
	char ebuf[LISTEN_ERRBUF];
	int fd;

	fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		x_err(err, errlen, "%s: socket: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
	return fd;
}

/* listen_open_inet - bind and listen on an inet or inet6 address */
static int
listen_open_inet(const struct listen_spec *ls, int backlog,
		 const char *name, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
	socklen_t sslen;
	char ebuf[LISTEN_ERRBUF];
	int fd, on = 1, e;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (ls->host[0] != '\0') {
		struct addrinfo hints, *res = NULL;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		if ((e = getaddrinfo(ls->host, NULL, &hints, &res)) != 0
		    || res == NULL) {
			if (e == EAI_SYSTEM)
				x_strerror(errno, ebuf, sizeof(ebuf));
			else
				snprintf(ebuf, sizeof(ebuf), "%s",
					 e ? gai_strerror(e)
					   : "no address found");
			if (isupper((unsigned char)ebuf[0])
			    && !isupper((unsigned char)ebuf[1]))
				ebuf[0] = (char)tolower((unsigned char)ebuf[0]);
			x_err(err, errlen, "%s: host \"%s\": %s", name,
			      ls->host, ebuf);
			return -1;
		}
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	} else if (family == AF_INET6) {
		sin6->sin6_addr = in6addr_any;
	} else {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (family == AF_INET6) {
		sin6->sin6_port = htons((uint16_t)ls->port);
		sslen = sizeof(*sin6);
	} else {
		sin->sin_port = htons((uint16_t)ls->port);
		sslen = sizeof(*sin);
	}
	if ((fd = listen_socket(family, name, err, errlen)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
		x_err(err, errlen, "%s: setsockopt SO_REUSEADDR: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	/* inet6 means IPv6 only: IPv4 has its own listener spelling */
	if (family == AF_INET6
	    && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			  sizeof(on)) < 0) {
		x_err(err, errlen, "%s: setsockopt IPV6_V6ONLY: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		x_err(err, errlen, "%s: bind: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		x_err(err, errlen, "%s: listen: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	return fd;

fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* listen_unix_clear - make way for a new socket at sun->sun_path */
static int
listen_unix_clear(const struct sockaddr_un *sun, const char *name,
		  char *err, size_t errlen)
{
	char ebuf[LISTEN_ERRBUF];
	struct stat st;
	int fd, rc, e;

	if (lstat(sun->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		x_err(err, errlen, "%s: stat: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		x_err(err, errlen, "%s: %s exists and is not a socket; not "
		      "removing it", name, sun->sun_path);
		return -1;
	}
	/* A socket nobody accepts on refuses connections: that one is
	 * stale.  The probe does not block, even on a full backlog. */
	if ((fd = listen_socket(AF_UNIX, name, err, errlen)) < 0)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
		x_err(err, errlen, "%s: address already in use (a process is "
		      "listening on %s)", name, sun->sun_path);
		return -1;
	}
	if (e != ECONNREFUSED) {
		x_err(err, errlen, "%s: probing the existing socket: connect: "
		      "%s", name, x_strerror(e, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (unlink(sun->sun_path) < 0 && errno != ENOENT) {
		x_err(err, errlen, "%s: removing the stale socket: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* listen_unix_dirmode - the mode of a directory we create for a
 * socket: searchable by whom the socket's mode lets connect */
static mode_t
listen_unix_dirmode(const struct listen_spec *ls)
{
	mode_t m = 0700;

	if (ls->mode < 0)
		return 0755;
	if (ls->mode & 0070)
		m |= 0050;
	if (ls->mode & 0007)
		m |= 0005;
	return m;
}

/* listen_unix_dir - the socket's directory: created (one level) when
 * missing, with the socket's owner and group; refused when others may
 * write to it, since they could then replace our socket or plant a
 * symbolic link where we set permissions */
static int
listen_unix_dir(const struct listen_spec *ls, const struct listen_ids *ids,
		const char *name, char *err, size_t errlen)
{
	char dir[sizeof(ls->path)], ebuf[LISTEN_ERRBUF];
	char *slash;
	struct stat st;
	int dfd;

	snprintf(dir, sizeof(dir), "%s", ls->path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT) {
			x_err(err, errlen, "%s: directory %s: %s", name, dir,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			return -1;
		}
		if (mkdir(dir, 0700) < 0) {
			x_err(err, errlen, "%s: mkdir %s: %s", name, dir,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			return -1;
		}
		/* mode and owner on the descriptor: nothing is followed */
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
			   | O_CLOEXEC);
		if (dfd < 0
		    || fchmod(dfd, listen_unix_dirmode(ls)) < 0
		    || ((ids->uid != (unsigned)-1 || ids->gid != (unsigned)-1)
			&& fchown(dfd, (uid_t)ids->uid,
				  (gid_t)ids->gid) < 0)) {
			x_err(err, errlen, "%s: setting up directory %s: %s",
			      name, dir,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			if (dfd >= 0)
				close(dfd);
			(void)rmdir(dir);
			return -1;
		}
		close(dfd);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		x_err(err, errlen, "%s: %s is not a directory", name, dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		x_err(err, errlen, "%s: directory %s is writable by others "
		      "(mode %04o): refusing to put a socket there", name,
		      dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* listen_unix_prepare - ids, directory, stale socket (see listen.h) */
int
listen_unix_prepare(const struct listen_spec *ls, struct listen_ids *ids,
		    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char name[LISTEN_NAMEBUF];
	size_t n = strnlen(ls->path, sizeof(ls->path));

	listen_format(ls, name, sizeof(name));
	ids->uid = ids->gid = (unsigned)-1;
	if (ls->family != LISTEN_UNIX || n == 0 || n > LISTEN_PATH_MAX
	    || n >= sizeof(ls->path)) {
		x_err(err, errlen, "%s: bad socket path", name);
		return -1;
	}
	if (ls->mode > 07777) {
		x_err(err, errlen, "%s: bad mode %o", name,
		      (unsigned)ls->mode);
		return -1;
	}
	/* look the names up first: a failure leaves nothing behind */
	if (ls->owner[0] != '\0'
	    && listen_lookup_id(name, "owner", ls->owner, 0, &ids->uid, err,
				errlen) < 0)
		return -1;
	if (ls->group[0] != '\0'
	    && listen_lookup_id(name, "group", ls->group, 1, &ids->gid, err,
				errlen) < 0)
		return -1;
	if (listen_unix_dir(ls, ids, name, err, errlen) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, ls->path, n);
	return listen_unix_clear(&sun, name, err, errlen);
}

/* listen_unix_umask - the umask that makes bind() create the socket
 * with the spec's mode (the permission bits; a socket has no use for
 * the others), or cur when the spec has none */
mode_t
listen_unix_umask(const struct listen_spec *ls, mode_t cur)
{
	if (ls->family != LISTEN_UNIX || ls->mode < 0)
		return cur;
	return (mode_t)(~ls->mode & 0777);
}

/* listen_unix_own - owner and group of the bound socket, without
 * following a symbolic link that might have replaced it */
int
listen_unix_own(const struct listen_spec *ls, const struct listen_ids *ids,
		char *err, size_t errlen)
{
	char name[LISTEN_NAMEBUF], ebuf[LISTEN_ERRBUF];

	if (ids->uid == (unsigned)-1 && ids->gid == (unsigned)-1)
		return 0;
	if (fchownat(AT_FDCWD, ls->path, (uid_t)ids->uid, (gid_t)ids->gid,
		     AT_SYMLINK_NOFOLLOW) < 0) {
		listen_format(ls, name, sizeof(name));
		x_err(err, errlen, "%s: chown%s%s%s%s: %s", name,
		      ls->owner[0] ? " " : "", ls->owner,
		      ls->group[0] ? ":" : "", ls->group,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* listen_open_unix - bind and listen on a unix-domain socket */
static int
listen_open_unix(const struct listen_spec *ls, int backlog,
		 const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct listen_ids ids;
	char ebuf[LISTEN_ERRBUF];
	size_t n = strnlen(ls->path, sizeof(ls->path));
	mode_t old;
	int fd, e, rc;

	if (listen_unix_prepare(ls, &ids, err, errlen) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, ls->path, n);
	if ((fd = listen_socket(AF_UNIX, name, err, errlen)) < 0)
		return -1;
	/* The mode comes from the umask at bind(): no moment with other
	 * permissions, and no path to follow.  Listeners are bound before
	 * any thread starts, so the process-wide umask is ours here. */
	old = umask(0);
	umask(listen_unix_umask(ls, old));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	umask(old);
	if (rc < 0) {
		x_err(err, errlen, "%s: bind: %s", name,
		      x_strerror(e, ebuf, sizeof(ebuf)));
		close(fd);
		errno = e;
		return -1;
	}
	/* before listen(): until then every connect() is refused */
	if (listen_unix_own(ls, &ids, err, errlen) < 0)
		goto fail;
	if (listen(fd, backlog) < 0) {
		x_err(err, errlen, "%s: listen: %s", name,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	return fd;

fail:
	e = errno;
	close(fd);
	(void)unlink(sun.sun_path);
	errno = e;
	return -1;
}

/* listen_open - bind and listen; the fd, or -1 with a message in err */
int
listen_open(const struct listen_spec *ls, int backlog, char *err,
	    size_t errlen)
{
	char name[LISTEN_NAMEBUF];

	if (backlog <= 0)
		backlog = SOMAXCONN;
	listen_format(ls, name, sizeof(name));
	switch (ls->family) {
	case LISTEN_INET:
	case LISTEN_INET6:
		if (ls->port < 1 || ls->port > 65535) {
			x_err(err, errlen, "%s: port out of range (1-65535)",
			      name);
			return -1;
		}
		if (memchr(ls->host, '\0', sizeof(ls->host)) == NULL) {
			x_err(err, errlen, "%s: bad host", name);
			return -1;
		}
		return listen_open_inet(ls, backlog, name, err, errlen);
	case LISTEN_UNIX:
		return listen_open_unix(ls, backlog, name, err, errlen);
	}
	x_err(err, errlen, "bad listener family %d", (int)ls->family);
	return -1;
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
