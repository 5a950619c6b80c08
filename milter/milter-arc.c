/*++
 * NAME
 *	milter-arc 3
 * SUMMARY
 *	ARC (RFC 8617): a message's ARC sets and their chain's structure
 * DESCRIPTION
 *	See milter-arc.h.  The checks, in this order, the first failure
 *	deciding: the counts (more than MILTER_ARC_MAX headers of a kind
 *	fail before any is read); then each ARC header, top to bottom:
 *	its size, its instance (ARC-Seal and ARC-Message-Signature: a
 *	tag list, RFC 6376 section 3.2, with i=; ARC-Authentication-
 *	Results: "i=N;" before the Authentication-Results payload, RFC
 *	8617 section 4.1.1), a second header of its kind at the same
 *	instance; then the instances 1..N, each complete; then the
 *	seals' cv=, newest first: fail anywhere fails, and instance 1
 *	must say none, every later one pass (section 5.2 step 3).
 *--*/
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "milter-arc.h"
#include "milter-dkim-canon.h"
#include "xalloc.h"

enum milter_arc_kind {
	MILTER_ARC_K_AS,
	MILTER_ARC_K_AMS,
	MILTER_ARC_K_AAR,
	MILTER_ARC_K_OTHER,
};

/* milter_arc_kind - which ARC header name is */
static enum milter_arc_kind
milter_arc_kind(const char *name)
{
	if (strcasecmp(name, "ARC-Seal") == 0)
		return MILTER_ARC_K_AS;
	if (strcasecmp(name, "ARC-Message-Signature") == 0)
		return MILTER_ARC_K_AMS;
	if (strcasecmp(name, "ARC-Authentication-Results") == 0)
		return MILTER_ARC_K_AAR;
	return MILTER_ARC_K_OTHER;
}

/* milter_arc_aar_instance - the i= of an ARC-Authentication-Results */
int
milter_arc_aar_instance(const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	int n = 0, digits = 0;

	while (MILTER_DKIM_FWS(*p))
		p++;
	if (*p != 'i' && *p != 'I')
		return -1;
	p++;
	while (MILTER_DKIM_FWS(*p))
		p++;
	if (*p++ != '=')
		return -1;
	while (MILTER_DKIM_FWS(*p))
		p++;
	for (; isdigit(*p); p++)
		if (++digits > 3)
			return -1;	/* RFC: 1*2DIGIT; 3 reads i=100 */
		else
			n = n * 10 + (*p - '0');
	if (digits == 0)
		return -1;
	while (MILTER_DKIM_FWS(*p))
		p++;
	return *p == ';' ? n : -1;
}

/* milter_arc_tag_instance - the i= of a tag-list ARC header and, for a
 * seal, its cv=; the instance, or -1 (*why: the reason) */
static int
milter_arc_tag_instance(const char *value, int seal, enum milter_arc_cv *cv,
			enum milter_arc_reason *why)
{
	struct milter_dkim_tags tl;
	const struct milter_dkim_tag *t;
	long long n;

	if (milter_dkim_tags_parse(value, &tl) != MILTER_DKIM_E_OK) {
		*why = MILTER_ARC_R_SYNTAX;
		return -1;
	}
	if ((t = milter_dkim_tag_find(&tl, "i")) == NULL
	    || (n = milter_dkim_tag_num(t, 3)) < 0) {
		*why = MILTER_ARC_R_INSTANCE;
		return -1;
	}
	if (seal) {
		t = milter_dkim_tag_find(&tl, "cv");
		*cv = t == NULL ? MILTER_ARC_CV_UNKNOWN
			: milter_dkim_tag_is(t, "none") ? MILTER_ARC_CV_NONE
			: milter_dkim_tag_is(t, "pass") ? MILTER_ARC_CV_PASS
			: milter_dkim_tag_is(t, "fail") ? MILTER_ARC_CV_FAIL
			: MILTER_ARC_CV_UNKNOWN;
	}
	return (int)n;
}

/* milter_arc_fail - the chain fails at instance (0: not known) */
static void
milter_arc_fail(struct milter_arc_chain *c, enum milter_arc_reason why,
		unsigned instance)
{
	c->result = MILTER_ARC_FAIL;
	c->reason = why;
	c->failed = instance;
}

/* milter_arc_collect - the ARC headers into their sets; 0, or -1 when
 * the chain has failed */
