/*++
 * NAME
 *	milter-dmarc 3
 * SUMMARY
 *	the DMARC stage (libopendmarc; _dmarc records through lib/dns)
 * DESCRIPTION
 *	Runs after SPF and DKIM and reads their typed results: SPF's
 *	(m->spf_results: result, scope mailfrom or helo, domain) and every
 *	DKIM signature (m->dkim_results).  The From domain comes from our
 *	own parser (milter-dmarc-util.c): libopendmarc only ever sees a bare,
 *	validated domain (the crash class of CVE-2021-34555 was a From
 *	value it could not parse).
 *
 *	The policy record: TXT _dmarc.FROMDOMAIN through lib/dns; when
 *	that name has no DMARC record, _dmarc.ORGDOMAIN (RFC 7489 6.6.3,
 *	the organisational domain from the Public Suffix List, whose
 *	sp= then applies).  Several records: permerror.  A DNS failure:
 *	temperror.  The record goes to opendmarc_policy_store_dmarc();
 *	libopendmarc checks alignment (adkim=, aspf=, its TLD list loaded
 *	from the same PSL file) and says which policy applies.  pct= is
 *	applied here: a message outside the sample gets the next weaker
 *	policy (RFC 7489 6.6.4).
 *
 *	From: every From field, kept whatever the header caps.  One
 *	distinct domain is evaluated as such.  Several distinct domains,
 *	or a field the parser cannot read: every candidate domain
 *	(dmarc_from_parse salvages "@domain" from unreadable text) is
 *	evaluated and the strictest failing outcome applies (RFC 7489
 *	6.6.1), plus dmarc_bad_from_action; no domain at all: permerror
 *	and dmarc_bad_from_action.  Nothing the sender writes may make
 *	enforcement weaker than the From domain's policy.
 *
 *	Lookups: the stage has its own counter (m->dmarc_dns), so that an
 *	SPF record that spends its lookups cannot make DMARC temperror,
 *	and no time budget (at most two lookups, each bounded by [dns]).
 *	DKIM alignment is checked here over every passing signature too:
 *	libopendmarc keeps one signature, and a later one can displace an
 *	aligned pass.
 *
 *	Enforcement (dmarc_enforce): a failure under p=reject is rejected
 *	with 550 5.7.1; under p=quarantine it gets dmarc_quarantine_action
 *	(quarantine = Postfix hold, accept = the A-R result only).
 *	temperror gets dmarc_temperror_action (451 4.7.1 for tempfail).
 *
 *	History: with milter.dmarc_history set, every evaluated message
 *	is stored (one row, the data of an RFC 7489 aggregate report) in
 *	that SQLite file (relative to database.directory): the stage
 *	copies the row onto the writer's bounded queue and goes on
 *	(milter-dmarc-history.c); the message never waits for SQLite, and
 *	a row that cannot be written is logged and counted, never fails
 *	the message.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <opendmarc/dmarc.h>

#include "db.h"
#include "dns.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-dmarc.h"
#include "xalloc.h"

static struct dmarc_psl *dmarc_psl;
static int dmarc_ready;
static OPENDMARC_LIB_T dmarc_lib;
static struct metric *m_overrides;

/* milter_dmarc_init - the PSL, libopendmarc, the metrics */
int
milter_dmarc_init(struct conf *conf, char *err, size_t errlen)
{
	const struct milter_conf *mc = conf_get(conf, &milter_conf_section);

	dmarc_history_init();
	m_overrides = metrics_counter(
		"elemta_milter_dmarc_overrides_total",
		"DMARC failures whose policy was not enforced, by reason "
		"(arc_trusted_sealer: a passing ARC chain sealed by a trusted "
		"forwarder)", "reason");
	if (!mc->dmarc)
		return 0;
	if ((dmarc_psl = dmarc_psl_load(mc->dmarc_psl, err, errlen)) == NULL)
		return -1;
	memset(&dmarc_lib, 0, sizeof(dmarc_lib));
	dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	snprintf((char *)dmarc_lib.tld_source_file,
		 sizeof(dmarc_lib.tld_source_file), "%s", mc->dmarc_psl);
	if (opendmarc_policy_library_init(&dmarc_lib) != DMARC_PARSE_OKAY) {
		x_err(err, errlen, "libopendmarc: cannot initialise with %s",
		      mc->dmarc_psl);
		dmarc_psl_free(&dmarc_psl);
		return -1;
	}
	dmarc_ready = 1;
	return 0;
}

