/*++
 * NAME
 *	0420-milter-dkim 1
 * SUMMARY
 *	unit tests for the pure parts of milter/milter-dkim.c
 * DESCRIPTION
 *	milter_dkim_record(): the key record taken from a lib/dns answer
 *	(one record, several strings, several records, none, every
 *	status, malformed TXT data, the TTL); then a real RSA key split
 *	over two strings, as DNS carries a 2048-bit one, parsed from it.
 *	milter_dkim_err_result(): a table of every outcome of the
 *	verifier and the RFC 8601 word and class each gets, and the
 *	reason each carries.  header.b: the first 8 characters of b=.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dns.h"
#include "milter-dkim.h"
#include "milter-dkim-verify.h"
#include "tap.h"
#include "xalloc.h"

struct rcase {
	const char *name;
	enum dns_status st;
	int ttl;
	size_t count;
	const char *rd[2];	/* TXT rdata: length-prefixed strings */
	size_t rl[2];
	enum milter_dkim_err want;
	const char *txt;	/* NULL: none */
	int want_ttl;
};

static const struct rcase rcases[] = {
	{ "one record", DNS_OK, 300, 1, { "\x0cv=DKIM1; p=A" }, { 13 },
	  MILTER_DKIM_E_OK, "v=DKIM1; p=A", 300 },
	{ "one record, two strings", DNS_OK, 60, 1,
	  { "\x05v=DKI\x07M1; p=A" }, { 14 }, MILTER_DKIM_E_OK,
	  "v=DKIM1; p=A", 60 },
	{ "two records: the first", DNS_OK, 300, 2,
	  { "\x03" "a=1", "\x03" "b=2" }, { 4, 4 }, MILTER_DKIM_E_OK, "a=1",
	  300 },
	{ "an empty string", DNS_OK, 300, 1, { "\x00" }, { 1 },
	  MILTER_DKIM_E_OK, "", 300 },
	{ "no record", DNS_OK, 300, 0, { NULL }, { 0 }, MILTER_DKIM_E_NOKEY,
	  NULL, 300 },
	{ "a string longer than its record", DNS_OK, 300, 1,
	  { "\x0fshort" }, { 6 }, MILTER_DKIM_E_KEYSYNTAX, NULL, 300 },
	{ "NXDOMAIN", DNS_NXDOMAIN, 3600, 0, { NULL }, { 0 },
	  MILTER_DKIM_E_NOKEY, NULL, 3600 },
	{ "NODATA", DNS_NODATA, 900, 0, { NULL }, { 0 }, MILTER_DKIM_E_NOKEY,
	  NULL, 900 },
	{ "SERVFAIL", DNS_TEMPFAIL, 0, 0, { NULL }, { 0 }, MILTER_DKIM_E_DNS,
	  NULL, 0 },
	{ "timeout", DNS_TIMEOUT, 0, 0, { NULL }, { 0 }, MILTER_DKIM_E_DNS,
	  NULL, 0 },
	{ "the lookup cap", DNS_LIMIT, 0, 0, { NULL }, { 0 },
	  MILTER_DKIM_E_DNS, NULL, 0 },
	{ "a negative TTL", DNS_OK, -5, 1, { "\x03" "a=1" }, { 4 },
	  MILTER_DKIM_E_OK, "a=1", 0 },
};

/* test_record - milter_dkim_record on answers made here */
static void
test_record(void)
{
	const struct rcase *c;
	struct dns_answer a;
	const unsigned char *data[2];
	char *txt;
	int ttl, e;
	size_t i;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		c = &rcases[i];
		memset(&a, 0, sizeof(a));
		a.status = c->st;
		a.ttl = c->ttl;
		a.count = c->count;
		data[0] = (const unsigned char *)c->rd[0];
		data[1] = (const unsigned char *)c->rd[1];
		a.data = data;
		a.len = c->rl;
		ttl = -1;
		e = milter_dkim_record(&a, &txt, &ttl);
		is_str(milter_dkim_err_str((enum milter_dkim_err)e),
		       milter_dkim_err_str(c->want), "%s: outcome", c->name);
		if (c->txt != NULL)
			is_str(txt, c->txt, "%s: the record", c->name);
		else
			ok(txt == NULL, "%s: no record", c->name);
		is_int(ttl, c->want_ttl, "%s: TTL", c->name);
		free(txt);
	}
}