static int
milter_arc_collect(const struct milter_header *hdrs, size_t nhdrs,
		   struct milter_arc_chain *c)
{
	enum milter_arc_kind k;
	enum milter_arc_reason why = MILTER_ARC_R_OK;
	enum milter_arc_cv cv = MILTER_ARC_CV_UNKNOWN;
	struct milter_arc_set *set;
	size_t h, *slot;
	int i;

	for (h = 0; h < nhdrs; h++) {
		if ((k = milter_arc_kind(hdrs[h].name)) == MILTER_ARC_K_OTHER)
			continue;
		if (strlen(hdrs[h].value) > MILTER_ARC_HSIZE) {
			milter_arc_fail(c, MILTER_ARC_R_HSIZE, 0);
			return -1;
		}
		if (k == MILTER_ARC_K_AAR) {
			if ((i = milter_arc_aar_instance(hdrs[h].value)) < 0)
				why = MILTER_ARC_R_SYNTAX;
		} else {
			i = milter_arc_tag_instance(hdrs[h].value,
						    k == MILTER_ARC_K_AS,
						    &cv, &why);
		}
		if (i < 0) {
			milter_arc_fail(c, why, 0);
			return -1;
		}
		if (i < 1 || i > MILTER_ARC_MAX) {
			milter_arc_fail(c, MILTER_ARC_R_INSTANCE, 0);
			return -1;
		}
		set = &c->sets[i];
		slot = k == MILTER_ARC_K_AS ? &set->as
			: k == MILTER_ARC_K_AMS ? &set->ams : &set->aar;
		if (*slot != 0) {
			milter_arc_fail(c, MILTER_ARC_R_DUPLICATE, (unsigned)i);
			return -1;
		}
		*slot = h + 1;
		if (k == MILTER_ARC_K_AS)
			set->cv = cv;
		if ((unsigned)i > c->n)
			c->n = (unsigned)i;
	}
	return 0;
}

/* milter_arc_chain_check - the ARC sets of hdrs and their structure */
void
milter_arc_chain_check(const struct milter_header *hdrs, size_t nhdrs,
		       struct milter_arc_chain *c)
{
	size_t h, count[MILTER_ARC_K_OTHER] = { 0, 0, 0 };
	enum milter_arc_kind k;
	struct milter_arc_set *set;
	unsigned i;

	memset(c, 0, sizeof(*c));
	for (h = 0; h < nhdrs; h++)
		if ((k = milter_arc_kind(hdrs[h].name)) != MILTER_ARC_K_OTHER)
			count[k]++;
	if (count[0] + count[1] + count[2] == 0)
		return;				/* none */
	for (k = MILTER_ARC_K_AS; k < MILTER_ARC_K_OTHER; k++)
		if (count[k] > MILTER_ARC_MAX) {
			milter_arc_fail(c, MILTER_ARC_R_TOOMANY, 0);
			return;
		}
	if (milter_arc_collect(hdrs, nhdrs, c) < 0)
		return;
	for (i = 1; i <= c->n; i++) {
		set = &c->sets[i];
		if (set->as == 0 && set->ams == 0 && set->aar == 0) {
			milter_arc_fail(c, MILTER_ARC_R_GAP, i);
			return;
		}
		if (set->as == 0 || set->ams == 0 || set->aar == 0) {
			milter_arc_fail(c, MILTER_ARC_R_MISSING, i);
			return;
		}
	}
	for (i = c->n; i >= 1; i--)
		if (c->sets[i].cv == MILTER_ARC_CV_FAIL) {
			milter_arc_fail(c, MILTER_ARC_R_CVFAIL, i);
			return;
		}
	for (i = c->n; i >= 1; i--)
		if (c->sets[i].cv != (i == 1 ? MILTER_ARC_CV_NONE
				      : MILTER_ARC_CV_PASS)) {
			milter_arc_fail(c, MILTER_ARC_R_CV, i);
			return;
		}
	c->result = MILTER_ARC_PASS;
}

