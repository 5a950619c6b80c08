/*++
 * NAME
 *	lmtp-bridge-session 3
 * SUMMARY
 *	one LMTP client connection of elemta-lmtp-bridge
 * DESCRIPTION
 *	A thread per connection (see elemta-lmtp-bridge(8) and
 *	lmtp-bridge.c): the socket, read and written with bounded waits,
 *	the command loop around lmtp-proto.c, and the routing of each
 *	RCPT.  The message itself goes to lmtp-bridge-deliver.c.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"
#include "lmtp-bridge.h"
#include "lmtp-options.h"
#include "lmtp-proto.h"
#include "lmtp-router.h"
#include "lmtp-spool.h"

/* bridge_qid - the queue id for log lines */
const char *
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

/* bridge_serve_input - write the replies, read more; 0 to go on, -1
 * when the connection is over (stop, timeout or the client went) */
static int
bridge_serve_input(struct bridge_session *bs, char *buf, size_t size)
{
	ssize_t n;

	if (bridge_write(bs) < 0)
		return -1;
	n = bridge_read(bs, buf, size);
	if (n > 0) {
		lmtp_proto_input(bs->proto, buf, (size_t)n);
		return 0;
	}
	if (n == -2 || n == -3) {
		const char *bye = n == -2
			? "421 4.3.2 Shutting down\r\n"
			: "421 4.4.2 Error: timeout exceeded\r\n";

		if (n == -3)
			msg_info("client=%s timeout after %lds idle",
				 bs->peer, bs->st->lc->client_timeout);
		(void)send(bs->fd, bye, strlen(bye),
			   MSG_NOSIGNAL | MSG_DONTWAIT);
		return -1;
	}
	if (lmtp_proto_in_data(bs->proto))
		qid_warn(bridge_qid(bs), "client=%s lost connection in DATA: "
			 "nothing delivered", bs->peer);
	else if (lmtp_proto_envelope(bs->proto)->sender)
		msg_info("client=%s lost connection in a transaction",
			 bs->peer);
	return -1;
}

/* bridge_serve_message - deliver a received message, answer; 0 or -1 */
static int
bridge_serve_message(struct bridge_session *bs)
{
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
			return -1;
	}
	return 0;
}

/* bridge_serve - the command loop of one connection */
static void
bridge_serve(struct bridge_session *bs)
{
	char buf[65536];

	for (;;) {
		switch (lmtp_proto_next(bs->proto)) {
		case LMTP_EV_INPUT:
			if (bridge_serve_input(bs, buf, sizeof(buf)) < 0)
				return;
			break;
		case LMTP_EV_RCPT:
			bridge_rcpt(bs);
			break;
		case LMTP_EV_DATA:
			lmtp_spool_reset(bs->spool);
			lmtp_proto_data_start(bs->proto, NULL);
			break;
		case LMTP_EV_MESSAGE:
			if (bridge_serve_message(bs) < 0)
				return;
			break;
		case LMTP_EV_QUIT:
			(void)bridge_write(bs);
			return;
		}
	}
}

/* bridge_thread - one connection, start to end */
void *
bridge_thread(void *arg)
{
	struct bridge_session *bs = arg;
	const struct lmtp_conf *lc = bs->st->lc;
	struct lmtp_limits lim;

	lim.max_line = (size_t)lc->max_line_length;
	lim.max_size = lc->message_size_limit;
	lim.max_rcpts = (unsigned)lc->max_recipients;
	lim.max_errors = 20;
	listen_peer_name(bs->fd, bs->peer, sizeof(bs->peer));
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
