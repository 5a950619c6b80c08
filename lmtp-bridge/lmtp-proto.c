/*++
 * NAME
 *	lmtp-proto 3
 * SUMMARY
 *	LMTP (RFC 2033) server side: command parser and session state
 * DESCRIPTION
 *	See lmtp-proto.h.  Replies follow Postfix's smtpd wording where
 *	one exists, so that Postfix's logs read the same either way.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp-proto.h"
#include "lmtp-syntax.h"
#include "xalloc.h"

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
static void
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
static void
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
static void
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
static void
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
static void
lmtp_error(struct lmtp_proto *s, const char *reply)
{
	lmtp_reply(s, reply);
	if (++s->errors >= s->lim.max_errors) {
		lmtp_reply(s, "421 4.7.0 Error: too many errors");
		s->state = ST_QUIT;
	}
}

/*
 * Commands
 */

/* lmtp_cmd_lhlo - LHLO: capabilities; a new session state */
static void
lmtp_cmd_lhlo(struct lmtp_proto *s, const char *arg)
{
	char *r, size[40];

	if (*arg == '\0') {
		lmtp_error(s, "501 5.5.4 Syntax: LHLO hostname");
		return;
	}
	lmtp_reset(s);
	x_free(&s->lhlo);
	s->lhlo = x_strndup(arg, strcspn(arg, " "));
	lmtp_printable(s->lhlo);	/* it goes into our Received: */
	s->state = ST_IDLE;
	if (s->lim.max_size > 0)
		snprintf(size, sizeof(size), "SIZE %lld", s->lim.max_size);
	else
		snprintf(size, sizeof(size), "SIZE");
	r = x_asprintf("250 %s\n250 PIPELINING\n250 %s\n250 ENHANCEDSTATUSCODES"
		       "\n250 8BITMIME\n250 DSN\n250 SMTPUTF8\n"
		       "250 XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
		       s->hostname, size);
	lmtp_reply(s, r);
	x_free(&r);
}

#define LMTP_MAIL_OK		0
#define LMTP_MAIL_BAD		1	/* 501 5.5.4 */
#define LMTP_MAIL_UNSUPPORTED	2	/* 555 5.5.4 */
#define LMTP_MAIL_TOO_BIG	3	/* 552 5.3.4 */

/* lmtp_mail_param - one MAIL parameter into the envelope; LMTP_MAIL_* */
static int
lmtp_mail_param(struct lmtp_proto *s, const char *key, const char *val,
		size_t vlen)
{
	struct lmtp_envelope *e = &s->env;
	char *end;

	if (strcasecmp(key, "SIZE") == 0 && val != NULL && vlen > 0
	    && vlen < 20 && isdigit((unsigned char)*val)) {
		errno = 0;
		e->size = strtoll(val, &end, 10);
		if (errno != 0 || end != val + vlen)
			return LMTP_MAIL_BAD;
		if (s->lim.max_size > 0 && e->size > s->lim.max_size)
			return LMTP_MAIL_TOO_BIG;
	} else if (strcasecmp(key, "BODY") == 0 && val != NULL) {
		if (vlen == 4 && strncasecmp(val, "7BIT", 4) == 0)
			e->body = LMTP_BODY_7BIT;
		else if (vlen == 8 && strncasecmp(val, "8BITMIME", 8) == 0)
			e->body = LMTP_BODY_8BITMIME;
		else
			return LMTP_MAIL_UNSUPPORTED;
	} else if (strcasecmp(key, "SMTPUTF8") == 0 && val == NULL) {
		e->smtputf8 = 1;
	} else if (strcasecmp(key, "RET") == 0 && val != NULL
		   && e->ret == NULL
		   && ((vlen == 4 && strncasecmp(val, "FULL", 4) == 0)
		       || (vlen == 4 && strncasecmp(val, "HDRS", 4) == 0))) {
		e->ret = x_strndup(val, vlen);
	} else if (strcasecmp(key, "ENVID") == 0 && val != NULL
		   && vlen > 0 && vlen <= 100 && e->envid == NULL
		   && lmtp_xtext_ok(val, vlen)) {
		e->envid = x_strndup(val, vlen);
	} else if (strcasecmp(key, "AUTH") == 0 && val != NULL) {
		/* RFC 4954 AUTH=<> from a client that saw no AUTH:
		 * harmless, ignored. */
	} else if (strcasecmp(key, "RET") == 0
		   || strcasecmp(key, "ENVID") == 0
		   || strcasecmp(key, "SIZE") == 0) {
		return LMTP_MAIL_BAD;
	} else {
		return LMTP_MAIL_UNSUPPORTED;
	}
	return LMTP_MAIL_OK;
}

