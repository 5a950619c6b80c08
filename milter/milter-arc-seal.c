/*++
 * NAME
 *	milter-arc-seal 3
 * SUMMARY
 *	ARC sealing (RFC 8617 section 5.1) on the DKIM signer's parts
 * DESCRIPTION
 *	See milter-arc-seal.h.  Nothing here is ARC's own but the order:
 *	the header selection, the crypto and the b= layout are the DKIM
 *	signer's (milter_dkim_sign_select, _crypto, _b_add), the seal's
 *	header data is the verifier's (milter_arc_seal_hdata), so that
 *	what we seal is what we verify.
 *
 *	The headers are laid out as our DKIM-Signature is, tags in the
 *	order the RFC's examples use: AMS "i a c d / s t bh / h / b", AS
 *	"i a t cv / d s / b".
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "milter-arc-seal.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "xalloc.h"

#define ARC_SEAL_AAR	"ARC-Authentication-Results"
#define ARC_SEAL_AMS	"ARC-Message-Signature"
#define ARC_SEAL_AS	"ARC-Seal"

/* milter_arc_cv_str - "none", "pass", "fail" */
const char *
milter_arc_cv_str(enum milter_arc_cv cv)
{
	switch (cv) {
	case MILTER_ARC_CV_NONE:
		return "none";
	case MILTER_ARC_CV_PASS:
		return "pass";
	case MILTER_ARC_CV_FAIL:
		return "fail";
	case MILTER_ARC_CV_UNKNOWN:
		break;
	}
	return "unknown";
}

/* milter_arc_seal_plan - the sealer's first steps (section 5.1) */
int
milter_arc_seal_plan(const struct milter_header *hdrs, size_t nhdrs,
		     enum milter_arc_result result, unsigned *instance,
		     enum milter_arc_cv *cv, const char **why)
{
	int top_cvfail;
	unsigned top = milter_arc_top(hdrs, nhdrs, &top_cvfail);

	if (top_cvfail) {
		*why = "the newest ARC-Seal says cv=fail";
		return -1;
	}
	if (top >= MILTER_ARC_MAX) {
		*why = "the chain has the most ARC sets already";
		return -1;
	}
	*instance = top + 1;
	if (result == MILTER_ARC_PASS)
		*cv = MILTER_ARC_CV_PASS;
	else if (result == MILTER_ARC_NONE && top == 0)
		*cv = MILTER_ARC_CV_NONE;
	else
		*cv = MILTER_ARC_CV_FAIL;	/* broken or failed */
	return 0;
}

/* milter_arc_seal_key - the sealing key of domain */
const struct milter_key *
milter_arc_seal_key(const struct milter_keys *k, const char *domain)
{
	const struct milter_key *ed = NULL;
	size_t i;

	if (k == NULL || domain == NULL || *domain == '\0')
		return NULL;
	for (i = 0; i < k->nkeys; i++) {
		if (strcasecmp(k->keys[i].domain, domain) != 0)
			continue;
		if (k->keys[i].type == MILTER_KEY_RSA)
			return &k->keys[i];
		if (ed == NULL)
			ed = &k->keys[i];
	}
	return ed;
}

/* milter_arc_seal_wanted - the AMS's headers: the DKIM signer's and
 * DKIM-Signature, never ARC's own nor Authentication-Results */
static int
milter_arc_seal_wanted(void *ctx, const char *name)
{
	if (strncasecmp(name, "ARC-", 4) == 0
	    || strcasecmp(name, AUTHRES_HEADER) == 0)
		return 0;
	return strcasecmp(name, MILTER_DKIM_SIGN_HEADER) == 0
	       || milter_dkim_sign_listed(ctx, name);
}

/* milter_arc_seal_sign - sign d then sh with k, b= appended to v; 0,
 * or -1 with why */
static int
milter_arc_seal_sign(const struct milter_key *k,
		     const struct milter_dkim_buf *d,
		     const struct milter_dkim_buf *sh,
		     struct milter_dkim_buf *v, char *why, size_t whylen)
{
	unsigned char sig[MILTER_KEY_SIGN_MAX_BITS / 8];
	size_t siglen = (size_t)EVP_PKEY_get_size(k->pkey);

	if (siglen > sizeof(sig)) {
		snprintf(why, whylen, "key too large: key=%s bits=%d, at "
			 "most %zu to seal", k->name, k->bits,
			 8 * sizeof(sig));
		return -1;
	}
	if ((siglen = milter_dkim_sign_crypto(k, d, sh, sig, siglen, why,
					      whylen)) == 0)
		return -1;
	milter_dkim_sign_b_add(v, sig, siglen);
	return 0;
}

/* milter_arc_seal_alg - the a= of key k */
static const char *
milter_arc_seal_alg(const struct milter_key *k)
{
	return k->type == MILTER_KEY_ED25519 ? "ed25519-sha256"
					     : "rsa-sha256";
}

/* milter_arc_seal_ams - the ARC-Message-Signature value into v */
static int
milter_arc_seal_ams(const struct milter_arc_seal_in *in, unsigned instance,
		    struct milter_dkim_buf *v, char *why, size_t whylen)
{
	struct milter_dkim_buf h = { 0 }, d = { 0 }, sh = { 0 };
	char *bh = milter_dkim_sign_b64(in->bh, MILTER_DKIM_HASH_LEN);
	char *tag;
	int ret;

