/*++
 * NAME
 *	0426-milter-arc-seal 1
 * SUMMARY
 *	unit tests of ARC sealing (milter/milter-arc-seal.c)
 * DESCRIPTION
 *	The plan (RFC 8617 section 5.1): a table of header lists and
 *	verified results with the instance and cv= to seal with, or no
 *	seal (cv=fail at the top, 50 sets, an instance beyond them).
 *	The header selection of the ARC-Message-Signature (the DKIM
 *	signer's set plus DKIM-Signature; never ARC-*, never
 *	Authentication-Results) and the exact layout of the three values.
 *	The seal's canonicalization: its signature is checked with
 *	OpenSSL against header data written out here by hand (relaxed,
 *	the sets in order, the new seal's b= empty), for cv=pass (all
 *	sets) and cv=fail (the new set alone).  Last, round trips through
 *	our verifier: a seal at i=1, a second one on top, and the same
 *	message with its Subject changed after sealing (fails).
 *
 *	Through the pass (milter-pipeline.c): the body is hashed once
 *	(milter_dkim_body_fed() counts the bytes fed to body hashes) when
 *	the seal's relaxed hash is one the DKIM signer, the DKIM verifier
 *	or the AMS verifier computes anyway, and the AMS's bh= is still
 *	the relaxed hash of the body; a signer hashing simple leaves the
 *	seal its own hash (the body fed twice).
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf.h"
#include "milter.h"
#include "milter-arc.h"
#include "milter-arc-seal.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-sign.h"
#include "milter-dkim-verify.h"
#include "milter-keys.h"
#include "../sections-all.h"
#include "tap.h"
#include "test-msg.h"
#include "xalloc.h"

#define T	1700000000LL

#define AS(i, cv) "ARC-Seal: i=" #i "; a=rsa-sha256; cv=" #cv \
	"; d=example.org; s=arc; b=AAAA"
#define AMS(i) "ARC-Message-Signature: i=" #i "; a=rsa-sha256; " \
	"d=example.org; s=arc; h=from; bh=AAAA; b=AAAA"
#define AAR(i) "ARC-Authentication-Results: i=" #i "; mx" #i \
	".example.org; none"
#define SET(i, cv) AS(i, cv), AMS(i), AAR(i)

#define MAXH 16
#define NONE MILTER_ARC_NONE
#define PASS MILTER_ARC_PASS
#define FAIL MILTER_ARC_FAIL

/* msg_sets - append well-formed sets n..1, newest first */
static void
msg_sets(struct test_msg *m, unsigned n)
{
	char line[256];

	for (; n >= 1; n--) {
		snprintf(line, sizeof(line), "ARC-Seal: i=%u; a=rsa-sha256; "
			 "cv=%s; d=example.org; s=arc; b=AAAA", n,
			 n == 1 ? "none" : "pass");
		test_msg_line(m, line);
		snprintf(line, sizeof(line), "ARC-Message-Signature: i=%u; "
			 "a=rsa-sha256; d=example.org; s=arc; h=from; "
			 "bh=AAAA; b=AAAA", n);
		test_msg_line(m, line);
		snprintf(line, sizeof(line), "ARC-Authentication-Results: "
			 "i=%u; mx; none", n);
		test_msg_line(m, line);
	}
}

struct plan_case {
	const char *what;
	const char *h[MAXH];
	unsigned sets;			/* well-formed sets added after h */
	enum milter_arc_result result;
	int rc;
	unsigned instance;
	enum milter_arc_cv cv;
};

