/*++
 * NAME
 *	0013-listen 1
 * SUMMARY
 *	unit tests for lib/listen
 * DESCRIPTION
 *	listen_parse() on a table of good specs (every spelling, with the
 *	fields, the canonical and the libmilter spelling expected, the
 *	latter made by the milter's milter_relay_conn) and of
 *	bad ones (with the exact message); listen_format() round trips;
 *	then listen_open() for real: free loopback ports found by binding
 *	port 0 first, "address already in use", non-blocking and
 *	close-on-exec sockets, unix socket modes and owners, a stale
 *	socket replaced, a live one and a regular file left alone, a
 *	missing directory and a permission problem reported, the directory
 *	made for a socket and one others may write to refused; the
 *	allow-list (lib/cidr's nets, whose parsing t/0017 tests):
 *	addresses matched (IPv4, IPv6, v4-mapped, unix), and a real
 *	connection from 127.0.0.2 refused by an allow-list of
 *	127.0.0.1/32.
 *--*/
#include "config.h"

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
#include <sys/wait.h>

#include "listen.h"
#include "milter-relay.h"
#include "tap.h"

struct good_case {
	const char *spec;
	enum listen_family family;
	const char *host;
	unsigned port;
	const char *path;
	int mode;
	const char *owner;
	const char *group;
	const char *format;	/* listen_format() */
	const char *milter;	/* milter_relay_conn() */
};

#define INET_C(s, h, p, f, m) { s, LISTEN_INET, h, p, "", -1, "", "", f, m }
#define INET6_C(s, h, p, f, m) { s, LISTEN_INET6, h, p, "", -1, "", "", f, m }
#define UNIX_C(s, path, mode, o, g, f, m) \
	{ s, LISTEN_UNIX, "", 0, path, mode, o, g, f, m }

static const struct good_case good[] = {
	INET_C("inet:127.0.0.1:10025", "127.0.0.1", 10025,
	       "inet:127.0.0.1:10025", "inet:10025@127.0.0.1"),
	INET_C("inet:10025@127.0.0.1", "127.0.0.1", 10025,
	       "inet:127.0.0.1:10025", "inet:10025@127.0.0.1"),
	INET_C("inet:10025", "", 10025, "inet:*:10025", "inet:10025"),
	INET_C("inet:*:25", "", 25, "inet:*:25", "inet:25"),
	INET_C("inet::25", "", 25, "inet:*:25", "inet:25"),
	INET_C("inet:25@*", "", 25, "inet:*:25", "inet:25"),
	INET_C("inet:25@", "", 25, "inet:*:25", "inet:25"),
	INET_C("inet:localhost:10040", "localhost", 10040,
	       "inet:localhost:10040", "inet:10040@localhost"),
	INET_C("inet:mx-1.example.com:587", "mx-1.example.com", 587,
	       "inet:mx-1.example.com:587", "inet:587@mx-1.example.com"),
	INET_C("inet:0.0.0.0:1", "0.0.0.0", 1, "inet:0.0.0.0:1",
	       "inet:1@0.0.0.0"),
	INET_C("inet:10.1.2.3:65535", "10.1.2.3", 65535,
	       "inet:10.1.2.3:65535", "inet:65535@10.1.2.3"),
	INET_C("inet:127.0.0.1:00025", "127.0.0.1", 25, "inet:127.0.0.1:25",
	       "inet:25@127.0.0.1"),
	INET6_C("inet6:[::1]:10025", "::1", 10025, "inet6:[::1]:10025",
		"inet6:10025@::1"),
	INET6_C("inet6:10025@[::1]", "::1", 10025, "inet6:[::1]:10025",
		"inet6:10025@::1"),
	INET6_C("inet6:10025@::1", "::1", 10025, "inet6:[::1]:10025",
		"inet6:10025@::1"),
	INET6_C("inet6:[2001:db8::25]:25", "2001:db8::25", 25,
		"inet6:[2001:db8::25]:25", "inet6:25@2001:db8::25"),
	INET6_C("inet6:[::ffff:127.0.0.1]:25", "::ffff:127.0.0.1", 25,
		"inet6:[::ffff:127.0.0.1]:25", "inet6:25@::ffff:127.0.0.1"),
	INET6_C("inet6:[::]:25", "::", 25, "inet6:[::]:25", "inet6:25@::"),
	INET6_C("inet6:10025", "", 10025, "inet6:[::]:10025", "inet6:10025"),
	INET6_C("inet6:25@*", "", 25, "inet6:[::]:25", "inet6:25"),
	INET6_C("inet6:25@localhost", "localhost", 25,
		"inet6:[localhost]:25", "inet6:25@localhost"),
	INET6_C("inet6:[localhost]:25", "localhost", 25,
		"inet6:[localhost]:25", "inet6:25@localhost"),
	UNIX_C("unix:/run/elemta/milter.sock", "/run/elemta/milter.sock", -1,
	       "", "", "unix:/run/elemta/milter.sock",
	       "local:/run/elemta/milter.sock"),
	UNIX_C("local:/run/x.sock", "/run/x.sock", -1, "", "",
	       "unix:/run/x.sock", "local:/run/x.sock"),
	UNIX_C("unix:/run/x.sock,mode=0660,owner=postfix,group=postdrop",
	       "/run/x.sock", 0660, "postfix", "postdrop", "unix:/run/x.sock",
	       "local:/run/x.sock"),
	UNIX_C("local:/run/x.sock,group=mail,mode=660", "/run/x.sock", 0660,
	       "", "mail", "unix:/run/x.sock", "local:/run/x.sock"),
	UNIX_C("unix:/x,mode=0", "/x", 0, "", "", "unix:/x", "local:/x"),
	UNIX_C("unix:/x,mode=07777", "/x", 07777, "", "", "unix:/x",
	       "local:/x"),
	UNIX_C("unix:/x,owner=1001", "/x", -1, "1001", "", "unix:/x",
	       "local:/x"),
	UNIX_C("unix:private/elemta", "private/elemta", -1, "", "",
	       "unix:private/elemta", "local:private/elemta"),
	UNIX_C("unix:/with space:and@signs", "/with space:and@signs", -1, "",
	       "", "unix:/with space:and@signs",
	       "local:/with space:and@signs"),
};