/* milter_dmarc_finish - at exit */
void
milter_dmarc_finish(void)
{
	if (dmarc_ready)
		(void)opendmarc_policy_library_shutdown(&dmarc_lib);
	dmarc_ready = 0;
	dmarc_psl_free(&dmarc_psl);
	dmarc_history_stop(DMARC_HISTORY_STOP_MS);
}

/* What one evaluation found, for the header, the log and the history. */
struct dmarc_eval {
	const char *result;		/* A-R word */
	char from[DMARC_DOMAIN_MAX];
	char policy_domain[DMARC_DOMAIN_MAX];
	const char *reason;		/* for reason= / the log */
	int bad_from;			/* From not evaluable */
	int p, sp, pct, adkim, aspf;	/* DMARC_RECORD_*; pct -1 if none */
	int policy;			/* DMARC_POLICY_* (to enforce) */
	const char *disposition;	/* "none", "quarantine", "reject" */
	int spf_aligned, dkim_aligned;
	const char *spf_result;		/* SPF's A-R word, or NULL */
	const char *spf_scope;		/* "mfrom" or "helo" */
	char spf_domain[DMARC_DOMAIN_MAX];
	/* a failure whose policy is not enforced: the reason type of the
	 * aggregate report ("local_policy") and its comment, the sealer */
	const char *override;
	char override_comment[300];
	const char *sealer;
};

/* dmarc_pword - p=/sp= for the header comment */
static const char *
dmarc_pword(int p)
{
	switch (p) {
	case DMARC_RECORD_P_NONE:
		return "NONE";
	case DMARC_RECORD_P_QUARANTINE:
		return "QUARANTINE";
	case DMARC_RECORD_P_REJECT:
		return "REJECT";
	default:
		return "UNSPECIFIED";
	}
}

/* dmarc_fetch - TXT _dmarc.NAME: 1 one DMARC record in *rec, 0 none,
 * -1 temporary failure, -2 several records */
static int
dmarc_fetch(struct milter_msg *m, const char *name, char **rec)
{
	struct dns_answer *a = NULL;
	enum dns_status st;
	char qname[DMARC_DOMAIN_MAX + 8], *txt;
	size_t i;
	int found = 0;

	*rec = NULL;
	snprintf(qname, sizeof(qname), "_dmarc.%s", name);
	st = dns_query(m->conn->dns, qname, DNS_T_TXT, &m->dmarc_dns, &a);
	if (st == DNS_NXDOMAIN || st == DNS_NODATA) {
		dns_answer_free(&a);
		return 0;
	}
	if (st != DNS_OK) {
		qid_info(m->qid, "dmarc dns=%s name=%s reason=\"%s\"",
			 dns_status_str(st), qname, a->why);
		dns_answer_free(&a);
		return -1;
	}
	for (i = 0; i < a->count; i++) {
		if ((txt = dns_txt_join(a->data[i], a->len[i])) == NULL)
			continue;
		/* RFC 7489 6.6.3: records not starting "v=DMARC1" are
		 * discarded */
		if (strncmp(txt, "v=DMARC1", 8) != 0
		    || (txt[8] != ';' && txt[8] != ' ' && txt[8] != '\t'
			&& txt[8] != '\0')) {
			free(txt);
			continue;
		}
		if (found++ == 0)
			*rec = txt;
		else
			free(txt);
	}
	dns_answer_free(&a);
	if (found > 1) {
		x_free(rec);
		return -2;
	}
	return found;
}

