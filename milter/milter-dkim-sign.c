/*++
 * NAME
 *	milter-dkim-sign 3
 * SUMMARY
 *	the DKIM signing stage (RFC 6376, RFC 8463) on OpenSSL EVP
 * DESCRIPTION
 *	See milter-dkim-sign.h.  Our own signer: the keys are EVP_PKEYs
 *	parsed once when the tables load (milter-keys.c) and shared
 *	read-only by the threads; each signature gets its own EVP_MD_CTX.
 *	(libopendkim, which signed before, took the key as PEM text and
 *	parsed it again for every signature, which cost more than an
 *	Ed25519 signature and as much as an RSA-2048 one, and it leaked
 *	the Ed25519 key every time.)  Verification is ours too
 *	(milter-dkim-verify.c), on the same canonicalization and EVP.
 *
 *	Per message: the body goes once through one canonicalization
 *	context (milter-dkim-canon.c), whose hash (bh=) all signatures of
 *	the message share (dual signing, RFC 8463 section 4).  At end of
 *	message the signed headers are chosen and canonicalized once:
 *	those of milter.dkim_sign_headers present in the message (From
 *	always), named in h= in message order, each name taking the last
 *	unused instance of that header, as a verifier reads h= (RFC 6376
 *	section 5.4.2); then one more From, which names no header
 *	(oversigning, section 8.15: no From can be added after signing).
 *	Each signature then hashes that data and its own DKIM-Signature
 *	header with an empty b= (section 3.7), and signs: RSA-SHA256 with
 *	EVP_DigestSign over the data, Ed25519-SHA256 as Ed25519 over the
 *	SHA-256 of the data (RFC 8463 section 3), its EVP_MD_CTX a copy
 *	of the key's template (milter-keys.h).  No l= (a length limit
 *	lets anyone append to the body), no i=, t= the signing time.
 *
 *	The header is laid out as libopendkim did, tags in the order v a c
 *	d / s t bh / h / b, folded with LF + tab (the MTA glue turns LF
 *	into CRLF), b= folded in lines of 64 characters.
 *
 *	A signing failure (OpenSSL refusing) is logged and the message
 *	goes out unsigned: signing is a courtesy to the receivers, not a
 *	reason to lose mail.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "xalloc.h"

#define SIGN_FOLD	76		/* fold h= before this column */
#define SIGN_B64_LINE	64		/* b= characters per line */

struct milter_dkim_sign {
	struct milter_keys *keys;	/* reference */
	char *from_domain;		/* for keys of domain "%" */
	int hcanon;			/* MILTER_DKIM_SIMPLE, _RELAXED */
	int bcanon;
	struct milter_dkim_body *body;	/* one body hash for all */
	int bh_done;			/* body final: 1 bh, -1 failed */
	unsigned char bh[MILTER_DKIM_HASH_LEN];
	size_t n;
	const struct milter_key *k[MILTER_KEYS_PER_RULE];
	char *value[MILTER_KEYS_PER_RULE];
	size_t nvalues;
};

/* elemta_milter_dkim_signatures_total{algorithm,result} */
static struct metric *m_signatures;

/* the t= of the signatures when a test fixed it, else 0: the clock */
static long long milter_dkim_sign_fixed_t;

static const char *const milter_dkim_sign_canon[] = { "simple", "relaxed" };

/* milter_dkim_sign_init - the metric (the keys are the generation's,
 * milter-gen.c) */
void
milter_dkim_sign_init(void)
{
	m_signatures = metrics_counter("elemta_milter_dkim_signatures_total",
				       "DKIM signatures made, by algorithm "
				       "and result (signed, failed)",
				       "algorithm,result");
}

/* milter_dkim_sign_state - the message's signer state, created once */
static struct milter_dkim_sign *
milter_dkim_sign_state(struct milter_msg *m)
{
	if (m->dkim_sign == NULL)
		m->dkim_sign = x_calloc(1, sizeof(*m->dkim_sign));
	return m->dkim_sign;
}

