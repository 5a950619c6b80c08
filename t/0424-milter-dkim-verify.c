/*++
 * NAME
 *	0424-milter-dkim-verify 1
 * SUMMARY
 *	unit tests for milter/milter-dkim-verify.c (our DKIM verifier)
 * DESCRIPTION
 *	The parsers on hand-written input: tag lists (RFC 6376 section
 *	3.2), signatures and their errors, key records.
 *
 *	Then messages signed by a second implementation, python3-dkim
 *	(t/data/milter/dkimv-fixture.py, run at test time with keys it
 *	makes: RSA 768, 1024, 2048, 4096 bits, Ed25519), verified against
 *	a table of key records: every RFC 6376 edge case the verifier
 *	decides (l= and a body longer than l=, x= expired, t= in the
 *	future, i= outside d=, h= without From, oversigning and headers
 *	named twice or absent, duplicate tags, keys with h=sha1 only or a
 *	k= that does not match a=, revoked, not for email, t=s, too small
 *	for dkim_min_key_bits or too large for dkim_max_key_bits (the
 *	key's size kept for the log), headers folded in odd ways, rsa-sha1, LF
 *	line ends), each with the RFC 8601 result, the class and the
 *	reason; then an ARC-Message-Signature read by the same verifier.
 *
 *	Last the key cache: keys are parsed once per record text and
 *	handed out again (the same EVP_PKEY), a changed record is parsed
 *	anew, TTL 0 is never kept, an expired entry is dropped, the cache
 *	is bounded, and threads share it.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "milter.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-verify.h"
#include "tap.h"
#include "test-msg.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/elemta-0424.XXXXXX";
static char *fixture;		/* the script's path */
static char *pub_rsa[4097], *pub_ed;

/* --- parsers --- */

struct tcase {
	const char *in;
	enum milter_dkim_err want;
	size_t n;
};

static const struct tcase tcases[] = {
	{ "", MILTER_DKIM_E_OK, 0 },
	{ "a=1", MILTER_DKIM_E_OK, 1 },
	{ "a=1;", MILTER_DKIM_E_OK, 1 },
	{ " a = 1 ; b=\r\n\t2 x ;\n c_1=", MILTER_DKIM_E_OK, 3 },
	{ "a=1;;b=2", MILTER_DKIM_E_SYNTAX, 0 },
	{ "a", MILTER_DKIM_E_SYNTAX, 0 },
	{ "1a=2", MILTER_DKIM_E_SYNTAX, 0 },
	{ "a-b=2", MILTER_DKIM_E_SYNTAX, 0 },
	{ "a=\x01", MILTER_DKIM_E_SYNTAX, 0 },
	{ "a=\xc3\xa9", MILTER_DKIM_E_SYNTAX, 0 },
	{ "a=1; a=2", MILTER_DKIM_E_DUPTAG, 0 },
	{ "a=1; A=2", MILTER_DKIM_E_OK, 2 },	/* names are case-sensitive */
};

/* test_tags - the tag-list grammar */
static void
test_tags(void)
{
	struct milter_dkim_tags tl;
	enum milter_dkim_err e;
	char many[1024];
	size_t i, o = 0;

	for (i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		e = milter_dkim_tags_parse(tcases[i].in, &tl);
		is_int(e, tcases[i].want, "tags #%zu: error", i);
		if (e == MILTER_DKIM_E_OK)
			is_int((long long)tl.n, (long long)tcases[i].n,
			       "tags #%zu: count", i);
	}
	(void)milter_dkim_tags_parse(" a = 1 ; b=\r\n\t2 x ;\n c_1=", &tl);
	ok(tl.t[1].vlen == 3 && memcmp(tl.t[1].val, "2 x", 3) == 0,
	   "a value without the white space around it");
	(void)milter_dkim_tags_parse("b=2\r\n\tx ; c=1", &tl);
	ok(tl.t[0].vlen == 5 && memcmp(tl.t[0].val, "2\r\n\tx", 5) == 0,
	   "a value keeps its inner folding");
	is_int((long long)tl.t[2].vlen, 0, "an empty value");
	for (i = 0; i < MILTER_DKIM_MAX_TAGS + 1; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "t%zu=1;",
				      i);
	is_int(milter_dkim_tags_parse(many, &tl), MILTER_DKIM_E_SYNTAX,
	       "more than %d tags: refused", MILTER_DKIM_MAX_TAGS);
}

struct scase {
	const char *in;
	int flags;
	enum milter_dkim_err want;
};

#define S_OK	"v=1; a=rsa-sha256; d=Example.TEST; s=sel; h=from:to; " \
		"bh=AAAA; b=AAAA"
