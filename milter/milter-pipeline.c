/*++
 * NAME
 *	milter-pipeline 3
 * SUMMARY
 *	the one pass over a message: stages, verdict, Authentication-Results
 * DESCRIPTION
 *	See milter.h.  The stage table is the order of the pass: a stage
 *	sees the results of those before it (DMARC will read SPF's and
 *	DKIM's, ARC all of them).  Adding a check is adding a file with
 *	one eom function and a line here.
 *
 *	The verdict: the highest precedence wins, whatever the order of
 *	the stages (milter_msg_action, milter-conn.c has the table); one
 *	summary line names every stage's result: what the stage said, in
 *	the order of the pass, then, at the end of the line, the stages
 *	that said nothing: their Authentication-Results word, else "off"
 *	(a stage with .quiet set is left out when it had nothing to do).
 *
 *	Metrics: elemta_milter_messages_total{action},
 *	elemta_milter_verdicts_total{stage,action} (the stage whose
 *	verdict won; "none" for mail no stage acted on),
 *	elemta_milter_results_total{method,result},
 *	elemta_milter_stage_seconds{stage},
 *	elemta_milter_dns_lookups_total and
 *	elemta_milter_dns_cache_total{result} (hit: answered by the
 *	resolver's cache, miss: asked of libunbound; the hit ratio is
 *	hit / (hit + miss)).
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-body.h"
#include "milter-clamav.h"
#include "milter-dmarc.h"
#include "xalloc.h"

static const struct milter_stage milter_stages[] = {
	{ .name = "spf", .eom = milter_spf_eom },
	/* before "dkim"; milter_pipeline_decide says which of them acts */
	{ .name = "dkim-sign", .quiet = 1,
	  .body = milter_dkim_sign_body, .eom = milter_dkim_sign_eom,
	  .free = milter_dkim_sign_free },
	{ .name = "dkim", .header = milter_dkim_header,
	  .eoh = milter_dkim_eoh, .body = milter_dkim_body,
	  .eom = milter_dkim_eom, .free = milter_dkim_free },
	/* after "dkim": the same body pass, key lookups and budget */
	{ .name = "arc", .eoh = milter_arc_verify_eoh,
	  .body = milter_arc_verify_body, .eom = milter_arc_verify_eom,
	  .free = milter_arc_verify_free },
	/* after "arc": the trusted-sealer override reads its result */
	{ .name = "dmarc", .eom = milter_dmarc_eom },
	{ .name = "greylist", .eom = milter_greylist_eom },
	/* after greylisting; before rspamd: a virus is rejected without
	 * asking rspamd */
	{ .name = "clamav", .eom = milter_clamav_eom,
	  .body_wanted = milter_clamav_wanted },
	/* after greylisting: rspamd's greylist action calls it back
	 * (greylist_mode = rspamd); skipped only when its reject could not
	 * win the verdict (milter_msg_outranks) */
	{ .name = "rspamd", .body_wanted = milter_rspamd_wanted,
	  .eom = milter_rspamd_eom, .free = milter_rspamd_free },
	/* last: after every stage that can change the verdict, the A-R or
	 * the headers (clamav, rspamd), after "dkim-sign" (the AMS covers
	 * our DKIM-Signature); quiet: sealing is not a check, and with
	 * arc_seal_domain unset the summary line does not name it */
	{ .name = "arc-seal", .quiet = 1, .eoh = milter_arc_sealer_eoh,
	  .body = milter_arc_sealer_body,
	  .eom = milter_arc_sealer_eom, .free = milter_arc_sealer_free },
};
#define MILTER_NSTAGES (sizeof(milter_stages) / sizeof(milter_stages[0]))

static struct metric *m_messages;
static struct metric *m_verdicts;
static struct metric *m_results;
static struct metric *m_stage_seconds;
static struct metric *m_dns_lookups;
static struct metric_series *m_dns_hits;
static struct metric_series *m_dns_misses;

/* milter_pipeline_init - register the metrics (once, before threads) */
void
milter_pipeline_init(void)
{
	struct metric *m;
	int a;

	m_messages = metrics_counter("elemta_milter_messages_total",
				     "Messages by verdict", "action");
	/* Every verdict at 0 from the start, so that a rate (the tempfail
	 * ratio an alert watches) sees the first one. */
	for (a = MILTER_ACCEPT; a <= MILTER_DISCARD; a++)
		metric_series(m_messages, milter_action_name(a));
	m_verdicts = metrics_counter("elemta_milter_verdicts_total",
				     "Messages by verdict and the stage "
				     "whose verdict won", "stage,action");
	m_results = metrics_counter("elemta_milter_results_total",
				    "Authentication results by method",
				    "method,result");
	m_stage_seconds = metrics_histogram("elemta_milter_stage_seconds",
					    "Time spent in each stage",
					    "stage", NULL, 0);
	m_dns_lookups = metrics_counter("elemta_milter_dns_lookups_total",
					"DNS lookups made by the checks",
					NULL);
	m = metrics_counter("elemta_milter_dns_cache_total",
			    "DNS lookups of the checks answered by the cache "
			    "(hit) or asked of libunbound (miss)", "result");
	m_dns_hits = metric_series(m, "hit");
	m_dns_misses = metric_series(m, "miss");
	milter_greylist_init();
	milter_arc_sealer_init();
	milter_body_init();
	milter_rspamd_init();
}

