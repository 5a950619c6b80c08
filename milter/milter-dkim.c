/*++
 * NAME
 *	milter-dkim 3
 * SUMMARY
 *	the DKIM verify stage (our verifier, key lookups through lib/dns)
 * DESCRIPTION
 *	See milter-dkim.h.  One verifier (milter-dkim-verify.c) per
 *	message, created at end of headers from the headers the message
 *	keeps (milter.h: the same ones, within the same caps, that were
 *	fed to libopendkim before), fed each body chunk as it comes, and
 *	asked for its results at end of message.
 *
 *	DNS: each signature's key record is asked of the message's
 *	resolver (its connection's) with the message's DKIM counter, so
 *	the cap on lookups and the time budget shared with SPF apply as
 *	they did; the first TXT record of the answer is the key record,
 *	its strings joined.  A timeout, SERVFAIL or the cap is temperror;
 *	NXDOMAIN and NODATA are permerror ("key not found in DNS").  The
 *	parsed keys are kept by the verifier's key cache (above lib/dns:
 *	see milter-dkim-verify.h).
 *
 *	Results (RFC 8601 section 2.7.1, RFC 6376 section 6.1):
 *	pass (header signature and body hash good), fail (signature or
 *	body hash mismatch, revoked key), permerror (no key record,
 *	syntax errors in the signature or key, unsupported algorithm,
 *	expired or future, an RSA key below dkim_min_key_bits or above
 *	dkim_max_key_bits (logged with its size, refused before any RSA
 *	operation), and rsa-sha1
 *	even when it verifies: RFC 8301 section 3.1), temperror (key
 *	lookup failed), none (no signature).  Each signature's result
 *	carries header.d, header.i, header.s, header.a and header.b (first
 *	8 characters of b=, RFC 6008); failures carry the reason as a
 *	comment.
 *
 *	A message being signed instead (milter-dkim-sign.c decides at end
 *	of headers) is not verified.
 *
 *	Actions (the On-* knobs of OpenDKIM), only when no signature
 *	passed: dkim_on_no_signature, dkim_on_bad_signature,
 *	dkim_on_key_not_found, dkim_on_dns_error; the strongest applies.
 *	Reject is 550 5.7.20, tempfail 451 4.7.20 (RFC 7372).
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "milter.h"
#include "milter-dkim.h"
#include "milter-dkim-verify.h"
#include "xalloc.h"

/* A message's verifier. */
struct milter_dkim {
	struct milter_dkim_verifier *v;
	int eoh_done;
};

/* milter_dkim_init - nothing to set up: the verifier fetches its hashes
 * once, the key cache fills as keys are met */
int
milter_dkim_init(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

/* milter_dkim_finish - drop the kept keys (at exit) */
void
milter_dkim_finish(void)
{
	milter_dkim_key_cache_flush();
}

/* milter_dkim_record - the key record of an answer */
int
milter_dkim_record(const struct dns_answer *a, char **txt, int *ttl)
{
	*txt = NULL;
	*ttl = a->ttl > 0 ? a->ttl : 0;
	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return MILTER_DKIM_E_NOKEY;
	default:
		return MILTER_DKIM_E_DNS;
	}
	if (a->count == 0)
		return MILTER_DKIM_E_NOKEY;
	/* RFC 6376 6.1.2: with several records, the verifier may pick one;
	 * the first, as libopendkim did */
	if ((*txt = dns_txt_join(a->data[0], a->len[0])) == NULL)
		return MILTER_DKIM_E_KEYSYNTAX;
	return MILTER_DKIM_E_OK;
}

/* milter_dkim_lookup_as - a key lookup through lib/dns, on the DKIM
 * counter; a failure logged as method's ("dkim", "arc") */
static enum milter_dkim_err
milter_dkim_lookup_as(struct milter_msg *m, const char *method,
		      const char *name, char **txt, int *ttl)
{
	struct dns_answer *a = NULL;
	enum milter_dkim_err e;

	*txt = NULL;
	if (m->conn->dns == NULL)	/* no resolver: a failed query */
		return MILTER_DKIM_E_DNS;
	(void)dns_query(m->conn->dns, name, DNS_T_TXT, &m->dkim_dns, &a);
	e = (enum milter_dkim_err)milter_dkim_record(a, txt, ttl);
	if (e == MILTER_DKIM_E_DNS)
		qid_info(m->qid, "%s dns=%s name=%s reason=\"%s\"", method,
			 dns_status_str(a->status), name, a->why);
	dns_answer_free(&a);
	return e;
}

/* milter_dkim_msg_lookup - DKIM's key lookup */
enum milter_dkim_err
milter_dkim_msg_lookup(void *ctx, const char *name, char **txt, int *ttl)
{
	return milter_dkim_lookup_as(ctx, "dkim", name, txt, ttl);
}

