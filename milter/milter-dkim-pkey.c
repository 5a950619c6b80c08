/*++
 * NAME
 *	milter-dkim-pkey 3
 * SUMMARY
 *	libopendkim's public keys, decoded once per key instead of per message
 * SYNOPSIS
 *	#include "milter-dkim.h"
 *
 *	milter_dkim_pkey_init();
 *	... libopendkim verifies ...
 *	milter_dkim_pkey_finish();
 * DESCRIPTION
 *	libopendkim turns the p= of a key record into an EVP_PKEY with
 *	d2i_PUBKEY_bio() for every signature it verifies.  With OpenSSL 3
 *	that call builds a decoder chain each time (OSSL_DECODER_CTX_new_for_pkey,
 *	name lookups under the provider store's lock): in bench/milter it
 *	was 30% of the daemon's CPU, seven times the RSA verification
 *	itself, and 20 threads queued on OpenSSL's locks for it.
 *	libopendkim has no hook for the key, so this file defines
 *	d2i_PUBKEY_bio() in the executable, which the dynamic linker then
 *	binds libopendkim's calls to (an executable's definitions come
 *	first), and keeps what it decodes:
 *
 *	For a memory BIO (what libopendkim passes) with no reuse argument,
 *	its whole content is the key: a key seen before is handed out as a
 *	new reference to the same EVP_PKEY (the BIO is read to its end, as
 *	the real call does); a new one is decoded by OpenSSL's own
 *	d2i_PUBKEY_bio (found with dlsym(RTLD_NEXT)) and kept when the
 *	decoding used the whole content.  Any other call goes straight to
 *	OpenSSL's.  So the results are OpenSSL's, only shared: an EVP_PKEY
 *	is safe for concurrent verification, and nothing in this process
 *	changes a decoded public key.  At most MILTER_DKIM_PKEYS keys are
 *	kept, the oldest going first; a key record changed in DNS is a new
 *	key (the old one ages out).
 *
 *	milter_dkim_pkey_stats() counts the keys found and decoded (for
 *	the tests).  Thread-safe.
 *--*/
#include "config.h"		/* _GNU_SOURCE: RTLD_NEXT */

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "milter-dkim.h"
#include "xalloc.h"

#define MILTER_DKIM_PKEYS	256

struct milter_dkim_pkey {
	unsigned char *der;
	size_t len;
	EVP_PKEY *pkey;
};

typedef EVP_PKEY *(*milter_d2i_fn)(BIO *, EVP_PKEY **);

static pthread_mutex_t pkey_lock = PTHREAD_MUTEX_INITIALIZER;
static struct milter_dkim_pkey pkeys[MILTER_DKIM_PKEYS];
static size_t pkey_next;		/* the slot replaced next */
static unsigned long pkey_hits, pkey_misses;
static milter_d2i_fn pkey_real;

/* milter_dkim_pkey_real - OpenSSL's d2i_PUBKEY_bio (NULL: not found) */
static milter_d2i_fn
milter_dkim_pkey_real(void)
{
	milter_d2i_fn fn;

	pthread_mutex_lock(&pkey_lock);
	if (pkey_real == NULL)
		*(void **)&pkey_real = dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
	fn = pkey_real;
	pthread_mutex_unlock(&pkey_lock);
	return fn;
}

/* milter_dkim_pkey_init - find OpenSSL's function before the threads */
void
milter_dkim_pkey_init(void)
{
	(void)milter_dkim_pkey_real();
}

/* milter_dkim_pkey_find - a new reference to the key of der, or NULL */
static EVP_PKEY *
milter_dkim_pkey_find(const unsigned char *der, size_t len)
{
	EVP_PKEY *pkey = NULL;
	size_t i;

	pthread_mutex_lock(&pkey_lock);
	for (i = 0; i < MILTER_DKIM_PKEYS && pkey == NULL; i++)
		if (pkeys[i].pkey != NULL && pkeys[i].len == len
		    && memcmp(pkeys[i].der, der, len) == 0
		    && EVP_PKEY_up_ref(pkeys[i].pkey) == 1)
			pkey = pkeys[i].pkey;
	if (pkey != NULL)
		pkey_hits++;
	else
		pkey_misses++;
	pthread_mutex_unlock(&pkey_lock);
	return pkey;
}

/* milter_dkim_pkey_keep - keep a reference to pkey, decoded from der */
static void
milter_dkim_pkey_keep(const unsigned char *der, size_t len, EVP_PKEY *pkey)
{
	struct milter_dkim_pkey *k;

	if (EVP_PKEY_up_ref(pkey) != 1)
		return;
	pthread_mutex_lock(&pkey_lock);
	k = &pkeys[pkey_next];
	pkey_next = (pkey_next + 1) % MILTER_DKIM_PKEYS;
	free(k->der);
	EVP_PKEY_free(k->pkey);
	k->der = x_malloc(len);
	memcpy(k->der, der, len);
	k->len = len;
	k->pkey = pkey;
	pthread_mutex_unlock(&pkey_lock);
}

/* d2i_PUBKEY_bio - OpenSSL's, with the keys of memory BIOs kept */
EVP_PKEY *
d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	milter_d2i_fn real = milter_dkim_pkey_real();
	unsigned char *der = NULL, buf[256];
	char *data;
	long len;
	EVP_PKEY *pkey;

	if (real == NULL)
		return NULL;
	if (a != NULL || bp == NULL || BIO_method_type(bp) != BIO_TYPE_MEM
	    || (len = BIO_get_mem_data(bp, &data)) <= 0)
		return real(bp, a);
	if ((pkey = milter_dkim_pkey_find((unsigned char *)data,
					  (size_t)len)) != NULL) {
		while (BIO_read(bp, buf, sizeof(buf)) > 0)
			;
		return pkey;
	}
	der = x_malloc((size_t)len);
	memcpy(der, data, (size_t)len);
	pkey = real(bp, NULL);
	if (pkey != NULL && BIO_get_mem_data(bp, &data) == 0)
		milter_dkim_pkey_keep(der, (size_t)len, pkey);
	free(der);
	return pkey;
}

/* milter_dkim_pkey_stats - keys found kept, keys decoded */
void
milter_dkim_pkey_stats(unsigned long *hits, unsigned long *misses)
{
	pthread_mutex_lock(&pkey_lock);
	*hits = pkey_hits;
	*misses = pkey_misses;
	pthread_mutex_unlock(&pkey_lock);
}

/* milter_dkim_pkey_finish - drop the kept keys (at exit) */
void
milter_dkim_pkey_finish(void)
{
	size_t i;

	pthread_mutex_lock(&pkey_lock);
	for (i = 0; i < MILTER_DKIM_PKEYS; i++) {
		free(pkeys[i].der);
		EVP_PKEY_free(pkeys[i].pkey);
		memset(&pkeys[i], 0, sizeof(pkeys[i]));
	}
	pkey_next = 0;
	pthread_mutex_unlock(&pkey_lock);
}
