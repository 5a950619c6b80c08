/*++
 * NAME
 *	milter-dkim-verify 3h
 * SUMMARY
 *	our DKIM verifier (RFC 6376, RFC 8463, RFC 8301) on OpenSSL EVP
 * SYNOPSIS
 *	#include "milter-dkim-verify.h"
 *
 *	struct milter_dkim_vopts o = { "DKIM-Signature", 0, 10, 1024 };
 *	struct milter_dkim_verifier *v = milter_dkim_verifier_new(&o);
 *
 *	milter_dkim_verifier_headers(v, hdrs, nhdrs);	   end of headers
 *	milter_dkim_verifier_body(v, chunk, len);	   each body chunk
 *	milter_dkim_verifier_eom(v, hdrs, nhdrs, lookup, ctx, now);
 *	... v->sigs[i].res ...
 *	milter_dkim_verifier_free(&v);
 * DESCRIPTION
 *	One verifier for the signatures of one message that carry a given
 *	header name: "DKIM-Signature" for DKIM, "ARC-Message-Signature"
 *	for ARC (the same tags plus i=, the instance: flag
 *	MILTER_DKIM_V_ARC reads i= as a number 1-50 and asks for no v=).
 *	At end of headers it finds and parses the signatures (the first
 *	max of them; the others are counted in nignored), and sets up one
 *	body hash per distinct canonicalization, hash and l= they ask
 *	for; the body is then fed once; at end of message each signature
 *	gets its header hash (the h= names taken bottom-up, a name listed
 *	more often than present adding nothing, the signature's own
 *	header with an empty b= last), its key (through the caller's
 *	lookup function and the process' key cache), and a result.
 *
 *	The parsers (milter_dkim_tags_parse, milter_dkim_sig_parse,
 *	milter_dkim_key_parse) are pure, for the unit tests and fuzzing.
 *	The steps are public for ARC: an ARC-Message-Signature goes
 *	through the whole verifier (hname, MILTER_DKIM_V_ARC); an
 *	ARC-Seal (no bh=, h=, its own header set) through the tag
 *	parser, milter_dkim_key_lookup() and milter_dkim_sig_check()
 *	with the header data ARC builds.
 *
 *	Key cache: the parsed keys (EVP_PKEY and tags) are kept by the
 *	process, keyed by the record's owner name (s._domainkey.d) AND its
 *	text, until the record's TTL runs out.  It sits above lib/dns on
 *	purpose: every verification still asks lib/dns for the record, so
 *	the answer is as fresh as lib/dns's cache (the one place that
 *	honours TTLs), the lookup counts against the message's counter and
 *	budget exactly as before, and a reload of the [dns] section is
 *	never bypassed; the key cache only spares the decoding (the costly
 *	part: an OpenSSL decoder per key), and because its key includes
 *	the text, a changed record can never be answered with an old key.
 *--*/
#ifndef ELEMTA_MILTER_DKIM_VERIFY_H
#define ELEMTA_MILTER_DKIM_VERIFY_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "milter-dkim.h"
#include "milter-dkim-canon.h"

#define MILTER_DKIM_MAX_TAGS	64
#define MILTER_DKIM_MAX_H	128	/* names in h= */
#define MILTER_DKIM_DRIFT	300	/* t= may be this far ahead (s) */
#define MILTER_DKIM_ARC_MAX	50	/* ARC instances */
/* The largest RSA public exponent verified, in bits: a verification
 * costs in proportion to e's size (65537 has 17 bits), and OpenSSL
 * bounds e only for moduli over 3072 bits (to 64 bits, as here). */
#define MILTER_DKIM_MAX_E_BITS	64

