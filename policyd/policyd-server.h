/*++
 * NAME
 *	policyd-server 3h
 * SUMMARY
 *	what policyd.c and policyd-conn.c share (private to elemta-policyd)
 * SYNOPSIS
 *	#include "policyd-server.h"
 * DESCRIPTION
 *	The server (policyd.c: main, the event loop, the configuration
 *	and the stores) and its client connections (policyd-conn.c).
 *--*/
#ifndef POLICYD_SERVER_H
#define POLICYD_SERVER_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

struct metric;
struct policyd_batch;
struct policyd_ldap;
struct policyd_policy;
struct policyd_proto;
struct policyd_redis;
struct policyd_req;
struct policyd_session;
struct policyd_store;

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

/* policyd-ctl.c */
/* policyd_ctl_register - the control socket's commands of policyd */
void policyd_ctl_register(struct policyd_server *srv);

/* policyd-conn.c */
/* policyd_accept - take every pending connection */
void policyd_accept(struct policyd_server *srv);
/* policyd_conn_event - what epoll says of one connection */
void policyd_conn_event(struct policyd_server *srv, struct policyd_conn *cn,
			uint32_t re);
/* policyd_resume_all - decide again what waits for the directory */
void policyd_resume_all(struct policyd_server *srv);
/* policyd_batch_flush - run the batch, then go on with what the
 * answered connections sent after their request */
void policyd_batch_flush(struct policyd_server *srv);
/* policyd_expire_idle - close connections idle for idle_timeout */
void policyd_expire_idle(struct policyd_server *srv, int64_t mono);
/* policyd_conn_close - close connection i of srv and free it */
void policyd_conn_close(struct policyd_server *srv, size_t i,
			const char *reason);

#endif
