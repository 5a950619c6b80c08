/*++
 * NAME
 *	milter-arc-sealer 3
 * SUMMARY
 *	the "arc-seal" stage: our ARC set on the mail we pass on
 * DESCRIPTION
 *	The last stage of the pass (milter-pipeline.c), after every stage
 *	that can change the verdict or the A-R, so that the
 *	ARC-Authentication-Results carries our final A-R.  It acts when
 *	milter.arc_seal_domain names a domain of the key table
 *	(milter.dkim_key_table; milter_gen_build refuses a configuration
 *	whose domain has no key there).  Every message that we accept
 *	(or quarantine with a header) is sealed: a relayed one extends
 *	its chain, or starts one at i=1; one that we DKIM-sign is signed
 *	first and sealed after (its AMS covers our DKIM-Signature).
 *
 *	The AMS's bh= is the relaxed SHA-256 of the whole body, which
 *	another stage usually computes already: the body is hashed once.
 *	At end of headers (milter_arc_sealer_source) the seal takes, in
 *	this order, the DKIM signer's body hash when it signs relaxed,
 *	the DKIM verifier's when a DKIM-Signature asks for that hash, the
 *	AMS verifier's when an ARC-Message-Signature does
 *	(milter_dkim_verifier_body_find); only when none does is the body
 *	hashed here, as it comes, on the same canonicaliser
 *	(milter-dkim-canon.c).  At end of message
 *	the outcome so far is built once (milter_outcome_build) and
 *	applied to the headers (milter_outcome_view): the AMS signs the
 *	headers as the MTA will pass them on, our A-R, Received-SPF and
 *	DKIM-Signature included, and the AAR is that outcome's A-R, byte
 *	for byte.  The chain's verified result is the ARC stage's
 *	(m->arc_results); a chain that stage did not verify (milter.arc
 *	off) is left as it is: not sealed,
 *	since we can vouch for it neither way; so is one that failed only
 *	because a key lookup failed (temperror: a cv=fail seal would end
 *	a good chain for a DNS hiccup here).  Not sealed either (one
 *	log line saying why, the message passes): a rejected, deferred
 *	or discarded message, headers beyond the caps (the AMS would not
 *	cover what leaves), a chain whose newest seal says cv=fail, 50
 *	sets already, OpenSSL refusing.
 *
 *	Metrics: elemta_milter_arc_seals_total{result} (sealed,
 *	not_sealed, failed).
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-arc-seal.h"
#include "milter-dkim-canon.h"
#include "milter-dkim-sign.h"
#include "milter-dkim-verify.h"
#include "milter-keys.h"
#include "xalloc.h"

/* Where a seal's body hash comes from. */
enum milter_arc_sealer_src {
	MILTER_ARC_SEALER_UNDECIDED,
	MILTER_ARC_SEALER_OWN,		/* hashed here (body) */
	MILTER_ARC_SEALER_SIGN,		/* the DKIM signer's */
	MILTER_ARC_SEALER_DKIM,		/* the DKIM verifier's (vbody) */
	MILTER_ARC_SEALER_ARC,		/* the AMS verifier's (vbody) */
};

/* A message's seal. */
struct milter_arc_sealer {
	enum milter_arc_sealer_src src;
	int vbody;			/* the verifier's body hash */
	struct milter_dkim_body *body;	/* OWN: relaxed; NULL: no SHA-256 */
	struct milter_arc_seal_out out;
	int sealed;
};

static const char *const milter_arc_sealer_names[] = {
	"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal",
};

/* elemta_milter_arc_seals_total{result} */
static struct metric *m_seals;

/* milter_arc_sealer_init - the metric */
void
milter_arc_sealer_init(void)
{
	m_seals = metrics_counter("elemta_milter_arc_seals_total",
				  "ARC sets added, by result (sealed, "
				  "not_sealed: the chain or the message "
				  "forbids it, failed: OpenSSL)", "result");
}

/* milter_arc_sealer_count - the metric, if registered */
static void
milter_arc_sealer_count(const char *result)
{
	if (m_seals != NULL)
		metric_inc(m_seals, result);
}

/* milter_arc_sealer_state - the message's seal, when it is to be
 * sealed at all; created once */
static struct milter_arc_sealer *
milter_arc_sealer_state(struct milter_msg *m)
{
	if (m->conn->mc->arc_seal_domain == NULL)
		return NULL;
	if (m->arc_seal == NULL)
		m->arc_seal = x_calloc(1, sizeof(*m->arc_seal));
	return m->arc_seal;
}

/* milter_arc_sealer_donor - the verifier v's whole-body relaxed hash:
 * 1 if it has one (its index in s), else 0 */