/* milter_dkim_sign_alg - the a= value of key k */
static const char *
milter_dkim_sign_alg(const struct milter_key *k)
{
	return k->type == MILTER_KEY_ED25519 ? "ed25519-sha256"
					     : "rsa-sha256";
}

/* milter_dkim_sign_count_failed - every key of the message failed */
static void
milter_dkim_sign_count_failed(struct milter_dkim_sign *s)
{
	size_t i;

	for (i = 0; i < s->n && m_signatures != NULL; i++)
		metric_inc(m_signatures, milter_dkim_sign_alg(s->k[i]),
			   "failed");
}

/* milter_dkim_sign_decide - sign (instead of verify)?  1 with the
 * signer set up, 0 if not; the pipeline asks once per message */
int
milter_dkim_sign_decide(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	const struct milter_sign_rule *rule;
	struct milter_dkim_sign *s;
	struct milter_keys *keys;
	struct dmarc_from from;
	const char *addr;
	size_t i;

	if (m->dkim_sign != NULL)
		return 1;
	if ((m->auth_type == NULL || m->auth_type[0] == '\0')
	    && !m->conn->internal)
		return 0;
	/* the connection's generation's keys: those of its rules */
	if ((keys = milter_keys_ref(m->conn->keys)) == NULL)
		return 0;
	/* the one From parser (milter-dmarc.h), on every From field,
	 * kept whatever the header caps: DMARC judges the same ones */
	dmarc_from_parse((const char *const *)m->from_values, m->nfrom,
			 &from);
	if ((addr = dmarc_from_author(&from)) == NULL) {
		qid_info(m->qid, "dkim-sign: not signed: %s",
			 m->nfrom == 0 ? "no From header"
			 : m->nfrom > 1 ? "several From headers"
					: "no single From address");
		milter_keys_unref(&keys);
		return 0;
	}
	if ((rule = milter_keys_match(keys, addr)) == NULL) {
		milter_keys_unref(&keys);
		return 0;
	}
	s = milter_dkim_sign_state(m);
	s->keys = keys;
	s->from_domain = x_strdup(strrchr(addr, '@') + 1);
	s->hcanon = mc->dkim_sign_hcanon ? MILTER_DKIM_RELAXED
					 : MILTER_DKIM_SIMPLE;
	s->bcanon = mc->dkim_sign_bcanon ? MILTER_DKIM_RELAXED
					 : MILTER_DKIM_SIMPLE;
	for (i = 0; i < rule->nkeys; i++)
		s->k[s->n++] = rule->keys[i];
	if ((s->body = milter_dkim_body_new(s->bcanon)) == NULL)
		qid_warn(m->qid, "dkim-sign: not signed: OpenSSL has no "
			 "SHA-256");
	return 1;
}

/* milter_dkim_sign_body - a body chunk, hashed once for all keys */
void
milter_dkim_sign_body(struct milter_msg *m, const unsigned char *chunk,
		      size_t len)
{
	struct milter_dkim_sign *s = m->dkim_sign;

	if (s == NULL || s->body == NULL || len == 0)
		return;
	milter_dkim_body_update(s->body, chunk, len);
}

/* milter_dkim_sign_body_canon - the canonicalization of the signer's
 * body hash (SHA-256 of the whole body), or -1 if it computes none */
int
milter_dkim_sign_body_canon(const struct milter_msg *m)
{
	const struct milter_dkim_sign *s = m->dkim_sign;

	if (m->mode != MILTER_MODE_SIGN || s == NULL || s->body == NULL)
		return -1;
	return s->bcanon;
}

/* milter_dkim_sign_body_hash - that hash, finished at the first call */
int
milter_dkim_sign_body_hash(struct milter_msg *m, unsigned char *bh)
{
	struct milter_dkim_sign *s = m->dkim_sign;

	if (s == NULL || s->body == NULL)
		return -1;
	if (s->bh_done == 0)
		s->bh_done = milter_dkim_body_final(s->body, s->bh) == 0
			     ? 1 : -1;
	if (s->bh_done < 0)
		return -1;
	memcpy(bh, s->bh, MILTER_DKIM_HASH_LEN);
	return 0;
}

