/*++
 * NAME
 *	lmtp-wire 3
 * SUMMARY
 *	LMTP client side, the pure parts
 * DESCRIPTION
 *	See lmtp-wire.h.  No I/O, no logging.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp-proto.h"
#include "lmtp-syntax.h"
#include "lmtp-wire.h"
#include "xalloc.h"

/* lmtp_caps_parse - read extensions from the LHLO reply lines */
void
lmtp_caps_parse(const char *reply, struct lmtp_caps *caps)
{
	const char *line = reply, *kw;
	size_t n;

	memset(caps, 0, sizeof(*caps));
	while (line != NULL) {
		/* "250 2.0.0 KEYWORD ..." after lmtp_reply_fix */
		kw = line + strcspn(line, " \n");
		kw += strspn(kw, " ");
		kw += strcspn(kw, " \n");
		kw += strspn(kw, " ");
		n = strcspn(kw, " \n");
#define CAP(name) (n == sizeof(name) - 1 && strncasecmp(kw, name, n) == 0)
		if (CAP("PIPELINING"))
			caps->pipelining = 1;
		else if (CAP("SIZE"))
			caps->size = 1;
		else if (CAP("8BITMIME"))
			caps->eightbit = 1;
		else if (CAP("DSN"))
			caps->dsn = 1;
		else if (CAP("SMTPUTF8"))
			caps->smtputf8 = 1;
#undef CAP
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
}

/* lmtp_reply_reader_byte - assemble lines; 1 at the reply's last */
int
lmtp_reply_reader_byte(struct lmtp_reply_reader *rr, int ch)
{
	size_t len;
	int last;

	if (rr->done)
		return 1;
	if (ch != '\n') {
		/* a NUL would end the line's text early (it is a C string
		 * from here on): what a broken backend sent would be lost
		 * to the error message, so it becomes the '?' that other
		 * control characters get there */
		if (rr->len < sizeof(rr->line) - 1)
			rr->line[rr->len++] = ch == '\0' ? '?' : (char)ch;
		return 0;
	}
	len = rr->len;
	if (len > 0 && rr->line[len - 1] == '\r')
		len--;
	rr->line[len] = '\0';
	last = len < 4 || rr->line[3] != '-';
	rr->raw = x_realloc(rr->raw, rr->rlen + len + 2);
	rr->rlen += (size_t)sprintf(rr->raw + rr->rlen, "%s%s",
				    rr->rlen ? "\n" : "", rr->line);
	rr->len = 0;
	if (last || ++rr->nlines >= LMTP_MAX_REPLY_LINES)
		rr->done = 1;
	return rr->done;
}

/* lmtp_reply_reader_clear - forget what was read */
void
lmtp_reply_reader_clear(struct lmtp_reply_reader *rr)
{
	x_free(&rr->raw);
	rr->rlen = rr->len = 0;
	rr->nlines = rr->done = 0;
}

/* lmtp_reply_reader_take - the reply, checked for cmd */
char *
lmtp_reply_reader_take(struct lmtp_reply_reader *rr, const char *cmd,
		       char *err, size_t errlen)
{
	char *fixed;

	if (!rr->done) {
		x_err(err, errlen, "no complete reply");
		return NULL;
	}
	fixed = lmtp_reply_fix(rr->raw);
	if (fixed == NULL) {
		/* the raw text may hold anything: keep the log line clean */
		lmtp_printable(rr->raw);
		x_err(err, errlen, "bad reply: %.100s", rr->raw);
	} else if (cmd != NULL && fixed[0] == '3'
		   && !(strcmp(cmd, "DATA") == 0
			&& strncmp(fixed, "354", 3) == 0)) {
		x_err(err, errlen, "protocol error: unexpected reply to %s: "
		      "%.100s", cmd, fixed);
		x_free(&fixed);
	}
	lmtp_reply_reader_clear(rr);
	return fixed;
}

/* lmtp_stuff_init - at the beginning of a line, nothing seen */
void
lmtp_stuff_init(struct lmtp_stuff *st)
{
	st->bol = 1;
	st->last = '\n';
	st->prev = '\r';
	st->n = 0;
}

/* lmtp_stuff_put - the bytes, a "." doubled at each line's start */
int
lmtp_stuff_put(struct lmtp_stuff *st, const char *buf, size_t len,
	       lmtp_out_fn out, void *ctx)
{
	size_t i, start = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (st->bol && buf[i] == '.') {
			if (out(ctx, buf + start, i - start) < 0
			    || out(ctx, ".", 1) < 0)
				return -1;
			start = i;
		}
		/* after any LF: Dovecot reads a bare LF as a line end */
		st->bol = buf[i] == '\n';
	}
	if (out(ctx, buf + start, len - start) < 0)
		return -1;
	st->prev = len > 1 ? buf[len - 2] : st->last;
	st->last = buf[len - 1];
	st->n += (long long)len;
	return 0;
}

/* lmtp_stuff_end - the end of data, after a CRLF */
int
lmtp_stuff_end(struct lmtp_stuff *st, lmtp_out_fn out, void *ctx)
{
	if (st->n > 0 && !(st->last == '\n' && st->prev == '\r')
	    && out(ctx, "\r\n", 2) < 0)
		return -1;
	return out(ctx, ".\r\n", 3);
}