static const struct plan_case plan_cases[] = {
	{ "no ARC header", { "From: a@example.org" }, 0, NONE,
	  0, 1, MILTER_ARC_CV_NONE },
	{ "one set, passed", { SET(1, none) }, 0, PASS,
	  0, 2, MILTER_ARC_CV_PASS },
	{ "three sets, passed", { SET(3, pass), SET(2, pass), SET(1, none) },
	  0, PASS, 0, 4, MILTER_ARC_CV_PASS },
	{ "two sets, a signature failed", { SET(2, pass), SET(1, none) },
	  0, FAIL, 0, 3, MILTER_ARC_CV_FAIL },
	{ "gap: 3 and 1", { SET(3, pass), SET(1, none) }, 0, FAIL,
	  0, 4, MILTER_ARC_CV_FAIL },
	{ "incomplete top set", { AS(2, pass), AAR(2), SET(1, none) }, 0,
	  FAIL, 0, 3, MILTER_ARC_CV_FAIL },
	{ "cv=fail below a pass", { SET(3, pass), SET(2, fail),
	  SET(1, none) }, 0, FAIL, 0, 4, MILTER_ARC_CV_FAIL },
	{ "cv=fail at the top: never extended", { SET(2, fail),
	  SET(1, none) }, 0, FAIL, -1, 0, MILTER_ARC_CV_UNKNOWN },
	{ "only unreadable ARC headers", { "ARC-Seal: garbage",
	  "ARC-Authentication-Results: no instance" }, 0, FAIL,
	  0, 1, MILTER_ARC_CV_FAIL },
	{ "ARC headers, verification not run", { SET(1, none) }, 0, NONE,
	  0, 2, MILTER_ARC_CV_FAIL },
	{ "i=99", { "ARC-Seal: i=99; cv=pass; b=A" }, 0, FAIL,
	  -1, 0, MILTER_ARC_CV_UNKNOWN },
	{ "49 sets", { NULL }, 49, PASS, 0, 50, MILTER_ARC_CV_PASS },
	{ "50 sets: the most", { NULL }, 50, PASS, -1, 0,
	  MILTER_ARC_CV_UNKNOWN },
	{ "60 sets", { NULL }, 60, FAIL, -1, 0, MILTER_ARC_CV_UNKNOWN },
};

/* test_plan - seal or not, which instance, which cv= */
static void
test_plan(void)
{
	const struct plan_case *tc;
	enum milter_arc_cv cv;
	const char *why;
	struct test_msg m = { 0 };
	unsigned inst;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(plan_cases) / sizeof(plan_cases[0]); i++) {
		tc = &plan_cases[i];
		test_msg_lines(&m, tc->h);
		msg_sets(&m, tc->sets);
		inst = 0;
		cv = MILTER_ARC_CV_UNKNOWN;
		why = "";
		rc = milter_arc_seal_plan(m.h, m.n, tc->result, &inst, &cv,
					  &why);
		is_int(rc, tc->rc, "plan: %s: sealed (%s)", tc->what, why);
		if (rc == 0) {
			is_int(inst, tc->instance, "plan: %s: instance",
			       tc->what);
			is_str(milter_arc_cv_str(cv),
			       milter_arc_cv_str(tc->cv), "plan: %s: cv=",
			       tc->what);
		}
		test_msg_free(&m);
	}
}

static char dir[] = "/tmp/elemta-0426-XXXXXX";
static struct milter_keys *keys;
static const struct milter_key *key;
static char *pub;			/* the key's p= */
static char *sign_headers[] = { "From", "To", "Subject", "Date", NULL };
static unsigned char bh[MILTER_DKIM_HASH_LEN];	/* of BODY */

#define BODY	"Hello.\r\n"
#define AUTHRES	"mx.example.test;\n\tspf=pass smtp.mailfrom=example.test"

/* load_key - t/data/milter/golden-rsa.pem as domain example.test,
 * selector seal, and its public key */
