/*++
 * NAME
 *	0300-policyd-proto 1
 * SUMMARY
 *	unit tests for policyd/policyd-proto.c
 * DESCRIPTION
 *	A table of good and malformed requests, each fed whole, one byte
 *	at a time and in chunks of 7 bytes: the outcome must not depend on
 *	how the bytes arrive.  Good requests check a few attribute values
 *	(an absent one is "(null)"); malformed ones check the error text.
 *	Then: several requests in one buffer, every attribute of Postfix
 *	3.8 by name, values at and over the 8192-byte cap, the line cap,
 *	and that a failed parser stays failed.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd-proto.h"
#include "tap.h"
#include "xalloc.h"

#define RQ "request=smtpd_access_policy\n"

struct pcase {
	const char *name;
	const char *in;
	const char *err;	/* NULL: must parse; else a substring */
	enum policyd_attr a1;	/* checked attributes */
	const char *v1;
	enum policyd_attr a2;
	const char *v2;
};

static const struct pcase cases[] = {
	{ "minimal request", RQ "\n", NULL,
	  POLICYD_A_REQUEST, "smtpd_access_policy",
	  POLICYD_A_CLIENT_ADDRESS, "(null)" },
	{ "typical RCPT", RQ "protocol_state=RCPT\nprotocol_name=ESMTP\n"
	  "client_address=192.0.2.10\nclient_name=mail.example.test\n"
	  "helo_name=mail.example.test\nsender=a@example.test\n"
	  "recipient=b@example.net\nrecipient_count=0\nqueue_id=\n"
	  "instance=123.456.7.0\nsize=0\nsasl_username=\n\n", NULL,
	  POLICYD_A_CLIENT_ADDRESS, "192.0.2.10",
	  POLICYD_A_QUEUE_ID, "" },
	{ "CRLF line ends", "request=smtpd_access_policy\r\n"
	  "protocol_state=DATA\r\n\r\n", NULL,
	  POLICYD_A_PROTOCOL_STATE, "DATA", POLICYD_A_REQUEST,
	  "smtpd_access_policy" },
	{ "unknown attributes are ignored", RQ "future_thing=1\n"
	  "x_y=2\nsender=s@x\n\n", NULL,
	  POLICYD_A_SENDER, "s@x", POLICYD_A_RECIPIENT, "(null)" },
	{ "empty value", RQ "sasl_username=\n\n", NULL,
	  POLICYD_A_SASL_USERNAME, "", POLICYD_A_SENDER, "(null)" },
	{ "value with '=' and spaces", RQ "ccert_subject=CN=a b, O=c\n\n",
	  NULL, POLICYD_A_CCERT_SUBJECT, "CN=a b, O=c",
	  POLICYD_A_CCERT_ISSUER, "(null)" },
	{ "request is not first", "sender=s@x\n" RQ "\n", NULL,
	  POLICYD_A_SENDER, "s@x", POLICYD_A_REQUEST,
	  "smtpd_access_policy" },
	{ "3.8 attributes", RQ "compatibility_level=3.6\n"
	  "mail_version=3.8.1\n\n", NULL,
	  POLICYD_A_COMPATIBILITY_LEVEL, "3.6",
	  POLICYD_A_MAIL_VERSION, "3.8.1" },
	{ "no '='", RQ "garbage\n\n", "no '=' in attribute line" },
	{ "empty name", RQ "=x\n\n", "empty attribute name" },
	{ "bad name character", RQ "sen der=x\n\n",
	  "bad character in attribute name" },
	{ "name too long", RQ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaa=1\n\n", "attribute name longer than 64" },
	{ "duplicate attribute", RQ "sender=a\nsender=b\n\n",
	  "attribute sender sent twice" },
	{ "duplicate request", RQ RQ "\n", "attribute request sent twice" },
	{ "no request attribute", "sender=a\n\n",
	  "request without a request= attribute" },
	{ "lone empty line", "\n", "request without a request=" },
	{ "wrong request type", "request=junk\n\n",
	  "unknown request type \"junk\"" },
	{ "HTTP garbage", "GET / HTTP/1.0\r\n\r\n", "no '='" },
	{ "NUL byte", RQ "sender=a\0b\n\n", "NUL byte" },
	{ "line 3 is named", RQ "sender=a\nbroken\n\n", "line 3:" },
	{ NULL, NULL, NULL },
};

/* case_len - input length (NUL bytes inside are allowed: up to "\n\n") */
static size_t
case_len(const struct pcase *c)
{
	const char *p = c->in;
	size_t n = strlen(p);

	/* the NUL case: the string continues after the embedded NUL */
	if (strstr(c->name, "NUL") != NULL)
		n += 1 + strlen(p + n + 1);
	return n;
}

/* run - feed in chunks of `chunk` bytes; "ok" or "error: ..." and the
 * request (if any) */
static char *
run(const char *in, size_t len, size_t chunk, const struct policyd_req **rq,
    struct policyd_proto *p, size_t *left)
{
	size_t off = 0, used, n;
	char err[256];
	int rc;

	*rq = NULL;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		rc = policyd_proto_feed(p, in + off, n, &used, rq, err,
					sizeof(err));
		if (rc == POLICYD_PROTO_ERROR)
			return x_asprintf("error: %s", err);
		off += used;
		if (rc == POLICYD_PROTO_DONE) {
			*left = len - off;
			return x_strdup("ok");
		}
	}
	*left = 0;
	return x_strdup("more");
}

