/*++
 * NAME
 *	milter-dkim-vkey 3
 * SUMMARY
 *	DKIM public keys: the key record (RFC 6376 3.6.1) and the key cache
 * DESCRIPTION
 *	See milter-dkim-verify.h.  A key record: v=DKIM1 first if present,
 *	k= rsa (default) or ed25519, h= (if present) the hashes the key
 *	may sign with, s= (if present) "*" or "email", t= flags y
 *	(testing: noted) and s (i= must be in d= exactly), p= base64 of a
 *	SubjectPublicKeyInfo (RSA) or of the 32-byte key (Ed25519), empty
 *	when revoked.
 *
 *	The key cache: a lib/htable under one lock, at most KC_MAX keys,
 *	each kept under its owner name with the text it was parsed from
 *	until the record's TTL runs out; when full, the least recently
 *	used goes.  Parsing happens outside the lock.  An
 *	EVP_PKEY is shared read-only by the threads that verify with it.
 *--*/
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "clock.h"
#include "htable.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-verify.h"
#include "str.h"
#include "xalloc.h"

/* milter_dkim_key_tmpl - the key's verification context, set up once
 * (rsa-sha256: the common case; Ed25519) and copied per signature:
 * EVP_DigestVerifyInit fetches the algorithm from OpenSSL's provider
 * tables, under their locks, each time.  None if OpenSSL refuses: the
 * check then sets up its own. */
static void
milter_dkim_key_tmpl(struct milter_dkim_vkey *key)
{
	if ((key->tmpl = EVP_MD_CTX_new()) != NULL
	    && EVP_DigestVerifyInit(key->tmpl, NULL, key->ed25519 ? NULL
				    : milter_dkim_canon_sha256(), NULL,
				    key->pkey) != 1) {
		EVP_MD_CTX_free(key->tmpl);
		key->tmpl = NULL;
	}
	ERR_clear_error();
}

/* milter_dkim_key_pkey - p= into an EVP_PKEY; the error */
static enum milter_dkim_err
milter_dkim_key_pkey(const struct milter_dkim_tag *p,
		     struct milter_dkim_vkey *key)
{
	unsigned char *der;
	const unsigned char *q;
	BIGNUM *e = NULL;
	size_t len;

