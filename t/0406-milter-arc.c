/*++
 * NAME
 *	0406-milter-arc 1
 * SUMMARY
 *	unit tests of ARC's chain structure (milter/milter-arc.c)
 * DESCRIPTION
 *	A table of header lists through milter_arc_chain_check(), each
 *	with the result, the reason, the instance count and the
 *	instance that failed: no ARC header (none); valid chains of 1
 *	and 3 sets (structure only: the signatures are not checked
 *	here); a gap, a duplicate set, two ARC-Message-Signatures at one
 *	instance, a set without its A-AR; i=0, i=51; cv=pass at i=1,
 *	cv=none at i=2, cv=fail at i=2, no cv=; malformed tag lists and
 *	A-AR prefixes.  Then built ones: 50 sets (the most, a pass), 60
 *	sets (too many), a 1 MB header (too long).  Then the A-AR
 *	instance reader on its own and every reason's comment.  Last,
 *	chains of 1 to 3 sets signed by a second implementation
 *	(t/data/milter/arc-fixture.py, python3-dkim's signer): they
 *	pass; a changed A-AR fails the newest seal, a changed body or
 *	Subject the newest AMS, a missing key the chain, and so does a
 *	seal's key outside the key size bounds (min_key_bits,
 *	max_key_bits), checked for the ARC-Seal as for the AMS.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "milter-arc.h"
#include "milter-dkim-canon.h"
#include "../sections-all.h"
#include "tap.h"
#include "test-msg.h"
#include "xalloc.h"

#define AS(i, cv) "ARC-Seal: i=" #i "; a=rsa-sha256; cv=" #cv \
	"; d=example.org; s=arc; t=1700000000; b=AAAA"
#define AMS(i) "ARC-Message-Signature: i=" #i "; a=rsa-sha256;\r\n\t" \
	"c=relaxed/relaxed; d=example.org; s=arc; h=from:to; bh=AAAA; b=AAAA"
#define AAR(i) "ARC-Authentication-Results: i=" #i "; mx.example.org;" \
	" spf=pass smtp.mailfrom=example.org"
#define SET(i, cv) AS(i, cv), AMS(i), AAR(i)

#define MAXH 16

struct chain_case {
	const char *what;
	const char *h[MAXH];		/* "Name: value", NULL-terminated */
	enum milter_arc_result result;
	enum milter_arc_reason reason;
	unsigned n, failed;
};

#define P MILTER_ARC_PASS
#define F MILTER_ARC_FAIL

