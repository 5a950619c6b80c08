/*++
 * NAME
 *	listen-open 3
 * SUMMARY
 *	open the listening socket a parsed spec names
 * DESCRIPTION
 *	See listen.h.  listen_open() never removes anything but a stale
 *	socket: a path that exists and is not a socket is left alone, and
 *	a socket that a live process still accepts on is reported as in
 *	use.  The mode of a unix socket is the umask's at bind() (set to
 *	give exactly the spec's mode), its owner and group are set
 *	between bind() and listen() without following links, so no
 *	client can connect while they are not yet the spec's.  A socket's
 *	directory must not be writable by others; a missing one (the last
 *	level only) is made, with the socket's owner and group.
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

#include "listen.h"
#include "xalloc.h"

#define LISTEN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define LISTEN_ERRBUF	128
#define LISTEN_NAMEBUF	300	/* a formatted spec: "inet6:[" host "]:port" */

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

/* listen_inet_addr - the address an inet or inet6 spec binds: its host
 * (resolved) or any address, and its port; 0, or -1 with err */
static int
listen_inet_addr(const struct listen_spec *ls, const char *name,
		 struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		 size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	int family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
	char ebuf[LISTEN_ERRBUF];
	int e;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
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
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	} else if (family == AF_INET6) {
		sin6->sin6_addr = in6addr_any;
	} else {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (family == AF_INET6) {
		sin6->sin6_port = htons((uint16_t)ls->port);
		*sslen = sizeof(*sin6);
	} else {
		sin->sin_port = htons((uint16_t)ls->port);
		*sslen = sizeof(*sin);
	}
	return 0;
}

/* listen_open_inet - bind and listen on an inet or inet6 address */
static int
listen_open_inet(const struct listen_spec *ls, int backlog,
		 const char *name, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
	socklen_t sslen;
	char ebuf[LISTEN_ERRBUF];
	int fd, on = 1, e;

	if (listen_inet_addr(ls, name, &ss, &sslen, err, errlen) < 0)
		return -1;
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
