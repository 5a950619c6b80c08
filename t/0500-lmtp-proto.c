/*++
 * NAME
 *	0500-lmtp-proto 1
 * SUMMARY
 *	unit test of the LMTP server-side parser (lmtp-bridge/lmtp-proto.c)
 * DESCRIPTION
 *	A table of sessions, each given as input chunks (so that commands
 *	and the end-of-data marker arrive split or pipelined) and checked
 *	against every reply the session writes, and the body the sink got.
 *	Each session is run twice more: one byte per read and everything
 *	in one read; the transcript must not change.  A stand-in router
 *	answers RCPT by the address (unknown -> 550 5.1.1, tempfail ->
 *	451 4.4.3) and a stand-in delivery answers after the dot
 *	(overquota -> 552 5.2.2, fullnow -> 452 4.2.2), numbering each
 *	reply so that the order, duplicates included, is visible.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../lmtp-bridge/lmtp-proto.h"

#define G "220 mx.test LMTP elemta-lmtp-bridge"
#define L "250 XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"
#define LHLO_FULL "250-mx.test\r\n250-PIPELINING\r\n250-SIZE\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n" \
	"250-SMTPUTF8\r\n" L "\r\n"

struct buf {
	char *p;
	size_t len;
};

/* buf_add - append bytes */
static void
buf_add(struct buf *b, const char *p, size_t n)
{
	b->p = x_realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* sink - the body as the daemon's spool would get it */
static int
sink(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;

	buf_add(b, p, n);
	return strstr(b->p, "FAILSINK") != NULL ? -1 : 0;
}

/* rcpt_reply - the stand-in router */
static char *
rcpt_reply(const char *addr)
{
	if (strstr(addr, "unknown") != NULL)
		return x_asprintf("550 5.1.1 <%s>: Recipient address "
				  "rejected: User unknown", addr);
	if (strstr(addr, "tempfail") != NULL)
		return x_asprintf("451 4.4.3 <%s>: directory unavailable",
				  addr);
	return x_strdup("250 2.1.5 Ok");
}

/* final_reply - the stand-in delivery, numbered by position */
static char *
final_reply(const char *addr, size_t i)
{
	if (strstr(addr, "overquota") != NULL)
		return x_asprintf("552 5.2.2 <%s> Quota exceeded #%zu", addr, i);
	if (strstr(addr, "fullnow") != NULL)
		return x_asprintf("452 4.2.2 <%s> Quota exceeded #%zu", addr, i);
	return x_asprintf("250 2.0.0 <%s> Saved #%zu", addr, i);
}

struct run {
	struct buf out;		/* everything written to the client */
	struct buf body;	/* the last message's body */
	int quit;		/* the session ended */
	unsigned received;	/* Received: count of the last message */
	char *ident;		/* XFORWARD IDENT at the last message */
	char *params;		/* envelope parameters at the last message */
};

/* drain - move the session's output into the transcript */
static void
drain(struct lmtp_proto *s, struct run *r)
{
	size_t n;
	const char *o = lmtp_proto_output(s, &n);

	buf_add(&r->out, o, n);
	lmtp_proto_output_consumed(s, n);
}

/* on_message - replies after the dot, and what the test checks */
static void
on_message(struct lmtp_proto *s, struct run *r)
{
	const struct lmtp_envelope *e = lmtp_proto_envelope(s);
	const struct lmtp_xforward *xf = lmtp_proto_xforward(s);
	size_t i;
	char *rep;

	r->received = e->received;
	x_free(&r->ident);
	r->ident = xf->ident ? x_strdup(xf->ident) : NULL;
	x_free(&r->params);
	r->params = x_asprintf("from=<%s> size=%lld body=%d utf8=%d ret=%s "
			       "envid=%s notify=%s orcpt=%s", e->sender,
			       e->size, (int)e->body, e->smtputf8,
			       e->ret ? e->ret : "-",
			       e->envid ? e->envid : "-",
			       e->rcpts[0].notify ? e->rcpts[0].notify : "-",
			       e->rcpts[0].orcpt ? e->rcpts[0].orcpt : "-");
	for (i = 0; i < e->nrcpts; i++) {
		rep = final_reply(e->rcpts[i].addr, i);
		lmtp_proto_set_reply(s, i, rep);
		x_free(&rep);
	}
	lmtp_proto_message_done(s);
}

/* events - handle events until the session wants input */
static void
events(struct lmtp_proto *s, struct run *r)
{
	enum lmtp_event ev;
	char *rep;

	while (!r->quit && (ev = lmtp_proto_next(s)) != LMTP_EV_INPUT) {
		switch (ev) {
		case LMTP_EV_RCPT:
			rep = rcpt_reply(lmtp_proto_pending(s)->addr);
			lmtp_proto_rcpt_result(s, rep, NULL);
			x_free(&rep);
			break;
		case LMTP_EV_DATA:
			r->body.len = 0;
			if (r->body.p)
				r->body.p[0] = '\0';
			lmtp_proto_data_start(s, NULL);
			break;
		case LMTP_EV_MESSAGE:
			on_message(s, r);
			break;
		case LMTP_EV_QUIT:
			r->quit = 1;
			break;
		case LMTP_EV_INPUT:
			break;
		}
	}
	drain(s, r);
}

/* session - run chunks through a session; mode 0: as given, 1: one byte
 * per read, 2: all at once */
static void
session(const struct lmtp_limits *lim, const char *const *chunks, int mode,
	struct run *r)
{
	struct lmtp_proto *s;
	struct buf all = { NULL, 0 };
	size_t i, j;

	memset(r, 0, sizeof(*r));
	s = lmtp_proto_new(lim, "mx.test", sink, &r->body);
	drain(s, r);
	for (i = 0; chunks[i] != NULL; i++)
		buf_add(&all, chunks[i], strlen(chunks[i]));
	if (mode == 0) {
		for (i = 0; chunks[i] != NULL && !r->quit; i++) {
			lmtp_proto_input(s, chunks[i], strlen(chunks[i]));
			events(s, r);
		}
	} else if (mode == 1) {
		for (j = 0; j < all.len && !r->quit; j++) {
			lmtp_proto_input(s, all.p + j, 1);
			events(s, r);
		}
	} else if (all.len > 0) {
		lmtp_proto_input(s, all.p, all.len);
		events(s, r);
	}
	x_free(&all.p);
	lmtp_proto_free(&s);
}

/* summary - each reply's last line, joined by "|" (the LHLO reply is
 * checked whole elsewhere) */
static char *
summary(const char *out)
{
	struct buf b = { NULL, 0 };
	const char *p = out, *nl;

	buf_add(&b, "", 0);
	while ((nl = strstr(p, "\r\n")) != NULL) {
		if (nl - p >= 4 && p[3] == ' ') {
			if (b.len)
				buf_add(&b, "|", 1);
			buf_add(&b, p, (size_t)(nl - p));
		} else if (nl - p < 4 || p[3] != '-') {
			buf_add(&b, "|<malformed>", 12);
		}
		p = nl + 2;
	}
	if (*p)
		buf_add(&b, "|<partial>", 10);
	return b.p;
}

struct sess_case {
	const char *name;
	const char *chunks[12];
	const char *want;	/* summary() of the transcript */
	const char *body;	/* the last body, or NULL: not checked */
	long long max_size;
};

#define MAIL "MAIL FROM:<s@other.test>\r\n"
#define OK_MAIL "250 2.1.0 Ok"
#define OK_RCPT "250 2.1.5 Ok"
#define GO "354 End data with <CR><LF>.<CR><LF>"
#define BYE "221 2.0.0 Bye"

static const struct sess_case cases[] = {
	{ "one recipient",
	  { "LHLO postfix.test\r\n", MAIL, "RCPT TO:<a@ex.test>\r\n",
	    "DATA\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n", "QUIT\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|" BYE,
	  "Subject: x\r\n\r\nbody\r\n", 0 },
	{ "pipelined, mixed outcomes, duplicates, in RCPT order",
	  { "LHLO postfix.test\r\n" MAIL "RCPT TO:<a@ex.test>\r\n"
	    "RCPT TO:<unknown@ex.test>\r\nRCPT TO:<b@ex.test>\r\n"
	    "RCPT TO:<a@ex.test>\r\nRCPT TO:<overquota@ex.test>\r\n"
	    "RCPT TO:<tempfail@ex.test>\r\nRCPT TO:<fullnow@ex.test>\r\n"
	    "DATA\r\n",
	    "hello\r\n.\r\nQUIT\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT
	  "|550 5.1.1 <unknown@ex.test>: Recipient address rejected: "
	  "User unknown|" OK_RCPT "|" OK_RCPT "|" OK_RCPT
	  "|451 4.4.3 <tempfail@ex.test>: directory unavailable|" OK_RCPT
	  "|" GO "|250 2.0.0 <a@ex.test> Saved #0"
	  "|250 2.0.0 <b@ex.test> Saved #1|250 2.0.0 <a@ex.test> Saved #2"
	  "|552 5.2.2 <overquota@ex.test> Quota exceeded #3"
	  "|452 4.2.2 <fullnow@ex.test> Quota exceeded #4|" BYE,
	  "hello\r\n", 0 },
	{ "three identical recipients get three replies",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nRCPT TO:<a@ex.test>\r\n"
	    "RCPT TO:<a@ex.test>\r\nDATA\r\n", "x\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" OK_RCPT "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|250 2.0.0 <a@ex.test> Saved #1"
	  "|250 2.0.0 <a@ex.test> Saved #2", NULL, 0 },
	{ "RSET in the middle forgets the recipients",
	  { "LHLO p\r\n", MAIL "RCPT TO:<a@ex.test>\r\nRSET\r\nDATA\r\n",
	    MAIL "RCPT TO:<b@ex.test>\r\nDATA\r\n", "m\r\n.\r\n",
	    "RSET\r\nNOOP\r\nQUIT\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|250 2.0.0 Ok"
	  "|503 5.5.1 Error: need RCPT command|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <b@ex.test> Saved #0|250 2.0.0 Ok|250 2.0.0 Ok|" BYE,
	  "m\r\n", 0 },
	{ "two transactions on one connection (connection cache)",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nDATA\r\n",
	    "one\r\n.\r\n", "RSET\r\n", MAIL "RCPT TO:<b@ex.test>\r\n"
	    "RCPT TO:<c@ex.test>\r\nDATA\r\n", "two\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|250 2.0.0 Ok|" OK_MAIL "|"
	  OK_RCPT "|" OK_RCPT "|" GO "|250 2.0.0 <b@ex.test> Saved #0"
	  "|250 2.0.0 <c@ex.test> Saved #1", "two\r\n", 0 },
	{ "DATA with no accepted recipient: 503",
	  { "LHLO p\r\n" MAIL "RCPT TO:<unknown@ex.test>\r\nDATA\r\n" },
	  G "|" L "|" OK_MAIL "|550 5.1.1 <unknown@ex.test>: Recipient "
	  "address rejected: User unknown"
	  "|503 5.5.1 Error: no valid recipients", NULL, 0 },
	{ "bad sequences: 503 5.5.1",
	  { "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@ex.test>\r\nDATA\r\n",
	    "LHLO p\r\nRCPT TO:<a@ex.test>\r\nDATA\r\n",
	    MAIL MAIL "XFORWARD NAME=x\r\n" },
	  G "|503 5.5.1 Error: send LHLO first"
	  "|503 5.5.1 Error: send LHLO first"
	  "|503 5.5.1 Error: send LHLO first|" L
	  "|503 5.5.1 Error: need MAIL command"
	  "|503 5.5.1 Error: need RCPT command|" OK_MAIL
	  "|503 5.5.1 Error: nested MAIL command"
	  "|503 5.5.1 Error: MAIL transaction in progress", NULL, 0 },
	{ "syntax errors and refused commands",
	  { "LHLO\r\n", "LHLO p\r\n", "HELO x\r\nEHLO x\r\nVRFY a@ex.test\r\n"
	    "EXPN list\r\nFOO\r\n\r\n", "MAIL TO:<x>\r\nMAIL FROM:x@y\r\n"
	    "MAIL FROM:<s@x> BODY=BINARYMIME\r\nMAIL FROM:<s@x> SIZE=abc\r\n"
	    "MAIL FROM:<s@x> FOO=bar\r\n", MAIL "RCPT TO:<>\r\n"
	    "RCPT TO:<nodomain>\r\nRCPT TO:a@ex.test\r\n"
	    "RCPT TO:<a@ex.test> FOO=1\r\nRCPT TO:<a@ex.test> ORCPT=bad\r\n"
	    "RCPT TO: <b@ex.test>\r\nrcpt to:<c@ex.test>\r\n" },
	  G "|501 5.5.4 Syntax: LHLO hostname|" L
	  "|500 5.5.1 Error: this is LMTP, send LHLO"
	  "|500 5.5.1 Error: this is LMTP, send LHLO"
	  "|502 5.5.1 VRFY command is disabled"
	  "|502 5.5.1 VRFY command is disabled"
	  "|502 5.5.2 Error: command not recognized"
	  "|500 5.5.2 Error: bad syntax"
	  "|501 5.5.4 Syntax: MAIL FROM:<address>"
	  "|501 5.1.7 Bad sender address syntax"
	  "|555 5.5.4 Unsupported option"
	  "|501 5.5.4 Bad MAIL parameter syntax"
	  "|555 5.5.4 Unsupported option|" OK_MAIL
	  "|501 5.1.3 Bad recipient address syntax"
	  "|501 5.1.3 Bad recipient address syntax"
	  "|501 5.1.3 Bad recipient address syntax"
	  "|555 5.5.4 Unsupported option"
	  "|501 5.5.4 Bad RCPT parameter syntax|" OK_RCPT "|" OK_RCPT,
	  NULL, 0 },
	{ "over-long command line: 500 5.5.2, the session goes on",
	  { "LHLO p\r\nNOOP ",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "tail\r\nNOOP\r\n" },
	  G "|" L "|500 5.5.2 Error: line too long|250 2.0.0 Ok", NULL, 0 },
	{ "dot-unstuffing, and only CRLF.CRLF ends the data",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nDATA\r\n",
	    "H: v\r\n\r\n..leading dot\r\n.\n.x\r\nbare\n.\nend\r\n.",
	    "\r", "\n", "NOOP\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|250 2.0.0 Ok",
	  "H: v\r\n\r\n.leading dot\r\n\n.x\r\nbare\n.\nend\r\n", 0 },
	{ "an empty message and a lone dot-CR",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nDATA\r\n.\r\n",
	    MAIL "RCPT TO:<a@ex.test>\r\nDATA\r\n", ".\rX\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0", "\rX\r\n", 0 },
	{ "SIZE over the limit at MAIL: 552 5.3.4",
	  { "LHLO p\r\nMAIL FROM:<s@x.test> SIZE=2000\r\n"
	    "RCPT TO:<a@ex.test>\r\n" MAIL "QUIT\r\n" },
	  G "|" L "|552 5.3.4 Message size exceeds fixed limit"
	  "|503 5.5.1 Error: need MAIL command|" OK_MAIL "|" BYE,
	  NULL, 1000 },
	{ "body over the limit: 552 5.3.4 for each recipient",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nRCPT TO:<b@ex.test>\r\n"
	    "DATA\r\n", "0123456789012345678901234567890123456789\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" OK_RCPT "|" GO
	  "|552 5.3.4 Error: message size exceeds fixed limit"
	  "|552 5.3.4 Error: message size exceeds fixed limit", NULL, 30 },
	{ "a sink failure: 451 4.3.0 for each recipient",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nRCPT TO:<a@ex.test>\r\n"
	    "DATA\r\n", "FAILSINK\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" OK_RCPT "|" GO
	  "|451 4.3.0 Error: could not spool the message"
	  "|451 4.3.0 Error: could not spool the message", NULL, 0 },
	{ "XFORWARD before MAIL, bad attributes refused",
	  { "LHLO p\r\nXFORWARD NAME=client.test ADDR=192.0.2.1\r\n"
	    "XFORWARD IDENT=4ABC12 PROTO=ESMTP HELO=c+2Etest\r\n"
	    "XFORWARD BOGUS=1\r\nXFORWARD NAME=\r\nXFORWARD ADDR=a+ZZ\r\n"
	    "XFORWARD\r\n" MAIL "RCPT TO:<a@ex.test>\r\nDATA\r\nx\r\n.\r\n" },
	  G "|" L "|250 2.0.0 Ok|250 2.0.0 Ok"
	  "|501 5.5.4 Bad XFORWARD attribute"
	  "|501 5.5.4 Bad XFORWARD attribute"
	  "|501 5.5.4 Bad XFORWARD attribute"
	  "|501 5.5.4 Bad XFORWARD attribute|" OK_MAIL "|" OK_RCPT "|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0", NULL, 0 },
	{ "too many errors: 421, then the session ends",
	  { "LHLO p\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\n"
	    "X\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nNOOP\r\n" },
	  G "|" L "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|502 5.5.2 Error: command not recognized"
	  "|421 4.7.0 Error: too many errors", NULL, 0 },
	{ "too many recipients: 452 4.5.3, the others still delivered",
	  { "LHLO p\r\n" MAIL "RCPT TO:<a@ex.test>\r\nRCPT TO:<b@ex.test>\r\n"
	    "RCPT TO:<c@ex.test>\r\nRCPT TO:<d@ex.test>\r\nDATA\r\n"
	    "x\r\n.\r\n" },
	  G "|" L "|" OK_MAIL "|" OK_RCPT "|" OK_RCPT "|" OK_RCPT
	  "|452 4.5.3 Error: too many recipients|" GO
	  "|250 2.0.0 <a@ex.test> Saved #0|250 2.0.0 <b@ex.test> Saved #1"
	  "|250 2.0.0 <c@ex.test> Saved #2", NULL, -3 },
};

/* run_case - one table entry in all three read patterns */
static void
run_case(const struct sess_case *c)
{
	struct lmtp_limits lim = { 512, 0, 0, 20 };
	struct run r;
	char *got, *first = NULL;
	int mode;

	if (c->max_size > 0)
		lim.max_size = c->max_size;
	else if (c->max_size < 0)
		lim.max_rcpts = (unsigned)-c->max_size;
	for (mode = 0; mode < 3; mode++) {
		session(&lim, c->chunks, mode, &r);
		got = summary(r.out.p);
		if (c->max_size > 0) {
			char want_size[64];

			snprintf(want_size, sizeof(want_size),
				 "\r\n250-SIZE %lld\r\n", c->max_size);
			if (mode == 0)
				like_str(r.out.p, want_size,
					 "%s: SIZE advertised", c->name);
		}
		if (mode == 0) {
			is_str(got, c->want, "%s: replies", c->name);
			if (c->body != NULL)
				is_str(r.body.p ? r.body.p : "", c->body,
				       "%s: body", c->name);
			first = x_strdup(r.out.p);
		} else {
			is_str(r.out.p, first, "%s: same transcript with %s",
			       c->name, mode == 1 ? "one byte per read"
			       : "one read");
		}
		x_free(&got);
		x_free(&r.out.p);
		x_free(&r.body.p);
		x_free(&r.ident);
		x_free(&r.params);
	}
	x_free(&first);
}

/* test_details - LHLO text, envelope parameters, XFORWARD, Received */
static void
test_details(void)
{
	static const char *const c1[] = {
		"LHLO p\r\n", NULL };
	static const char *const c2[] = {
		"LHLO p\r\nXFORWARD IDENT=4ABC12 NAME=c.test\r\n"
		"MAIL FROM:<> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2Bb "
		"SIZE=42\r\nRCPT TO:<a@ex.test> NOTIFY=SUCCESS,FAILURE "
		"ORCPT=rfc822;a+40ex.test\r\nDATA\r\n"
		"Received: from a\r\nreceived: from b\r\n"
		"X-Received: no\r\nSubject: x\r\n\r\nReceived: body\r\n.\r\n",
		"MAIL FROM:<s@x.test>\r\nRCPT TO:<a@ex.test>\r\nDATA\r\n"
		"Received: one\r\n\r\n.\r\n", NULL };
	static const char *const c3[] = {
		"LHLO p\r\nMAIL FROM:<@hop1,@hop2:s@x.test>\r\n"
		"RCPT TO:<\"a b\"@ex.test>\r\nRCPT TO:<x\\>y@ex.test>\r\n"
		"DATA\r\nm\r\n.\r\n", NULL };
	struct lmtp_limits lim = { 512, 0, 0, 20 };
	struct run r;

	session(&lim, c1, 0, &r);
	is_str(r.out.p, G "\r\n" LHLO_FULL, "LHLO reply: every capability");
	x_free(&r.out.p);

	session(&lim, c2, 0, &r);
	is_str(r.ident, NULL, "XFORWARD attributes reset after a message");
	is_int(r.received, 1, "Received: counted in the second message");
	is_str(r.params, "from=<s@x.test> size=-1 body=0 utf8=0 ret=- "
	       "envid=- notify=- orcpt=-", "second message: no parameters");
	x_free(&r.out.p);
	x_free(&r.body.p);
	x_free(&r.ident);
	x_free(&r.params);

	/* stop after the first message: run only the first chunk */
	{
		const char *const one[] = { c2[0], NULL };

		session(&lim, one, 0, &r);
		is_str(r.ident, "4ABC12", "XFORWARD IDENT kept for the log");
		is_int(r.received, 2, "Received: headers counted (header "
		       "only, X-Received: not)");
		is_str(r.params, "from=<> size=42 body=2 utf8=1 ret=HDRS "
		       "envid=a+2Bb notify=SUCCESS,FAILURE "
		       "orcpt=rfc822;a+40ex.test",
		       "MAIL and RCPT parameters carried");
		x_free(&r.out.p);
		x_free(&r.body.p);
		x_free(&r.ident);
		x_free(&r.params);
	}

	{
		struct lmtp_proto *s = lmtp_proto_new(&lim, "mx.test", NULL,
						      NULL);
		static const char nul[] = "LHLO p\r\nNO\0OP\r\nNOOP\r\n";
		const char *o;
		size_t n;

		lmtp_proto_input(s, nul, sizeof(nul) - 1);
		is_int(lmtp_proto_next(s), LMTP_EV_INPUT, "NUL: no event");
		o = lmtp_proto_output(s, &n);
		like_str(o, "\r\n500 5.5.2 Error: NUL in command\r\n"
			 "250 2.0.0 Ok\r\n", "NUL in a command: 500 5.5.2");
		lmtp_proto_free(&s);
	}

	session(&lim, c3, 0, &r);
	like_str(r.out.p, "250 2.0.0 <\"a b\"@ex.test> Saved #0\r\n"
		 "250 2.0.0 <x\\>y@ex.test> Saved #1\r\n",
		 "quoted local parts and source routes");
	x_free(&r.out.p);
	x_free(&r.body.p);
	x_free(&r.ident);
	x_free(&r.params);
}

struct fix_case {
	const char *in, *want;
};

static const struct fix_case fix_cases[] = {
	{ "250 Ok", "250 2.0.0 Ok" },
	{ "250 2.0.0 <a@ex.test> qOE3 Saved", "250 2.0.0 <a@ex.test> qOE3 Saved" },
	{ "550 5.1.1 <n@ex.test> User doesn't exist",
	  "550 5.1.1 <n@ex.test> User doesn't exist" },
	{ "552 5.2.2 <q@ex.test> Quota exceeded (mailbox for user is full)",
	  "552 5.2.2 <q@ex.test> Quota exceeded (mailbox for user is full)" },
	{ "452-4.2.2 first\r\n452 4.2.2 second\r\n",
	  "452 4.2.2 first\n452 4.2.2 second" },
	{ "451-4.3.0 one\r\n451 two", "451 4.3.0 one\n451 4.3.0 two" },
	{ "552 4.2.2 wrong class", "552 5.0.0 4.2.2 wrong class" },
	{ "250", "250 2.0.0" },
	{ "421 bye\x01", "421 4.0.0 bye?" },
	{ "hello", NULL },
	{ "600 no", NULL },
	{ "1xx", NULL },
	{ "", NULL },
};

/* test_reply_fix - normalising backend replies */
static void
test_reply_fix(void)
{
	size_t i;
	char *got, wire[64];

	for (i = 0; i < sizeof(fix_cases) / sizeof(fix_cases[0]); i++) {
		got = lmtp_reply_fix(fix_cases[i].in);
		is_str(got, fix_cases[i].want, "reply_fix case %zu", i);
		x_free(&got);
	}
	lmtp_reply_format("452 4.2.2 a\n452 4.2.2 b", wire);
	wire[lmtp_reply_wire_len("452 4.2.2 a\n452 4.2.2 b")] = '\0';
	is_str(wire, "452-4.2.2 a\r\n452 4.2.2 b\r\n", "multi-line wire form");
}

/* test_xtext - RFC 3461 decoding */
static void
test_xtext(void)
{
	char *got;

	got = lmtp_xtext_decode("a+2Bb+3Dc");
	is_str(got, "a+b=c", "xtext decode");
	x_free(&got);
	got = lmtp_xtext_decode("a+2b");
	is_str(got, NULL, "xtext: lower-case hex refused");
	x_free(&got);
	got = lmtp_xtext_decode("a+2");
	is_str(got, NULL, "xtext: truncated escape refused");
	x_free(&got);
}

/* hostile_replies - feed in to a fresh session, return its replies
 * (after the greeting) with the session for inspection */
static char *
hostile_replies(struct lmtp_proto **sp, const char *in)
{
	struct lmtp_limits lim = { 512, 0, 0, 20 };
	struct lmtp_proto *s = lmtp_proto_new(&lim, "mx.test", NULL, NULL);
	struct run r;

	memset(&r, 0, sizeof(r));
	drain(s, &r);
	r.out.len = 0;
	lmtp_proto_input(s, in, strlen(in));
	events(s, &r);
	*sp = s;
	return r.out.p;
}

/* test_hostile_values - values that reach a header, a log line or a
 * backend's command line: control characters refused or made '?' */
static void
test_hostile_values(void)
{
	struct lmtp_proto *s;
	const struct lmtp_xforward *xf;
	char *out;

	out = hostile_replies(&s, "LHLO evil\rX-Injected: 1\r\n"
			      "XFORWARD IDENT=Q1+0D+0AX-Injected:+201 "
			      "HELO=h+0D+0AX-Evil:+20y NAME=n+1B[31m\r\n");
	like_str(out, "250 2.0.0 Ok\r\n", "XFORWARD with CR LF encoded: "
		 "accepted");
	xf = lmtp_proto_xforward(s);
	is_str(lmtp_proto_lhlo(s), "evil?X-Injected:",
	       "LHLO name: a bare CR becomes '?'");
	is_str(xf->ident, "Q1??X-Injected??1",
	       "XFORWARD IDENT: only letters, digits, '.', '-', '_' kept");
	is_str(xf->helo, "h??X-Evil: y", "XFORWARD HELO: CR LF become '?'");
	is_str(xf->name, "n?[31m", "XFORWARD NAME: ESC becomes '?'");
	lmtp_proto_free(&s);
	x_free(&out);

	out = hostile_replies(&s, "LHLO p\r\nMAIL FROM:<a\rb@x.test>\r\n"
			      "MAIL FROM:<a\x7f@x.test>\r\n"
			      "MAIL FROM:<s@x.test> ENVID=a\x01b\r\n"
			      "MAIL FROM:<s@x.test> ENVID=a+0\r\n"
			      "MAIL FROM:<s@x.test> ENVID=a+0D+0A\r\n"
			      "RCPT TO:<r\r@ex.test>\r\n"
			      "RCPT TO:<r@ex.test> NOTIFY=SUCCESS\rX\r\n"
			      "RCPT TO:<r@ex.test> NOTIFY=NEVER,DELAY\r\n"
			      "RCPT TO:<r@ex.test> ORCPT=rfc822;a\x02b\r\n"
			      "RCPT TO:<r@ex.test> ORCPT=rfc\r822;ab\r\n"
			      "RCPT TO:<r@ex.test> ORCPT=;ab\r\n"
			      "RCPT TO:<r@ex.test> NOTIFY=delay,failure "
			      "ORCPT=rfc822;r+40ex.test\r\n");
	is_str(out, LHLO_FULL "501 5.1.7 Bad sender address syntax\r\n"
	       "501 5.1.7 Bad sender address syntax\r\n"
	       "501 5.5.4 Bad MAIL parameter syntax\r\n"
	       "501 5.5.4 Bad MAIL parameter syntax\r\n"
	       "250 2.1.0 Ok\r\n"
	       "501 5.1.3 Bad recipient address syntax\r\n"
	       "501 5.5.4 Bad RCPT parameter syntax\r\n"
	       "501 5.5.4 Bad RCPT parameter syntax\r\n"
	       "501 5.5.4 Bad RCPT parameter syntax\r\n"
	       "501 5.5.4 Bad RCPT parameter syntax\r\n"
	       "501 5.5.4 Bad RCPT parameter syntax\r\n"
	       "250 2.1.5 Ok\r\n",
	       "MAIL FROM with a bare CR or DEL, ENVID, NOTIFY, ORCPT that are "
	       "not what RFC 3461 allows: 501; the valid forms: 250");
	lmtp_proto_free(&s);
	x_free(&out);
}

/* main - run every table */
int
main(void)
{
	size_t i;

	plan_lazy();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_details();
	test_reply_fix();
	test_xtext();
	test_hostile_values();
	done_testing();
	return exit_status();
}
