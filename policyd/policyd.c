/*++
 * NAME
 *	elemta-policyd 8
 * SUMMARY
 *	Postfix policy server with exact rate limits
 * SYNOPSIS
 *	elemta-policyd [-fnpV] [-c FILE] [-o SECTION.KEY=VALUE]...
 * DESCRIPTION
 *	The server loop: one thread, poll(2) over the listener, the signal
 *	pipe and every client connection.  Postfix keeps one connection per
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
 *	calendar_time_zone of quotas and the idle timeout apply at once;
 *	a new listen, store, store_path,
 *	store_flush_interval or [redis] section needs a restart.
 *
 *	With store = redis, each check is one synchronous Redis call that
 *	blocks this loop for at most redis.command_timeout_ms (see
 *	lib/redis.h): at Redis's usual sub-millisecond latency that is
 *	cheaper than an asynchronous state machine per request, and a
 *	dead Redis costs one timeout, then nothing during the back-off.
 *	SIGTERM flushes the store and exits.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"
#include "redis.h"
#include "xalloc.h"

#define POLICYD_READ_SIZE	16384
#define POLICYD_OUT_MAX		65536	/* stop reading a client past this */
#define POLICYD_REPLY_MAX	1024

struct policyd_conn {
	int fd;
	struct policyd_proto *proto;
	struct policyd_session *sess;	/* its transaction, for refunds */
	char peer[INET6_ADDRSTRLEN + 8];
	int64_t active;		/* last read or write, monotonic ms */
	char *out;		/* replies not yet written */
	size_t outlen, outoff, outcap;
};

struct policyd_server {
	struct runtime rt;
	struct policyd_policy *pol;
	struct policyd_store *store;
	struct policyd_redis *redis;	/* store = redis */
	struct policyd_conn **conns;
	size_t nconns;
	int max_connections;
	int64_t idle_ms;
	struct metric *m_conns;		/* gauge */
	struct metric *m_accepted;	/* counter */
	struct metric *m_closed;	/* counter, by reason */
	struct metric *m_proto_errors;
};

/* policyd_now - wall clock in ms: limits outlive the process */
static int64_t
policyd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* policyd_mono - monotonic ms, for timeouts */
static int64_t
policyd_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

	policyd_policy_configure(srv->pol, pc);
	srv->idle_ms = (int64_t)pc->idle_timeout * 1000;
	srv->max_connections = pc->max_connections;
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

/* policyd_conn_close - close a connection and free it */
static void
policyd_conn_close(struct policyd_server *srv, size_t i, const char *reason)
{
	struct policyd_conn *cn = srv->conns[i];

	msg_debug("policyd client=%s disconnect reason=%s", cn->peer, reason);
	metric_inc(srv->m_closed, reason);
	close(cn->fd);
	policyd_policy_session_end(srv->pol, &cn->sess, policyd_now());
	policyd_proto_free(&cn->proto);
	x_free(&cn->out);
	x_free(&cn);
	srv->conns[i] = srv->conns[--srv->nconns];
	metric_set(srv->m_conns, (double)srv->nconns);
}