/* dmarc_spf - SPF's typed result (milter_spf_results) */
static void
dmarc_spf(const struct milter_msg *m, struct dmarc_eval *e, int *outcome,
	  int *origin)
{
	const struct milter_spf_results *sr = &m->spf_results;

	*outcome = DMARC_POLICY_SPF_OUTCOME_NONE;
	*origin = DMARC_POLICY_SPF_ORIGIN_MAILFROM;
	if (!sr->done)
		return;
	if (sr->scope == MILTER_SPF_HELO) {
		*origin = DMARC_POLICY_SPF_ORIGIN_HELO;
		e->spf_scope = "helo";
	} else {
		e->spf_scope = "mfrom";
	}
	snprintf(e->spf_domain, sizeof(e->spf_domain), "%s", sr->domain);
	e->spf_result = milter_spf_word(sr->result);
	switch (sr->result) {
	case MILTER_SPF_PASS:
		*outcome = DMARC_POLICY_SPF_OUTCOME_PASS;
		break;
	case MILTER_SPF_TEMPERROR:
		*outcome = DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
		break;
	case MILTER_SPF_NONE:
		break;
	default:
		*outcome = DMARC_POLICY_SPF_OUTCOME_FAIL;
		break;
	}
}

/* dmarc_from - the From domain per dmarc_from_parse, from every From
 * field (kept whatever the header caps) */
static void
dmarc_from(struct milter_msg *m, struct dmarc_from *f)
{
	dmarc_from_parse((const char *const *)m->from_values, m->nfrom, f);
}

/* dmarc_dkim_list - "d=dom;s=sel;r=pass ..." for the history */
static char *
dmarc_dkim_list(const struct milter_msg *m)
{
	const struct milter_dkim_results *dr = &m->dkim_results;
	char *s = x_strdup(""), *t;
	size_t i;

	for (i = 0; i < dr->nsigs; i++) {
		if (dr->sigs[i].domain == NULL)
			continue;
		t = x_asprintf("%s%sd=%s;s=%s;r=%s", s, *s ? " " : "",
			       dr->sigs[i].domain,
			       dr->sigs[i].selector ? dr->sigs[i].selector
						    : "",
			       dr->sigs[i].result);
		free(s);
		s = t;
	}
	return s;
}

/* dmarc_history - the message's row onto the writer's queue */
static void
dmarc_history(struct milter_msg *m, const struct dmarc_eval *e)
{
	const struct milter_conf *mc = m->conn->mc;
	const struct db_conf *dbc;
	struct dmarc_hist_row *r;
	const char *at;

	if (mc->dmarc_history == NULL || mc->dmarc_history[0] == '\0')
		return;
	dbc = conf_get(m->conn->conf, &db_conf_section);
	r = x_calloc(1, sizeof(*r));
	r->path = mc->dmarc_history[0] == '/' || dbc->directory == NULL
		  ? x_strdup(mc->dmarc_history)
		  : x_asprintf("%s/%s", dbc->directory, mc->dmarc_history);
	r->ts = (long long)time(NULL);
	r->queue_id = dmarc_hist_str(m->qid);
	r->source_ip = dmarc_hist_str(m->conn->client_addr);
	r->header_from = dmarc_hist_str(e->from);
	r->envelope_from = dmarc_hist_str(e->spf_domain);
	if (m->nrcpts > 0 && (at = strrchr(m->rcpts[0], '@')) != NULL)
		r->envelope_to = dmarc_hist_str(at + 1);
	r->policy_domain = dmarc_hist_str(e->policy_domain);
	r->p[0] = (char)e->p;
	r->sp[0] = (char)e->sp;
	r->pct = e->pct;
	r->adkim[0] = (char)e->adkim;
	r->aspf[0] = (char)e->aspf;
	r->result = dmarc_hist_str(e->result);
	r->disposition = dmarc_hist_str(e->disposition);
	r->reason = dmarc_hist_str(e->reason);
	r->spf_domain = dmarc_hist_str(e->spf_domain);
	r->spf_result = dmarc_hist_str(e->spf_result);
	r->spf_scope = dmarc_hist_str(e->spf_scope);
	r->spf_aligned = e->spf_aligned;
	r->dkim = dmarc_dkim_list(m);
	r->dkim_aligned = e->dkim_aligned;
	r->override = dmarc_hist_str(e->override);
	r->override_comment = e->override
			      ? dmarc_hist_str(e->override_comment) : NULL;
	dmarc_history_push(r, mc->dmarc_history_queue_size, m->qid);
}

