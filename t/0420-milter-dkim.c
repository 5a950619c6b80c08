/*++
 * NAME
 *	0420-milter-dkim 1
 * SUMMARY
 *	unit tests for the pure parts of milter/milter-dkim.c
 * DESCRIPTION
 *	milter_dkim_wire(): the DNS responses handed to libopendkim are
 *	read back with libresolv's parser (ns_initparse/ns_parserr), an
 *	independent reader of the wire format: header, rcode, question,
 *	each TXT record; names with and without the final dot; too-small
 *	buffers and malformed names refused.  milter_dkim_sig_result():
 *	a table of libopendkim outcomes and the RFC 8601 word and class
 *	each gets.  milter_dkim_b8(): the header.b value.
 *--*/
#include "config.h"

#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#include "milter-dkim.h"
#include "tap.h"

/* test_wire - a TXT answer with count records, read back */
static void
test_wire(const char *qname, int rcode, size_t count)
{
	static const unsigned char r1[] = "\x0c" "v=DKIM1; p=A";
	static const unsigned char r2[] = "\x03" "abc" "\x02" "de";
	const unsigned char *rd[2] = { r1, r2 };
	size_t rl[2] = { sizeof(r1) - 1, sizeof(r2) - 1 };
	unsigned char buf[512];
	ns_msg msg;
	ns_rr rr;
	long n;
	size_t i;

	n = milter_dkim_wire(buf, sizeof(buf), qname, 16, rcode, 300, rd, rl,
			     count);
	ok(n > 12, "wire %s rcode %d count %zu: built (%ld bytes)", qname,
	   rcode, count, n);
	if (n <= 12 || ns_initparse(buf, (int)n, &msg) < 0) {
		ok(0, "libresolv parses it");
		return;
	}
	is_int(ns_msg_getflag(msg, ns_f_rcode), rcode, "rcode");
	is_int(ns_msg_getflag(msg, ns_f_qr), 1, "a response");
	is_int(ns_msg_count(msg, ns_s_qd), 1, "one question");
	is_int(ns_msg_count(msg, ns_s_an), (long long)count, "answers");
	if (ns_parserr(&msg, ns_s_qd, 0, &rr) == 0) {
		is_str(ns_rr_name(rr), "sel1._domainkey.example.test",
		       "question name");
		is_int(ns_rr_type(rr), 16, "question type TXT");
		is_int(ns_rr_class(rr), 1, "question class IN");
	} else {
		ok(0, "question parsed");
	}
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, (int)i, &rr) != 0) {
			ok(0, "answer %zu parsed", i);
			continue;
		}
		is_str(ns_rr_name(rr), "sel1._domainkey.example.test",
		       "answer %zu owner (pointer to the question)", i);
		is_int(ns_rr_ttl(rr), 300, "answer %zu ttl", i);
		is_int(ns_rr_rdlen(rr), (long long)rl[i], "answer %zu rdlen",
		       i);
		ok(memcmp(ns_rr_rdata(rr), rd[i], rl[i]) == 0,
		   "answer %zu rdata", i);
	}
}

/* test_wire_errors - what must be refused */
static void
test_wire_errors(void)
{
	static const unsigned char r1[] = "\x05hello";
	const unsigned char *rd[1] = { r1 };
	size_t rl[1] = { 6 };
	unsigned char buf[512];
	char longlab[80], longname[300];
	size_t i;

	is_int(milter_dkim_wire(buf, 20, "sel1._domainkey.example.test", 16,
				0, 0, rd, rl, 1), -1,
	       "a buffer too small for the question is refused");
	is_int(milter_dkim_wire(buf, 50, "sel1._domainkey.example.test", 16,
				0, 0, rd, rl, 1), -1,
	       "a buffer too small for the answer is refused");
	is_int(milter_dkim_wire(buf, 8, "a", 16, 0, 0, rd, rl, 0), -1,
	       "a buffer smaller than a header is refused");
	is_int(milter_dkim_wire(buf, sizeof(buf), "a..b", 16, 0, 0, rd, rl,
				1), -1, "an empty label is refused");
	memset(longlab, 'x', 64);
	longlab[64] = '\0';
	is_int(milter_dkim_wire(buf, sizeof(buf), longlab, 16, 0, 0, rd, rl,
				1), -1, "a 64-byte label is refused");
	for (i = 0; i < 260; i += 2)
		memcpy(longname + i, "a.", 2);
	longname[260] = '\0';
	is_int(milter_dkim_wire(buf, sizeof(buf), longname, 16, 0, 0, rd, rl,
				0), -1, "a name over 255 bytes is refused");
}

