/*++
 * NAME
 *	lmtp-proto 3
 * SUMMARY
 *	LMTP (RFC 2033) server side: session state, input, body reader
 * DESCRIPTION
 *	See lmtp-proto.h.  Replies follow Postfix's smtpd wording where
 *	one exists, so that Postfix's logs read the same either way.
 *	The commands themselves are parsed in lmtp-proto-cmd.c.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp-proto.h"
#include "lmtp-proto-private.h"
#include "lmtp-syntax.h"
#include "xalloc.h"

/*
 * Buffers
 */

/* lmtp_grow - make room for more bytes in a growable buffer */
static void
lmtp_grow(char **buf, size_t *alloc, size_t need)
{
	size_t n = *alloc ? *alloc : 256;

	if (need <= *alloc)
		return;
	while (n < need)
		n *= 2;
	*buf = x_realloc(*buf, n);
	*alloc = n;
}

/* lmtp_reply - queue a reply (lines joined with "\n") in wire form */
void
lmtp_reply(struct lmtp_proto *s, const char *reply)
{
	size_t n = lmtp_reply_wire_len(reply);

	/* drop what was written when it is at least what is left: the
	 * copy is amortised over the bytes written */
	if (s->out_off > 0 && s->out_off >= s->out_len - s->out_off) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	lmtp_grow(&s->out, &s->out_alloc, s->out_len + n + 1);
	lmtp_reply_format(reply, s->out + s->out_len);
	s->out_len += n;
}

/*
 * Session
 */

/* lmtp_proto_new - a new session with the greeting queued */
struct lmtp_proto *
lmtp_proto_new(const struct lmtp_limits *lim, const char *hostname,
	       lmtp_sink_fn sink, void *sink_ctx)
{
	struct lmtp_proto *s = x_calloc(1, sizeof(*s));
	char *greet;

	s->lim = *lim;
	if (s->lim.max_line < 512)
		s->lim.max_line = 512;
	if (s->lim.max_rcpts == 0)
		s->lim.max_rcpts = 1000;
	if (s->lim.max_errors == 0)
		s->lim.max_errors = 20;
	s->hostname = x_strdup(hostname);
	s->sink = sink;
	s->sink_ctx = sink_ctx;
	s->state = ST_GREET;
	s->env.size = -1;
	greet = x_asprintf("220 %s LMTP elemta-lmtp-bridge", hostname);
	lmtp_reply(s, greet);
	x_free(&greet);
	return s;
}

/* lmtp_rcpt_clear - free a recipient's strings */
void
lmtp_rcpt_clear(struct lmtp_rcpt *r)
{
	x_free(&r->addr);
	x_free(&r->notify);
	x_free(&r->orcpt);
	x_free(&r->reply);
	r->data = NULL;
}

/* lmtp_xforward_clear - forget the XFORWARD attributes */
static void
lmtp_xforward_clear(struct lmtp_xforward *xf)
{
	x_free(&xf->name);
	x_free(&xf->addr);
	x_free(&xf->port);
	x_free(&xf->proto);
	x_free(&xf->helo);
	x_free(&xf->ident);
	x_free(&xf->source);
}

/* lmtp_envelope_clear - end the transaction */
void
lmtp_envelope_clear(struct lmtp_proto *s)
{
	struct lmtp_envelope *e = &s->env;
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		lmtp_rcpt_clear(&e->rcpts[i]);
	x_free(&e->rcpts);
	x_free(&e->sender);
	x_free(&e->ret);
	x_free(&e->envid);
	memset(e, 0, sizeof(*e));
	e->size = -1;
	lmtp_rcpt_clear(&s->pending);
}

/* lmtp_reset - RSET, LHLO or the end of a transaction */
void
lmtp_reset(struct lmtp_proto *s)
{
	lmtp_envelope_clear(s);
	lmtp_xforward_clear(&s->xf);
	if (s->state != ST_GREET && s->state != ST_QUIT)
		s->state = ST_IDLE;
}

/* lmtp_proto_free - destroy a session */
void
lmtp_proto_free(struct lmtp_proto **sp)
{
	struct lmtp_proto *s = *sp;

	if (s == NULL)
		return;
	lmtp_envelope_clear(s);
	lmtp_xforward_clear(&s->xf);
	x_free(&s->hostname);
	x_free(&s->lhlo);
	x_free(&s->in);
	x_free(&s->out);
	x_free(sp);
}

/* lmtp_proto_input - append client bytes.  What the commands used is
 * dropped here, once per read, not once per command: a read of many
 * pipelined commands would otherwise move the rest of the buffer for
 * each of them (quadratic). */
