/*++
 * NAME
 *	0423-milter-dkim-pkey 1
 * SUMMARY
 *	unit tests for milter/milter-dkim-pkey.c (keys decoded once)
 * DESCRIPTION
 *	d2i_PUBKEY_bio() as this program links it (ours, in front of
 *	OpenSSL's): a key decoded from a memory BIO is decoded by OpenSSL
 *	the first time, then handed out again (the same EVP_PKEY, equal to
 *	the original key, the BIO read to its end); another key is
 *	decoded on its own; garbage is refused each time and never kept;
 *	a file BIO and a reuse argument go to OpenSSL untouched.  Then the
 *	point of it all: libopendkim, verifying the same signed message
 *	twice (keys from a file, DKIM_QUERY_FILE), passes both times, and
 *	the second verification takes the kept key instead of decoding.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <opendkim/dkim.h>

#include "milter-dkim.h"
#include "tap.h"

/* der_of - the DER SubjectPublicKeyInfo of key; malloc'ed, *lenp set */
static unsigned char *
der_of(EVP_PKEY *key, int *lenp)
{
	unsigned char *der = NULL;

	*lenp = i2d_PUBKEY(key, &der);
	return der;
}

/* decode - our d2i_PUBKEY_bio on a memory BIO holding der */
static EVP_PKEY *
decode(const unsigned char *der, int len, size_t *left)
{
	BIO *b = BIO_new_mem_buf(der, len);
	EVP_PKEY *k = d2i_PUBKEY_bio(b, NULL);

	*left = (size_t)BIO_ctrl_pending(b);
	BIO_free(b);
	return k;
}

/* test_cache - the decodings of memory BIOs */
static void
test_cache(EVP_PKEY *k1, EVP_PKEY *k2)
{
	static const unsigned char junk[] = "\x30\x03\x02\x01\x05 not a key";
	unsigned long h0, m0, h, m;
	unsigned char *d1, *d2;
	EVP_PKEY *a, *b, *c, *x;
	int l1, l2;
	size_t left;

	d1 = der_of(k1, &l1);
	d2 = der_of(k2, &l2);
	milter_dkim_pkey_stats(&h0, &m0);
	a = decode(d1, l1, &left);
	milter_dkim_pkey_stats(&h, &m);
	ok(a != NULL && EVP_PKEY_eq(a, k1) == 1, "first decoding: the key");
	is_int((long long)(h - h0) * 10 + (long long)(m - m0), 1,
	       "first decoding: OpenSSL's (0 kept, 1 decoded)");
	is_int((long long)left, 0, "first decoding: the BIO is read");
	b = decode(d1, l1, &left);
	milter_dkim_pkey_stats(&h, &m);
	ok(b == a, "the same key again: the kept EVP_PKEY");
	ok(b != NULL && EVP_PKEY_eq(b, k1) == 1, "...equal to the key");
	is_int((long long)(h - h0) * 10 + (long long)(m - m0), 11,
	       "the same key again: kept (1 kept, 1 decoded)");
	is_int((long long)left, 0, "kept: the BIO is read to its end too");
	c = decode(d2, l2, &left);
	milter_dkim_pkey_stats(&h, &m);
	ok(c != NULL && c != a && EVP_PKEY_eq(c, k2) == 1,
	   "another key: decoded on its own");
	is_int((long long)(m - m0), 2, "another key: OpenSSL's decoding");
	x = decode(junk, (int)sizeof(junk) - 1, &left);
	ok(x == NULL, "garbage: no key");
	x = decode(junk, (int)sizeof(junk) - 1, &left);
	milter_dkim_pkey_stats(&h, &m);
	ok(x == NULL, "garbage again: no key");
	is_int((long long)(m - m0), 4, "garbage is never kept");
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
}

/* test_other_bios - a file BIO and a reuse argument: OpenSSL alone */
static void
test_other_bios(EVP_PKEY *k1)
{
	unsigned long h0, m0, h, m;
	EVP_PKEY *a, *reuse = NULL;
	unsigned char *der;
	FILE *f = tmpfile();
	BIO *b;
	int len;

	der = der_of(k1, &len);
	milter_dkim_pkey_stats(&h0, &m0);
	if (f == NULL || fwrite(der, 1, (size_t)len, f) != (size_t)len) {
		ok(0, "tmpfile");
		return;
	}
	rewind(f);
	b = BIO_new_fp(f, BIO_NOCLOSE);
	a = d2i_PUBKEY_bio(b, NULL);
	BIO_free(b);
	ok(a != NULL && EVP_PKEY_eq(a, k1) == 1, "file BIO: the key");
	EVP_PKEY_free(a);
	b = BIO_new_mem_buf(der, len);
	a = d2i_PUBKEY_bio(b, &reuse);
	BIO_free(b);
	ok(a != NULL && a == reuse && EVP_PKEY_eq(a, k1) == 1,
	   "reuse argument: set, as OpenSSL does");
	EVP_PKEY_free(reuse);
	milter_dkim_pkey_stats(&h, &m);
	is_int((long long)(h - h0 + m - m0), 0,
	       "neither went through the kept keys");
	fclose(f);
	OPENSSL_free(der);
}