/* milter_pipeline_body_wanted - does a stage read the whole message */
int
milter_pipeline_body_wanted(const struct milter_conf *mc)
{
	size_t i;

	for (i = 0; i < MILTER_NSTAGES; i++)
		if (milter_stages[i].body_wanted != NULL
		    && milter_stages[i].body_wanted(mc))
			return 1;
	return 0;
}

/* milter_pipeline_caps - headers beyond max_headers/max_header_size
 * went unchecked: say so, and act as header_cap_action says */
static void
milter_pipeline_caps(struct milter_msg *m)
{
	static const char text[] = "message headers exceed the limits "
				   "of this server";

	milter_msg_summary(m, "headers_unchecked=%zu", m->headers_dropped);
	milter_msg_enforce(m, MILTER_REPLY_HEADER_CAP,
			   m->conn->mc->header_cap_action, text);
}

/* milter_pipeline_decide - sign or verify, once per message: at end
 * of headers, when the From header is known */
static void
milter_pipeline_decide(struct milter_msg *m)
{
	if (m->mode != MILTER_MODE_UNDECIDED)
		return;
	m->mode = milter_dkim_sign_decide(m) ? MILTER_MODE_SIGN
					     : MILTER_MODE_VERIFY;
}

/* milter_pipeline_said - the stage's word for the end of the summary
 * line when it said nothing itself: its first new A-R result, or "off";
 * appended to buf (len bytes) */
static void
milter_pipeline_said(const struct milter_msg *m,
		     const struct milter_stage *st, size_t len0,
		     size_t nres0, char *buf, size_t len)
{
	const char *word = "off";
	size_t k, used = strlen(buf);

	if ((m->summary != NULL ? strlen(m->summary) : 0) != len0
	    || st->quiet)
		return;
	for (k = nres0; k < m->nresults; k++)
		if (strcmp(m->results[k].method, st->name) == 0) {
			word = m->results[k].result;
			break;
		}
	snprintf(buf + used, len - used, " %s=%s", st->name, word);
}

/* milter_pipeline_run - every stage, then the outcome (milter-outcome.c) */
void
milter_pipeline_run(struct milter_msg *m, struct milter_outcome *o)
{
	struct dns_counter dns = { 0, 0, 0, NULL };	/* the checks' total */
	size_t i, j, len0, nres0;
	char quiet[512] = "";	/* the stages that said nothing */
	double t0;

	milter_pipeline_decide(m);	/* if end of headers never came */
	if (m->headers_dropped > 0)
		milter_pipeline_caps(m);
	milter_body_eom(m);	/* the copy complete, or over the limit */
	for (i = 0; i < MILTER_NSTAGES; i++) {
		len0 = m->summary != NULL ? strlen(m->summary) : 0;
		nres0 = m->nresults;
		t0 = clock_mono_s();
		milter_stages[i].eom(m);
		if (m_stage_seconds != NULL)
			metric_observe(m_stage_seconds, clock_mono_s() - t0,
				       milter_stages[i].name);
		milter_pipeline_said(m, &milter_stages[i], len0, nres0,
				     quiet, sizeof(quiet));
	}
	dns_counter_add(&dns, &m->spf_dns);
	dns_counter_add(&dns, &m->dkim_dns);
	dns_counter_add(&dns, &m->dmarc_dns);
	milter_outcome_build(m, o);

	if (m_messages != NULL) {
		metric_inc(m_messages, milter_action_name(m->action));
		metric_inc(m_verdicts, m->action_stage ? m->action_stage
			   : "none", milter_action_name(m->action));
		for (j = 0; j < m->nresults; j++)
			metric_inc(m_results, m->results[j].method,
				   m->results[j].result);
		metric_add(m_dns_lookups, (double)dns.lookups);
		metric_series_add(m_dns_hits, (double)dns.hits);
		metric_series_add(m_dns_misses,
				  (double)(dns.lookups - dns.hits));
	}
	qid_info(m->qid, "%s%saction=%s%s%s dns_lookups=%u dns_cache_hits=%u"
		 "%s", m->summary ? m->summary : "", m->summary ? " " : "",
		 milter_action_name(m->action),
		 m->action_stage ? " by=" : "",
		 m->action_stage ? m->action_stage : "", dns.lookups,
		 dns.hits, quiet);
}

/* milter_pipeline_header - one kept header to the stages that read them */
void
milter_pipeline_header(struct milter_msg *m, const char *name,
		       const char *value)
{
	size_t i;

	for (i = 0; i < MILTER_NSTAGES; i++)
		if (milter_stages[i].header != NULL)
			milter_stages[i].header(m, name, value);
}

/* milter_pipeline_eoh - end of headers: the decision, then the stages */
void
milter_pipeline_eoh(struct milter_msg *m)
{
	size_t i;

	milter_pipeline_decide(m);
	milter_body_eoh(m);
	for (i = 0; i < MILTER_NSTAGES; i++)
		if (milter_stages[i].eoh != NULL)
			milter_stages[i].eoh(m);
}

/* milter_pipeline_body - a body chunk to the stages */
void
milter_pipeline_body(struct milter_msg *m, const unsigned char *chunk,
		     size_t len)
{
	size_t i;

	milter_body_chunk(m, chunk, len);
	for (i = 0; i < MILTER_NSTAGES; i++)
		if (milter_stages[i].body != NULL)
			milter_stages[i].body(m, chunk, len);
}

/* milter_pipeline_free - the stages' per-message state */
void
milter_pipeline_free(struct milter_msg *m)
{
	size_t i;

	for (i = 0; i < MILTER_NSTAGES; i++)
		if (milter_stages[i].free != NULL)
			milter_stages[i].free(m);
}