static const struct chain_case chain_cases[] = {
	{ "no ARC header", { "From: a@example.org", "Subject: x" },
	  MILTER_ARC_NONE, MILTER_ARC_R_OK, 0, 0 },
	{ "no header at all", { NULL }, MILTER_ARC_NONE, MILTER_ARC_R_OK,
	  0, 0 },
	{ "one set", { "From: a@example.org", SET(1, none) },
	  P, MILTER_ARC_R_OK, 1, 0 },
	{ "three sets, newest first",
	  { SET(3, pass), SET(2, pass), SET(1, none), "From: a@x" },
	  P, MILTER_ARC_R_OK, 3, 0 },
	{ "three sets, mixed order, names in any case",
	  { "arc-seal: i=2; cv=pass; b=A", AMS(1), AAR(3), AS(1, none),
	    AMS(3), "ARC-AUTHENTICATION-RESULTS: i=2; mx; none",
	    "arc-message-signature: i=2; b=A", AS(3, pass), AAR(1) },
	  P, MILTER_ARC_R_OK, 3, 0 },
	{ "folded A-AR prefix", { AS(1, none), AMS(1),
	  "ARC-Authentication-Results: \r\n\ti = 1 ;mx.example.org; none" },
	  P, MILTER_ARC_R_OK, 1, 0 },
	{ "gap: 3 and 1", { SET(3, pass), SET(1, none) },
	  F, MILTER_ARC_R_GAP, 3, 2 },
	{ "gap: only 2", { SET(2, pass) }, F, MILTER_ARC_R_GAP, 2, 1 },
	{ "duplicate instance", { SET(1, none), SET(1, none) },
	  F, MILTER_ARC_R_DUPLICATE, 1, 1 },
	{ "two AMS for one instance",
	  { SET(2, pass), AS(1, none), AMS(1), AMS(1), AAR(1) },
	  F, MILTER_ARC_R_DUPLICATE, 2, 1 },
	{ "two A-AR for one instance", { SET(1, none), AAR(1) },
	  F, MILTER_ARC_R_DUPLICATE, 1, 1 },
	{ "set without its A-AR", { SET(2, pass), AS(1, none), AMS(1) },
	  F, MILTER_ARC_R_MISSING, 2, 1 },
	{ "set without its seal", { AMS(1), AAR(1) },
	  F, MILTER_ARC_R_MISSING, 1, 1 },
	{ "i=0", { SET(0, none) }, F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "i=51", { SET(51, pass) }, F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "i=51 on the A-AR only", { AS(1, none), AMS(1), AAR(51) },
	  F, MILTER_ARC_R_INSTANCE, 1, 0 },
	{ "cv=pass at i=1", { SET(1, pass) }, F, MILTER_ARC_R_CV, 1, 1 },
	{ "cv=none at i=2", { SET(2, none), SET(1, none) },
	  F, MILTER_ARC_R_CV, 2, 2 },
	{ "cv=fail at i=2", { SET(2, fail), SET(1, none) },
	  F, MILTER_ARC_R_CVFAIL, 2, 2 },
	{ "cv=fail at i=1 under a pass", { SET(2, pass), SET(1, fail) },
	  F, MILTER_ARC_R_CVFAIL, 2, 1 },
	{ "cv=FAIL, any case", { SET(2, FAIL), SET(1, none) },
	  F, MILTER_ARC_R_CVFAIL, 2, 2 },
	{ "no cv=", { "ARC-Seal: i=1; a=rsa-sha256; b=A", AMS(1), AAR(1) },
	  F, MILTER_ARC_R_CV, 1, 1 },
	{ "cv= another word", { SET(1, maybe) }, F, MILTER_ARC_R_CV, 1, 1 },
	{ "seal: tag without =", { "ARC-Seal: i=1; cv=none; b", AMS(1),
	  AAR(1) }, F, MILTER_ARC_R_SYNTAX, 0, 0 },
	{ "seal: tag named twice", { "ARC-Seal: i=1; cv=none; i=1", AMS(1),
	  AAR(1) }, F, MILTER_ARC_R_SYNTAX, 0, 0 },
	{ "seal: control byte", { "ARC-Seal: i=1; cv=no\001ne", AMS(1),
	  AAR(1) }, F, MILTER_ARC_R_SYNTAX, 0, 0 },
	{ "seal: tag name not a letter", { "ARC-Seal: 1=1; cv=none", AMS(1),
	  AAR(1) }, F, MILTER_ARC_R_SYNTAX, 0, 0 },
	{ "AMS without i=", { AS(1, none),
	  "ARC-Message-Signature: a=rsa-sha256; b=A", AAR(1) },
	  F, MILTER_ARC_R_INSTANCE, 1, 0 },
	{ "seal: i=x", { "ARC-Seal: i=x; cv=none", AMS(1), AAR(1) },
	  F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "seal: empty i=", { "ARC-Seal: i=; cv=none", AMS(1), AAR(1) },
	  F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "seal: i=-1", { "ARC-Seal: i=-1; cv=none", AMS(1), AAR(1) },
	  F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "seal: i=99999999999999999999", { "ARC-Seal: "
	  "i=99999999999999999999; cv=none", AMS(1), AAR(1) },
	  F, MILTER_ARC_R_INSTANCE, 0, 0 },
	{ "A-AR without i=", { AS(1, none), AMS(1),
	  "ARC-Authentication-Results: mx.example.org; spf=pass" },
	  F, MILTER_ARC_R_SYNTAX, 1, 0 },
	{ "A-AR without ; after i=", { AS(1, none), AMS(1),
	  "ARC-Authentication-Results: i=1 mx.example.org; spf=pass" },
	  F, MILTER_ARC_R_SYNTAX, 1, 0 },
	{ "A-AR i=1000", { AS(1, none), AMS(1),
	  "ARC-Authentication-Results: i=1000; mx" },
	  F, MILTER_ARC_R_SYNTAX, 1, 0 },
	{ "A-AR empty", { AS(1, none), AMS(1),
	  "ARC-Authentication-Results:" }, F, MILTER_ARC_R_SYNTAX, 1, 0 },
};