static void
load_key(void)
{
	const char *src = getenv("top_srcdir");
	char *cmd = x_asprintf("cat '%s/t/data/milter/golden-rsa.pem'",
			       src ? src : ".");
	char *pem = tap_popen(cmd), *to, *kt, *st, err[512];
	unsigned char *der = NULL;
	int len;

	free(cmd);
	if (pem == NULL)
		bail_out("cannot read golden-rsa.pem");
	to = tap_put(dir, "seal.pem", pem);
	free(pem);
	if (chmod(to, 0600) != 0)
		bail_out("chmod %s", to);
	kt = x_asprintf("seal example.test:seal:%s\n"
			"other example.org:other:%s\n", to, to);
	free(tap_put(dir, "kt", kt));
	free(kt);
	free(tap_put(dir, "st", "*@example.test seal\n"));
	kt = x_asprintf("%s/kt", dir);
	st = x_asprintf("%s/st", dir);
	keys = milter_keys_load(kt, st, err, sizeof(err));
	free(kt);
	free(st);
	free(to);
	if (keys == NULL)
		bail_out("keys: %s", err);
	key = milter_arc_seal_key(keys, "EXAMPLE.test");
	ok(key != NULL && strcmp(key->selector, "seal") == 0,
	   "key: the domain's entry, any case");
	ok(milter_arc_seal_key(keys, "example.net") == NULL,
	   "key: none for another domain");
	ok(milter_arc_seal_key(keys, "") == NULL, "key: none for \"\"");
	if (key == NULL)
		bail_out("no sealing key");
	if ((len = i2d_PUBKEY(key->pkey, &der)) <= 0)
		bail_out("i2d_PUBKEY");
	pub = x_malloc(4 * ((size_t)len + 2) / 3 + 4);
	EVP_EncodeBlock((unsigned char *)pub, der, len);
	OPENSSL_free(der);
}

/* body_hash - the relaxed SHA-256 of BODY */
static void
body_hash(void)
{
	struct milter_dkim_body *b = milter_dkim_body_new(MILTER_DKIM_RELAXED);

	milter_dkim_body_update(b, (const unsigned char *)BODY,
				strlen(BODY));
	if (milter_dkim_body_final(b, bh) < 0)
		bail_out("body hash");
	milter_dkim_body_free(&b);
}

/* seal - seal m (verified: result) into out; the return code */
static int
seal(const struct test_msg *m, enum milter_arc_result result,
     struct milter_arc_seal_out *out)
{
	struct milter_arc_seal_in in = { m->h, m->n, result, AUTHRES, bh,
					 key, sign_headers, T };
	char why[256] = "";
	int rc = milter_arc_seal_make(&in, out, why, sizeof(why));

	if (rc < 0)
		diag("not sealed: %s", why);
	return rc;
}

/* tag - the value of tag name in v ("h=" up to ";"), white space
 * dropped; malloc'ed */
static char *
tag(const char *v, const char *name)
{
	char *s = x_strdup(""), *o;
	const char *p = v;
	size_t nl = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if (p[nl] == '=' && (p == v || p[-1] == ' ' || p[-1] == '\t'
				     || p[-1] == ';'))
			break;
		p += nl;
	}
	if (p == NULL)
		return s;
	free(s);
	s = o = x_malloc(strlen(p) + 1);
	for (p += nl + 1; *p != '\0' && *p != ';'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			*o++ = *p;
	*o = '\0';
	return s;
}

/* test_select - the AMS's headers and the three values' layout */
static void
test_select(void)
{
	static const char *const lines[] = {
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.test; b=AAAA",
		"Authentication-Results: mx.example.net; spf=pass",
		SET(1, none),
		"Received: from a by b",
		"From: User <user@example.test>",
		"To: alice@example.org",
		"Subject: seal me",
		"X-Other: not signed",
		"Subject: a second one",
		NULL,
	};
	struct test_msg m = { 0 };
	struct milter_arc_seal_out out;
	char *h;

	test_msg_lines(&m, lines);
	if (!ok(seal(&m, PASS, &out) == 0, "select: sealed")) {
		test_msg_free(&m);
		return;
	}
	is_int(out.instance, 2, "select: instance 2");
	is_str(out.aar, "i=2; " AUTHRES, "select: the A-AR is i= and our "
	       "A-R");
	h = tag(out.ams, "h");
	is_str(h, "DKIM-Signature:From:To:Subject:Subject:From",
	       "select: AMS h= in message order, DKIM-Signature in, "
	       "ARC-*, A-R, Received, X-Other out, From oversigned");
	free(h);
	h = tag(out.ams, "bh");
	{
		char *want = x_malloc(64);

		EVP_EncodeBlock((unsigned char *)want, bh, sizeof(bh));
		is_str(h, want, "select: AMS bh= the relaxed body hash");
		free(want);
	}
	free(h);
	like_str(out.ams, "i=2; a=rsa-sha256; c=relaxed/relaxed; "
		 "d=example.test;\n\ts=seal; t=1700000000; bh=",
		 "select: AMS tags");
	like_str(out.as, "i=2; a=rsa-sha256; t=1700000000; cv=pass;\n\t"
		 "d=example.test; s=seal;\n\tb=", "select: AS tags");
	ok(strncmp(out.as, "i=2;", 4) == 0 && strncmp(out.ams, "i=2;", 4) == 0,
	   "select: no leading space, i= first");
	milter_arc_seal_out_free(&out);
	test_msg_free(&m);
}

