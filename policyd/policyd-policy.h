/*++
 * NAME
 *	policyd-policy 3h
 * SUMMARY
 *	from a policy request to an action: which limit, which key, when
 * SYNOPSIS
 *	#include "policyd-policy.h"
 *
 *	struct policyd_policy *pol = policyd_policy_new(store);
 *	policyd_policy_configure(pol, conf);		   and on reload
 *	policyd_policy_decide(pol, req, now_ms, reply, sizeof reply);
 *	policyd_policy_tick(pol, now_ms);		   once a second
 * DESCRIPTION
 *	The limits of this version count messages:
 *
 *	client_message_limit applies to clients that did not authenticate,
 *	keyed by their address (IPv4 as is or by client_ipv4_prefix, IPv6
 *	by client_ipv6_prefix, /64 by default); sasl_user_message_limit
 *	applies to authenticated clients, keyed by sasl_username, whatever
 *	address they come from.
 *
 *	A message is counted once, at the first RCPT or DATA request of its
 *	transaction (Postfix's "instance" attribute names the transaction),
 *	so the check may sit in smtpd_recipient_restrictions, in
 *	smtpd_data_restrictions or in both.  Later requests of a counted
 *	transaction (more recipients, DATA, and Postfix's retry of a request
 *	it got no answer to) answer DUNNO without counting again.  A refused
 *	transaction is not counted, and every later request of it is checked
 *	again.  Other protocol states answer DUNNO.  A request without an
 *	instance is counted on its own.
 *
 *	Over the limit, the answer is "450 4.7.1 ... try again in N s" (see
 *	elemta-policyd(8) for why not DEFER_IF_PERMIT).  When the store
 *	fails, the answer is store_fail_action's: DUNNO, or "451 4.3.0".
 *	Each refusal and each store failure is logged (queue id first,
 *	NOQUEUE before there is one) and counted in the metrics.
 *
 *	With a Redis store (policyd_policy_set_redis), every check goes to
 *	Redis.  When Redis fails, store_fallback says what happens: the
 *	local store counts instead (the limits then hold per node), or
 *	store_fail_action answers.  The first failure and the recovery
 *	are logged, every failure is counted.
 *
 *	reply gets the whole answer, "action=...\n\n".
 *--*/
#ifndef ELEMTA_POLICYD_POLICY_H
#define ELEMTA_POLICYD_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-options.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"

struct policyd_policy;

/* policyd_policy_new - decisions on top of store (not owned) */
struct policyd_policy *policyd_policy_new(struct policyd_store *store);
void policyd_policy_free(struct policyd_policy **pp);

/* policyd_policy_set_redis - count in Redis (not owned), with store as
 * the local fallback (store_fallback) */
void policyd_policy_set_redis(struct policyd_policy *pol,
			      struct policyd_redis *rs);

/* policyd_policy_configure - take limits and actions from c (copied) */
void policyd_policy_configure(struct policyd_policy *pol,
			      const struct policyd_conf *c);

/* policyd_policy_decide - answer one request; returns the reply length */
size_t policyd_policy_decide(struct policyd_policy *pol,
			     const struct policyd_req *req, int64_t now,
			     char *reply, size_t replylen);

/* policyd_policy_tick - expire old transactions, store upkeep */
void policyd_policy_tick(struct policyd_policy *pol, int64_t now);

/* policyd_policy_client_key - the key text of a client address under the
 * prefixes ("192.0.2.10", "192.0.2.0/24", "2001:db8:1:2::/64"); an
 * address that does not parse is used as it is (at most 64 bytes) */
void policyd_policy_client_key(const char *addr, int v4prefix, int v6prefix,
			       char *out, size_t outlen);

/* policyd_policy_state_label - a bounded metric label for a state */
const char *policyd_policy_state_label(const char *state);

#endif