static const struct scase scases[] = {
	{ S_OK, 0, MILTER_DKIM_E_OK },
	{ "a=rsa-sha256; d=example.test; s=sel; h=from; bh=AAAA; b=AAAA",
	  0, MILTER_DKIM_E_MISSING },		/* no v= */
	{ "v=2; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA", 0,
	  MILTER_DKIM_E_VERSION },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA", 0,
	  MILTER_DKIM_E_MISSING },		/* no b= */
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=", 0,
	  MILTER_DKIM_E_MISSING },		/* empty b= */
	{ "v=1; a=rsa-sha256; d=e.test; h=from; bh=AAAA; b=AAAA", 0,
	  MILTER_DKIM_E_MISSING },		/* no s= */
	{ "v=1; a=rsa-md5; d=e.test; s=s; h=from; bh=AAAA; b=AAAA", 0,
	  MILTER_DKIM_E_ALG },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AA!A", 0,
	  MILTER_DKIM_E_BASE64 },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=A", 0,
	  MILTER_DKIM_E_BASE64 },		/* 6 bits */
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AA=A", 0,
	  MILTER_DKIM_E_OK },	/* after "=": ignored, as libopendkim */
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=A=AA", 0,
	  MILTER_DKIM_E_BASE64 },	/* ...but 6 bits are no byte */
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=A A\r\n\t"
	  "A=", 0, MILTER_DKIM_E_OK },	/* folded, padded */
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=to:subject; bh=AAAA; "
	  "b=AAAA", 0, MILTER_DKIM_E_NOFROM },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from::to; bh=AAAA; b=AAAA",
	  0, MILTER_DKIM_E_SYNTAX },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "i=@other.test", 0, MILTER_DKIM_E_SUBDOMAIN },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "i=@xe.test", 0, MILTER_DKIM_E_SUBDOMAIN },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "i=u@a.b.E.test", 0, MILTER_DKIM_E_OK },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "i=nodomain", 0, MILTER_DKIM_E_SYNTAX },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "c=fancy", 0, MILTER_DKIM_E_CANON },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "q=dns/other", 0, MILTER_DKIM_E_QUERY },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "q=other:dns/txt", 0, MILTER_DKIM_E_OK },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "l=12x", 0, MILTER_DKIM_E_SYNTAX },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "t=200; x=100", 0, MILTER_DKIM_E_TIMESTAMPS },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "s=t", 0, MILTER_DKIM_E_DUPTAG },
	{ "v=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA; "
	  "z=From:x|To:y; zz=unknown", 0, MILTER_DKIM_E_OK },
	/* ARC-Message-Signature: no v=, i= the instance */
	{ "i=1; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA",
	  MILTER_DKIM_V_ARC, MILTER_DKIM_E_OK },
	{ "i=50; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA",
	  MILTER_DKIM_V_ARC, MILTER_DKIM_E_OK },
	{ "i=51; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA",
	  MILTER_DKIM_V_ARC, MILTER_DKIM_E_SYNTAX },
	{ "i=0; a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA",
	  MILTER_DKIM_V_ARC, MILTER_DKIM_E_SYNTAX },
	{ "a=rsa-sha256; d=e.test; s=s; h=from; bh=AAAA; b=AAAA",
	  MILTER_DKIM_V_ARC, MILTER_DKIM_E_MISSING },
};

/* test_sigs - the signature tags */
static void
test_sigs(void)
{
	struct milter_dkim_vsig sig;
	size_t i;

	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		milter_dkim_sig_parse(scases[i].in, scases[i].flags, &sig);
		is_str(milter_dkim_err_str(sig.err),
		       milter_dkim_err_str(scases[i].want), "sig #%zu", i);
		milter_dkim_sig_free(&sig);
	}
	milter_dkim_sig_parse(S_OK, 0, &sig);
	is_str(sig.d, "example.test", "d= lowercased");
	is_str(sig.i, "@example.test", "i= is @d by default");
	is_int(sig.hcanon * 10 + sig.bcanon, 0, "c= simple/simple default");
	is_int(sig.l, -1, "no l=");
	is_str(sig.b8, "AAAA", "header.b");
	is_int((long long)sig.nh, 2, "h= names");
	is_str(S_OK + sig.b_start, "AAAA", "b= found");
	milter_dkim_sig_free(&sig);
	milter_dkim_sig_parse("v=1; a=rsa-sha256; c=relaxed; d=e.test; s=s; "
			      "h=from; bh=AAAA; b=AAAA; l=99999999999999999"
			      "99999999", 0, &sig);
	is_int(sig.hcanon * 10 + sig.bcanon, 10,
	       "c=relaxed: relaxed/simple");
	ok(sig.l > 1000000000000LL, "a huge l= is taken as huge");
	milter_dkim_sig_free(&sig);
}

/* --- messages signed by python3-dkim --- */

/* msg_subject - the k-th Subject (0 first, -1 last) or NULL */
static struct milter_header *
msg_subject(struct test_msg *m, int k)
{
	struct milter_header *found = NULL;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->h[i].name, "Subject") == 0) {
			found = &m->h[i];
			if (k-- == 0)
				return found;
		}
	return found;
}

/* msg_edit - change the message after signing */
static void
msg_edit(struct test_msg *m, const char *edit)
{
	struct milter_header *s, *t;
	char *tmp, *o, *p;

	if (strcmp(edit, "body") == 0) {
		m->body[0] ^= 0x20;		/* "Hello" -> "hello" */
	} else if (strcmp(edit, "subject") == 0 || strcmp(edit, "subj2") == 0
		   || strcmp(edit, "subj1") == 0) {
		s = msg_subject(m, strcmp(edit, "subj1") == 0 ? 0 : -1);
		tmp = x_asprintf("%s changed", s->value);
		free(s->value);
		s->value = tmp;
	} else if (strcmp(edit, "swapsubj") == 0) {
		s = msg_subject(m, 0);
		t = msg_subject(m, 1);
		tmp = s->value;
		s->value = t->value;
		t->value = tmp;
	} else if (strcmp(edit, "addfrom") == 0) {
		test_msg_insert(m, 0, "From", " Evil <evil@example.test>");
	} else if (strcmp(edit, "addxnew") == 0) {
		test_msg_insert(m, 0, "X-New", " added after signing");
	} else if (strcmp(edit, "addreplyto") == 0) {
		test_msg_insert(m, m->n, "Reply-To", " r@example.test");
	} else if (strcmp(edit, "lf") == 0) {
		for (p = o = m->body; *p != '\0'; p++)
			if (*p != '\r')
				*o++ = *p;
		*o = '\0';
		m->blen = strlen(m->body);
	}
}

