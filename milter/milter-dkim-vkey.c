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
 *	The key cache: chained buckets under one lock, at most KC_MAX
 *	keys, each kept under its owner name with the text it was parsed
 *	from until the record's TTL runs out; when full, an expired entry
 *	goes, else the oldest.  Parsing happens outside the lock.  An
 *	EVP_PKEY is shared read-only by the threads that verify with it.
 *--*/
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "milter-dkim-verify.h"
#include "xalloc.h"

/* milter_dkim_key_pkey - p= into an EVP_PKEY; the error */
static enum milter_dkim_err
milter_dkim_key_pkey(const struct milter_dkim_tag *p,
		     struct milter_dkim_vkey *key)
{
	unsigned char *der;
	const unsigned char *q;
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
