/*++
 * NAME
 *	0402-milter-outcome 1
 * SUMMARY
 *	unit tests for milter/milter-outcome.c: one list of header edits
 *	and one verdict
 * DESCRIPTION
 *	A table of messages (forged Authentication-Results, Received-SPF,
 *	the strongest action, quarantine as a hold or as a header), each
 *	built into an outcome and printed as -t prints it: the edits in the
 *	order the MTA applies them, and the verdict with its codes.  A
 *	refused message gets no edits.  The edit kinds no stage makes yet
 *	(add, change, insert below the top) are printed too.  The reply
 *	table: each kind of check's configured action as the reply the MTA
 *	is given.  The verdict's precedence: every pair of requests, in
 *	both orders, the highest wins with its reply.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "milter.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

#define AR	"insert-header: Authentication-Results: mx.elemta.test;"

struct ocase {
	const char *name;
	const char *qhdr;		/* quarantine_header, or NULL */
	int forged;			/* forged A-R headers (#2, #4, ...) */
	const char *received_spf;
	enum milter_action action;
	const char *code, *xcode, *text;
	const char *want;		/* the printed outcome */
	size_t nedits;
};

static const struct ocase ocases[] = {
	{ "accept, nothing to remove", NULL, 0, NULL, MILTER_ACCEPT,
	  NULL, NULL, NULL,
	  AR "\n\tspf=pass smtp.mailfrom=a@example.test\n"
	  "verdict: accept\n", 1 },
	{ "forged A-R removed from the last, Received-SPF under ours",
	  NULL, 2, "pass (x)", MILTER_ACCEPT, NULL, NULL, NULL,
	  "delete-header: Authentication-Results 4\n"
	  "delete-header: Authentication-Results 2\n"
	  "insert-header: Received-SPF: pass (x)\n"
	  AR "\n\tspf=pass smtp.mailfrom=a@example.test\n"
	  "verdict: accept\n", 4 },
	{ "reject: codes, no edits", NULL, 1, "fail (x)", MILTER_REJECT,
	  "550", "5.7.23", "SPF validation failed",
	  "verdict: reject 550 5.7.23 SPF validation failed\n", 0 },
	{ "tempfail: codes, no edits", NULL, 0, NULL, MILTER_TEMPFAIL,
	  "451", "4.7.24", "try again later",
	  "verdict: tempfail 451 4.7.24 try again later\n", 0 },
	{ "quarantine as a hold", NULL, 1, NULL, MILTER_QUARANTINE,
	  NULL, NULL, "softfail",
	  "delete-header: Authentication-Results 2\n"
	  AR "\n\tspf=pass smtp.mailfrom=a@example.test\n"
	  "verdict: quarantine spf: softfail\n", 2 },
	{ "quarantine as a header, above Received-SPF", "X-Quarantine", 0,
	  "softfail (x)", MILTER_QUARANTINE, NULL, NULL, "softfail",
	  "insert-header: Received-SPF: softfail (x)\n"
	  "insert-header: X-Quarantine: spf: softfail\n"
	  AR "\n\tspf=pass smtp.mailfrom=a@example.test\n"
	  "verdict: quarantine-header spf: softfail\n", 3 },
	{ "discard: no edits", NULL, 1, "pass (x)", MILTER_DISCARD,
	  NULL, NULL, NULL, "verdict: discard\n", 0 },
};

/* conn - a connection on our authserv-id, with a quarantine header or
 * without (the MTA's hold) */
static struct milter_conn *
conn(int qhdr)
{
	static const char *ov[] = {
		"milter.authserv_id=mx.elemta.test",
		"milter.quarantine_header=X-Quarantine",
	};
	char *errors = NULL;
	struct conf *cf = conf_load(elemta_sections, NULL, ov, qhdr ? 2 : 1,
				    &errors);

	if (cf == NULL)
		bail_out("conf_load: %s", errors ? errors : "?");
	return milter_conn_new(cf, NULL);
}

/* print - the outcome as -t prints it; malloc'ed */
static char *
print(const struct milter_outcome *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		bail_out("open_memstream failed");
	milter_outcome_print(o, fp);
	fclose(fp);
	return buf;
}