	if ((der = milter_dkim_tag_b64(p->val, p->vlen, &len)) == NULL)
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
	if (!key->ed25519
	    && EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1)
		key->ebits = BN_num_bits(e);
	BN_free(e);
	milter_dkim_key_tmpl(key);
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_key_fields - the tags into key; the error */
static enum milter_dkim_err
milter_dkim_key_fields(const struct milter_dkim_tags *tl,
		       struct milter_dkim_vkey *key)
{
	const struct milter_dkim_tag *v = milter_dkim_tag_find(tl, "v"),
	    *h = milter_dkim_tag_find(tl, "h"), *k = milter_dkim_tag_find(tl, "k"),
	    *s = milter_dkim_tag_find(tl, "s"), *t = milter_dkim_tag_find(tl, "t"),
	    *p = milter_dkim_tag_find(tl, "p");

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
		key->hashes = (milter_dkim_tag_list_has(h, "sha1") == 1
			       ? MILTER_DKIM_KH_SHA1 : 0)
			      | (milter_dkim_tag_list_has(h, "sha256") == 1
				 ? MILTER_DKIM_KH_SHA256 : 0);
	if (s != NULL && milter_dkim_tag_list_has(s, "*") != 1
	    && milter_dkim_tag_list_has(s, "email") != 1)
		return MILTER_DKIM_E_SERVICE;
	if (t != NULL) {
		key->testing = milter_dkim_tag_list_has(t, "y") == 1;
		key->strict = milter_dkim_tag_list_has(t, "s") == 1;
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
	EVP_MD_CTX_free(key->tmpl);
	key->tmpl = NULL;
}

/*
 * The key cache: lib/htable under one lock, by the record's name in
 * lower case, at most KC_MAX keys; when full, the least recently used
 * goes.  An entry is only used while its TTL lasts and its record's
 * text is unchanged.
 */
#define KC_MAX		1024

struct kc_ent {
	char *txt;
	int64_t expires;	/* clock_mono_ms */
	struct milter_dkim_vkey key;
};

static pthread_mutex_t kc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct htable *kc_tab;		/* NULL until the first key */
static unsigned long kc_hits, kc_misses;

/* milter_dkim_kc_free - an entry's memory and key reference */
static void
milter_dkim_kc_free(void *v)
{
	struct kc_ent *e = v;

	free(e->txt);
	milter_dkim_key_free(&e->key);
	free(e);
}

/* milter_dkim_kc_name - the cache's key of a name: lower case,
 * malloc'ed */
static char *
milter_dkim_kc_name(const char *name)
{
	return str_lower_dup(name);
}

/* milter_dkim_kc_copy - *dst = *src with a new reference to the key
 * and a copy of its context (a copy is cheap: no provider look-up) */
static void
milter_dkim_kc_copy(struct milter_dkim_vkey *dst,
		    const struct milter_dkim_vkey *src)
{
	*dst = *src;
	dst->tmpl = NULL;
	if (dst->pkey != NULL && EVP_PKEY_up_ref(dst->pkey) != 1) {
		dst->pkey = NULL;
		dst->err = MILTER_DKIM_E_INTERNAL;
		return;
	}
	if (src->tmpl != NULL && (dst->tmpl = EVP_MD_CTX_new()) != NULL
	    && EVP_MD_CTX_copy_ex(dst->tmpl, src->tmpl) != 1) {
		EVP_MD_CTX_free(dst->tmpl);
		dst->tmpl = NULL;	/* the check sets one up */
	}
}

/* milter_dkim_key_cached - the parsed key, kept or parsed now */
void
milter_dkim_key_cached(const char *name, const char *txt, int ttl,
		       struct milter_dkim_vkey *key)
{
	char *k = milter_dkim_kc_name(name);
	int64_t now = clock_mono_ms();
	struct kc_ent *e;

	pthread_mutex_lock(&kc_lock);
	if (kc_tab != NULL && (e = htable_use(kc_tab, k)) != NULL) {
		if (e->expires > now && strcmp(e->txt, txt) == 0) {
			milter_dkim_kc_copy(key, &e->key);
			kc_hits++;
			pthread_mutex_unlock(&kc_lock);
			free(k);
			return;
		}
		milter_dkim_kc_free(htable_del(kc_tab, k)); /* changed, expired */
	}
	kc_misses++;
	pthread_mutex_unlock(&kc_lock);

	milter_dkim_key_parse(txt, key);	/* outside the lock */
	if (ttl > 0) {
		e = x_calloc(1, sizeof(*e));
		e->txt = x_strdup(txt);
		e->expires = now + (int64_t)ttl * 1000;
		milter_dkim_kc_copy(&e->key, key);
		pthread_mutex_lock(&kc_lock);
		if (kc_tab == NULL)
			kc_tab = htable_new();
		/* another thread may have parsed the same name meanwhile */
		if ((e = htable_put(kc_tab, k, e)) != NULL)
			milter_dkim_kc_free(e);
		while (htable_size(kc_tab) > KC_MAX)
			milter_dkim_kc_free(htable_pop_oldest(kc_tab));
		pthread_mutex_unlock(&kc_lock);
	}
	free(k);
}

/* milter_dkim_key_cache_stats - the counters */
void
milter_dkim_key_cache_stats(unsigned long *hits, unsigned long *misses,
			    size_t *entries)
{
	pthread_mutex_lock(&kc_lock);
	*hits = kc_hits;
	*misses = kc_misses;
	*entries = kc_tab != NULL ? htable_size(kc_tab) : 0;
	pthread_mutex_unlock(&kc_lock);
}

/* milter_dkim_key_cache_flush - drop every key */
void
milter_dkim_key_cache_flush(void)
{
	pthread_mutex_lock(&kc_lock);
	htable_free(&kc_tab, milter_dkim_kc_free);
	pthread_mutex_unlock(&kc_lock);
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