struct bad_case {
	const char *spec;
	const char *why;	/* after 'bad listener "SPEC": ' */
};

static const struct bad_case bad[] = {
	{ "/run/x.sock", "missing type (inet:, inet6:, unix: or local:)" },
	{ "10025", "missing type (inet:, inet6:, unix: or local:)" },
	{ "tcp:127.0.0.1:25",
	  "unknown type \"tcp\" (inet, inet6, unix or local)" },
	{ "INET:127.0.0.1:25",
	  "unknown type \"INET\" (inet, inet6, unix or local)" },
	{ "127.0.0.1:25",
	  "unknown type \"127.0.0.1\" (inet, inet6, unix or local)" },
	{ "inet:127.0.0.1:99999", "port out of range (1-65535)" },
	{ "inet:127.0.0.1:65536", "port out of range (1-65535)" },
	{ "inet:127.0.0.1:0", "port out of range (1-65535)" },
	{ "inet:127.0.0.1:000", "port out of range (1-65535)" },
	{ "inet:127.0.0.1:184467440737095516160",
	  "port out of range (1-65535)" },
	{ "inet:99999@127.0.0.1", "port out of range (1-65535)" },
	{ "inet:0", "port out of range (1-65535)" },
	{ "inet:127.0.0.1:", "missing port" },
	{ "inet:", "missing port" },
	{ "inet:@127.0.0.1", "missing port" },
	{ "inet:127.0.0.1:25x", "unknown service \"25x\"" },
	{ "inet:127.0.0.1:no-such-service", "unknown service "
	  "\"no-such-service\"" },
	{ "inet:127.0.0.1:25 ", "bad port \"25 \"" },
	{ "inet:127.0.0.1:+25", "bad port \"+25\"" },
	{ "inet:127.0.0.256:25", "bad IPv4 address \"127.0.0.256\"" },
	{ "inet:1.2.3:25", "bad IPv4 address \"1.2.3\"" },
	{ "inet:[::1]:25",
	  "IPv6 address in an inet listener (use inet6:[ADDR]:PORT)" },
	{ "inet:25@::1",
	  "IPv6 address in an inet listener (use inet6:[ADDR]:PORT)" },
	{ "inet:127.0.0.1:25:26", "bad host name \"127.0.0.1:25\"" },
	{ "inet:bad!host:25", "bad host name \"bad!host\"" },
	{ "inet:-lead:25", "bad host name \"-lead\"" },
	{ "inet:25@127.0.0.1@x", "bad host name \"127.0.0.1@x\"" },
	{ "inet: 127.0.0.1:25", "bad host name \" 127.0.0.1\"" },
	{ "inet6:[::1]", "expected \":PORT\" after ']'" },
	{ "inet6:[::1]25", "expected \":PORT\" after ']'" },
	{ "inet6:[::1:25", "missing ']'" },
	{ "inet6:[::g]:25", "bad IPv6 address \"::g\"" },
	{ "inet6:[127.0.0.1]:25",
	  "IPv4 address in an inet6 listener (use inet:)" },
	{ "inet6:[bad!name]:25", "bad host name \"bad!name\"" },
	{ "inet6:[fe80::1%eth0]:25", "bad IPv6 address \"fe80::1%eth0\"" },
	{ "inet6:[]:25", "empty IPv6 address" },
	{ "inet6:::1:25",
	  "an IPv6 address needs brackets (inet6:[ADDR]:PORT)" },
	{ "inet6:25@127.0.0.1",
	  "IPv4 address in an inet6 listener (use inet:)" },
	{ "inet6:25@[::1", "expected \"[ADDR]\" after '@'" },
	{ "inet6:25@[::1]x", "expected \"[ADDR]\" after '@'" },
	{ "inet6:25@[::1]]", "expected \"[ADDR]\" after '@'" },
	{ "inet6:25@:::", "bad IPv6 address \":::\"" },
	{ "inet6:[::1]:70000", "port out of range (1-65535)" },
	{ "inet6:", "missing port" },
	{ "inet6:[::1]:", "missing port" },
	{ "unix:", "empty path" },
	{ "local:", "empty path" },
	{ "unix:,mode=0660", "empty path" },
	{ "unix:/x,mode=0999",
	  "bad mode \"0999\" (octal, at most 07777)" },
	{ "unix:/x,mode=017777",
	  "bad mode \"017777\" (octal, at most 07777)" },
	{ "unix:/x,mode=0660x",
	  "bad mode \"0660x\" (octal, at most 07777)" },
	{ "unix:/x,mode=-1", "bad mode \"-1\" (octal, at most 07777)" },
	{ "unix:/x,mode=", "option \"mode\" needs a value" },
	{ "unix:/x,mode", "option \"mode\" needs a value" },
	{ "unix:/x,owner=", "option \"owner\" needs a value" },
	{ "unix:/x,mode=0660,mode=0600", "option \"mode\" given twice" },
	{ "unix:/x,group=a,group=b", "option \"group\" given twice" },
	{ "unix:/x,perm=0660",
	  "unknown option \"perm\" (mode, owner, group)" },
	{ "unix:/x,modes=0660",
	  "unknown option \"modes\" (mode, owner, group)" },
	{ "unix:/x,=0660", "unknown option \"\" (mode, owner, group)" },
	{ "unix:/x,", "empty option" },
	{ "unix:/x,,mode=0660", "empty option" },
	{ "unix:/x,owner=a b", "bad owner name \"a b\"" },
	{ "unix:/x,group=a:b", "bad group name \"a:b\"" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* same_spec - two parsed specs describe the same thing */
static int
same_spec(const struct listen_spec *a, const struct listen_spec *b)
{
	return a->family == b->family && strcmp(a->host, b->host) == 0
	    && a->port == b->port && strcmp(a->path, b->path) == 0;
}

/* test_good - every good spec: fields, format, milter spelling */
static void
test_good(void)
{
	const struct good_case *c;
	struct listen_spec ls, again;
	char err[512], buf[400], buf2[400];

	for (c = good; c < good + NELEM(good); c++) {
		err[0] = '\0';
		memset(&ls, 0x5a, sizeof(ls));
		if (!is_int(listen_parse(c->spec, &ls, err, sizeof(err)), 0,
			    "parse %s", c->spec)) {
			diag("  error: %s", err);
			continue;
		}
		is_str(err, "", "%s: error buffer untouched", c->spec);
		is_int(ls.family, c->family, "%s: family", c->spec);
		is_str(ls.host, c->host, "%s: host", c->spec);
		is_int(ls.port, c->port, "%s: port", c->spec);
		is_str(ls.path, c->path, "%s: path", c->spec);
		is_int(ls.mode, c->mode, "%s: mode", c->spec);
		is_str(ls.owner, c->owner, "%s: owner", c->spec);
		is_str(ls.group, c->group, "%s: group", c->spec);
		is_str(listen_format(&ls, buf, sizeof(buf)), c->format,
		       "%s: listen_format", c->spec);
		is_str(milter_relay_conn(&ls, buf, sizeof(buf)), c->milter,
		       "%s: milter_relay_conn", c->spec);

		/* the canonical spelling parses back to the same address */
		listen_format(&ls, buf, sizeof(buf));
		if (!is_int(listen_parse(buf, &again, err, sizeof(err)), 0,
			    "%s: format parses back (%s)", c->spec, buf)) {
			diag("  error: %s", err);
			continue;
		}
		listen_format(&again, buf2, sizeof(buf2));
		is_str(buf2, buf, "%s: format round trip", c->spec);
		if (c->host[0] != '\0' || c->family != LISTEN_INET6)
			ok(same_spec(&ls, &again), "%s: same fields after "
			   "the round trip", c->spec);
	}
}

/* test_bad - every bad spec: -1, the exact message, out untouched */
static void
test_bad(void)
{
	const struct bad_case *c;
	struct listen_spec ls, before;
	char err[512], want[512];

	for (c = bad; c < bad + NELEM(bad); c++) {
		memset(&ls, 0x5a, sizeof(ls));
		before = ls;
		err[0] = '\0';
		is_int(listen_parse(c->spec, &ls, err, sizeof(err)), -1,
		       "parse %s fails", c->spec);
		snprintf(want, sizeof(want), "bad listener \"%s\": %s",
			 c->spec, c->why);
		is_str(err, want, "%s: message", c->spec);
		ok(memcmp(&ls, &before, sizeof(ls)) == 0,
		   "%s: result untouched", c->spec);
	}
}

/* test_limits - lengths at and over the limits; NULL, "", service names */
static void
test_limits(void)
{
	struct listen_spec ls;
	struct servent se, *res = NULL;
	char spec[600], err[1024], path[300], sbuf[1024];
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[max] = '\0';
	snprintf(spec, sizeof(spec), "unix:%s,mode=0600", path);
	is_int(listen_parse(spec, &ls, err, sizeof(err)), 0,
	       "a path of %zu bytes is fine", max);
	is_int(strlen(ls.path), max, "and kept whole");
	path[max] = 'p';
	path[max + 1] = '\0';
	snprintf(spec, sizeof(spec), "unix:%s", path);
	is_int(listen_parse(spec, &ls, err, sizeof(err)), -1,
	       "a path of %zu bytes is not", max + 1);
	like_str(err, "\": path too long (at most 107 bytes)",
		 "path too long: message");

	memset(path, 'h', 255);
	snprintf(spec, sizeof(spec), "inet:%.255s:25", path);
	is_int(listen_parse(spec, &ls, err, sizeof(err)), 0,
	       "a host name of 255 bytes is fine");
	snprintf(spec, sizeof(spec), "inet:%.255sh:25", path);
	is_int(listen_parse(spec, &ls, err, sizeof(err)), -1,
	       "a host name of 256 bytes is not");
	like_str(err, "\": host name too long", "host too long: message");

	is_int(listen_parse("", &ls, err, sizeof(err)), -1, "empty spec");
	is_str(err, "bad listener \"\": empty", "empty spec: message");
	is_int(listen_parse(NULL, &ls, err, sizeof(err)), -1, "NULL spec");
	is_int(listen_parse("inet:0", &ls, NULL, 0), -1,
	       "a NULL error buffer is allowed");

	/* a short error buffer is truncated, not overrun */
	memset(err, 'X', sizeof(err));
	is_int(listen_parse("inet:99999", &ls, err, 10), -1,
	       "short buffer: fails");
	is_str(err, "bad liste", "short buffer: truncated message");
	is_int(err[10], 'X', "short buffer: nothing written past it");

	if (getservbyname_r("smtp", "tcp", &se, sbuf, sizeof(sbuf), &res) != 0
	    || res == NULL) {
		missing(4, "no /etc/services entry for smtp (netbase)");
		return;
	}
	is_int(listen_parse("inet:127.0.0.1:smtp", &ls, err, sizeof(err)), 0,
	       "service name smtp");
	is_int(ls.port, 25, "smtp is port 25");
	is_int(listen_parse("inet6:submission@[::1]", &ls, err, sizeof(err)),
	       0, "service name submission");
	is_int(ls.port, 587, "submission is port 587");
}

/* test_format_buffers - truncation and hand-filled specs */
static void
test_format_buffers(void)
{
	struct listen_spec ls;
	char buf[16];

	memset(&ls, 0, sizeof(ls));
	ls.family = LISTEN_INET;
	snprintf(ls.host, sizeof(ls.host), "127.0.0.1");
	ls.port = 10025;
	memset(buf, 'X', sizeof(buf));
	is_str(listen_format(&ls, buf, 8), "inet:12", "format truncates");
	is_int(buf[8], 'X', "format: nothing written past the buffer");
	is_str(milter_relay_conn(&ls, buf, 9), "inet:100",
	       "milter_conn truncates");
	buf[0] = 'Y';
	listen_format(&ls, buf, 0);
	is_int(buf[0], 'Y', "format: a zero-length buffer is left alone");
}

/* fd_flags_ok - non-blocking and close-on-exec */
static int
fd_flags_ok(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0
	    && (fdfl & FD_CLOEXEC);
}

/* sockopt - an int socket option, or -1 */
static int
sockopt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

/* free_port - a port the kernel just gave out on addr (0: none) */
static unsigned
free_port(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned port = 0;
	int fd;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return 0;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return 0;
		len = sizeof(*s4);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&ss, len) == 0
	    && getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET6
			     ? ((struct sockaddr_in6 *)&ss)->sin6_port
			     : ((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

/* open_free - listen_open BEFORE port AFTER on a free port, retrying
 * when another test took the port in between */
static int
open_free(int family, const char *addr, const char *before,
	  const char *after, unsigned *portp, char *spec, size_t speclen,
	  char *err, size_t errlen)
{
	struct listen_spec ls;
	int attempt, fd = -1;

	for (attempt = 0; attempt < 10; attempt++) {
		if ((*portp = free_port(family, addr)) == 0)
			return -1;
		snprintf(spec, speclen, "%s%u%s", before, *portp, after);
		if (listen_parse(spec, &ls, err, errlen) < 0)
			return -1;
		if ((fd = listen_open(&ls, 16, err, errlen)) >= 0
		    || strstr(err, "address already in use") == NULL)
			break;
	}
	return fd;
}

/* connect_to - a blocking client connection; 0 if it connected */
static int
connect_to(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM, 0), rc;

	if (fd < 0)
		return -1;
	rc = connect(fd, sa, len);
	close(fd);
	return rc;
}

/* connect_unix - connect to a unix socket path; 0 if it connected */
static int
connect_unix(const char *path)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	return connect_to((struct sockaddr *)&sun, sizeof(sun));
}

/* open_spec - parse and open; the fd or -1 with err filled */
static int
open_spec(const char *spec, char *err, size_t errlen)
{
	struct listen_spec ls;

	if (listen_parse(spec, &ls, err, errlen) < 0)
		return -1;
	return listen_open(&ls, 16, err, errlen);
}

/* test_open_inet - real sockets on 127.0.0.1 and ::1 */
static void
test_open_inet(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct listen_spec ls;
	char spec[128], err[512], want[600], spec2[128];
	unsigned port;
	int fd, fd2;

	fd = open_free(AF_INET, "127.0.0.1", "inet:127.0.0.1:", "", &port,
		       spec, sizeof(spec), err, sizeof(err));
	if (!ok(fd >= 0, "listen_open %s", spec)) {
		diag("  error: %s", err);
		skip(9, "no IPv4 listener");
	} else {
		ok(fd_flags_ok(fd), "%s: non-blocking, close-on-exec", spec);
		is_int(sockopt(fd, SOL_SOCKET, SO_REUSEADDR) != 0, 1,
		       "%s: SO_REUSEADDR", spec);
		is_int(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1,
		       "%s: listening", spec);
		ok(getsockname(fd, (struct sockaddr *)&ss, &len) == 0
		   && ntohs(((struct sockaddr_in *)&ss)->sin_port) == port,
		   "%s: bound to the port asked", spec);
		is_int(connect_to((struct sockaddr *)&ss, len), 0,
		       "%s: a client connects", spec);

		listen_parse(spec, &ls, err, sizeof(err));
		err[0] = '\0';
		is_int(listen_open(&ls, 16, err, sizeof(err)), -1,
		       "%s: a second bind fails", spec);
		snprintf(want, sizeof(want), "%s: bind: address already in "
			 "use", spec);
		is_str(err, want, "%s: second bind: message", spec);

		/* the same port through the milter spelling and all
		 * addresses: also in use */
		snprintf(spec2, sizeof(spec2), "inet:%u", port);
		listen_parse(spec2, &ls, err, sizeof(err));
		is_int(listen_open(&ls, 16, err, sizeof(err)), -1,
		       "%s: the any address on a used port fails", spec2);
		snprintf(want, sizeof(want), "inet:*:%u: bind: address "
			 "already in use", port);
		is_str(err, want, "%s: message", spec2);
		close(fd);
		fd = listen_open(&ls, 16, err, sizeof(err));
		ok(fd >= 0, "%s: binds once the port is free (%s)", spec2,
		   fd < 0 ? err : "ok");
		if (fd >= 0)
			close(fd);
	}

	fd = open_free(AF_INET, "127.0.0.1", "inet:localhost:", "", &port,
		       spec, sizeof(spec), err, sizeof(err));
	ok(fd >= 0, "listen_open %s (a host name) %s", spec,
	   fd < 0 ? err : "");
	if (fd >= 0)
		close(fd);

	fd = open_free(AF_INET, "127.0.0.1", "inet:", "@127.0.0.1", &port,
		       spec, sizeof(spec), err, sizeof(err));
	ok(fd >= 0, "listen_open %s (milter spelling) %s", spec,
	   fd < 0 ? err : "");
	if (fd >= 0)
		close(fd);

	/* IPv6 loopback, when this host has it */
	if (free_port(AF_INET6, "::1") == 0) {
		skip(8, "no IPv6 loopback here");
		return;
	}
	fd = open_free(AF_INET6, "::1", "inet6:[::1]:", "", &port, spec,
		       sizeof(spec), err, sizeof(err));
	if (!ok(fd >= 0, "listen_open %s", spec)) {
		diag("  error: %s", err);
		skip(7, "no IPv6 listener");
		return;
	}
	ok(fd_flags_ok(fd), "%s: non-blocking, close-on-exec", spec);
	/* (Linux sets it anyway for a specific address; see below) */
	is_int(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1, "%s: IPV6_V6ONLY",
	       spec);
	listen_parse(spec, &ls, err, sizeof(err));
	is_int(listen_open(&ls, 16, err, sizeof(err)), -1,
	       "%s: a second bind fails", spec);
	snprintf(want, sizeof(want), "inet6:[::1]:%u: bind: address already "
		 "in use", port);
	is_str(err, want, "%s: message", spec);
	close(fd);

	/* v6only: inet6 on all addresses leaves IPv4 to an inet listener
	 * on the same port */
	fd = open_free(AF_INET6, "::", "inet6:", "", &port, spec, sizeof(spec),
		       err, sizeof(err));
	ok(fd >= 0, "listen_open %s %s", spec, fd < 0 ? err : "");
	is_int(fd >= 0 ? sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY) : -1, 1,
	       "%s: IPV6_V6ONLY", spec);
	snprintf(spec2, sizeof(spec2), "inet:%u", port);
	fd2 = open_spec(spec2, err, sizeof(err));
	ok(fd2 >= 0, "%s next to %s %s", spec2, spec, fd2 < 0 ? err : "");
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
}

/* file_mode - permission bits of a path, or -1 */
static int
file_mode(const char *path, struct stat *st)
{
	if (lstat(path, st) < 0)
		return -1;
	return (int)(st->st_mode & 07777);
}

/* read_file - the start of a file, for checking it was left alone */
static void
read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* test_unix_as_nobody - a bind that the file system refuses */
static void
test_unix_as_nobody(const char *dir)
{
	struct passwd *pw = getpwnam("nobody");
	char sub[300], spec[400], err[512], want[600];
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (geteuid() != 0 || pw == NULL) {
		missing(2, "needs root and a user nobody");
		return;
	}
	snprintf(sub, sizeof(sub), "%s/rootonly", dir);
	if (mkdir(sub, 0755) < 0 || pipe(pfd) < 0) {
		skip(2, "mkdir/pipe: %s", strerror(errno));
		return;
	}
	snprintf(spec, sizeof(spec), "unix:%s/denied.sock", sub);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			snprintf(err, sizeof(err), "setuid: %s",
				 strerror(errno));
		else if (open_spec(spec, err, sizeof(err)) >= 0)
			snprintf(err, sizeof(err), "bound");
		n = write(pfd[1], err, strlen(err) + 1);
		_exit(n > 0 ? 0 : 1);
	}
	close(pfd[1]);
	memset(err, 0, sizeof(err));
	n = read(pfd[0], err, sizeof(err) - 1);
	close(pfd[0]);
	waitpid(pid, &status, 0);
	ok(n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "nobody: child reported");
	snprintf(want, sizeof(want), "%s: bind: permission denied", spec);
	is_str(err, want, "nobody: bind in a root-only directory");
}