/* test_case - one message of the table, built and printed */
static void
test_case(const struct ocase *t)
{
	struct milter_conn *c = conn(t->qhdr != NULL);
	struct milter_msg *m = milter_msg_new(c, "<a@example.test>");
	struct milter_outcome o;
	struct authres_result *r;
	char *got;
	int i;

	for (i = 0; i < 2 * t->forged; i++)
		milter_msg_header(m, "Authentication-Results", i % 2
				  ? " mx.elemta.test; spf=pass"
				  : " other.example; spf=fail");
	r = milter_msg_result(m, "spf", "pass");
	authres_prop_add(r, "smtp", "mailfrom", "a@example.test");
	if (t->received_spf != NULL)
		m->received_spf = x_strdup(t->received_spf);
	if (t->action != MILTER_ACCEPT)
		milter_msg_action(m, "spf", t->action, t->code, t->xcode,
				  t->text);
	milter_outcome_build(m, &o);
	is_int((long long)o.nedits, (long long)t->nedits, "%s: edits",
	       t->name);
	is_int(o.verdict.action, t->action, "%s: verdict", t->name);
	got = print(&o);
	is_str(got, t->want, "%s: printed", t->name);
	free(got);
	milter_outcome_free(&o);
	ok(o.edits == NULL && o.nedits == 0 && o.verdict.text == NULL,
	   "%s: freed", t->name);
	milter_conn_free(&c);
}

/* test_edits - every kind of edit, as printed and in order */
static void
test_edits(void)
{
	struct milter_outcome o;
	char *got;

	memset(&o, 0, sizeof(o));
	milter_outcome_edit(&o, MILTER_EDIT_DELETE, "X-A", 3, NULL);
	milter_outcome_edit(&o, MILTER_EDIT_INSERT, "X-B", 2, "b");
	milter_outcome_edit(&o, MILTER_EDIT_ADD, "X-C", 0, "c");
	milter_outcome_edit(&o, MILTER_EDIT_CHANGE, "X-D", 1, "d");
	got = print(&o);
	is_str(got, "delete-header: X-A 3\n"
	       "insert-header 2: X-B: b\n"
	       "add-header: X-C: c\n"
	       "change-header: X-D 1: d\n"
	       "verdict: accept\n", "every edit kind, in order");
	ok(o.edits[0].value == NULL, "a delete has no value");
	free(got);
	milter_outcome_free(&o);
}

/* test_view - the edits applied as the MTA applies them (what the ARC
 * sealer signs): deletes by name and 1-based index among that name,
 * inserts at an index (0: the top), adds at the end, changes */
static void
test_view(void)
{
	struct milter_header h[] = {
		{ "Authentication-Results", " mx; spf=pass" },
		{ "From", " a@example.test" },
		{ "authentication-results", " forged" },
		{ "Subject", " old" },
	}, *v;
	struct milter_outcome o;
	char got[256] = "";
	size_t n, i;

	memset(&o, 0, sizeof(o));
	milter_outcome_edit(&o, MILTER_EDIT_DELETE, "Authentication-Results",
			    2, NULL);
	milter_outcome_edit(&o, MILTER_EDIT_INSERT, "X-Top", 0, "t");
	milter_outcome_edit(&o, MILTER_EDIT_INSERT, "X-Third", 2, "3");
	milter_outcome_edit(&o, MILTER_EDIT_ADD, "X-End", 0, "e");
	milter_outcome_edit(&o, MILTER_EDIT_CHANGE, "subject", 1, "new");
	milter_outcome_edit(&o, MILTER_EDIT_DELETE, "X-None", 1, NULL);
	milter_outcome_edit(&o, MILTER_EDIT_INSERT, "X-Far", 99, "f");
	milter_outcome_view(&o, h, 4, &v, &n);
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 "%s:%s|", v[i].name, v[i].value);
	is_str(got, "X-Top:t|Authentication-Results: mx; spf=pass|"
	       "X-Third:3|From: a@example.test|Subject:new|X-End:e|X-Far:f|",
	       "view: the edits in order, as the MTA applies them");
	ok(h[2].value[1] == 'f', "view: the message's headers untouched");
	free(v);
	milter_outcome_free(&o);
}

