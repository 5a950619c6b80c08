/*++
 * NAME
 *	milter-arc 3h
 * SUMMARY
 *	ARC (RFC 8617): a message's ARC sets and their chain's structure
 * SYNOPSIS
 *	#include "milter-arc.h"
 *
 *	struct milter_arc_chain c;
 *
 *	milter_arc_chain_check(hdrs, nhdrs, &c);
 *	milter_arc_ams_check(&c, ams_verifier);	   after its eom
 *	milter_arc_seals_check(&c, hdrs, &opts, lookup, ctx);
 *	... c.result, c.reason, c.n, c.failed, c.sets[1..c.n] ...
 * DESCRIPTION
 *	milter_arc_chain_check() collects the ARC-Seal,
 *	ARC-Message-Signature and ARC-Authentication-Results headers of
 *	a message (the name/value list the milter keeps) by their
 *	instance i=, and checks the chain's structure (RFC 8617 section
 *	5.2 steps 1 to 3): at most MILTER_ARC_MAX sets, instances 1..N
 *	without gaps, exactly one header of each kind per instance, i=
 *	readable, cv=none at instance 1 and cv=pass above it; a header
 *	longer than MILTER_ARC_HSIZE fails the chain too.  No ARC header
 *	at all: none.  Pure: no I/O, no shared state.
 *
 *	A structural pass is not an ARC pass: then the signatures
 *	(section 5.2 steps 4 to 6).  milter_arc_ams_check() reads the
 *	newest instance's ARC-Message-Signature result from a DKIM
 *	verifier the caller ran over the message (the body is the
 *	verifier's); milter_arc_seals_check() verifies every ARC-Seal,
 *	newest to oldest, through the verifier's key lookup and
 *	signature check over the seal's header data (the sets 1..i in
 *	relaxed form, milter_arc_seal_hdata()).  Either keeps a pass a
 *	pass or fails the chain with the instance and the DKIM error.
 *
 *	The stage (milter-arc-verify.c, between "dkim" and "dmarc") runs
 *	all of it once per message and leaves a struct milter_arc_results
 *	in the message for the later stages: DMARC (the trusted-sealer
 *	override) and the seal (which instance comes next, with which
 *	cv=).
 *--*/
#ifndef ELEMTA_MILTER_ARC_H
#define ELEMTA_MILTER_ARC_H

#include <stddef.h>

#include "milter-dkim-verify.h"

#define MILTER_ARC_MAX		MILTER_DKIM_ARC_MAX	/* sets, 50 */
#define MILTER_ARC_HSIZE	16384	/* bytes of one ARC header's value */

enum milter_arc_result {
	MILTER_ARC_NONE,		/* no ARC header */
	MILTER_ARC_PASS,
	MILTER_ARC_FAIL,
};

/* Why a chain fails (the comment in our A-R). */
enum milter_arc_reason {
	MILTER_ARC_R_OK,
	MILTER_ARC_R_TOOMANY,		/* more than MILTER_ARC_MAX sets */
	MILTER_ARC_R_HSIZE,		/* a header over MILTER_ARC_HSIZE */
	MILTER_ARC_R_SYNTAX,		/* a tag list, the A-AR's i= part */
	MILTER_ARC_R_INSTANCE,		/* i= missing, not 1..MILTER_ARC_MAX */
	MILTER_ARC_R_DUPLICATE,		/* two headers of a kind, one i= */
	MILTER_ARC_R_MISSING,		/* an instance lacks a header */
	MILTER_ARC_R_GAP,		/* an instance below N has none */
	MILTER_ARC_R_CV,		/* cv= missing or against its i= */
	MILTER_ARC_R_CVFAIL,		/* cv=fail */
	MILTER_ARC_R_AMS,		/* the newest AMS does not pass */
	MILTER_ARC_R_SEAL,		/* a seal does not pass */
};

enum milter_arc_cv {
	MILTER_ARC_CV_UNKNOWN,		/* missing or another word */
	MILTER_ARC_CV_NONE,
	MILTER_ARC_CV_PASS,
	MILTER_ARC_CV_FAIL,
};

/* One ARC set: its headers' indexes among those given, plus one (0:
 * absent), and the seal's cv=. */
struct milter_arc_set {
	size_t as, ams, aar;
	enum milter_arc_cv cv;
};

