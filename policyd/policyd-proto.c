/*++
 * NAME
 *	policyd-proto 3
 * SUMMARY
 *	Postfix policy delegation protocol: an incremental request parser
 * DESCRIPTION
 *	See policyd-proto.h.  The request being read lives in one growable
 *	buffer: each line is appended to it as its bytes arrive, and when
 *	the line ends it either stays (a known attribute: its value's
 *	offset is recorded) or is cut off again (unknown attribute).  So a
 *	request costs no allocation once the buffer has grown to the size
 *	of the requests a connection sends, and the pointers handed out
 *	are only computed at the end, when the buffer no longer moves.
 *--*/
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policyd-proto.h"
#include "xalloc.h"

/* the longest line: name, '=', value, and a CR before the LF */
#define POLICYD_PROTO_MAX_LINE \
	(POLICYD_PROTO_MAX_NAME + 1 + POLICYD_PROTO_MAX_VALUE + 1)
/* a buffer grown past this by one big request is given back */
#define POLICYD_PROTO_KEEP	(64 * 1024)

static const char *const policyd_attr_names[POLICYD_A_COUNT] = {
	"request", "protocol_state", "protocol_name", "helo_name",
	"queue_id", "sender", "recipient", "recipient_count",
	"client_address", "client_name", "reverse_client_name", "instance",
	"sasl_method", "sasl_username", "sasl_sender", "size",
	"ccert_subject", "ccert_issuer", "ccert_fingerprint",
	"ccert_pubkey_fingerprint", "encryption_protocol",
	"encryption_cipher", "encryption_keysize", "etrn_domain", "stress",
	"client_port", "policy_context", "server_address", "server_port",
	"compatibility_level", "mail_version",
};

struct policyd_proto {
	char *buf;		/* lines of the current request */
	size_t len;		/* bytes used in buf */
	size_t cap;		/* bytes allocated */
	size_t line;		/* where the current line starts in buf */
	long off[POLICYD_A_COUNT];	/* value offsets, -1: absent */
	unsigned nlines;
	unsigned nunknown;
	int failed;		/* an error was returned: stay failed */
	int done;		/* the last feed returned DONE: reset first */
	struct policyd_req req;
};

/* policyd_proto_attr_name - the protocol name of an attribute */
const char *
policyd_proto_attr_name(enum policyd_attr a)
{
	if ((int)a < 0 || a >= POLICYD_A_COUNT)
		return "?";
	return policyd_attr_names[a];
}

/* policyd_proto_attr_lookup - the index of a name, or -1 */
int
policyd_proto_attr_lookup(const char *name, size_t len)
{
	int i;

	/* 31 names of a few bytes each: a linear scan that rejects on the
	 * first byte and the length is as fast as a hash here */
	for (i = 0; i < POLICYD_A_COUNT; i++) {
		const char *n = policyd_attr_names[i];

		if (n[0] == name[0] && strlen(n) == len
		    && memcmp(n, name, len) == 0)
			return i;
	}
	return -1;
}

/* policyd_proto_reset - forget the request, keep the buffer */
static void
policyd_proto_reset(struct policyd_proto *p)
{
	int i;

	if (p->cap > POLICYD_PROTO_KEEP) {
		x_free(&p->buf);
		p->cap = 0;
	}
	p->len = p->line = 0;
	for (i = 0; i < POLICYD_A_COUNT; i++)
		p->off[i] = -1;
	p->nlines = p->nunknown = 0;
	p->done = 0;
}

/* policyd_proto_new - a parser waiting for its first request */
struct policyd_proto *
policyd_proto_new(void)
{
	struct policyd_proto *p = x_calloc(1, sizeof(*p));

	policyd_proto_reset(p);
	return p;
}

/* policyd_proto_free - destroy a parser and set the pointer to NULL */
void
policyd_proto_free(struct policyd_proto **pp)
{
	if (*pp == NULL)
		return;
	x_free(&(*pp)->buf);
	x_free(pp);
}

/* policyd_proto_pending - bytes of an unfinished request */
size_t
policyd_proto_pending(const struct policyd_proto *p)
{
	return p->done ? 0 : p->len;
}

/* policyd_proto_fail - enter the error state with a message */
static int ATTR_PRINTF(4, 5)
policyd_proto_fail(struct policyd_proto *p, char *err, size_t errlen,
		   const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	x_err(err, errlen, "line %u: %s", p->nlines + 1, what);
	p->failed = 1;
	return POLICYD_PROTO_ERROR;
}

/* policyd_proto_append - add bytes to the current line, or fail */
static int
policyd_proto_append(struct policyd_proto *p, const char *s, size_t n,
		     char *err, size_t errlen)
{
	size_t room = POLICYD_PROTO_MAX_LINE - (p->len - p->line);

	/* the same error whatever the pieces: a NUL within the room left,
	 * else a line too long, else a NUL */
	if (memchr(s, '\0', n < room ? n : room) != NULL)
		return policyd_proto_fail(p, err, errlen,
					  "NUL byte in request");
	if (n > room)
		return policyd_proto_fail(p, err, errlen,
					  "line longer than %d bytes",
					  POLICYD_PROTO_MAX_LINE);
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 1024;

		while (cap < p->len + n + 1)
			cap *= 2;
		p->buf = x_realloc(p->buf, cap);
		p->cap = cap;
	}
	if (n > 0)
		memcpy(p->buf + p->len, s, n);
	p->len += n;
	return 0;
}