/* milter_arc_msg_lookup - ARC's key lookup: DKIM's, logged as arc */
enum milter_dkim_err
milter_arc_msg_lookup(void *ctx, const char *name, char **txt, int *ttl)
{
	return milter_dkim_lookup_as(ctx, "arc", name, txt, ttl);
}


/* milter_dkim_state - the message's verifier, NULL if not verifying */
static struct milter_dkim *
milter_dkim_state(struct milter_msg *m)
{
	if (m->mode == MILTER_MODE_SIGN || !m->conn->mc->dkim)
		return NULL;	/* signing instead of verifying, or off */
	if (m->dkim == NULL)
		m->dkim = x_calloc(1, sizeof(*m->dkim));
	return m->dkim;
}

/* milter_dkim_header - one header: nothing to do, the message keeps
 * its headers and the verifier reads them at end of headers */
void
milter_dkim_header(struct milter_msg *m, const char *name, const char *value)
{
	(void)m;
	(void)name;
	(void)value;
}

/* milter_dkim_eoh - end of headers: find the signatures */
void
milter_dkim_eoh(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	struct milter_dkim *d = milter_dkim_state(m);
	struct milter_dkim_vopts o = { MILTER_DKIM_SIGN_HEADER, 0, 0, 0 };

	if (d == NULL || d->eoh_done)
		return;
	d->eoh_done = 1;
	o.max = mc->max_signatures;
	o.min_key_bits = mc->dkim_min_key_bits;
	o.max_key_bits = mc->dkim_max_key_bits;
	d->v = milter_dkim_verifier_new(&o);
	milter_dkim_verifier_headers(d->v, m->headers, m->nheaders);
}

/* milter_dkim_msg_verifier - the message's DKIM verifier, once its
 * headers are read; NULL if DKIM does not verify this message */
struct milter_dkim_verifier *
milter_dkim_msg_verifier(struct milter_msg *m)
{
	struct milter_dkim *d = milter_dkim_state(m);

	if (d == NULL)
		return NULL;
	if (!d->eoh_done)
		milter_dkim_eoh(m);
	return d->v;
}

/* milter_dkim_body - a body chunk, hashed as it comes */
void
milter_dkim_body(struct milter_msg *m, const unsigned char *chunk,
		 size_t len)
{
	struct milter_dkim *d = milter_dkim_state(m);

	if (d == NULL || len == 0)
		return;
	if (!d->eoh_done)
		milter_dkim_eoh(m);
	milter_dkim_verifier_body(d->v, chunk, len);
}

/* milter_dkim_copy - a verified signature into the results */
static void
milter_dkim_copy(const struct milter_dkim_vent *e, struct milter_dkim_sig *s)
{
	s->result = e->res.result;
	s->pass = e->res.cls == MILTER_DKIM_PASS;
	s->sigerror = (int)e->res.err;
	s->partial = e->res.partial;
	if (e->sig.d != NULL)
		s->domain = x_strdup(e->sig.d);
	if (e->sig.s != NULL)
		s->selector = x_strdup(e->sig.s);
	if (e->sig.i != NULL)
		s->identity = x_strdup(e->sig.i);
	s->algorithm = milter_dkim_alg_name(e->sig.alg);
	memcpy(s->b, e->sig.b8, sizeof(s->b));
}

/* milter_dkim_key_refused - a key refused for its size (or its public
 * exponent's), logged with the sizes and the bounds (the A-R says only
 * "key too large/small", "key exponent too large") */
static void
milter_dkim_key_refused(const struct milter_msg *m,
			const struct milter_dkim_vent *e)
{
	const struct milter_conf *mc = m->conn->mc;

	if (e->res.err != MILTER_DKIM_E_KEYLARGE
	    && e->res.err != MILTER_DKIM_E_KEYSMALL
	    && e->res.err != MILTER_DKIM_E_KEYEXP)
		return;
	qid_info(m->qid, "dkim key=refused d=%s s=%s bits=%d "
		 "reason=\"%s\" dkim_min_key_bits=%d dkim_max_key_bits=%d "
		 "exponent_bits=%d", e->sig.d, e->sig.s, e->res.key_bits,
		 milter_dkim_err_str(e->res.err), mc->dkim_min_key_bits,
		 mc->dkim_max_key_bits, e->res.key_ebits);
}

/* milter_dkim_collect - one signature into the results and A-R */
static void
milter_dkim_collect(struct milter_msg *m, const struct milter_dkim_vent *e,
		    enum milter_dkim_class *cls)
{
	struct milter_dkim_results *res = &m->dkim_results;
	struct milter_dkim_sig *s;
	struct authres_result *r;
	const char *why = milter_dkim_err_str(e->res.err);
	char lwhy[96];