/* The key records, by selector; %R2048 style references are not
 * needed: each names the key whose p= it carries. */
struct rec {
	const char *sel;
	const char *fmt;	/* one %s: the p= */
	int key;		/* RSA bits, 0 for Ed25519, -1 no p= */
};

static const struct rec recs[] = {
	{ "rsa768", "v=DKIM1; k=rsa; p=%s", 768 },
	{ "rsa1024", "v=DKIM1; k=rsa; p=%s", 1024 },
	{ "rsa2048", "v=DKIM1; k=rsa; p=%s", 2048 },
	{ "rsa4096", "v=DKIM1; p=%s", 4096 },
	{ "ed", "v=DKIM1; k=ed25519; p=%s", 0 },
	{ "sha1only", "v=DKIM1; k=rsa; h=sha1; p=%s", 2048 },
	{ "sha256", "v=DKIM1; k=rsa; h=sha1 : sha256; p=%s", 2048 },
	{ "ktype", "v=DKIM1; k=ed25519; p=%s", 2048 },
	{ "ktype2", "v=DKIM1; k=rsa; p=%s", 0 },
	{ "kunknown", "v=DKIM1; k=dsa; p=%s", 2048 },
	{ "revoked", "v=DKIM1; k=rsa; p=", -1 },
	{ "service", "v=DKIM1; s=tlsrpt; p=%s", 2048 },
	{ "service2", "v=DKIM1; s=tlsrpt:email; p=%s", 2048 },
	{ "testing", "v=DKIM1; t=y; p=%s", 2048 },
	{ "strict", "v=DKIM1; t=y:s; p=%s", 2048 },
	{ "badver", "v=DKIM2; p=%s", 2048 },
	{ "vnotfirst", "k=rsa; v=DKIM1; p=%s", 2048 },
	{ "keydup", "v=DKIM1; k=rsa; k=rsa; p=%s", 2048 },
	{ "nop", "v=DKIM1; k=rsa", -1 },
	{ "garbage", "v=DKIM1; p=!!notbase64!!", -1 },
	{ "truncated", "v=DKIM1; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKC", -1 },
	{ "notes", "v=DKIM1; n=some notes; foo=bar; p=%s", 2048 },
};

struct lookups {
	unsigned n;
};

/* rec_text - fmt with its "%s" (if any) replaced by p; malloc'ed */
static char *
rec_text(const char *fmt, const char *p)
{
	const char *s = strstr(fmt, "%s");

	if (s == NULL)
		return x_strdup(fmt);
	return x_asprintf("%.*s%s%s", (int)(s - fmt), fmt, p, s + 2);
}

/* lookup - the test's DNS: the records above, "dnsfail" fails */
static enum milter_dkim_err
lookup(void *ctx, const char *name, char **txt, int *ttl)
{
	struct lookups *l = ctx;
	size_t i, len;
	const char *p;

	l->n++;
	*ttl = 300;
	if (strncmp(name, "dnsfail.", 8) == 0)
		return MILTER_DKIM_E_DNS;
	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		len = strlen(recs[i].sel);
		if (strncmp(name, recs[i].sel, len) != 0
		    || strcmp(name + len, "._domainkey.example.test") != 0)
			continue;
		p = recs[i].key < 0 ? "" : recs[i].key == 0
		    ? pub_ed : pub_rsa[recs[i].key];
		*txt = rec_text(recs[i].fmt, p);
		return MILTER_DKIM_E_OK;
	}
	return MILTER_DKIM_E_NOKEY;
}

struct vcase {
	const char *name;
	const char *spec;	/* for dkimv-fixture.py */
	const char *edit;	/* msg_edit, or NULL */
	int min_bits;		/* 0: 1024 */
	enum milter_dkim_err want;
	int partial;
	int max_bits;		/* 0: MILTER_DKIM_MAX_KEY_BITS */
};

