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
 *	client (lmtp-client.c).  See elemta-lmtp-bridge(8).
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
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "clock.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "snapshot.h"
#include "xalloc.h"
#include "db.h"
#include "lmtp-cache.h"
#include "lmtp-client.h"
#include "lmtp-junk.h"
#include "lmtp-options.h"
#include "lmtp-proto.h"
#include "lmtp-router.h"
#include "ldapc.h"
#include "lmtp-spool.h"
#include "../sections-all.h"

/* What a connection works with: one configuration and its router. */
struct bridge_state {
	struct snapshot snap;		/* references, publication */
	struct conf *conf;
	const struct lmtp_conf *lc;
	struct lmtp_router *router;
	struct lmtp_pool *pool;		/* idle backend connections */
	char *hostname;
};

static pthread_mutex_t bridge_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bridge_idle = PTHREAD_COND_INITIALIZER;
static struct snapshot_slot bridge_slot = SNAPSHOT_SLOT_INIT;
static int bridge_active;		/* connections, under bridge_lock */
static int bridge_delivering;		/* deliveries in flight, same */
static int bridge_no_delivery;		/* past the grace period, same */
static volatile int bridge_stopping;

static struct metric *m_conns, *m_active, *m_rcpts, *m_deliveries;
static struct metric *m_latency, *m_messages;

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
static struct bridge_state *
bridge_state_current(void)
{
	return snapshot_current(&bridge_slot);
}

/* bridge_state_unref - drop a reference; the last one frees */
static void
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

/*
 * One connection
 */

struct bridge_session {
	int fd;
	struct bridge_state *st;
	struct lmtp_proto *proto;
	struct lmtp_spool *spool;
	struct lmtp_route **routes;	/* of the current transaction */
	size_t nroutes, routes_alloc;
	int delivering;			/* counted in bridge_delivering */
	char peer[128];
};

/* bridge_qid - the queue id for log lines */
static const char *
bridge_qid(const struct bridge_session *bs)
{
	const char *id = lmtp_proto_xforward(bs->proto)->ident;

	return id != NULL && *id != '\0' ? id : "NOQUEUE";
}

/* bridge_routes_clear - forget the routes of the last transaction */
static void
bridge_routes_clear(struct bridge_session *bs)
{
	size_t i;

	for (i = 0; i < bs->nroutes; i++) {
		lmtp_route_clear(bs->routes[i]);
		x_free(&bs->routes[i]);
	}
	bs->nroutes = 0;
}

/* bridge_write - write all pending output; 0 or -1.  The socket is
 * written without blocking and each wait for room is bounded by
 * client_timeout (as Postfix's smtpd_timeout bounds its writes too): a
 * client that sends commands but never reads the replies would
 * otherwise hold this thread in send() for ever. */
static int
bridge_write(struct bridge_session *bs)
{
	struct pollfd pfd = { bs->fd, POLLOUT, 0 };
	const char *out;
	size_t len;
	ssize_t n;
	long waited = 0;
	int rc;

	out = lmtp_proto_output(bs->proto, &len);
	while (len > 0) {
		n = send(bs->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			waited = 0;
			lmtp_proto_output_consumed(bs->proto, (size_t)n);
			out = lmtp_proto_output(bs->proto, &len);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -1;
		/* 1 s ticks: the limit counts from the last progress */
		rc = poll(&pfd, 1, 1000);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc == 0 && ++waited >= bs->st->lc->client_timeout) {
			msg_warn("client=%s timeout after %lds writing a "
				 "reply (%zu bytes unread): connection "
				 "dropped", bs->peer,
				 bs->st->lc->client_timeout, len);
			return -1;
		}
	}
	return 0;
}

/* bridge_read - wait for client input (1 s ticks, so that a stop reaches
 * idle connections); bytes read, 0 at EOF, -1 on error or timeout */
