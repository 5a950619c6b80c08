/*++
 * NAME
 *	milter-clamd 3
 * SUMMARY
 *	the ClamAV stage's other back end: clamd's INSTREAM
 * DESCRIPTION
 *	For hosts that already run clamd (docker-mailserver does): one
 *	engine for the host instead of a second one in the milter.  One
 *	connection per message to clamav_clamd ("unix:/run/clamav/
 *	clamd.ctl" or "inet:127.0.0.1:3310", lib/listen's spelling), the
 *	message's copy sent as "zINSTREAM" chunks (a 4-byte length in
 *	network order, then the bytes; a zero length ends it), one reply:
 *
 *		stream: OK
 *		stream: Eicar-Signature FOUND
 *		INSTREAM size limit exceeded. ERROR
 *
 *	The last is clamd's StreamMaxLength (25 MB by default): a message
 *	over it is an error (clamav_fail_action), and the log says to keep
 *	scan_max_size below it.  Every step (connect, each write, the
 *	reply) is bounded by clamav_clamd_timeout all together.
 *
 *	clamd_version asks clamd's VERSION, whose reply names the database
 *	when clamd has a daily.cvd (or .cld, .cud) loaded:
 *
 *		ClamAV 1.4.6/27123/Sat Dec  5 04:42:57 2026
 *		ClamAV 1.4.6				(no daily database)
 *
 *	the date in clamd's local time (ctime), read back here in ours:
 *	the same host's, or the same zone, is assumed.
 *
 *	Returns errors in the caller's buffer and never logs (the stage
 *	does, with the queue id).
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "listen.h"
#include "milter-clamav.h"
#include "xalloc.h"

#define CLAMD_CHUNK	65536
#define CLAMD_REPLY_MAX	1024

/* clamd_wait - wait for events on fd until the deadline (ms, monotonic);
 * 0, or -1 with errno ETIMEDOUT */