/* check_chain - one list against its expected outcome */
static void
check_chain(const char *what, const struct test_msg *l,
	    enum milter_arc_result result, enum milter_arc_reason reason,
	    unsigned n, unsigned failed)
{
	struct milter_arc_chain c;

	milter_arc_chain_check(l->h, l->n, &c);
	is_str(milter_arc_result_str(c.result), milter_arc_result_str(result),
	       "%s: result", what);
	is_str(milter_arc_reason_str(c.reason), milter_arc_reason_str(reason),
	       "%s: reason", what);
	is_int(c.n, n, "%s: instances", what);
	is_int(c.failed, failed, "%s: failed instance", what);
}

/* test_table - the fixed cases */
static void
test_table(void)
{
	const struct chain_case *tc;
	struct test_msg l = { 0 };
	size_t i, j;

	for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		tc = &chain_cases[i];
		for (j = 0; j < MAXH && tc->h[j] != NULL; j++)
			test_msg_line(&l, tc->h[j]);
		check_chain(tc->what, &l, tc->result, tc->reason, tc->n,
			    tc->failed);
		test_msg_free(&l);
	}
}

/* add_sets - sets n..1, newest first, well-formed */
static void
add_sets(struct test_msg *l, unsigned n)
{
	char v[256];
	unsigned i;

	for (i = n; i >= 1; i--) {
		snprintf(v, sizeof(v), " i=%u; a=rsa-sha256; cv=%s; "
			 "d=example.org; s=arc; b=AAAA", i,
			 i == 1 ? "none" : "pass");
		test_msg_add(l, "ARC-Seal", v);
		snprintf(v, sizeof(v), " i=%u; a=rsa-sha256; d=example.org; "
			 "s=arc; h=from; bh=AAAA; b=AAAA", i);
		test_msg_add(l, "ARC-Message-Signature", v);
		snprintf(v, sizeof(v), " i=%u; mx%u.example.org; none", i, i);
		test_msg_add(l, "ARC-Authentication-Results", v);
	}
}

/* check_one_set - set 1 with ams as its AMS value */
static void
check_one_set(const char *what, const char *ams,
	      enum milter_arc_result result, enum milter_arc_reason reason)
{
	struct test_msg l = { 0 };

	test_msg_add(&l, "ARC-Seal", " i=1; cv=none; b=A");
	test_msg_add(&l, "ARC-Message-Signature", ams);
	test_msg_add(&l, "ARC-Authentication-Results", " i=1; mx; none");
	check_chain(what, &l, result, reason, 1, 0);
	test_msg_free(&l);
}

