/*++
 * NAME
 *	lmtp-bridge-deliver 3
 * SUMMARY
 *	one message of elemta-lmtp-bridge, from the final dot to the replies
 * DESCRIPTION
 *	After the final dot: a message too big, looping or arriving past
 *	the grace period is answered at once; else the recipients are
 *	grouped by backend, Junk addresses chosen (junk_headers), one
 *	RCPT per distinct mailbox, and every backend gets its transaction
 *	(lmtp-client.c) in a thread of its own, all at once.  Each
 *	recipient's reply is logged, counted and handed to lmtp-proto.c,
 *	in RCPT order.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"
#include "lmtp-bridge.h"
#include "lmtp-client.h"
#include "lmtp-junk.h"
#include "lmtp-options.h"
#include "lmtp-proto.h"
#include "lmtp-router.h"
#include "lmtp-spool.h"

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

/* bridge_message - deliver after the final dot */
void
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