static const struct vcase vcases[] = {
	{ "RSA 1024", "key=rsa1024", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "RSA 2048", "key=rsa2048", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "RSA 4096", "key=rsa4096", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "RSA 4096, minimum 4096", "key=rsa4096", NULL, 4096,
	  MILTER_DKIM_E_OK, 0 },
	{ "Ed25519", "key=ed alg=ed25519-sha256", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "RSA 768: below the default minimum", "key=rsa768", NULL, 0,
	  MILTER_DKIM_E_KEYSMALL, 0 },
	{ "RSA 768, minimum 512", "key=rsa768", NULL, 512,
	  MILTER_DKIM_E_OK, 0 },
	{ "RSA 1024, minimum 2048", "key=rsa1024", NULL, 2048,
	  MILTER_DKIM_E_KEYSMALL, 0 },
	{ "RSA 4096, maximum 4096", "key=rsa4096", NULL, 0,
	  MILTER_DKIM_E_OK, 0, 4096 },
	{ "RSA 4096, maximum 2048: too large", "key=rsa4096", NULL, 0,
	  MILTER_DKIM_E_KEYLARGE, 0, 2048 },
	{ "RSA 2048, maximum 2048", "key=rsa2048", NULL, 0,
	  MILTER_DKIM_E_OK, 0, 2048 },
	{ "Ed25519, maximum 1024: one size, not concerned",
	  "key=ed alg=ed25519-sha256", NULL, 0, MILTER_DKIM_E_OK, 0, 1024 },
	{ "simple/simple", "c=simple/simple", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "relaxed/simple", "c=relaxed/simple", NULL, 0, MILTER_DKIM_E_OK,
	  0 },
	{ "simple/relaxed", "c=simple/relaxed", NULL, 0, MILTER_DKIM_E_OK,
	  0 },
	{ "simple/simple, LF line ends", "c=simple/simple", "lf", 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "folded oddly, relaxed", "msg=folded", NULL, 0, MILTER_DKIM_E_OK,
	  0 },
	{ "folded oddly, simple", "msg=folded c=simple/simple", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "folded oddly, Ed25519 simple",
	  "msg=folded key=ed alg=ed25519-sha256 c=simple/simple", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "folded oddly, simple, a folded header changed",
	  "msg=folded c=simple/simple", "subject", 0, MILTER_DKIM_E_BADSIG,
	  0 },
	{ "tampered body", "", "body", 0, MILTER_DKIM_E_BODYHASH, 0 },
	{ "tampered signed header", "", "subject", 0, MILTER_DKIM_E_BADSIG,
	  0 },
	{ "Ed25519 tampered header", "key=ed alg=ed25519-sha256", "subject",
	  0, MILTER_DKIM_E_BADSIG, 0 },
	{ "rsa-sha1: verified, refused (RFC 8301)", "alg=rsa-sha1", NULL, 0,
	  MILTER_DKIM_E_SHA1, 0 },
	{ "rsa-sha1 tampered: its hash is checked", "alg=rsa-sha1", "body",
	  0, MILTER_DKIM_E_BODYHASH, 0 },
	{ "l= the whole body", "l=1", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "l= and a body longer than l=",
	  "l=1 append=Appended_after_signing.\\r\\n", NULL, 0,
	  MILTER_DKIM_E_OK, 1 },
	{ "l= beyond the body", "l=1 set=l:99999", NULL, 0,
	  MILTER_DKIM_E_BODYSHORT, 0 },
	{ "l=, simple, longer body",
	  "l=1 c=simple/simple append=More.\\r\\n", NULL, 0,
	  MILTER_DKIM_E_OK, 1 },
	{ "x= expired", "time=-7200 tag=x:now-3600", NULL, 0,
	  MILTER_DKIM_E_EXPIRED, 0 },
	{ "x= ahead", "tag=x:now+3600", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "x= before t=", "tag=x:now-10", NULL, 0,
	  MILTER_DKIM_E_TIMESTAMPS, 0 },
	{ "t= an hour ahead", "time=+3600", NULL, 0, MILTER_DKIM_E_FUTURE,
	  0 },
	{ "t= two minutes ahead: within the drift", "time=+120", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "i= outside d=", "set=i:user@other.test", NULL, 0,
	  MILTER_DKIM_E_SUBDOMAIN, 0 },
	{ "i= a look-alike of d=", "set=i:@badexample.test", NULL, 0,
	  MILTER_DKIM_E_SUBDOMAIN, 0 },
	{ "i= in a subdomain of d=", "set=i:user@sub.example.test", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "key t=s, i= in a subdomain",
	  "sel=strict set=i:@sub.example.test", NULL, 0,
	  MILTER_DKIM_E_STRICT, 0 },
	{ "key t=s, i= in d=", "sel=strict", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "h= without From", "set=h:to:subject", NULL, 0,
	  MILTER_DKIM_E_NOFROM, 0 },
	{ "a tag twice", "tag=s:other", NULL, 0, MILTER_DKIM_E_DUPTAG, 0 },
	{ "unknown tags and z= ignored", "tag=zz:what tag=z:From:x", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "v=2", "set=v:2", NULL, 0, MILTER_DKIM_E_VERSION, 0 },
	{ "q= without dns/txt", "set=q:dns/other", NULL, 0,
	  MILTER_DKIM_E_QUERY, 0 },
	{ "a= unknown", "set=a:rsa-sha512", NULL, 0, MILTER_DKIM_E_ALG, 0 },
	{ "oversigned From", "h=from,to,subject,from", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "oversigned From, a From added", "h=from,to,subject,from",
	  "addfrom", 0, MILTER_DKIM_E_BADSIG, 0 },
	/* bottom-up: the signed From is still the original one, which is
	 * why signers oversign */
	{ "a From added on top, not oversigned", "h=from,to,subject",
	  "addfrom", 0, MILTER_DKIM_E_OK, 0 },
	{ "oversigned, an unsigned header added", "h=from,to,subject,from",
	  "addxnew", 0, MILTER_DKIM_E_OK, 0 },
	{ "h= names an absent header", "h=from,to,subject,reply-to", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "h= names an absent header, added later",
	  "h=from,to,subject,reply-to", "addreplyto", 0,
	  MILTER_DKIM_E_BADSIG, 0 },
	{ "h= names Subject twice, two present",
	  "msg=twosubj h=from,subject,subject,to", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "h= names Subject twice, the two swapped",
	  "msg=twosubj h=from,subject,subject,to", "swapsubj", 0,
	  MILTER_DKIM_E_BADSIG, 0 },
	{ "h= names Subject once of two: the last signed",
	  "msg=twosubj h=from,subject,to", "subj1", 0, MILTER_DKIM_E_OK, 0 },
	{ "h= names Subject once of two, the last changed",
	  "msg=twosubj h=from,subject,to", "subj2", 0, MILTER_DKIM_E_BADSIG,
	  0 },
	{ "key h=sha1 only", "sel=sha1only", NULL, 0, MILTER_DKIM_E_KEYHASH,
	  0 },
	{ "key h=sha1 only, rsa-sha1", "sel=sha1only alg=rsa-sha1", NULL, 0,
	  MILTER_DKIM_E_SHA1, 0 },
	{ "key h=sha1:sha256", "sel=sha256", NULL, 0, MILTER_DKIM_E_OK, 0 },
	{ "key k=ed25519, a=rsa-sha256", "sel=ktype", NULL, 0,
	  MILTER_DKIM_E_KEYTYPE, 0 },
	{ "key k=rsa, a=ed25519-sha256",
	  "sel=ktype2 key=ed alg=ed25519-sha256", NULL, 0,
	  MILTER_DKIM_E_KEYTYPE, 0 },
	{ "key k=dsa", "sel=kunknown", NULL, 0, MILTER_DKIM_E_KEYTYPE, 0 },
	{ "key revoked (p= empty)", "sel=revoked", NULL, 0,
	  MILTER_DKIM_E_REVOKED, 0 },
	{ "key s=tlsrpt", "sel=service", NULL, 0, MILTER_DKIM_E_SERVICE, 0 },
	{ "key s=tlsrpt:email", "sel=service2", NULL, 0, MILTER_DKIM_E_OK,
	  0 },
	{ "key t=y (testing): verified", "sel=testing", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "key v=DKIM2", "sel=badver", NULL, 0, MILTER_DKIM_E_KEYSYNTAX, 0 },
	{ "key v= not first", "sel=vnotfirst", NULL, 0,
	  MILTER_DKIM_E_KEYSYNTAX, 0 },
	{ "key with a tag twice", "sel=keydup", NULL, 0,
	  MILTER_DKIM_E_KEYSYNTAX, 0 },
	{ "key without p=", "sel=nop", NULL, 0, MILTER_DKIM_E_KEYSYNTAX, 0 },
	{ "key p= not base64", "sel=garbage", NULL, 0,
	  MILTER_DKIM_E_KEYDECODE, 0 },
	{ "key p= truncated", "sel=truncated", NULL, 0,
	  MILTER_DKIM_E_KEYDECODE, 0 },
	{ "key with notes and unknown tags", "sel=notes", NULL, 0,
	  MILTER_DKIM_E_OK, 0 },
	{ "no key record", "sel=nosuch", NULL, 0, MILTER_DKIM_E_NOKEY, 0 },
	{ "key lookup failed", "sel=dnsfail", NULL, 0, MILTER_DKIM_E_DNS, 0 },
};