/* test_built - many sets, a long header */
static void
test_built(void)
{
	struct test_msg l = { 0 };
	size_t big = 1024 * 1024;
	char *v;

	add_sets(&l, 50);
	check_chain("50 sets", &l, P, MILTER_ARC_R_OK, 50, 0);
	test_msg_free(&l);

	add_sets(&l, 60);
	check_chain("60 sets", &l, F, MILTER_ARC_R_TOOMANY, 0, 0);
	test_msg_free(&l);

	/* 51 seals, the rest fine: one kind over the most is enough */
	add_sets(&l, 50);
	test_msg_add(&l, "ARC-Seal", " i=51; cv=pass; b=A");
	check_chain("51 seals", &l, F, MILTER_ARC_R_TOOMANY, 0, 0);
	test_msg_free(&l);

	/* a 1 MB ARC-Message-Signature: tag list valid, too long */
	v = x_malloc(big + 1);
	memset(v, 'A', big);
	memcpy(v, " i=1; b=", 8);
	v[big] = '\0';
	check_one_set("1 MB AMS", v, F, MILTER_ARC_R_HSIZE);

	/* exactly the cap passes, one byte more fails */
	v[MILTER_ARC_HSIZE] = '\0';
	check_one_set("AMS at the cap", v, P, MILTER_ARC_R_OK);
	v[MILTER_ARC_HSIZE] = 'A';
	v[MILTER_ARC_HSIZE + 1] = '\0';
	test_msg_add(&l, "ARC-Authentication-Results", v);
	check_chain("A-AR a byte over the cap", &l, F, MILTER_ARC_R_HSIZE,
		    0, 0);
	test_msg_free(&l);
	free(v);
}

static char tmpdir[] = "/tmp/elemta-0406.XXXXXX";
static char *fixture;		/* t/data/milter/arc-fixture.py */
static char *pub;		/* the key's p= */

/* run_fixture - the fixture's output for args; malloc'ed or NULL */
static char *
run_fixture(const char *args)
{
	char *cmd = x_asprintf("/usr/bin/python3 '%s' '%s' %s", fixture,
			       tmpdir, args);
	char *out = tap_popen(cmd);

	free(cmd);
	return out;
}

/* lookup - the test's DNS: arc._domainkey.example.test, unless ctx
 * says there is no key */
static enum milter_dkim_err
lookup(void *ctx, const char *name, char **txt, int *ttl)
{
	*ttl = 300;
	if (ctx != NULL || strcmp(name, "arc._domainkey.example.test") != 0)
		return MILTER_DKIM_E_NOKEY;
	*txt = x_asprintf("v=DKIM1; k=rsa; p=%s", pub);
	return MILTER_DKIM_E_OK;
}

/* split_message - text's headers into l (folding kept as LF, as
 * libmilter gives it); the body ("" if none) */
static const char *
split_message(char *text, struct test_msg *l)
{
	return test_msg_parse(text, l) == 0 ? l->body : "";
}

/* crypto_case - a fixture chain of n sets, edited, fully checked; the
 * seals with key size bounds seal_min, seal_max (0: the AMS's) */
static void
crypto_case(const char *what, unsigned n, const char *from, const char *to,
	    void *ctx, enum milter_arc_result result,
	    enum milter_arc_reason reason, unsigned failed, int seal_min,
	    int seal_max)
{
	struct milter_dkim_vopts o = { "ARC-Message-Signature",
				       MILTER_DKIM_V_ARC, 10, 1024, 0 };
	struct milter_dkim_vopts so = o;
	struct milter_dkim_verifier *v;
	struct test_msg l = { 0 };
	struct milter_arc_chain c;
	char args[32], *text, *at;
	const char *body;

	snprintf(args, sizeof(args), "chain %u", n);
	if ((text = run_fixture(args)) == NULL) {
		ok(0, "%s: python3-dkim made the chain", what);
		return;
	}
	if (from != NULL && (at = strstr(text, from)) != NULL)
		memcpy(at, to, strlen(to));	/* the same length */
	body = split_message(text, &l);
	milter_arc_chain_check(l.h, l.n, &c);
	v = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(v, l.h, l.n);
	milter_dkim_verifier_body(v, (const unsigned char *)body,
				  strlen(body));
	milter_dkim_verifier_eom(v, l.h, l.n, lookup, ctx, 0);
	milter_arc_ams_check(&c, v);
	if (seal_min > 0)
		so.min_key_bits = seal_min;
	if (seal_max > 0)
		so.max_key_bits = seal_max;
	milter_arc_seals_check(&c, l.h, &so, lookup, ctx);
	is_str(milter_arc_result_str(c.result), milter_arc_result_str(result),
	       "%s: result", what);
	if (seal_min > 0 || seal_max > 0)
		is_str(milter_dkim_err_str(c.err),
		       milter_dkim_err_str(seal_min > 0 ? MILTER_DKIM_E_KEYSMALL
					   : MILTER_DKIM_E_KEYLARGE),
		       "%s: the seal's key refused for its size", what);
	is_str(milter_arc_reason_str(c.reason), milter_arc_reason_str(reason),
	       "%s: reason (%s)", what,
	       c.err ? milter_dkim_err_str(c.err) : "no signature error");
	is_int(c.n, n, "%s: instances", what);
	is_int(c.failed, failed, "%s: failed instance", what);
	milter_dkim_verifier_free(&v);
	test_msg_free(&l);
	free(text);
}