/* relaxed - header "name:value" in relaxed form (RFC 6376 3.4.2),
 * written here again on purpose: an independent check */
static void
relaxed(struct milter_dkim_buf *b, const char *name, const char *value,
	int crlf)
{
	char *s = x_malloc(strlen(name) + strlen(value) + 4), *o = s;
	const char *p;
	int sp = 0;

	for (p = name; *p != '\0'; p++)
		*o++ = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	*o++ = ':';
	for (p = value; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';)
		p++;
	for (; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == ' ' || *p == '\t') {
			sp = 1;
			continue;
		}
		if (sp)
			*o++ = ' ';
		sp = 0;
		*o++ = *p;
	}
	if (crlf) {
		*o++ = '\r';
		*o++ = '\n';
	}
	milter_dkim_buf_add(b, s, (size_t)(o - s));
	free(s);
}

/* seal_verifies - does out's seal verify over hdata with our key? */
static int
seal_verifies(const struct milter_arc_seal_out *out,
	      const struct milter_dkim_buf *hdata)
{
	char *b64 = tag(out->as, "b");
	unsigned char sig[1024];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int n = EVP_DecodeBlock(sig, (unsigned char *)b64,
				(int)strlen(b64)), okk;

	okk = n > 0 && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
					   key->pkey) == 1
	      && EVP_DigestVerify(ctx, sig, (size_t)EVP_PKEY_get_size(
				  key->pkey), (const unsigned char *)
				  hdata->data, hdata->len) == 1;
	EVP_MD_CTX_free(ctx);
	free(b64);
	return okk;
}

/* new_set - the new set, in relaxed form, into b: A-AR, AMS, AS with
 * b= empty and no CRLF */
static void
new_set(struct milter_dkim_buf *b, const struct milter_arc_seal_out *out)
{
	char *as = x_strdup(out->as), *p = strstr(as, "\tb=");

	relaxed(b, "ARC-Authentication-Results", out->aar, 1);
	relaxed(b, "ARC-Message-Signature", out->ams, 1);
	p[3] = '\0';
	relaxed(b, "ARC-Seal", as, 0);
	free(as);
}

/* test_canon - the seal's header data, written out by hand */
static void
test_canon(void)
{
	static const char *const pass[] = { "From: a@example.test",
		SET(2, pass), SET(1, none), NULL };
	static const char *const broken[] = { "From: a@example.test",
		SET(3, pass), SET(1, none), NULL };
	struct test_msg m = { 0 };
	struct milter_arc_seal_out out;
	struct milter_dkim_buf b = { 0 };

	test_msg_lines(&m, pass);
	if (ok(seal(&m, PASS, &out) == 0, "canon: sealed on 2 sets")) {
		static const char sets[] =
				    "arc-authentication-results:i=1; "
				    "mx1.example.org; none\r\n"
				    "arc-message-signature:i=1; "
				    "a=rsa-sha256; d=example.org; s=arc; "
				    "h=from; bh=AAAA; b=AAAA\r\n"
				    "arc-seal:i=1; a=rsa-sha256; cv=none; "
				    "d=example.org; s=arc; b=AAAA\r\n"
				    "arc-authentication-results:i=2; "
				    "mx2.example.org; none\r\n"
				    "arc-message-signature:i=2; "
				    "a=rsa-sha256; d=example.org; s=arc; "
				    "h=from; bh=AAAA; b=AAAA\r\n"
				    "arc-seal:i=2; a=rsa-sha256; cv=pass; "
				    "d=example.org; s=arc; b=AAAA\r\n";

		milter_dkim_buf_add(&b, sets, strlen(sets));
		new_set(&b, &out);
		like_str(b.data, "\r\narc-seal:i=3; a=rsa-sha256; "
			 "t=1700000000; cv=pass; d=example.test; s=seal; b=",
			 "canon: the new seal relaxed, b= empty, last");
		ok(seal_verifies(&out, &b), "canon: cv=pass: the seal signs "
		   "sets 1, 2, 3 in order, each A-AR, AMS, AS");
		milter_dkim_buf_free(&b);
		milter_arc_seal_out_free(&out);
	}
	test_msg_free(&m);

	test_msg_lines(&m, broken);
	if (ok(seal(&m, FAIL, &out) == 0, "canon: sealed a broken chain")) {
		is_str(milter_arc_cv_str(out.cv), "fail", "canon: cv=fail");
		is_int(out.instance, 4, "canon: above the highest i=");
		new_set(&b, &out);
		ok(seal_verifies(&out, &b), "canon: cv=fail: the seal signs "
		   "the new set alone (RFC 8617 5.1.2)");
		milter_dkim_buf_free(&b);
		milter_arc_seal_out_free(&out);
	}
	test_msg_free(&m);
}