/* policyd_accept - take every pending connection */
static void
policyd_accept(struct policyd_server *srv)
{
	struct policyd_conn *cn;
	int fd;

	for (;;) {
		fd = accept4(srv->rt.listen_fd, NULL, NULL,
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
		cn->proto = policyd_proto_new();
		cn->sess = policyd_policy_session_new();
		cn->active = policyd_mono();
		policyd_peer_name(fd, cn->peer, sizeof(cn->peer));
		srv->conns = x_realloc(srv->conns, (srv->nconns + 1)
				       * sizeof(*srv->conns));
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
		cn->active = policyd_mono();
	}
	cn->outoff = cn->outlen = 0;
	return 0;
}

/* policyd_read - read and answer; 0, or -1 when the connection must go */
static int
policyd_read(struct policyd_server *srv, struct policyd_conn *cn,
	     const char **reason)
{
	char buf[POLICYD_READ_SIZE], reply[POLICYD_REPLY_MAX], err[256];
	const struct policyd_req *req;
	size_t off = 0, used, rlen;
	ssize_t n;
	int rc;

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
	cn->active = policyd_mono();
	while (off < (size_t)n) {
		rc = policyd_proto_feed(cn->proto, buf + off, (size_t)n - off,
					&used, &req, err, sizeof(err));
		if (rc == POLICYD_PROTO_ERROR) {
			metric_inc(srv->m_proto_errors);
			msg_warn("policyd client=%s malformed request: %s;"
				 " closing this connection", cn->peer, err);
			*reason = "malformed";
			return -1;
		}
		off += used;
		if (rc == POLICYD_PROTO_DONE) {
			rlen = policyd_policy_decide_session(srv->pol,
							     cn->sess, req,
							     policyd_now(),
							     reply,
							     sizeof(reply));
			policyd_queue(cn, reply, rlen);
		}
	}
	if (policyd_flush_out(cn) < 0) {
		*reason = "write_error";
		return -1;
	}
	return 0;
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

/* policyd_serve - the event loop, until SIGTERM */
static void
policyd_serve(struct policyd_server *srv)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, i, n;
	int64_t next_tick = 0, mono;
	const char *reason;
	int running = 1, ev, rc;

	while (running) {
		n = srv->nconns;
		if (npfd < n + 2) {
			npfd = n + 64;
			pfd = x_realloc(pfd, npfd * sizeof(*pfd));
		}
		pfd[0].fd = daemon_signal_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = srv->rt.listen_fd;
		pfd[1].events = POLLIN;
		for (i = 0; i < n; i++) {
			struct policyd_conn *cn = srv->conns[i];

			pfd[i + 2].fd = cn->fd;
			pfd[i + 2].events = 0;
			if (cn->outlen - cn->outoff < POLICYD_OUT_MAX)
				pfd[i + 2].events |= POLLIN;
			if (cn->outlen > cn->outoff)
				pfd[i + 2].events |= POLLOUT;
		}
		rc = poll(pfd, n + 2, 1000);
		if (rc < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (rc > 0 && (pfd[0].revents & POLLIN)) {
			ev = daemon_signal_take();
			if (ev & DAEMON_EV_RELOAD) {
				if (runtime_reload(&srv->rt) == 0)
					policyd_apply_conf(srv);
			}
			if (ev & DAEMON_EV_STOP)
				running = 0;
		}
		/* connections first, from the end: closing one moves the
		 * last into its place, which was handled already */
		for (i = n; rc > 0 && i-- > 0;) {
			struct policyd_conn *cn = srv->conns[i];
			short re = pfd[i + 2].revents;

			if (re == 0)
				continue;
			reason = NULL;
			if ((re & POLLOUT) && policyd_flush_out(cn) < 0)
				reason = "write_error";
			else if (re & (POLLIN | POLLHUP | POLLERR))
				policyd_read(srv, cn, &reason);
			if (reason != NULL)
				policyd_conn_close(srv, i, reason);
		}
		if (rc > 0 && (pfd[1].revents & POLLIN))
			policyd_accept(srv);
		mono = policyd_mono();
		if (mono >= next_tick) {
			next_tick = mono + 1000;
			policyd_expire_idle(srv, mono);
			policyd_policy_tick(srv->pol, policyd_now());
		}
	}
	x_free(&pfd);
}

/* main - elemta-policyd */
int
main(int argc, char **argv)
{
	struct policyd_server srv;
	char err[256];

	memset(&srv, 0, sizeof(srv));
	runtime_init(&srv.rt, "elemta-policyd", argc, argv,
		     &policyd_conf_section,
		     offsetof(struct policyd_conf, daemon), NULL);
	runtime_listen(&srv.rt);
	runtime_start(&srv.rt);
	if (fcntl(srv.rt.listen_fd, F_SETFL,
		  fcntl(srv.rt.listen_fd, F_GETFL) | O_NONBLOCK) < 0)
		msg_fatal("listener: %m");
	srv.store = policyd_open_store();
	srv.pol = policyd_policy_new(srv.store);
	if ((srv.redis = policyd_open_redis()) != NULL)
		policyd_policy_set_redis(srv.pol, srv.redis);
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
	policyd_policy_free(&srv.pol);
	policyd_store_close(&srv.store);
	policyd_redis_free(&srv.redis);
	msg_info("elemta-policyd stopped");
	runtime_finish(&srv.rt);
	return 0;
}
