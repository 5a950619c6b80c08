/*++
 * NAME
 *	lmtp-bridge 3h
 * SUMMARY
 *	what the daemon's files share (private to elemta-lmtp-bridge)
 * SYNOPSIS
 *	#include "lmtp-bridge.h"
 * DESCRIPTION
 *	lmtp-bridge.c: main(), the state of each configuration, accepting
 *	connections, stopping.  lmtp-bridge-session.c: one connection, a
 *	thread, from accept to close.  lmtp-bridge-deliver.c: one message,
 *	from the final dot to a reply per recipient.
 *--*/
#ifndef LMTP_BRIDGE_H
#define LMTP_BRIDGE_H

#include <pthread.h>

#include "snapshot.h"

struct conf;
struct lmtp_conf;
struct lmtp_router;
struct lmtp_pool;
struct lmtp_proto;
struct lmtp_spool;
struct lmtp_route;
struct metric;

/* What a connection works with: one configuration and its router. */
struct bridge_state {
	struct snapshot snap;		/* references, publication */
	struct conf *conf;
	const struct lmtp_conf *lc;
	struct lmtp_router *router;
	struct lmtp_pool *pool;		/* idle backend connections */
	char *hostname;
};

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

/* lmtp-bridge.c: the connections open and the stop (under bridge_lock) */
extern pthread_mutex_t bridge_lock;
extern pthread_cond_t bridge_idle;
extern int bridge_active;
extern volatile int bridge_stopping;
extern struct metric *m_conns, *m_active, *m_rcpts, *m_deliveries;
extern struct metric *m_latency, *m_messages;

/* bridge_state_current - a reference to the current state */
struct bridge_state *bridge_state_current(void);
/* bridge_state_unref - drop a reference; the last one frees */
void bridge_state_unref(struct bridge_state **stp);
/* bridge_delivery_begin - may a delivery begin?  Counted in flight if
 * so; bridge_delivery_end once its replies are written */
int bridge_delivery_begin(void);
void bridge_delivery_end(struct bridge_session *bs);

/* lmtp-bridge-ctl.c: bridge_ctl_register - the control socket's
 * commands (before runtime_start) */
void bridge_ctl_register(void);

/* lmtp-bridge-session.c */
/* bridge_thread - one connection (a struct bridge_session), start to end */
void *bridge_thread(void *arg);
/* bridge_qid - the queue id for log lines */
const char *bridge_qid(const struct bridge_session *bs);

/* lmtp-bridge-deliver.c */
/* bridge_message - deliver after the final dot: a reply per recipient
 * set in bs->proto */
void bridge_message(struct bridge_session *bs);

#endif