/* milter_arc_seal_parse - an ARC-Seal value into sig */
enum milter_dkim_err
milter_arc_seal_parse(const char *value, struct milter_dkim_vsig *sig)
{
	struct milter_dkim_tags tl;
	const struct milter_dkim_tag *t;
	enum milter_dkim_err err;
	enum milter_dkim_alg a;
	const char *name;

	memset(sig, 0, sizeof(*sig));
	sig->l = sig->t = sig->x = -1;
	sig->hcanon = sig->bcanon = MILTER_DKIM_RELAXED;
	if ((err = milter_dkim_tags_parse(value, &tl)) != MILTER_DKIM_E_OK)
		return sig->err = err;
	if ((t = milter_dkim_tag_find(&tl, "a")) != NULL)
		for (a = MILTER_DKIM_A_RSA_SHA1;
		     a <= MILTER_DKIM_A_ED25519_SHA256; a++)
			if ((name = milter_dkim_alg_name(a)) != NULL
			    && milter_dkim_tag_is(t, name))
				sig->alg = a;
	if (milter_dkim_tag_find(&tl, "i") == NULL
	    || milter_dkim_tag_find(&tl, "d") == NULL
	    || milter_dkim_tag_find(&tl, "s") == NULL
	    || (t = milter_dkim_tag_find(&tl, "b")) == NULL)
		return sig->err = MILTER_DKIM_E_MISSING;
	if (sig->alg == MILTER_DKIM_A_NONE)
		return sig->err = MILTER_DKIM_E_ALG;
	if (milter_dkim_tag_find(&tl, "h") != NULL)
		return sig->err = MILTER_DKIM_E_SYNTAX;	/* section 4.1.3 */
	if ((sig->b = milter_dkim_tag_b64(t->val, t->vlen, &sig->blen))
	    == NULL || sig->blen == 0)
		return sig->err = MILTER_DKIM_E_BASE64;
	sig->b_start = t->vstart;
	sig->b_end = t->vend;
	sig->d = milter_dkim_tag_dup(milter_dkim_tag_find(&tl, "d"));
	sig->s = milter_dkim_tag_dup(milter_dkim_tag_find(&tl, "s"));
	sig->instance = (unsigned)milter_dkim_tag_num(
		milter_dkim_tag_find(&tl, "i"), 3);
	return sig->err = MILTER_DKIM_E_OK;
}

/* milter_arc_seal_hdata - what the seal of instance i signs */
void
milter_arc_seal_hdata(const struct milter_arc_chain *c,
		      const struct milter_header *hdrs, unsigned i,
		      const struct milter_dkim_vsig *seal,
		      struct milter_dkim_buf *out)
{
	const struct milter_header *h;
	const char *v;
	char *nob;
	size_t len;
	unsigned j;

	for (j = 1; j <= i; j++) {
		h = &hdrs[c->sets[j].aar - 1];
		milter_dkim_canon_header(out, MILTER_DKIM_RELAXED, h->name,
					 h->value, 1);
		h = &hdrs[c->sets[j].ams - 1];
		milter_dkim_canon_header(out, MILTER_DKIM_RELAXED, h->name,
					 h->value, 1);
		h = &hdrs[c->sets[j].as - 1];
		if (j < i) {
			milter_dkim_canon_header(out, MILTER_DKIM_RELAXED,
						 h->name, h->value, 1);
			continue;
		}
		/* the seal itself, b= empty */
		v = h->value;
		len = strlen(v);
		nob = x_malloc(len + 1);
		memcpy(nob, v, seal->b_start);
		memcpy(nob + seal->b_start, v + seal->b_end,
		       len - seal->b_end + 1);
		milter_dkim_canon_header(out, MILTER_DKIM_RELAXED, h->name,
					 nob, 0);
		free(nob);
	}
}

/* milter_arc_ams_check - the newest AMS must pass */
void
milter_arc_ams_check(struct milter_arc_chain *c,
		     const struct milter_dkim_verifier *v)
{
	size_t k;

	if (c->result != MILTER_ARC_PASS)
		return;
	for (k = 0; k < v->n; k++)
		if (v->sigs[k].hindex + 1 == c->sets[c->n].ams) {
			if ((c->err = v->sigs[k].res.err) == MILTER_DKIM_E_OK)
				return;
			c->key_bits = v->sigs[k].res.key_bits;
			c->key_ebits = v->sigs[k].res.key_ebits;
			break;
		}
	if (k == v->n)
		c->err = MILTER_DKIM_E_MISSING;	/* beyond the verifier's max */
	milter_arc_fail(c, MILTER_ARC_R_AMS, c->n);
}