/* lookup - the test's DNS: seal._domainkey.example.test */
static enum milter_dkim_err
lookup(void *ctx, const char *name, char **txt, int *ttl)
{
	*ttl = 300;
	if (strcmp(name, "seal._domainkey.example.test") != 0)
		return MILTER_DKIM_E_NOKEY;
	*txt = x_asprintf("v=DKIM1; k=rsa; p=%s", pub);
	return MILTER_DKIM_E_OK;
}

/* verify - our verifier over m and BODY: the chain's result */
static enum milter_arc_result
verify(const struct test_msg *m, enum milter_arc_reason *why)
{
	struct milter_dkim_vopts o = { "ARC-Message-Signature",
				       MILTER_DKIM_V_ARC, 10, 1024 };
	struct milter_dkim_verifier *v = milter_dkim_verifier_new(&o);
	struct milter_arc_chain c;

	milter_arc_chain_check(m->h, m->n, &c);
	milter_dkim_verifier_headers(v, m->h, m->n);
	milter_dkim_verifier_body(v, (const unsigned char *)BODY,
				  strlen(BODY));
	milter_dkim_verifier_eom(v, m->h, m->n, lookup, NULL, 0);
	milter_arc_ams_check(&c, v);
	milter_arc_seals_check(&c, m->h, &o, lookup, NULL);
	milter_dkim_verifier_free(&v);
	*why = c.reason;
	return c.result;
}

/* prepend_one - a header value on top of m, after a space */
static void
prepend_one(struct test_msg *m, const char *name, const char *value)
{
	char *v = x_asprintf(" %s", value);

	test_msg_insert(m, 0, name, v);
	free(v);
}

/* prepend - the new set on top of m: AS, AMS, AAR from the top */
static void
prepend(struct test_msg *m, const struct milter_arc_seal_out *out)
{
	prepend_one(m, "ARC-Authentication-Results", out->aar);
	prepend_one(m, "ARC-Message-Signature", out->ams);
	prepend_one(m, "ARC-Seal", out->as);
}

/* test_roundtrip - what we seal, our verifier passes */
static void
test_roundtrip(void)
{
	static const char *const lines[] = { "From: User <user@example.test>",
		"To: alice@example.org", "Subject: round trip", NULL };
	struct test_msg m = { 0 };
	struct milter_arc_seal_out out;
	enum milter_arc_reason why;
	enum milter_arc_result r;

	test_msg_lines(&m, lines);
	if (ok(seal(&m, NONE, &out) == 0, "roundtrip: sealed at i=1")) {
		like_str(out.as, "i=1; a=rsa-sha256; t=1700000000; cv=none;",
			 "roundtrip: cv=none at i=1");
		prepend(&m, &out);
		milter_arc_seal_out_free(&out);
	}
	r = verify(&m, &why);
	is_str(milter_arc_result_str(r), "pass", "roundtrip: 1 set passes "
	       "(%s)", milter_arc_reason_str(why));
	if (ok(seal(&m, r, &out) == 0, "roundtrip: sealed at i=2")) {
		like_str(out.as, "i=2; a=rsa-sha256; t=1700000000; cv=pass;",
			 "roundtrip: cv=pass at i=2");
		prepend(&m, &out);
		milter_arc_seal_out_free(&out);
	}
	r = verify(&m, &why);
	is_str(milter_arc_result_str(r), "pass", "roundtrip: 2 sets pass "
	       "(%s)", milter_arc_reason_str(why));
	free(m.h[m.n - 1].value);
	m.h[m.n - 1].value = x_strdup(" round trap");
	r = verify(&m, &why);
	is_str(milter_arc_result_str(r), "fail", "roundtrip: Subject "
	       "changed after sealing: fails");
	is_str(milter_arc_reason_str(why),
	       milter_arc_reason_str(MILTER_ARC_R_AMS),
	       "roundtrip: ... at the newest AMS");
	test_msg_free(&m);
}