/* milter_dkim_sign_listed - is header name one to sign?  (From
 * always; list: the NULL-terminated names) */
int
milter_dkim_sign_listed(char *const *list, const char *name)
{
	int c = tolower((unsigned char)name[0]);

	if (strcasecmp(name, "From") == 0)
		return 1;
	for (; list != NULL && *list != NULL; list++)
		if (tolower((unsigned char)**list) == c
		    && strcasecmp(*list, name) == 0)
			return 1;
	return 0;
}

/* milter_dkim_sign_hlist - append a name to the h= tag, folding */
static void
milter_dkim_sign_hlist(struct milter_dkim_buf *h, size_t *col,
		       const char *name)
{
	size_t len = strlen(name);

	if (h->len > 2) {	/* after "h=" */
		if (*col + 1 + len + 1 > SIGN_FOLD) {
			milter_dkim_buf_add(h, ":\n\t ", 4);
			*col = 9;
		} else {
			milter_dkim_buf_add(h, ":", 1);
			(*col)++;
		}
	}
	milter_dkim_buf_add(h, name, len);
	*col += len;
}

/* milter_dkim_sign_wanted - the DKIM signer's choice: the listed ones */
static int
milter_dkim_sign_wanted(void *ctx, const char *name)
{
	return milter_dkim_sign_listed(ctx, name);
}

/* milter_dkim_sign_select - the h= tag and the canonical header data of
 * the headers of hdrs that want() accepts, From oversigned */
void
milter_dkim_sign_select(const struct milter_header *hdrs, size_t nhdrs,
			int (*want)(void *ctx, const char *name), void *ctx,
			int hcanon, struct milter_dkim_buf *h,
			struct milter_dkim_buf *d)
{
	unsigned char *used = x_calloc(nhdrs + 1, 1);
	size_t i, j, col = 8 + 2;

	milter_dkim_buf_add(h, "h=", 2);
	for (i = 0; i < nhdrs; i++) {
		if (!want(ctx, hdrs[i].name))
			continue;
		milter_dkim_sign_hlist(h, &col, hdrs[i].name);
		/* this name takes the last instance not taken yet */
		for (j = nhdrs; j-- > 0;)
			if (!used[j] && strcasecmp(hdrs[j].name,
						   hdrs[i].name) == 0)
				break;
		used[j] = 1;
		milter_dkim_canon_header(d, hcanon, hdrs[j].name,
					 hdrs[j].value, 1);
	}
	milter_dkim_sign_hlist(h, &col, "From");	/* oversigned */
	free(used);
}

/* milter_dkim_sign_headers - the h= tag and the canonical header data
 * it names */
static void
milter_dkim_sign_headers(const struct milter_msg *m, int hcanon,
			 struct milter_dkim_buf *h, struct milter_dkim_buf *d)
{
	milter_dkim_sign_select(m->headers, m->nheaders,
				milter_dkim_sign_wanted,
				m->conn->mc->dkim_sign_headers, hcanon, h, d);
}

/* milter_dkim_sign_error - OpenSSL's reason, the queue cleared */
static void
milter_dkim_sign_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "OpenSSL failed");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

/* milter_dkim_sign_crypto - sign the header data (d, then the
 * signature header sh) with key k: RSA-SHA256, or Ed25519 over the
 * SHA-256 of the data; the signature's length, 0 on error (in why) */