	*cls = e->res.cls;
	milter_dkim_key_refused(m, e);
	if (res->nsigs >= MILTER_DKIM_MAX_SIGS)
		return;
	s = &res->sigs[res->nsigs++];
	milter_dkim_copy(e, s);
	/* RFC 6376 8.2: l= may leave the end of the body unsigned, where
	 * anyone can append anything: not a plain pass (nor a DMARC one)
	 * unless dkim_partial_body_pass says so. */
	if (s->pass && s->partial) {
		snprintf(lwhy, sizeof(lwhy), "l=%lld signs part of the "
			 "%llu-byte body", e->sig.l, e->res.bodylen);
		why = lwhy;
		if (!m->conn->mc->dkim_partial_body_pass) {
			s->pass = 0;
			s->result = "policy";
			*cls = MILTER_DKIM_BAD;
		}
	}
	r = milter_msg_result(m, "dkim", s->result);
	if (why != NULL)
		authres_set_comment(r, why);
	if (s->domain != NULL)
		authres_prop_add(r, "header", "d", s->domain);
	if (s->identity != NULL)
		authres_prop_add(r, "header", "i", s->identity);
	if (s->selector != NULL)
		authres_prop_add(r, "header", "s", s->selector);
	if (s->algorithm != NULL)
		authres_prop_add(r, "header", "a", s->algorithm);
	if (s->b[0] != '\0')
		authres_prop_add(r, "header", "b", s->b);
	milter_msg_summary(m, "dkim=%s(d=%s%s%s)", s->result,
			   s->domain ? s->domain : "", why ? " " : "",
			   why ? why : "");
}

#define MILTER_DKIM_SEEN_PASS	(1 << 0)
#define MILTER_DKIM_SEEN_BAD	(1 << 1)
#define MILTER_DKIM_SEEN_NOKEY	(1 << 2)
#define MILTER_DKIM_SEEN_DNSERR	(1 << 3)

/* milter_dkim_report_all - report each verified signature; the
 * MILTER_DKIM_SEEN_* classes among them */
static int
milter_dkim_report_all(struct milter_msg *m, struct milter_dkim *d)
{
	enum milter_dkim_class cls;
	int seen = 0;
	size_t i;

	for (i = 0; i < d->v->n; i++) {
		milter_dkim_collect(m, &d->v->sigs[i], &cls);
		switch (cls) {
		case MILTER_DKIM_PASS:
			seen |= MILTER_DKIM_SEEN_PASS;
			break;
		case MILTER_DKIM_NOKEY:
			seen |= MILTER_DKIM_SEEN_NOKEY;
			break;
		case MILTER_DKIM_DNSERR:
			seen |= MILTER_DKIM_SEEN_DNSERR;
			break;
		default:
			seen |= MILTER_DKIM_SEEN_BAD;
			break;
		}
	}
	return seen;
}

/* milter_dkim_act - the configured action for each kind of failure
 * seen, when no signature passed */
static void
milter_dkim_act(struct milter_msg *m, int seen)
{
	const struct milter_conf *mc = m->conn->mc;

	if (seen & MILTER_DKIM_SEEN_PASS)
		return;
	if (seen & MILTER_DKIM_SEEN_BAD)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_bad_signature,
				   "No passing DKIM signature found");
	if (seen & MILTER_DKIM_SEEN_NOKEY)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_key_not_found,
				   "No DKIM key found for the signature");
	if (seen & MILTER_DKIM_SEEN_DNSERR)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_dns_error,
				   "DKIM key lookup failed, try again later");
}

/* milter_dkim_eom - verify, report each signature, act */
void
milter_dkim_eom(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	struct milter_dkim_results *res = &m->dkim_results;
	struct milter_dkim *d = milter_dkim_state(m);
	int seen;

	if (d == NULL)
		return;
	res->done = 1;
	if (!d->eoh_done)
		milter_dkim_eoh(m);
	milter_dkim_verifier_eom(d->v, m->headers, m->nheaders,
				 milter_dkim_msg_lookup, m, 0);
	res->nignored = d->v->nignored;
	seen = milter_dkim_report_all(m, d);
	res->signed_ = d->v->n + d->v->nignored > 0;
	if (!res->signed_) {
		(void)milter_msg_result(m, "dkim", "none");
		milter_msg_summary(m, "dkim=none");
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_no_signature,
				   "No DKIM signature found");
		return;
	}
	if (d->v->nignored > 0)
		qid_info(m->qid, "dkim: %zu signatures beyond max_signatures="
			 "%d not verified", d->v->nignored,
			 mc->max_signatures);
	milter_dkim_act(m, seen);
}

/* milter_dkim_free - the verifier and the results' strings */
void
milter_dkim_free(struct milter_msg *m)
{
	struct milter_dkim_results *res = &m->dkim_results;
	size_t i;

	if (m->dkim != NULL) {
		milter_dkim_verifier_free(&m->dkim->v);
		x_free(&m->dkim);
	}
	for (i = 0; i < res->nsigs; i++) {
		x_free(&res->sigs[i].domain);
		x_free(&res->sigs[i].selector);
		x_free(&res->sigs[i].identity);
	}
	res->nsigs = 0;
}
