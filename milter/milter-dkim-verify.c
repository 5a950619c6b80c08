/*++
 * NAME
 *	milter-dkim-verify 3
 * SUMMARY
 *	our DKIM verifier (RFC 6376, RFC 8463, RFC 8301) on OpenSSL EVP
 * DESCRIPTION
 *	See milter-dkim-verify.h.  The strict reading of RFC 6376:
 *
 *	Signatures (section 3.5): v=1 (DKIM only), a= rsa-sha256,
 *	ed25519-sha256 (RFC 8463) or rsa-sha1 (verified, then refused as
 *	RFC 8301 says, as this milter did on libopendkim), b=, bh=, d=,
 *	h= (From in it), s= required; c= simple/simple by default; i=
 *	"@d" by default and in d= or a subdomain of it; q= must offer
 *	dns/txt; l=, t=, x= decimal (x= not before t=); z= ignored.
 *	Expired (x= past) and future (t= more than MILTER_DKIM_DRIFT
 *	seconds ahead, libopendkim's default drift) are permerror.
 *
 *	Keys and their cache: milter-dkim-vkey.c; tag lists:
 *	milter-dkim-tags.c.  RSA keys below the caller's minimum, or
 *	above its maximum (MILTER_DKIM_MAX_KEY_BITS by default: a key of
 *	16384 bits costs some 16 times the CPU of a 4096-bit one per
 *	signature, and a sender chooses the key), are refused before any
 *	RSA operation.
 *
 *	Crypto: RSA with EVP_DigestVerify over the header data; Ed25519
 *	over the SHA-256 of the header data (RFC 8463 section 3).  For
 *	rsa-sha256 and Ed25519 the key's context, set up when the key is
 *	parsed (milter-dkim-vkey.c), is copied: EVP_DigestVerifyInit would
 *	look the algorithm up in OpenSSL's provider tables, under their
 *	locks, for every signature of every message.
 *
 *	Results: pass; fail (body hash or signature mismatch, revoked
 *	key: RFC 6376 section 6.1.2 "fail" cases); temperror (the key
 *	lookup failed); permerror (everything else: syntax, no key,
 *	unusable key, expired, rsa-sha1).
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "milter.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-verify.h"
#include "str.h"
#include "xalloc.h"

/* A body hash shared by the signatures that ask for the same one. */
struct milter_dkim_vbody {
	int bcanon;
	int sha1;
	long long l;
	struct milter_dkim_body *ctx;	/* NULL: OpenSSL failed */
	unsigned char hash[EVP_MAX_MD_SIZE];
	size_t hlen;
	unsigned long long len;		/* canonical body length */
	int ok;				/* hash final */
	/* another verifier's body hash of the same kind, fed the same
	 * chunks (milter_dkim_verifier_share): this one is not fed, it
	 * takes that one's result at end of message */
	struct milter_dkim_vbody *from;
};