size_t
milter_dkim_sign_crypto(const struct milter_key *k,
			const struct milter_dkim_buf *d,
			const struct milter_dkim_buf *sh, unsigned char *sig,
			size_t siglen, char *why, size_t whylen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[MILTER_DKIM_HASH_LEN];
	unsigned int hlen = 0;
	int ok;

	if (ctx == NULL) {
		milter_dkim_sign_error(why, whylen);
		return 0;
	}
	if (k->type == MILTER_KEY_RSA)
		ok = EVP_MD_CTX_copy_ex(ctx, k->sign_tmpl) == 1
		     && EVP_DigestSignUpdate(ctx, d->data, d->len) == 1
		     && EVP_DigestSignUpdate(ctx, sh->data, sh->len) == 1
		     && EVP_DigestSignFinal(ctx, sig, &siglen) == 1;
	else
		ok = EVP_DigestInit_ex(ctx, milter_dkim_canon_sha256(),
				       NULL) == 1
		     && EVP_DigestUpdate(ctx, d->data, d->len) == 1
		     && EVP_DigestUpdate(ctx, sh->data, sh->len) == 1
		     && EVP_DigestFinal_ex(ctx, hash, &hlen) == 1
		     && EVP_MD_CTX_copy_ex(ctx, k->sign_tmpl) == 1
		     && EVP_DigestSign(ctx, sig, &siglen, hash, hlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		milter_dkim_sign_error(why, whylen);
		return 0;
	}
	return siglen;
}

/* milter_dkim_sign_b64 - base64 of len bytes; malloc'ed */
char *
milter_dkim_sign_b64(const unsigned char *p, size_t len)
{
	char *b64 = x_malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)b64, p, (int)len);
	return b64;
}

/* milter_dkim_sign_b_add - append the b= value of signature sig,
 * folded in lines of SIGN_B64_LINE characters */
void
milter_dkim_sign_b_add(struct milter_dkim_buf *v, const unsigned char *sig,
		       size_t siglen)
{
	char *b64 = milter_dkim_sign_b64(sig, siglen);
	size_t i, len = strlen(b64);

	for (i = 0; i < len; i += SIGN_B64_LINE) {
		if (i > 0)
			milter_dkim_buf_add(v, "\n\t ", 3);
		milter_dkim_buf_add(v, b64 + i, len - i < SIGN_B64_LINE
					  ? len - i : SIGN_B64_LINE);
	}
	free(b64);
}

/* milter_dkim_sign_one - the DKIM-Signature value for key k; NULL on
 * error (logged) */
static char *
milter_dkim_sign_one(struct milter_msg *m, struct milter_dkim_sign *s,
		     const struct milter_key *k,
		     const struct milter_dkim_buf *d,
		     const struct milter_dkim_buf *h, const char *bh)
{
	const char *domain = strcmp(k->domain, "%") == 0 ? s->from_domain
							 : k->domain;
	struct milter_dkim_buf v = { 0 }, sh = { 0 };
	unsigned char sig[MILTER_KEY_SIGN_MAX_BITS / 8];
	char tag[1024], why[256];
	size_t siglen, n;

	n = (size_t)snprintf(tag, sizeof(tag), "v=1; a=%s; c=%s/%s; d=%s;\n"
			     "\ts=%s; t=%lld; bh=%s;\n\t",
			     milter_dkim_sign_alg(k),
			     milter_dkim_sign_canon[s->hcanon],
			     milter_dkim_sign_canon[s->bcanon], domain,
			     k->selector, milter_dkim_sign_now(), bh);
	if (n >= sizeof(tag)) {
		qid_warn(m->qid, "dkim-sign key=%s: not signed: selector or "
			 "domain too long", k->name);
		return NULL;
	}
	/* the value as inserted, after "DKIM-Signature:": a space first,
	 * taken off at the end */
	milter_dkim_buf_add(&v, " ", 1);
	milter_dkim_buf_add(&v, tag, n);
	milter_dkim_buf_add(&v, h->data, h->len);
	milter_dkim_buf_add(&v, ";\n\tb=", 5);
	/* the header to sign: this one, b= empty */
	milter_dkim_canon_header(&sh, s->hcanon, MILTER_DKIM_SIGN_HEADER,
				 v.data, 0);
	siglen = (size_t)EVP_PKEY_get_size(k->pkey);
	if (siglen > sizeof(sig))
		snprintf(why, sizeof(why), "key too large: bits=%d, at most "
			 "%zu to sign", k->bits, 8 * sizeof(sig));
	if (siglen > sizeof(sig)
	    || (siglen = milter_dkim_sign_crypto(k, d, &sh, sig, siglen, why,
						 sizeof(why))) == 0) {
		qid_warn(m->qid, "dkim-sign key=%s: not signed: %s", k->name,
			 why);
		milter_dkim_buf_free(&v);
		milter_dkim_buf_free(&sh);
		return NULL;
	}
	milter_dkim_sign_b_add(&v, sig, siglen);
	milter_dkim_buf_free(&sh);
	memmove(v.data, v.data + 1, v.len);	/* the space, the NUL */
	return v.data;
}

