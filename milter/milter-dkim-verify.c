/*++
 * NAME
 *	milter-dkim-verify 3
 * SUMMARY
 *	our DKIM verifier (RFC 6376, RFC 8463, RFC 8301) on OpenSSL EVP
 * DESCRIPTION
 *	See milter-dkim-verify.h.  The strict reading of RFC 6376:
 *
 *	Tag lists (section 3.2): tag names are ALPHA *(ALPHA / DIGIT /
 *	"_"), values printable ASCII without ";" with folding white space
 *	inside; a tag named twice makes the whole list invalid; unknown
 *	tags are ignored.
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
 *	Keys (section 3.6.1): v=DKIM1 first if present, k= rsa (default)
 *	or ed25519 matching a=, h= (if present) naming the signature's
 *	hash, s= (if present) "*" or "email", t= flags y (testing: noted)
 *	and s (i= must be in d= exactly), p= base64 of a
 *	SubjectPublicKeyInfo (RSA) or of the 32-byte key (Ed25519), empty
 *	when revoked.  RSA keys below the caller's minimum are refused.
 *
 *	Crypto: RSA with EVP_DigestVerify over the header data; Ed25519
 *	over the SHA-256 of the header data (RFC 8463 section 3).
 *
 *	Results: pass; fail (body hash or signature mismatch, revoked
 *	key: RFC 6376 section 6.1.2 "fail" cases); temperror (the key
 *	lookup failed); permerror (everything else: syntax, no key,
 *	unusable key, expired, rsa-sha1).
 *--*/
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "milter.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-verify.h"
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

#define IS_FWS(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' \
			 || (c) == '\n')

/* milter_dkim_tags_parse - a tag list (RFC 6376 section 3.2) */
enum milter_dkim_err
milter_dkim_tags_parse(const char *text, struct milter_dkim_tags *tl)
{
	const unsigned char *p = (const unsigned char *)text, *v, *last;
	struct milter_dkim_tag *t;
	size_t i;

	tl->n = 0;
	for (;;) {
		while (IS_FWS(*p))
			p++;
		if (*p == '\0')
			return MILTER_DKIM_E_OK;	/* ";" may end it */
		if (!isalpha(*p) || tl->n == MILTER_DKIM_MAX_TAGS)
			return MILTER_DKIM_E_SYNTAX;
		t = &tl->t[tl->n];
		t->name = (const char *)p;
		while (isalnum(*p) || *p == '_')
			p++;
		t->nlen = (size_t)((const char *)p - t->name);
		while (IS_FWS(*p))
			p++;
		if (*p++ != '=')
			return MILTER_DKIM_E_SYNTAX;
		t->vstart = (size_t)((const char *)p - text);
		while (IS_FWS(*p))
			p++;
		v = last = p;
		for (; *p != '\0' && *p != ';'; p++) {
			if (*p > 0x20 && *p < 0x7f)
				last = p + 1;
			else if (!IS_FWS(*p))
				return MILTER_DKIM_E_SYNTAX;
		}
		t->val = (const char *)v;
		t->vlen = (size_t)(last - v);
		t->vend = (size_t)((const char *)p - text);
		for (i = 0; i < tl->n; i++)
			if (tl->t[i].nlen == t->nlen
			    && memcmp(tl->t[i].name, t->name, t->nlen) == 0)
				return MILTER_DKIM_E_DUPTAG;
		tl->n++;
		if (*p == ';')
			p++;
	}
}

/* milter_dkim_tag - the tag called name, or NULL */
static const struct milter_dkim_tag *
milter_dkim_tag(const struct milter_dkim_tags *tl, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < tl->n; i++)
		if (tl->t[i].nlen == len
		    && memcmp(tl->t[i].name, name, len) == 0)
			return &tl->t[i];
	return NULL;
}

/* milter_dkim_tag_is - is the value of tag t val (case-insensitive)? */
static int
milter_dkim_tag_is(const struct milter_dkim_tag *t, const char *val)
{
	return t->vlen == strlen(val) && strncasecmp(t->val, val, t->vlen)
					  == 0;
}