/* dmarc_arc_override - RFC 8617 section 7.2.1: a failure is not
 * enforced when the message carries a passing ARC chain whose newest
 * seal is by a forwarder we trust (arc_trusted_sealers); 1 if so, with
 * e's override set.  The ARC stage ran before this one. */
static int
dmarc_arc_override(struct milter_msg *m, struct dmarc_eval *e)
{
	const struct milter_arc_results *ar = &m->arc_results;
	char *const *s = m->conn->mc->arc_trusted_sealers;

	if (!ar->done || ar->result != MILTER_ARC_PASS || ar->sealer[0] == 0)
		return 0;
	for (; s != NULL && *s != NULL; s++)
		if (strcmp(*s, ar->sealer) == 0)
			break;
	if (s == NULL || *s == NULL) {
		qid_info(m->qid, "dmarc: arc=pass by %s, not a trusted "
			 "sealer: policy of %s enforced", ar->sealer,
			 e->from);
		return 0;
	}
	e->override = "local_policy";
	e->sealer = ar->sealer;
	snprintf(e->override_comment, sizeof(e->override_comment),
		 "arc=pass as.%u.d=%s", ar->n, ar->sealer);
	qid_info(m->qid, "dmarc override=local_policy from=%s sealer=%s "
		 "arc_sets=%u: policy not enforced", e->from, ar->sealer,
		 ar->n);
	if (m_overrides != NULL)
		metric_inc(m_overrides, "arc_trusted_sealer");
	return 1;
}

/* dmarc_enforce - the configured actions for the outcome: the policy
 * of a failing domain, and for a From that cannot be evaluated as one
 * domain, dmarc_bad_from_action too (the stronger wins) */
static void
dmarc_enforce(struct milter_msg *m, struct dmarc_eval *e)
{
	const struct milter_conf *mc = m->conn->mc;
	char text[512];
	int a;

	if (e->bad_from) {
		snprintf(text, sizeof(text), "DMARC cannot be evaluated: %s",
			 e->reason ? e->reason : "bad From");
		milter_msg_enforce(m, MILTER_REPLY_DMARC,
				   mc->dmarc_bad_from_action, text);
	}
	if (strcmp(e->result, "temperror") == 0) {
		snprintf(text, sizeof(text), "DMARC policy of %s could not be "
			 "retrieved, try again later", e->from);
		milter_msg_enforce(m, MILTER_REPLY_DMARC,
				   mc->dmarc_temperror_action, text);
		return;
	}
	if (strcmp(e->result, "fail") != 0 || !mc->dmarc_enforce)
		return;
	if ((e->policy == DMARC_POLICY_REJECT
	     || e->policy == DMARC_POLICY_QUARANTINE)
	    && dmarc_arc_override(m, e))
		return;
	if (e->policy == DMARC_POLICY_REJECT) {
		a = MILTER_REJECT;
		e->disposition = "reject";
		snprintf(text, sizeof(text), "Rejected by DMARC policy for %s",
			 e->from);
	} else if (e->policy == DMARC_POLICY_QUARANTINE) {
		a = mc->dmarc_quarantine_action;
		if (a != MILTER_ACCEPT)
			e->disposition = "quarantine";
		snprintf(text, sizeof(text), a == MILTER_QUARANTINE
			 ? "DMARC policy of %s says quarantine"
			 : "Rejected by DMARC policy for %s", e->from);
	} else {
		return;
	}
	milter_msg_enforce(m, MILTER_REPLY_DMARC, a, text);
}

/* dmarc_lookup - the DMARC record of e->from, else of its
 * organizational domain; sets e->policy_domain and, when there is no
 * usable record, e->result; 1 with the record in *rec and the
 * organizational domain (at_org) in org, else 0 */