static int
milter_arc_sealer_donor(struct milter_arc_sealer *s,
			const struct milter_dkim_verifier *v)
{
	if (v == NULL)
		return 0;
	s->vbody = milter_dkim_verifier_body_find(v, MILTER_DKIM_RELAXED);
	return s->vbody >= 0;
}

/* milter_arc_sealer_source - where the body hash comes from: another
 * stage's (fed every chunk before this one), or this one's; decided
 * once, before the first body chunk */
static void
milter_arc_sealer_source(struct milter_msg *m, struct milter_arc_sealer *s)
{
	if (s->src != MILTER_ARC_SEALER_UNDECIDED)
		return;
	/* a body before the end of headers: who hashes it is not known */
	if (m->mode == MILTER_MODE_UNDECIDED)
		s->src = MILTER_ARC_SEALER_OWN;
	else if (milter_dkim_sign_body_canon(m) == MILTER_DKIM_RELAXED)
		s->src = MILTER_ARC_SEALER_SIGN;
	else if (milter_arc_sealer_donor(s, milter_dkim_msg_verifier(m)))
		s->src = MILTER_ARC_SEALER_DKIM;
	else if (milter_arc_sealer_donor(s, milter_arc_msg_verifier(m)))
		s->src = MILTER_ARC_SEALER_ARC;
	else
		s->src = MILTER_ARC_SEALER_OWN;
	if (s->src == MILTER_ARC_SEALER_OWN)
		s->body = milter_dkim_body_new(MILTER_DKIM_RELAXED);
}

/* milter_arc_sealer_eoh - end of headers: the body hash's source */
void
milter_arc_sealer_eoh(struct milter_msg *m)
{
	struct milter_arc_sealer *s = milter_arc_sealer_state(m);

	if (s != NULL)
		milter_arc_sealer_source(m, s);
}

/* milter_arc_sealer_body - a body chunk, hashed relaxed when no other
 * stage hashes it so */
void
milter_arc_sealer_body(struct milter_msg *m, const unsigned char *chunk,
		       size_t len)
{
	struct milter_arc_sealer *s = milter_arc_sealer_state(m);

	if (s == NULL || len == 0)
		return;
	milter_arc_sealer_source(m, s);
	if (s->body != NULL)
		milter_dkim_body_update(s->body, chunk, len);
}

/* milter_arc_sealer_bh - the body hash, from its source; 0 or -1 */
static int
milter_arc_sealer_bh(struct milter_msg *m, struct milter_arc_sealer *s,
		     unsigned char bh[MILTER_DKIM_HASH_LEN])
{
	milter_arc_sealer_source(m, s);	/* no end of headers, no body */
	switch (s->src) {
	case MILTER_ARC_SEALER_SIGN:
		return milter_dkim_sign_body_hash(m, bh);
	case MILTER_ARC_SEALER_DKIM:
		return milter_dkim_verifier_body_hash(
			milter_dkim_msg_verifier(m), s->vbody, bh);
	case MILTER_ARC_SEALER_ARC:
		return milter_dkim_verifier_body_hash(
			milter_arc_msg_verifier(m), s->vbody, bh);
	default:
		return s->body != NULL ? milter_dkim_body_final(s->body, bh)
				       : -1;
	}
}

/* milter_arc_sealer_refused - why m is not sealed, or NULL */
static const char *
milter_arc_sealer_refused(const struct milter_msg *m)
{
	int top_cvfail;

	if (m->action == MILTER_REJECT || m->action == MILTER_TEMPFAIL
	    || m->action == MILTER_DISCARD)
		return "";			/* nothing of it is kept */
	if (m->headers_dropped > 0)
		return "headers beyond the caps";
	if (!m->arc_results.done
	    && milter_arc_top(m->headers, m->nheaders, &top_cvfail) > 0)
		return "the chain was not verified";
	/* a key lookup that failed says nothing of the chain: a cv=fail
	 * seal would end it for every later hop for a DNS hiccup here */
	if (m->arc_results.done && m->arc_results.result == MILTER_ARC_FAIL
	    && m->arc_results.chain.err == MILTER_DKIM_E_DNS)
		return "the chain's keys could not be looked up";
	return NULL;
}

/* milter_arc_sealer_authres - our A-R among o's edits, or NULL */
static const char *
milter_arc_sealer_authres(const struct milter_outcome *o)
{
	size_t i;

	for (i = o->nedits; i-- > 0;)
		if (o->edits[i].op == MILTER_EDIT_INSERT
		    && strcmp(o->edits[i].name, AUTHRES_HEADER) == 0)
			return o->edits[i].value;
	return NULL;
}