/* Why a signature does not pass (the comment in our A-R). */
enum milter_dkim_err {
	MILTER_DKIM_E_OK,
	MILTER_DKIM_E_SYNTAX,		/* tag list */
	MILTER_DKIM_E_DUPTAG,
	MILTER_DKIM_E_VERSION,
	MILTER_DKIM_E_MISSING,		/* a required tag */
	MILTER_DKIM_E_ALG,		/* a= unknown */
	MILTER_DKIM_E_CANON,		/* c= unknown */
	MILTER_DKIM_E_QUERY,		/* q= without dns/txt */
	MILTER_DKIM_E_NOFROM,		/* h= without From */
	MILTER_DKIM_E_SUBDOMAIN,	/* i= outside d= */
	MILTER_DKIM_E_EXPIRED,
	MILTER_DKIM_E_FUTURE,
	MILTER_DKIM_E_TIMESTAMPS,	/* x= before t= */
	MILTER_DKIM_E_BASE64,		/* b= or bh= */
	MILTER_DKIM_E_NOKEY,		/* no key record: permerror */
	MILTER_DKIM_E_DNS,		/* lookup failed: temperror */
	MILTER_DKIM_E_KEYSYNTAX,
	MILTER_DKIM_E_KEYDECODE,
	MILTER_DKIM_E_REVOKED,
	MILTER_DKIM_E_KEYTYPE,		/* k= against a= */
	MILTER_DKIM_E_KEYHASH,		/* key h= against a= */
	MILTER_DKIM_E_SERVICE,		/* key s= without email */
	MILTER_DKIM_E_KEYSMALL,
	MILTER_DKIM_E_KEYLARGE,		/* RSA over max_key_bits */
	MILTER_DKIM_E_KEYEXP,		/* RSA e over MILTER_DKIM_MAX_E_BITS */
	MILTER_DKIM_E_STRICT,		/* key t=s, i= in a subdomain */
	MILTER_DKIM_E_BODYSHORT,	/* l= beyond the body */
	MILTER_DKIM_E_BODYHASH,
	MILTER_DKIM_E_BADSIG,
	MILTER_DKIM_E_SHA1,		/* rsa-sha1: verified, refused */
	MILTER_DKIM_E_INTERNAL,		/* OpenSSL failed */
};

enum milter_dkim_alg {
	MILTER_DKIM_A_NONE,
	MILTER_DKIM_A_RSA_SHA1,
	MILTER_DKIM_A_RSA_SHA256,
	MILTER_DKIM_A_ED25519_SHA256,
};

/* A tag list (RFC 6376 section 3.2), pointing into its text. */
struct milter_dkim_tag {
	const char *name;
	size_t nlen;
	const char *val;	/* white space around it left out */
	size_t vlen;
	size_t vstart, vend;	/* the value in the text, white space
				 * around it included (b= removal) */
};
struct milter_dkim_tags {
	size_t n;
	struct milter_dkim_tag t[MILTER_DKIM_MAX_TAGS];
};

/* folding white space, as the tag values carry it */
#define MILTER_DKIM_FWS(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' \
				 || (c) == '\n')

/* A parsed signature. */
struct milter_dkim_vsig {
	enum milter_dkim_err err;	/* parse error: the result */
	enum milter_dkim_alg alg;
	int hcanon, bcanon;		/* MILTER_DKIM_SIMPLE, _RELAXED */
	char *d, *s, *i;		/* i: "@d" when absent (DKIM) */
	unsigned instance;		/* ARC's i= */
	char **h;			/* h= names, NULL-terminated */
	size_t nh;
	long long l, t, x;		/* -1 when absent */
	unsigned char *b, *bh;
	size_t blen, bhlen;
	size_t b_start, b_end;		/* b='s value in the header value,
					 * white space around it included */
	char b8[9];			/* first 8 characters of b= */
};

/* A parsed key record (RFC 6376 section 3.6.1). */
#define MILTER_DKIM_KH_SHA1	1
#define MILTER_DKIM_KH_SHA256	2
struct milter_dkim_vkey {
	enum milter_dkim_err err;	/* MILTER_DKIM_E_OK: usable */
	int ed25519;			/* k=ed25519, else rsa */
	unsigned hashes;		/* MILTER_DKIM_KH_*: h= (all if absent) */
	int testing;			/* t=y */
	int strict;			/* t=s */
	int bits;
	int ebits;			/* RSA: the public exponent's size */
	EVP_PKEY *pkey;			/* a reference */
	EVP_MD_CTX *tmpl;		/* EVP_DigestVerifyInit'ed once for
					 * rsa-sha256 or Ed25519, copied per
					 * signature; NULL: init each time */
};

/* A signature's outcome. */
struct milter_dkim_vres {
	const char *result;		/* RFC 8601 word */
	enum milter_dkim_class cls;
	enum milter_dkim_err err;
	int partial;			/* l= shorter than the body */
	unsigned long long bodylen;	/* canonical body length */
	int testing;			/* the key says t=y */
	int key_bits;			/* the key's size, once looked up */
	int key_ebits;			/* its public exponent's (RSA) */
};