static int
dmarc_lookup(struct milter_msg *m, struct dmarc_eval *e, char *org,
	     size_t orglen, int *at_org, char **rec)
{
	int found;

	*at_org = 0;
	found = dmarc_fetch(m, e->from, rec);
	if (found == 0 && dmarc_psl_orgdomain(dmarc_psl, e->from, org,
					      orglen) == 0
	    && strcmp(org, e->from) != 0) {
		found = dmarc_fetch(m, org, rec);
		*at_org = 1;
	}
	snprintf(e->policy_domain, sizeof(e->policy_domain), "%s",
		 *at_org ? org : e->from);
	if (found == -1) {
		e->result = "temperror";
		e->reason = "DNS lookup of the DMARC record failed";
		return 0;
	}
	if (found == -2) {
		e->result = "permerror";
		e->reason = "several DMARC records";
		return 0;
	}
	if (found == 0) {
		e->result = "none";
		e->policy_domain[0] = '\0';
		return 0;
	}
	return 1;
}

/* dmarc_store_dkim - every usable DKIM result to libopendmarc */
static void
dmarc_store_dkim(DMARC_POLICY_T *pctx, const struct milter_dkim_results *dr)
{
	size_t i;

	for (i = 0; i < dr->nsigs; i++) {
		const struct milter_dkim_sig *s = &dr->sigs[i];
		char d[DMARC_DOMAIN_MAX];
		int r;

		if (s->domain == NULL || strlen(s->domain) >= sizeof(d) - 1
		    || !dmarc_domain_valid(s->domain, strlen(s->domain)))
			continue;
		snprintf(d, sizeof(d), "%s", s->domain);
		r = s->pass ? DMARC_POLICY_DKIM_OUTCOME_PASS
		    : strcmp(s->result, "temperror") == 0
		      ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL
		      : DMARC_POLICY_DKIM_OUTCOME_FAIL;
		(void)opendmarc_policy_store_dkim(pctx, (u_char *)d,
			(u_char *)(s->selector ? s->selector : ""), r, NULL);
	}
}

/* dmarc_fetch_policy - libopendmarc's policy, tags and alignments
 * into e; the policy to enforce */
static int
dmarc_fetch_policy(DMARC_POLICY_T *pctx,
		   const struct milter_dkim_results *dr, struct dmarc_eval *e)
{
	int dkim_al = 0, spf_al = 0, pol;
	size_t i;

	pol = opendmarc_get_policy_to_enforce(pctx);
	(void)opendmarc_policy_fetch_alignment(pctx, &dkim_al, &spf_al);
	(void)opendmarc_policy_fetch_p(pctx, &e->p);
	(void)opendmarc_policy_fetch_sp(pctx, &e->sp);
	(void)opendmarc_policy_fetch_pct(pctx, &e->pct);
	(void)opendmarc_policy_fetch_adkim(pctx, &e->adkim);
	(void)opendmarc_policy_fetch_aspf(pctx, &e->aspf);
	e->dkim_aligned = dkim_al == DMARC_POLICY_DKIM_ALIGNMENT_PASS;
	e->spf_aligned = spf_al == DMARC_POLICY_SPF_ALIGNMENT_PASS;
	/* libopendmarc keeps one signature of several, and a later one
	 * can displace an aligned pass: every passing signature is
	 * checked here too. */
	for (i = 0; i < dr->nsigs && !e->dkim_aligned; i++)
		if (dr->sigs[i].pass && dr->sigs[i].domain != NULL
		    && dmarc_aligned(dmarc_psl, dr->sigs[i].domain, e->from,
				     e->adkim == DMARC_RECORD_A_STRICT))
			e->dkim_aligned = 1;
	if (e->sp == DMARC_RECORD_P_UNSPECIFIED)
		e->sp = e->p;
	return pol;
}

/* dmarc_verdict - pass or fail from the policy and alignments, with
 * pct= sampling; sets e->result and e->policy */
