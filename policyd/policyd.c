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
 *	The loop is here; what it does for each connection is in
 *	policyd-conn.c.
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

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "control.h"
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
#include "policyd-server.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"
#include "redis.h"
#include "xalloc.h"
#include "../sections-all.h"

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
static char policyd_tag_signal, policyd_tag_listen, policyd_tag_ldap,
	policyd_tag_control;

/* policyd_reload - SIGHUP and elemta-ctl reload: the configuration,
 * then what the server takes from it */
static int
policyd_reload(struct runtime *rt)
{
	struct policyd_server *srv = (struct policyd_server *)(void *)
		((char *)rt - offsetof(struct policyd_server, rt));

	if (runtime_reload(rt) < 0)
		return -1;
	policyd_apply_conf(srv);
	return 0;
}

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

#define POLICYD_EVENTS	256

/* what one turn of the event loop found to do */
struct policyd_turn {
	int	accept;			/* the listener is readable */
	int	ldap;			/* the directory answered */
	int	reload;			/* SIGHUP */
	int	control;		/* elemta-ctl's command waits */
	int	stop;			/* SIGTERM */
};

/* policyd_serve_watch - the epoll set: signals, listener, LDAP, control */
static void
policyd_serve_watch(struct policyd_server *srv)
{
	if ((srv->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("epoll_create1: %m");
	policyd_watch(srv, daemon_signal_fd(), &policyd_tag_signal);
	policyd_watch(srv, srv->rt.listen_fd, &policyd_tag_listen);
	if (srv->ldap != NULL)		/* the directory's answers */
		policyd_watch(srv, policyd_ldap_fd(srv->ldap),
			      &policyd_tag_ldap);
	if (control_main_fd() >= 0)	/* elemta-ctl's commands */
		policyd_watch(srv, control_main_fd(), &policyd_tag_control);
}

/* policyd_serve_events - serve the connections' events, note the rest */
static void
policyd_serve_events(struct policyd_server *srv,
		     const struct epoll_event *evs, int n,
		     struct policyd_turn *turn)
{
	int ev, i;

	/* a connection can only close itself here, so the others'
	 * pointers in evs stay valid */
	for (i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;

		if (tag == &policyd_tag_signal) {
			ev = daemon_signal_take();
			if (ev & DAEMON_EV_RELOAD)
				turn->reload = 1;
			if (ev & DAEMON_EV_STOP)
				turn->stop = 1;
		} else if (tag == &policyd_tag_listen) {
			turn->accept = 1;
		} else if (tag == &policyd_tag_ldap) {
			turn->ldap = 1;
		} else if (tag == &policyd_tag_control) {
			turn->control = 1;
		} else {
			policyd_conn_event(srv, tag, evs[i].events);
		}
	}
}

/* policyd_serve_turn - the work after the events: accept, LDAP, the
 * batch, reload, control, the policy and the once-a-second tick */
static void
policyd_serve_turn(struct policyd_server *srv,
		   const struct policyd_turn *turn, int64_t *next_tick)
{
	int64_t mono;

	if (turn->accept)
		policyd_accept(srv);
	if (turn->ldap)
		policyd_ldap_drain(srv->ldap, clock_wall_ms());
	if (srv->nparked > 0)
		policyd_resume_all(srv);
	policyd_batch_flush(srv);
	/* after the batch: its requests were planned with the
	 * limits a reload replaces */
	if (turn->reload)
		(void)runtime_do_reload(&srv->rt);
	/* the same point for elemta-ctl: between two turns */
	if (turn->control)
		control_main_run();
	policyd_policy_step(srv->pol, clock_wall_ms());
	mono = clock_mono_ms();
	if (mono >= *next_tick) {
		*next_tick = mono + 1000;
		policyd_expire_idle(srv, mono);
		policyd_policy_tick(srv->pol, clock_wall_ms());
	}
}

/* policyd_serve - the event loop, until SIGTERM */
static void
policyd_serve(struct policyd_server *srv)
{
	struct epoll_event evs[POLICYD_EVENTS];
	struct policyd_turn turn;
	int64_t next_tick = 0;
	int running = 1, n;

	policyd_serve_watch(srv);
	while (running) {
		n = epoll_wait(srv->ep, evs, POLICYD_EVENTS,
			       policyd_poll_timeout(srv));
		if (n < 0 && errno != EINTR)
			msg_fatal("epoll_wait: %m");
		memset(&turn, 0, sizeof(turn));
		policyd_serve_events(srv, evs, n, &turn);
		if (turn.stop)
			running = 0;
		policyd_serve_turn(srv, &turn, &next_tick);
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
	srv.rt.reload = policyd_reload;
	policyd_zone();
	runtime_listen(&srv.rt);
	srv.ldap = policyd_open_ldap(&workers);
	policyd_ctl_register(&srv);
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
