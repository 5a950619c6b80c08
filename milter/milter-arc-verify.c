/*++
 * NAME
 *	milter-arc-verify 3
 * SUMMARY
 *	the ARC stage: RFC 8617 verification in the message's one pass
 * DESCRIPTION
 *	Runs after "dkim" and before "dmarc" (milter-pipeline.c), when
 *	milter.arc is on, on every message: also on one being DKIM-signed,
 *	because a forwarder (a list server among our internal_networks)
 *	may sign and seal one message, and the seal needs the chain's
 *	state.  Mail without ARC headers costs a scan of the header names.
 *
 *	At end of headers the chain's structure is checked
 *	(milter_arc_chain_check: sets, instances, cv=, header sizes); only
 *	a chain that passes it gets a verifier for its
 *	ARC-Message-Signature headers (milter-dkim-verify.c with
 *	MILTER_DKIM_V_ARC), fed each body chunk as DKIM's is, in the same
 *	pass: nothing is buffered, and a body hash DKIM's verifier computes
 *	anyway (the same canonicalization, hash and l=: relaxed SHA-256 in
 *	the common case) is taken from it, not computed a second time
 *	(milter_dkim_verifier_share).  At end of message the AMS are checked
 *	(the newest must pass), then every ARC-Seal, newest to oldest
 *	(milter_arc_seals_check).
 *
 *	Budget: the key lookups of the AMS and of the seals go through
 *	milter_arc_msg_lookup(), the DKIM stage's lookup logged as ARC's
 *	("arc dns=... name=..." when one fails): the same key cache,
 *	the same resolver, and the message's DKIM counter, so that DKIM
 *	and ARC together ask at most max_dns_lookups queries and share
 *	the time budget (max_check_time) with SPF.  Each signature check
 *	asks for its key, so the lookup cap caps the signature checks too.
 *	The sets are capped at MILTER_ARC_MAX (50), each ARC header at
 *	MILTER_ARC_HSIZE bytes, the AMS verified at MILTER_DKIM_MAX_SIGS:
 *	any of these over its cap fails the chain.
 *
 *	Result, in our Authentication-Results: arc=none, arc=pass with
 *	smtp.remote-ip and, when an AMS older than the newest still
 *	verifies, header.oldest-pass (RFC 8617 section 5.2 step 6: the
 *	lowest instance down to which every AMS verifies), or arc=fail
 *	with a comment naming the reason and the instance.  The typed
 *	result stays in m->arc_results for DMARC and the seal.  ARC has
 *	no action of its own: a failed chain only means no ARC credit.
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter.h"
#include "milter-arc.h"
#include "milter-dkim-verify.h"
#include "str.h"
#include "xalloc.h"

/* A message's ARC verification in progress. */
struct milter_arc {
	struct milter_dkim_verifier *v;	/* NULL: no chain worth verifying */
	int eoh_done;
};

/* milter_arc_verify_state - the message's state, NULL if not verifying */
static struct milter_arc *
milter_arc_verify_state(struct milter_msg *m)
{
	if (!m->conn->mc->arc)
		return NULL;
	if (m->arc == NULL)
		m->arc = x_calloc(1, sizeof(*m->arc));
	return m->arc;
}

/* milter_arc_verify_eoh - end of headers: the chain's structure, and a
 * verifier for its AMS if it has a chain worth verifying */
void
milter_arc_verify_eoh(struct milter_msg *m)
{
	struct milter_arc *a = milter_arc_verify_state(m);
	struct milter_arc_chain *c = &m->arc_results.chain;
	struct milter_dkim_vopts o = { "ARC-Message-Signature",
				       MILTER_DKIM_V_ARC,
				       MILTER_DKIM_MAX_SIGS, 0 };
	struct milter_dkim_verifier *dv;

	if (a == NULL || a->eoh_done)
		return;
	a->eoh_done = 1;
	milter_arc_chain_check(m->headers, m->nheaders, c);
	if (c->result != MILTER_ARC_PASS)
		return;
	o.min_key_bits = m->conn->mc->dkim_min_key_bits;
	o.max_key_bits = m->conn->mc->dkim_max_key_bits;
	a->v = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(a->v, m->headers, m->nheaders);
	/* DKIM's stage runs first and is fed every chunk first: its body
	 * hashes of the same kind serve the AMS too */
	if ((dv = milter_dkim_msg_verifier(m)) != NULL)
		milter_dkim_verifier_share(a->v, dv);
}

