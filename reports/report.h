/*++
 * NAME
 *	report 3h
 * SUMMARY
 *	elemta-dmarc-report: DMARC aggregate reports from the milter's history
 * SYNOPSIS
 *	#include "report.h"
 * DESCRIPTION
 *	report-history.c reads the history the milter writes
 *	(milter/milter-dmarc-history.c, table dmarc_history), aggregated in SQL,
 *	and keeps the table of what was sent (dmarc_report_sent);
 *	report-xml.c writes one report (RFC 9990's format, read by RFC
 *	7489's readers too) and gzips it; report-rua.c parses a DMARC
 *	record's rua= and verifies external destinations; report-send.c
 *	makes the RFC 7489 7.2 message and submits it with sendmail(1).
 *	Functions here return 0 / -1 with a message; the program logs.
 *--*/
#ifndef ELEMTA_REPORT_H
#define ELEMTA_REPORT_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct db;
struct dns_resolver;
struct dmarc_psl;

/* The published policy, as the history stored it (defaults applied). */
struct report_policy {
	char domain[256];
	const char *p, *sp;	/* "none" "quarantine" "reject" */
	const char *adkim, *aspf;	/* "r" "s" */
	int pct;		/* -1: not published */
};

/* One aggregated record: the strings point into the current SQLite
 * row (valid until the next step). */
struct report_record {
	const char *policy_domain;
	const char *source_ip;
	long long count;
	const char *disposition;	/* none quarantine reject */
	int dkim_aligned, spf_aligned;
	const char *reason;		/* the milter's reason, or "" */
	const char *applied;		/* policy that applied: n q r */
	int pct;
	const char *header_from, *envelope_from;
	const char *spf_domain, *spf_result, *spf_scope;
	const char *dkim;		/* "d=D;s=S;r=R ..." */
	/* A local override (ARC trusted sealer ...): type and comment,
	 * or NULL. */
	const char *override_type, *override_comment;
};

/* What a report is about and who makes it. */
struct report_meta {
	const char *org_name;
	const char *email;
	const char *receiver;		/* our domain */
	const char *generator;
	char report_id[600];
	time_t begin, end;		/* end inclusive */
};

/* report-history.c */
struct db *report_history_open(const char *path, int readonly,
			       char *err, size_t errlen);
/* free a malloc'ed NULL-terminated list */
void report_list_free(char ***lp);
/* 1 found (pol filled), 0 no evaluated message, -1 error */
int report_history_policy(struct db *db, const char *domain, time_t begin,
			  time_t end, struct report_policy *pol,
			  char *err, size_t errlen);
/* calls fn for each aggregated record of domain (NULL: of every
 * domain, ordered by domain: one pass over the period); the number of
 * records or -1 */
long report_history_records(struct db *db, const char *domain,
			    time_t begin, time_t end,
			    int (*fn)(const struct report_record *, void *),
			    void *ctx, char *err, size_t errlen);
/* the sent table: status of (domain, begin, dest) or NULL (malloc'ed) */
char *report_sent_status(struct db *db, const char *domain, time_t begin,
			 const char *dest);
int report_sent_mark(struct db *db, const char *domain, time_t begin,
		     const char *dest, const char *status, char *err,
		     size_t errlen);
/* the (domain, begin, dest) kept for a retry, begin < before: parallel
 * lists; the count, or -1 */
long report_sent_deferred(struct db *db, time_t before, char ***domains,
			  time_t **begins, char ***dests, char *err,
			  size_t errlen);
/* delete history and sent rows older than before; rows deleted or -1 */
long report_history_expire(struct db *db, time_t before, char *err,
			   size_t errlen);

/* report-xml.c */
void report_xml_escape(FILE *fp, const char *s);
/* a report: its head into a stream writing *xml (malloc'ed when the
 * stream is closed, *xmllen), then each record, then the end; open
 * returns NULL with err, record and close -1 on a write error */
FILE *report_xml_open(const struct report_meta *meta,
		      const struct report_policy *pol, char **xml,
		      size_t *xmllen, char *err, size_t errlen);
int report_xml_record(const struct report_record *r, FILE *fp);
int report_xml_close(FILE *fp);
/* gzip data (RFC 1952) into *out (malloc'ed); 0 or -1 */
int report_gzip(const char *name, const char *data, size_t len,
		char **out, size_t *outlen, char *err, size_t errlen);

/* report-rua.c */
struct report_dest {
	char *addr;			/* the mailbox */
	char *domain;			/* its domain (lower case) */
	unsigned long long max_size;	/* !size; 0: none */
};
/* the mailto: destinations of a DMARC record's rua=; the count (0: no
 * rua), NULL-safe; problems with single URIs go to *skipped (one line
 * each, malloc'ed, may be NULL) */
size_t report_rua_parse(const char *record, struct report_dest **dests,
			char **skipped);
void report_rua_free(struct report_dest **dests, size_t n);
/* a valid mailbox for a header and sendmail's argv: 1 or 0 */
int report_addr_ok(const char *addr);
/* TXT _dmarc.DOMAIN: 1 a record in *rec, 0 none, -1 temporary */
int report_dmarc_record(struct dns_resolver *r, const char *domain,
			char **rec, char *err, size_t errlen);
/* is dest allowed to receive reports for domain (RFC 7489 7.1):
 * 1 yes (same organisational domain, or D._report._dmarc.HOST says
 * v=DMARC1), 0 no, -1 temporary DNS failure */
int report_dest_verify(struct dns_resolver *r, const struct dmarc_psl *psl,
		       const char *domain, const char *dest_domain,
		       char *err, size_t errlen);

/* report-send.c */
/* the message (malloc'ed) with the gzip as attachment fname */
char *report_mail_build(const struct report_meta *meta, const char *domain,
			const char *to, const char *fname, const char *gz,
			size_t gzlen, size_t *msglen);
/* submit: 0 sent, 1 temporary failure (EX_TEMPFAIL), -1 failed */
int report_mail_submit(const char *sendmail, const char *from,
		       const char *to, const char *msg, size_t len,
		       char *err, size_t errlen);

#endif