struct milter_arc_chain {
	enum milter_arc_result result;
	enum milter_arc_reason reason;
	unsigned n;			/* instances: the highest i= */
	unsigned failed;		/* the instance that failed; 0 none
					 * or not known */
	enum milter_dkim_err err;	/* why a signature failed */
	int key_bits, key_ebits;	/* its key's size and public
					 * exponent's, once looked up (0:
					 * not) */
	struct milter_arc_set sets[MILTER_ARC_MAX + 1];	/* by i= */
};

/*
 * What the ARC stage found, for the later stages (DMARC, the seal);
 * zeroed when the message starts.  The field names are a contract with
 * the seal (milter-arc-seal.c): keep them.
 */
struct milter_arc_results {
	int done;			/* the stage ran (arc = yes) */
	enum milter_arc_result result;	/* = chain.result */
	enum milter_arc_reason reason;	/* = chain.reason: why it failed */
	/* the cv= a seal added now carries (RFC 8617 section 5.1.2):
	 * none without a chain, pass, fail */
	enum milter_arc_cv cv;
	unsigned n;			/* = chain.n: a seal is n + 1 */
	/* the newest set's headers among m->headers, 1-based (0: none;
	 * the chain's sets[i].as/.ams/.aar give every set's) */
	size_t as_index, ams_index, aar_index;
	/* header.oldest-pass (RFC 8617 section 5.2 step 6): the lowest
	 * instance whose AMS still verifies, the newest's down without a
	 * gap; 0 when not known or only the newest's does */
	unsigned oldest_pass;
	char sealer[256];		/* d= of the newest seal, "" unknown */
	struct milter_arc_chain chain;	/* every set, by i= */
};

struct milter_header;

/* milter_arc_chain_check - the ARC sets of hdrs and their structure */
void milter_arc_chain_check(const struct milter_header *hdrs, size_t nhdrs,
			    struct milter_arc_chain *c);
/* milter_arc_seal_parse - an ARC-Seal value into sig (i=, a=, d=, s=,
 * b= and its place; free with milter_dkim_sig_free); the error */
enum milter_dkim_err milter_arc_seal_parse(const char *value,
					   struct milter_dkim_vsig *sig);
/* milter_arc_seal_hdata - what the seal of instance i signs (RFC 8617
 * section 5.1.1): sets 1..i, each A-AR, AMS, AS in relaxed form, the
 * seal i's b= empty and its CRLF left off; appended to out */
struct milter_dkim_buf;
void milter_arc_seal_hdata(const struct milter_arc_chain *c,
			   const struct milter_header *hdrs, unsigned i,
			   const struct milter_dkim_vsig *seal,
			   struct milter_dkim_buf *out);
/* milter_arc_ams_check - a structural pass stays a pass only if the
 * newest instance's AMS passed in v (a verifier run with
 * "ARC-Message-Signature" and MILTER_DKIM_V_ARC) */
void milter_arc_ams_check(struct milter_arc_chain *c,
			  const struct milter_dkim_verifier *v);
/* milter_arc_seals_check - a pass stays a pass only if every seal,
 * newest to oldest, verifies with its key (lookup, as the DKIM
 * verifier's; its size within o's min_key_bits and max_key_bits, the
 * AMS verifier's options) */
void milter_arc_seals_check(struct milter_arc_chain *c,
			    const struct milter_header *hdrs,
			    const struct milter_dkim_vopts *o,
			    milter_dkim_lookup_fn lookup, void *ctx);
/* milter_arc_aar_instance - the i= of an ARC-Authentication-Results
 * value ("i=1; authserv-id; ..."); -1 if unreadable */
int milter_arc_aar_instance(const char *value);
/* milter_arc_result_str - "none", "pass", "fail" */
const char *milter_arc_result_str(enum milter_arc_result r);
/* milter_arc_reason_str - the comment for a reason */
const char *milter_arc_reason_str(enum milter_arc_reason r);

/* milter_arc_top - the highest readable i= of hdrs' ARC headers (0:
 * none); *top_cvfail: an ARC-Seal at it says cv=fail (for the sealer,
 * whatever the structure) */
unsigned milter_arc_top(const struct milter_header *hdrs, size_t nhdrs,
			int *top_cvfail);

#endif