/* The reply table: a configured action of each kind of check, as the
 * message records it (stage, reply code, enhanced code). */
struct ecase {
	enum milter_reply_kind kind;
	int action;
	const char *stage;
	const char *code, *xcode;
};

static const struct ecase ecases[] = {
	{ MILTER_REPLY_SPF, MILTER_REJECT, "spf", "550", "5.7.23" },
	{ MILTER_REPLY_SPF, MILTER_TEMPFAIL, "spf", "451", "4.7.24" },
	{ MILTER_REPLY_SPF_PERMERROR, MILTER_REJECT, "spf", "550", "5.7.24" },
	{ MILTER_REPLY_SPF_PERMERROR, MILTER_TEMPFAIL, "spf", "451", "4.7.24" },
	{ MILTER_REPLY_DKIM, MILTER_REJECT, "dkim", "550", "5.7.20" },
	{ MILTER_REPLY_DKIM, MILTER_TEMPFAIL, "dkim", "451", "4.7.20" },
	{ MILTER_REPLY_DMARC, MILTER_REJECT, "dmarc", "550", "5.7.1" },
	{ MILTER_REPLY_DMARC, MILTER_TEMPFAIL, "dmarc", "451", "4.7.1" },
	{ MILTER_REPLY_HEADER_CAP, MILTER_REJECT, "header-cap", "552",
	  "5.3.4" },
	{ MILTER_REPLY_HEADER_CAP, MILTER_TEMPFAIL, "header-cap", "452",
	  "4.3.4" },
	{ MILTER_REPLY_DKIM, MILTER_QUARANTINE, "dkim", "", "" },
	{ MILTER_REPLY_DMARC, MILTER_ACCEPT, NULL, "", "" },
};

/* test_enforce - one table from a configured action to the reply */
static void
test_enforce(void)
{
	struct milter_conn *c = conn(0);
	const struct ecase *t;
	struct milter_msg *m;
	size_t i;

	for (i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		t = &ecases[i];
		m = milter_msg_new(c, "a@example.test");
		milter_msg_enforce(m, t->kind, t->action, "why");
		is_str(milter_action_name(m->action),
		       milter_action_name((enum milter_action)t->action),
		       "enforce #%zu: action", i);
		is_str(m->action_stage ? m->action_stage : "(none)",
		       t->stage ? t->stage : "(none)", "enforce #%zu: stage",
		       i);
		is_str(m->reply_code, t->code, "enforce #%zu: code", i);
		is_str(m->reply_xcode, t->xcode, "enforce #%zu: enhanced "
		       "code", i);
	}
	milter_conn_free(&c);
}

/* The verdict's precedence: requests from the table's top to its
 * bottom, each with its level (equal levels: the first asked wins). */
struct pcase {
	const char *stage;
	enum milter_action action;
	const char *code;
	int level;
};

static const struct pcase pcases[] = {
	{ "clamav", MILTER_REJECT, "550", 7 },		/* a virus */
	{ "clamav", MILTER_DISCARD, "", 7 },
	{ "dmarc", MILTER_REJECT, "550", 6 },
	{ "spf", MILTER_REJECT, "551", 5 },
	{ "header-cap", MILTER_REJECT, "552", 5 },
	{ "rspamd", MILTER_REJECT, "553", 4 },
	{ "rspamd", MILTER_DISCARD, "", 4 },
	{ "greylist", MILTER_TEMPFAIL, "450", 3 },	/* soft reject */
	{ "rspamd", MILTER_TEMPFAIL, "451", 3 },
	{ "clamav", MILTER_QUARANTINE, "", 2 },
	{ "rspamd", MILTER_QUARANTINE, "", 2 },
	{ "rspamd", MILTER_ACCEPT, "", 1 },		/* headers */
};
#define NPCASES (sizeof(pcases) / sizeof(pcases[0]))