static void
dmarc_verdict(struct dmarc_eval *e, int pol)
{
	if (pol == DMARC_POLICY_PASS || e->dkim_aligned || e->spf_aligned) {
		e->result = "pass";
		pol = DMARC_POLICY_PASS;
	} else {
		e->result = "fail";
		/* pct=: outside the sample, the next weaker policy */
		if ((pol == DMARC_POLICY_REJECT
		     || pol == DMARC_POLICY_QUARANTINE)
		    && e->pct >= 0 && e->pct < 100
		    && (int)(arc4random_uniform(100)) >= e->pct) {
			pol = pol == DMARC_POLICY_REJECT
			      ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
			e->reason = "sampled_out";
		}
	}
	e->policy = pol;
}

/* dmarc_evaluate - the record and libopendmarc; fills e */
static void
dmarc_evaluate(struct milter_msg *m, struct dmarc_eval *e)
{
	const char *ip = m->conn->client_addr;
	DMARC_POLICY_T *pctx;
	char org[DMARC_DOMAIN_MAX], *rec = NULL;
	int at_org, outcome, origin;

	if (!dmarc_lookup(m, e, org, sizeof(org), &at_org, &rec))
		return;
	pctx = opendmarc_policy_connect_init((u_char *)(ip ? ip : "0.0.0.0"),
		ip && strchr(ip, ':') ? DMARC_POLICY_IP_TYPE_IPV6
				      : DMARC_POLICY_IP_TYPE_IPV4);
	if (pctx == NULL) {
		e->result = "temperror";
		e->reason = "libopendmarc: out of memory";
		free(rec);
		return;
	}
	(void)opendmarc_policy_store_from_domain(pctx, (u_char *)e->from);
	if (opendmarc_policy_store_dmarc(pctx, (u_char *)rec,
					 (u_char *)e->from,
					 at_org ? (u_char *)org : NULL)
	    != DMARC_PARSE_OKAY) {
		e->result = "permerror";
		e->reason = "malformed DMARC record";
	} else {
		dmarc_spf(m, e, &outcome, &origin);
		if (e->spf_domain[0] != '\0')
			(void)opendmarc_policy_store_spf(pctx,
				(u_char *)e->spf_domain, outcome, origin, NULL);
		dmarc_store_dkim(pctx, &m->dkim_results);
		dmarc_verdict(e, dmarc_fetch_policy(pctx, &m->dkim_results, e));
	}
	opendmarc_policy_connect_shutdown(pctx);
	free(rec);
}

/* dmarc_rank - how strict an evaluation's outcome is: the message
 * gets the strictest of its candidate domains' */
static int
dmarc_rank(const struct dmarc_eval *e)
{
	if (strcmp(e->result, "fail") == 0)
		return e->policy == DMARC_POLICY_REJECT ? 6
		       : e->policy == DMARC_POLICY_QUARANTINE ? 5 : 3;
	if (strcmp(e->result, "temperror") == 0)
		return 4;
	if (strcmp(e->result, "permerror") == 0)
		return 2;
	if (strcmp(e->result, "none") == 0)
		return 1;
	return 0;			/* pass */
}

/* dmarc_candidates - an ambiguous or unreadable From: evaluate every
 * domain a reader could take for the author's (RFC 7489 6.6.1: each
 * domain, the strictest policy of those that fail); into e */
static void
dmarc_candidates(struct milter_msg *m, const struct dmarc_from *f,
		 struct dmarc_eval *e)
{
	struct dmarc_eval one;
	size_t i;
	int best = -1;

	for (i = 0; i < f->ncand; i++) {
		memset(&one, 0, sizeof(one));
		one.pct = -1;
		one.disposition = "none";
		snprintf(one.from, sizeof(one.from), "%s", f->cand[i]);
		dmarc_evaluate(m, &one);
		if (dmarc_rank(&one) > best) {
			best = dmarc_rank(&one);
			*e = one;
		}
	}
	if (f->ncand_lost > 0)
		qid_warn(m->qid, "dmarc: From names more than %d domains, "
			 "%zu not evaluated", DMARC_FROM_MAX_DOMAINS,
			 f->ncand_lost);
}

/* dmarc_judge - the From domain(s) of m evaluated into e, from what
 * dmarc_from() made of the From field(s) (into f); *why: the reason
 * when the From field is unusable */
