/*++
 * NAME
 *	lmtp-client 3
 * SUMMARY
 *	LMTP client side: one transaction into a backend (Dovecot)
 * DESCRIPTION
 *	See lmtp-client.h.  Blocking I/O on a non-blocking socket with
 *	poll(): each connection thread of the daemon runs its deliveries
 *	itself, so there is no shared state here.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "lmtp-client.h"
#include "xalloc.h"

#define LMTP_MAX_REPLY_LINES 100
#define LMTP_MAX_REPLY_LINE 4096

struct lmtp_conn {
	int fd;
	struct lmtp_delivery *d;
	char rbuf[8192];
	size_t rlen, rpos;
	char wbuf[65536];
	size_t wlen;
};

/* lmtp_client_now - monotonic seconds */
double
lmtp_client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* lmtp_wait_ms - how long the next wait may take: min(limit, deadline) */
static int
lmtp_wait_ms(const struct lmtp_delivery *d, int limit)
{
	double left = d->deadline - lmtp_client_now();

	if (left > limit)
		left = limit;
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* lmtp_poll - wait for fd; 1 ready, 0 timeout, -1 error */
static int
lmtp_poll(struct lmtp_conn *c, short events, int limit)
{
	struct pollfd pfd = { c->fd, events, 0 };
	int ms, n;

	for (;;) {
		if ((ms = lmtp_wait_ms(c->d, limit)) <= 0)
			return 0;
		n = poll(&pfd, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : n;
	}
}

/* lmtp_connect - connect to the backend; 0 or -1 with d->err */
static int
lmtp_connect(struct lmtp_conn *c)
{
	struct lmtp_delivery *d = c->d;
	struct listen_spec ls;
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	char port[16], perr[256];
	socklen_t slen;
	int rc, soerr;

	if (listen_parse(d->backend, &ls, perr, sizeof(perr)) < 0) {
		x_err(d->err, sizeof(d->err), "%s", perr);
		return -1;
	}
	if (ls.family == LISTEN_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ls.path);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
			       | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			goto sys;
		rc = connect(c->fd, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = ls.family == LISTEN_INET6 ? AF_INET6 : AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", ls.port);
		if ((rc = getaddrinfo(ls.host, port, &hints, &res)) != 0) {
			x_err(d->err, sizeof(d->err), "%s: %s", ls.host,
			      gai_strerror(rc));
			return -1;
		}
		ai = res;
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
			       | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			freeaddrinfo(res);
			goto sys;
		}
		rc = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(res);
	}
	if (rc < 0 && errno != EINPROGRESS)
		goto sys;
	if (rc < 0) {
		rc = lmtp_poll(c, POLLOUT, d->connect_timeout);
		if (rc == 0) {
			x_err(d->err, sizeof(d->err), "connect: timed out");
			return -1;
		}
		slen = sizeof(soerr);
		if (rc < 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
					 &slen) < 0)
			goto sys;
		if (soerr != 0) {
			errno = soerr;
			goto sys;
		}
	}
	return 0;
sys:
	x_err(d->err, sizeof(d->err), "connect: %s", strerror(errno));
	return -1;
}

/* lmtp_flush - write the buffered commands; 0 or -1 */
static int
lmtp_flush(struct lmtp_conn *c)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < c->wlen) {
		n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = lmtp_poll(c, POLLOUT, c->d->command_timeout);
			if (rc > 0)
				continue;
			x_err(c->d->err, sizeof(c->d->err), "write: %s",
			      rc == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		x_err(c->d->err, sizeof(c->d->err), "write: %s",
		      n < 0 ? strerror(errno) : "closed");
		return -1;
	}
	c->wlen = 0;
	return 0;
}