/* One signature header of the message. */
struct milter_dkim_vent {
	size_t hindex;			/* among the headers given */
	struct milter_dkim_vsig sig;
	int body;			/* index of its body hash, -1 none */
	struct milter_dkim_vres res;
};

#define MILTER_DKIM_V_ARC	1	/* i= is the ARC instance */

struct milter_dkim_vopts {
	const char *hname;		/* "DKIM-Signature" */
	int flags;			/* MILTER_DKIM_V_* */
	int max;			/* signatures verified */
	int min_key_bits;		/* RSA keys smaller: permerror */
	int max_key_bits;		/* RSA keys larger: permerror (0:
					 * MILTER_DKIM_MAX_KEY_BITS) */
};

/*
 * The key lookup: the TXT record of name into *txt (malloc'ed, the
 * strings of one record joined) and its TTL in *ttl.  Returns
 * MILTER_DKIM_E_OK, MILTER_DKIM_E_NOKEY (no such record: NXDOMAIN,
 * NODATA), MILTER_DKIM_E_KEYSYNTAX (several records) or
 * MILTER_DKIM_E_DNS (lookup failed).
 */
typedef enum milter_dkim_err (*milter_dkim_lookup_fn)(void *ctx,
						      const char *name,
						      char **txt, int *ttl);

struct milter_header;
struct milter_dkim_vbody;

struct milter_dkim_verifier {
	struct milter_dkim_vopts o;
	size_t n;			/* signatures kept */
	size_t nignored;		/* beyond o.max */
	struct milter_dkim_vent sigs[MILTER_DKIM_MAX_SIGS];
	size_t nbodies;
	struct milter_dkim_vbody *bodies;
	size_t nshared;			/* bodies taken from another's */
	int done_headers;
};

/* milter-dkim-tags.c */
/* milter_dkim_tags_parse - a tag list; 0, or the error
 * (MILTER_DKIM_E_SYNTAX, _DUPTAG) */
enum milter_dkim_err milter_dkim_tags_parse(const char *text,
					    struct milter_dkim_tags *tl);
/* milter_dkim_tag_find - the tag called name (case-sensitive), or NULL */
const struct milter_dkim_tag *
milter_dkim_tag_find(const struct milter_dkim_tags *tl, const char *name);
/* milter_dkim_tag_is - is the value val (case-insensitive)? */
int milter_dkim_tag_is(const struct milter_dkim_tag *t, const char *val);
/* milter_dkim_tag_dup - the value without white space; malloc'ed */
char *milter_dkim_tag_dup(const struct milter_dkim_tag *t);
/* milter_dkim_tag_num - a decimal value of at most maxdigits digits (a
 * larger one saturates); -1 if not decimal */
long long milter_dkim_tag_num(const struct milter_dkim_tag *t,
			      size_t maxdigits);
/* milter_dkim_tag_list_has - does the colon list name word
 * (case-insensitive)?  1, 0, or -1 if an element is empty */
int milter_dkim_tag_list_has(const struct milter_dkim_tag *t,
			     const char *word);
/* milter_dkim_tag_b64 - base64 (white space skipped, the first "="
 * ends it); malloc'ed, its length in *lenp; NULL if malformed */
unsigned char *milter_dkim_tag_b64(const char *p, size_t len, size_t *lenp);

/* milter-dkim-verify.c */
/* milter_dkim_sig_parse - a signature header's value into sig (free
 * with milter_dkim_sig_free); sig->err says whether it can be checked */
void milter_dkim_sig_parse(const char *value, int flags,
			   struct milter_dkim_vsig *sig);
void milter_dkim_sig_free(struct milter_dkim_vsig *sig);
/* milter-dkim-vkey.c */
/* milter_dkim_key_parse - a key record into key (its pkey a new
 * reference or NULL: free with milter_dkim_key_free) */
void milter_dkim_key_parse(const char *txt, struct milter_dkim_vkey *key);
void milter_dkim_key_free(struct milter_dkim_vkey *key);

/* milter_dkim_key_lookup - the key of sig (s=, d=) through lookup and
 * the key cache, k= checked against a=; the error (key->pkey a
 * reference or NULL: free with milter_dkim_key_free) */
enum milter_dkim_err milter_dkim_key_lookup(const struct milter_dkim_vsig *sig,
					    milter_dkim_lookup_fn lookup,
					    void *ctx,
					    struct milter_dkim_vkey *key);
/* milter_dkim_key_cached - the parsed key of record txt at name, from
 * the process' key cache or parsed and kept for ttl seconds */
