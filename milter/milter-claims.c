/*++
 * NAME
 *	milter-claims 3
 * SUMMARY
 *	the sender's headers that claim one of our verdicts, removed
 * DESCRIPTION
 *	A header a content stage writes (X-Virus-Scanned, X-Spam: Yes...)
 *	is read downstream as that stage's verdict: the LMTP bridge's Junk
 *	rule, a mail client's filter.  The same header written by the
 *	sender would be taken for ours, so each one the message brings
 *	is removed when the stage that writes it is on: X-Spam* and
 *	X-Rspamd* (Rspamd), X-Virus-Scanned and X-Virus-Status (ClamAV),
 *	X-Elemta-Scan (the message body is kept: milter-body.h).
 *	A name matches when it starts with the table's (case-insensitive),
 *	as rspamd's milter_headers removes X-Spam-Level with X-Spam.
 *
 *	milter_claims_header() notes each header as received, whatever
 *	the caps (a forged one must go even when it is the 1001st), with
 *	its index among the fields of that name (1-based, as the MTA
 *	counts); milter_claims_edits() removes them, each name from its
 *	last, in the outcome (milter-outcome.c).  A message's list is
 *	capped (MILTER_MAX_CLAIMED): past that, headers stay.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "milter-body.h"
#include "milter-clamav.h"
#include "xalloc.h"

#define MILTER_MAX_CLAIMED	1000

static const struct milter_claim_rule {
	const char *prefix;
	int (*on)(const struct milter_conf *mc);
} milter_claim_rules[] = {
	{ "X-Spam", milter_rspamd_wanted },
	{ "X-Rspamd", milter_rspamd_wanted },
	{ "X-Virus-Scanned", milter_clamav_wanted },
	{ "X-Virus-Status", milter_clamav_wanted },
	{ MILTER_BODY_SCAN_HEADER, milter_pipeline_body_wanted },
};

/* milter_claims_name - 1 if a header of that name claims a verdict of
 * a stage that is on under mc */
int
milter_claims_name(const struct milter_conf *mc, const char *name)
{
	const struct milter_claim_rule *r;
	size_t i;

	for (i = 0; i < sizeof(milter_claim_rules)
	     / sizeof(milter_claim_rules[0]); i++) {
		r = &milter_claim_rules[i];
		if (strncasecmp(name, r->prefix, strlen(r->prefix)) == 0
		    && r->on(mc))
			return 1;
	}
	return 0;
}

/* milter_claims_header - note a header of the sender's if it claims */
void
milter_claims_header(struct milter_msg *m, const char *name)
{
	struct milter_claim *c;
	unsigned index = 1;
	size_t i;

	if (m->nclaimed >= MILTER_MAX_CLAIMED
	    || !milter_claims_name(m->conn->mc, name))
		return;
	for (i = 0; i < m->nclaimed; i++)
		if (strcasecmp(m->claimed[i].name, name) == 0)
			index++;
	m->claimed = x_realloc(m->claimed,
			       (m->nclaimed + 1) * sizeof(*m->claimed));
	c = &m->claimed[m->nclaimed++];
	c->name = x_strdup(name);
	c->index = index;
}

/* milter_claims_edits - the noted headers removed, from the last */
void
milter_claims_edits(const struct milter_msg *m, struct milter_outcome *o)
{
	size_t i;

	for (i = m->nclaimed; i > 0; i--)
		milter_outcome_edit(o, MILTER_EDIT_DELETE,
				    m->claimed[i - 1].name,
				    m->claimed[i - 1].index, NULL);
}

/* milter_claims_free - the message's list */
void
milter_claims_free(struct milter_msg *m)
{
	size_t i;

	for (i = 0; i < m->nclaimed; i++)
		free(m->claimed[i].name);
	x_free(&m->claimed);
	m->nclaimed = 0;
}
