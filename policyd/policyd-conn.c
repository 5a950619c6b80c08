/*++
 * NAME
 *	policyd-conn 3
 * SUMMARY
 *	the client connections of elemta-policyd
 * DESCRIPTION
 *	See elemta-policyd(8) and policyd.c, whose event loop calls in
 *	here for each connection it reports: accepting, reading and
 *	parsing as bytes arrive (policyd-proto.c), answering in order
 *	(policyd-policy.c), at once or through the batch, parking a
 *	request that waits for the directory, writing without blocking,
 *	and closing (its policy session ends with it: refunds).
 *--*/
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "policyd-ldap.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-server.h"
#include "xalloc.h"

#define POLICYD_READ_SIZE	16384
#define POLICYD_OUT_MAX		65536	/* stop reading a client past this */
#define POLICYD_REPLY_MAX	1024

/* policyd_conn_close - close a connection and free it */
void
policyd_conn_close(struct policyd_server *srv, size_t i, const char *reason)
{
	struct policyd_conn *cn = srv->conns[i];

	if (cn->batched || cn->answered)	/* the batch points at it */
		msg_panic("policyd_conn_close: client=%s is in the batch",
			  cn->peer);
	msg_debug("policyd client=%s disconnect reason=%s", cn->peer, reason);
	metric_inc(srv->m_closed, reason);
	close(cn->fd);
	policyd_policy_session_end(srv->pol, &cn->sess, clock_wall_ms());
	policyd_proto_free(&cn->proto);
	if (cn->parked != NULL)
		srv->nparked--;
	x_free(&cn->in);
	x_free(&cn->out);
	x_free(&cn);
	srv->conns[i] = srv->conns[--srv->nconns];
	if (i < srv->nconns)
		srv->conns[i]->idx = i;
	metric_set(srv->m_conns, (double)srv->nconns);
}

/* policyd_interest - tell epoll what cn waits for now: input unless its
 * output backs up or a request of it is parked, output while some is
 * pending (a hangup is always reported) */
static void
policyd_interest(struct policyd_server *srv, struct policyd_conn *cn)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (cn->outlen - cn->outoff < POLICYD_OUT_MAX && cn->parked == NULL
	    && !cn->batched && !cn->answered)
		want |= EPOLLIN;
	if (cn->outlen > cn->outoff)
		want |= EPOLLOUT;
	if (cn->parked != NULL)		/* not read: its client going away */
		want |= EPOLLRDHUP;
	if (want == cn->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = cn;
	if (epoll_ctl(srv->ep, EPOLL_CTL_MOD, cn->fd, &ev) < 0)
		msg_warn("policyd client=%s epoll_ctl: %m", cn->peer);
	else
		cn->events = want;
}

/* policyd_accept - take every pending connection */
void
policyd_accept(struct policyd_server *srv)
{
	struct policyd_conn *cn;
	struct epoll_event ev;
	int fd;

	for (;;) {
		fd = runtime_accept(&srv->rt, srv->rt.listen_fd,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK
			    && errno != EINTR && errno != ECONNABORTED)
				msg_warn("policyd accept: %m");
			return;
		}
		if (srv->nconns >= (size_t)srv->max_connections) {
			msg_warn("policyd refused a connection: max_connections"
				 " (%d) reached", srv->max_connections);
			metric_inc(srv->m_closed, "max_connections");
			close(fd);
			continue;
		}
		cn = x_calloc(1, sizeof(*cn));
		cn->fd = fd;
		memset(&ev, 0, sizeof(ev));
		ev.events = cn->events = EPOLLIN;
		ev.data.ptr = cn;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			msg_warn("policyd accept: epoll_ctl: %m");
			close(fd);
			x_free(&cn);
			continue;
		}
		cn->proto = policyd_proto_new();
		cn->sess = policyd_policy_session_new();
		cn->active = clock_mono_ms();
		listen_peer_name(fd, cn->peer, sizeof(cn->peer));
		srv->conns = x_realloc(srv->conns, (srv->nconns + 1)
				       * sizeof(*srv->conns));
		cn->idx = srv->nconns;
		srv->conns[srv->nconns++] = cn;
		metric_inc(srv->m_accepted);
		metric_set(srv->m_conns, (double)srv->nconns);
		msg_debug("policyd client=%s connect", cn->peer);
	}
}

/* policyd_queue - append a reply to a connection's output */
static void
policyd_queue(struct policyd_conn *cn, const char *s, size_t n)
{
	if (cn->outoff > 0 && cn->outoff == cn->outlen)
		cn->outoff = cn->outlen = 0;
	if (cn->outlen + n > cn->outcap) {
		if (cn->outoff > 0) {
			memmove(cn->out, cn->out + cn->outoff,
				cn->outlen - cn->outoff);
			cn->outlen -= cn->outoff;
			cn->outoff = 0;
		}
		while (cn->outlen + n > cn->outcap)
			cn->outcap = cn->outcap ? cn->outcap * 2 : 256;
		cn->out = x_realloc(cn->out, cn->outcap);
	}
	memcpy(cn->out + cn->outlen, s, n);
	cn->outlen += n;
}