/* fixture - the signed message of spec; malloc'ed or NULL */
static char *
fixture_run(const char *spec)
{
	char *cmd = x_asprintf("/usr/bin/python3 '%s' '%s' sign '%s'",
			       fixture, tmpdir, spec);
	char *out = tap_popen(cmd);

	free(cmd);
	return out;
}

/* verify - run the verifier on m; v is the caller's to free */
static struct milter_dkim_verifier *
verify(struct test_msg *m, const char *hname, int flags, int min_bits,
       int max_bits, struct lookups *l)
{
	struct milter_dkim_vopts o = { hname, flags, 10,
				       min_bits ? min_bits : 1024, max_bits };
	struct milter_dkim_verifier *v = milter_dkim_verifier_new(&o);
	size_t third = m->blen / 3;

	milter_dkim_verifier_headers(v, m->h, m->n);
	/* in three uneven chunks, a CRLF maybe split */
	milter_dkim_verifier_body(v, (unsigned char *)m->body, third);
	milter_dkim_verifier_body(v, (unsigned char *)m->body + third, 1);
	milter_dkim_verifier_body(v, (unsigned char *)m->body + third + 1,
				  m->blen - third - 1);
	milter_dkim_verifier_eom(v, m->h, m->n, lookup, l, 0);
	return v;
}

/* test_steps - the steps ARC-Seal will use: the key, then the
 * signature over header data alone (no body hash) */
static void
test_steps(const struct milter_dkim_vent *e, struct test_msg *m)
{
	struct milter_dkim_buf hd = { 0 };
	struct milter_dkim_vkey key;
	struct lookups l = { 0 };

	is_int(milter_dkim_key_lookup(&e->sig, lookup, &l, &key),
	       MILTER_DKIM_E_OK, "steps: the key");
	milter_dkim_sig_hdata(&e->sig, m->h, m->n, e->hindex, &hd);
	is_int(milter_dkim_sig_check(&e->sig, &key, &hd, NULL, 0),
	       MILTER_DKIM_E_OK, "steps: the header signature alone");
	hd.data[0] ^= 1;
	is_int(milter_dkim_sig_check(&e->sig, &key, &hd, NULL, 0),
	       MILTER_DKIM_E_BADSIG, "steps: one bit changed: bad");
	milter_dkim_buf_free(&hd);
	milter_dkim_key_free(&key);
}