/* A message through the pass, and how many times its body is hashed. */
struct once_case {
	const char *what;
	const char *canon;		/* dkim_sign_canonicalization */
	int auth;			/* authenticated: DKIM-signed */
	const char *extra[4];		/* headers on top of the message */
	int times;			/* body hashes fed the body */
	int sealed;			/* the seal made (bh= checked) */
};

#define ONCE_BODY	"Hello,  once.\r\nA second   line. \r\n\r\n"
#define ONCE_BH		"bh=GxdPqx/mVuNqO90IhfkXQ4qXvESzyAy9LK/jBs0Wc2Q="
#define ONCE_DKIM	"DKIM-Signature: v=1; a=rsa-sha256; " \
	"c=relaxed/relaxed; d=example.org; s=x; h=from; " ONCE_BH "; b=AAAA"
#define ONCE_DKIM_SIMPLE "DKIM-Signature: v=1; a=rsa-sha256; " \
	"d=example.org; s=x; h=from; " ONCE_BH "; b=AAAA"
#define ONCE_AS	"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; " \
	"s=arc; b=AAAA"
#define ONCE_AMS "ARC-Message-Signature: i=1; a=rsa-sha256; " \
	"c=relaxed/relaxed; d=example.org; s=arc; h=from; " ONCE_BH "; b=AAAA"
#define ONCE_AAR "ARC-Authentication-Results: i=1; mx.example.org; none"

static const struct once_case once_cases[] = {
	{ "signed relaxed: the signer's hash", "relaxed/relaxed", 1,
	  { NULL }, 1, 1 },
	{ "signed simple: the seal hashes relaxed itself", "simple/simple",
	  1, { NULL }, 2, 1 },
	{ "verified, DKIM relaxed: the verifier's hash", "relaxed/relaxed",
	  0, { ONCE_DKIM, NULL }, 1, 1 },
	{ "verified, DKIM simple: the seal hashes relaxed itself",
	  "relaxed/relaxed", 0, { ONCE_DKIM_SIMPLE, NULL }, 2, 1 },
	/* the chain's key is not found (no resolver): not sealed, but the
	 * source is chosen at end of headers all the same */
	{ "verified, an ARC chain: the AMS verifier's hash",
	  "relaxed/relaxed", 0, { ONCE_AS, ONCE_AMS, ONCE_AAR, NULL }, 1, 0 },
};

/* once_conf - sealing for example.test, SPF and DMARC off (no DNS) */
static struct conf *
once_conf(const char *canon)
{
	char *db = x_asprintf("database.directory=%s", dir);
	char *kt = x_asprintf("milter.dkim_key_table=%s/kt", dir);
	char *st = x_asprintf("milter.dkim_signing_table=%s/st", dir);
	char *cn = x_asprintf("milter.dkim_sign_canonicalization=%s", canon);
	const char *ov[] = { db, kt, st, cn,
			     "milter.arc_seal_domain=example.test",
			     "milter.authserv_id=mx.example.test",
			     "milter.spf=false", "milter.dmarc=false" };
	char *errors = NULL;
	struct conf *c = conf_load(elemta_sections, NULL, ov,
				   sizeof(ov) / sizeof(ov[0]), &errors);

	if (c == NULL)
		bail_out("once_conf: %s", errors ? errors : "?");
	free(db);
	free(kt);
	free(st);
	free(cn);
	return c;
}

