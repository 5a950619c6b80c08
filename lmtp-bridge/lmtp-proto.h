/*++
 * NAME
 *	lmtp-proto 3h
 * SUMMARY
 *	LMTP (RFC 2033) server side: command parser and session state
 * SYNOPSIS
 *	#include "lmtp-proto.h"
 *
 *	s = lmtp_proto_new(&limits, "mx.example.test", sink, sink_ctx);
 *	lmtp_proto_input(s, buf, n);		   bytes read from the client
 *	while ((ev = lmtp_proto_next(s)) != LMTP_EV_INPUT) {
 *		switch (ev) {
 *		case LMTP_EV_RCPT:	   decide s->pending, then
 *			lmtp_proto_rcpt_result(s, "250 2.1.5 Ok", data);
 *		case LMTP_EV_DATA:	   open a spool, then
 *			lmtp_proto_data_start(s, ok);
 *		case LMTP_EV_MESSAGE:	   deliver, then for each rcpt i
 *			lmtp_proto_set_reply(s, i, "250 2.0.0 Saved");
 *			lmtp_proto_message_done(s);
 *		case LMTP_EV_QUIT:	   write the output, close
 *		}
 *	}
 *	out = lmtp_proto_output(s, &len);	   write it, then
 *	lmtp_proto_output_consumed(s, len);
 * DESCRIPTION
 *	A pure module: bytes in, events and reply bytes out, no I/O, no
 *	logging, so that it can be unit-tested and fuzzed.  It owns the
 *	command syntax (LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY,
 *	XFORWARD), the order of commands (503 5.5.1), line and size
 *	limits, pipelining (any number of commands per read; replies are
 *	queued in order and the caller writes them when it would wait for
 *	input), dot-unstuffing and the end-of-data marker, both of which
 *	may be split anywhere across reads.
 *
 *	The reply accounting after the final dot is enforced here: the
 *	caller sets one reply per ACCEPTED recipient (duplicates are
 *	separate entries, in RCPT order) and lmtp_proto_message_done()
 *	writes exactly that many, in that order.  A recipient the caller
 *	forgot gets "451 4.3.0" rather than a missing line, which would
 *	shift every later reply onto the wrong recipient.
 *
 *	The message body (unstuffed, CRLF kept) goes to the sink callback
 *	in chunks.  A sink error or a message over max_size does not stop
 *	reading: the data is read to its end and each recipient then gets
 *	the error (451 4.3.0 / 552 5.3.4).
 *
 *	The end of data is only CR LF "." CR LF; a bare LF never starts a
 *	line for this purpose (no SMTP smuggling through the bridge).
 *	Command lines may end in a bare LF.
 *--*/
#ifndef ELEMTA_LMTP_PROTO_H
#define ELEMTA_LMTP_PROTO_H

#include <stddef.h>

struct lmtp_limits {
	size_t max_line;	/* command line, CRLF included (>= 512) */
	long long max_size;	/* message size; 0: none */
	unsigned max_rcpts;	/* accepted recipients per transaction */
	unsigned max_errors;	/* bad commands before 421 and close */
};

enum lmtp_body {
	LMTP_BODY_NONE,		/* no BODY= parameter */
	LMTP_BODY_7BIT,
	LMTP_BODY_8BITMIME,
};

/* One recipient: a RCPT being decided (s->pending), or accepted. */
struct lmtp_rcpt {
	char *addr;		/* inside <>, as given */
	char *notify;		/* NOTIFY= value, or NULL */
	char *orcpt;		/* ORCPT= value (addr-type;xtext), or NULL */
	void *data;		/* the caller's (routing result), not freed */
	char *reply;		/* final reply after DATA, set by the caller */
};

/* The mail transaction. */
struct lmtp_envelope {
	char *sender;		/* "" for the null sender; NULL: no MAIL */
	long long size;		/* SIZE=, or -1 */
	enum lmtp_body body;
	int smtputf8;		/* SMTPUTF8 given */
	char *ret;		/* RET= (FULL or HDRS), or NULL */
	char *envid;		/* ENVID= (xtext), or NULL */
	struct lmtp_rcpt *rcpts;/* accepted recipients, RCPT order */
	size_t nrcpts;
	size_t rcpts_alloc;
	/* filled while reading DATA */
	long long data_size;	/* unstuffed bytes */
	unsigned received;	/* Received: headers seen in the header */
	int too_big;		/* exceeded max_size */
	int sink_failed;	/* the sink returned -1 */
};

