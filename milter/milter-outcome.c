/*++
 * NAME
 *	milter-outcome 3
 * SUMMARY
 *	the one outcome of a message: header edits and a verdict
 * DESCRIPTION
 *	milter_outcome_build() turns what the stages left in a message
 *	(forged Authentication-Results, Received-SPF, the quarantine
 *	reason, DKIM signatures, the strongest action) into an ordered list
 *	of header edits and one verdict.  The daemon applies that list with
 *	libmilter's calls and -t prints it (milter_outcome_print): nothing
 *	else reads the message to decide what the MTA is told.
 *
 *	The order: forged A-R headers removed from the last (earlier
 *	indexes stay valid whatever the MTA does with later ones); then,
 *	each inserted at the top, Received-SPF (so that it ends up below
 *	our A-R, right above the MTA's own Received: a trace header, RFC
 *	7208 9.1), the quarantine header when quarantine_header is set, our
 *	A-R, and the DKIM signatures above it (milter-dkim-sign.h says
 *	why).  Then the headers the stages asked for
 *	(milter_msg_add_header: the content scanners' X-Virus-Scanned,
 *	X-Elemta-Scan...), added at the end of the header in the order
 *	asked.  Last, the new ARC set, above all (milter-arc-sealer.c: AS,
 *	AMS, AAR from the top; its AMS covers our DKIM-Signature and
 *	what the other edits leave, so it comes last);
 *	milter_outcome_view() applies the edits to a header list as the
 *	MTA will: what the sealer signs.  A message rejected, deferred or
 *	discarded gets no edits:
 *	nothing of it is kept.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "xalloc.h"

/* milter_outcome_edit - append one edit */
void
milter_outcome_edit(struct milter_outcome *o, enum milter_edit_op op,
		    const char *name, unsigned index, const char *value)
{
	struct milter_edit *e;

	o->edits = x_realloc(o->edits, (o->nedits + 1) * sizeof(*o->edits));
	e = &o->edits[o->nedits++];
	e->op = op;
	e->name = x_strdup(name);
	e->index = index;
	e->value = value != NULL ? x_strdup(value) : NULL;
}

/* milter_outcome_verdict - the verdict of the strongest action */
static void
milter_outcome_verdict(const struct milter_msg *m, struct milter_verdict *v)
{
	v->action = m->action;
	switch (m->action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		snprintf(v->code, sizeof(v->code), "%s", m->reply_code);
		snprintf(v->xcode, sizeof(v->xcode), "%s", m->reply_xcode);
		v->text = x_strdup(m->reply_text ? m->reply_text : "");
		break;
	case MILTER_QUARANTINE:
		/* quarantine_header set: a header instead of a hold */
		v->hold = m->conn->mc->quarantine_header == NULL;
		v->text = x_strdup(m->quarantine_reason ? m->quarantine_reason
				   : "");
		break;
	default:
		break;
	}
}

/* milter_outcome_build - the edits and the verdict (see above) */
void
milter_outcome_build(const struct milter_msg *m, struct milter_outcome *o)
{
	const struct milter_conf *mc = m->conn->mc;
	const char *v, *name;
	char *ar;
	size_t i;

	memset(o, 0, sizeof(*o));
	milter_outcome_verdict(m, &o->verdict);
	if (m->action == MILTER_REJECT || m->action == MILTER_TEMPFAIL
	    || m->action == MILTER_DISCARD)
		return;
	for (i = m->nar_ours; i > 0; i--)
		milter_outcome_edit(o, MILTER_EDIT_DELETE, AUTHRES_HEADER,
				    m->ar_ours[i - 1], NULL);
	milter_rspamd_edits(m, o);
	if (m->received_spf != NULL)
		milter_outcome_edit(o, MILTER_EDIT_INSERT,
				    MILTER_RECEIVED_SPF_HEADER, 0,
				    m->received_spf);
	if (m->action == MILTER_QUARANTINE && mc->quarantine_header != NULL)
		milter_outcome_edit(o, MILTER_EDIT_INSERT,
				    mc->quarantine_header, 0,
				    o->verdict.text);
	ar = authres_format(mc->authserv_id, m->results, m->nresults);
	milter_outcome_edit(o, MILTER_EDIT_INSERT, AUTHRES_HEADER, 0, ar);
	free(ar);
	for (i = 0; i < milter_dkim_sign_count(m); i++)
		milter_outcome_edit(o, MILTER_EDIT_INSERT,
				    MILTER_DKIM_SIGN_HEADER, 0,
				    milter_dkim_sign_value(m, i));
	for (i = 0; i < m->nadd_headers; i++)
		milter_outcome_edit(o, MILTER_EDIT_ADD, m->add_headers[i].name,
				    0, m->add_headers[i].value);
	/* the ARC set last, on top: AS, AMS, AAR from the top */
	for (i = 0; (v = milter_arc_sealer_value(m, i, &name)) != NULL; i++)
		milter_outcome_edit(o, MILTER_EDIT_INSERT, name, 0, v);
}

