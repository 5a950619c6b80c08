/*++
 * NAME
 *	lmtp-client 3
 * SUMMARY
 *	LMTP client side: one transaction into a backend (Dovecot)
 * DESCRIPTION
 *	See lmtp-client.h.  Blocking I/O on a non-blocking socket with
 *	poll(), run by one thread per backend; the only shared state is
 *	the pool of idle connections (lmtp-pool.c), under its mutex.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "listen.h"
#include "lmtp-client.h"
#include "lmtp-pool.h"
#include "lmtp-wire.h"
#include "xalloc.h"

struct lmtp_conn {
	int fd;
	struct lmtp_delivery *d;
	const char *addr;	/* the address of this connection */
	struct lmtp_caps caps;
	int broken;		/* an I/O error or timeout: never pool */
	char *data_reply;	/* the reply to a pipelined DATA, or NULL */
	char rbuf[8192];
	size_t rlen, rpos;
	char wbuf[65536];
	size_t wlen;
};

/* lmtp_wait_ms - how long the next wait may take: min(limit, deadline) */
static int
lmtp_wait_ms(const struct lmtp_delivery *d, int limit)
{
	double left = d->deadline - clock_mono_s();

	if (left > limit)
		left = limit;
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* lmtp_expired - is the delivery's deadline past?  Asked before every
 * read and write, not only when one would block: a backend that never
 * stops sending (a reply with no line end) keeps recv() from ever
 * blocking, so the poll() of lmtp_poll, which alone asked, never came */
static int
lmtp_expired(const struct lmtp_delivery *d)
{
	return clock_mono_s() >= d->deadline;
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

/* lmtp_connect_start - a non-blocking socket to ls, its connect()
 * begun: connect's result (0, or -1 with errno, EINPROGRESS as a rule;
 * also -1 when no socket), or -2 with d->err (the name unresolved) */
static int
lmtp_connect_start(struct lmtp_conn *c, const struct listen_spec *ls)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_un sun;
	char port[16];
	int rc;

	if (ls->family == LISTEN_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ls->path);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
			       | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return -1;
		return connect(c->fd, (struct sockaddr *)&sun, sizeof(sun));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", ls->port);
	if ((rc = getaddrinfo(ls->host, port, &hints, &res)) != 0) {
		x_err(c->d->err, sizeof(c->d->err), "%s: %s", ls->host,
		      gai_strerror(rc));
		return -2;
	}
	c->fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK
		       | SOCK_CLOEXEC, 0);
	rc = c->fd < 0 ? -1 : connect(c->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return rc;
}

/* lmtp_connect - connect to the backend; 0 or -1 with d->err */
static int
lmtp_connect(struct lmtp_conn *c)
{
	struct lmtp_delivery *d = c->d;
	struct listen_spec ls;
	char perr[256];
	socklen_t slen;
	int rc, soerr;

	if (listen_parse(c->addr, &ls, perr, sizeof(perr)) < 0) {
		x_err(d->err, sizeof(d->err), "%s", perr);
		return -1;
	}
	if ((rc = lmtp_connect_start(c, &ls)) == -2)
		return -1;
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
		if (lmtp_expired(c->d)) {
			x_err(c->d->err, sizeof(c->d->err), "write: timed out");
			c->broken = 1;
			return -1;
		}
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
			c->broken = 1;
			return -1;
		}
		x_err(c->d->err, sizeof(c->d->err), "write: %s",
		      n < 0 ? strerror(errno) : "closed");
		c->broken = 1;
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
		if (lmtp_expired(c->d)) {
			x_err(c->d->err, sizeof(c->d->err), "read: timed out");
			c->broken = 1;
			return -1;
		}
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
			c->broken = 1;
			return -1;
		}
		x_err(c->d->err, sizeof(c->d->err), "read: %s",
		      n < 0 ? strerror(errno) : "connection closed");
		c->broken = 1;
		return -1;
	}
	return (unsigned char)c->rbuf[c->rpos++];
}