/* milter_arc_sealer_make - the seal of m with key k; 0, 1 when the
 * chain forbids it, -1 on error (why either way) */
static int
milter_arc_sealer_make(struct milter_msg *m, struct milter_arc_sealer *s,
		       const struct milter_key *k, char *why, size_t whylen)
{
	unsigned char bh[MILTER_DKIM_HASH_LEN];
	struct milter_arc_seal_in in;
	struct milter_outcome o;
	struct milter_header *view;
	enum milter_arc_cv cv;
	const char *no;
	unsigned inst;
	size_t nview;
	int rc;

	if (milter_arc_sealer_bh(m, s, bh) < 0) {
		snprintf(why, whylen, "the body hash failed");
		return -1;
	}
	milter_outcome_build(m, &o);
	milter_outcome_view(&o, m->headers, m->nheaders, &view, &nview);
	memset(&in, 0, sizeof(in));
	in.hdrs = view;
	in.nhdrs = nview;
	in.result = m->arc_results.done ? m->arc_results.result
					: MILTER_ARC_NONE;
	in.authres = milter_arc_sealer_authres(&o);
	in.bh = bh;
	in.key = k;
	in.sign_headers = m->conn->mc->dkim_sign_headers;
	in.t = milter_dkim_sign_now();
	if (milter_arc_seal_plan(in.hdrs, in.nhdrs, in.result, &inst, &cv,
				 &no) < 0) {
		snprintf(why, whylen, "%s", no);
		rc = 1;
	} else if (in.authres == NULL) {	/* a message kept has one */
		snprintf(why, whylen, "no Authentication-Results to copy");
		rc = -1;
	} else {
		rc = milter_arc_seal_make(&in, &s->out, why, whylen);
	}
	free(view);
	milter_outcome_free(&o);
	return rc;
}

/* milter_arc_sealer_eom - seal, or say why not */
void
milter_arc_sealer_eom(struct milter_msg *m)
{
	struct milter_arc_sealer *s = milter_arc_sealer_state(m);
	const char *domain = m->conn->mc->arc_seal_domain, *no;
	const struct milter_key *k;
	char why[256];
	int rc;

	if (s == NULL)
		return;
	if ((no = milter_arc_sealer_refused(m)) != NULL) {
		if (*no != '\0') {
			qid_info(m->qid, "arc-seal: not sealed: %s", no);
			milter_msg_summary(m, "arc-seal=none");
			milter_arc_sealer_count("not_sealed");
		}
		return;
	}
	if ((k = milter_arc_seal_key(m->conn->keys, domain)) == NULL) {
		/* the generation was checked; a key table reload without
		 * the domain would have been refused too */
		qid_warn(m->qid, "arc-seal: not sealed: no key of domain %s "
			 "in dkim_key_table", domain);
		milter_msg_summary(m, "arc-seal=failed");
		milter_arc_sealer_count("failed");
		return;
	}
	if ((rc = milter_arc_sealer_make(m, s, k, why, sizeof(why))) != 0) {
		/* the plan's refusals are the chain's, not errors */
		if (rc > 0) {
			qid_info(m->qid, "arc-seal: not sealed: %s", why);
			milter_msg_summary(m, "arc-seal=none");
			milter_arc_sealer_count("not_sealed");
		} else {
			qid_warn(m->qid, "arc-seal: not sealed: %s", why);
			milter_msg_summary(m, "arc-seal=failed");
			milter_arc_sealer_count("failed");
		}
		return;
	}
	s->sealed = 1;
	milter_arc_sealer_count("sealed");
	milter_msg_summary(m, "arc-seal=i=%u(cv=%s d=%s s=%s)",
			   s->out.instance, milter_arc_cv_str(s->out.cv),
			   k->domain, k->selector);
}

/* milter_arc_sealer_value - the i-th header to insert (see milter.h) */
const char *
milter_arc_sealer_value(const struct milter_msg *m, size_t i,
			const char **name)
{
	const struct milter_arc_sealer *s = m->arc_seal;

	if (s == NULL || !s->sealed || i > 2)
		return NULL;
	*name = milter_arc_sealer_names[i];
	return i == 0 ? s->out.aar : i == 1 ? s->out.ams : s->out.as;
}

/* milter_arc_sealer_free - the message's seal */
void
milter_arc_sealer_free(struct milter_msg *m)
{
	struct milter_arc_sealer *s = m->arc_seal;

	if (s == NULL)
		return;
	milter_dkim_body_free(&s->body);
	milter_arc_seal_out_free(&s->out);
	x_free(&m->arc_seal);
}
