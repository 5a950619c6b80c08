/*++
 * NAME
 *	milter-dmarc 3h
 * SUMMARY
 *	the DMARC stage (libopendmarc; records fetched through lib/dns)
 * SYNOPSIS
 *	#include "milter-dmarc.h"
 * DESCRIPTION
 *	The stage (milter-dmarc.c) runs after SPF and DKIM and reads their
 *	in-memory results.  The pure parts live in milter-dmarc-util.c so
 *	that they can be unit-tested without DNS or libopendmarc:
 *
 *	dmarc_psl_load() reads a Public Suffix List file (rules, "*."
 *	wildcards, "!" exceptions; comments and blank lines ignored);
 *	dmarc_psl_orgdomain() gives the organisational domain of a name
 *	(RFC 7489 section 3.2: the public suffix plus one label; a name
 *	that is itself a public suffix is its own organisational domain);
 *	dmarc_aligned() compares two domains, strictly (equal) or relaxed
 *	(same organisational domain).
 *
 *	dmarc_from_parse() reads the values of every From header field
 *	(RFC 5322 address lists: display names, comments, quoted strings,
 *	groups, obsolete routes) and says which domain DMARC evaluates:
 *	exactly one distinct, syntactically valid domain is DMARC_FROM_OK;
 *	no From field is DMARC_FROM_NONE; an address without a usable
 *	domain is DMARC_FROM_BAD; addresses in several distinct domains
 *	are DMARC_FROM_MULTI.  Only an OK domain (a bare, lower-cased,
 *	validated host name) is ever given to libopendmarc.
 *
 *	It is the milter's one From parser: DKIM signing takes the author
 *	address from it too (dmarc_from_author), so that the address a
 *	message is signed for and the domain DMARC judges cannot disagree.
 *--*/
#ifndef ELEMTA_MILTER_DMARC_H
#define ELEMTA_MILTER_DMARC_H

#include <stddef.h>

struct dmarc_psl;

/* dmarc_psl_load - read a PSL file; NULL with a message */
struct dmarc_psl *dmarc_psl_load(const char *path, char *err,
				 size_t errlen);
/* dmarc_psl_from_text - the same from a string (for tests) */
struct dmarc_psl *dmarc_psl_from_text(const char *text);
void dmarc_psl_free(struct dmarc_psl **pp);
size_t dmarc_psl_count(const struct dmarc_psl *p);

/* dmarc_psl_orgdomain - organisational domain of a (lower-case) domain
 * into out; -1 if it does not fit */
int dmarc_psl_orgdomain(const struct dmarc_psl *p, const char *domain,
			char *out, size_t outlen);

/* dmarc_aligned - 1 if a and b align (strict: equal; relaxed: the same
 * organisational domain), case-insensitive */
int dmarc_aligned(const struct dmarc_psl *p, const char *a, const char *b,
		  int strict);

enum dmarc_from_status {
	DMARC_FROM_OK,		/* one distinct domain: in domain */
	DMARC_FROM_NONE,	/* no From header field (or empty) */
	DMARC_FROM_BAD,		/* an address without a valid domain */
	DMARC_FROM_MULTI,	/* several distinct domains */
};

#define DMARC_DOMAIN_MAX	254
#define DMARC_ADDR_MAX		1024
/* Candidate author domains kept (see dmarc_from_parse) */
#define DMARC_FROM_MAX_DOMAINS	8

struct dmarc_from {
	enum dmarc_from_status status;
	char domain[DMARC_DOMAIN_MAX];	/* OK/MULTI: the first domain */
	size_t naddrs;			/* addresses seen */
	/* the first valid address: its local part as written, its
	 * domain lower-cased (what DKIM signing matches) */
	char addr[DMARC_ADDR_MAX];
	size_t ndomains;		/* distinct valid domains */
	size_t nfields;			/* From header fields */
	/* Every distinct domain a reader could take for the author's:
	 * the valid addresses', and for a value the parser cannot read,
	 * each "@domain" in its raw text (what a mail client may still
	 * show).  The first DMARC_FROM_MAX_DOMAINS; ncand_lost counts
	 * the rest. */
	char cand[DMARC_FROM_MAX_DOMAINS][DMARC_DOMAIN_MAX];
	size_t ncand;
	size_t ncand_lost;
};

/* dmarc_from_parse - the From values (as received) of a message; an
 * unreadable value still yields its candidate domains */
void dmarc_from_parse(const char *const *values, size_t n,
		      struct dmarc_from *out);

/* dmarc_from_author - the address DKIM signing matches: exactly one
 * From field with exactly one valid mailbox; NULL otherwise */
const char *dmarc_from_author(const struct dmarc_from *f);

/* dmarc_domain_valid - a host name: LDH (and "_") labels of 1-63,
 * at most 253 in all; a final dot allowed */
int dmarc_domain_valid(const char *d, size_t len);

/* dmarc_addr_domain - the domain of an address ("user@dom", "dom"
 * for a bare domain), lower-cased into out[DMARC_DOMAIN_MAX] without a
 * final dot; -1 if there is none or it is not a valid host name */
int dmarc_addr_domain(const char *addr, char out[DMARC_DOMAIN_MAX]);

/* The stage (milter-dmarc.c). */
struct milter_msg;
struct conf;
int milter_dmarc_init(struct conf *conf, char *err, size_t errlen);
void milter_dmarc_eom(struct milter_msg *m);
void milter_dmarc_finish(void);

/* The history writer (milter-dmarc-history.c): a message's row goes on
 * a bounded queue and one thread writes the queue in batches. */
struct dmarc_hist_row {
	struct dmarc_hist_row *next;	/* the queue's */
	char *path;			/* the SQLite file */
	long long ts;			/* unix time */
	/* copies, NULL when empty; in the table's column order */
	char *queue_id, *source_ip, *header_from, *envelope_from;
	char *envelope_to, *policy_domain;
	char p[2], sp[2];
	int pct;			/* -1: none */
	char adkim[2], aspf[2];
	char *result, *disposition, *reason, *spf_domain, *spf_result;
	char *spf_scope;
	int spf_aligned;
	char *dkim;
	int dkim_aligned;
	char *override, *override_comment;
};
/* dmarc_hist_str - a copy of s for a row, NULL when empty */
char *dmarc_hist_str(const char *s);
void dmarc_history_init(void);
/* dmarc_history_push - queue r (taken, freed by the writer), or drop
 * and count it when queue_max rows wait already; never blocks on the
 * database */
void dmarc_history_push(struct dmarc_hist_row *r, int queue_max,
			const char *qid);
/* dmarc_history_flush - wait (at most wait_ms) for the queued rows to
 * be written; 0, or -1 with rows still queued */
int dmarc_history_flush(int wait_ms);
/* How long a reload and the end of the process wait for the queue */
#define DMARC_HISTORY_RELOAD_MS	2000
#define DMARC_HISTORY_STOP_MS	10000
/* dmarc_history_stop - write what is queued (retrying a held lock for
 * at most wait_ms), stop the writer, close the database */
void dmarc_history_stop(int wait_ms);

#endif