/* test_unix_dirs - the directory made for a socket, one others may
 * write to refused, and the mode kept whatever the umask */
static void
test_unix_dirs(const char *dir)
{
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	char sub[300], path[400], spec[500], err[512], want[900];
	struct stat st;
	mode_t old;
	int fd;

	/* made, 0750 for a 0660 socket, the socket's owner and group */
	snprintf(sub, sizeof(sub), "%s/made", dir);
	snprintf(path, sizeof(path), "%s/s.sock", sub);
	if (geteuid() == 0 && pw != NULL && gr != NULL)
		snprintf(spec, sizeof(spec), "unix:%s,mode=0660,owner=nobody,"
			 "group=nogroup", path);
	else
		snprintf(spec, sizeof(spec), "unix:%s,mode=0660", path);
	old = umask(027);
	fd = open_spec(spec, err, sizeof(err));
	ok(fd >= 0, "%s: its directory is made %s", spec, fd < 0 ? err : "");
	is_int(file_mode(sub, &st), 0750, "%s: directory mode 0750", spec);
	if (geteuid() == 0 && pw != NULL && gr != NULL)
		ok(st.st_uid == pw->pw_uid && st.st_gid == gr->gr_gid,
		   "%s: directory owned by the socket's owner and group",
		   spec);
	else
		missing(1, "needs root, user nobody and group nogroup");
	is_int(file_mode(path, &st), 0660, "%s: 0660 under umask 027", spec);
	if (fd >= 0)
		close(fd);
	(void)unlink(path);
	(void)rmdir(sub);

	/* a directory others may write to is refused (even sticky) */
	snprintf(sub, sizeof(sub), "%s/open", dir);
	if (mkdir(sub, 0700) < 0 || chmod(sub, 01777) < 0)
		bail_out("mkdir %s: %s", sub, strerror(errno));
	snprintf(path, sizeof(path), "%s/s.sock", sub);
	snprintf(spec, sizeof(spec), "unix:%s,mode=0660", path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: a directory others may write to is refused", spec);
	snprintf(want, sizeof(want), "unix:%s: directory %s is writable by "
		 "others (mode 1777): refusing to put a socket there", path,
		 sub);
	is_str(err, want, "%s: message", spec);
	is_int(lstat(path, &st), -1, "%s: no socket made", spec);
	(void)rmdir(sub);
	umask(old);

	/* listen_unix_own() changes a link planted at the socket's path,
	 * never what it points to */
	if (geteuid() != 0 || pw == NULL) {
		missing(2, "needs root and a user nobody");
		return;
	}
	{
		struct listen_spec ls;
		struct listen_ids ids;
		char target[400];

		snprintf(target, sizeof(target), "%s/target", dir);
		snprintf(path, sizeof(path), "%s/link.sock", dir);
		fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || symlink(target, path) < 0)
			bail_out("link: %s", strerror(errno));
		close(fd);
		snprintf(spec, sizeof(spec), "unix:%s,owner=nobody", path);
		if (listen_parse(spec, &ls, err, sizeof(err)) < 0)
			bail_out("%s", err);
		ids.uid = (unsigned)pw->pw_uid;
		ids.gid = (unsigned)-1;
		err[0] = '\0';
		is_int(listen_unix_own(&ls, &ids, err, sizeof(err)), 0,
		       "listen_unix_own on a symbolic link %s", err);
		ok(stat(target, &st) == 0 && st.st_uid == 0,
		   "the link's target keeps its owner");
		(void)unlink(path);
		(void)unlink(target);
	}
}