/* test_case - one signed message */
static void
test_case(const struct vcase *c)
{
	enum milter_dkim_class cls;
	struct milter_dkim_verifier *v;
	struct lookups l = { 0 };
	struct test_msg m;
	char *text = fixture_run(c->spec);
	const char *want;

	if (text == NULL || test_msg_parse(text, &m) < 0) {
		ok(0, "%s: python3-dkim signed it (%s)", c->name, c->spec);
		free(text);
		return;
	}
	if (c->edit != NULL)
		msg_edit(&m, c->edit);
	v = verify(&m, "DKIM-Signature", 0, c->min_bits, c->max_bits, &l);
	want = milter_dkim_err_result(c->want, &cls);
	if (v->n != 1) {
		ok(0, "%s: one signature found (%zu)", c->name, v->n);
	} else {
		is_str(milter_dkim_err_str(v->sigs[0].res.err),
		       milter_dkim_err_str(c->want), "%s: reason", c->name);
		is_str(v->sigs[0].res.result, want, "%s: %s", c->name, want);
		is_int(v->sigs[0].res.cls, cls, "%s: class", c->name);
		is_int(v->sigs[0].res.partial, c->partial, "%s: partial",
		       c->name);
	}
	if (v->n != 1)
		goto out;
	if (strcmp(c->name, "key t=y (testing): verified") == 0)
		is_int(v->sigs[0].res.testing, 1, "t=y: noted");
	if (c->want == MILTER_DKIM_E_KEYLARGE)
		is_int(v->sigs[0].res.key_bits, 4096, "%s: the key's size "
		       "kept for the log", c->name);
	if (strcmp(c->name, "l= and a body longer than l=") == 0)
		ok(v->sigs[0].res.bodylen > (unsigned long long)v->sigs[0].sig.l,
		   "the canonical body (%llu) is longer than l=%lld",
		   v->sigs[0].res.bodylen, v->sigs[0].sig.l);
	if (strcmp(c->name, "RSA 2048") == 0) {
		is_str(v->sigs[0].sig.d, "example.test", "header.d");
		is_str(v->sigs[0].sig.s, "rsa2048", "header.s");
		is_str(v->sigs[0].sig.i, "@example.test", "header.i");
		is_str(milter_dkim_alg_name(v->sigs[0].sig.alg), "rsa-sha256",
		       "header.a");
		is_int((long long)strlen(v->sigs[0].sig.b8), 8, "header.b");
		is_int(l.n, 1, "one key lookup");
		test_steps(&v->sigs[0], &m);
	}
out:
	milter_dkim_verifier_free(&v);
	test_msg_free(&m);
	free(text);
}

/* test_multi - several signatures, the cap, ARC-Message-Signature */
static void
test_multi(void)
{
	struct milter_dkim_verifier *v;
	struct lookups l = { 0 };
	char *t1 = fixture_run("key=ed alg=ed25519-sha256");
	char *t2 = fixture_run("key=rsa2048 arc=1");
	char *t3 = fixture_run("key=ed alg=ed25519-sha256 arc=1");
	char *both;
	struct test_msg m;
	struct milter_dkim_vopts o = { "DKIM-Signature", 0, 1, 1024 };

	if (t1 == NULL || t2 == NULL || t3 == NULL) {
		ok(0, "python3-dkim signed the ARC and multiple cases");
		goto out;
	}
	/* the AMS above the DKIM-signed message: both signatures */
	both = x_asprintf("%.*s%s", (int)(strstr(t2, "From:") - t2), t2, t1);
	if (test_msg_parse(both, &m) == 0) {
		v = verify(&m, "DKIM-Signature", 0, 0, 0, &l);
		is_int((long long)v->n, 1, "DKIM reads DKIM-Signature only");
		is_str(v->sigs[0].res.result, "pass",
		       "... and passes (an AMS above it)");
		milter_dkim_verifier_free(&v);
		v = verify(&m, "ARC-Message-Signature", MILTER_DKIM_V_ARC, 0,
			0, &l);
		is_int((long long)v->n, 1, "ARC reads its AMS only");
		is_str(v->sigs[0].res.result, "pass",
		       "an ARC-Message-Signature (RSA) passes, the same "
		       "verifier");
		is_int(v->sigs[0].sig.instance, 1, "its instance: i=1");
		ok(v->sigs[0].sig.i == NULL, "no DKIM identity for ARC");
		milter_dkim_verifier_free(&v);
		test_msg_free(&m);
	}
	free(both);
	if (test_msg_parse(t3, &m) == 0) {
		v = verify(&m, "ARC-Message-Signature", MILTER_DKIM_V_ARC, 0,
			0, &l);
		is_str(v->n == 1 ? v->sigs[0].res.result : "none", "pass",
		       "an ARC-Message-Signature (Ed25519) passes");
		milter_dkim_verifier_free(&v);
		msg_edit(&m, "body");
		v = verify(&m, "ARC-Message-Signature", MILTER_DKIM_V_ARC, 0,
			0, &l);
		is_str(v->n == 1 ? v->sigs[0].res.result : "none", "fail",
		       "an ARC-Message-Signature over a changed body fails");
		milter_dkim_verifier_free(&v);
		test_msg_free(&m);
	}
	/* two DKIM signatures, max 1: the first verified, one ignored */
	free(t2);
	t2 = fixture_run("key=rsa1024");
	both = x_asprintf("%.*s%s", (int)(strstr(t2, "From:") - t2), t2, t1);
	if (test_msg_parse(both, &m) == 0) {
		v = milter_dkim_verifier_new(&o);
		milter_dkim_verifier_headers(v, m.h, m.n);
		milter_dkim_verifier_body(v, (unsigned char *)m.body, m.blen);
		milter_dkim_verifier_eom(v, m.h, m.n, lookup, &l, 0);
		is_int((long long)(v->n * 10 + v->nignored), 11,
		       "max 1: one verified, one ignored");
		is_str(v->sigs[0].sig.s, "rsa1024", "... the topmost");
		milter_dkim_verifier_free(&v);
		v = verify(&m, "DKIM-Signature", 0, 0, 0, &l);
		is_int((long long)v->n, 2, "two signatures");
		is_int((long long)v->nbodies, 1,
		       "relaxed SHA-256 for both: one body hash");
		is_str(v->sigs[1].res.result, "pass", "the lower one passes");
		milter_dkim_verifier_free(&v);
		test_msg_free(&m);
	}
	free(both);
out:
	free(t1);
	free(t2);
	free(t3);
}

