/*++
 * NAME
 *	policyd-txn 3
 * SUMMARY
 *	what each transaction took and counted, for refunds and retries
 * DESCRIPTION
 *	See policyd-txn.h.  policyd-policy.c decides; this keeps its
 *	books: per transaction (by instance), the takes (key, weight,
 *	when, where) that an abandon gives back, and the recipients
 *	already counted, so that Postfix's retry of a request counts
 *	nothing.  A finished transaction (END-OF-MESSAGE) keeps only a
 *	marker; it goes when its session moves on, or after
 *	POLICY_TXN_TTL_MS without a request (swept a slice per tick).
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "htable.h"
#include "policyd-txn.h"
#include "str.h"
#include "xalloc.h"

#define POLICY_TXN_TTL_MS	(10 * 60 * 1000)
#define POLICY_TXN_SWEEP	256
#define POLICY_SMALL		8	/* a txn's takes or recipients: past
					 * this many, a table to look up */

/* policyd_txn_free - free a transaction */
void
policyd_txn_free(void *v)
{
	struct policy_txn *txn = v;
	size_t i;

	for (i = 0; i < txn->ntakes; i++)
		x_free(&txn->takes[i].key);
	x_free(&txn->takes);
	htable_free(&txn->taken, NULL);
	for (i = 0; i < txn->nrcpts; i++)
		x_free(&txn->rcpts[i]);
	x_free(&txn->rcpts);
	htable_free(&txn->rcptset, NULL);
	x_free(&txn);
}

/* policyd_txn_has - has the transaction taken from key already? */
int
policyd_txn_has(const struct policy_txn *txn, const char *key)
{
	size_t i;

	if (txn == NULL)
		return 0;
	if (txn->taken != NULL)
		return htable_get(txn->taken, key) != NULL;
	for (i = 0; i < txn->ntakes; i++)
		if (strcmp(txn->takes[i].key, key) == 0)
			return 1;
	return 0;
}

/* txn_rcpt_low - a recipient as remembered: lower-cased, at most 256
 * bytes */
static void
txn_rcpt_low(const char *rcpt, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.256s", rcpt);
	str_lower(out);
}

/* policyd_txn_has_rcpt - was this recipient counted already? */
int
policyd_txn_has_rcpt(const struct policy_txn *txn, const char *rcpt)
{
	char low[300];
	size_t i;

	if (txn == NULL || txn->nrcpts == 0)
		return 0;
	txn_rcpt_low(rcpt, low, sizeof(low));
	if (txn->rcptset != NULL)
		return htable_get(txn->rcptset, low) != NULL;
	for (i = 0; i < txn->nrcpts; i++)
		if (strcmp(txn->rcpts[i], low) == 0)
			return 1;
	return 0;
}

/* policyd_txn_keep - what a request took joins its transaction */
void
policyd_txn_keep(struct policy_txn *txn, struct policy_take **takes,
		 size_t *ntakes, const char *rcpt, int eom)
{
	char low[300];
	size_t i;

	if (*ntakes > 0 && !eom) {
		txn->takes = x_realloc(txn->takes, (txn->ntakes + *ntakes)
				       * sizeof(*txn->takes));
		memcpy(txn->takes + txn->ntakes, *takes,
		       *ntakes * sizeof(**takes));
		if (txn->taken == NULL
		    && txn->ntakes + *ntakes > POLICY_SMALL) {
			txn->taken = htable_new();
			for (i = 0; i < txn->ntakes; i++)
				htable_put(txn->taken, txn->takes[i].key,
					   txn);
		}
		for (i = 0; txn->taken != NULL && i < *ntakes; i++)
			htable_put(txn->taken, (*takes)[i].key, txn);
		txn->ntakes += *ntakes;
		*ntakes = 0;
	}
	if (rcpt != NULL && *rcpt && txn->nrcpts < POLICY_MAX_RCPTS) {
		txn_rcpt_low(rcpt, low, sizeof(low));
		if ((txn->nrcpts & (txn->nrcpts - 1)) == 0)	/* 0, 1, 2, 4.. */
			txn->rcpts = x_realloc(txn->rcpts, (txn->nrcpts
					       ? 2 * txn->nrcpts : 1)
					       * sizeof(*txn->rcpts));
		txn->rcpts[txn->nrcpts++] = x_strdup(low);
		if (txn->rcptset == NULL && txn->nrcpts > POLICY_SMALL) {
			txn->rcptset = htable_new();
			for (i = 0; i + 1 < txn->nrcpts; i++)
				htable_put(txn->rcptset, txn->rcpts[i],
					   txn);
		}
		if (txn->rcptset != NULL)
			htable_put(txn->rcptset, low, txn);
	}
	for (i = 0; i < *ntakes; i++)	/* END-OF-MESSAGE's */
		x_free(&(*takes)[i].key);
	x_free(takes);
	if (eom) {			/* finished: nothing to refund */
		txn->done = 1;
		for (i = 0; i < txn->ntakes; i++)
			x_free(&txn->takes[i].key);
		x_free(&txn->takes);
		txn->ntakes = 0;
		htable_free(&txn->taken, NULL);
	}
}

/* txn_old - a transaction not heard of for POLICY_TXN_TTL_MS */
static int
txn_old(const char *key, void *value, void *ctx)
{
	const int64_t *now = ctx;
	struct policy_txn *txn = value;

	(void)key;
	if (txn->seen > *now - POLICY_TXN_TTL_MS)
		return 0;
	policyd_txn_free(txn);
	return 1;
}

/* policyd_txn_sweep - forget, a slice at a time, the transactions
 * not heard of for POLICY_TXN_TTL_MS */
void
policyd_txn_sweep(struct htable *txns, int64_t now)
{
	htable_sweep(txns, POLICY_TXN_SWEEP, txn_old, &now);
}