/* test_open_unix - modes, owners, stale and live sockets, files */
static void
test_open_unix(void)
{
	char tmpl[] = "/tmp/elemta-t0013-XXXXXX";
	char *dir, path[300], spec[400], err[512], want[800], buf[64];
	struct passwd *pw = getpwnam("nobody");
	struct group *gr;
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, fd2, s;

	if ((dir = mkdtemp(tmpl)) == NULL || chmod(dir, 0755) < 0)
		bail_out("mkdtemp: %s", strerror(errno));

	/* mode=0660 whatever the umask */
	old = umask(022);
	snprintf(path, sizeof(path), "%s/mode.sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s,mode=0660", path);
	fd = open_spec(spec, err, sizeof(err));
	if (!ok(fd >= 0, "listen_open %s", spec))
		diag("  error: %s", err);
	is_int(file_mode(path, &st), 0660, "%s: mode 0660", spec);
	ok(S_ISSOCK(st.st_mode), "%s: a socket", spec);
	ok(fd >= 0 && fd_flags_ok(fd), "%s: non-blocking, close-on-exec",
	   spec);
	is_int(connect_unix(path), 0, "%s: a client connects", spec);

	/* a live socket is in use, and is left alone */
	snprintf(spec, sizeof(spec), "unix:%s", path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: a live socket is not replaced", spec);
	snprintf(want, sizeof(want), "%s: address already in use (a process "
		 "is listening on %s)", spec, path);
	is_str(err, want, "%s: message", spec);
	is_int(connect_unix(path), 0, "%s: the first listener still works",
	       spec);
	if (fd >= 0)
		close(fd);

	/* no mode: what the umask makes */
	umask(077);
	snprintf(path, sizeof(path), "%s/umask.sock", dir);
	snprintf(spec, sizeof(spec), "local:%s", path);
	fd = open_spec(spec, err, sizeof(err));
	ok(fd >= 0, "listen_open %s %s", spec, fd < 0 ? err : "");
	is_int(file_mode(path, &st), 0700, "%s: umask 077 gives 0700", spec);
	if (fd >= 0)
		close(fd);
	umask(old);

	/* a stale socket (nobody listens) is replaced */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strnlen(path, sizeof(sun.sun_path) - 1));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(s >= 0 && bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	   "a stale socket file exists");
	if (s >= 0)
		close(s);
	is_int(connect_unix(path), -1, "nobody listens on it");
	snprintf(spec, sizeof(spec), "unix:%s,mode=0600", path);
	fd = open_spec(spec, err, sizeof(err));
	ok(fd >= 0, "%s: the stale socket is replaced %s", spec,
	   fd < 0 ? err : "");
	is_int(connect_unix(path), 0, "%s: a client connects", spec);
	is_int(file_mode(path, &st), 0600, "%s: mode 0600", spec);
	if (fd >= 0)
		close(fd);

	/* a regular file is never removed */
	snprintf(path, sizeof(path), "%s/precious", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok(fd >= 0 && write(fd, "precious\n", 9) == 9, "a regular file");
	if (fd >= 0)
		close(fd);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: a regular file is not replaced", spec);
	snprintf(want, sizeof(want), "%s: %s exists and is not a socket; not "
		 "removing it", spec, path);
	is_str(err, want, "%s: message", spec);
	read_file(path, buf, sizeof(buf));
	is_str(buf, "precious\n", "%s: the file is intact", spec);

	/* nor a directory */
	snprintf(path, sizeof(path), "%s/adir", dir);
	if (mkdir(path, 0755) < 0)
		bail_out("mkdir %s: %s", path, strerror(errno));
	snprintf(spec, sizeof(spec), "unix:%s", path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: a directory is not replaced", spec);
	like_str(err, "exists and is not a socket", "%s: message", spec);

	/* a missing directory: one level is made, not more */
	snprintf(spec, sizeof(spec), "unix:%s/no/such/dir.sock", dir);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: a missing directory fails", spec);
	snprintf(want, sizeof(want), "%s: mkdir %s/no/such: no such file or "
		 "directory", spec, dir);
	is_str(err, want, "%s: message", spec);
	test_unix_dirs(dir);

	/* unknown owner and group: nothing is created */
	snprintf(path, sizeof(path), "%s/owner.sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s,owner=nosuchuser-elemta",
		 path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: unknown owner fails", spec);
	snprintf(want, sizeof(want), "unix:%s: owner \"nosuchuser-elemta\": "
		 "no such user", path);
	is_str(err, want, "%s: message", spec);
	snprintf(spec, sizeof(spec), "unix:%s,group=nosuchgroup-elemta",
		 path);
	is_int(open_spec(spec, err, sizeof(err)), -1,
	       "%s: unknown group fails", spec);
	snprintf(want, sizeof(want), "unix:%s: group \"nosuchgroup-elemta\": "
		 "no such group", path);
	is_str(err, want, "%s: message", spec);
	is_int(lstat(path, &st), -1, "no socket file left behind");

	/* owner and group, as root */
	gr = getgrnam("nogroup");
	if (geteuid() != 0 || pw == NULL || gr == NULL) {
		missing(6, "needs root, user nobody and group nogroup");
	} else {
		uid_t want_uid = pw->pw_uid;
		gid_t want_gid = gr->gr_gid;

		snprintf(spec, sizeof(spec), "unix:%s,owner=nobody,"
			 "group=nogroup,mode=0660", path);
		fd = open_spec(spec, err, sizeof(err));
		ok(fd >= 0, "%s %s", spec, fd < 0 ? err : "");
		ok(lstat(path, &st) == 0 && st.st_uid == want_uid,
		   "%s: owner nobody", spec);
		ok(st.st_gid == want_gid, "%s: group nogroup", spec);
		is_int(st.st_mode & 07777, 0660, "%s: mode", spec);
		if (fd >= 0)
			close(fd);

		/* numeric ids with no name are taken as ids */
		snprintf(path, sizeof(path), "%s/numeric.sock", dir);
		snprintf(spec, sizeof(spec), "unix:%s,owner=54321,"
			 "group=54322", path);
		fd2 = open_spec(spec, err, sizeof(err));
		ok(fd2 >= 0, "%s %s", spec, fd2 < 0 ? err : "");
		ok(lstat(path, &st) == 0 && st.st_uid == 54321
		   && st.st_gid == 54322, "%s: numeric owner and group",
		   spec);
		if (fd2 >= 0)
			close(fd2);
	}

	test_unix_as_nobody(dir);

	/* clean up what we made */
	{
		static const char *const names[] = {
			"mode.sock", "umask.sock", "stale.sock", "precious",
			"owner.sock", "numeric.sock", "rootonly/denied.sock",
		};
		size_t i;

		snprintf(path, sizeof(path), "%s/adir", dir);
		(void)rmdir(path);
		for (i = 0; i < NELEM(names); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			(void)unlink(path);
		}
		snprintf(path, sizeof(path), "%s/rootonly", dir);
		(void)rmdir(path);
		if (rmdir(dir) < 0)
			diag("rmdir %s: %s", dir, strerror(errno));
	}
}

/* test_open_bad_struct - listen_open on hand-filled nonsense */
static void
test_open_bad_struct(void)
{
	struct listen_spec ls;
	char err[512];

	memset(&ls, 0, sizeof(ls));
	ls.family = LISTEN_INET;
	snprintf(ls.host, sizeof(ls.host), "127.0.0.1");
	ls.port = 70000;
	is_int(listen_open(&ls, 16, err, sizeof(err)), -1,
	       "hand-filled port 70000 refused");
	is_str(err, "inet:127.0.0.1:70000: port out of range (1-65535)",
	       "port 70000: message");
	memset(&ls, 0, sizeof(ls));
	ls.family = LISTEN_UNIX;
	ls.mode = -1;
	is_int(listen_open(&ls, 16, err, sizeof(err)), -1,
	       "hand-filled empty path refused");
	is_str(err, "unix:: bad socket path", "empty path: message");
}

/* sa_of - a sockaddr for a textual address (v4, v6 or "unix") */
static socklen_t
sa_of(const char *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strcmp(a, "unix") == 0) {
		ss->ss_family = AF_UNIX;
		return sizeof(struct sockaddr_un);
	}
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr)
	    == 1) {
		ss->ss_family = AF_INET;
		return sizeof(struct sockaddr_in);
	}
	if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)ss)->sin6_addr)
	    != 1)
		bail_out("sa_of: bad address %s", a);
	ss->ss_family = AF_INET6;
	return sizeof(struct sockaddr_in6);
}