static const char *const msg_headers[] = {
	"From: User <user@example.test>",
	"To: alice@remote.test",
	"Subject: kept keys",
	"Date: Mon, 01 Jan 2024 00:00:00 +0000",
};
static const char msg_body[] = "Hello.\r\nA second line.\r\n";

/* sign - a DKIM-Signature value for the message; malloc'ed or NULL */
static char *
sign(DKIM_LIB *lib, EVP_PKEY *key)
{
	unsigned char hdr[4096];
	DKIM_STAT st;
	BIO *pem = BIO_new(BIO_s_mem());
	char *pemtext, *out = NULL;
	long pemlen;
	size_t i;
	DKIM *d;

	PEM_write_bio_PrivateKey(pem, key, NULL, NULL, 0, NULL, NULL);
	pemlen = BIO_get_mem_data(pem, &pemtext);
	pemtext = x_strndup(pemtext, (size_t)pemlen);
	BIO_free(pem);
	d = dkim_sign(lib, (unsigned char *)"sign", NULL,
		      (dkim_sigkey_t)pemtext, (unsigned char *)"sel",
		      (unsigned char *)"example.test", DKIM_CANON_RELAXED,
		      DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
	if (d != NULL) {
		for (i = 0; i < sizeof(msg_headers) / sizeof(msg_headers[0]);
		     i++)
			dkim_header(d, (unsigned char *)msg_headers[i],
				    strlen(msg_headers[i]));
		if (dkim_eoh(d) == DKIM_STAT_OK
		    && dkim_body(d, (unsigned char *)msg_body,
				 strlen(msg_body)) == DKIM_STAT_OK
		    && dkim_eom(d, NULL) == DKIM_STAT_OK
		    && dkim_getsighdr(d, hdr, sizeof(hdr),
				      strlen("DKIM-Signature: ")) ==
		       DKIM_STAT_OK)
			out = x_asprintf("DKIM-Signature: %s", hdr);
		dkim_free(d);
	}
	free(pemtext);
	return out;
}

/* verify - libopendkim's verdict on the signed message */
static DKIM_STAT
verify(DKIM_LIB *lib, const char *sighdr)
{
	DKIM_STAT st;
	size_t i;
	DKIM *d = dkim_verify(lib, (unsigned char *)"verify", NULL, &st);

	if (d == NULL)
		return st;
	st = dkim_header(d, (unsigned char *)sighdr, strlen(sighdr));
	for (i = 0; st == DKIM_STAT_OK
	     && i < sizeof(msg_headers) / sizeof(msg_headers[0]); i++)
		st = dkim_header(d, (unsigned char *)msg_headers[i],
				 strlen(msg_headers[i]));
	if (st == DKIM_STAT_OK)
		st = dkim_eoh(d);
	if (st == DKIM_STAT_OK)
		st = dkim_body(d, (unsigned char *)msg_body,
			       strlen(msg_body));
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	dkim_free(d);
	return st;
}

/* test_libopendkim - libopendkim's decodings go through the kept keys */
static void
test_libopendkim(EVP_PKEY *key)
{
	char keys[] = "/tmp/elemta-0423.XXXXXX";
	unsigned long h0, m0, h1, m1, h2, m2;
	dkim_query_t qtype = DKIM_QUERY_FILE;
	unsigned char *der;
	char *sighdr, *b64;
	DKIM_LIB *lib;
	FILE *f;
	int fd, len;

	der = der_of(key, &len);
	b64 = x_malloc((size_t)len * 2 + 4);
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	if ((fd = mkstemp(keys)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		ok(0, "key file");
		return;
	}
	fprintf(f, "sel._domainkey.example.test v=DKIM1; k=rsa; p=%s\n", b64);
	fclose(f);
	lib = dkim_init(NULL, NULL);
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qtype,
		     sizeof(qtype));
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, keys,
		     strlen(keys));
	sighdr = sign(lib, key);
	ok(sighdr != NULL, "libopendkim signed the message");
	milter_dkim_pkey_stats(&h0, &m0);
	is_int(verify(lib, sighdr ? sighdr : ""), DKIM_STAT_OK,
	       "libopendkim: the signature verifies");
	milter_dkim_pkey_stats(&h1, &m1);
	is_int((long long)(h1 - h0) * 10 + (long long)(m1 - m0), 1,
	       "libopendkim's first decoding was OpenSSL's, through ours");
	is_int(verify(lib, sighdr ? sighdr : ""), DKIM_STAT_OK,
	       "libopendkim: verifies again");
	milter_dkim_pkey_stats(&h2, &m2);
	is_int((long long)(h2 - h1) * 10 + (long long)(m2 - m1), 10,
	       "libopendkim's second decoding: the kept key");
	dkim_close(lib);
	unlink(keys);
	free(sighdr);
	free(b64);
	OPENSSL_free(der);
}

int
main(void)
{
	EVP_PKEY *k1 = EVP_RSA_gen(2048), *k2 = EVP_RSA_gen(2048);
	EVP_PKEY *k3 = EVP_RSA_gen(2048);

	plan_lazy();
	if (k1 == NULL || k2 == NULL || k3 == NULL)
		bail_out("cannot generate RSA keys");
	milter_dkim_pkey_init();
	test_cache(k1, k2);
	test_other_bios(k1);
	test_libopendkim(k3);		/* a key nobody decoded yet */
	milter_dkim_pkey_finish();
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	done_testing();
	return exit_status();
}