static ssize_t
bridge_read(struct bridge_session *bs, char *buf, size_t len)
{
	struct pollfd pfd = { bs->fd, POLLIN, 0 };
	long waited = 0;
	ssize_t n;
	int rc;

	for (;;) {
		if (bridge_stopping && !lmtp_proto_in_data(bs->proto))
			return -2;
		rc = poll(&pfd, 1, 1000);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc <= 0) {
			if (++waited >= bs->st->lc->client_timeout)
				return -3;
			continue;
		}
		n = recv(bs->fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

/* bridge_rcpt - route a RCPT and answer it */
static void
bridge_rcpt(struct bridge_session *bs)
{
	const struct lmtp_rcpt *r = lmtp_proto_pending(bs->proto);
	struct lmtp_route *route;
	char err[256], *reply;

	/* no accepted recipient: whatever routes we hold are unused */
	if (lmtp_proto_envelope(bs->proto)->nrcpts == 0)
		bridge_routes_clear(bs);
	route = x_calloc(1, sizeof(*route));
	/* err may quote routing data: lib/log writes its controls as '?' */
	lmtp_router_route(bs->st->router, r->addr, route, err, sizeof(err));
	reply = lmtp_route_reply(route, r->addr);
	switch (route->status) {
	case LMTP_ROUTE_OK:
		metric_inc(m_rcpts, "accepted");
		if (strcmp(route->address, r->addr) != 0)
			qid_info(bridge_qid(bs), "to=<%s> orig_to=<%s> "
				 "route=%s backend=%s", route->address,
				 r->addr, route->source, route->backend);
		break;
	case LMTP_ROUTE_TEMPFAIL:
		metric_inc(m_rcpts, "deferred");
		qid_warn(bridge_qid(bs), "to=<%s> status=deferred route=%s "
			 "error=\"%s\" reply=\"%s\"", r->addr, route->source,
			 err, reply);
		break;
	default:
		metric_inc(m_rcpts, "rejected");
		qid_info(bridge_qid(bs), "to=<%s> status=rejected route=%s "
			 "reply=\"%s\"", r->addr, route->source, reply);
		break;
	}
	if (reply[0] == '2') {
		if (bs->nroutes == bs->routes_alloc) {
			bs->routes_alloc = bs->routes_alloc
				? 2 * bs->routes_alloc : 16;
			bs->routes = x_realloc(bs->routes, bs->routes_alloc
					       * sizeof(*bs->routes));
		}
		bs->routes[bs->nroutes++] = route;
		lmtp_proto_rcpt_result(bs->proto, reply, route);
	} else {
		lmtp_proto_rcpt_result(bs->proto, reply, NULL);
		lmtp_route_clear(route);
		x_free(&route);
	}
	x_free(&reply);
}

/* bridge_received - our Received: header (malloc'ed) */
static char *
bridge_received(const struct bridge_session *bs)
{
	const char *lhlo = lmtp_proto_lhlo(bs->proto);
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	return x_asprintf("Received: from %s (%s)\r\n\tby %s "
			  "(elemta-lmtp-bridge) with LMTP id %s;\r\n\t%s\r\n",
			  lhlo ? lhlo : "unknown", bs->peer, bs->st->hostname,
			  bridge_qid(bs), date);
}

/* bridge_outcome - delivered, deferred or bounced, from a reply */
static const char *
bridge_outcome(const char *reply)
{
	return reply[0] == '2' ? "delivered" : reply[0] == '4' ? "deferred"
		: "bounced";
}

/* One backend's transaction of a message. */
struct bridge_group {
	const char *backend;
	size_t *idx;			/* the recipients, in RCPT order */
	size_t n;
	char **junk;			/* per recipient: Junk address or NULL */
	size_t *map;			/* per recipient: its entry in rc */
	struct lmtp_client_rcpt *rc;	/* one per distinct mailbox address */
	size_t *first;			/* per rc: the recipient it came from */
	size_t nrc;
	struct lmtp_delivery d;
	double t0, dt;
	pthread_t tid;
	int threaded;
};

/* bridge_group_run - a thread's body: the transaction */
static void *
bridge_group_run(void *arg)
{
	struct bridge_group *g = arg;

	g->t0 = clock_mono_s();
	lmtp_client_deliver(&g->d);
	g->dt = clock_mono_s() - g->t0;
	return NULL;
}

/* bridge_group_prepare - the delivery of one group: one RCPT per
 * distinct mailbox address.  Two recipients that routing turned into the
 * same address (an alias and its user, or Postfix sending one address
 * twice) are one delivery whose reply both get, as Postfix itself
 * delivers once to an address that virtual alias expansion produced
 * twice; Dovecot would store a copy per RCPT. */
static void
bridge_group_prepare(struct bridge_session *bs, struct bridge_group *g,
		     const char *prepend)
{
	const struct lmtp_envelope *e = lmtp_proto_envelope(bs->proto);
	const struct lmtp_conf *lc = bs->st->lc;
	struct lmtp_route *route;
	const char *addr;
	size_t k, u;

	g->rc = x_calloc(g->n, sizeof(*g->rc));
	g->map = x_calloc(g->n, sizeof(*g->map));
	g->first = x_calloc(g->n, sizeof(*g->first));
	g->nrc = 0;
	for (k = 0; k < g->n; k++) {
		route = e->rcpts[g->idx[k]].data;
		addr = g->junk[k] ? g->junk[k] : route->address;
		for (u = 0; u < g->nrc; u++)
			if (strcasecmp(g->rc[u].addr, addr) == 0)
				break;
		g->map[k] = u;
		if (u < g->nrc)
			continue;
		g->first[u] = k;
		g->rc[u].addr = addr;
		g->rc[u].notify = e->rcpts[g->idx[k]].notify;
		g->rc[u].orcpt = e->rcpts[g->idx[k]].orcpt;
		g->nrc++;
	}
	memset(&g->d, 0, sizeof(g->d));
	g->d.backend = g->backend;
	g->d.pool = bs->st->pool;
	g->d.helo = bs->st->hostname;
	g->d.env = e;
	g->d.rcpts = g->rc;
	g->d.nrcpts = g->nrc;
	g->d.spool = bs->spool;
	g->d.prepend = prepend;
	g->d.connect_timeout = (int)lc->connect_timeout;
	g->d.command_timeout = (int)lc->command_timeout;
	g->d.deadline = clock_mono_s() + (double)lc->delivery_timeout;
}

/* bridge_group_finish - log, count and hand the replies to the proto */
static void
bridge_group_finish(struct bridge_session *bs, struct bridge_group *g,
		    double start)
{
	const struct lmtp_envelope *e = lmtp_proto_envelope(bs->proto);
	const char *backend = g->backend, *qid = bridge_qid(bs);
	size_t k;

	metric_observe(m_latency, g->dt, backend);
	if (g->d.attempts > 1 && g->d.err[0] == '\0')
		qid_info(qid, "backend=%s addr=%s attempts=%d: failover",
			 backend, g->d.addr, g->d.attempts);
	if (g->d.err[0] != '\0')
		qid_warn(qid, "backend=%s addr=%s error=\"%s\" data_sent=%s",
			 backend, g->d.addr, g->d.err,
			 g->d.data_sent ? "yes" : "no");
	for (k = 0; k < g->n; k++) {
		const struct lmtp_client_rcpt *rc = &g->rc[g->map[k]];
		const char *orig = e->rcpts[g->idx[k]].addr;
		const char *outcome = bridge_outcome(rc->reply);
		int dup = g->first[g->map[k]] != k;	/* shares a delivery */
		char *flat = x_strdup(rc->reply), *p;

		for (p = flat; *p; p++)
			if (*p == '\n' || *p == '"')
				*p = *p == '"' ? '\'' : ' ';
		lmtp_proto_set_reply(bs->proto, g->idx[k], rc->reply);
		metric_inc(m_deliveries, backend,
			   dup ? "duplicate" : outcome);
		qid_info(qid, "to=<%s>%s%s%s backend=%s addr=%s conn=%s "
			 "start=%.3f delay=%.3f%s%s status=%s reply=\"%s\"",
			 rc->addr, strcmp(orig, rc->addr) ? " orig_to=<" : "",
			 strcmp(orig, rc->addr) ? orig : "",
			 strcmp(orig, rc->addr) ? ">" : "", backend,
			 g->d.addr, g->d.reused ? "reused" : "new",
			 g->t0 - start, g->dt, g->junk[k] ? " junk=yes" : "",
			 dup ? " duplicate=yes" : "", outcome, flat);
		x_free(&flat);
	}
	for (k = 0; k < g->nrc; k++)
		x_free(&g->rc[k].reply);
	x_free(&g->rc);
	x_free(&g->map);
	x_free(&g->first);
}

/* bridge_junk - is the message spam by junk_headers?  The rule, or -1 */
static int
bridge_junk(struct bridge_session *bs)
{
	const struct lmtp_conf *lc = bs->st->lc;
	char *head, err[256];
	ssize_t n;
	int rule = -1;

	if (lc->njunk_headers == 0)
		return -1;
	head = x_malloc(65536);
	n = lmtp_spool_read(bs->spool, 0, head, 65536, err, sizeof(err));
	if (n < 0)
		qid_warn(bridge_qid(bs), "junk_headers not checked: %s", err);
	if (n > 0)
		rule = lmtp_junk_match(lc->junk_headers, lc->njunk_headers,
				       head, (size_t)n);
	x_free(&head);
	return rule;
}

/* bridge_deliver - group the recipients by backend, deliver to every
 * backend at once (a thread each), then collect in RCPT order */
static void
bridge_deliver(struct bridge_session *bs, const char *prepend, int junk)
{
	const struct lmtp_envelope *e = lmtp_proto_envelope(bs->proto);
	const struct lmtp_conf *lc = bs->st->lc;
	struct bridge_group *g;
	struct lmtp_route *ri, *rj;
	size_t i, j, ng = 0;
	char *done = x_calloc(e->nrcpts, 1);
	double start = clock_mono_s();

	g = x_calloc(e->nrcpts, sizeof(*g));
	for (i = 0; i < e->nrcpts; i++) {
		if (done[i])
			continue;
		ri = e->rcpts[i].data;
		g[ng].backend = ri->backend;
		g[ng].idx = x_calloc(e->nrcpts, sizeof(*g[ng].idx));
		g[ng].junk = x_calloc(e->nrcpts, sizeof(*g[ng].junk));
		for (j = i; j < e->nrcpts; j++) {
			rj = e->rcpts[j].data;
			if (done[j] || strcmp(ri->backend, rj->backend) != 0)
				continue;
			done[j] = 1;
			if (junk >= 0 && !rj->junk_optout)
				g[ng].junk[g[ng].n] = lmtp_junk_address(
					rj->address, lc->recipient_delimiter[0],
					lc->junk_folder);
			g[ng].idx[g[ng].n++] = j;
		}
		bridge_group_prepare(bs, &g[ng], prepend);
		ng++;
	}
	/* the others in threads, the first here; a thread that cannot
	 * start runs here too, after */
	for (i = 1; i < ng; i++)
		g[i].threaded = pthread_create(&g[i].tid, NULL,
					       bridge_group_run, &g[i]) == 0;
	if (ng > 0)
		bridge_group_run(&g[0]);
	for (i = 1; i < ng; i++) {
		if (g[i].threaded)
			pthread_join(g[i].tid, NULL);
		else
			bridge_group_run(&g[i]);
	}
	for (i = 0; i < ng; i++) {
		bridge_group_finish(bs, &g[i], start);
		for (j = 0; j < g[i].n; j++)
			x_free(&g[i].junk[j]);
		x_free(&g[i].junk);
		x_free(&g[i].idx);
	}
	x_free(&g);
	x_free(&done);
}

/* bridge_delivery_begin - may a delivery begin?  Counted in flight if
 * so (see "Stopping" above) */
static int
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
static void
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

/* bridge_message - deliver after the final dot */
static void
bridge_message(struct bridge_session *bs)
{
	const struct lmtp_envelope *e = lmtp_proto_envelope(bs->proto);
	const struct lmtp_xforward *xf = lmtp_proto_xforward(bs->proto);
	const struct lmtp_conf *lc = bs->st->lc;
	const char *qid = bridge_qid(bs);
	char *prepend, *reply;
	size_t i;
	int junk;

	qid_info(qid, "from=<%s> size=%lld nrcpt=%zu client=%s[%s] "
		 "lmtp_client=%s spool=%s", e->sender, e->data_size,
		 e->nrcpts, xf->name ? xf->name : "unknown",
		 xf->addr ? xf->addr : "unknown", bs->peer,
		 lmtp_spool_in_file(bs->spool) ? "file" : "memory");
	if (e->too_big || e->sink_failed) {
		metric_inc(m_messages, e->too_big ? "too_big" : "spool_error");
		qid_warn(qid, "status=%s reason=\"%s\"",
			 e->too_big ? "bounced" : "deferred",
			 e->too_big ? "message size exceeds limit"
			 : lmtp_spool_error(bs->spool));
		return;			/* message_done writes the replies */
	}
	if (e->received >= (unsigned)lc->max_hops) {
		metric_inc(m_messages, "loop");
		reply = x_asprintf("554 5.4.6 Too many hops (%u Received: "
				   "headers): mail forwarding loop",
				   e->received);
		qid_warn(qid, "status=bounced reason=loop received=%u "
			 "max_hops=%ld", e->received, lc->max_hops);
		for (i = 0; i < e->nrcpts; i++)
			lmtp_proto_set_reply(bs->proto, i, reply);
		x_free(&reply);
		return;
	}
	if (!bridge_delivery_begin()) {
		metric_inc(m_messages, "stopping");
		qid_warn(qid, "status=deferred reason=\"stopping: the grace "
			 "period is over, nothing delivered\"");
		for (i = 0; i < e->nrcpts; i++)
			lmtp_proto_set_reply(bs->proto, i, "451 4.3.2 Service "
					     "shutting down: nothing "
					     "delivered");
		return;
	}
	bs->delivering = 1;
	junk = bridge_junk(bs);
	metric_inc(m_messages, junk >= 0 ? "junk" : "delivered");
	if (junk >= 0) {
		qid_info(qid, "junk=yes rule=\"%s\" folder=%s",
			 lc->junk_headers[junk], lc->junk_folder);
	}
	prepend = bridge_received(bs);
	bridge_deliver(bs, prepend, junk);
	x_free(&prepend);
}

/* bridge_peer - "host[addr]:port" of the client, for the logs */
static void
bridge_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "unix");
	}
}