/* policyd_flush_out - write what we can; -1 if the connection broke */
static int
policyd_flush_out(struct policyd_conn *cn)
{
	ssize_t n;

	while (cn->outoff < cn->outlen) {
		n = write(cn->fd, cn->out + cn->outoff,
			  cn->outlen - cn->outoff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		cn->outoff += (size_t)n;
		cn->active = clock_mono_ms();
	}
	cn->outoff = cn->outlen = 0;
	return 0;
}

/* policyd_batch_done - the batch's answer to cn's request: queued; what
 * cn sent after it is read later (policyd_batch_flush) */
static void
policyd_batch_done(void *owner, const char *reply, size_t len, void *arg)
{
	struct policyd_server *srv = arg;
	struct policyd_conn *cn = owner;

	cn->batched = 0;
	cn->answered = 1;
	policyd_queue(cn, reply, len);
	if (srv->nagain == srv->maxagain) {
		srv->maxagain = srv->maxagain ? 2 * srv->maxagain : 64;
		srv->again = x_realloc(srv->again, srv->maxagain
				       * sizeof(*srv->again));
	}
	srv->again[srv->nagain++] = cn;
}

/* policyd_answer - decide req and queue the reply; 0 when it waits for
 * the directory (the connection is parked) or joined the batch (the
 * connection waits for it, policyd_batch_flush) */
static int
policyd_answer(struct policyd_server *srv, struct policyd_conn *cn,
	       const struct policyd_req *req)
{
	char reply[POLICYD_REPLY_MAX];
	int64_t now = clock_wall_ms();
	size_t rlen;

	/* with Redis, the requests of a loop turn share one round trip;
	 * the local store answers in microseconds: at once */
	if (srv->redis == NULL)
		rlen = policyd_policy_decide_session(srv->pol, cn->sess, req,
						     now, reply,
						     sizeof(reply));
	else
		rlen = policyd_policy_batch_add(srv->pol, srv->batch,
						cn->sess, req, now, cn, reply,
						sizeof(reply));
	if (rlen == POLICYD_BATCH_FULL) {
		/* a request of the same transaction is in the batch:
		 * answered first (the others go on later) */
		policyd_policy_batch_run(srv->pol, srv->batch,
					 policyd_batch_done, srv);
		rlen = policyd_policy_batch_add(srv->pol, srv->batch,
						cn->sess, req, now, cn, reply,
						sizeof(reply));
	}
	if (rlen == POLICYD_BATCH_JOINED || rlen == POLICYD_BATCH_FULL) {
		if (rlen == POLICYD_BATCH_FULL)
			msg_panic("policyd: an empty batch is full");
		if (cn->parked != NULL) {
			cn->parked = NULL;
			srv->nparked--;
		}
		cn->batched = 1;
		return 0;
	}
	if (rlen == 0) {
		if (cn->parked == NULL) {
			cn->parked = req;
			srv->nparked++;
			cn->parked_at = now;
		} else if (now >= cn->parked_at + srv->ldap_wait_ms) {
			/* waiting for a newer search (a reload forgot the
			 * first): the wait starts again */
			cn->parked_at = now;
		}
		return 0;
	}
	if (cn->parked != NULL) {
		cn->parked = NULL;
		srv->nparked--;
	}
	policyd_queue(cn, reply, rlen);
	return 1;
}

/* policyd_feed - parse len bytes and answer the requests; at one that
 * waits for the directory, keep the rest in cn->in.  0, or -1 (with
 * *reason) when the connection must go */
static int
policyd_feed(struct policyd_server *srv, struct policyd_conn *cn,
	     const char *buf, size_t len, const char **reason)
{
	const struct policyd_req *req;
	char err[256], *rest;
	size_t off = 0, used;
	int rc;

	while (off < len) {
		rc = policyd_proto_feed(cn->proto, buf + off, len - off, &used,
					&req, err, sizeof(err));
		if (rc == POLICYD_PROTO_ERROR) {
			metric_inc(srv->m_proto_errors);
			msg_warn("policyd client=%s malformed request: %s;"
				 " closing this connection", cn->peer, err);
			*reason = "malformed";
			return -1;
		}
		off += used;
		if (rc == POLICYD_PROTO_DONE && !policyd_answer(srv, cn, req)) {
			rest = x_malloc(len - off + 1);
			memcpy(rest, buf + off, len - off);
			x_free(&cn->in);
			cn->in = rest;
			cn->inlen = len - off;
			break;
		}
	}
	if (policyd_flush_out(cn) < 0 && !cn->batched) {
		/* (batched: it goes once the batch has answered) */
		*reason = "write_error";
		return -1;
	}
	return 0;
}

/* policyd_resume - decide a parked request again; when answered, go on
 * with what was read after it.  0, or -1 with *reason */
static int
policyd_resume(struct policyd_server *srv, struct policyd_conn *cn,
	       const char **reason)
{
	char *in;
	size_t inlen;
	int rc;

	if (!policyd_answer(srv, cn, cn->parked))
		return 0;
	in = cn->in;
	inlen = cn->inlen;
	cn->in = NULL;
	cn->inlen = 0;
	rc = policyd_feed(srv, cn, in ? in : "", inlen, reason);
	x_free(&in);
	return rc;
}

/* policyd_resume_all - decide again what waits for the directory */
void
policyd_resume_all(struct policyd_server *srv)
{
	const char *reason;
	size_t i;

	for (i = srv->nconns; srv->nparked > 0 && i-- > 0;) {
		if (srv->conns[i]->parked == NULL)
			continue;
		reason = NULL;
		if (policyd_resume(srv, srv->conns[i], &reason) < 0)
			policyd_conn_close(srv, i, reason);
		else
			policyd_interest(srv, srv->conns[i]);
	}
}

/* policyd_read - read and answer; 0, or -1 when the connection must go */
static int
policyd_read(struct policyd_server *srv, struct policyd_conn *cn,
	     const char **reason)
{
	char buf[POLICYD_READ_SIZE];
	ssize_t n;

	n = read(cn->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
		      || errno == EINTR))
		return 0;
	if (n <= 0) {
		*reason = n == 0 ? "eof" : "read_error";
		if (n < 0)
			msg_info("policyd client=%s read error: %m", cn->peer);
		if (policyd_proto_pending(cn->proto) > 0) {
			*reason = "eof_mid_request";
			msg_info("policyd client=%s disconnected in the middle"
				 " of a request (%zu bytes)", cn->peer,
				 policyd_proto_pending(cn->proto));
		}
		return -1;
	}
	cn->active = clock_mono_ms();
	return policyd_feed(srv, cn, buf, (size_t)n, reason);
}