void milter_dkim_key_cached(const char *name, const char *txt, int ttl,
			    struct milter_dkim_vkey *key);
/* milter_dkim_key_cache_stats - keys found kept, keys parsed; entries */
void milter_dkim_key_cache_stats(unsigned long *hits, unsigned long *misses,
				 size_t *entries);
/* milter_dkim_key_cache_flush - drop every kept key (at exit, tests) */
void milter_dkim_key_cache_flush(void);

/* milter_dkim_sig_hdata - the header hash input of sig (header
 * self_index of hdrs, name hname), appended to out */
struct milter_dkim_buf;
void milter_dkim_sig_hdata(const struct milter_dkim_vsig *sig,
			   const struct milter_header *hdrs, size_t nhdrs,
			   size_t self_index, struct milter_dkim_buf *out);
/* milter_dkim_key_size - is key's size within o's bounds, and its
 * public exponent at most MILTER_DKIM_MAX_E_BITS?  The error
 * (MILTER_DKIM_E_KEYSMALL, _KEYLARGE, _KEYEXP): checked before the
 * crypto, so that a costly key costs no RSA operation */
enum milter_dkim_err milter_dkim_key_size(const struct milter_dkim_vopts *o,
					  const struct milter_dkim_vkey *key);
/* milter_dkim_sig_check - the crypto: the body hash (unless bh is
 * NULL: an ARC-Seal has none) and the signature over hdata, with key;
 * the error */
enum milter_dkim_err milter_dkim_sig_check(const struct milter_dkim_vsig *sig,
					   const struct milter_dkim_vkey *key,
					   const struct milter_dkim_buf *hdata,
					   const unsigned char *bh,
					   size_t bhlen);

/* milter_dkim_verifier_new - a verifier (free with _free) */
struct milter_dkim_verifier *
milter_dkim_verifier_new(const struct milter_dkim_vopts *o);
/* milter_dkim_verifier_headers - at end of headers */
void milter_dkim_verifier_headers(struct milter_dkim_verifier *v,
				  const struct milter_header *hdrs,
				  size_t nhdrs);
/* milter_dkim_verifier_share - after both verifiers' _headers and
 * before any body chunk is fed to v: each of v's body hashes that
 * donor computes too (same canonicalization, hash and l=) is taken from
 * donor at end of message instead of being computed again (ARC's AMS
 * from DKIM's verifier: one hash of the body for both).  donor must be
 * fed every chunk and outlive v's _eom. */
void milter_dkim_verifier_share(struct milter_dkim_verifier *v,
				struct milter_dkim_verifier *donor);
/* milter_dkim_verifier_body_find - after _headers: the body hash of v
 * that is the SHA-256 of the whole body in canonicalization bcanon
 * (its own or taken from a donor), as an index, or -1 if v computes
 * none.  Another stage fed every chunk after v may read it
 * (milter_dkim_verifier_body_hash) instead of hashing the body again
 * (the ARC seal's AMS). */
int milter_dkim_verifier_body_find(const struct milter_dkim_verifier *v,
				   int bcanon);
/* milter_dkim_verifier_body_hash - that hash (index i), finished now if
 * v's _eom has not run yet; 0, or -1 if OpenSSL failed */
int milter_dkim_verifier_body_hash(struct milter_dkim_verifier *v, int i,
				   unsigned char bh[MILTER_DKIM_HASH_LEN]);
/* milter_dkim_verifier_body - a body chunk */
void milter_dkim_verifier_body(struct milter_dkim_verifier *v,
			       const unsigned char *p, size_t len);
/* milter_dkim_verifier_eom - verify every signature; now 0: the clock */
void milter_dkim_verifier_eom(struct milter_dkim_verifier *v,
			      const struct milter_header *hdrs, size_t nhdrs,
			      milter_dkim_lookup_fn lookup, void *ctx,
			      time_t now);
void milter_dkim_verifier_free(struct milter_dkim_verifier **vp);

/* milter_dkim_err_str - the comment for an error */
const char *milter_dkim_err_str(enum milter_dkim_err e);
/* milter_dkim_err_result - the RFC 8601 word and class of an error */
const char *milter_dkim_err_result(enum milter_dkim_err e,
				   enum milter_dkim_class *cls);
/* milter_dkim_alg_name - "rsa-sha256", ...; NULL for none */
const char *milter_dkim_alg_name(enum milter_dkim_alg a);

#endif