/* milter_arc_msg_verifier - the AMS verifier, NULL if none */
struct milter_dkim_verifier *
milter_arc_msg_verifier(struct milter_msg *m)
{
	struct milter_arc *a = milter_arc_verify_state(m);

	if (a != NULL && !a->eoh_done)
		milter_arc_verify_eoh(m);	/* before the first chunk */
	return a != NULL ? a->v : NULL;
}

/* milter_arc_verify_body - a body chunk, hashed as it comes */
void
milter_arc_verify_body(struct milter_msg *m, const unsigned char *chunk,
		       size_t len)
{
	struct milter_arc *a = milter_arc_verify_state(m);

	if (a == NULL || len == 0)
		return;
	if (!a->eoh_done)
		milter_arc_verify_eoh(m);
	if (a->v != NULL)
		milter_dkim_verifier_body(a->v, chunk, len);
}

/* milter_arc_verify_ams - the result of the AMS of instance i in v:
 * 1 pass, 0 not (or not verified) */
static int
milter_arc_verify_ams(const struct milter_arc_chain *c,
		      const struct milter_dkim_verifier *v, unsigned i)
{
	size_t k;

	for (k = 0; k < v->n; k++)
		if (v->sigs[k].hindex + 1 == c->sets[i].ams)
			return v->sigs[k].res.err == MILTER_DKIM_E_OK;
	return 0;
}

/* milter_arc_verify_oldest - RFC 8617 section 5.2 step 6: from the
 * newest AMS down, the lowest instance before the first that fails */
static unsigned
milter_arc_verify_oldest(const struct milter_arc_chain *c,
			 const struct milter_dkim_verifier *v)
{
	unsigned i, oldest = c->n;

	for (i = c->n - 1; i >= 1; i--) {
		if (!milter_arc_verify_ams(c, v, i))
			break;
		oldest = i;
	}
	return oldest;
}

/* milter_arc_verify_sealer - the d= of the newest seal, lower-cased */
static void
milter_arc_verify_sealer(struct milter_msg *m)
{
	struct milter_arc_results *r = &m->arc_results;
	struct milter_dkim_vsig seal;

	r->sealer[0] = '\0';
	if (r->as_index == 0)
		return;
	if (milter_arc_seal_parse(m->headers[r->as_index - 1].value, &seal)
	    == MILTER_DKIM_E_OK && seal.d != NULL
	    && strlen(seal.d) < sizeof(r->sealer)) {
		snprintf(r->sealer, sizeof(r->sealer), "%s", seal.d);
		str_lower(r->sealer);
	}
	milter_dkim_sig_free(&seal);
}

/* milter_arc_verify_keysize - for a key refused for its size (or its
 * public exponent's), the sizes and the bounds for the log line, as
 * DKIM logs them (the A-R says only "key too large/small"); else "" */
static void
milter_arc_verify_keysize(const struct milter_msg *m,
			  const struct milter_arc_chain *c, char *out,
			  size_t outlen)
{
	const struct milter_conf *mc = m->conn->mc;

	out[0] = '\0';
	if (c->err == MILTER_DKIM_E_KEYLARGE
	    || c->err == MILTER_DKIM_E_KEYSMALL
	    || c->err == MILTER_DKIM_E_KEYEXP)
		snprintf(out, outlen, " bits=%d dkim_min_key_bits=%d "
			 "dkim_max_key_bits=%d exponent_bits=%d", c->key_bits,
			 mc->dkim_min_key_bits, mc->dkim_max_key_bits,
			 c->key_ebits);
}