static void
dmarc_judge(struct milter_msg *m, struct dmarc_eval *e, struct dmarc_from *f,
	    const char **why)
{
	memset(e, 0, sizeof(*e));
	e->pct = -1;
	e->disposition = "none";
	dmarc_from(m, f);
	switch (f->status) {
	case DMARC_FROM_OK:
		snprintf(e->from, sizeof(e->from), "%s", f->domain);
		dmarc_evaluate(m, e);
		if (f->nfields > 1)
			qid_info(m->qid, "dmarc: %zu From fields, all in %s",
				 f->nfields, f->domain);
		break;
	case DMARC_FROM_NONE:
		e->result = "permerror";
		*why = "no From address";
		break;
	case DMARC_FROM_MULTI:
		*why = "From addresses in several domains";
		break;
	default:
		*why = "unparseable From";
		break;
	}
	/* Nothing the sender writes may weaken the From domains' own
	 * policies: an ambiguous or unreadable From is judged by each
	 * domain in it; no domain at all, permerror. */
	if (f->status == DMARC_FROM_MULTI || f->status == DMARC_FROM_BAD) {
		if (f->ncand > 0)
			dmarc_candidates(m, f, e);
		if (e->result == NULL || strcmp(e->result, "pass") == 0
		    || strcmp(e->result, "none") == 0) {
			/* no candidate whose policy applies: as before */
			e->result = "permerror";
			e->policy = 0;
		}
	}
	/* after dmarc_candidates, which fills e afresh */
	e->bad_from = f->status != DMARC_FROM_OK;
	if (*why != NULL && e->reason == NULL)
		e->reason = *why;
	if (e->policy == 0)
		e->policy = DMARC_POLICY_ABSENT;
}

/* dmarc_report - the DMARC result in Authentication-Results, the
 * summary line and the history */
static void
dmarc_report(struct milter_msg *m, const struct dmarc_eval *e,
	     const struct dmarc_from *f, const char *why)
{
	struct authres_result *r;
	char comment[384];

	r = milter_msg_result(m, "dmarc", e->result);
	if (e->p != 0) {
		snprintf(comment, sizeof(comment), "p=%s sp=%s dis=%s%s%s",
			 dmarc_pword(e->p), dmarc_pword(e->sp),
			 strcmp(e->disposition, "none") == 0 ? "NONE"
			 : strcmp(e->disposition, "reject") == 0 ? "REJECT"
			 : "QUARANTINE",
			 e->sealer ? "; arc override: trusted sealer " : "",
			 e->sealer ? e->sealer : "");
		authres_set_comment(r, comment);
		if (why != NULL)
			authres_set_reason(r, why);
	} else if (e->reason != NULL) {
		authres_set_reason(r, e->reason);
	}
	if (e->from[0] != '\0' && (f->status == DMARC_FROM_OK || e->p != 0))
		authres_prop_add(r, "header", "from", e->from);
	if (e->override != NULL)		/* what was applied: no policy */
		authres_prop_add(r, "policy", "dmarc", "none");
	milter_msg_summary(m, "dmarc=%s%s%s%s%s%s", e->result,
			   e->from[0] ? "(" : "", e->from,
			   e->from[0] ? ")" : "",
			   e->override ? " dmarc_override=" : "",
			   e->override ? e->override : "");
	if (f->status == DMARC_FROM_OK || e->p != 0)
		dmarc_history(m, e);
}

/* milter_dmarc_eom - the DMARC stage */
void
milter_dmarc_eom(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	struct dmarc_eval e;
	struct dmarc_from f;
	const char *why = NULL;

	if (!mc->dmarc || !dmarc_ready)
		return;
	/* Not for our own users (as OpenDMARC's IgnoreAuthenticatedClients);
	 * nothing in the summary line, which SPF's skip already explains. */
	if (m->auth_type != NULL || m->conn->internal)
		return;
	dmarc_judge(m, &e, &f, &why);
	dmarc_enforce(m, &e);
	dmarc_report(m, &e, &f, why);
}