static const char *const dkim_err_str[] = {
	[MILTER_DKIM_E_OK] = NULL,
	[MILTER_DKIM_E_SYNTAX] = "signature syntax error",
	[MILTER_DKIM_E_DUPTAG] = "tag repeated in signature",
	[MILTER_DKIM_E_VERSION] = "unsupported signature version",
	[MILTER_DKIM_E_MISSING] = "required tag missing",
	[MILTER_DKIM_E_ALG] = "unknown signature algorithm",
	[MILTER_DKIM_E_CANON] = "unknown canonicalization",
	[MILTER_DKIM_E_QUERY] = "unknown query method",
	[MILTER_DKIM_E_NOFROM] = "header list missing required entries",
	[MILTER_DKIM_E_SUBDOMAIN] = "i= not in d=",
	[MILTER_DKIM_E_EXPIRED] = "signature expired",
	[MILTER_DKIM_E_FUTURE] = "signature timestamp in the future",
	[MILTER_DKIM_E_TIMESTAMPS] = "x= before t=",
	[MILTER_DKIM_E_BASE64] = "b= or bh= not base64",
	[MILTER_DKIM_E_NOKEY] = "key not found in DNS",
	[MILTER_DKIM_E_DNS] = "key query failed",
	[MILTER_DKIM_E_KEYSYNTAX] = "key syntax error",
	[MILTER_DKIM_E_KEYDECODE] = "key decode failed",
	[MILTER_DKIM_E_REVOKED] = "key revoked",
	[MILTER_DKIM_E_KEYTYPE] = "key type mismatch",
	[MILTER_DKIM_E_KEYHASH] = "signature-key hash mismatch",
	[MILTER_DKIM_E_SERVICE] = "key not for email",
	[MILTER_DKIM_E_KEYSMALL] = "key too small",
	[MILTER_DKIM_E_KEYLARGE] = "key too large",
	[MILTER_DKIM_E_KEYEXP] = "key exponent too large",
	[MILTER_DKIM_E_STRICT] = "i= in a subdomain, key says t=s",
	[MILTER_DKIM_E_BODYSHORT] = "l= beyond the body",
	[MILTER_DKIM_E_BODYHASH] = "body hash mismatch",
	[MILTER_DKIM_E_BADSIG] = "signature verification failed",
	[MILTER_DKIM_E_SHA1] = "rsa-sha1 not accepted, RFC 8301",
	[MILTER_DKIM_E_INTERNAL] = "OpenSSL failed",
};

/* milter_dkim_err_str - the comment for an error */
const char *
milter_dkim_err_str(enum milter_dkim_err e)
{
	if ((size_t)e >= sizeof(dkim_err_str) / sizeof(dkim_err_str[0]))
		return "unknown error";
	return dkim_err_str[e];
}

/* milter_dkim_err_result - the RFC 8601 word and class */
const char *
milter_dkim_err_result(enum milter_dkim_err e, enum milter_dkim_class *cls)
{
	*cls = MILTER_DKIM_BAD;
	switch (e) {
	case MILTER_DKIM_E_OK:
		*cls = MILTER_DKIM_PASS;
		return "pass";
	case MILTER_DKIM_E_DNS:
		*cls = MILTER_DKIM_DNSERR;
		return "temperror";
	case MILTER_DKIM_E_NOKEY:
		*cls = MILTER_DKIM_NOKEY;
		return "permerror";
	case MILTER_DKIM_E_REVOKED:
	case MILTER_DKIM_E_BODYHASH:
	case MILTER_DKIM_E_BADSIG:
		return "fail";
	case MILTER_DKIM_E_INTERNAL:
		*cls = MILTER_DKIM_DNSERR;	/* ours: try again */
		return "temperror";
	default:
		return "permerror";
	}
}

/* milter_dkim_alg_name - the a= word */
const char *
milter_dkim_alg_name(enum milter_dkim_alg a)
{
	switch (a) {
	case MILTER_DKIM_A_RSA_SHA1:
		return "rsa-sha1";
	case MILTER_DKIM_A_RSA_SHA256:
		return "rsa-sha256";
	case MILTER_DKIM_A_ED25519_SHA256:
		return "ed25519-sha256";
	default:
		return NULL;
	}
}

/* milter_dkim_sig_canon - c= into sig */
static enum milter_dkim_err
milter_dkim_sig_canon(const struct milter_dkim_tag *t,
		      struct milter_dkim_vsig *sig)
{
	char *s, *slash;
	int c[2] = { MILTER_DKIM_SIMPLE, MILTER_DKIM_SIMPLE }, i;
	enum milter_dkim_err e = MILTER_DKIM_E_OK;

	if (t == NULL)
		return e;
	s = milter_dkim_tag_dup(t);
	slash = strchr(s, '/');
	if (slash != NULL)
		*slash++ = '\0';
	for (i = 0; i < 2; i++) {
		const char *w = i == 0 ? s : slash;

		if (w == NULL)
			break;
		if (strcasecmp(w, "relaxed") == 0)
			c[i] = MILTER_DKIM_RELAXED;
		else if (strcasecmp(w, "simple") != 0)
			e = MILTER_DKIM_E_CANON;
	}
	free(s);
	sig->hcanon = c[0];
	sig->bcanon = c[1];
	return e;
}

