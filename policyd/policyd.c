/*++
 * NAME
 *	elemta-policyd 8
 * SUMMARY
 *	Postfix policy server with exact rate limits
 * SYNOPSIS
 *	elemta-policyd [-fnpV] [-c FILE] [-o SECTION.KEY=VALUE]...
 * DESCRIPTION
 *	The server loop: one thread, epoll(7) over the listener, the signal
 *	pipe and every client connection (level-triggered; a connection's
 *	interest changes only when its output backs up or it is parked, so
 *	a turn costs what is ready, not what is open).  Postfix keeps one connection per
 *	smtpd process, mostly idle, so hundreds are normal; each costs a
 *	struct, a parser and its buffers.  Requests are parsed as bytes
 *	arrive (policyd-proto.c), answered in order (policyd-policy.c), and
 *	the replies written without blocking: a client that stops reading
 *	stops being read once POLICYD_OUT_MAX bytes wait for it.
 *
 *	A malformed request is logged and closes that connection only.  A
 *	connection idle for idle_timeout is closed; the default is longer
 *	than Postfix's smtpd_policy_service_max_idle (300 s), so that
 *	Postfix normally closes first and never finds its connection gone.
 *	Once a second the store is flushed and cleaned (policyd-store.h).
 *	Each connection has a policy session: when it closes, the
 *	transaction it was in the middle of is refunded (policyd-policy.h).
 *
 *	SIGHUP reloads the configuration: limits, prefixes, actions, the
 *	ldap_* options and the idle timeout apply at once; a new listen,
 *	store, store_path, store_flush_interval, calendar_time_zone (set
 *	before any thread starts: policyd-calendar.h), [redis] or [ldap]
 *	section needs a restart.
 *
 *	LDAP overrides (policyd-ldap.h, which says why the searches run in
 *	threads): a request that must wait for the directory is parked,
 *	its connection not read meanwhile (the bytes after it are kept),
 *	and decided again when answers come back through the directory's
 *	pipe, or once ldap_wait_ms has passed (the poll timeout is cut to
 *	that); every other connection is served in the meantime.  A
 *	client that closes the connection meanwhile (EPOLLRDHUP: a
 *	Postfix smtpd killed, or that gave up; Postfix never half-closes)
 *	has its request dropped, not decided: it would count a message
 *	that never came.
 *
 *	With store = redis, the requests that arrive in one turn of the
 *	loop are decided as a batch (policyd_policy_batch_add, _run): all
 *	their checks go to Redis in one pipelined round trip, which blocks
 *	this loop for at most redis.command_timeout_ms per read (see
 *	lib/redis.h); a connection whose request is in the batch is not
 *	read (nor closed) until the batch has answered it, and what it
 *	sent after that request is taken up then.  At Redis's usual
 *	sub-millisecond latency one round trip per turn is cheaper than an
 *	asynchronous state machine per request, and a dead Redis costs one
 *	timeout, then nothing during the back-off.  The local store
 *	answers in microseconds: its requests are decided one by one, at
 *	once.  A reload waits for the end of the turn (the batch's requests
 *	were planned with the limits it replaces).
 *	SIGTERM flushes the store and exits.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "ldapc.h"
#include "policyd-calendar.h"
#include "policyd-ldap.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"
#include "redis.h"
#include "xalloc.h"
#include "../sections-all.h"

#define POLICYD_READ_SIZE	16384
#define POLICYD_OUT_MAX		65536	/* stop reading a client past this */
#define POLICYD_REPLY_MAX	1024