/* test_precedence - every pair, in both orders: the highest level
 * wins with its reply, whatever the order asked */
static void
test_precedence(void)
{
	struct milter_conn *c = conn(0);
	const struct pcase *a, *b, *w;
	struct milter_msg *m;
	size_t i, j, bad = 0;

	for (i = 0; i < NPCASES; i++)
		for (j = 0; j < NPCASES; j++) {
			if (i == j)
				continue;
			a = &pcases[i];
			b = &pcases[j];
			w = a->level >= b->level ? a : b;
			m = milter_msg_new(c, "a@example.test");
			milter_msg_action(m, a->stage, a->action, a->code,
					  "5.7.1", a->stage);
			milter_msg_action(m, b->stage, b->action, b->code,
					  "5.7.1", b->stage);
			if (m->action != w->action
			    || (w->action != MILTER_ACCEPT
				&& (m->action_stage == NULL
				    || strcmp(m->action_stage, w->stage) != 0
				    || strcmp(m->reply_code, w->code) != 0))) {
				diag("%s %s then %s %s: got %s by %s (%s), "
				     "want %s by %s (%s)", a->stage,
				     milter_action_name(a->action), b->stage,
				     milter_action_name(b->action),
				     milter_action_name(m->action),
				     m->action_stage ? m->action_stage : "-",
				     m->reply_code,
				     milter_action_name(w->action), w->stage,
				     w->code);
				bad++;
			}
			is_int(milter_msg_outranks(m, b->stage, b->action), 1,
			       "precedence: %s %s then %s %s: the verdict "
			       "outranks the loser", a->stage,
			       milter_action_name(a->action), b->stage,
			       milter_action_name(b->action));
			milter_msg_free(&m);
		}
	is_int((long long)bad, 0, "precedence: every pair of %zu requests, "
	       "both orders: the highest wins with its reply", NPCASES);
	/* a greylisted message is still asked of rspamd; a rejected one
	 * is not (milter_rspamd_eom) */
	m = milter_msg_new(c, "a@example.test");
	milter_msg_enforce(m, MILTER_REPLY_GREYLIST, MILTER_TEMPFAIL, "grey");
	ok(!milter_msg_outranks(m, "rspamd", MILTER_REJECT),
	   "precedence: rspamd's reject would beat a greylist deferral");
	/* ... and ClamAV scans it: a virus would refuse it for good */
	ok(!milter_msg_refused(m),
	   "precedence: a greylist deferral is not refused for good");
	milter_msg_enforce(m, MILTER_REPLY_DMARC, MILTER_REJECT, "dmarc");
	ok(milter_msg_outranks(m, "rspamd", MILTER_REJECT),
	   "precedence: ... not a DMARC reject");
	/* refused for good: ClamAV does not scan it (milter_clamav_eom),
	 * as no later request gets it delivered */
	ok(milter_msg_refused(m), "precedence: a DMARC reject is refused "
	   "for good");
	milter_msg_enforce(m, MILTER_REPLY_CLAMAV, MILTER_QUARANTINE, "v");
	milter_msg_enforce(m, MILTER_REPLY_RSPAMD, MILTER_TEMPFAIL, "soft");
	is_str(milter_action_name(m->action), "reject",
	       "precedence: ... a later quarantine or tempfail leaves it "
	       "refused");
	milter_msg_free(&m);
	m = milter_msg_new(c, "a@example.test");
	milter_msg_enforce(m, MILTER_REPLY_SPF, MILTER_DISCARD, "spf");
	ok(milter_msg_refused(m), "precedence: a discard is refused for good");
	milter_msg_free(&m);
	milter_conn_free(&c);
}

int
main(void)
{
	size_t i;

	plan_lazy();
	for (i = 0; i < sizeof(ocases) / sizeof(ocases[0]); i++)
		test_case(&ocases[i]);
	test_edits();
	test_view();
	test_enforce();
	test_precedence();
	is_int(milter_action_parse("discard"), -1,
	       "discard is a verdict, not an option's value");
	done_testing();
	return exit_status();
}