/* milter_outcome_view - the headers as the MTA will have them */
void
milter_outcome_view(const struct milter_outcome *o,
		    const struct milter_header *hdrs, size_t n,
		    struct milter_header **out, size_t *nout)
{
	struct milter_header *v = x_calloc(n + o->nedits + 1, sizeof(*v));
	const struct milter_edit *e;
	size_t i, j, k, cnt = n;
	unsigned seen;

	if (n > 0)
		memcpy(v, hdrs, n * sizeof(*v));
	for (i = 0; i < o->nedits; i++) {
		e = &o->edits[i];
		if (e->op == MILTER_EDIT_INSERT || e->op == MILTER_EDIT_ADD) {
			k = e->op == MILTER_EDIT_ADD || e->index > cnt
			    ? cnt : e->index;
			memmove(v + k + 1, v + k, (cnt - k) * sizeof(*v));
			v[k].name = e->name;
			v[k].value = e->value;
			cnt++;
			continue;
		}
		/* delete, change: name's index-th field, 1-based */
		for (j = 0, seen = 0; j < cnt; j++)
			if (strcasecmp(v[j].name, e->name) == 0
			    && ++seen == e->index)
				break;
		if (j == cnt)
			continue;
		if (e->op == MILTER_EDIT_CHANGE && e->value != NULL) {
			v[j].value = e->value;
			continue;
		}
		memmove(v + j, v + j + 1, (cnt - j - 1) * sizeof(*v));
		cnt--;
	}
	*out = v;
	*nout = cnt;
}

/* milter_outcome_print - one line per edit, then the verdict */
void
milter_outcome_print(const struct milter_outcome *o, FILE *fp)
{
	const struct milter_verdict *v = &o->verdict;
	const struct milter_edit *e;
	size_t i;

	for (i = 0; i < o->nedits; i++) {
		e = &o->edits[i];
		switch (e->op) {
		case MILTER_EDIT_DELETE:
			fprintf(fp, "delete-header: %s %u\n", e->name,
				e->index);
			break;
		case MILTER_EDIT_INSERT:
			if (e->index == 0)
				fprintf(fp, "insert-header: %s: %s\n", e->name,
					e->value);
			else
				fprintf(fp, "insert-header %u: %s: %s\n",
					e->index, e->name, e->value);
			break;
		case MILTER_EDIT_ADD:
			fprintf(fp, "add-header: %s: %s\n", e->name, e->value);
			break;
		case MILTER_EDIT_CHANGE:
			fprintf(fp, "change-header: %s %u: %s\n", e->name,
				e->index, e->value);
			break;
		}
	}
	switch (v->action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		fprintf(fp, "verdict: %s %s %s %s\n",
			milter_action_name(v->action), v->code, v->xcode,
			v->text);
		break;
	case MILTER_QUARANTINE:
		fprintf(fp, "verdict: %s %s\n", v->hold ? "quarantine"
			: "quarantine-header", v->text);
		break;
	default:
		fprintf(fp, "verdict: %s\n", milter_action_name(v->action));
		break;
	}
}

/* milter_outcome_free - free what milter_outcome_build produced */
void
milter_outcome_free(struct milter_outcome *o)
{
	size_t i;

	for (i = 0; i < o->nedits; i++) {
		free(o->edits[i].name);
		free(o->edits[i].value);
	}
	x_free(&o->edits);
	o->nedits = 0;
	x_free(&o->verdict.text);
}