	milter_dkim_sign_select(in->hdrs, in->nhdrs, milter_arc_seal_wanted,
				(void *)in->sign_headers, MILTER_DKIM_RELAXED,
				&h, &d);
	tag = x_asprintf("i=%u; a=%s; c=relaxed/relaxed; d=%s;\n\ts=%s; "
			 "t=%lld; bh=%s;\n\t", instance,
			 milter_arc_seal_alg(in->key), in->key->domain,
			 in->key->selector, in->t, bh);
	milter_dkim_buf_add(v, tag, strlen(tag));
	milter_dkim_buf_add(v, h.data, h.len);
	milter_dkim_buf_add(v, ";\n\tb=", 5);
	/* the header to sign: this one, b= empty, no CRLF */
	milter_dkim_canon_header(&sh, MILTER_DKIM_RELAXED, ARC_SEAL_AMS,
				 v->data, 0);
	ret = milter_arc_seal_sign(in->key, &d, &sh, v, why, whylen);
	free(tag);
	free(bh);
	milter_dkim_buf_free(&h);
	milter_dkim_buf_free(&d);
	milter_dkim_buf_free(&sh);
	return ret;
}

/* milter_arc_seal_as - the ARC-Seal value into v, over the sets of
 * hdrs and the new one (aar, ams) */
static int
milter_arc_seal_as(const struct milter_arc_seal_in *in,
		   const struct milter_arc_seal_out *out,
		   struct milter_dkim_buf *v, char *why, size_t whylen)
{
	struct milter_dkim_buf hd = { 0 }, none = { 0 };
	struct milter_header *all;
	struct milter_arc_chain *c = x_calloc(1, sizeof(*c));
	struct milter_dkim_vsig seal;
	unsigned top = 1;
	char *tag;
	int ret = -1;

	tag = x_asprintf("i=%u; a=%s; t=%lld; cv=%s;\n\td=%s; s=%s;\n\tb=",
			 out->instance, milter_arc_seal_alg(in->key), in->t,
			 milter_arc_cv_str(out->cv), in->key->domain,
			 in->key->selector);
	milter_dkim_buf_add(v, tag, strlen(tag));
	free(tag);
	/* the message's headers and the new set after them */
	all = x_calloc(in->nhdrs + 3, sizeof(*all));
	if (in->nhdrs > 0)
		memcpy(all, in->hdrs, in->nhdrs * sizeof(*all));
	all[in->nhdrs].name = (char *)ARC_SEAL_AAR;
	all[in->nhdrs].value = out->aar;
	all[in->nhdrs + 1].name = (char *)ARC_SEAL_AMS;
	all[in->nhdrs + 1].value = out->ams;
	all[in->nhdrs + 2].name = (char *)ARC_SEAL_AS;
	all[in->nhdrs + 2].value = v->data;
	if (out->cv == MILTER_ARC_CV_PASS) {
		/* sets 1..N-1 as found, in RFC order */
		milter_arc_chain_check(in->hdrs, in->nhdrs, c);
		if (c->result != MILTER_ARC_PASS
		    || c->n + 1 != out->instance) {
			snprintf(why, whylen, "the chain's structure does "
				 "not pass");
			goto out;
		}
		top = out->instance;
	}
	/* cv=none: the only set; cv=fail: the new set alone (5.1.2) */
	c->sets[top].aar = in->nhdrs + 1;
	c->sets[top].ams = in->nhdrs + 2;
	c->sets[top].as = in->nhdrs + 3;
	memset(&seal, 0, sizeof(seal));
	seal.b_start = seal.b_end = v->len;	/* b= empty, last */
	milter_arc_seal_hdata(c, all, top, &seal, &hd);
	ret = milter_arc_seal_sign(in->key, &hd, &none, v, why, whylen);
out:
	milter_dkim_buf_free(&hd);
	free(all);
	free(c);
	return ret;
}

/* milter_arc_seal_make - the new set */
int
milter_arc_seal_make(const struct milter_arc_seal_in *in,
		     struct milter_arc_seal_out *out, char *why,
		     size_t whylen)
{
	struct milter_dkim_buf ams = { 0 }, as = { 0 };
	const char *reason;

	memset(out, 0, sizeof(*out));
	if (milter_arc_seal_plan(in->hdrs, in->nhdrs, in->result,
				 &out->instance, &out->cv, &reason) < 0) {
		snprintf(why, whylen, "%s", reason);
		return -1;
	}
	out->aar = x_asprintf("i=%u; %s", out->instance, in->authres);
	if (milter_arc_seal_ams(in, out->instance, &ams, why, whylen) < 0) {
		milter_dkim_buf_free(&ams);
		milter_arc_seal_out_free(out);
		return -1;
	}
	out->ams = ams.data;
	if (milter_arc_seal_as(in, out, &as, why, whylen) < 0) {
		milter_dkim_buf_free(&as);
		milter_arc_seal_out_free(out);
		return -1;
	}
	out->as = as.data;
	return 0;
}

/* milter_arc_seal_out_free - the values */
void
milter_arc_seal_out_free(struct milter_arc_seal_out *out)
{
	x_free(&out->aar);
	x_free(&out->ams);
	x_free(&out->as);
}