/* val - a value for is_str, "(null)" when absent */
static const char *
val(const struct policyd_req *rq, enum policyd_attr a)
{
	return rq && rq->v[a] ? rq->v[a] : "(null)";
}

/* test_table - every case, three ways of splitting */
static void
test_table(void)
{
	static const size_t chunks[] = { 100000, 1, 7 };
	const struct pcase *c;
	const struct policyd_req *rq;
	struct policyd_proto *p;
	size_t i, left;
	char *got;

	for (c = cases; c->name != NULL; c++) {
		for (i = 0; i < 3; i++) {
			p = policyd_proto_new();
			got = run(c->in, case_len(c), chunks[i], &rq, p, &left);
			if (c->err == NULL) {
				is_str(got, "ok", "%s (chunk %zu): parses",
				       c->name, chunks[i]);
				is_str(val(rq, c->a1), c->v1, "%s: %s",
				       c->name, policyd_proto_attr_name(c->a1));
				is_str(val(rq, c->a2), c->v2, "%s: %s",
				       c->name, policyd_proto_attr_name(c->a2));
			} else {
				like_str(got, c->err, "%s (chunk %zu): error",
					 c->name, chunks[i]);
			}
			x_free(&got);
			policyd_proto_free(&p);
		}
	}
}

/* test_pipeline - several requests in one buffer, and the rest */
static void
test_pipeline(void)
{
	const char in[] = RQ "sender=a\n\n" RQ "sender=b\n\n" RQ "send";
	struct policyd_proto *p = policyd_proto_new();
	const struct policyd_req *rq;
	size_t off = 0, used, n = sizeof(in) - 1;
	char err[256];
	int rc, done = 0;

	while (off < n) {
		rc = policyd_proto_feed(p, in + off, n - off, &used, &rq, err,
					sizeof(err));
		ok(rc != POLICYD_PROTO_ERROR, "pipeline feed at %zu", off);
		off += used;
		if (rc == POLICYD_PROTO_DONE) {
			done++;
			is_str(val(rq, POLICYD_A_SENDER),
			       done == 1 ? "a" : "b", "pipelined request %d",
			       done);
		}
	}
	is_int(done, 2, "two complete requests in one buffer");
	is_int((long long)policyd_proto_pending(p), (long long)strlen(RQ "send"),
	       "the half request is pending");
	rc = policyd_proto_feed(p, "er=c\n\n", 6, &used, &rq, err, sizeof(err));
	is_int(rc, POLICYD_PROTO_DONE, "the half request completes");
	is_str(val(rq, POLICYD_A_SENDER), "c", "and has its value");
	is_int((long long)policyd_proto_pending(p), 0, "nothing pending");
	policyd_proto_free(&p);
}