/* share_case - an AMS verifier taking its body hashes from a donor
 * (milter_dkim_verifier_share), the donor fed the body (edited), the
 * verifier itself fed another: the donor's decides.  The verifier's
 * end of message comes first: it completes the donor's hash. */
static void
share_case(const char *what, const char *from, const char *to,
	   enum milter_dkim_err want)
{
	struct milter_dkim_vopts o = { "ARC-Message-Signature",
				       MILTER_DKIM_V_ARC, 10, 1024 };
	struct milter_dkim_verifier *v, *donor;
	struct test_msg l = { 0 };
	static const char other[] = "Another body.\r\n";
	char *text, *dbody, *at;
	const char *body;
	size_t k;

	if ((text = run_fixture("chain 2")) == NULL) {
		ok(0, "%s: python3-dkim made the chain", what);
		return;
	}
	body = split_message(text, &l);
	dbody = x_strdup(body);
	if (from != NULL && (at = strstr(dbody, from)) != NULL)
		memcpy(at, to, strlen(to));	/* the same length */
	donor = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(donor, l.h, l.n);
	v = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(v, l.h, l.n);
	milter_dkim_verifier_share(v, donor);
	ok(v->nbodies > 0 && v->nshared == v->nbodies,
	   "%s: every body hash shared (%zu of %zu)", what, v->nshared,
	   v->nbodies);
	milter_dkim_verifier_body(donor, (const unsigned char *)dbody,
				  strlen(dbody));
	milter_dkim_verifier_body(v, (const unsigned char *)other,
				  strlen(other));
	milter_dkim_verifier_eom(v, l.h, l.n, lookup, NULL, 0);
	milter_dkim_verifier_eom(donor, l.h, l.n, lookup, NULL, 0);
	is_int(v->n, 2, "%s: two AMS", what);
	for (k = 0; k < v->n; k++)
		is_str(milter_dkim_err_str(v->sigs[k].res.err),
		       milter_dkim_err_str(want), "%s: AMS %zu", what, k);
	is_str(milter_dkim_err_str(donor->sigs[0].res.err),
	       milter_dkim_err_str(want), "%s: the donor's own result", what);
	milter_dkim_verifier_free(&v);
	milter_dkim_verifier_free(&donor);
	test_msg_free(&l);
	free(dbody);
	free(text);
}

/* stage_msg - a message of the fixture's chain of n sets (0: none)
 * through the ARC stage alone, on a connection without a resolver
 * (every key lookup fails); the message, to be freed with its conn */
