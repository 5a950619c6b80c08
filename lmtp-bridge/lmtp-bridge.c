/*++
 * NAME
 *	elemta-lmtp-bridge 8
 * SUMMARY
 *	LMTP delivery from Postfix into Dovecot, routed per recipient
 * SYNOPSIS
 *	elemta-lmtp-bridge [-fnpV] [-c FILE] [-o lmtp_bridge.KEY=VALUE]...
 * DESCRIPTION
 *	The daemon: main() on lib/'s runtime, one thread per client
 *	connection, and the glue between the protocol (lmtp-proto.c), the
 *	router (lmtp-router.c), the spool (lmtp-spool.c) and the backend
 *	client (lmtp-client.c).  See elemta-lmtp-bridge(8).  A
 *	connection's thread is in lmtp-bridge-session.c, the delivery of
 *	a message in lmtp-bridge-deliver.c.
 *
 *	Concurrency: a thread per connection.  Postfix opens few, long
 *	LMTP connections (its lmtp process limit, connection cache) and
 *	each one is strictly sequential (commands, then the message), so
 *	blocking code in a thread is the simplest correct model;
 *	max_connections bounds the threads.  After the final dot, each
 *	backend of the message gets its transaction in a thread of its
 *	own (the first in the connection's thread), all at once, and the
 *	connection's thread joins them before it answers Postfix: the
 *	delivery code stays the same straight-line, blocking, bounded
 *	code; the threads share only the spool (read with pread(), or a
 *	buffer nobody writes any more) and the pool (under its mutex).
 *	A poll()-driven state machine per backend would save the threads
 *	but split every step of the transaction into states for no gain
 *	at the handful of backends a message reaches.
 *
 *	Spam to Junk: when the message carries one of junk_headers, each
 *	recipient whose user did not opt out is delivered as
 *	user+junk_folder (Dovecot's lmtp_save_to_detail_mailbox).
 *
 *	Stopping: SIGTERM closes the listener, idle connections get 421
 *	4.3.2, and transactions in progress get a grace period
 *	(delivery_timeout + 10 s).  A connection still receiving a message
 *	when it ends is simply closed: nothing of it was delivered, Postfix
 *	retries.  But a delivery that has begun (the body on its way to a
 *	backend, or its replies not yet written to Postfix) has an outcome
 *	Postfix does not know: exiting then makes Postfix retry a message
 *	the backend may have stored, a duplicate.  So at the end of the
 *	grace period no new delivery may begin (its recipients get 451
 *	4.3.2, nothing delivered), and the daemon waits for those in
 *	flight -- each bounded by delivery_timeout, then client_timeout to
 *	write the replies -- before it exits.
 *
 *	Reloads: the router (and the map it holds) belongs to a state
 *	built from one configuration snapshot.  A connection takes a
 *	reference at accept and keeps it until it closes, so a reload
 *	never changes the routing of a transaction in progress.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "snapshot.h"
#include "xalloc.h"
#include "db.h"
#include "lmtp-cache.h"
#include "lmtp-client.h"
#include "lmtp-options.h"
#include "lmtp-router.h"
#include "ldapc.h"
#include "lmtp-bridge.h"
#include "../sections-all.h"

pthread_mutex_t bridge_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t bridge_idle = PTHREAD_COND_INITIALIZER;
static struct snapshot_slot bridge_slot = SNAPSHOT_SLOT_INIT;
int bridge_active;			/* connections, under bridge_lock */
static int bridge_delivering;		/* deliveries in flight, same */
static int bridge_no_delivery;		/* past the grace period, same */
volatile int bridge_stopping;

struct metric *m_conns, *m_active, *m_rcpts, *m_deliveries;
struct metric *m_latency, *m_messages;

/*
 * State
 */

/* bridge_sources - the router's sources for this snapshot, in order:
 * the map (local exceptions win), the SQLite table, the directory; 0, or
 * -1 with err (nothing added) */
