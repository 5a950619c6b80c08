/*++
 * NAME
 *	milter-arc-seal 3h
 * SUMMARY
 *	ARC sealing (RFC 8617 section 5.1): a message's next ARC set
 * SYNOPSIS
 *	#include "milter-arc-seal.h"
 *
 *	struct milter_arc_seal_in in = { hdrs, nhdrs, result, authres,
 *					 bh, key, sign_headers, t };
 *	struct milter_arc_seal_out out;
 *
 *	if (milter_arc_seal_make(&in, &out, why, sizeof(why)) == 0)
 *		... out.as, out.ams, out.aar, inserted at the top ...
 *	milter_arc_seal_out_free(&out);
 * DESCRIPTION
 *	A pure module: headers, a verified chain result, our A-R, a body
 *	hash and a key in; the three header values of the new set out;
 *	no I/O, no shared state.
 *
 *	hdrs is the message as it will leave, the new set aside: the
 *	headers received plus those this hop inserts before sealing (our
 *	A-R, our DKIM-Signature), in order from the top.  result is the
 *	chain's result as our verifier found it (milter-arc.h), for the
 *	ARC headers of hdrs.
 *
 *	milter_arc_seal_plan() is the decision (section 5.1 steps 1 and
 *	2): no ARC header: instance 1, cv=none; an ARC-Seal with cv=fail
 *	at the highest instance: no seal (a failed chain is never
 *	extended); the highest instance 50 or more: no seal (the RFC's
 *	limit); else the highest instance + 1, cv=pass when the chain
 *	passed, cv=fail when it failed, broken structure included
 *	(section 5.1.2).
 *
 *	milter_arc_seal_make() then writes, for that instance N:
 *	ARC-Authentication-Results "i=N; " + our A-R value;
 *	ARC-Message-Signature, relaxed/relaxed, a= of the key (RSA-SHA256,
 *	or Ed25519-SHA256 for an Ed25519 key), bh= the relaxed body hash,
 *	over the DKIM signer's header set (sign_headers, From always and
 *	oversigned, as milter_dkim_sign_select() chooses) plus
 *	DKIM-Signature, never an ARC header nor Authentication-Results;
 *	ARC-Seal, over the sets 1..N in RFC order (for each instance its
 *	A-AR, AMS, AS; milter_arc_seal_hdata()) or, with cv=fail, over
 *	the new set only (section 5.1.2).
 *
 *	The values carry no leading space and fold with LF + tab, as
 *	DKIM-Signature does; insert them at index 0 in the order AAR,
 *	AMS, AS so that the message reads AS, AMS, AAR from the top.
 *--*/
#ifndef ELEMTA_MILTER_ARC_SEAL_H
#define ELEMTA_MILTER_ARC_SEAL_H

#include <stddef.h>

#include "milter-arc.h"

struct milter_header;
struct milter_key;
struct milter_keys;

struct milter_arc_seal_in {
	const struct milter_header *hdrs;	/* the message, top first */
	size_t nhdrs;
	enum milter_arc_result result;	/* the verified chain's */
	const char *authres;		/* our A-R value, no leading space */
	const unsigned char *bh;	/* relaxed body SHA-256 */
	const struct milter_key *key;	/* d= its domain, s= its selector */
	char *const *sign_headers;	/* milter.dkim_sign_headers */
	long long t;			/* t= */
};

struct milter_arc_seal_out {
	unsigned instance;
	enum milter_arc_cv cv;
	char *aar, *ams, *as;		/* values; malloc'ed */
};

/* milter_arc_seal_plan - may hdrs' chain (verified: result) be sealed?
 * 0 with the new instance and cv=, or -1 with why (a static string) */
int milter_arc_seal_plan(const struct milter_header *hdrs, size_t nhdrs,
			 enum milter_arc_result result, unsigned *instance,
			 enum milter_arc_cv *cv, const char **why);
/* milter_arc_seal_make - the new set; 0, or -1 with why (not sealed:
 * the plan's reason or OpenSSL's) */
int milter_arc_seal_make(const struct milter_arc_seal_in *in,
			 struct milter_arc_seal_out *out, char *why,
			 size_t whylen);
/* milter_arc_seal_out_free - the values */
void milter_arc_seal_out_free(struct milter_arc_seal_out *out);
/* milter_arc_seal_key - the key of domain in k (an RSA one if there is
 * one, else an Ed25519 one; entries of domain "%" never), or NULL */
const struct milter_key *milter_arc_seal_key(const struct milter_keys *k,
					     const char *domain);
/* milter_arc_cv_str - "none", "pass", "fail" */
const char *milter_arc_cv_str(enum milter_arc_cv cv);

#endif