static struct milter_msg *
stage_msg(struct conf *conf, unsigned n)
{
	struct milter_conn *c = milter_conn_new(conf_ref(conf), NULL);
	struct test_msg l = { 0 };
	struct milter_msg *m;
	char args[32], *text;
	const char *body = "Hello.\r\n";
	size_t k;

	milter_conn_set_client(c, "192.0.2.7", NULL);
	m = milter_msg_new(c, "user@example.test");
	snprintf(args, sizeof(args), "chain %u", n);
	text = n > 0 ? run_fixture(args) : NULL;
	if (text != NULL)
		body = split_message(text, &l);
	else
		test_msg_line(&l, "From: User <user@example.test>");
	for (k = 0; k < l.n; k++)
		milter_msg_header(m, l.h[k].name, l.h[k].value);
	milter_arc_verify_eoh(m);
	milter_arc_verify_body(m, (const unsigned char *)body, strlen(body));
	milter_arc_verify_eom(m);
	test_msg_free(&l);
	free(text);
	return m;
}

/* test_stage - what the stage leaves for DMARC and the seal (the
 * names the seal codes against) and what it puts in the A-R */
static void
test_stage(void)
{
	const char *ov[] = { "dns.nameservers=127.0.0.1" };
	struct milter_arc_results *r;
	struct milter_conn *c;
	struct milter_msg *m;
	struct conf *conf;
	char *errors = NULL;

	if ((conf = conf_load(elemta_sections, NULL, ov, 1, &errors)) == NULL)
		bail_out("test_stage: %s", errors ? errors : "?");
	m = stage_msg(conf, 0);
	r = &m->arc_results;
	ok(r->done, "stage, no chain: done");
	is_str(milter_arc_result_str(r->result), "none",
	       "stage, no chain: none");
	is_int(r->cv, MILTER_ARC_CV_NONE,
	       "stage, no chain: a seal says cv=none");
	is_int(r->n, 0, "stage, no chain: n=0 (a seal is i=1)");
	is_int(r->as_index + r->ams_index + r->aar_index, 0,
	       "stage, no chain: no newest set");
	is_str(m->nresults == 1 ? m->results[0].result : "?", "none",
	       "stage, no chain: arc=none in the A-R");
	c = m->conn;
	milter_conn_free(&c);

	m = stage_msg(conf, 2);
	r = &m->arc_results;
	is_str(milter_arc_result_str(r->result), "fail",
	       "stage, 2 sets, no resolver: fail");
	is_str(milter_arc_reason_str(r->reason),
	       milter_arc_reason_str(MILTER_ARC_R_AMS),
	       "stage, 2 sets, no resolver: the AMS (its key) fails");
	is_int(r->cv, MILTER_ARC_CV_FAIL, "stage, 2 sets: a seal says cv=fail");
	is_int(r->n, 2, "stage, 2 sets: n=2");
	is_int(r->as_index, 1, "stage, 2 sets: the newest seal is header 1");
	is_int(r->ams_index, 2, "stage, 2 sets: the newest AMS is header 2");
	is_int(r->aar_index, 3, "stage, 2 sets: the newest A-AR is header 3");
	is_int(r->chain.sets[1].as, 4, "stage, 2 sets: the seal of i=1");
	is_str(r->sealer, "example.test", "stage, 2 sets: the newest sealer");
	is_int(r->oldest_pass, 0, "stage, 2 sets: no oldest-pass on a fail");
	ok(m->nresults == 1 && strcmp(m->results[0].method, "arc") == 0
	   && strcmp(m->results[0].result, "fail") == 0,
	   "stage, 2 sets: arc=fail in the A-R");
	c = m->conn;
	milter_conn_free(&c);
	conf_unref(&conf);
}

/* read_pub - the fixture key's p=; malloc'ed or NULL */
static char *
read_pub(void)
{
	char *path = x_asprintf("%s/arc.pub", tmpdir), buf[2048];
	FILE *f = fopen(path, "r");
	size_t n;

	free(path);
	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n > 0 ? x_strdup(buf) : NULL;
}

/* test_crypto - chains signed by python3-dkim: the newest AMS and
 * every seal */