/* Matching: an allow-list (comma-separated), a peer, the answer. */
static const struct {
	const char *nets;
	const char *peer;
	int want;
} match_cases[] = {
	{ "127.0.0.0/8,::1", "127.0.0.1", 1 },
	{ "127.0.0.0/8,::1", "127.255.0.9", 1 },
	{ "127.0.0.0/8,::1", "::1", 1 },
	{ "127.0.0.0/8,::1", "10.0.0.1", 0 },
	{ "127.0.0.0/8,::1", "::2", 0 },
	{ "127.0.0.0/8,::1", "::ffff:127.0.0.1", 1 },	/* v4-mapped */
	{ "127.0.0.0/8,::1", "::ffff:10.0.0.1", 0 },
	{ "127.0.0.0/8,::1", "unix", 1 },
	{ "127.0.0.1/32", "127.0.0.2", 0 },
	{ "127.0.0.1/32", "127.0.0.1", 1 },
	{ "192.0.2.0/25", "192.0.2.127", 1 },
	{ "192.0.2.0/25", "192.0.2.128", 0 },
	{ "192.0.2.0/23", "192.0.3.255", 1 },
	{ "192.0.2.0/23", "192.0.4.0", 0 },
	{ "192.0.2.9/0", "203.0.113.5", 1 },		/* /0: all IPv4 */
	{ "192.0.2.9/0", "2001:db8::1", 0 },
	{ "2001:db8::/33", "2001:db8:7fff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "2001:db8::/32", "127.0.0.1", 0 },
	{ "::/0", "::ffff:192.0.2.1", 0 },	/* mapped is IPv4 */
	{ "", "127.0.0.1", 0 },			/* empty list: nobody */
	{ "", "unix", 1 },
};

/* test_net_match - the table above */
static void
test_net_match(void)
{
	struct cidr nets[8];
	struct sockaddr_storage ss;
	char buf[256], err[256], *p, *save = NULL;
	size_t i, n;
	socklen_t len;

	for (i = 0; i < NELEM(match_cases); i++) {
		snprintf(buf, sizeof(buf), "%s", match_cases[i].nets);
		n = 0;
		for (p = strtok_r(buf, ",", &save); p != NULL;
		     p = strtok_r(NULL, ",", &save))
			if (cidr_parse(p, &nets[n++], err,
					     sizeof(err)) < 0)
				bail_out("%s", err);
		len = sa_of(match_cases[i].peer, &ss);
		is_int(listen_net_match(nets, n, (struct sockaddr *)&ss, len),
		       match_cases[i].want, "allow {%s} peer %s",
		       match_cases[i].nets, match_cases[i].peer);
	}
	/* a truncated address never matches */
	len = sa_of("127.0.0.1", &ss);
	cidr_parse("0.0.0.0/0", &nets[0], err, sizeof(err));
	is_int(listen_net_match(nets, 1, (struct sockaddr *)&ss, len - 1), 0,
	       "a short sockaddr does not match");
	is_int(listen_net_match(nets, 1, NULL, 0), 0, "no sockaddr: no match");
}

/* test_peer_check - a real connection over 127.0.0.2 */
static void
test_peer_check(void)
{
	struct sockaddr_in sin;
	struct cidr allow;
	socklen_t len = sizeof(sin);
	char err[256], peer[64];
	int lfd, c, a;

	/* a free port: specs refuse port 0, so bind by hand */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || listen(lfd, 4) < 0)
		bail_out("listen: %s", strerror(errno));
	if (getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		bail_out("getsockname: %s", strerror(errno));
	cidr_parse("127.0.0.1/32", &allow, err, sizeof(err));

	/* from 127.0.0.2: refused */
	c = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
		if (c < 0 || bind(c, (struct sockaddr *)&src,
				  sizeof(src)) < 0)
			bail_out("bind 127.0.0.2: %s", strerror(errno));
	}
	if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || (a = accept(lfd, NULL, NULL)) < 0)
		bail_out("connect: %s", strerror(errno));
	is_int(listen_peer_check(a, &allow, 1, peer, sizeof(peer)), 0,
	       "peer 127.0.0.2 not in 127.0.0.1/32");
	is_str(peer, "127.0.0.2", "peer address for the log");
	{
		struct sockaddr_in src;
		socklen_t slen = sizeof(src);
		char want[64];

		if (getsockname(c, (struct sockaddr *)&src, &slen) < 0)
			bail_out("getsockname: %s", strerror(errno));
		snprintf(want, sizeof(want), "127.0.0.2:%u",
			 ntohs(src.sin_port));
		listen_peer_name(a, peer, sizeof(peer));
		is_str(peer, want, "listen_peer_name: addr:port");
	}
	close(a);
	close(c);

	/* from 127.0.0.1: allowed */
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || (a = accept(lfd, NULL, NULL)) < 0)
		bail_out("connect: %s", strerror(errno));
	is_int(listen_peer_check(a, &allow, 1, peer, sizeof(peer)), 1,
	       "peer 127.0.0.1 in 127.0.0.1/32");
	close(a);
	close(c);

	/* not a socket */
	is_int(listen_peer_check(999, &allow, 1, peer, sizeof(peer)), -1,
	       "a closed descriptor: -1");
	is_str(peer, "unknown", "a closed descriptor: peer unknown");
	listen_peer_name(999, peer, sizeof(peer));
	is_str(peer, "unknown", "listen_peer_name: a closed descriptor");
	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			bail_out("socketpair: %s", strerror(errno));
		listen_peer_name(sv[0], peer, sizeof(peer));
		is_str(peer, "unix", "listen_peer_name: a unix socket");
		close(sv[0]);
		close(sv[1]);
	}
	close(lfd);
}

int
main(void)
{
	plan_lazy();
	test_good();
	test_bad();
	test_limits();
	test_format_buffers();
	test_open_inet();
	test_open_unix();
	test_open_bad_struct();
	test_net_match();
	test_peer_check();
	done_testing();
	return exit_status();
}