void
lmtp_proto_input(struct lmtp_proto *s, const char *buf, size_t len)
{
	if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	lmtp_grow(&s->in, &s->in_alloc, s->in_len + len + 1);
	memcpy(s->in + s->in_len, buf, len);
	s->in_len += len;
}

/* lmtp_consume - n more input bytes were used */
static void
lmtp_consume(struct lmtp_proto *s, size_t n)
{
	s->in_off += n;
	if (s->in_off == s->in_len)
		s->in_off = s->in_len = 0;
}

/* lmtp_error - a reply to a bad command; 421 and close after too many */
void
lmtp_error(struct lmtp_proto *s, const char *reply)
{
	lmtp_reply(s, reply);
	if (++s->errors >= s->lim.max_errors) {
		lmtp_reply(s, "421 4.7.0 Error: too many errors");
		s->state = ST_QUIT;
	}
}

/*
 * Body
 */

/* lmtp_body_flush - hand the collected body bytes to the sink */
static void
lmtp_body_flush(struct lmtp_proto *s)
{
	if (s->chunk_len > 0 && !s->env.sink_failed && !s->env.too_big
	    && s->sink != NULL
	    && s->sink(s->sink_ctx, s->chunk, s->chunk_len) < 0)
		s->env.sink_failed = 1;
	s->chunk_len = 0;
}

/* lmtp_body_put - one unstuffed body byte; header accounting */
static void
lmtp_body_put(struct lmtp_proto *s, char c)
{
	static const char received[] = "received:";

	if (s->in_header && s->hdr_match >= 0) {
		if (tolower((unsigned char)c) == received[s->hdr_match]) {
			if (received[++s->hdr_match] == '\0') {
				s->env.received++;
				s->hdr_match = -1;
			}
		} else
			s->hdr_match = -1;
	}
	if (c == '\n') {
		/* an empty line ("\r\n" alone) ends the header */
		if (s->line_len == 1 && s->prev == '\r')
			s->in_header = 0;
		s->line_len = 0;
		s->hdr_match = 0;
	} else
		s->line_len++;
	s->prev = c;
	s->env.data_size++;
	if (s->lim.max_size > 0 && s->env.data_size > s->lim.max_size) {
		s->env.too_big = 1;
		return;
	}
	if (s->chunk_len == sizeof(s->chunk))
		lmtp_body_flush(s);
	s->chunk[s->chunk_len++] = c;
}

/* lmtp_body - consume body bytes; 1 at the final dot */
static int
lmtp_body(struct lmtp_proto *s)
{
	size_t i;
	char c;

	for (i = s->in_off; i < s->in_len; i++) {
		c = s->in[i];
again:
		switch (s->dstate) {
		case D_BOL:
			if (c == '.') {
				s->dstate = D_DOT;
				continue;
			}
			/* FALLTHROUGH */
		case D_MID:
			lmtp_body_put(s, c);
			s->dstate = c == '\r' ? D_CR : D_MID;
			break;
		case D_CR:
			lmtp_body_put(s, c);
			s->dstate = c == '\n' ? D_BOL : c == '\r' ? D_CR : D_MID;
			break;
		case D_DOT:
			if (c == '\r') {
				s->dstate = D_DOTCR;
				continue;
			}
			/* the leading dot is dropped (unstuffed) */
			s->dstate = D_MID;
			goto again;
		case D_DOTCR:
			if (c == '\n') {
				lmtp_consume(s, i + 1 - s->in_off);
				lmtp_body_flush(s);
				return 1;
			}
			/* ".\r" then something else: the dot goes */
			lmtp_body_put(s, '\r');
			s->dstate = D_CR;
			goto again;
		}
	}
	lmtp_consume(s, s->in_len - s->in_off);
	return 0;
}

/*
 * Driving the session
 */