static int
bridge_sources(struct conf *conf, const struct lmtp_conf *lc,
	       struct lmtp_router *rt, char *err, size_t errlen)
{
	const struct db_conf *dbc = conf_get(conf, &db_conf_section);
	void *map = NULL, *sql = NULL, *ldap = NULL;
	char serr[512];

	if (lc->map_file != NULL
	    && (map = lmtp_map_load(lc->map_file, err, errlen)) == NULL)
		goto bad;
	if (lc->sqlite_database != NULL
	    && (sql = lmtp_sqlite_new(lc->sqlite_database, lc->sqlite_query,
				      dbc->busy_timeout, err, errlen)) == NULL)
		goto bad;
	if (lc->ldap_lookup
	    && (ldap = lmtp_ldap_new(lc, conf_get(conf, &ldapc_conf_section),
				     err, errlen)) == NULL)
		goto bad;
	/* an unreadable table is not fatal: its lookups answer 451 4.4.3
	 * until it can be read, as they would if it broke later */
	if (sql != NULL && lmtp_sqlite_check(sql, serr, sizeof(serr)) < 0)
		msg_warn("%s: recipients will be deferred (451 4.4.3) until "
			 "it can be read", serr);
	if (map != NULL)
		lmtp_router_add(rt, &lmtp_map_ops, map, NULL);
	if (sql != NULL)
		lmtp_router_add(rt, &lmtp_sqlite_ops, sql,
				lmtp_cache_new("sqlite",
					       (size_t)lc->sqlite_cache_size,
					       lc->sqlite_cache_ttl,
					       lc->sqlite_negative_cache_ttl,
					       NULL));
	if (ldap != NULL)
		lmtp_router_add(rt, &lmtp_ldap_ops, ldap,
				lmtp_cache_new("ldap",
					       (size_t)lc->ldap_cache_size,
					       lc->ldap_cache_ttl,
					       lc->ldap_negative_cache_ttl,
					       NULL));
	return 0;
bad:
	if (map != NULL)
		lmtp_map_ops.free(map);
	if (sql != NULL)
		lmtp_sqlite_ops.free(sql);
	return -1;
}

/* bridge_state_free - the last reference is gone */
static void
bridge_state_free(void *obj)
{
	struct bridge_state *st = obj;

	lmtp_router_free(&st->router);
	lmtp_pool_free(&st->pool);
	conf_unref(&st->conf);
	x_free(&st->hostname);
	free(st);
}

/* bridge_state_new - a router for this snapshot; NULL with err */
static struct bridge_state *
bridge_state_new(struct conf *conf, char *err, size_t errlen)
{
	struct bridge_state *st;
	const struct lmtp_conf *lc = conf_get(conf, &lmtp_conf_section);
	struct lmtp_router *rt;
	char host[256];

	rt = lmtp_router_new(lc->backend, lc->recipient_delimiter,
			     lc->map_strict || lc->sqlite_database != NULL
			     || lc->ldap_lookup);
	lmtp_router_allow(rt, lc->allowed_backends, lc->nallowed_backends);
	if (bridge_sources(conf, lc, rt, err, errlen) < 0) {
		lmtp_router_free(&rt);
		return NULL;
	}
	st = x_calloc(1, sizeof(*st));
	snapshot_init(&st->snap, st, bridge_state_free);
	st->conf = conf_ref(conf);
	st->lc = lc;
	st->pool = lmtp_pool_new((size_t)lc->backend_pool_size,
				 (int)lc->backend_idle_timeout);
	st->router = rt;
	if (lc->hostname != NULL) {
		st->hostname = x_strdup(lc->hostname);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		st->hostname = x_strdup(host);
	}
	return st;
}

/* bridge_state_current - a reference to the current state */
struct bridge_state *
bridge_state_current(void)
{
	return snapshot_current(&bridge_slot);
}

/* bridge_state_unref - drop a reference; the last one frees */
void
bridge_state_unref(struct bridge_state **stp)
{
	snapshot_unref(*stp != NULL ? &(*stp)->snap : NULL);
	*stp = NULL;
}