/* test_names - every attribute by name, each value distinct */
static void
test_names(void)
{
	struct policyd_proto *p = policyd_proto_new();
	const struct policyd_req *rq;
	char *in = x_strdup(""), *next, *got;
	size_t left;
	int i;

	for (i = 0; i < POLICYD_A_COUNT; i++) {
		if (i == POLICYD_A_REQUEST)
			next = x_asprintf("%srequest=smtpd_access_policy\n", in);
		else
			next = x_asprintf("%s%s=v%d\n", in,
					  policyd_proto_attr_name(i), i);
		x_free(&in);
		in = next;
	}
	next = x_asprintf("%s\n", in);
	x_free(&in);
	got = run(next, strlen(next), 13, &rq, p, &left);
	is_str(got, "ok", "a request with all %d attributes", POLICYD_A_COUNT);
	for (i = 1; i < POLICYD_A_COUNT; i++) {
		char want[16];

		snprintf(want, sizeof(want), "v%d", i);
		is_str(val(rq, i), want, "attribute %s",
		       policyd_proto_attr_name(i));
		is_int(policyd_proto_attr_lookup(policyd_proto_attr_name(i),
						 strlen(policyd_proto_attr_name(i))),
		       i, "lookup %s", policyd_proto_attr_name(i));
	}
	is_int(policyd_proto_attr_lookup("nosuch", 6), -1, "unknown name");
	is_int(policyd_proto_attr_lookup("sende", 5), -1, "a prefix is unknown");
	x_free(&got);
	x_free(&next);
	policyd_proto_free(&p);
}

/* test_caps - the value cap and the line cap */
static void
test_caps(void)
{
	const struct policyd_req *rq;
	struct policyd_proto *p;
	char *big, *in, *got;
	size_t left;
	int i;

	big = x_malloc(POLICYD_PROTO_MAX_VALUE + 2);
	memset(big, 'x', POLICYD_PROTO_MAX_VALUE + 1);
	big[POLICYD_PROTO_MAX_VALUE] = '\0';
	in = x_asprintf(RQ "sender=%s\n\n", big);
	p = policyd_proto_new();
	got = run(in, strlen(in), 1000, &rq, p, &left);
	is_str(got, "ok", "a value of exactly 8192 bytes is accepted");
	is_int(rq ? (long long)strlen(rq->v[POLICYD_A_SENDER]) : -1,
	       POLICYD_PROTO_MAX_VALUE, "and kept whole");
	x_free(&got);
	x_free(&in);
	policyd_proto_free(&p);

	big[POLICYD_PROTO_MAX_VALUE] = 'x';
	big[POLICYD_PROTO_MAX_VALUE + 1] = '\0';
	in = x_asprintf(RQ "sender=%s\n\n", big);
	p = policyd_proto_new();
	got = run(in, strlen(in), 1000, &rq, p, &left);
	like_str(got, "value of sender longer than 8192 bytes",
		 "a value of 8193 bytes is refused");
	x_free(&got);
	x_free(&in);
	policyd_proto_free(&p);

	/* a line that never ends fails as soon as it is too long, not
	 * after buffering whatever the client sends */
	p = policyd_proto_new();
	in = x_malloc(100000);
	memset(in, 'y', 100000);
	memcpy(in, "sender=", 7);
	got = run(in, 100000, 4096, &rq, p, &left);
	like_str(got, "line longer than", "an endless line is refused");
	x_free(&got);
	x_free(&in);
	policyd_proto_free(&p);
	x_free(&big);

	in = x_strdup(RQ);
	for (i = 0; i < POLICYD_PROTO_MAX_LINES; i++) {
		char *next = x_asprintf("%sx%d=1\n", in, i);

		x_free(&in);
		in = next;
	}
	got = x_asprintf("%s\n", in);
	x_free(&in);
	in = got;
	p = policyd_proto_new();
	got = run(in, strlen(in), 100000, &rq, p, &left);
	like_str(got, "more than 100 attributes",
		 "101 attribute lines are refused");
	x_free(&got);
	x_free(&in);
	policyd_proto_free(&p);
}

/* test_sticky - after an error every feed fails */
static void
test_sticky(void)
{
	struct policyd_proto *p = policyd_proto_new();
	const struct policyd_req *rq;
	size_t used;
	char err[256];
	int rc;

	rc = policyd_proto_feed(p, "bad\n", 4, &used, &rq, err, sizeof(err));
	is_int(rc, POLICYD_PROTO_ERROR, "bad line fails");
	rc = policyd_proto_feed(p, RQ "\n", strlen(RQ) + 1, &used, &rq, err,
				sizeof(err));
	is_int(rc, POLICYD_PROTO_ERROR, "a good request after it fails too");
	like_str(err, "already failed", "with a clear message");
	policyd_proto_free(&p);
	policyd_proto_free(&p);
	ok(p == NULL, "free sets NULL and may be repeated");
}

/* main - run the groups */
int
main(void)
{
	plan_lazy();
	test_table();
	test_pipeline();
	test_names();
	test_caps();
	test_sticky();
	done_testing();
	return exit_status();
}
