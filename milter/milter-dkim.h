/*++
 * NAME
 *	milter-dkim 3h
 * SUMMARY
 *	the DKIM verify stage (libopendkim, key lookups through lib/dns)
 * SYNOPSIS
 *	#include "milter-dkim.h"
 * DESCRIPTION
 *	The stage feeds libopendkim as the message arrives (each kept
 *	header, end of headers, each body chunk: nothing is buffered
 *	here) and collects one result per signature at end of message,
 *	up to milter.max_signatures signatures (the rest are ignored and
 *	counted).  Key lookups go through lib/dns: libopendkim's own
 *	resolver reads /etc/resolv.conf and cannot use a port.
 *
 *	The results stay in the message (struct milter_dkim_results) for
 *	later stages: DMARC reads each signature's d= and result.
 *
 *	milter_dkim_wire(), milter_dkim_sig_result() and milter_dkim_b8()
 *	are pure, for the unit tests.
 *--*/
#ifndef ELEMTA_MILTER_DKIM_H
#define ELEMTA_MILTER_DKIM_H

#include <stddef.h>

/* The highest milter.max_signatures may be. */
#define MILTER_DKIM_MAX_SIGS	20

/* One verified (or failed) signature. */
struct milter_dkim_sig {
	char *domain;		/* d=, NULL if the signature has none */
	char *selector;		/* s= */
	char *identity;		/* i=, "@d" by default */
	const char *algorithm;	/* "rsa-sha256", "ed25519-sha256", ... */
	const char *result;	/* "pass", "fail", "neutral", "policy",
				 * "temperror", "permerror" (RFC 8601) */
	int pass;		/* result is "pass" */
	int partial;		/* l= leaves part of the body unsigned */
	int sigerror;		/* libopendkim DKIM_SIGERROR_* */
	char b[9];		/* first 8 characters of b= */
};

/* Everything later stages need; zeroed when the message starts. */
struct milter_dkim_results {
	int done;		/* the stage ran (dkim = true) */
	int signed_;		/* at least one DKIM-Signature header */
	size_t nsigs;
	size_t nignored;	/* beyond max_signatures: not verified */
	struct milter_dkim_sig sigs[MILTER_DKIM_MAX_SIGS];
};

/* What a signature's outcome means for the On-* actions. */
enum milter_dkim_class {
	MILTER_DKIM_PASS,
	MILTER_DKIM_BAD,	/* fail, permerror, neutral */
	MILTER_DKIM_NOKEY,	/* permerror: no key record */
	MILTER_DKIM_DNSERR,	/* temperror */
};

struct milter_msg;

/* milter_dkim_init - the process' libopendkim handle, its key lookups
 * answered by each message's resolver (lib/dns) */
int milter_dkim_init(char *err, size_t errlen);
/* milter_dkim_finish - release it (at exit) */
void milter_dkim_finish(void);

/* milter-dkim-pkey.c: the public keys libopendkim decodes, kept (its
 * d2i_PUBKEY_bio calls land there); init before the threads start */
void milter_dkim_pkey_init(void);
void milter_dkim_pkey_finish(void);
/* milter_dkim_pkey_stats - decodings answered from the kept keys, and
 * those OpenSSL did */
void milter_dkim_pkey_stats(unsigned long *hits, unsigned long *misses);
/* milter_dkim_lib - that handle, shared with the signing stage */
struct dkim_lib *milter_dkim_lib(void);
/* milter_dkim_crlf - "Name:value" with CRLF folding, as libopendkim
 * takes a header; malloc'ed, its length in *lenp */
char *milter_dkim_crlf(const char *name, const char *value, size_t *lenp);

/* The stage's hooks (milter-pipeline.c). */
void milter_dkim_header(struct milter_msg *m, const char *name,
			const char *value);
void milter_dkim_eoh(struct milter_msg *m);
void milter_dkim_body(struct milter_msg *m, const unsigned char *chunk,
		      size_t len);
void milter_dkim_eom(struct milter_msg *m);
void milter_dkim_free(struct milter_msg *m);

/*
 * milter_dkim_wire - a DNS response in wire format (RFC 1035), as
 * libopendkim parses it: header with rcode, the question, and one
 * answer record of qtype per rdata (the owner a pointer to the
 * question).  Returns its length, or -1 if it does not fit in buflen
 * or the name is malformed.
 */
long milter_dkim_wire(unsigned char *buf, size_t buflen, const char *qname,
		      int qtype, int rcode, unsigned ttl,
		      const unsigned char *const *rdata, const size_t *rdlen,
		      size_t count);

/* milter_dkim_sig_result - the RFC 8601 word for a libopendkim outcome
 * (flags DKIM_SIGFLAG_*, bh DKIM_SIGBH_*, err DKIM_SIGERROR_*) and its
 * class for the actions */
const char *milter_dkim_sig_result(unsigned flags, int bh, int err,
				   enum milter_dkim_class *cls);

/* milter_dkim_b8 - the first 8 characters of a b= value, folding
 * white space skipped, into out[9] */
void milter_dkim_b8(const char *b, char out[9]);

#endif