/* lmtp_put - buffer bytes for the backend */
static int
lmtp_put(struct lmtp_conn *c, const char *buf, size_t len)
{
	size_t n;

	while (len > 0) {
		if (c->wlen == sizeof(c->wbuf) && lmtp_flush(c) < 0)
			return -1;
		n = sizeof(c->wbuf) - c->wlen;
		if (n > len)
			n = len;
		memcpy(c->wbuf + c->wlen, buf, n);
		c->wlen += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* lmtp_putf - buffer a formatted command */
static int ATTR_PRINTF(2, 3)
lmtp_putf(struct lmtp_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	s = x_vasprintf(fmt, ap);
	va_end(ap);
	rc = lmtp_put(c, s, strlen(s));
	x_free(&s);
	return rc;
}

/* lmtp_getc - one byte from the backend; -1 on error/timeout/EOF */
static int
lmtp_getc(struct lmtp_conn *c)
{
	ssize_t n;
	int rc;

	while (c->rpos == c->rlen) {
		n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
		if (n > 0) {
			c->rlen = (size_t)n;
			c->rpos = 0;
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = lmtp_poll(c, POLLIN, c->d->command_timeout);
			if (rc > 0)
				continue;
			x_err(c->d->err, sizeof(c->d->err), "read: %s",
			      rc == 0 ? "timed out" : strerror(errno));
			return -1;
		}
		x_err(c->d->err, sizeof(c->d->err), "read: %s",
		      n < 0 ? strerror(errno) : "connection closed");
		return -1;
	}
	return (unsigned char)c->rbuf[c->rpos++];
}

/* lmtp_read_reply - one (multi-line) reply, fixed up; NULL on failure
 * (d->err says why) */
static char *
lmtp_read_reply(struct lmtp_conn *c)
{
	char line[LMTP_MAX_REPLY_LINE], *raw = NULL, *fixed;
	size_t len, rlen = 0;
	int ch, nlines = 0, last;

	for (;;) {
		len = 0;
		while ((ch = lmtp_getc(c)) >= 0 && ch != '\n')
			if (len < sizeof(line) - 1)
				line[len++] = (char)ch;
		if (ch < 0) {
			x_free(&raw);
			return NULL;
		}
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		last = len < 4 || line[3] != '-';
		raw = x_realloc(raw, rlen + len + 2);
		rlen += (size_t)sprintf(raw + rlen, "%s%s", rlen ? "\n" : "",
				       line);
		if (last || ++nlines >= LMTP_MAX_REPLY_LINES)
			break;
	}
	fixed = lmtp_reply_fix(raw);
	if (fixed == NULL)
		x_err(c->d->err, sizeof(c->d->err), "bad reply: %.100s", raw);
	x_free(&raw);
	return fixed;
}

/* lmtp_fail_rest - reply to every recipient that has no reply yet */
static void
lmtp_fail_rest(struct lmtp_delivery *d, const char *reply)
{
	size_t i;

	for (i = 0; i < d->nrcpts; i++)
		if (d->rcpts[i].reply == NULL)
			d->rcpts[i].reply = x_strdup(reply);
}

/* lmtp_caps - the extensions a LHLO reply advertises */
struct lmtp_caps {
	int pipelining, size, eightbit, dsn, smtputf8;
};

/* lmtp_parse_caps - read extensions from the LHLO reply lines */
static void
lmtp_parse_caps(const char *reply, struct lmtp_caps *caps)
{
	const char *line = reply, *kw;
	size_t n;

	memset(caps, 0, sizeof(*caps));
	while (line != NULL) {
		/* "250 2.0.0 KEYWORD ..." after lmtp_reply_fix */
		kw = line + strcspn(line, " ");
		kw += strspn(kw, " ");
		kw += strcspn(kw, " ");
		kw += strspn(kw, " ");
		n = strcspn(kw, " \n");
#define CAP(name) (n == sizeof(name) - 1 && strncasecmp(kw, name, n) == 0)
		if (CAP("PIPELINING"))
			caps->pipelining = 1;
		else if (CAP("SIZE"))
			caps->size = 1;
		else if (CAP("8BITMIME"))
			caps->eightbit = 1;
		else if (CAP("DSN"))
			caps->dsn = 1;
		else if (CAP("SMTPUTF8"))
			caps->smtputf8 = 1;
#undef CAP
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
}

/* lmtp_send_body - prepend, the body dot-stuffed, the final dot */
static int
lmtp_send_body(struct lmtp_conn *c)
{
	struct lmtp_delivery *d = c->d;
	char buf[32768];
	long long off = 0;
	ssize_t n, i, start;
	int bol = 1;
	char last = '\n', prev = '\r';

	if (d->prepend != NULL && lmtp_put(c, d->prepend, strlen(d->prepend)) < 0)
		return -1;
	while ((n = lmtp_spool_read(d->spool, off, buf, sizeof(buf))) > 0) {
		for (start = 0, i = 0; i < n; i++) {
			if (bol && buf[i] == '.') {
				if (lmtp_put(c, buf + start,
					     (size_t)(i - start)) < 0
				    || lmtp_put(c, ".", 1) < 0)
					return -1;
				start = i;
			}
			bol = buf[i] == '\n' && (i > 0 ? buf[i - 1] : last) == '\r';
		}
		if (lmtp_put(c, buf + start, (size_t)(n - start)) < 0)
			return -1;
		prev = n > 1 ? buf[n - 2] : last;
		last = buf[n - 1];
		off += n;
	}
	if (n < 0) {
		x_err(d->err, sizeof(d->err), "%s",
		      lmtp_spool_error(d->spool));
		return -1;
	}
	/* the body must end with CRLF before the final dot */
	if (off > 0 && !(last == '\n' && prev == '\r')
	    && lmtp_put(c, "\r\n", 2) < 0)
		return -1;
	if (lmtp_put(c, ".\r\n", 3) < 0)
		return -1;
	return lmtp_flush(c);
}

/* lmtp_client_deliver - one transaction */
void
lmtp_client_deliver(struct lmtp_delivery *d)
{
	struct lmtp_conn *c = x_calloc(1, sizeof(*c));
	const struct lmtp_envelope *e = d->env;
	struct lmtp_caps caps;
	char *r = NULL, *ok;
	size_t i, naccepted = 0;
	long long size;

	c->fd = -1;
	c->d = d;
	d->err[0] = '\0';
	d->data_sent = 0;
	ok = x_calloc(d->nrcpts ? d->nrcpts : 1, 1);
	if (lmtp_connect(c) < 0)
		goto unavailable;
	if ((r = lmtp_read_reply(c)) == NULL)
		goto unavailable;
	if (r[0] != '2') {
		x_err(d->err, sizeof(d->err), "greeting: %.200s", r);
		goto unavailable;
	}
	x_free(&r);
	if (lmtp_putf(c, "LHLO %s\r\n", d->helo) < 0 || lmtp_flush(c) < 0
	    || (r = lmtp_read_reply(c)) == NULL)
		goto unavailable;
	if (r[0] != '2') {
		x_err(d->err, sizeof(d->err), "LHLO: %.200s", r);
		goto unavailable;
	}
	lmtp_parse_caps(r, &caps);
	x_free(&r);
	if (e->smtputf8 && !caps.smtputf8) {
		x_err(d->err, sizeof(d->err), "SMTPUTF8 not offered");
		r = x_asprintf("555 5.6.7 SMTPUTF8 is required, but was not "
			       "offered by backend %s", d->backend);
		lmtp_fail_rest(d, r);
		goto quit;
	}
	/* MAIL and the RCPTs: one write when the backend pipelines */
	size = lmtp_spool_size(d->spool)
		+ (d->prepend ? (long long)strlen(d->prepend) : 0);
	if (lmtp_putf(c, "MAIL FROM:<%s>", e->sender) < 0
	    || (caps.size && lmtp_putf(c, " SIZE=%lld", size) < 0)
	    || (caps.eightbit && e->body == LMTP_BODY_8BITMIME
		&& lmtp_putf(c, " BODY=8BITMIME") < 0)
	    || (caps.eightbit && e->body == LMTP_BODY_7BIT
		&& lmtp_putf(c, " BODY=7BIT") < 0)
	    || (e->smtputf8 && lmtp_putf(c, " SMTPUTF8") < 0)
	    || (caps.dsn && e->ret && lmtp_putf(c, " RET=%s", e->ret) < 0)
	    || (caps.dsn && e->envid
		&& lmtp_putf(c, " ENVID=%s", e->envid) < 0)
	    || lmtp_put(c, "\r\n", 2) < 0)
		goto unavailable;
	if (!caps.pipelining && lmtp_flush(c) < 0)
		goto unavailable;
	if (!caps.pipelining) {
		if ((r = lmtp_read_reply(c)) == NULL)
			goto unavailable;
		if (r[0] != '2')
			goto mail_refused;
		x_free(&r);
	}
	for (i = 0; i < d->nrcpts; i++) {
		struct lmtp_client_rcpt *rc = &d->rcpts[i];

		if (lmtp_putf(c, "RCPT TO:<%s>", rc->addr) < 0
		    || (caps.dsn && rc->notify
			&& lmtp_putf(c, " NOTIFY=%s", rc->notify) < 0)
		    || (caps.dsn && rc->orcpt
			&& lmtp_putf(c, " ORCPT=%s", rc->orcpt) < 0)
		    || lmtp_put(c, "\r\n", 2) < 0)
			goto unavailable;
		if (caps.pipelining)
			continue;
		if (lmtp_flush(c) < 0 || (r = lmtp_read_reply(c)) == NULL)
			goto unavailable;
		if (r[0] == '2')
			ok[i] = 1, naccepted++, x_free(&r);
		else
			rc->reply = r, r = NULL;
	}
	if (caps.pipelining) {
		if (lmtp_flush(c) < 0 || (r = lmtp_read_reply(c)) == NULL)
			goto unavailable;
		if (r[0] != '2')
			goto mail_refused;
		x_free(&r);
		for (i = 0; i < d->nrcpts; i++) {
			if ((r = lmtp_read_reply(c)) == NULL)
				goto unavailable;
			if (r[0] == '2')
				ok[i] = 1, naccepted++, x_free(&r);
			else
				d->rcpts[i].reply = r, r = NULL;
		}
	}
	if (naccepted == 0)
		goto quit;
	if (lmtp_put(c, "DATA\r\n", 6) < 0 || lmtp_flush(c) < 0
	    || (r = lmtp_read_reply(c)) == NULL)
		goto unavailable;
	if (strncmp(r, "354", 3) != 0) {
		if (r[0] == '2') {	/* nonsense: not a delivery */
			x_err(d->err, sizeof(d->err), "DATA: %.200s", r);
			goto unavailable;
		}
		x_err(d->err, sizeof(d->err), "DATA: %.200s", r);
		for (i = 0; i < d->nrcpts; i++)
			if (d->rcpts[i].reply == NULL)
				d->rcpts[i].reply = x_strdup(r);
		goto quit;
	}
	x_free(&r);
	/* Until the final dot is written, nothing can have been delivered. */
	if (lmtp_send_body(c) < 0)
		goto unavailable;
	d->data_sent = 1;
	for (i = 0; i < d->nrcpts; i++) {
		if (!ok[i])
			continue;
		if ((r = lmtp_read_reply(c)) == NULL)
			break;
		d->rcpts[i].reply = r;
		r = NULL;
	}
	if (i < d->nrcpts) {
		r = x_asprintf("451 4.4.2 Backend %s: delivery status unknown "
			       "after end of data (%s)", d->backend, d->err);
		lmtp_fail_rest(d, r);
		goto out;
	}
	goto quit;
mail_refused:
	x_err(d->err, sizeof(d->err), "MAIL: %.200s", r);
	for (i = 0; i < d->nrcpts; i++)
		if (d->rcpts[i].reply == NULL)
			d->rcpts[i].reply = x_strdup(r);
	goto quit;
unavailable:
	x_free(&r);
	r = x_asprintf("451 4.4.1 Backend %s unavailable (%s)", d->backend,
		       d->err);
	lmtp_fail_rest(d, r);
	goto out;
quit:
	if (lmtp_put(c, "QUIT\r\n", 6) == 0)
		(void)lmtp_flush(c);
out:
	x_free(&r);
	x_free(&ok);
	if (c->fd >= 0)
		close(c->fd);
	x_free(&c);
}