struct policyd_conn {
	int fd;
	size_t idx;		/* in srv->conns */
	uint32_t events;	/* what epoll watches for it */
	struct policyd_proto *proto;
	struct policyd_session *sess;	/* its transaction, for refunds */
	char peer[INET6_ADDRSTRLEN + 8];
	int64_t active;		/* last read or write, monotonic ms */
	char *out;		/* replies not yet written */
	size_t outlen, outoff, outcap;
	/* a request waiting for the directory (policyd-ldap.h): the
	 * parser's, valid while nothing more is fed; what was read after
	 * it waits in "in", and the connection is not read meanwhile */
	const struct policyd_req *parked;
	int64_t parked_at;	/* wall ms */
	char *in;
	size_t inlen;
	/* a request in the batch (policyd_batch_flush): like a parked one,
	 * its rest waits in "in", the connection is not read, nor closed */
	int batched;
	int answered;		/* by the batch: go on with "in" */
};

struct policyd_server {
	struct runtime rt;
	struct policyd_policy *pol;
	struct policyd_store *store;
	struct policyd_redis *redis;	/* store = redis */
	struct policyd_ldap *ldap;	/* a limit has an ldap_attribute */
	int64_t ldap_wait_ms;
	size_t nparked;
	struct policyd_conn **conns;
	size_t nconns;
	int ep;				/* the epoll instance */
	struct policyd_batch *batch;	/* requests decided together */
	struct policyd_conn **again;	/* answered by the batch */
	size_t nagain, maxagain;
	int max_connections;
	int64_t idle_ms;
	struct metric *m_conns;		/* gauge */
	struct metric *m_accepted;	/* counter */
	struct metric *m_closed;	/* counter, by reason */
	struct metric *m_proto_errors;
};

/* policyd_peer_name - "addr:port" (or "unix") of a connected socket */
static void
policyd_peer_name(int fd, char *out, size_t len)
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

/* policyd_apply_conf - what takes effect from a (new) snapshot */
static void
policyd_apply_conf(struct policyd_server *srv)
{
	struct conf *c = conf_current();
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);

	if (pc->ldap_used && srv->ldap == NULL)
		msg_warn("policyd: a limit has an ldap_attribute, but the"
			 " directory was not configured when elemta-policyd"
			 " started ([ldap] uri): the limits' own rates apply"
			 " until a restart");
	policyd_policy_configure(srv->pol, pc);
	srv->ldap_wait_ms = pc->ldap_wait_ms;
	srv->idle_ms = (int64_t)pc->idle_timeout * 1000;
	srv->max_connections = pc->max_connections;
	conf_unref(&c);
}

/* policyd_zone - the time zone of calendar quotas, set once, before any
 * thread starts (TZ is the process's: policyd-calendar.h) */
static void
policyd_zone(void)
{
	struct conf *c = conf_current();
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);
	char err[512];

	if (policyd_calendar_set_zone(pc->calendar_time_zone ?
				      pc->calendar_time_zone : "UTC", err,
				      sizeof(err)) < 0)
		msg_warn("policyd calendar_time_zone: %s; quotas use UTC",
			 err);
	policyd_calendar_freeze();
	conf_unref(&c);
}

/* policyd_open_store - the SQLite store named by the configuration */
static struct policyd_store *
policyd_open_store(void)
{
	struct conf *c = conf_current();
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);
	const struct db_conf *dc = conf_get(c, &db_conf_section);
	struct policyd_store *s;
	char *path, err[512];

	path = pc->store_path ? x_strdup(pc->store_path)
		: x_asprintf("%s/policyd.db", dc->directory);
	s = policyd_store_sqlite_open(path, dc->busy_timeout,
				      (int64_t)pc->store_flush_interval * 1000,
				      err, sizeof(err));
	if (s == NULL)
		msg_fatal("cannot open the rate limit store: %s", err);
	msg_info("rate limit store: %s (flush every %ds)", path,
		 pc->store_flush_interval);
	x_free(&path);
	conf_unref(&c);
	return s;
}