/* once_edit - the value of the inserted header name, or "" */
static const char *
once_edit(const struct milter_outcome *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nedits; i++)
		if (o->edits[i].op == MILTER_EDIT_INSERT
		    && strcmp(o->edits[i].name, name) == 0)
			return o->edits[i].value;
	return "";
}

/* test_once_case - one message through the pass */
static void
test_once_case(const struct once_case *t)
{
	struct milter_conn *c = milter_conn_open(
		milter_gen_new(once_conf(t->canon), NULL,
			       milter_keys_ref(keys)));
	struct milter_msg *m = milter_msg_new(c, "<user@example.test>");
	struct milter_outcome o;
	struct test_msg extra = { .n = 0 };
	unsigned long long before;
	char *ams_bh, *dkim_bh;
	size_t i, half = strlen(ONCE_BODY) / 2;

	milter_conn_set_client(c, "192.0.2.1", "client.example.org");
	if (t->auth)
		milter_msg_set_auth(m, "PLAIN", "user");
	test_msg_lines(&extra, t->extra);
	for (i = 0; i < extra.n; i++)
		milter_msg_header(m, extra.h[i].name, extra.h[i].value);
	test_msg_free(&extra);
	milter_msg_header(m, "From", " User <user@example.test>");
	milter_msg_header(m, "To", " alice@example.org");
	milter_msg_header(m, "Subject", " once");
	milter_pipeline_eoh(m);
	before = milter_dkim_body_fed();
	milter_pipeline_body(m, (const unsigned char *)ONCE_BODY, half);
	milter_pipeline_body(m, (const unsigned char *)ONCE_BODY + half,
			     strlen(ONCE_BODY) - half);
	is_int((long long)(milter_dkim_body_fed() - before),
	       (long long)(t->times * strlen(ONCE_BODY)),
	       "once: %s: the body fed to %d hash(es)", t->what, t->times);
	milter_pipeline_run(m, &o);
	ams_bh = tag(once_edit(&o, "ARC-Message-Signature"), "bh");
	if (t->sealed) {
		is_str(ams_bh, ONCE_BH + 3, "once: %s: the AMS's bh= is the "
		       "relaxed body hash", t->what);
	} else {
		is_str(ams_bh, "", "once: %s: not sealed", t->what);
	}
	dkim_bh = tag(once_edit(&o, "DKIM-Signature"), "bh");
	if (t->auth)
		ok(*dkim_bh != '\0'
		   && (strcmp(dkim_bh, ams_bh) == 0)
		      == (strncmp(t->canon, "relaxed", 7) == 0),
		   "once: %s: DKIM-Signature's bh= (%s)", t->what, dkim_bh);
	free(ams_bh);
	free(dkim_bh);
	milter_outcome_free(&o);
	milter_conn_free(&c);
}

/* test_once - the body hashed once when stages share the hash */
static void
test_once(void)
{
	struct milter_dkim_body *b = milter_dkim_body_new(MILTER_DKIM_RELAXED);
	unsigned char h[MILTER_DKIM_HASH_LEN];
	char *b64;
	size_t i;

	/* the table's bh= is this body's relaxed hash */
	milter_dkim_body_update(b, (const unsigned char *)ONCE_BODY,
				strlen(ONCE_BODY));
	if (milter_dkim_body_final(b, h) < 0)
		bail_out("body hash");
	milter_dkim_body_free(&b);
	b64 = milter_dkim_sign_b64(h, sizeof(h));
	is_str(b64, ONCE_BH + 3, "once: the relaxed hash of the body");
	free(b64);
	for (i = 0; i < sizeof(once_cases) / sizeof(once_cases[0]); i++)
		test_once_case(&once_cases[i]);
}

int
main(void)
{
	plan_lazy();
	test_plan();
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp");
	load_key();
	body_hash();
	test_select();
	test_canon();
	test_roundtrip();
	test_once();
	milter_keys_unref(&keys);
	free(pub);
	milter_dkim_key_cache_flush();
	tap_rmtree(dir);
	done_testing();
	return exit_status();
}
