/*++
 * NAME
 *	lmtp-proto-cmd 3
 * SUMMARY
 *	LMTP server side: the commands (LHLO, MAIL, RCPT, DATA, XFORWARD...)
 * DESCRIPTION
 *	See lmtp-proto.h.  One function per command, each checking the
 *	state and the syntax and queueing its reply; RCPT and DATA leave
 *	the decision to the caller (an event).  The session state, the
 *	input and output buffers and the body reader are lmtp-proto.c's.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp-proto.h"
#include "lmtp-proto-private.h"
#include "lmtp-syntax.h"
#include "xalloc.h"

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
enum lmtp_event
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