static int
clamd_wait(int fd, short events, double deadline)
{
	struct pollfd pfd;
	long ms;
	int n;

	for (;;) {
		ms = (long)((deadline - clock_mono_s()) * 1000);
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		if ((n = poll(&pfd, 1, (int)ms)) > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* clamd_connect_addr - a non-blocking connect to sa, within deadline */
static int
clamd_connect_addr(const struct sockaddr *sa, socklen_t salen, double deadline)
{
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK
			 | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno == EINPROGRESS && clamd_wait(fd, POLLOUT, deadline) == 0
	    && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0) {
		if (soerr == 0)
			return fd;
		errno = soerr;
	}
	soerr = errno;
	(void)close(fd);
	errno = soerr;
	return -1;
}

/* clamd_connect - a connection to spec; the descriptor, or -1 with err */
static int
clamd_connect(const char *spec, double deadline, char *err, size_t errlen)
{
	struct listen_spec ls;
	struct sockaddr_un sun;
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, rc;

	if (listen_parse(spec, &ls, err, errlen) < 0)
		return -1;
	if (ls.family == LISTEN_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ls.path);
		if ((fd = clamd_connect_addr((struct sockaddr *)&sun,
					     sizeof(sun), deadline)) < 0)
			x_err(err, errlen, "connect %s: %s", spec,
			      strerror(errno));
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", ls.port);
	if ((rc = getaddrinfo(ls.host[0] ? ls.host : "127.0.0.1", port,
			      &hints, &res)) != 0) {
		x_err(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = clamd_connect_addr(ai->ai_addr, ai->ai_addrlen, deadline);
	if (fd < 0)
		x_err(err, errlen, "connect %s: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/* clamd_send - all of p, within the deadline; 0, or -1 with errno */
static int
clamd_send(int fd, const unsigned char *p, size_t len, double deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (clamd_wait(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* clamd_stream - the INSTREAM command and the message; 0, or -1 with
 * errno (clamd may have stopped reading: its reply says why) */
static int
clamd_stream(int fd, const unsigned char *p, size_t len, double deadline)
{
	static const unsigned char cmd[] = "zINSTREAM";	/* NUL included */
	unsigned char hdr[4];
	size_t n;
	uint32_t be;

	if (clamd_send(fd, cmd, sizeof(cmd), deadline) < 0)
		return -1;
	do {
		n = len < CLAMD_CHUNK ? len : CLAMD_CHUNK;
		be = htonl((uint32_t)n);
		memcpy(hdr, &be, sizeof(hdr));
		if (clamd_send(fd, hdr, sizeof(hdr), deadline) < 0
		    || clamd_send(fd, p, n, deadline) < 0)
			return -1;
		p += n;
		len -= n;
	} while (n > 0);		/* the zero length ends it */
	return 0;
}

/* clamd_reply - the NUL-terminated reply into buf; 0, or -1 */
static int
clamd_reply(int fd, char *buf, size_t size, double deadline)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size) {
		if (clamd_wait(fd, POLLIN, deadline) < 0)
			return -1;
		n = recv(fd, buf + len, size - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\0', (size_t)n) != NULL)
			break;
	}
	buf[len] = '\0';
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0) {
		errno = ECONNRESET;
		return -1;
	}
	return 0;
}

/* clamd_verdict - a reply's meaning (see clamd_scan) */
static int
clamd_verdict(const char *reply, char *name, size_t namelen, char *err,
	      size_t errlen)
{
	const char *r = reply, *colon = strchr(reply, ':');
	size_t len;

	if (colon != NULL && strncmp(reply, "stream", 6) == 0)
		r = colon + 1 + (colon[1] == ' ');
	len = strlen(r);
	if (strcmp(r, "OK") == 0)
		return CLAMD_CLEAN;
	if (len > 6 && strcmp(r + len - 6, " FOUND") == 0) {
		snprintf(name, namelen, "%.*s", (int)(len - 6), r);
		return CLAMD_VIRUS;
	}
	if (strstr(r, "size limit exceeded") != NULL)
		x_err(err, errlen, "clamd: %s (clamd's StreamMaxLength is "
		      "under the message's size: keep scan_max_size below "
		      "it)", r);
	else
		x_err(err, errlen, "clamd: %.200s", r);
	return CLAMD_ERROR;
}

/* clamd_scan - see milter-clamav.h */
int
clamd_scan(const char *spec, long timeout_s, const unsigned char *p,
	   size_t len, char *name, size_t namelen, char *err, size_t errlen)
{
	double deadline = clock_mono_s() + (double)timeout_s;
	char reply[CLAMD_REPLY_MAX];
	int fd, sent, saved;

	if ((fd = clamd_connect(spec, deadline, err, errlen)) < 0)
		return CLAMD_ERROR;
	sent = clamd_stream(fd, p, len, deadline);
	saved = errno;
	/* a clamd that stopped reading has said why */
	if (clamd_reply(fd, reply, sizeof(reply), deadline) < 0) {
		x_err(err, errlen, "clamd %s: %s", spec,
		      strerror(sent < 0 ? saved : errno));
		(void)close(fd);
		return CLAMD_ERROR;
	}
	(void)close(fd);
	return clamd_verdict(reply, name, namelen, err, errlen);
}

/* clamd_version_parse - a VERSION reply: its engine version into
 * engine, the database's version and build time (0 and 0 when the reply
 * names none); 0, or -1 for a reply that is not one */
int
clamd_version_parse(const char *reply, char *engine, size_t enginelen,
		    unsigned long *dbver, time_t *dbtime)
{
	const char *p, *slash, *date;
	char *end;
	struct tm tm;

	*dbver = 0;
	*dbtime = 0;
	if (strncmp(reply, "ClamAV ", 7) != 0)
		return -1;
	p = reply + 7;
	if ((slash = strchr(p, '/')) == NULL) {
		snprintf(engine, enginelen, "%.*s", (int)strcspn(p, " "), p);
		return 0;
	}
	snprintf(engine, enginelen, "%.*s", (int)(slash - p), p);
	errno = 0;
	*dbver = strtoul(slash + 1, &end, 10);
	if (errno != 0 || end == slash + 1 || *end != '/')
		return -1;
	date = end + 1;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(date, "%a %b %d %H:%M:%S %Y", &tm)) == NULL
	    || *end != '\0')
		return -1;
	tm.tm_isdst = -1;
	if ((*dbtime = mktime(&tm)) == (time_t)-1)
		return -1;
	return 0;
}

/* clamd_version - see milter-clamav.h */
int
clamd_version(const char *spec, long timeout_s, char *reply,
	      size_t replylen, char *err, size_t errlen)
{
	static const unsigned char cmd[] = "zVERSION";	/* NUL included */
	double deadline = clock_mono_s() + (double)timeout_s;
	int fd;

	if ((fd = clamd_connect(spec, deadline, err, errlen)) < 0)
		return -1;
	if (clamd_send(fd, cmd, sizeof(cmd), deadline) < 0
	    || clamd_reply(fd, reply, replylen, deadline) < 0) {
		x_err(err, errlen, "clamd %s: VERSION: %s", spec,
		      strerror(errno));
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}