/* milter_dkim_sig_hlist - h= into sig */
static enum milter_dkim_err
milter_dkim_sig_hlist(const struct milter_dkim_tag *t,
		      struct milter_dkim_vsig *sig)
{
	char *s = milter_dkim_tag_dup(t), *p = s, *e;
	int from = 0;

	sig->h = x_calloc(MILTER_DKIM_MAX_H + 1, sizeof(*sig->h));
	for (;;) {
		if ((e = strchr(p, ':')) != NULL)
			*e = '\0';
		if (*p == '\0' || sig->nh == MILTER_DKIM_MAX_H) {
			free(s);
			return MILTER_DKIM_E_SYNTAX;
		}
		from |= strcasecmp(p, "from") == 0;
		sig->h[sig->nh++] = x_strdup(p);
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(s);
	return from ? MILTER_DKIM_E_OK : MILTER_DKIM_E_NOFROM;
}

/* milter_dkim_in_domain - is dom d or a subdomain of it? */
static int
milter_dkim_in_domain(const char *dom, const char *d)
{
	size_t dl = strlen(dom), l = strlen(d);

	if (dl == l)
		return strcasecmp(dom, d) == 0;
	return dl > l && dom[dl - l - 1] == '.'
	       && strcasecmp(dom + dl - l, d) == 0;
}

/* milter_dkim_sig_identity - i= into sig (DKIM: an identity in d=;
 * ARC: the instance) */
static enum milter_dkim_err
milter_dkim_sig_identity(const struct milter_dkim_tag *t, int flags,
			 struct milter_dkim_vsig *sig)
{
	const char *at;
	long long n;

	if (flags & MILTER_DKIM_V_ARC) {
		if (t == NULL)
			return MILTER_DKIM_E_MISSING;
		n = milter_dkim_tag_num(t, 2);
		if (n < 1 || n > MILTER_DKIM_ARC_MAX)
			return MILTER_DKIM_E_SYNTAX;
		sig->instance = (unsigned)n;
		return MILTER_DKIM_E_OK;
	}
	if (t == NULL) {
		sig->i = x_asprintf("@%s", sig->d);
		return MILTER_DKIM_E_OK;
	}
	sig->i = milter_dkim_tag_dup(t);
	if ((at = strrchr(sig->i, '@')) == NULL)
		return MILTER_DKIM_E_SYNTAX;
	if (!milter_dkim_in_domain(at + 1, sig->d))
		return MILTER_DKIM_E_SUBDOMAIN;
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_sig_b8 - the first 8 characters of b=, FWS skipped */
static void
milter_dkim_sig_b8(const struct milter_dkim_tag *t, char out[9])
{
	size_t i, n = 0;

	for (i = 0; i < t->vlen && n < 8; i++)
		if (!MILTER_DKIM_FWS(t->val[i]))
			out[n++] = t->val[i];
	out[n] = '\0';
}

/* milter_dkim_sig_numbers - the l=, t= and x= tags into sig; the
 * first error */
static enum milter_dkim_err
milter_dkim_sig_numbers(const struct milter_dkim_tags *tl,
			struct milter_dkim_vsig *sig)
{
	const struct milter_dkim_tag *t;