/* lmtp_cmd_mail - MAIL FROM:<addr> [params] */
static void
lmtp_cmd_mail(struct lmtp_proto *s, const char *arg)
{
	struct lmtp_envelope *e = &s->env;
	const char *p, *val;
	char key[32];
	size_t vlen;
	int rc = LMTP_MAIL_OK;

	if (s->state == ST_GREET) {
		lmtp_error(s, "503 5.5.1 Error: send LHLO first");
		return;
	}
	if (s->state != ST_IDLE) {
		lmtp_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0) {
		lmtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	p = arg + 5;
	while (*p == ' ')
		p++;
	if ((e->sender = lmtp_path(&p)) == NULL
	    || !lmtp_printable_ok(e->sender)) {
		lmtp_envelope_clear(s);
		lmtp_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	while (rc == LMTP_MAIL_OK
	       && lmtp_param(&p, key, sizeof(key), &val, &vlen))
		rc = lmtp_mail_param(s, key, val, vlen);
	if (rc != LMTP_MAIL_OK)
		lmtp_envelope_clear(s);
	switch (rc) {
	case LMTP_MAIL_OK:
		s->state = ST_MAIL;
		lmtp_reply(s, "250 2.1.0 Ok");
		break;
	case LMTP_MAIL_TOO_BIG:
		lmtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		break;
	case LMTP_MAIL_BAD:
		lmtp_error(s, "501 5.5.4 Bad MAIL parameter syntax");
		break;
	default:
		lmtp_error(s, "555 5.5.4 Unsupported option");
		break;
	}
}

/* lmtp_cmd_rcpt - RCPT TO:<addr> [NOTIFY=] [ORCPT=]; the caller decides */
static int
lmtp_cmd_rcpt(struct lmtp_proto *s, const char *arg)
{
	struct lmtp_rcpt *r = &s->pending;
	const char *p, *val;
	char key[32];
	size_t vlen;

	if (s->state == ST_GREET) {
		lmtp_error(s, "503 5.5.1 Error: send LHLO first");
		return 0;
	}
	if (s->state != ST_MAIL) {
		lmtp_error(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (strncasecmp(arg, "TO:", 3) != 0) {
		lmtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return 0;
	}
	p = arg + 3;
	while (*p == ' ')
		p++;
	lmtp_rcpt_clear(r);
	if ((r->addr = lmtp_path(&p)) == NULL || !lmtp_addr_ok(r->addr)) {
		lmtp_rcpt_clear(r);
		lmtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return 0;
	}
	while (lmtp_param(&p, key, sizeof(key), &val, &vlen)) {
		if (strcasecmp(key, "NOTIFY") == 0 && val != NULL && vlen > 0
		    && r->notify == NULL && lmtp_notify_ok(val, vlen)) {
			r->notify = x_strndup(val, vlen);
		} else if (strcasecmp(key, "ORCPT") == 0 && val != NULL
			   && vlen > 0 && vlen <= 500 && r->orcpt == NULL
			   && lmtp_orcpt_ok(val, vlen)) {
			r->orcpt = x_strndup(val, vlen);
		} else if (strcasecmp(key, "NOTIFY") == 0
			   || strcasecmp(key, "ORCPT") == 0) {
			lmtp_rcpt_clear(r);
			lmtp_error(s, "501 5.5.4 Bad RCPT parameter syntax");
			return 0;
		} else {
			lmtp_rcpt_clear(r);
			lmtp_error(s, "555 5.5.4 Unsupported option");
			return 0;
		}
	}
	if (s->env.nrcpts >= s->lim.max_rcpts) {
		lmtp_rcpt_clear(r);
		lmtp_reply(s, "452 4.5.3 Error: too many recipients");
		return 0;
	}
	return 1;
}

/* lmtp_cmd_data - DATA: the caller prepares a sink */
static int
lmtp_cmd_data(struct lmtp_proto *s, const char *arg)
{
	if (*arg != '\0') {
		lmtp_error(s, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (s->state == ST_GREET) {
		lmtp_error(s, "503 5.5.1 Error: send LHLO first");
		return 0;
	}
	if (s->state != ST_MAIL) {
		lmtp_error(s, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	if (s->env.nrcpts == 0) {
		lmtp_error(s, "503 5.5.1 Error: no valid recipients");
		return 0;
	}
	return 1;
}

/* lmtp_ident_clean - a queue id is letters and digits (Postfix's short
 * and long forms): anything else becomes '?' */
static void
lmtp_ident_clean(char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-'
		    && *s != '_')
			*s = '?';
}

/* lmtp_cmd_xforward - XFORWARD attr=value... (Postfix) */
static void
lmtp_cmd_xforward(struct lmtp_proto *s, const char *arg)
{
	static const char *const names[] = {
		"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE",
	};
	char **slots[] = {
		&s->xf.name, &s->xf.addr, &s->xf.port, &s->xf.proto,
		&s->xf.helo, &s->xf.ident, &s->xf.source,
	};
	const char *p = arg, *val;
	char key[32], *raw, *dec;
	size_t vlen, i, n = 0;

	if (s->state == ST_GREET) {
		lmtp_error(s, "503 5.5.1 Error: send LHLO first");
		return;
	}
	if (s->state != ST_IDLE) {
		lmtp_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	while (lmtp_param(&p, key, sizeof(key), &val, &vlen)) {
		if (val == NULL || vlen == 0)
			goto bad;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcasecmp(key, names[i]) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			goto bad;
		raw = x_strndup(val, vlen);
		dec = lmtp_xtext_decode(raw);
		x_free(&raw);
		if (dec == NULL)
			goto bad;
		/* decoded, they can be any byte: they go into our Received:
		 * header and every log line (IDENT is the queue id there) */
		lmtp_printable(dec);
		if (slots[i] == &s->xf.ident)
			lmtp_ident_clean(dec);
		x_free(slots[i]);
		*slots[i] = dec;
		n++;
	}
	if (n == 0)
		goto bad;
	lmtp_reply(s, "250 2.0.0 Ok");
	return;
bad:
	lmtp_error(s, "501 5.5.4 Bad XFORWARD attribute");
}

/* lmtp_command - dispatch one command line; an event or LMTP_EV_INPUT */
static enum lmtp_event
lmtp_command(struct lmtp_proto *s, char *line)
{
	const char *a;

	if ((a = lmtp_word(line, "LHLO")) != NULL)
		lmtp_cmd_lhlo(s, a);
	else if ((a = lmtp_word(line, "MAIL")) != NULL)
		lmtp_cmd_mail(s, a);
	else if ((a = lmtp_word(line, "RCPT")) != NULL) {
		if (lmtp_cmd_rcpt(s, a))
			return LMTP_EV_RCPT;
	} else if ((a = lmtp_word(line, "DATA")) != NULL) {
		if (lmtp_cmd_data(s, a))
			return LMTP_EV_DATA;
	} else if ((a = lmtp_word(line, "RSET")) != NULL) {
		lmtp_reset(s);
		lmtp_reply(s, "250 2.0.0 Ok");
	} else if (lmtp_word(line, "NOOP") != NULL)
		lmtp_reply(s, "250 2.0.0 Ok");
	else if (lmtp_word(line, "QUIT") != NULL) {
		lmtp_reply(s, "221 2.0.0 Bye");
		s->state = ST_QUIT;
	} else if (lmtp_word(line, "VRFY") != NULL
		   || lmtp_word(line, "EXPN") != NULL)
		lmtp_reply(s, "502 5.5.1 VRFY command is disabled");
	else if ((a = lmtp_word(line, "XFORWARD")) != NULL)
		lmtp_cmd_xforward(s, a);
	else if (lmtp_word(line, "HELO") != NULL
		 || lmtp_word(line, "EHLO") != NULL)
		lmtp_error(s, "500 5.5.1 Error: this is LMTP, send LHLO");
	else if (*line == '\0')
		lmtp_error(s, "500 5.5.2 Error: bad syntax");
	else
		lmtp_error(s, "502 5.5.2 Error: command not recognized");
	return s->state == ST_QUIT ? LMTP_EV_QUIT : LMTP_EV_INPUT;
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