/* policyd_open_redis - the Redis store, when store = redis */
static struct policyd_redis *
policyd_open_redis(void)
{
	struct conf *c = conf_current();
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);
	const struct redis_conf *rc = conf_get(c, &redis_conf_section);
	struct policyd_redis *rs = NULL;

	if (pc->store == POLICYD_STORE_REDIS) {
		rs = policyd_redis_new(rc);
		msg_info("rate limit store: redis %s%s (key prefix \"%s\","
			 " command timeout %d ms); when it fails: %s",
			 rc->nservers ? rc->servers[0] : "(none)",
			 rc->nservers > 1 ? " and others" : "",
			 rc->key_prefix, rc->command_timeout_ms,
			 pc->store_fallback == POLICYD_FALLBACK_LOCAL
			 ? "the local store" : "store_fail_action");
	}
	conf_unref(&c);
	return rs;
}

/* policyd_open_ldap - the directory client, when a limit needs it (its
 * password file is read now, before privileges are dropped) */
static struct policyd_ldap *
policyd_open_ldap(int *workers)
{
	struct conf *c = conf_current();
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);
	const struct ldapc_conf *lc = conf_get(c, &ldapc_conf_section);
	struct policyd_ldap *ld = NULL;
	char err[512];

	if (pc->ldap_used) {
		if (lc->uri == NULL)
			msg_fatal("policyd: a limit has an ldap_attribute: the"
				  " ldap section's uri must be set");
		if ((ld = policyd_ldap_new(lc, err, sizeof(err))) == NULL)
			msg_fatal("policyd: %s", err);
		/* a worker per pooled connection (policyd-ldap.h) */
		*workers = (int)lc->pool_size;
		msg_info("rate overrides: ldap %s base \"%s\" filter %s (wait"
			 " at most %d ms)", lc->uri, pc->ldap_base,
			 pc->ldap_filter, pc->ldap_wait_ms);
	}
	conf_unref(&c);
	return ld;
}

/* policyd_conn_close - close a connection and free it */
static void
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
static void
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
		policyd_peer_name(fd, cn->peer, sizeof(cn->peer));
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
static void
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
static void
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

/* policyd_poll_timeout - ms to sleep at most: a second, or until the
 * first parked request stops waiting for the directory */
static int
policyd_poll_timeout(const struct policyd_server *srv)
{
	int64_t first = INT64_MAX, left;
	size_t i;

	for (i = 0; srv->nparked > 0 && i < srv->nconns; i++)
		if (srv->conns[i]->parked != NULL
		    && srv->conns[i]->parked_at < first)
			first = srv->conns[i]->parked_at;
	if (first == INT64_MAX)
		return 1000;
	left = first + srv->ldap_wait_ms - clock_wall_ms();
	return left <= 0 ? 0 : left >= 1000 ? 1000 : (int)left + 1;
}

/* The epoll tags of the descriptors that are not connections. */
static char policyd_tag_signal, policyd_tag_listen, policyd_tag_ldap;

/* policyd_watch - add a descriptor that is not a connection */
static void
policyd_watch(struct policyd_server *srv, int fd, void *tag)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = tag;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		msg_fatal("epoll_ctl: %m");
}

/* policyd_conn_event - what epoll says of one connection */
static void
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
static void
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

#define POLICYD_EVENTS	256