/* milter_arc_seals_check - every seal, newest to oldest */
void
milter_arc_seals_check(struct milter_arc_chain *c,
		       const struct milter_header *hdrs,
		       const struct milter_dkim_vopts *o,
		       milter_dkim_lookup_fn lookup, void *ctx)
{
	struct milter_dkim_vsig seal;
	struct milter_dkim_vkey key;
	struct milter_dkim_buf hd;
	enum milter_dkim_err err;
	unsigned i;

	if (c->result != MILTER_ARC_PASS)
		return;
	for (i = c->n; i >= 1; i--) {
		memset(&hd, 0, sizeof(hd));
		memset(&key, 0, sizeof(key));
		err = milter_arc_seal_parse(hdrs[c->sets[i].as - 1].value,
					    &seal);
		if (err == MILTER_DKIM_E_OK)
			err = milter_dkim_key_lookup(&seal, lookup, ctx, &key);
		if (err == MILTER_DKIM_E_OK)
			err = milter_dkim_key_size(o, &key);
		if (err == MILTER_DKIM_E_OK) {
			milter_arc_seal_hdata(c, hdrs, i, &seal, &hd);
			err = milter_dkim_sig_check(&seal, &key, &hd, NULL, 0);
		}
		milter_dkim_buf_free(&hd);
		milter_dkim_key_free(&key);
		milter_dkim_sig_free(&seal);
		if (err != MILTER_DKIM_E_OK) {
			c->err = err;
			c->key_bits = key.bits;
			c->key_ebits = key.ebits;
			milter_arc_fail(c, MILTER_ARC_R_SEAL, i);
			return;
		}
	}
}

/* milter_arc_result_str - "none", "pass", "fail" */
const char *
milter_arc_result_str(enum milter_arc_result r)
{
	switch (r) {
	case MILTER_ARC_NONE:
		return "none";
	case MILTER_ARC_PASS:
		return "pass";
	case MILTER_ARC_FAIL:
		break;
	}
	return "fail";
}

/* milter_arc_reason_str - the comment for a reason */
const char *
milter_arc_reason_str(enum milter_arc_reason r)
{
	static const char *const s[] = {
		[MILTER_ARC_R_OK] = "",
		[MILTER_ARC_R_TOOMANY] = "too many ARC sets",
		[MILTER_ARC_R_HSIZE] = "ARC header too long",
		[MILTER_ARC_R_SYNTAX] = "ARC header syntax",
		[MILTER_ARC_R_INSTANCE] = "bad or missing i=",
		[MILTER_ARC_R_DUPLICATE] = "duplicate ARC header",
		[MILTER_ARC_R_MISSING] = "incomplete ARC set",
		[MILTER_ARC_R_GAP] = "missing ARC instance",
		[MILTER_ARC_R_CV] = "cv= against its instance",
		[MILTER_ARC_R_CVFAIL] = "cv=fail",
		[MILTER_ARC_R_AMS] = "ARC-Message-Signature does not pass",
		[MILTER_ARC_R_SEAL] = "ARC-Seal does not pass",
	};

	if ((size_t)r >= sizeof(s) / sizeof(s[0]))
		return "unknown";
	return s[r];
}

/* milter_arc_top - the highest readable i= among the ARC headers of
 * hdrs (0: none), and whether an ARC-Seal at that instance says
 * cv=fail (the sealer's first step, RFC 8617 section 5.1): read even
 * when the chain's structure is broken, for the sealer */
unsigned
milter_arc_top(const struct milter_header *hdrs, size_t nhdrs,
	       int *top_cvfail)
{
	enum milter_arc_reason why;
	enum milter_arc_cv cv;
	enum milter_arc_kind k;
	unsigned top = 0;
	size_t h;
	int i;

	*top_cvfail = 0;
	for (h = 0; h < nhdrs; h++) {
		if ((k = milter_arc_kind(hdrs[h].name)) == MILTER_ARC_K_OTHER
		    || strlen(hdrs[h].value) > MILTER_ARC_HSIZE)
			continue;
		cv = MILTER_ARC_CV_UNKNOWN;
		i = k == MILTER_ARC_K_AAR
		    ? milter_arc_aar_instance(hdrs[h].value)
		    : milter_arc_tag_instance(hdrs[h].value,
					      k == MILTER_ARC_K_AS, &cv, &why);
		if (i <= 0)
			continue;
		if ((unsigned)i > top) {
			top = (unsigned)i;
			*top_cvfail = 0;
		}
		if ((unsigned)i == top && k == MILTER_ARC_K_AS
		    && cv == MILTER_ARC_CV_FAIL)
			*top_cvfail = 1;
	}
	return top;
}
