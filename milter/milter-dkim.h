/*++
 * NAME
 *	milter-dkim 3h
 * SUMMARY
 *	the DKIM verify stage (our verifier, key lookups through lib/dns)
 * SYNOPSIS
 *	#include "milter-dkim.h"
 * DESCRIPTION
 *	The stage verifies with milter-dkim-verify.c: the signatures are
 *	found among the kept headers at end of headers, the body is hashed
 *	as it arrives (nothing is buffered here), and one result per
 *	signature is collected at end of message, up to
 *	milter.max_signatures signatures (the rest are ignored and
 *	counted).  Key lookups go through lib/dns.
 *
 *	The results stay in the message (struct milter_dkim_results) for
 *	later stages: DMARC reads each signature's d= and result.
 *
 *	milter_dkim_record() is pure, for the unit tests.
 *--*/
#ifndef ELEMTA_MILTER_DKIM_H
#define ELEMTA_MILTER_DKIM_H

#include <stddef.h>

/* The highest milter.max_signatures may be. */
#define MILTER_DKIM_MAX_SIGS	20

/* milter.dkim_max_key_bits' default: RSA keys up to 8192 bits verify.
 * RFC 8301 asks verifiers to take 1024 to 4096; 8192-bit keys are rare
 * but published, and the limit rspamd and Go's TLS stack use; 16384
 * (OpenSSL's own limit) costs some 4 times the CPU of 8192 per RSA
 * verification, for a key any sender may publish. */
#define MILTER_DKIM_MAX_KEY_BITS 8192

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
	int sigerror;		/* enum milter_dkim_err (0: none) */
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
	MILTER_DKIM_BAD,	/* fail, permerror, policy */
	MILTER_DKIM_NOKEY,	/* permerror: no key record */
	MILTER_DKIM_DNSERR,	/* temperror */
};

struct milter_msg;
struct dns_answer;

/* milter_dkim_init - set up the stage (nothing to do today: kept for
 * the daemon's start-up order); milter_dkim_finish - drop the kept
 * public keys (at exit) */
int milter_dkim_init(char *err, size_t errlen);
void milter_dkim_finish(void);

/* The stage's hooks (milter-pipeline.c). */
void milter_dkim_header(struct milter_msg *m, const char *name,
			const char *value);
void milter_dkim_eoh(struct milter_msg *m);
void milter_dkim_body(struct milter_msg *m, const unsigned char *chunk,
		      size_t len);
void milter_dkim_eom(struct milter_msg *m);
void milter_dkim_free(struct milter_msg *m);

/*
 * milter_dkim_record - the key record of a lib/dns TXT answer into
 * *txt (malloc'ed: the first record's strings joined, as RFC 6376
 * section 6.1.2 lets a verifier pick one) and its TTL into *ttl.
 * Returns a MILTER_DKIM_E_* (milter-dkim-verify.h): OK, NOKEY
 * (NXDOMAIN, NODATA, no record), DNS (any other status) or KEYSYNTAX
 * (malformed TXT data).
 */
int milter_dkim_record(const struct dns_answer *a, char **txt, int *ttl);

#endif