/* policyd_serve - the event loop, until SIGTERM */
static void
policyd_serve(struct policyd_server *srv)
{
	struct epoll_event evs[POLICYD_EVENTS];
	int64_t next_tick = 0, mono;
	int running = 1, ev, n, i, accept_now, ldap_now, reload_now;

	if ((srv->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("epoll_create1: %m");
	policyd_watch(srv, daemon_signal_fd(), &policyd_tag_signal);
	policyd_watch(srv, srv->rt.listen_fd, &policyd_tag_listen);
	if (srv->ldap != NULL)		/* the directory's answers */
		policyd_watch(srv, policyd_ldap_fd(srv->ldap),
			      &policyd_tag_ldap);
	while (running) {
		n = epoll_wait(srv->ep, evs, POLICYD_EVENTS,
			       policyd_poll_timeout(srv));
		if (n < 0 && errno != EINTR)
			msg_fatal("epoll_wait: %m");
		accept_now = ldap_now = reload_now = 0;
		/* a connection can only close itself here, so the others'
		 * pointers in evs stay valid */
		for (i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &policyd_tag_signal) {
				ev = daemon_signal_take();
				if (ev & DAEMON_EV_RELOAD)
					reload_now = 1;
				if (ev & DAEMON_EV_STOP)
					running = 0;
			} else if (tag == &policyd_tag_listen) {
				accept_now = 1;
			} else if (tag == &policyd_tag_ldap) {
				ldap_now = 1;
			} else {
				policyd_conn_event(srv, tag, evs[i].events);
			}
		}
		if (accept_now)
			policyd_accept(srv);
		if (ldap_now)
			policyd_ldap_drain(srv->ldap, clock_wall_ms());
		if (srv->nparked > 0)
			policyd_resume_all(srv);
		policyd_batch_flush(srv);
		/* after the batch: its requests were planned with the
		 * limits a reload replaces */
		if (reload_now && runtime_reload(&srv->rt) == 0)
			policyd_apply_conf(srv);
		policyd_policy_step(srv->pol, clock_wall_ms());
		mono = clock_mono_ms();
		if (mono >= next_tick) {
			next_tick = mono + 1000;
			policyd_expire_idle(srv, mono);
			policyd_policy_tick(srv->pol, clock_wall_ms());
		}
	}
	close(srv->ep);
}

/* main - elemta-policyd */
int
main(int argc, char **argv)
{
	struct policyd_server srv;
	char err[256];
	int workers = 1;

	memset(&srv, 0, sizeof(srv));
	runtime_init(&srv.rt, "elemta-policyd", argc, argv,
		     elemta_sections, &policyd_conf_section,
		     offsetof(struct policyd_conf, daemon), NULL);
	policyd_zone();
	runtime_listen(&srv.rt);
	srv.ldap = policyd_open_ldap(&workers);
	runtime_start(&srv.rt);
	if (fcntl(srv.rt.listen_fd, F_SETFL,
		  fcntl(srv.rt.listen_fd, F_GETFL) | O_NONBLOCK) < 0)
		msg_fatal("listener: %m");
	srv.store = policyd_open_store();
	srv.pol = policyd_policy_new(srv.store);
	srv.batch = policyd_policy_batch_new();
	if ((srv.redis = policyd_open_redis()) != NULL)
		policyd_policy_set_redis(srv.pol, srv.redis);
	if (srv.ldap != NULL) {
		if (policyd_ldap_start(srv.ldap, workers, err,
				       sizeof(err)) < 0)
			msg_fatal("policyd: %s", err);
		policyd_policy_set_ldap(srv.pol, srv.ldap);
	}
	srv.m_conns = metrics_gauge("elemta_policyd_connections",
				    "Client connections open", NULL);
	srv.m_accepted = metrics_counter("elemta_policyd_connections_total",
					 "Client connections accepted", NULL);
	srv.m_closed = metrics_counter("elemta_policyd_disconnects_total",
				       "Client connections closed", "reason");
	srv.m_proto_errors = metrics_counter(
		"elemta_policyd_protocol_errors_total",
		"Malformed requests (each closed its connection)", NULL);
	policyd_apply_conf(&srv);
	msg_info("elemta-policyd ready");

	policyd_serve(&srv);

	while (srv.nconns > 0)
		policyd_conn_close(&srv, srv.nconns - 1, "shutdown");
	x_free(&srv.conns);
	if (policyd_store_flush(srv.store, err, sizeof(err)) < 0)
		msg_warn("policyd: final store flush failed: %s", err);
	policyd_policy_batch_free(&srv.batch);
	x_free(&srv.again);
	policyd_policy_free(&srv.pol);
	policyd_store_close(&srv.store);
	policyd_redis_free(&srv.redis);
	policyd_ldap_free(&srv.ldap);
	msg_info("elemta-policyd stopped");
	runtime_finish(&srv.rt);
	return 0;
}