/* policyd_expire_idle - close connections idle for idle_timeout */
void
policyd_expire_idle(struct policyd_server *srv, int64_t mono)
{
	size_t i = 0;

	while (i < srv->nconns) {
		if (mono - srv->conns[i]->active >= srv->idle_ms) {
			msg_info("policyd client=%s idle for %lds: closing",
				 srv->conns[i]->peer,
				 (long)(srv->idle_ms / 1000));
			policyd_conn_close(srv, i, "idle_timeout");
		} else {
			i++;
		}
	}
}

/* policyd_conn_event - what epoll says of one connection */
void
policyd_conn_event(struct policyd_server *srv, struct policyd_conn *cn,
		   uint32_t re)
{
	const char *reason = NULL;

	if (cn->batched || cn->answered) {
		/* the batch holds it: a hangup or a write error is seen
		 * once the batch has answered it */
		if (re & EPOLLOUT)
			(void)policyd_flush_out(cn);
		return;
	}
	if ((re & EPOLLOUT) && policyd_flush_out(cn) < 0)
		reason = "write_error";
	else if (cn->parked != NULL
		 && (re & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
		/* not read: the client closed (a Postfix smtpd that died
		 * or gave up); its request is not decided, nor counted */
		msg_info("policyd client=%s closed the connection while its"
			 " request waited for the directory: not decided",
			 cn->peer);
		reason = "hangup_waiting";
	}
	else if (re & (EPOLLIN | EPOLLHUP | EPOLLERR))
		policyd_read(srv, cn, &reason);
	if (reason != NULL)
		policyd_conn_close(srv, cn->idx, reason);
	else
		policyd_interest(srv, cn);
}

/* policyd_batch_flush - run the batch (one round trip to the store for
 * every request in it), then go on with what the answered connections
 * sent after their request, which may fill the batch again */
void
policyd_batch_flush(struct policyd_server *srv)
{
	struct policyd_conn *cn;
	const char *reason;
	char *in;
	size_t inlen, i, n;
	int rc;

	while (policyd_policy_batch_size(srv->batch) > 0 || srv->nagain > 0) {
		policyd_policy_batch_run(srv->pol, srv->batch,
					 policyd_batch_done, srv);
		n = srv->nagain;
		for (i = 0; i < n; i++) {
			cn = srv->again[i];
			cn->answered = 0;
			in = cn->in;
			inlen = cn->inlen;
			cn->in = NULL;
			cn->inlen = 0;
			reason = NULL;
			rc = policyd_feed(srv, cn, in ? in : "", inlen,
					  &reason);
			x_free(&in);
			if (rc < 0 && !cn->batched)
				policyd_conn_close(srv, cn->idx, reason);
			else
				policyd_interest(srv, cn);
		}
		/* those answered meanwhile (a full batch) come next */
		memmove(srv->again, srv->again + n,
			(srv->nagain - n) * sizeof(*srv->again));
		srv->nagain -= n;
	}
}