/* policyd_proto_name_ok - a name of [A-Za-z0-9_] (Postfix sends lower case) */
static int
policyd_proto_name_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		      || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* policyd_proto_line - the current line is complete (LF seen, not kept) */
static int
policyd_proto_line(struct policyd_proto *p, char *err, size_t errlen)
{
	char *line = p->buf + p->line;
	size_t n = p->len - p->line;
	char *eq;
	size_t nlen, vlen;
	int a;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	eq = memchr(line, '=', n);
	if (eq == NULL)
		return policyd_proto_fail(p, err, errlen,
					  "no '=' in attribute line");
	nlen = (size_t)(eq - line);
	vlen = n - nlen - 1;
	if (nlen == 0)
		return policyd_proto_fail(p, err, errlen,
					  "empty attribute name");
	if (nlen > POLICYD_PROTO_MAX_NAME)
		return policyd_proto_fail(p, err, errlen,
					  "attribute name longer than %d bytes",
					  POLICYD_PROTO_MAX_NAME);
	if (!policyd_proto_name_ok(line, nlen))
		return policyd_proto_fail(p, err, errlen,
					  "bad character in attribute name");
	if (vlen > POLICYD_PROTO_MAX_VALUE) {
		char name[POLICYD_PROTO_MAX_NAME + 1];

		memcpy(name, line, nlen);
		name[nlen] = '\0';
		return policyd_proto_fail(p, err, errlen,
					  "value of %s longer than %d bytes",
					  name, POLICYD_PROTO_MAX_VALUE);
	}
	if (++p->nlines > POLICYD_PROTO_MAX_LINES) {
		p->nlines--;
		return policyd_proto_fail(p, err, errlen,
					  "more than %d attributes in a request",
					  POLICYD_PROTO_MAX_LINES);
	}
	a = policyd_proto_attr_lookup(line, nlen);
	if (a < 0) {
		p->nunknown++;
		p->len = p->line;	/* ignored: drop the line */
		return 0;
	}
	if (p->off[a] >= 0) {
		p->nlines--;
		return policyd_proto_fail(p, err, errlen,
					  "attribute %s sent twice",
					  policyd_attr_names[a]);
	}
	eq[1 + vlen] = '\0';	/* over the CR, or the byte after the line */
	p->off[a] = (long)(eq + 1 - p->buf);
	p->len = p->line + n + 1;
	p->line = p->len;
	return 0;
}

/* policyd_proto_end - the empty line: check and publish the request */
static int
policyd_proto_end(struct policyd_proto *p, const struct policyd_req **reqp,
		  char *err, size_t errlen)
{
	const char *type;
	int i;

	if (p->off[POLICYD_A_REQUEST] < 0)
		return policyd_proto_fail(p, err, errlen,
					  "request without a request= attribute");
	type = p->buf + p->off[POLICYD_A_REQUEST];
	if (strcmp(type, "smtpd_access_policy") != 0)
		return policyd_proto_fail(p, err, errlen,
					  "unknown request type \"%.60s\"", type);
	for (i = 0; i < POLICYD_A_COUNT; i++)
		p->req.v[i] = p->off[i] < 0 ? NULL : p->buf + p->off[i];
	p->req.nlines = p->nlines;
	p->req.nunknown = p->nunknown;
	p->done = 1;
	*reqp = &p->req;
	return POLICYD_PROTO_DONE;
}

/* policyd_proto_feed - parse bytes; MORE, DONE or ERROR */
int
policyd_proto_feed(struct policyd_proto *p, const char *buf, size_t len,
		   size_t *used, const struct policyd_req **reqp,
		   char *err, size_t errlen)
{
	const char *s = buf, *end = buf + len, *nl;

	*used = 0;
	*reqp = NULL;
	if (p->failed) {
		x_err(err, errlen, "parser already failed");
		return POLICYD_PROTO_ERROR;
	}
	if (p->done)
		policyd_proto_reset(p);
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL) {
			if (policyd_proto_append(p, s, (size_t)(end - s), err,
						 errlen) < 0)
				return POLICYD_PROTO_ERROR;
			s = end;
			break;
		}
		if (policyd_proto_append(p, s, (size_t)(nl - s), err,
					 errlen) < 0)
			return POLICYD_PROTO_ERROR;
		s = nl + 1;
		if (p->len == p->line
		    || (p->len == p->line + 1 && p->buf[p->line] == '\r')) {
			p->len = p->line;
			*used = (size_t)(s - buf);
			return policyd_proto_end(p, reqp, err, errlen);
		}
		if (policyd_proto_line(p, err, errlen) < 0)
			return POLICYD_PROTO_ERROR;
	}
	*used = (size_t)(s - buf);
	return POLICYD_PROTO_MORE;
}