/* lmtp_read_reply - one (multi-line) reply to cmd, fixed up; NULL on
 * failure (d->err says why).  LMTP has one intermediate reply, 354 to
 * DATA; any other 3xx (or a 354 to anything but DATA) is a protocol
 * error of the backend, handled as garbage is: the connection is broken
 * and the recipients concerned get a 4xx, never the 3xx as if it were
 * final.  A NULL cmd takes any reply (replies read only to drop them).
 * The parsing is lmtp-wire.c's. */
static char *
lmtp_read_reply(struct lmtp_conn *c, const char *cmd)
{
	struct lmtp_reply_reader rr;
	char *fixed;
	int ch;

	memset(&rr, 0, sizeof(rr));
	do {
		if ((ch = lmtp_getc(c)) < 0) {
			lmtp_reply_reader_clear(&rr);
			return NULL;
		}
	} while (!lmtp_reply_reader_byte(&rr, ch));
	fixed = lmtp_reply_reader_take(&rr, cmd, c->d->err,
				       sizeof(c->d->err));
	if (fixed == NULL)
		c->broken = 1;
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


/* lmtp_out - an lmtp_out_fn into the connection's buffer */
static int
lmtp_out(void *ctx, const char *buf, size_t len)
{
	return lmtp_put(ctx, buf, len);
}

/* lmtp_send_body - prepend, the body dot-stuffed (lmtp-wire.c: after
 * any LF, CRLF or bare, as the backend reads the bytes), the final dot */
static int
lmtp_send_body(struct lmtp_conn *c)
{
	struct lmtp_delivery *d = c->d;
	struct lmtp_stuff st;
	char buf[32768];
	long long off = 0;
	ssize_t n;

	if (d->prepend != NULL && lmtp_put(c, d->prepend, strlen(d->prepend)) < 0)
		return -1;
	lmtp_stuff_init(&st);
	while ((n = lmtp_spool_read(d->spool, off, buf, sizeof(buf), d->err,
				    sizeof(d->err))) > 0) {
		if (lmtp_stuff_put(&st, buf, (size_t)n, lmtp_out, c) < 0)
			return -1;
		off += n;
	}
	if (n < 0)
		return -1;		/* d->err says why */
	if (lmtp_stuff_end(&st, lmtp_out, c) < 0)
		return -1;
	return lmtp_flush(c);
}


/* The outcome of one attempt on one address. */
enum lmtp_attempt {
	LMTP_DONE,		/* every recipient has its reply */
	LMTP_RETRY,		/* nothing sent past RCPT: try the next one */
};

/* lmtp_reset_replies - forget the replies of a failed attempt */
static void
lmtp_reset_replies(struct lmtp_delivery *d, char *ok)
{
	size_t i;

	for (i = 0; i < d->nrcpts; i++) {
		x_free(&d->rcpts[i].reply);
		ok[i] = 0;
	}
}

/* lmtp_open - a pooled connection that answers RSET, or a new one that
 * greets and answers LHLO; 0, or -1 with d->err */
static int
lmtp_open(struct lmtp_conn *c, int use_pool)
{
	struct lmtp_delivery *d = c->d;
	char *r;

	while (use_pool
	       && (c->fd = lmtp_pool_take(d->pool, c->addr, &c->caps)) >= 0) {
		c->rlen = c->rpos = 0;
		if (lmtp_put(c, "RSET\r\n", 6) == 0 && lmtp_flush(c) == 0
		    && (r = lmtp_read_reply(c, "RSET")) != NULL) {
			if (r[0] == '2') {
				x_free(&r);
				d->reused = 1;
				return 0;
			}
			x_free(&r);
		}
		close(c->fd);		/* stale: the backend timed it out */
		c->fd = -1;
		c->wlen = 0;
		d->err[0] = '\0';
	}
	d->reused = 0;
	c->rlen = c->rpos = 0;
	if (lmtp_connect(c) < 0
	    || (r = lmtp_read_reply(c, "greeting")) == NULL)
		return -1;
	if (r[0] != '2') {
		x_err(d->err, sizeof(d->err), "greeting: %.200s", r);
		x_free(&r);
		return -1;
	}
	x_free(&r);
	if (lmtp_putf(c, "LHLO %s\r\n", d->helo) < 0 || lmtp_flush(c) < 0
	    || (r = lmtp_read_reply(c, "LHLO")) == NULL)
		return -1;
	if (r[0] != '2') {
		x_err(d->err, sizeof(d->err), "LHLO: %.200s", r);
		x_free(&r);
		return -1;
	}
	lmtp_caps_parse(r, &c->caps);
	x_free(&r);
	return 0;
}

/* lmtp_rcpt_reply - read one RCPT reply into recipient i; -1 on failure */
static int
lmtp_rcpt_reply(struct lmtp_conn *c, size_t i, char *ok, size_t *naccepted)
{
	char *r;

	if ((r = lmtp_read_reply(c, "RCPT")) == NULL)
		return -1;
	if (r[0] == '2') {
		ok[i] = 1;
		(*naccepted)++;
		x_free(&r);
	} else {
		c->d->rcpts[i].reply = r;
	}
	return 0;
}

/* lmtp_skip_replies - read and drop n replies; a 354 among them (the
 * server waits for a body nobody will send) spoils the connection */
static void
lmtp_skip_replies(struct lmtp_conn *c, size_t n)
{
	char *r;

	while (n-- > 0 && (r = lmtp_read_reply(c, NULL)) != NULL) {
		if (strncmp(r, "354", 3) == 0)
			c->broken = 1;
		x_free(&r);
	}
}

/* lmtp_mail_refused - a MAIL reply r that is not 2xx: LMTP_RETRY for a
 * 4xx (another address may do), else r for every recipient */
static int
lmtp_mail_refused(struct lmtp_conn *c, char *r)
{
	struct lmtp_delivery *d = c->d;

	x_err(d->err, sizeof(d->err), "MAIL: %.200s", r);
	if (r[0] != '4')
		lmtp_fail_rest(d, r);
	x_free(&r);
	return d->rcpts[0].reply == NULL && d->nrcpts > 0 ? LMTP_RETRY
		: LMTP_DONE;
}

/* lmtp_put_mail - MAIL FROM with the parameters the backend takes
 * (buffered); 0 or -1 */
static int
lmtp_put_mail(struct lmtp_conn *c)
{
	const struct lmtp_delivery *d = c->d;
	const struct lmtp_envelope *e = d->env;
	const struct lmtp_caps *caps = &c->caps;
	long long size;

	size = lmtp_spool_size(d->spool)
		+ (d->prepend ? (long long)strlen(d->prepend) : 0);
	if (lmtp_putf(c, "MAIL FROM:<%s>", e->sender) < 0
	    || (caps->size && lmtp_putf(c, " SIZE=%lld", size) < 0)
	    || (caps->eightbit && e->body == LMTP_BODY_8BITMIME
		&& lmtp_putf(c, " BODY=8BITMIME") < 0)
	    || (caps->eightbit && e->body == LMTP_BODY_7BIT
		&& lmtp_putf(c, " BODY=7BIT") < 0)
	    || (e->smtputf8 && lmtp_putf(c, " SMTPUTF8") < 0)
	    || (caps->dsn && e->ret && lmtp_putf(c, " RET=%s", e->ret) < 0)
	    || (caps->dsn && e->envid
		&& lmtp_putf(c, " ENVID=%s", e->envid) < 0)
	    || lmtp_put(c, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* lmtp_put_rcpt - RCPT TO with its DSN parameters when the backend
 * takes them (buffered); 0 or -1 */
static int
lmtp_put_rcpt(struct lmtp_conn *c, const struct lmtp_client_rcpt *rc)
{
	if (lmtp_putf(c, "RCPT TO:<%s>", rc->addr) < 0)
		return -1;
	if (c->caps.dsn
	    && ((rc->notify && lmtp_putf(c, " NOTIFY=%s", rc->notify) < 0)
		|| (rc->orcpt && lmtp_putf(c, " ORCPT=%s", rc->orcpt) < 0)))
		return -1;
	return lmtp_put(c, "\r\n", 2);
}

/* lmtp_envelope - MAIL and the RCPTs, pipelined with DATA when the
 * backend does PIPELINING, as Postfix does (one round trip less per
 * message; the DATA reply waits in c->data_reply); LMTP_RETRY when
 * nothing can have been decided yet */
static int
lmtp_envelope(struct lmtp_conn *c, char *ok, size_t *naccepted)
{
	struct lmtp_delivery *d = c->d;
	char *r = NULL;
	size_t i;
	int pipe = c->caps.pipelining;

	if (lmtp_put_mail(c) < 0)
		return LMTP_RETRY;
	if (!pipe) {
		if (lmtp_flush(c) < 0
		    || (r = lmtp_read_reply(c, "MAIL")) == NULL)
			return LMTP_RETRY;
		if (r[0] != '2')
			return lmtp_mail_refused(c, r);
		x_free(&r);
	}
	for (i = 0; i < d->nrcpts; i++) {
		if (lmtp_put_rcpt(c, &d->rcpts[i]) < 0)
			return LMTP_RETRY;
		if (!pipe && (lmtp_flush(c) < 0
			      || lmtp_rcpt_reply(c, i, ok, naccepted) < 0))
			return LMTP_RETRY;
	}
	if (!pipe)
		return LMTP_DONE;
	/* RFC 2920: DATA may end a group; with no recipient accepted the
	 * server refuses it (503, 554) */
	if (lmtp_put(c, "DATA\r\n", 6) < 0 || lmtp_flush(c) < 0
	    || (r = lmtp_read_reply(c, "MAIL")) == NULL)
		return LMTP_RETRY;
	if (r[0] != '2') {
		if (lmtp_mail_refused(c, r) == LMTP_RETRY)
			return LMTP_RETRY;
		lmtp_skip_replies(c, d->nrcpts + 1);	/* RCPTs, DATA */
		return LMTP_DONE;
	}
	x_free(&r);
	for (i = 0; i < d->nrcpts; i++)
		if (lmtp_rcpt_reply(c, i, ok, naccepted) < 0)
			return LMTP_RETRY;
	/* still nothing sent that could be delivered: a failure here can
	 * go to the next address */
	if ((c->data_reply = lmtp_read_reply(c, "DATA")) == NULL)
		return LMTP_RETRY;
	return LMTP_DONE;
}

/* lmtp_data - DATA, the body, one reply per accepted recipient; no
 * failover from here on */
static void
lmtp_data(struct lmtp_conn *c, const char *ok)
{
	struct lmtp_delivery *d = c->d;
	char *r;
	size_t i;

	if (c->data_reply != NULL) {
		r = c->data_reply;	/* DATA went with the RCPTs */
		c->data_reply = NULL;
	} else if (lmtp_put(c, "DATA\r\n", 6) < 0 || lmtp_flush(c) < 0
		   || (r = lmtp_read_reply(c, "DATA")) == NULL) {
		goto unavailable;
	}
	if (strncmp(r, "354", 3) != 0) {
		x_err(d->err, sizeof(d->err), "DATA: %.200s", r);
		if (r[0] == '2') {	/* nonsense: not a delivery */
			c->broken = 1;
			x_free(&r);
			goto unavailable;
		}
		lmtp_fail_rest(d, r);
		x_free(&r);
		return;
	}
	x_free(&r);
	/* Until the final dot is written, nothing can have been delivered. */
	if (lmtp_send_body(c) < 0) {
		c->broken = 1;
		goto unavailable;
	}
	d->data_sent = 1;
	for (i = 0; i < d->nrcpts; i++) {
		if (!ok[i])
			continue;
		if ((r = lmtp_read_reply(c, "end of data")) == NULL)
			break;
		d->rcpts[i].reply = r;
	}
	if (i < d->nrcpts) {
		r = x_asprintf("451 4.4.2 Backend %s: delivery status unknown "
			       "after end of data (%s)", c->addr, d->err);
		lmtp_fail_rest(d, r);
		x_free(&r);
	}
	return;
unavailable:
	r = x_asprintf("451 4.4.1 Backend %s unavailable (%s)", c->addr,
		       d->err);
	lmtp_fail_rest(d, r);
	x_free(&r);
}

/* lmtp_attempt - one transaction on one address */
static int
lmtp_attempt(struct lmtp_delivery *d, const char *addr, int use_pool,
	     char *ok)
{
	struct lmtp_conn *c = x_calloc(1, sizeof(*c));
	size_t naccepted = 0;
	int rc;

	c->fd = -1;
	c->d = d;
	c->addr = addr;
	d->attempts++;
	snprintf(d->addr, sizeof(d->addr), "%s", addr);
	if (lmtp_open(c, use_pool) < 0) {
		rc = LMTP_RETRY;
		c->broken = 1;
		goto out;
	}
	if (d->env->smtputf8 && !c->caps.smtputf8) {
		char *r = x_asprintf("555 5.6.7 SMTPUTF8 is required, but "
				     "was not offered by backend %s", addr);

		x_err(d->err, sizeof(d->err), "SMTPUTF8 not offered");
		lmtp_fail_rest(d, r);
		x_free(&r);
		rc = LMTP_DONE;
		goto out;
	}
	rc = lmtp_envelope(c, ok, &naccepted);
	if (rc == LMTP_RETRY) {
		c->broken = 1;
		goto out;
	}
	if (naccepted > 0)
		lmtp_data(c, ok);
	else if (c->data_reply != NULL && strncmp(c->data_reply, "354", 3) == 0)
		c->broken = 1;	/* it wants a body for nobody: drop it */
out:
	x_free(&c->data_reply);
	if (c->fd >= 0) {
		if (c->broken || c->rpos != c->rlen
		    || !lmtp_pool_keeps(d->pool)) {
			if (!c->broken && lmtp_put(c, "QUIT\r\n", 6) == 0)
				(void)lmtp_flush(c);
			close(c->fd);
		} else {
			lmtp_pool_put(d->pool, addr, c->fd, &c->caps);
		}
	}
	x_free(&c);
	return rc;
}

/* lmtp_client_deliver - the addresses in order, until one takes it */
void
lmtp_client_deliver(struct lmtp_delivery *d)
{
	char *list = x_strdup(d->backend), *addr, *save = NULL, *r;
	char *ok = x_calloc(d->nrcpts ? d->nrcpts : 1, 1);
	char *last_err = NULL, *prev;
	int rc = LMTP_RETRY, fresh;

	d->err[0] = '\0';
	d->data_sent = d->reused = d->attempts = 0;
	d->addr[0] = '\0';
	for (addr = strtok_r(list, ";", &save); addr != NULL;
	     addr = strtok_r(NULL, ";", &save)) {
		for (fresh = 0; fresh < 2; fresh++) {
			lmtp_reset_replies(d, ok);
			d->err[0] = '\0';
			rc = lmtp_attempt(d, addr, fresh == 0, ok);
			if (rc == LMTP_DONE || !d->reused)
				break;	/* a stale pooled one: once more */
		}
		if (rc == LMTP_DONE)
			break;
		prev = last_err;
		last_err = x_asprintf("%s%s%s: %s", prev ? prev : "",
				      prev ? "; " : "", addr, d->err);
		x_free(&prev);
	}
	if (rc == LMTP_RETRY) {
		lmtp_reset_replies(d, ok);
		if (strchr(d->backend, ';') != NULL && last_err != NULL)
			x_err(d->err, sizeof(d->err), "%s", last_err);
		r = x_asprintf("451 4.4.1 Backend %s unavailable (%s)",
			       d->backend, d->err);
		lmtp_fail_rest(d, r);
		x_free(&r);
	}
	x_free(&last_err);
	x_free(&ok);
	x_free(&list);
}
