/*++
 * NAME
 *	lmtp-wire 3h
 * SUMMARY
 *	LMTP client side, the pure parts: reply assembly, LHLO
 *	capabilities, dot-stuffing of the body
 * SYNOPSIS
 *	#include "lmtp-wire.h"
 *
 *	struct lmtp_reply_reader rr = { 0 };
 *	while (!lmtp_reply_reader_byte(&rr, next_byte()))
 *		;
 *	reply = lmtp_reply_reader_take(&rr, "RCPT", err, sizeof(err));
 *
 *	lmtp_caps_parse(lhlo_reply, &caps);
 *
 *	lmtp_stuff_init(&st);
 *	lmtp_stuff_put(&st, chunk, n, out, ctx);	   as often as needed
 *	lmtp_stuff_end(&st, out, ctx);		   CRLF if needed, "."
 * DESCRIPTION
 *	What lmtp-client.c does with the bytes it reads from and writes
 *	to a backend, without the I/O, so that it can be unit-tested and
 *	fuzzed (t/fuzz-lmtp-reply.c, t/fuzz-lmtp-body.c).
 *
 *	Replies: lines are assembled byte by byte (a line longer than
 *	LMTP_MAX_REPLY_LINE is cut, a reply of more than
 *	LMTP_MAX_REPLY_LINES lines ends there) and the whole reply goes
 *	through lmtp_reply_fix().  LMTP has one intermediate reply, 354 to
 *	DATA: any other 3xx (or a 354 to anything else) is a protocol error
 *	of the backend, refused like garbage -- never passed on as if it
 *	were a final reply.
 *
 *	Dot-stuffing: a "." that begins a line is doubled, where a line
 *	begins after any LF, CRLF or bare: Dovecot (lib-mail's istream-dot)
 *	takes a bare LF as a line end, and the stuffing must follow the
 *	bytes as the backend reads them.  The body is ended with CRLF if it
 *	does not end so, then "." CRLF.  The stuffer starts at the
 *	beginning of a line (after our prepended header).
 *--*/
#ifndef ELEMTA_LMTP_WIRE_H
#define ELEMTA_LMTP_WIRE_H

#include <stddef.h>

#define LMTP_MAX_REPLY_LINES 100
#define LMTP_MAX_REPLY_LINE 4096

/* The extensions a LHLO reply advertises. */
struct lmtp_caps {
	int pipelining, size, eightbit, dsn, smtputf8;
};

/* lmtp_caps_parse - the extensions of a LHLO reply (lmtp_reply_fix form:
 * "250 2.0.0 KEYWORD ..." lines joined with "\n") */
void lmtp_caps_parse(const char *reply, struct lmtp_caps *caps);

/* One reply being read; zero it before the first byte. */
struct lmtp_reply_reader {
	char line[LMTP_MAX_REPLY_LINE];
	size_t len;		/* of line */
	char *raw;		/* the lines so far, joined with "\n" */
	size_t rlen;
	int nlines;
	int done;		/* a whole reply is in raw */
};

/* lmtp_reply_reader_byte - one byte of the backend's; 1 once a whole
 * reply is read (take it before the next byte), else 0 */
int lmtp_reply_reader_byte(struct lmtp_reply_reader *rr, int ch);

/* lmtp_reply_reader_take - the reply read, as a reply to cmd (NULL: to
 * anything), fixed up (malloc'ed); NULL with err when it is no reply or
 * an unexpected 3xx.  The reader is ready for the next reply. */
char *lmtp_reply_reader_take(struct lmtp_reply_reader *rr, const char *cmd,
			     char *err, size_t errlen);

/* lmtp_reply_reader_clear - forget a partial reply */
void lmtp_reply_reader_clear(struct lmtp_reply_reader *rr);

/* out - take len bytes of wire output; 0, or -1 to stop */
typedef int (*lmtp_out_fn)(void *ctx, const char *buf, size_t len);

struct lmtp_stuff {
	int bol;		/* the next byte begins a line */
	char last, prev;	/* the last two bytes of the body */
	long long n;		/* body bytes seen */
};

void lmtp_stuff_init(struct lmtp_stuff *st);
/* lmtp_stuff_put - len body bytes, stuffed, to out; 0 or out's -1 */
int lmtp_stuff_put(struct lmtp_stuff *st, const char *buf, size_t len,
		   lmtp_out_fn out, void *ctx);
/* lmtp_stuff_end - CRLF if the body does not end so, then "." CRLF */
int lmtp_stuff_end(struct lmtp_stuff *st, lmtp_out_fn out, void *ctx);

#endif