/* bridge_serve - the command loop of one connection */
static void
bridge_serve(struct bridge_session *bs)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		switch (lmtp_proto_next(bs->proto)) {
		case LMTP_EV_INPUT:
			if (bridge_write(bs) < 0)
				return;
			n = bridge_read(bs, buf, sizeof(buf));
			if (n > 0) {
				lmtp_proto_input(bs->proto, buf, (size_t)n);
				break;
			}
			if (n == -2 || n == -3) {
				const char *bye = n == -2
					? "421 4.3.2 Shutting down\r\n"
					: "421 4.4.2 Error: timeout exceeded\r\n";

				if (n == -3)
					msg_info("client=%s timeout after %lds "
						 "idle", bs->peer,
						 bs->st->lc->client_timeout);
				(void)send(bs->fd, bye, strlen(bye),
					   MSG_NOSIGNAL | MSG_DONTWAIT);
				return;
			}
			if (lmtp_proto_in_data(bs->proto))
				qid_warn(bridge_qid(bs), "client=%s lost "
					 "connection in DATA: nothing "
					 "delivered", bs->peer);
			else if (lmtp_proto_envelope(bs->proto)->sender)
				msg_info("client=%s lost connection in a "
					 "transaction", bs->peer);
			return;
		case LMTP_EV_RCPT:
			bridge_rcpt(bs);
			break;
		case LMTP_EV_DATA:
			lmtp_spool_reset(bs->spool);
			lmtp_proto_data_start(bs->proto, NULL);
			break;
		case LMTP_EV_MESSAGE:
			bridge_message(bs);
			lmtp_proto_message_done(bs->proto);
			bridge_routes_clear(bs);
			lmtp_spool_reset(bs->spool);
			/* the outcome is Postfix's once the replies are
			 * written: only then may a stop exit */
			if (bs->delivering) {
				int rc = bridge_write(bs);

				bridge_delivery_end(bs);
				if (rc < 0)
					return;
			}
			break;
		case LMTP_EV_QUIT:
			(void)bridge_write(bs);
			return;
		}
	}
}