static void
test_crypto(void)
{
	const char *src = getenv("top_srcdir");
	char *out;

	if (system("/usr/bin/python3 -c 'import dkim' 2>/dev/null") != 0) {
		missing(1, "python3-dkim missing (tools/install-deps)");
		return;
	}
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp");
	fixture = x_asprintf("%s/t/data/milter/arc-fixture.py",
			     src ? src : "..");
	if ((out = run_fixture("key")) == NULL)
		bail_out("the fixture made no key");
	free(out);
	if ((pub = read_pub()) == NULL)
		bail_out("the fixture made no key");
	crypto_case("signed, 1 set", 1, NULL, NULL, NULL, P,
		    MILTER_ARC_R_OK, 0, 0, 0);
	crypto_case("signed, 3 sets", 3, NULL, NULL, NULL, P,
		    MILTER_ARC_R_OK, 0, 0, 0);
	crypto_case("A-AR 2 changed: seal 3 fails", 3, "mx2.example.test",
		    "mx2.example.tesu", NULL, F, MILTER_ARC_R_SEAL, 3, 0, 0);
	crypto_case("A-AR 3 changed: seal 3 fails", 3, "mx3.example.test",
		    "mx3.example.tesu", NULL, F, MILTER_ARC_R_SEAL, 3, 0, 0);
	crypto_case("body changed: the newest AMS fails", 2, "Hello.",
		    "Hallo.", NULL, F, MILTER_ARC_R_AMS, 2, 0, 0);
	crypto_case("Subject changed: the newest AMS fails", 2, "ARC test",
		    "ARC tost", NULL, F, MILTER_ARC_R_AMS, 2, 0, 0);
	crypto_case("no key", 2, NULL, NULL, "nokey", F, MILTER_ARC_R_AMS,
		    2, 0, 0);
	/* the fixture's key has 2048 bits: the AMS pass, the seals'
	 * key is out of the bounds given to milter_arc_seals_check */
	crypto_case("seal key above max_key_bits", 3, NULL, NULL, NULL, F,
		    MILTER_ARC_R_SEAL, 3, 0, 1024);
	crypto_case("seal key below min_key_bits", 3, NULL, NULL, NULL, F,
		    MILTER_ARC_R_SEAL, 3, 4096, 0);
	share_case("shared body hash", NULL, NULL, MILTER_DKIM_E_OK);
	share_case("shared body hash, the donor's body changed", "Hello.",
		   "Hallo.", MILTER_DKIM_E_BODYHASH);
	test_stage();
	tap_rmtree(tmpdir);
	free(pub);
	free(fixture);
}

/* test_aar - the A-AR instance reader */
static void
test_aar(void)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ " i=1; mx", 1 }, { "i=50;", 50 }, { "I=7 ; x", 7 },
		{ " \r\n\ti\t=\t12\r\n ;", 12 }, { "i=0;", 0 },
		{ "i=100;", 100 }, { "i=1000;", -1 }, { "i=;", -1 },
		{ "i=1", -1 }, { "j=1;", -1 }, { "", -1 }, { "i 1;", -1 },
		{ "(c) i=1;", -1 },	/* comments are not read (yet) */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(milter_arc_aar_instance(cases[i].in), cases[i].want,
		       "A-AR instance of \"%s\"", cases[i].in);
}

/* test_strings - every reason has a comment, every result its word */
static void
test_strings(void)
{
	int r;

	for (r = MILTER_ARC_R_TOOMANY; r <= MILTER_ARC_R_CVFAIL; r++)
		ok(*milter_arc_reason_str((enum milter_arc_reason)r) != '\0'
		   && strcmp(milter_arc_reason_str((enum milter_arc_reason)r),
			     "unknown") != 0, "reason %d has a comment", r);
	is_str(milter_arc_result_str(MILTER_ARC_NONE), "none", "none");
	is_str(milter_arc_result_str(MILTER_ARC_PASS), "pass", "pass");
	is_str(milter_arc_result_str(MILTER_ARC_FAIL), "fail", "fail");
}

int
main(void)
{
	plan_lazy();
	test_table();
	test_built();
	test_aar();
	test_strings();
	test_crypto();
	done_testing();
	return exit_status();
}