struct rcase {
	unsigned flags;
	int bh;
	int err;
	const char *want;
	enum milter_dkim_class cls;
};

static const struct rcase rcases[] = {
	{ DKIM_SIGFLAG_PROCESSED | DKIM_SIGFLAG_PASSED, DKIM_SIGBH_MATCH,
	  DKIM_SIGERROR_OK, "pass", MILTER_DKIM_PASS },
	{ DKIM_SIGFLAG_PROCESSED | DKIM_SIGFLAG_PASSED, DKIM_SIGBH_MISMATCH,
	  DKIM_SIGERROR_OK, "fail", MILTER_DKIM_BAD },
	{ DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_BADSIG,
	  "fail", MILTER_DKIM_BAD },
	{ DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_NOKEY,
	  "permerror", MILTER_DKIM_NOKEY },
	{ DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYFAIL,
	  "temperror", MILTER_DKIM_DNSERR },
	{ DKIM_SIGFLAG_PROCESSED, DKIM_SIGBH_UNTESTED,
	  DKIM_SIGERROR_KEYREVOKED, "fail", MILTER_DKIM_BAD },
	{ 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_MISSING_B, "permerror",
	  MILTER_DKIM_BAD },
	{ 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_CORRUPT_B, "permerror",
	  MILTER_DKIM_BAD },
	{ 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_EXPIRED, "permerror",
	  MILTER_DKIM_BAD },
	{ 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_KEYDECODE, "permerror",
	  MILTER_DKIM_BAD },
	{ 0, DKIM_SIGBH_UNTESTED, DKIM_SIGERROR_OK, "neutral",
	  MILTER_DKIM_BAD },
	/* PASSED with an error set: never a pass */
	{ DKIM_SIGFLAG_PASSED, DKIM_SIGBH_MATCH, DKIM_SIGERROR_SUBDOMAIN,
	  "permerror", MILTER_DKIM_BAD },
};

struct bcase {
	const char *in;
	const char *want;
};

static const struct bcase bcases[] = {
	{ "AbCdEfGhIjKl", "AbCdEfGh" },
	{ " Ab\r\n\tCd Ef\nGh Ij", "AbCdEfGh" },
	{ "Ab+/", "Ab+/" },
	{ "", "" },
	{ NULL, "" },
};

int
main(void)
{
	enum milter_dkim_class cls;
	const char *got;
	char b[9];
	size_t i;

	plan_lazy();
	test_wire("sel1._domainkey.example.test", 0, 1);
	test_wire("sel1._domainkey.example.test.", 0, 2);
	test_wire("sel1._domainkey.example.test", 3, 0);
	test_wire("sel1._domainkey.example.test", 0, 0);
	test_wire_errors();

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];

		got = milter_dkim_sig_result(c->flags, c->bh, c->err, &cls);
		is_str(got, c->want, "result #%zu (flags %#x bh %d err %d)",
		       i, c->flags, c->bh, c->err);
		is_int(cls, c->cls, "class #%zu", i);
	}
	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		milter_dkim_b8(bcases[i].in, b);
		is_str(b, bcases[i].want, "header.b of case %zu", i);
	}
	done_testing();
	return exit_status();
}