/* --- the key cache --- */

struct kthread {
	const char *txt[3];
	int bad;
};

/* kc_worker - lookups from a thread */
static void *
kc_worker(void *arg)
{
	struct kthread *k = arg;
	struct milter_dkim_vkey key;
	char name[64];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "t%d._domainkey.example.test",
			 i % 3);
		milter_dkim_key_cached(name, k->txt[i % 3], 300, &key);
		if (key.err != MILTER_DKIM_E_OK || key.pkey == NULL)
			k->bad++;
		milter_dkim_key_free(&key);
	}
	return NULL;
}

/* test_exponent - a public exponent over MILTER_DKIM_MAX_E_BITS is
 * refused before any RSA operation (a verification costs in proportion
 * to e's size; OpenSSL bounds it only above 3072 bits) */
static void
test_exponent(void)
{
	static const struct {
		const char *what, *pubexp;
		int ebits;
		enum milter_dkim_err want;
	} t[] = {
		{ "e = 65537", "65537", 17, MILTER_DKIM_E_OK },
		{ "e of 64 bits", "0x8000000000000001", 64, MILTER_DKIM_E_OK },
		{ "e of 161 bits",
		  "0x10000000000000000000000000000000000000001", 161,
		  MILTER_DKIM_E_KEYEXP },
	};
	struct milter_dkim_vopts o = { "DKIM-Signature", 0, 10, 1024, 0 };
	struct milter_dkim_vkey key;
	char *cmd, *pub, *rec;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cmd = x_asprintf("openssl genpkey -algorithm RSA -pkeyopt "
				 "rsa_keygen_bits:1024 -pkeyopt "
				 "rsa_keygen_pubexp:%s 2>/dev/null | openssl "
				 "pkey -pubout -outform DER | base64 -w0",
				 t[i].pubexp);
		pub = tap_popen(cmd);
		free(cmd);
		if (pub == NULL || *pub == '\0') {
			ok(0, "exponent: %s: openssl made the key", t[i].what);
			free(pub);
			continue;
		}
		rec = x_asprintf("v=DKIM1; k=rsa; p=%s", pub);
		milter_dkim_key_parse(rec, &key);
		is_int(key.ebits, t[i].ebits, "exponent: %s: its size",
		       t[i].what);
		is_str(milter_dkim_err_str(milter_dkim_key_size(&o, &key)),
		       milter_dkim_err_str(t[i].want), "exponent: %s",
		       t[i].what);
		milter_dkim_key_free(&key);
		free(rec);
		free(pub);
	}
}