/* milter_dkim_sign_eom - compute the signatures */
void
milter_dkim_sign_eom(struct milter_msg *m)
{
	struct milter_dkim_sign *s = m->dkim_sign;
	struct milter_dkim_buf d = { 0 }, h = { 0 };
	unsigned char bhash[MILTER_DKIM_HASH_LEN];
	char *bh, *v;
	size_t i;

	if (m->mode != MILTER_MODE_SIGN || s == NULL)
		return;
	if (s->body == NULL || milter_dkim_sign_body_hash(m, bhash) < 0) {
		if (s->body != NULL)
			qid_warn(m->qid, "dkim-sign: not signed: the body "
				 "hash failed");
		milter_dkim_sign_count_failed(s);
		milter_msg_summary(m, "dkim-sign=failed");
		return;
	}
	bh = milter_dkim_sign_b64(bhash, sizeof(bhash));
	milter_dkim_sign_headers(m, s->hcanon, &h, &d);
	for (i = 0; i < s->n; i++) {
		if ((v = milter_dkim_sign_one(m, s, s->k[i], &d, &h, bh))
		    == NULL) {
			if (m_signatures != NULL)
				metric_inc(m_signatures,
					   milter_dkim_sign_alg(s->k[i]),
					   "failed");
			continue;
		}
		s->value[s->nvalues++] = v;
		if (m_signatures != NULL)
			metric_inc(m_signatures,
				   milter_dkim_sign_alg(s->k[i]), "signed");
		milter_msg_summary(m, "dkim-sign=%s(d=%s s=%s)",
				   milter_dkim_sign_alg(s->k[i]),
				   strcmp(s->k[i]->domain, "%") == 0
				   ? s->from_domain : s->k[i]->domain,
				   s->k[i]->selector);
	}
	if (s->nvalues == 0)
		milter_msg_summary(m, "dkim-sign=failed");
	free(bh);
	milter_dkim_buf_free(&d);
	milter_dkim_buf_free(&h);
}

/* milter_dkim_sign_free - the body context, values, keys reference */
void
milter_dkim_sign_free(struct milter_msg *m)
{
	struct milter_dkim_sign *s = m->dkim_sign;
	size_t i;

	if (s == NULL)
		return;
	milter_dkim_body_free(&s->body);
	for (i = 0; i < s->nvalues; i++)
		x_free(&s->value[i]);
	milter_keys_unref(&s->keys);
	x_free(&s->from_domain);
	x_free(&m->dkim_sign);
}

/* milter_dkim_sign_test_time - tests only: t= is t from now on (0: the
 * clock again), so that a signature can be compared byte for byte */
void
milter_dkim_sign_test_time(long long t)
{
	milter_dkim_sign_fixed_t = t;
}

/* milter_dkim_sign_now - the t= to sign with: the test's, or the clock */
long long
milter_dkim_sign_now(void)
{
	return milter_dkim_sign_fixed_t != 0 ? milter_dkim_sign_fixed_t
					     : (long long)time(NULL);
}

/* milter_dkim_sign_count - how many DKIM-Signature values */
size_t
milter_dkim_sign_count(const struct milter_msg *m)
{
	return m->dkim_sign != NULL ? m->dkim_sign->nvalues : 0;
}

/* milter_dkim_sign_value - the i-th value (owned by the message) */
const char *
milter_dkim_sign_value(const struct milter_msg *m, size_t i)
{
	return i < milter_dkim_sign_count(m) ? m->dkim_sign->value[i] : NULL;
}