/* lmtp_proto_next - run until an event needs the caller */
enum lmtp_event
lmtp_proto_next(struct lmtp_proto *s)
{
	enum lmtp_event ev;
	char *nl, *line;
	size_t len, avail;

	if (s->waiting != LMTP_EV_INPUT)
		return s->waiting;
	for (;;) {
		if (s->state == ST_QUIT)
			return s->waiting = LMTP_EV_QUIT;
		if (s->state == ST_DATA) {
			if (!lmtp_body(s))
				return LMTP_EV_INPUT;
			s->state = ST_DONE;
			return s->waiting = LMTP_EV_MESSAGE;
		}
		line = s->in + s->in_off;
		avail = s->in_len - s->in_off;
		nl = avail ? memchr(line, '\n', avail) : NULL;
		if (nl == NULL) {
			if (avail >= s->lim.max_line) {
				/* keep reading to the end of this line */
				s->discarding = 1;
				s->in_off = s->in_len = 0;
			}
			return LMTP_EV_INPUT;
		}
		len = (size_t)(nl - line) + 1;
		if (s->discarding || len > s->lim.max_line) {
			s->discarding = 0;
			lmtp_consume(s, len);
			lmtp_error(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (memchr(line, '\0', len - 1) != NULL) {
			lmtp_consume(s, len);
			lmtp_error(s, "500 5.5.2 Error: NUL in command");
			continue;
		}
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		ev = lmtp_command(s, line);
		lmtp_consume(s, len);
		if (ev != LMTP_EV_INPUT)
			return s->waiting = ev;
	}
}

/* lmtp_proto_rcpt_result - the caller's answer to a RCPT */
void
lmtp_proto_rcpt_result(struct lmtp_proto *s, const char *reply, void *data)
{
	struct lmtp_envelope *e = &s->env;
	struct lmtp_rcpt *r;

	if (s->waiting != LMTP_EV_RCPT)
		return;
	s->waiting = LMTP_EV_INPUT;
	lmtp_reply(s, reply);
	if (reply[0] != '2') {
		lmtp_rcpt_clear(&s->pending);
		return;
	}
	if (e->nrcpts == e->rcpts_alloc) {
		e->rcpts_alloc = e->rcpts_alloc ? 2 * e->rcpts_alloc : 8;
		e->rcpts = x_realloc(e->rcpts,
				     e->rcpts_alloc * sizeof(*e->rcpts));
	}
	r = &e->rcpts[e->nrcpts++];
	*r = s->pending;
	r->data = data;
	r->reply = NULL;
	memset(&s->pending, 0, sizeof(s->pending));
}

/* lmtp_proto_data_start - 354 and read the body, or a failure reply */
void
lmtp_proto_data_start(struct lmtp_proto *s, const char *fail_reply)
{
	if (s->waiting != LMTP_EV_DATA)
		return;
	s->waiting = LMTP_EV_INPUT;
	if (fail_reply != NULL) {
		lmtp_reply(s, fail_reply);
		return;
	}
	lmtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->state = ST_DATA;
	s->dstate = D_BOL;
	s->in_header = 1;
	s->line_len = 0;
	s->hdr_match = 0;
	s->chunk_len = 0;
}

/* lmtp_proto_set_reply - the final reply of accepted recipient i */
void
lmtp_proto_set_reply(struct lmtp_proto *s, size_t i, const char *reply)
{
	if (i >= s->env.nrcpts)
		return;
	x_free(&s->env.rcpts[i].reply);
	s->env.rcpts[i].reply = x_strdup(reply);
}

/* lmtp_proto_message_done - one reply per accepted rcpt, in order */
void
lmtp_proto_message_done(struct lmtp_proto *s)
{
	size_t i;

	if (s->waiting != LMTP_EV_MESSAGE)
		return;
	s->waiting = LMTP_EV_INPUT;
	for (i = 0; i < s->env.nrcpts; i++) {
		const char *r = s->env.rcpts[i].reply;

		if (s->env.too_big)
			r = "552 5.3.4 Error: message size exceeds fixed limit";
		else if (s->env.sink_failed)
			r = "451 4.3.0 Error: could not spool the message";
		else if (r == NULL)
			r = "451 4.3.0 Error: no delivery status";
		lmtp_reply(s, r);
	}
	lmtp_reset(s);
}

/*
 * Accessors
 */

/* lmtp_proto_output - the replies not yet written */
const char *
lmtp_proto_output(const struct lmtp_proto *s, size_t *lenp)
{
	*lenp = s->out_len - s->out_off;
	return s->out + s->out_off;
}

/* lmtp_proto_output_consumed - n bytes of output were written */
void
lmtp_proto_output_consumed(struct lmtp_proto *s, size_t n)
{
	if (n > s->out_len - s->out_off)
		n = s->out_len - s->out_off;
	s->out_off += n;
	if (s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
}

/* lmtp_proto_envelope - the current transaction */
const struct lmtp_envelope *
lmtp_proto_envelope(const struct lmtp_proto *s)
{
	return &s->env;
}

/* lmtp_proto_pending - the RCPT being decided */
const struct lmtp_rcpt *
lmtp_proto_pending(const struct lmtp_proto *s)
{
	return &s->pending;
}

/* lmtp_proto_xforward - the XFORWARD attributes */
const struct lmtp_xforward *
lmtp_proto_xforward(const struct lmtp_proto *s)
{
	return &s->xf;
}

/* lmtp_proto_lhlo - the LHLO name, or NULL */
const char *
lmtp_proto_lhlo(const struct lmtp_proto *s)
{
	return s->lhlo;
}

/* lmtp_proto_in_data - true while reading a message body */
int
lmtp_proto_in_data(const struct lmtp_proto *s)
{
	return s->state == ST_DATA;
}
