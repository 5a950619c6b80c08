/*++
 * NAME
 *	policyd-txn 3h
 * SUMMARY
 *	what each transaction took and counted (private to policyd-policy)
 * SYNOPSIS
 *	#include "policyd-txn.h"
 *
 *	struct policy_txn *txn = ... (a table by instance, policyd-policy.c)
 *	if (policyd_txn_has(txn, skey)) ... counted already ...
 *	if (policyd_txn_has_rcpt(txn, rcpt)) ... a retry ...
 *	policyd_txn_keep(txn, &takes, &ntakes, rcpt, eom);
 *	policyd_txn_sweep(txns, now_ms);		   once a second
 *	htable_free(&txns, policyd_txn_free);
 * DESCRIPTION
 *	The books of policyd-policy.c, which decides when a take is kept
 *	and when it is given back.  txn may be NULL in the lookups (not
 *	seen before: nothing counted).
 *--*/
#ifndef POLICYD_TXN_H
#define POLICYD_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-limit.h"

struct htable;

#define POLICY_MAX_RCPTS	10000	/* recipients remembered per txn:
					 * past it, store_fail_action */

/* Weight one transaction holds in one key. */
struct policy_take {
	char *key;		/* the store key */
	struct policyd_limit lim;
	int64_t at;		/* r.at of the take */
	uint64_t weight;
	int redis;		/* taken in Redis (else the local store) */
};

struct policy_txn {
	int64_t seen;		/* last request of the transaction (ms) */
	const struct policyd_session *owner;	/* NULL: none */
	int done;		/* END-OF-MESSAGE answered */
	struct policy_take *takes;
	size_t ntakes;
	struct htable *taken;	/* the keys of takes (NULL: a few:
					 * look in takes) */
	char **rcpts;		/* recipients counted, lower-cased */
	size_t nrcpts;
	struct htable *rcptset;	/* the same, to look up (NULL: a
					 * few: look in rcpts) */
};

struct policyd_session {
	char *inst;		/* the instance of its last request */
	int eom_seen;		/* END-OF-MESSAGE requests come this way */
};

/* policyd_txn_free - free a transaction (an htable_free callback) */
void policyd_txn_free(void *v);
/* policyd_txn_has - has the transaction taken from key already? */
int policyd_txn_has(const struct policy_txn *txn, const char *key);
/* policyd_txn_has_rcpt - was this recipient counted already? */
int policyd_txn_has_rcpt(const struct policy_txn *txn, const char *rcpt);
/* policyd_txn_keep - the request's takes (*takes, *ntakes) join txn and
 * rcpt (a RCPT request's, else NULL) is remembered; *takes is freed and
 * *ntakes 0 after.  eom: the transaction is finished, its takes are
 * forgotten (nothing to refund) */
void policyd_txn_keep(struct policy_txn *txn, struct policy_take **takes,
		      size_t *ntakes, const char *rcpt, int eom);
/* policyd_txn_sweep - forget, a slice at a time, the transactions of
 * txns not heard of for ten minutes */
void policyd_txn_sweep(struct htable *txns, int64_t now);

#endif