/* test_cache - keys parsed once per record text */
static void
test_cache(void)
{
	char *r1 = x_asprintf("v=DKIM1; p=%s", pub_rsa[2048]);
	char *r2 = x_asprintf("v=DKIM1; p=%s", pub_rsa[1024]);
	char *r3 = x_asprintf("v=DKIM1; k=ed25519; p=%s", pub_ed);
	const char *n1 = "a._domainkey.example.test";
	struct milter_dkim_vkey a, b, c, ref;
	unsigned long h0, m0, h, m;
	struct kthread kt = { { r1, r2, r3 }, 0 };
	pthread_t th[4];
	size_t e0, e, i;
	char name[64];

	milter_dkim_key_cache_flush();
	milter_dkim_key_cache_stats(&h0, &m0, &e0);
	is_int((long long)e0, 0, "flushed: empty");
	milter_dkim_key_parse(r1, &ref);
	milter_dkim_key_cached(n1, r1, 300, &a);
	milter_dkim_key_cache_stats(&h, &m, &e);
	ok(a.pkey != NULL && EVP_PKEY_eq(a.pkey, ref.pkey) == 1,
	   "first: the key");
	is_int((long long)(h - h0) * 10 + (long long)(m - m0), 1,
	       "first: parsed (0 kept, 1 parsed)");
	is_int((long long)e, 1, "first: kept");
	is_int(a.bits, 2048, "its size");
	milter_dkim_key_cached(n1, r1, 300, &b);
	milter_dkim_key_cache_stats(&h, &m, &e);
	ok(b.pkey == a.pkey, "the same record again: the kept EVP_PKEY");
	ok(b.pkey != NULL && EVP_PKEY_eq(b.pkey, ref.pkey) == 1,
	   "...equal to the key");
	/* set up once, copied: no provider look-up per signature */
	ok(a.tmpl != NULL && b.tmpl != NULL && b.tmpl != a.tmpl,
	   "...with its own copy of the key's verification context");
	is_int((long long)(h - h0) * 10 + (long long)(m - m0), 11,
	       "the same record again: kept (1 kept, 1 parsed)");
	milter_dkim_key_free(&b);
	milter_dkim_key_cached("B._DOMAINKEY.example.test", r1, 300, &b);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)(m - m0) * 10 + (long long)e, 22,
	       "another name, same text: parsed and kept on its own");
	milter_dkim_key_free(&b);
	milter_dkim_key_cached(n1, r2, 300, &c);
	milter_dkim_key_cache_stats(&h, &m, &e);
	ok(c.pkey != NULL && c.pkey != a.pkey && c.bits == 1024,
	   "a changed record: the new key, never the kept one");
	is_int((long long)(m - m0) * 10 + (long long)e, 32,
	       "...parsed, replacing the old entry");
	milter_dkim_key_free(&c);
	milter_dkim_key_cached(n1, r1, 300, &c);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)(m - m0), 4, "the old text back: parsed again");
	milter_dkim_key_free(&c);
	milter_dkim_key_cached("garbage._domainkey.example.test",
			       "v=DKIM1; p=!!", 300, &c);
	is_int(c.err, MILTER_DKIM_E_KEYDECODE, "garbage: an error");
	milter_dkim_key_cached("garbage._domainkey.example.test",
			       "v=DKIM1; p=!!", 300, &c);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)(h - h0) * 10 + (long long)c.err,
	       20 + MILTER_DKIM_E_KEYDECODE,
	       "garbage again: the kept error, not parsed again");
	milter_dkim_key_cached("zero._domainkey.example.test", r1, 0, &c);
	milter_dkim_key_free(&c);
	milter_dkim_key_cached("zero._domainkey.example.test", r1, 0, &c);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)(m - m0) * 10 + (long long)e, 73,
	       "TTL 0: never kept (parsed each time)");
	milter_dkim_key_free(&c);
	clock_test_advance(301 * 1000);
	milter_dkim_key_cached(n1, r1, 300, &c);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)(m - m0), 8, "past its TTL: parsed again");
	ok(c.pkey != NULL && EVP_PKEY_eq(c.pkey, ref.pkey) == 1,
	   "...the same key");
	milter_dkim_key_free(&c);
	for (i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "n%zu._domainkey.example.test",
			 i);
		milter_dkim_key_cached(name, r3, 300, &c);
		milter_dkim_key_free(&c);
	}
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)e, 1024, "1,100 names: 1,024 kept");
	milter_dkim_key_cache_flush();
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, kc_worker, &kt);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int(kt.bad, 0, "4 threads, 800 lookups: every key usable");
	ok(e == 3 && m - m0 - 8 - 1100 >= 3 && m - m0 - 8 - 1100 <= 12,
	   "...3 kept, parsed only when absent (%lu parsed)",
	   m - m0 - 8 - 1100);
	milter_dkim_key_free(&a);
	milter_dkim_key_free(&ref);
	milter_dkim_key_cache_flush();
	milter_dkim_key_cache_stats(&h, &m, &e);
	is_int((long long)e, 0, "flushed at the end");
	free(r1);
	free(r2);
	free(r3);
}

/* slurp - a file's first line; malloc'ed */
static char *
slurp(const char *name)
{
	char *path = x_asprintf("%s/%s", tmpdir, name), buf[4096];
	FILE *f = fopen(path, "r");
	char *s = NULL;

	free(path);
	if (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
		s = x_strdup(buf);
	if (f != NULL)
		fclose(f);
	return s;
}

int
main(void)
{
	const char *src = getenv("top_srcdir");
	char *cmd;
	size_t i;
	int bits[] = { 768, 1024, 2048, 4096 };

	plan_lazy();
	test_tags();
	test_sigs();
	test_exponent();

	if (system("/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null")
	    != 0) {
		missing(1, "python3-dkim or python3-nacl missing "
			"(tools/install-deps)");
		done_testing();
		return exit_status();
	}
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp");
	fixture = x_asprintf("%s/t/data/milter/dkimv-fixture.py",
			     src ? src : "..");
	cmd = x_asprintf("/usr/bin/python3 '%s' '%s' keys", fixture, tmpdir);
	if (system(cmd) != 0)
		bail_out("%s failed", cmd);
	free(cmd);
	for (i = 0; i < 4; i++) {
		cmd = x_asprintf("rsa%d.pub", bits[i]);
		pub_rsa[bits[i]] = slurp(cmd);
		free(cmd);
	}
	pub_ed = slurp("ed.pub");
	if (pub_ed == NULL || pub_rsa[4096] == NULL)
		bail_out("the fixture script made no keys");

	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++)
		test_case(&vcases[i]);
	test_multi();
	test_cache();

	tap_rmtree(tmpdir);
	for (i = 0; i < 4; i++)
		free(pub_rsa[bits[i]]);
	free(pub_ed);
	free(fixture);
	done_testing();
	return exit_status();
}
