/*++
 * NAME
 *	lmtp-client 3h
 * SUMMARY
 *	LMTP client side: one transaction into a backend (Dovecot)
 * SYNOPSIS
 *	#include "lmtp-client.h"
 *
 *	struct lmtp_delivery d = { .backend = "inet:127.0.0.1:24", ... };
 *	lmtp_client_deliver(&d);
 *	... d.rcpts[i].reply for every i ...
 * DESCRIPTION
 *	Takes a connection to the backend -- an idle one from the pool,
 *	probed with RSET as Postfix's connection cache does, or a new one
 *	(connect_timeout, greeting, LHLO) -- then MAIL with the parameters
 *	the backend advertises (SIZE, BODY=8BITMIME, SMTPUTF8, RET/ENVID),
 *	RCPT per recipient with NOTIFY/ORCPT when it does DSN, DATA (the
 *	three in one write when it does PIPELINING, as Postfix sends
 *	them), the prepended header and the body dot-stuffed, then reads
 *	one reply per accepted recipient.  A clean
 *	connection goes back to the pool (or gets QUIT).
 *
 *	A backend may name several addresses, "inet:a:24;inet:b:24": they
 *	are tried in order while no byte of the message has been sent
 *	(connect refused, bad greeting, a 4xx to LHLO or MAIL, a connection
 *	lost before the reply to DATA).  Once the body is on its way there
 *	is no failover.  A pooled connection that fails before that is
 *	retried once on a new one.
 *
 *	Every recipient always gets a reply:
 *
 *	- the backend's own, passed through (lmtp_reply_fix fills in a
 *	  missing enhanced code): 550 5.1.1, 552 5.2.2, 452 4.2.2 ...;
 *	- every address unreachable, or failing before the body was sent:
 *	  451 4.4.1 (nothing can have been delivered: Postfix retries);
 *	- a MAIL or DATA refusal: that reply, for each recipient;
 *	- an unclear outcome after the body was sent (connection lost,
 *	  timeout, garbage): 451 4.4.2 for the recipients without a reply.
 *	  Postfix retries those; a duplicate is possible only if the
 *	  backend delivered and then failed to say so, which is the
 *	  lesser evil than a loss.
 *
 *	Every wait is bounded by command_timeout and by the absolute
 *	deadline, and every read and write checks the deadline even when
 *	it would not wait (a backend that streams a reply with no end),
 *	so the whole delivery ends well before Postfix's
 *	lmtp_data_done_timeout (600 s) and Postfix never gives up on a
 *	delivery that then succeeds behind its back.  No logging: d->err
 *	says what went wrong, the caller logs.  lmtp_client_deliver may run
 *	in several threads at once (one per backend), on the same spool
 *	and the same pool.
 *
 *	The pool of idle connections is lmtp-pool.h's.
 *--*/
#ifndef ELEMTA_LMTP_CLIENT_H
#define ELEMTA_LMTP_CLIENT_H

#include <stddef.h>

#include "lmtp-pool.h"
#include "lmtp-proto.h"
#include "lmtp-spool.h"

struct lmtp_client_rcpt {
	const char *addr;	/* the mailbox address (after routing) */
	const char *notify;	/* NOTIFY=, or NULL */
	const char *orcpt;	/* ORCPT=, or NULL */
	char *reply;		/* out: malloc'ed reply (always set) */
};

struct lmtp_delivery {
	/* in */
	const char *backend;	/* inet:HOST:PORT or unix:PATH, or several
				 * separated by ';' */
	struct lmtp_pool *pool;	/* idle connections, or NULL */
	const char *helo;	/* our LHLO name */
	const struct lmtp_envelope *env;	/* sender and parameters */
	struct lmtp_client_rcpt *rcpts;
	size_t nrcpts;
	struct lmtp_spool *spool;	/* the body */
	const char *prepend;	/* header lines to add first (CRLF), or NULL */
	int connect_timeout;	/* seconds */
	int command_timeout;	/* seconds */
	double deadline;	/* clock_mono_s() value to stop at */
	/* out */
	int data_sent;		/* the body went out (replies may be unclear) */
	int reused;		/* the connection came from the pool */
	int attempts;		/* connections tried */
	char addr[256];		/* the address last tried */
	char err[256];		/* what failed, "" if nothing */
};

/* lmtp_client_deliver - run the transaction; fills every rcpts[].reply */
void lmtp_client_deliver(struct lmtp_delivery *d);


#endif