/* bridge_state_publish - make st current (takes the caller's reference) */
static void
bridge_state_publish(struct bridge_state *st)
{
	snapshot_publish(&bridge_slot, &st->snap);
}

/* bridge_delivery_begin - may a delivery begin?  Counted in flight if
 * so (see "Stopping" above) */
int
bridge_delivery_begin(void)
{
	int ok;

	pthread_mutex_lock(&bridge_lock);
	ok = !bridge_no_delivery;
	if (ok)
		bridge_delivering++;
	pthread_mutex_unlock(&bridge_lock);
	return ok;
}

/* bridge_delivery_end - its replies are written (or cannot be) */
void
bridge_delivery_end(struct bridge_session *bs)
{
	if (!bs->delivering)
		return;
	bs->delivering = 0;
	pthread_mutex_lock(&bridge_lock);
	bridge_delivering--;
	pthread_cond_broadcast(&bridge_idle);
	pthread_mutex_unlock(&bridge_lock);
}

/* bridge_accept - take a connection and start its thread */
static void
bridge_accept(struct runtime *rt, int lfd)
{
	struct bridge_session *bs;
	struct bridge_state *st;
	pthread_attr_t attr;
	pthread_t tid;
	int fd, full;

	if ((fd = runtime_accept(rt, lfd, SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EINTR
		    && errno != ECONNABORTED)
			msg_warn("accept: %m");
		return;
	}
	st = bridge_state_current();
	pthread_mutex_lock(&bridge_lock);
	full = bridge_active >= st->lc->max_connections;
	if (!full)
		bridge_active++;
	metric_set(m_active, bridge_active);
	pthread_mutex_unlock(&bridge_lock);
	metric_inc(m_conns, full ? "refused" : "accepted");
	if (full) {
		msg_warn("max_connections=%ld reached: connection refused",
			 st->lc->max_connections);
		(void)send(fd, "421 4.3.2 Too many connections\r\n", 32,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		bridge_state_unref(&st);
		return;
	}
	bs = x_calloc(1, sizeof(*bs));
	bs->fd = fd;
	bs->st = st;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, bridge_thread, bs) != 0) {
		msg_warn("pthread_create failed: connection refused");
		close(fd);
		bridge_state_unref(&bs->st);
		x_free(&bs);
		pthread_mutex_lock(&bridge_lock);
		bridge_active--;
		pthread_mutex_unlock(&bridge_lock);
	}
	pthread_attr_destroy(&attr);
}

/* bridge_reload - new configuration, new router; keep the old on error
 * (SIGHUP and elemta-ctl reload) */
static int
bridge_reload(struct runtime *rt)
{
	struct bridge_state *st;
	struct conf *c;
	char err[512];

	if (runtime_reload(rt) < 0)
		return -1;
	c = conf_current();
	st = bridge_state_new(c, err, sizeof(err));
	conf_unref(&c);
	if (st == NULL) {
		msg_warn("reload: %s: keeping the previous routing", err);
		snprintf(rt->reload_error, sizeof(rt->reload_error),
			 "%.400s (configuration published, routing kept)", err);
		return -1;
	}
	bridge_state_publish(st);
	msg_info("reload: routing updated");
	return 0;
}

/* bridge_wait_idle - at stop: let transactions in progress finish for
 * max_secs; then let no delivery begin, and wait up to more_secs for
 * those in flight (exiting under one could deliver twice) */
static void
bridge_wait_idle(long max_secs, long more_secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += max_secs;
	pthread_mutex_lock(&bridge_lock);
	while (bridge_active > 0)
		if (pthread_cond_timedwait(&bridge_idle, &bridge_lock, &ts) != 0)
			break;
	bridge_no_delivery = 1;
	if (bridge_delivering > 0) {
		msg_warn("stopping: grace period over, waiting for %d "
			 "delivery(ies) in flight (their outcome is not yet "
			 "Postfix's); no new delivery begins",
			 bridge_delivering);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += more_secs;
		while (bridge_delivering > 0)
			if (pthread_cond_timedwait(&bridge_idle, &bridge_lock,
						   &ts) != 0)
				break;
	}
	if (bridge_delivering > 0)
		msg_warn("stopping with %d delivery(ies) still in flight: "
			 "Postfix may deliver them again", bridge_delivering);
	if (bridge_active > 0)
		msg_warn("stopping with %d connection(s) still active, no "
			 "delivery in flight", bridge_active);
	pthread_mutex_unlock(&bridge_lock);
}