	if ((t = milter_dkim_tag_find(tl, "l")) != NULL
	    && (sig->l = milter_dkim_tag_num(t, 76)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if ((t = milter_dkim_tag_find(tl, "t")) != NULL
	    && (sig->t = milter_dkim_tag_num(t, 12)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if ((t = milter_dkim_tag_find(tl, "x")) != NULL
	    && (sig->x = milter_dkim_tag_num(t, 12)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if (sig->t >= 0 && sig->x >= 0 && sig->x < sig->t)
		return MILTER_DKIM_E_TIMESTAMPS;
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_sig_fields - the tags into sig; the first error */
static enum milter_dkim_err
milter_dkim_sig_fields(const struct milter_dkim_tags *tl, int flags,
		       struct milter_dkim_vsig *sig)
{
	const struct milter_dkim_tag *v = milter_dkim_tag_find(tl, "v"),
	    *a = milter_dkim_tag_find(tl, "a"), *b = milter_dkim_tag_find(tl, "b"),
	    *bh = milter_dkim_tag_find(tl, "bh"), *d = milter_dkim_tag_find(tl, "d"),
	    *h = milter_dkim_tag_find(tl, "h"), *s = milter_dkim_tag_find(tl, "s"),
	    *q = milter_dkim_tag_find(tl, "q");
	enum milter_dkim_err e;

	if (b != NULL) {
		milter_dkim_sig_b8(b, sig->b8);
		sig->b_start = b->vstart;
		sig->b_end = b->vend;
	}
	if (d != NULL && d->vlen > 0)
		sig->d = str_lower(milter_dkim_tag_dup(d));
	if (s != NULL && s->vlen > 0)
		sig->s = milter_dkim_tag_dup(s);
	if (a != NULL)
		sig->alg = milter_dkim_tag_is(a, "rsa-sha256")
			   ? MILTER_DKIM_A_RSA_SHA256
			   : milter_dkim_tag_is(a, "ed25519-sha256")
			   ? MILTER_DKIM_A_ED25519_SHA256
			   : milter_dkim_tag_is(a, "rsa-sha1")
			   ? MILTER_DKIM_A_RSA_SHA1 : MILTER_DKIM_A_NONE;
	if (!(flags & MILTER_DKIM_V_ARC)
	    && (v == NULL || !milter_dkim_tag_is(v, "1")))
		return v == NULL ? MILTER_DKIM_E_MISSING
				 : MILTER_DKIM_E_VERSION;
	if (a == NULL || b == NULL || bh == NULL || sig->d == NULL
	    || h == NULL || sig->s == NULL)
		return MILTER_DKIM_E_MISSING;
	if (sig->alg == MILTER_DKIM_A_NONE)
		return MILTER_DKIM_E_ALG;
	if ((e = milter_dkim_sig_canon(milter_dkim_tag_find(tl, "c"), sig)) != 0
	    || (e = milter_dkim_sig_hlist(h, sig)) != 0
	    || (e = milter_dkim_sig_identity(milter_dkim_tag_find(tl, "i"), flags,
					     sig)) != 0)
		return e;
	if (q != NULL && milter_dkim_tag_list_has(q, "dns/txt") != 1)
		return MILTER_DKIM_E_QUERY;
	if ((e = milter_dkim_sig_numbers(tl, sig)) != 0)
		return e;
	if ((sig->b = milter_dkim_tag_b64(b->val, b->vlen, &sig->blen)) == NULL
	    || (sig->bh = milter_dkim_tag_b64(bh->val, bh->vlen, &sig->bhlen))
	       == NULL)
		return MILTER_DKIM_E_BASE64;
	if (sig->blen == 0 || sig->bhlen == 0)
		return MILTER_DKIM_E_MISSING;
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_sig_parse - a signature header's value */
void
milter_dkim_sig_parse(const char *value, int flags,
		      struct milter_dkim_vsig *sig)
{
	struct milter_dkim_tags *tl = x_malloc(sizeof(*tl));

	memset(sig, 0, sizeof(*sig));
	sig->l = sig->t = sig->x = -1;
	if ((sig->err = milter_dkim_tags_parse(value, tl)) == 0)
		sig->err = milter_dkim_sig_fields(tl, flags, sig);
	free(tl);
}

/* milter_dkim_sig_free - what sig_parse allocated */
void
milter_dkim_sig_free(struct milter_dkim_vsig *sig)
{
	size_t i;

	for (i = 0; i < sig->nh; i++)
		free(sig->h[i]);
	x_free(&sig->h);
	x_free(&sig->d);
	x_free(&sig->s);
	x_free(&sig->i);
	x_free(&sig->b);
	x_free(&sig->bh);
	sig->nh = 0;
}

/* milter_dkim_sig_hdata - the header hash input */
void
milter_dkim_sig_hdata(const struct milter_dkim_vsig *sig,
		      const struct milter_header *hdrs, size_t nhdrs,
		      size_t self_index, struct milter_dkim_buf *out)
{
	unsigned char *used = x_calloc(nhdrs + 1, 1);
	const char *self = hdrs[self_index].value;
	size_t i, j, len;
	char *nob;

	used[self_index] = 1;	/* never a candidate for its own h= */
	for (i = 0; i < sig->nh; i++) {
		/* the last instance not taken yet; none: nothing */
		for (j = nhdrs; j-- > 0;)
			if (!used[j] && strcasecmp(hdrs[j].name, sig->h[i])
					== 0)
				break;
		if (j == (size_t)-1)
			continue;
		used[j] = 1;
		milter_dkim_canon_header(out, sig->hcanon, hdrs[j].name,
					 hdrs[j].value, 1);
	}
	free(used);
	/* the signature itself, b= empty (section 3.7) */
	len = strlen(self);
	nob = x_malloc(len + 1);
	if (sig->b_end > sig->b_start && sig->b_end <= len) {
		memcpy(nob, self, sig->b_start);
		memcpy(nob + sig->b_start, self + sig->b_end,
		       len - sig->b_end + 1);
	} else {
		memcpy(nob, self, len + 1);
	}
	milter_dkim_canon_header(out, sig->hcanon, hdrs[self_index].name, nob,
				 0);
	free(nob);
}

/* SHA-1, fetched once (rsa-sha1 signatures only) */
static pthread_once_t dkim_sha1_once = PTHREAD_ONCE_INIT;
static EVP_MD *dkim_sha1;

/* milter_dkim_sha1_fetch - the one fetch */
static void
milter_dkim_sha1_fetch(void)
{
	dkim_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

/* milter_dkim_md - the hash of algorithm a */
static const EVP_MD *
milter_dkim_md(enum milter_dkim_alg a)
{
	if (a != MILTER_DKIM_A_RSA_SHA1)
		return milter_dkim_canon_sha256();
	(void)pthread_once(&dkim_sha1_once, milter_dkim_sha1_fetch);
	return dkim_sha1 != NULL ? dkim_sha1 : EVP_sha1();
}

/* milter_dkim_sig_init - ctx ready to verify with key: a copy of the
 * key's context (md NULL: rsa-sha256 or Ed25519), else set up now; 1
 * or OpenSSL's error */
static int
milter_dkim_sig_init(EVP_MD_CTX *ctx, const struct milter_dkim_vkey *key,
		     const EVP_MD *md)
{
	if (md == NULL && key->tmpl != NULL)
		return EVP_MD_CTX_copy_ex(ctx, key->tmpl);
	if (md == NULL && !key->ed25519)
		md = milter_dkim_canon_sha256();
	return EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey);
}

/* milter_dkim_sig_check - the body hash and the signature */
enum milter_dkim_err
milter_dkim_sig_check(const struct milter_dkim_vsig *sig,
		      const struct milter_dkim_vkey *key,
		      const struct milter_dkim_buf *hdata,
		      const unsigned char *bh, size_t bhlen)
{
	const EVP_MD *md = milter_dkim_md(sig->alg);
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	EVP_MD_CTX *ctx;
	int rc;

	if (bh != NULL
	    && (bhlen != sig->bhlen || memcmp(bh, sig->bh, bhlen) != 0))
		return MILTER_DKIM_E_BODYHASH;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return MILTER_DKIM_E_INTERNAL;
	if (sig->alg == MILTER_DKIM_A_ED25519_SHA256)
		rc = EVP_Digest(hdata->data, hdata->len, hash, &hlen, md,
				NULL) == 1
		     && milter_dkim_sig_init(ctx, key, NULL) == 1
		     ? EVP_DigestVerify(ctx, sig->b, sig->blen, hash, hlen)
		     : -1;
	else
		rc = milter_dkim_sig_init(ctx, key,
				sig->alg == MILTER_DKIM_A_RSA_SHA256 ? NULL
								    : md) == 1
		     && EVP_DigestVerifyUpdate(ctx, hdata->data, hdata->len)
			== 1
		     ? EVP_DigestVerifyFinal(ctx, sig->b, sig->blen) : -1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc == 1 ? MILTER_DKIM_E_OK : MILTER_DKIM_E_BADSIG;
}

/* milter_dkim_vbody_final - a body hash's result, once */
static void
milter_dkim_vbody_final(struct milter_dkim_vbody *b)
{
	if (b->ctx == NULL)
		return;
	b->ok = milter_dkim_body_final_md(b->ctx, b->hash, &b->hlen) == 0;
	b->len = milter_dkim_body_length(b->ctx);
	milter_dkim_body_free(&b->ctx);
}

/* milter_dkim_verifier_new - a verifier */
struct milter_dkim_verifier *
milter_dkim_verifier_new(const struct milter_dkim_vopts *o)
{
	struct milter_dkim_verifier *v = x_calloc(1, sizeof(*v));

	v->o = *o;
	if (v->o.max < 0 || v->o.max > MILTER_DKIM_MAX_SIGS)
		v->o.max = MILTER_DKIM_MAX_SIGS;
	v->bodies = x_calloc(MILTER_DKIM_MAX_SIGS, sizeof(*v->bodies));
	return v;
}

/* milter_dkim_verifier_body_of - the body hash sig asks for, shared */
static int
milter_dkim_verifier_body_of(struct milter_dkim_verifier *v,
			     const struct milter_dkim_vsig *sig)
{
	int sha1 = sig->alg == MILTER_DKIM_A_RSA_SHA1;
	struct milter_dkim_vbody *b;
	size_t i;

	for (i = 0; i < v->nbodies; i++)
		if (v->bodies[i].bcanon == sig->bcanon
		    && v->bodies[i].sha1 == sha1 && v->bodies[i].l == sig->l)
			return (int)i;
	b = &v->bodies[v->nbodies];
	b->bcanon = sig->bcanon;
	b->sha1 = sha1;
	b->l = sig->l;
	b->ctx = milter_dkim_body_new_md(sig->bcanon, milter_dkim_md(sig->alg),
					 sig->l);
	return (int)v->nbodies++;
}

/* milter_dkim_verifier_headers - find and parse the signatures */
void
milter_dkim_verifier_headers(struct milter_dkim_verifier *v,
			     const struct milter_header *hdrs, size_t nhdrs)
{
	struct milter_dkim_vent *e;
	size_t i;

	if (v->done_headers)
		return;
	v->done_headers = 1;
	for (i = 0; i < nhdrs; i++) {
		if (strcasecmp(hdrs[i].name, v->o.hname) != 0)
			continue;
		if (v->n >= (size_t)v->o.max) {
			v->nignored++;
			continue;
		}
		e = &v->sigs[v->n++];
		e->hindex = i;
		e->body = -1;
		milter_dkim_sig_parse(hdrs[i].value, v->o.flags, &e->sig);
		if (e->sig.err == MILTER_DKIM_E_OK)
			e->body = milter_dkim_verifier_body_of(v, &e->sig);
	}
}

/* milter_dkim_verifier_share - take donor's body hashes where they
 * are of the same kind */
void
milter_dkim_verifier_share(struct milter_dkim_verifier *v,
			   struct milter_dkim_verifier *donor)
{
	struct milter_dkim_vbody *b, *d;
	size_t i, k;

	for (i = 0; i < v->nbodies; i++) {
		b = &v->bodies[i];
		if (b->from != NULL || b->ctx == NULL)
			continue;
		for (k = 0; k < donor->nbodies; k++) {
			d = &donor->bodies[k];
			if (d->from == NULL && d->ctx != NULL
			    && d->bcanon == b->bcanon && d->sha1 == b->sha1
			    && d->l == b->l)
				break;
		}
		if (k == donor->nbodies)
			continue;
		milter_dkim_body_free(&b->ctx);	/* nothing fed to it yet */
		b->from = d;
		v->nshared++;
	}
}

/* milter_dkim_verifier_body_find - the whole body's SHA-256 in bcanon */
int
milter_dkim_verifier_body_find(const struct milter_dkim_verifier *v,
			       int bcanon)
{
	const struct milter_dkim_vbody *b;
	size_t i;

	for (i = 0; i < v->nbodies; i++) {
		b = &v->bodies[i];
		if (b->bcanon != bcanon || b->sha1 || b->l >= 0)
			continue;
		/* fed (or a donor's), or already final: not one that
		 * OpenSSL refused to start */
		if (b->ctx != NULL || b->from != NULL || b->ok)
			return (int)i;
	}
	return -1;
}

/* milter_dkim_verifier_body_hash - body hash i, final */
int
milter_dkim_verifier_body_hash(struct milter_dkim_verifier *v, int i,
			       unsigned char bh[MILTER_DKIM_HASH_LEN])
{
	struct milter_dkim_vbody *b;

	if (i < 0 || (size_t)i >= v->nbodies)
		return -1;
	b = &v->bodies[i];
	if (b->from != NULL)
		b = b->from;
	milter_dkim_vbody_final(b);	/* once: the context is spent */
	if (!b->ok || b->hlen != MILTER_DKIM_HASH_LEN)
		return -1;
	memcpy(bh, b->hash, MILTER_DKIM_HASH_LEN);
	return 0;
}

/* milter_dkim_verifier_body - a chunk to every body hash */
void
milter_dkim_verifier_body(struct milter_dkim_verifier *v,
			  const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < v->nbodies; i++)
		if (v->bodies[i].ctx != NULL)
			milter_dkim_body_update(v->bodies[i].ctx, p, len);
}

/* milter_dkim_verifier_usable - can key check sig? */
static enum milter_dkim_err
milter_dkim_verifier_usable(const struct milter_dkim_verifier *v,
			    const struct milter_dkim_vsig *sig,
			    const struct milter_dkim_vkey *key)
{
	const char *at;

	if (key->ed25519 != (sig->alg == MILTER_DKIM_A_ED25519_SHA256))
		return MILTER_DKIM_E_KEYTYPE;
	if (!(key->hashes & (sig->alg == MILTER_DKIM_A_RSA_SHA1
			     ? MILTER_DKIM_KH_SHA1 : MILTER_DKIM_KH_SHA256)))
		return MILTER_DKIM_E_KEYHASH;
	if (key->strict && sig->i != NULL
	    && ((at = strrchr(sig->i, '@')) == NULL
		|| strcasecmp(at + 1, sig->d) != 0))
		return MILTER_DKIM_E_STRICT;
	return milter_dkim_key_size(&v->o, key);
}

/* milter_dkim_key_size - RSA keys between the bounds */
enum milter_dkim_err
milter_dkim_key_size(const struct milter_dkim_vopts *o,
		     const struct milter_dkim_vkey *key)
{
	int max = o->max_key_bits > 0 ? o->max_key_bits
				      : MILTER_DKIM_MAX_KEY_BITS;

	if (key->ed25519)
		return MILTER_DKIM_E_OK;	/* one size */
	if (key->bits < o->min_key_bits)
		return MILTER_DKIM_E_KEYSMALL;
	if (key->bits > max)
		return MILTER_DKIM_E_KEYLARGE;
	if (key->ebits > MILTER_DKIM_MAX_E_BITS)
		return MILTER_DKIM_E_KEYEXP;
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_verifier_one - one signature's outcome */
static enum milter_dkim_err
milter_dkim_verifier_one(struct milter_dkim_verifier *v,
			 struct milter_dkim_vent *e,
			 const struct milter_header *hdrs, size_t nhdrs,
			 milter_dkim_lookup_fn lookup, void *ctx, time_t now)
{
	struct milter_dkim_vsig *sig = &e->sig;
	struct milter_dkim_vbody *b;
	struct milter_dkim_vkey key;
	struct milter_dkim_buf hd = { 0 };
	enum milter_dkim_err err;

	if (sig->err != MILTER_DKIM_E_OK)
		return sig->err;
	if (sig->x >= 0 && sig->x < (long long)now)
		return MILTER_DKIM_E_EXPIRED;
	if (sig->t > (long long)now + MILTER_DKIM_DRIFT)
		return MILTER_DKIM_E_FUTURE;
	b = &v->bodies[e->body];
	if (!b->ok)
		return MILTER_DKIM_E_INTERNAL;
	memset(&key, 0, sizeof(key));
	err = milter_dkim_key_lookup(sig, lookup, ctx, &key);
	e->res.key_bits = key.bits;
	e->res.key_ebits = key.ebits;
	if (err != 0 || (err = milter_dkim_verifier_usable(v, sig, &key)) != 0) {
		milter_dkim_key_free(&key);
		return err;
	}
	e->res.testing = key.testing;
	e->res.bodylen = b->len;
	if (sig->l >= 0 && (unsigned long long)sig->l > b->len) {
		milter_dkim_key_free(&key);
		return MILTER_DKIM_E_BODYSHORT;
	}
	milter_dkim_sig_hdata(sig, hdrs, nhdrs, e->hindex, &hd);
	err = milter_dkim_sig_check(sig, &key, &hd, b->hash, b->hlen);
	milter_dkim_buf_free(&hd);
	milter_dkim_key_free(&key);
	if (err == MILTER_DKIM_E_OK && sig->alg == MILTER_DKIM_A_RSA_SHA1)
		err = MILTER_DKIM_E_SHA1;
	if (err == MILTER_DKIM_E_OK && sig->l >= 0
	    && b->len > (unsigned long long)sig->l)
		e->res.partial = 1;
	return err;
}

/* milter_dkim_verifier_eom - every signature's outcome */
void
milter_dkim_verifier_eom(struct milter_dkim_verifier *v,
			 const struct milter_header *hdrs, size_t nhdrs,
			 milter_dkim_lookup_fn lookup, void *ctx, time_t now)
{
	struct milter_dkim_vbody *b;
	struct milter_dkim_vent *e;
	size_t i;

	if (now == 0)
		now = time(NULL);
	for (i = 0; i < v->nbodies; i++) {
		b = &v->bodies[i];
		milter_dkim_vbody_final(b);
		if (b->from == NULL)
			continue;
		milter_dkim_vbody_final(b->from);	/* if not yet */
		b->ok = b->from->ok;
		memcpy(b->hash, b->from->hash, b->from->hlen);
		b->hlen = b->from->hlen;
		b->len = b->from->len;
	}
	for (i = 0; i < v->n; i++) {
		e = &v->sigs[i];
		e->res.err = milter_dkim_verifier_one(v, e, hdrs, nhdrs,
						      lookup, ctx, now);
		e->res.result = milter_dkim_err_result(e->res.err,
						       &e->res.cls);
	}
}

/* milter_dkim_verifier_free - everything; *vp set to NULL */
void
milter_dkim_verifier_free(struct milter_dkim_verifier **vp)
{
	struct milter_dkim_verifier *v = *vp;
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		milter_dkim_sig_free(&v->sigs[i].sig);
	for (i = 0; i < v->nbodies; i++)
		milter_dkim_body_free(&v->bodies[i].ctx);
	free(v->bodies);
	x_free(vp);
}