/* bridge_thread - one connection, start to end */
static void *
bridge_thread(void *arg)
{
	struct bridge_session *bs = arg;
	const struct lmtp_conf *lc = bs->st->lc;
	struct lmtp_limits lim;

	lim.max_line = (size_t)lc->max_line_length;
	lim.max_size = lc->message_size_limit;
	lim.max_rcpts = (unsigned)lc->max_recipients;
	lim.max_errors = 20;
	bridge_peer(bs->fd, bs->peer, sizeof(bs->peer));
	bs->spool = lmtp_spool_new((size_t)lc->spool_threshold,
				   lc->spool_directory);
	bs->proto = lmtp_proto_new(&lim, bs->st->hostname, lmtp_spool_write,
				   bs->spool);
	msg_debug("connect from %s", bs->peer);
	bridge_serve(bs);
	msg_debug("disconnect from %s", bs->peer);
	close(bs->fd);
	bridge_routes_clear(bs);
	x_free(&bs->routes);
	lmtp_proto_free(&bs->proto);
	lmtp_spool_free(&bs->spool);
	bridge_state_unref(&bs->st);
	x_free(&bs);
	pthread_mutex_lock(&bridge_lock);
	bridge_active--;
	metric_set(m_active, bridge_active);
	pthread_cond_signal(&bridge_idle);
	pthread_mutex_unlock(&bridge_lock);
	return NULL;
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

/* bridge_reload - new configuration, new router; keep the old on error */
static void
bridge_reload(struct runtime *rt)
{
	struct bridge_state *st;
	struct conf *c;
	char err[512];

	if (runtime_reload(rt) < 0)
		return;
	c = conf_current();
	st = bridge_state_new(c, err, sizeof(err));
	conf_unref(&c);
	if (st == NULL) {
		msg_warn("reload: %s: keeping the previous routing", err);
		return;
	}
	bridge_state_publish(st);
	msg_info("reload: routing updated");
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

/* main - serve until SIGTERM */
int
main(int argc, char **argv)
{
	struct pollfd pfd[2];
	struct runtime rt;
	struct bridge_state *st;
	struct conf *c;
	char err[512];
	int n, ev, running = 1;
	long grace;

	runtime_init(&rt, "elemta-lmtp-bridge", argc, argv, elemta_sections,
		     &lmtp_conf_section,
		     offsetof(struct lmtp_conf, daemon), NULL);
	c = conf_current();
	if ((st = bridge_state_new(c, err, sizeof(err))) == NULL)
		msg_fatal("%s", err);
	conf_unref(&c);
	bridge_state_publish(st);
	runtime_listen(&rt);
	runtime_start(&rt);
	bridge_metrics();
	st = bridge_state_current();
	msg_info("ready: backend=%s map=%s sqlite=%s ldap=%s",
		 st->lc->backend, st->lc->map_file ? st->lc->map_file : "none",
		 st->lc->sqlite_database ? st->lc->sqlite_database : "none",
		 st->lc->ldap_lookup ? "yes" : "no");
	bridge_state_unref(&st);

	while (running) {
		pfd[0].fd = daemon_signal_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = rt.listen_fd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, -1);
		if (n < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			ev = daemon_signal_take();
			if (ev & DAEMON_EV_RELOAD)
				bridge_reload(&rt);
			if (ev & DAEMON_EV_STOP)
				running = 0;
		}
		if (running && (pfd[1].revents & POLLIN))
			bridge_accept(&rt, rt.listen_fd);
	}
	close(rt.listen_fd);
	rt.listen_fd = -1;
	bridge_stopping = 1;
	st = bridge_state_current();
	grace = st->lc->delivery_timeout + 10;
	bridge_wait_idle(grace, st->lc->delivery_timeout
			 + st->lc->client_timeout + 10);
	bridge_state_unref(&st);
	runtime_finish(&rt);
	return 0;
}