/* XFORWARD attributes (Postfix), decoded; NULL when not sent.  They
 * belong to the next transaction and are reset after it (as Postfix's
 * smtpd does). */
struct lmtp_xforward {
	char *name, *addr, *port, *proto, *helo, *ident, *source;
};

enum lmtp_event {
	LMTP_EV_INPUT,		/* all input used: write output, read more */
	LMTP_EV_RCPT,		/* s->pending needs lmtp_proto_rcpt_result */
	LMTP_EV_DATA,		/* DATA accepted: lmtp_proto_data_start */
	LMTP_EV_MESSAGE,	/* final dot: replies, lmtp_proto_message_done */
	LMTP_EV_QUIT,		/* QUIT or fatal error: write output, close */
};

/* sink - take len bytes of message body; 0, or -1 on failure */
typedef int (*lmtp_sink_fn)(void *ctx, const char *buf, size_t len);

struct lmtp_proto;

/* lmtp_proto_new - a session; the greeting is already in the output */
struct lmtp_proto *lmtp_proto_new(const struct lmtp_limits *lim,
				  const char *hostname, lmtp_sink_fn sink,
				  void *sink_ctx);
void lmtp_proto_free(struct lmtp_proto **sp);

/* lmtp_proto_input - append bytes read from the client */
void lmtp_proto_input(struct lmtp_proto *s, const char *buf, size_t len);

/* lmtp_proto_next - process input until an event for the caller */
enum lmtp_event lmtp_proto_next(struct lmtp_proto *s);

/* lmtp_proto_rcpt_result - the answer to the pending RCPT: a reply
 * (lmtp_reply_fix form; 2xx accepts it); data is kept with it */
void lmtp_proto_rcpt_result(struct lmtp_proto *s, const char *reply,
			    void *data);

/* lmtp_proto_data_start - ok: 354 and read the body; else the reply
 * given (e.g. "451 4.3.0 ...") and the session stays in MAIL state */
void lmtp_proto_data_start(struct lmtp_proto *s, const char *fail_reply);

/* lmtp_proto_set_reply - the final reply of accepted recipient i */
void lmtp_proto_set_reply(struct lmtp_proto *s, size_t i,
			  const char *reply);

/* lmtp_proto_message_done - write one reply per accepted recipient, in
 * order, and end the transaction.  When the message was too big or the
 * sink failed, every recipient gets 552 5.3.4 / 451 4.3.0 instead of
 * what was set (the caller should not deliver such a message). */
void lmtp_proto_message_done(struct lmtp_proto *s);

/* Accessors.  Pointers stay valid until the next call that changes the
 * session (rcpt_result, message_done, input...). */
const char *lmtp_proto_output(const struct lmtp_proto *s, size_t *lenp);
void lmtp_proto_output_consumed(struct lmtp_proto *s, size_t n);
const struct lmtp_envelope *lmtp_proto_envelope(const struct lmtp_proto *s);
const struct lmtp_rcpt *lmtp_proto_pending(const struct lmtp_proto *s);
const struct lmtp_xforward *lmtp_proto_xforward(const struct lmtp_proto *s);
const char *lmtp_proto_lhlo(const struct lmtp_proto *s);
int lmtp_proto_in_data(const struct lmtp_proto *s);

/*
 * lmtp_reply_fix - a well-formed reply from a peer's text: a valid
 * three-digit code (2xx..5xx, else NULL is returned), an enhanced
 * status code whose class matches (added as C.0.0 when missing or
 * wrong), each line of a multi-line reply ("250-..." / "250 ...")
 * joined with "\n" without the hyphen form.  Control characters
 * become '?'.  Returns a malloc'ed string the caller frees, or NULL.
 */
char *lmtp_reply_fix(const char *text);

/* lmtp_reply_format - append reply (lines joined with "\n") to out in
 * wire form ("ccc-" continuations, CRLF); returns the new length */
size_t lmtp_reply_wire_len(const char *reply);
void lmtp_reply_format(const char *reply, char *out);

/* lmtp_xtext_decode - RFC 3461 xtext ("+2B" -> "+"); malloc'ed, or
 * NULL when malformed */
char *lmtp_xtext_decode(const char *in);

#endif