/* milter_dkim_tag_dup - the value without white space; malloc'ed */
static char *
milter_dkim_tag_dup(const struct milter_dkim_tag *t)
{
	char *s = x_malloc(t->vlen + 1), *o = s;
	size_t i;

	for (i = 0; i < t->vlen; i++)
		if (!IS_FWS(t->val[i]))
			*o++ = t->val[i];
	*o = '\0';
	return s;
}

/* milter_dkim_tag_num - a decimal value of at most maxdigits digits
 * (a longer one is taken as the largest number); -1 if not decimal */
static long long
milter_dkim_tag_num(const struct milter_dkim_tag *t, size_t maxdigits)
{
	long long n = 0;
	size_t i;

	if (t->vlen == 0 || t->vlen > maxdigits)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (!isdigit((unsigned char)t->val[i]))
			return -1;
		if (n > (INT64_MAX - 9) / 10)
			n = INT64_MAX;
		else
			n = n * 10 + (t->val[i] - '0');
	}
	return n;
}

/* milter_dkim_list_has - does the colon list (white space allowed)
 * name word?  -1 if the list has an empty element */
static int
milter_dkim_list_has(const struct milter_dkim_tag *t, const char *word)
{
	char *s = milter_dkim_tag_dup(t), *e, *p = s;
	int found = 0;

	for (;;) {
		e = strchr(p, ':');
		if (e != NULL)
			*e = '\0';
		if (*p == '\0') {
			found = -1;
			break;
		}
		if (strcasecmp(p, word) == 0)
			found = 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(s);
	return found;
}

static const signed char b64_val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

/* milter_dkim_b64 - base64 with white space skipped (the value of a
 * tag); malloc'ed, its length in *lenp; NULL if malformed.  Like
 * libopendkim, the first "=" ends the data: what follows it is
 * ignored (opendkim-testmsg writes signatures with bytes after the
 * padding), and the padding is not required. */
static unsigned char *
milter_dkim_b64(const char *p, size_t len, size_t *lenp)
{
	unsigned char *out = x_malloc(len / 4 * 3 + 3);
	unsigned acc = 0;
	size_t i, n = 0, bits = 0;
	int v;

	for (i = 0; i < len && p[i] != '='; i++) {
		if (IS_FWS(p[i]))
			continue;
		if ((v = b64_val[(unsigned char)p[i]]) == 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(v - 1);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6) {		/* 6 bits alone are no byte */
		free(out);
		return NULL;
	}
	*lenp = n;
	return out;
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

/* milter_dkim_lower - lowercase s in place; s */
static char *
milter_dkim_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
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
		if (!IS_FWS(t->val[i]))
			out[n++] = t->val[i];
	out[n] = '\0';
}

/* milter_dkim_sig_fields - the tags into sig; the first error */
static enum milter_dkim_err
milter_dkim_sig_fields(const struct milter_dkim_tags *tl, int flags,
		       struct milter_dkim_vsig *sig)
{
	const struct milter_dkim_tag *v = milter_dkim_tag(tl, "v"),
	    *a = milter_dkim_tag(tl, "a"), *b = milter_dkim_tag(tl, "b"),
	    *bh = milter_dkim_tag(tl, "bh"), *d = milter_dkim_tag(tl, "d"),
	    *h = milter_dkim_tag(tl, "h"), *s = milter_dkim_tag(tl, "s"),
	    *q = milter_dkim_tag(tl, "q"), *t;
	enum milter_dkim_err e;

	if (b != NULL) {
		milter_dkim_sig_b8(b, sig->b8);
		sig->b_start = b->vstart;
		sig->b_end = b->vend;
	}
	if (d != NULL && d->vlen > 0)
		sig->d = milter_dkim_lower(milter_dkim_tag_dup(d));
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
	if ((e = milter_dkim_sig_canon(milter_dkim_tag(tl, "c"), sig)) != 0
	    || (e = milter_dkim_sig_hlist(h, sig)) != 0
	    || (e = milter_dkim_sig_identity(milter_dkim_tag(tl, "i"), flags,
					     sig)) != 0)
		return e;
	if (q != NULL && milter_dkim_list_has(q, "dns/txt") != 1)
		return MILTER_DKIM_E_QUERY;
	if ((t = milter_dkim_tag(tl, "l")) != NULL
	    && (sig->l = milter_dkim_tag_num(t, 76)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if ((t = milter_dkim_tag(tl, "t")) != NULL
	    && (sig->t = milter_dkim_tag_num(t, 12)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if ((t = milter_dkim_tag(tl, "x")) != NULL
	    && (sig->x = milter_dkim_tag_num(t, 12)) < 0)
		return MILTER_DKIM_E_SYNTAX;
	if (sig->t >= 0 && sig->x >= 0 && sig->x < sig->t)
		return MILTER_DKIM_E_TIMESTAMPS;
	if ((sig->b = milter_dkim_b64(b->val, b->vlen, &sig->blen)) == NULL
	    || (sig->bh = milter_dkim_b64(bh->val, bh->vlen, &sig->bhlen))
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

/* milter_dkim_key_pkey - p= into an EVP_PKEY; the error */
static enum milter_dkim_err
milter_dkim_key_pkey(const struct milter_dkim_tag *p,
		     struct milter_dkim_vkey *key)
{
	unsigned char *der;
	const unsigned char *q;
	size_t len;

	if ((der = milter_dkim_b64(p->val, p->vlen, &len)) == NULL)
		return MILTER_DKIM_E_KEYDECODE;
	if (key->ed25519) {
		if (len == 32)
			key->pkey = EVP_PKEY_new_raw_public_key(
					EVP_PKEY_ED25519, NULL, der, len);
	} else {
		q = der;
		key->pkey = d2i_PUBKEY(NULL, &q, (long)len);
		if (key->pkey != NULL
		    && (q != der + len || EVP_PKEY_get_base_id(key->pkey)
					  != EVP_PKEY_RSA)) {
			EVP_PKEY_free(key->pkey);
			key->pkey = NULL;
		}
	}
	free(der);
	ERR_clear_error();
	if (key->pkey == NULL)
		return MILTER_DKIM_E_KEYDECODE;
	key->bits = EVP_PKEY_get_bits(key->pkey);
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_key_fields - the tags into key; the error */
static enum milter_dkim_err
milter_dkim_key_fields(const struct milter_dkim_tags *tl,
		       struct milter_dkim_vkey *key)
{
	const struct milter_dkim_tag *v = milter_dkim_tag(tl, "v"),
	    *h = milter_dkim_tag(tl, "h"), *k = milter_dkim_tag(tl, "k"),
	    *s = milter_dkim_tag(tl, "s"), *t = milter_dkim_tag(tl, "t"),
	    *p = milter_dkim_tag(tl, "p");

	if (v != NULL && (v != &tl->t[0] || !milter_dkim_tag_is(v, "DKIM1")))
		return MILTER_DKIM_E_KEYSYNTAX;
	if (p == NULL)
		return MILTER_DKIM_E_KEYSYNTAX;
	if (p->vlen == 0)
		return MILTER_DKIM_E_REVOKED;
	if (k != NULL && !milter_dkim_tag_is(k, "rsa")) {
		if (!milter_dkim_tag_is(k, "ed25519"))
			return MILTER_DKIM_E_KEYTYPE;
		key->ed25519 = 1;
	}
	key->hashes = MILTER_DKIM_KH_SHA1 | MILTER_DKIM_KH_SHA256;
	if (h != NULL)
		key->hashes = (milter_dkim_list_has(h, "sha1") == 1
			       ? MILTER_DKIM_KH_SHA1 : 0)
			      | (milter_dkim_list_has(h, "sha256") == 1
				 ? MILTER_DKIM_KH_SHA256 : 0);
	if (s != NULL && milter_dkim_list_has(s, "*") != 1
	    && milter_dkim_list_has(s, "email") != 1)
		return MILTER_DKIM_E_SERVICE;
	if (t != NULL) {
		key->testing = milter_dkim_list_has(t, "y") == 1;
		key->strict = milter_dkim_list_has(t, "s") == 1;
	}
	return milter_dkim_key_pkey(p, key);
}

/* milter_dkim_key_parse - a key record */
void
milter_dkim_key_parse(const char *txt, struct milter_dkim_vkey *key)
{
	struct milter_dkim_tags *tl = x_malloc(sizeof(*tl));

	memset(key, 0, sizeof(*key));
	key->err = milter_dkim_tags_parse(txt, tl) != 0
		   ? MILTER_DKIM_E_KEYSYNTAX : milter_dkim_key_fields(tl, key);
	free(tl);
}

/* milter_dkim_key_free - the key's reference */
void
milter_dkim_key_free(struct milter_dkim_vkey *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
}

/*
 * The key cache: chained buckets under one lock, at most KC_MAX keys;
 * when full, an expired entry goes, else the oldest.
 */
#define KC_BUCKETS	256
#define KC_MAX		1024

struct kc_ent {
	struct kc_ent *next;
	char *name;
	char *txt;
	int64_t expires;	/* clock_mono_ms */
	unsigned long long seq;	/* insertion order */
	struct milter_dkim_vkey key;
};

static pthread_mutex_t kc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kc_ent *kc_tab[KC_BUCKETS];
static size_t kc_n;
static unsigned long long kc_seq;
static unsigned long kc_hits, kc_misses;

/* milter_dkim_kc_hash - the bucket of a name (case-insensitive) */
static unsigned
milter_dkim_kc_hash(const char *name)
{
	unsigned h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned)tolower((unsigned char)*name)) * 16777619u;
	return h % KC_BUCKETS;
}

/* milter_dkim_kc_drop - unlink and free *pp (locked) */
static void
milter_dkim_kc_drop(struct kc_ent **pp)
{
	struct kc_ent *e = *pp;

	*pp = e->next;
	free(e->name);
	free(e->txt);
	milter_dkim_key_free(&e->key);
	free(e);
	kc_n--;
}

/* milter_dkim_kc_evict - make room for one: an expired entry, else
 * the oldest (locked) */
static void
milter_dkim_kc_evict(int64_t now)
{
	struct kc_ent **pp, **victim = NULL;
	size_t i;

	for (i = 0; i < KC_BUCKETS; i++)
		for (pp = &kc_tab[i]; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->expires <= now) {
				milter_dkim_kc_drop(pp);
				return;
			}
			if (victim == NULL || (*pp)->seq < (*victim)->seq)
				victim = pp;
		}
	if (victim != NULL)
		milter_dkim_kc_drop(victim);
}

/* milter_dkim_kc_copy - *dst = *src with a new reference to the key */
static void
milter_dkim_kc_copy(struct milter_dkim_vkey *dst,
		    const struct milter_dkim_vkey *src)
{
	*dst = *src;
	if (dst->pkey != NULL && EVP_PKEY_up_ref(dst->pkey) != 1) {
		dst->pkey = NULL;
		dst->err = MILTER_DKIM_E_INTERNAL;
	}
}

/* milter_dkim_key_cached - the parsed key, kept or parsed now */
void
milter_dkim_key_cached(const char *name, const char *txt, int ttl,
		       struct milter_dkim_vkey *key)
{
	unsigned h = milter_dkim_kc_hash(name);
	int64_t now = clock_mono_ms();
	struct kc_ent **pp, *e;

	pthread_mutex_lock(&kc_lock);
	for (pp = &kc_tab[h]; *pp != NULL; pp = &(*pp)->next) {
		if (strcasecmp((*pp)->name, name) != 0)
			continue;
		if ((*pp)->expires > now && strcmp((*pp)->txt, txt) == 0) {
			milter_dkim_kc_copy(key, &(*pp)->key);
			kc_hits++;
			pthread_mutex_unlock(&kc_lock);
			return;
		}
		milter_dkim_kc_drop(pp);	/* changed or expired */
		break;
	}
	kc_misses++;
	pthread_mutex_unlock(&kc_lock);

	milter_dkim_key_parse(txt, key);	/* outside the lock */
	if (ttl <= 0)
		return;
	e = x_calloc(1, sizeof(*e));
	e->name = x_strdup(name);
	e->txt = x_strdup(txt);
	e->expires = now + (int64_t)ttl * 1000;
	milter_dkim_kc_copy(&e->key, key);
	pthread_mutex_lock(&kc_lock);
	/* another thread may have parsed the same name meanwhile */
	for (pp = &kc_tab[h]; *pp != NULL; pp = &(*pp)->next)
		if (strcasecmp((*pp)->name, name) == 0) {
			milter_dkim_kc_drop(pp);
			break;
		}
	if (kc_n >= KC_MAX)
		milter_dkim_kc_evict(now);
	e->seq = kc_seq++;
	e->next = kc_tab[h];
	kc_tab[h] = e;
	kc_n++;
	pthread_mutex_unlock(&kc_lock);
}

/* milter_dkim_key_cache_stats - the counters */
void
milter_dkim_key_cache_stats(unsigned long *hits, unsigned long *misses,
			    size_t *entries)
{
	pthread_mutex_lock(&kc_lock);
	*hits = kc_hits;
	*misses = kc_misses;
	*entries = kc_n;
	pthread_mutex_unlock(&kc_lock);
}

/* milter_dkim_key_cache_flush - drop every key */
void
milter_dkim_key_cache_flush(void)
{
	size_t i;

	pthread_mutex_lock(&kc_lock);
	for (i = 0; i < KC_BUCKETS; i++)
		while (kc_tab[i] != NULL)
			milter_dkim_kc_drop(&kc_tab[i]);
	pthread_mutex_unlock(&kc_lock);
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
		     && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL,
					     key->pkey) == 1
		     ? EVP_DigestVerify(ctx, sig->b, sig->blen, hash, hlen)
		     : -1;
	else
		rc = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) == 1
		     && EVP_DigestVerifyUpdate(ctx, hdata->data, hdata->len)
			== 1
		     ? EVP_DigestVerifyFinal(ctx, sig->b, sig->blen) : -1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc == 1 ? MILTER_DKIM_E_OK : MILTER_DKIM_E_BADSIG;
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

/* milter_dkim_key_lookup - sig's key, looked up and parsed */
enum milter_dkim_err
milter_dkim_key_lookup(const struct milter_dkim_vsig *sig,
		       milter_dkim_lookup_fn lookup, void *ctx,
		       struct milter_dkim_vkey *key)
{
	char *name, *txt = NULL;
	enum milter_dkim_err e;
	int ttl = 0;

	name = x_asprintf("%s._domainkey.%s", sig->s, sig->d);
	e = lookup(ctx, name, &txt, &ttl);
	if (e == MILTER_DKIM_E_OK && txt == NULL)
		e = MILTER_DKIM_E_NOKEY;
	if (e == MILTER_DKIM_E_OK) {
		milter_dkim_key_cached(name, txt, ttl, key);
		e = key->err;
		/* k= against a=, before what p= holds: an RSA key under
		 * k=ed25519 does not decode, but the mismatch is the news */
		if ((e == MILTER_DKIM_E_OK || e == MILTER_DKIM_E_KEYDECODE)
		    && key->ed25519
		       != (sig->alg == MILTER_DKIM_A_ED25519_SHA256))
			e = MILTER_DKIM_E_KEYTYPE;
	}
	free(txt);
	free(name);
	return e;
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
	if (!key->ed25519 && key->bits < v->o.min_key_bits)
		return MILTER_DKIM_E_KEYSMALL;
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
	if ((err = milter_dkim_key_lookup(sig, lookup, ctx, &key)) != 0
	    || (err = milter_dkim_verifier_usable(v, sig, &key)) != 0) {
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
		if (b->ctx == NULL)
			continue;
		b->ok = milter_dkim_body_final_md(b->ctx, b->hash, &b->hlen)
			== 0;
		b->len = milter_dkim_body_length(b->ctx);
		milter_dkim_body_free(&b->ctx);
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
