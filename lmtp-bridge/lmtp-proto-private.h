/*++
 * NAME
 *	lmtp-proto-private 3h
 * SUMMARY
 *	what lmtp-proto.c and lmtp-proto-cmd.c share (private)
 * SYNOPSIS
 *	#include "lmtp-proto-private.h"
 * DESCRIPTION
 *	The session (struct lmtp_proto), and the few things the command
 *	handlers (lmtp-proto-cmd.c) need of the session (lmtp-proto.c):
 *	queueing a reply, counting an error, ending a transaction.
 *--*/
#ifndef LMTP_PROTO_PRIVATE_H
#define LMTP_PROTO_PRIVATE_H

#include <stddef.h>

#include "lmtp-proto.h"

enum lmtp_state {
	ST_GREET,		/* no LHLO yet */
	ST_IDLE,		/* after LHLO, no transaction */
	ST_MAIL,		/* MAIL given (RCPTs may follow) */
	ST_DATA,		/* reading the body */
	ST_DONE,		/* final dot read; waiting for replies */
	ST_QUIT,		/* closing */
};

/* Where the body reader is within a line (dot handling). */
enum lmtp_dstate {
	D_BOL,			/* beginning of a line */
	D_MID,			/* inside a line */
	D_CR,			/* after a CR */
	D_DOT,			/* after a "." at the beginning of a line */
	D_DOTCR,		/* after ".\r" at the beginning of a line */
};

#define LMTP_SINK_CHUNK 16384

struct lmtp_proto {
	struct lmtp_limits lim;
	char *hostname;
	lmtp_sink_fn sink;
	void *sink_ctx;
	enum lmtp_state state;
	enum lmtp_event waiting;	/* an event not yet answered */
	char *in;			/* input; in_off bytes used */
	size_t in_off, in_len, in_alloc;
	int discarding;			/* skipping an over-long line */
	char *out;			/* replies; out_off bytes written */
	size_t out_off, out_len, out_alloc;
	unsigned errors;
	char *lhlo;
	struct lmtp_envelope env;
	struct lmtp_rcpt pending;
	struct lmtp_xforward xf;
	/* body reader */
	enum lmtp_dstate dstate;
	int in_header;
	size_t line_len;		/* chars since the line began */
	int hdr_match;			/* chars of "received:" matched, -1 */
	char prev;			/* the previous body byte */
	char chunk[LMTP_SINK_CHUNK];
	size_t chunk_len;
};

/*
 * Buffers
 */

/* lmtp_reply - queue a reply (lines joined with "\n") in wire form */
void lmtp_reply(struct lmtp_proto *s, const char *reply);
/* lmtp_error - a reply to a bad command; 421 and close after too many */
void lmtp_error(struct lmtp_proto *s, const char *reply);
/* lmtp_rcpt_clear - free a recipient's strings */
void lmtp_rcpt_clear(struct lmtp_rcpt *r);
/* lmtp_envelope_clear - end the transaction */
void lmtp_envelope_clear(struct lmtp_proto *s);
/* lmtp_reset - RSET, LHLO or the end of a transaction */
void lmtp_reset(struct lmtp_proto *s);

/* lmtp_command - dispatch one command line; an event or LMTP_EV_INPUT
 * (lmtp-proto-cmd.c) */
enum lmtp_event lmtp_command(struct lmtp_proto *s, char *line);

#endif