/* milter_arc_verify_report - the A-R result, the summary, the log */
static void
milter_arc_verify_report(struct milter_msg *m)
{
	const struct milter_arc_results *r = &m->arc_results;
	const struct milter_arc_chain *c = &r->chain;
	struct authres_result *res;
	const char *word = milter_arc_result_str(r->result);
	char why[160], num[16], sizes[128];

	res = milter_msg_result(m, "arc", word);
	why[0] = '\0';
	if (r->result == MILTER_ARC_FAIL) {
		if (c->failed > 0)
			snprintf(why, sizeof(why), "%s, i=%u%s%s",
				 milter_arc_reason_str(c->reason), c->failed,
				 c->err != MILTER_DKIM_E_OK ? ": " : "",
				 c->err != MILTER_DKIM_E_OK
				 ? milter_dkim_err_str(c->err) : "");
		else
			snprintf(why, sizeof(why), "%s",
				 milter_arc_reason_str(c->reason));
		authres_set_comment(res, why);
	}
	if (r->result != MILTER_ARC_NONE && m->conn->client_addr != NULL)
		authres_prop_add(res, "smtp", "remote-ip",
				 m->conn->client_addr);
	if (r->result == MILTER_ARC_PASS && r->oldest_pass > 0) {
		snprintf(num, sizeof(num), "%u", r->oldest_pass);
		authres_prop_add(res, "header", "oldest-pass", num);
	}
	if (r->result == MILTER_ARC_FAIL) {
		milter_msg_summary(m, "arc=fail(%s)", why);
		milter_arc_verify_keysize(m, c, sizes, sizeof(sizes));
		qid_info(m->qid, "arc result=fail sets=%u reason=\"%s\"%s",
			 c->n, why, sizes);
	} else if (r->result == MILTER_ARC_PASS) {
		milter_msg_summary(m, "arc=pass(i=%u sealer=%s)", r->n,
				   r->sealer);
	}	/* none: most mail, nothing worth a word in the log line */
}

/* milter_arc_verify_eom - the signatures, the result for later stages */
void
milter_arc_verify_eom(struct milter_msg *m)
{
	struct milter_arc *a = milter_arc_verify_state(m);
	struct milter_arc_results *r = &m->arc_results;
	struct milter_arc_chain *c = &r->chain;
	unsigned oldest;

	if (a == NULL)
		return;
	if (!a->eoh_done)
		milter_arc_verify_eoh(m);
	r->done = 1;
	if (a->v != NULL) {
		milter_dkim_verifier_eom(a->v, m->headers, m->nheaders,
					 milter_arc_msg_lookup, m, 0);
		milter_arc_ams_check(c, a->v);
		milter_arc_seals_check(c, m->headers, &a->v->o,
				       milter_arc_msg_lookup, m);
		if (c->result == MILTER_ARC_PASS
		    && (oldest = milter_arc_verify_oldest(c, a->v)) < c->n)
			r->oldest_pass = oldest;
	}
	r->result = c->result;
	r->reason = c->reason;
	r->n = c->n;
	r->cv = c->result == MILTER_ARC_NONE ? MILTER_ARC_CV_NONE
		: c->result == MILTER_ARC_PASS ? MILTER_ARC_CV_PASS
		: MILTER_ARC_CV_FAIL;
	if (c->n >= 1 && c->n <= MILTER_ARC_MAX) {
		r->as_index = c->sets[c->n].as;
		r->ams_index = c->sets[c->n].ams;
		r->aar_index = c->sets[c->n].aar;
	}
	milter_arc_verify_sealer(m);
	milter_arc_verify_report(m);
}

/* milter_arc_verify_free - the verifier */
void
milter_arc_verify_free(struct milter_msg *m)
{
	if (m->arc == NULL)
		return;
	milter_dkim_verifier_free(&m->arc->v);
	x_free(&m->arc);
}
