/*++
 * NAME
 *	milter-dkim-sign 3h
 * SUMMARY
 *	the DKIM signing stage (OpenSSL EVP, keys from milter-keys)
 * SYNOPSIS
 *	#include "milter-dkim-sign.h"
 * DESCRIPTION
 *	OpenDKIM's rule: a message is signed instead of verified when
 *	its client authenticated ({auth_type}) or is in
 *	milter.internal_networks, and the address of its one From header
 *	matches the signing table (milter-keys.h).  It is signed with
 *	every key of the matching line (RSA-SHA256 and Ed25519-SHA256,
 *	RFC 8463: both when both are listed), relaxed/relaxed by default,
 *	over the milter.dkim_sign_headers present in the message, with
 *	From oversigned (listed once more than it occurs, so that no From
 *	can be added after signing).
 *
 *	The decision is taken once, at end of headers: the pipeline asks
 *	milter_dkim_sign_decide() and records the answer in the message
 *	(milter_msg.mode), which both DKIM stages read.  The From address
 *	comes from the milter's one From parser (dmarc_from_parse,
 *	milter-dmarc.h) on every From field, kept whatever the header caps:
 *	the address signed for and the domain DMARC judges cannot
 *	disagree.  The DKIM-Signature headers come out in the message
 *	(milter_msg.dkim_sign) for the outcome (milter-outcome.c), which
 *	inserts them at the top after our Authentication-Results: so a
 *	signature ends up above the A-R header, as the last thing this
 *	hop adds before the message leaves (RFC 6376 section 5.6: prepend
 *	the signature; RFC 8601 section 5 places A-R at the top of what
 *	we received, and ours describes reception, not signing).  Neither
 *	header covers the other.
 *
 *	milter_dkim_sign_test_time() fixes t= for a unit test's golden
 *	signatures; only test programs call it (no option, environment
 *	variable or signal reaches it), so a daemon always signs with the
 *	clock's time.
 *--*/
#ifndef ELEMTA_MILTER_DKIM_SIGN_H
#define ELEMTA_MILTER_DKIM_SIGN_H

#include <stddef.h>

#define MILTER_DKIM_SIGN_HEADER	"DKIM-Signature"

struct milter_msg;

/* milter_dkim_sign_init - set up signing (its metric); the keys are
 * the connection's generation's (milter-gen.c) */
void milter_dkim_sign_init(void);

/* milter_dkim_sign_decide - sign instead of verify?  1 (the signer set
 * up) or 0; asked once per message, at end of headers, by the pipeline
 * (milter_msg.mode) */
int milter_dkim_sign_decide(struct milter_msg *m);
/* The stage's hooks. */
void milter_dkim_sign_body(struct milter_msg *m, const unsigned char *chunk,
			   size_t len);
void milter_dkim_sign_eom(struct milter_msg *m);
void milter_dkim_sign_free(struct milter_msg *m);

/* milter_dkim_sign_count - the DKIM-Signature values to insert, in the
 * order to insert them each at index 0 (the last ends on top) */
size_t milter_dkim_sign_count(const struct milter_msg *m);
const char *milter_dkim_sign_value(const struct milter_msg *m, size_t i);

/* The signer's parts that ARC's sealer (milter-arc-seal.c) shares. */
struct milter_header;
struct milter_dkim_buf;
struct milter_key;
/* milter_dkim_sign_body_canon - when m is signed: the canonicalization
 * (MILTER_DKIM_SIMPLE, _RELAXED) of the signer's body hash, the SHA-256
 * of the whole body; -1 if it computes none.  A stage fed the body after
 * the signer may take that hash (milter_dkim_sign_body_hash) instead of
 * computing it again. */
int milter_dkim_sign_body_canon(const struct milter_msg *m);
/* milter_dkim_sign_body_hash - that hash into bh (32 bytes), finished at
 * the first call (the signer's end of message or another stage's); 0, or
 * -1 if there is none or OpenSSL failed */
int milter_dkim_sign_body_hash(struct milter_msg *m, unsigned char *bh);
/* milter_dkim_sign_listed - From, or a name of list (NULL-terminated)? */
int milter_dkim_sign_listed(char *const *list, const char *name);
/* milter_dkim_sign_select - "h=..." into h and the canonical data of
 * the headers it names into d: the headers of hdrs that want() takes,
 * in their order, each name taking the last instance not taken yet,
 * then one more From (oversigned) */
void milter_dkim_sign_select(const struct milter_header *hdrs, size_t nhdrs,
			     int (*want)(void *ctx, const char *name),
			     void *ctx, int hcanon, struct milter_dkim_buf *h,
			     struct milter_dkim_buf *d);
/* milter_dkim_sign_crypto - sign d then sh with k (RSA-SHA256, or
 * Ed25519 over their SHA-256) into sig (siglen bytes at most); the
 * signature's length, 0 with why on error */
size_t milter_dkim_sign_crypto(const struct milter_key *k,
			       const struct milter_dkim_buf *d,
			       const struct milter_dkim_buf *sh,
			       unsigned char *sig, size_t siglen, char *why,
			       size_t whylen);
/* milter_dkim_sign_b64 - base64 of len bytes; malloc'ed */
char *milter_dkim_sign_b64(const unsigned char *p, size_t len);
/* milter_dkim_sign_b_add - append sig's base64, folded as b= is */
void milter_dkim_sign_b_add(struct milter_dkim_buf *v,
			    const unsigned char *sig, size_t siglen);

/* milter_dkim_sign_test_time - tests only: sign with t=t (0: the clock) */
void milter_dkim_sign_test_time(long long t);
/* milter_dkim_sign_now - t= now: the clock, or the test's fixed time */
long long milter_dkim_sign_now(void);

#endif