/* test_real_key - a 2048-bit key over two strings, as DNS has it */
static void
test_real_key(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	unsigned char *der = NULL, rd[1024];
	const unsigned char *data[1];
	struct milter_dkim_vkey key;
	struct dns_answer a;
	char rec[1024], *txt;
	size_t rl[1], len, half;
	int n, ttl;

	n = i2d_PUBKEY(k, &der);
	len = (size_t)snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=");
	len += (size_t)EVP_EncodeBlock((unsigned char *)rec + len, der, n);
	half = len / 2;
	rd[0] = (unsigned char)half;
	memcpy(rd + 1, rec, half);
	rd[half + 1] = (unsigned char)(len - half);
	memcpy(rd + half + 2, rec + half, len - half);
	memset(&a, 0, sizeof(a));
	a.status = DNS_OK;
	a.ttl = 300;
	a.count = 1;
	data[0] = rd;
	rl[0] = len + 2;
	a.data = data;
	a.len = rl;
	is_int(milter_dkim_record(&a, &txt, &ttl), MILTER_DKIM_E_OK,
	       "a 2048-bit key record in two strings");
	ok(txt != NULL && strlen(txt) == len && memcmp(txt, rec, len) == 0,
	   "...joined");
	milter_dkim_key_parse(txt ? txt : "", &key);
	ok(key.err == MILTER_DKIM_E_OK && key.pkey != NULL
	   && EVP_PKEY_eq(key.pkey, k) == 1 && key.bits == 2048,
	   "...the key, 2048 bits");
	milter_dkim_key_free(&key);
	free(txt);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

struct ecase {
	enum milter_dkim_err err;
	const char *want;
	enum milter_dkim_class cls;
};

static const struct ecase ecases[] = {
	{ MILTER_DKIM_E_OK, "pass", MILTER_DKIM_PASS },
	{ MILTER_DKIM_E_BODYHASH, "fail", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_BADSIG, "fail", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_REVOKED, "fail", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_NOKEY, "permerror", MILTER_DKIM_NOKEY },
	{ MILTER_DKIM_E_DNS, "temperror", MILTER_DKIM_DNSERR },
	{ MILTER_DKIM_E_INTERNAL, "temperror", MILTER_DKIM_DNSERR },
	{ MILTER_DKIM_E_SYNTAX, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_DUPTAG, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_VERSION, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_MISSING, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_ALG, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_CANON, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_QUERY, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_NOFROM, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_SUBDOMAIN, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_EXPIRED, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_FUTURE, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_TIMESTAMPS, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_BASE64, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_KEYSYNTAX, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_KEYDECODE, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_KEYTYPE, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_KEYHASH, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_SERVICE, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_KEYSMALL, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_STRICT, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_BODYSHORT, "permerror", MILTER_DKIM_BAD },
	{ MILTER_DKIM_E_SHA1, "permerror", MILTER_DKIM_BAD },
};

/* test_results - every outcome's word, class and reason */
static void
test_results(void)
{
	enum milter_dkim_class cls;
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];

		got = milter_dkim_err_result(c->err, &cls);
		is_str(got, c->want, "outcome %d (%s): %s", c->err,
		       milter_dkim_err_str(c->err), c->want);
		is_int(cls, c->cls, "outcome %d: class", c->err);
		if (c->err == MILTER_DKIM_E_OK)
			ok(milter_dkim_err_str(c->err) == NULL,
			   "a pass has no reason");
		else
			ok(milter_dkim_err_str(c->err) != NULL,
			   "outcome %d has a reason", c->err);
	}
	/* what the interop tests and users grep for */
	is_str(milter_dkim_err_str(MILTER_DKIM_E_NOKEY),
	       "key not found in DNS", "no key: libopendkim's words");
	is_str(milter_dkim_err_str(MILTER_DKIM_E_REVOKED), "key revoked",
	       "revoked: libopendkim's words");
	is_str(milter_dkim_err_str(MILTER_DKIM_E_BODYHASH),
	       "body hash mismatch", "body hash: as before");
	is_str(milter_dkim_err_str(MILTER_DKIM_E_SHA1),
	       "rsa-sha1 not accepted, RFC 8301", "rsa-sha1: as before");
	is_str(milter_dkim_err_str(1000), "unknown error",
	       "an unknown outcome");
}

struct bcase {
	const char *sig;
	const char *want;
};

static const struct bcase bcases[] = {
	{ "b=AbCdEfGhIjKl", "AbCdEfGh" },
	{ "b= Ab\r\n\tCd Ef\nGh Ij", "AbCdEfGh" },
	{ "b=Ab+/", "Ab+/" },
	{ "b=", "" },
	{ "bh=AAAA", "" },		/* no b= */
};

int
main(void)
{
	struct milter_dkim_vsig sig;
	char *v;
	size_t i;

	plan_lazy();
	test_record();
	test_real_key();
	test_results();
	for (i = 0; i < sizeof(bcases) / sizeof(bcases[0]); i++) {
		v = x_asprintf("v=1; a=rsa-sha256; d=e.test; s=s; h=from; %s",
			       bcases[i].sig);
		milter_dkim_sig_parse(v, 0, &sig);
		is_str(sig.b8, bcases[i].want, "header.b of case %zu", i);
		milter_dkim_sig_free(&sig);
		free(v);
	}
	done_testing();
	return exit_status();
}