/* bridge_metrics - register the families */
static void
bridge_metrics(void)
{
	m_conns = metrics_counter("elemta_lmtp_connections_total",
				  "LMTP client connections", "result");
	m_active = metrics_gauge("elemta_lmtp_connections_active",
				 "LMTP client connections open now", NULL);
	m_rcpts = metrics_counter("elemta_lmtp_recipients_total",
				  "RCPT commands by routing result", "result");
	m_messages = metrics_counter("elemta_lmtp_messages_total",
				     "Messages received, by disposition",
				     "result");
	m_deliveries = metrics_counter("elemta_lmtp_deliveries_total",
				       "Recipient deliveries by backend and "
				       "outcome", "backend,outcome");
	m_latency = metrics_histogram("elemta_lmtp_backend_seconds",
				      "Backend transaction time", "backend",
				      NULL, 0);
}

/* bridge_start - configuration, first routing state, listener, threads */
static void
bridge_start(struct runtime *rt, int argc, char **argv)
{
	struct bridge_state *st;
	struct conf *c;
	char err[512];

	runtime_init(rt, "elemta-lmtp-bridge", argc, argv, elemta_sections,
		     &lmtp_conf_section,
		     offsetof(struct lmtp_conf, daemon), NULL);
	rt->reload = bridge_reload;
	c = conf_current();
	if ((st = bridge_state_new(c, err, sizeof(err))) == NULL)
		msg_fatal("%s", err);
	conf_unref(&c);
	bridge_state_publish(st);
	runtime_listen(rt);
	bridge_ctl_register();
	runtime_start(rt);
	bridge_metrics();
	st = bridge_state_current();
	msg_info("ready: backend=%s map=%s sqlite=%s ldap=%s",
		 st->lc->backend, st->lc->map_file ? st->lc->map_file : "none",
		 st->lc->sqlite_database ? st->lc->sqlite_database : "none",
		 st->lc->ldap_lookup ? "yes" : "no");
	bridge_state_unref(&st);
}

/* bridge_loop - accept, reload and serve elemta-ctl until SIGTERM */
static void
bridge_loop(struct runtime *rt)
{
	struct pollfd pfd[3];
	int n, ev, running = 1;

	while (running) {
		pfd[0].fd = daemon_signal_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = rt->listen_fd;
		pfd[1].events = POLLIN;
		pfd[2].fd = control_main_fd();	/* -1: poll skips it */
		pfd[2].events = POLLIN;
		n = poll(pfd, 3, -1);
		if (n < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			ev = daemon_signal_take();
			if (ev & DAEMON_EV_RELOAD)
				(void)runtime_do_reload(rt);
			if (ev & DAEMON_EV_STOP)
				running = 0;
		}
		if (running && (pfd[1].revents & POLLIN))
			bridge_accept(rt, rt->listen_fd);
		if (pfd[2].revents & POLLIN)
			control_main_run();
	}
}

/* bridge_stop - close the listener, let the connections finish */
static void
bridge_stop(struct runtime *rt)
{
	struct bridge_state *st;
	long grace;

	close(rt->listen_fd);
	rt->listen_fd = -1;
	bridge_stopping = 1;
	st = bridge_state_current();
	grace = st->lc->delivery_timeout + 10;
	bridge_wait_idle(grace, st->lc->delivery_timeout
			 + st->lc->client_timeout + 10);
	bridge_state_unref(&st);
}

/* main - serve until SIGTERM */
int
main(int argc, char **argv)
{
	struct runtime rt;

	bridge_start(&rt, argc, argv);
	bridge_loop(&rt);
	bridge_stop(&rt);
	runtime_finish(&rt);
	return 0;
}
