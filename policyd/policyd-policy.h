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
 *	policyd_policy_step(pol, now_ms);		   every loop turn
 * DESCRIPTION
 *	The limits are those of policyd_conf_limits(): the built-in
 *	client_message (client_message_limit: unauthenticated clients by
 *	address, IPv4 as is or by client_ipv4_prefix, IPv6 by
 *	client_ipv6_prefix) and sasl_user_message (sasl_user_message_limit:
 *	authenticated clients by sasl_username, whatever their address),
 *	then every "limit NAME { }" sub-section.  Each has a key (what it
 *	counts per: policyd-keys.h), a unit and an action.
 *
 *	Counting at the right time, once per transaction (Postfix's
 *	"instance" attribute names it), so that the check may sit in
 *	smtpd_recipient_restrictions, smtpd_data_restrictions and
 *	smtpd_end_of_data_restrictions at once:
 *
 *	messages: one, at the first RCPT, DATA or END-OF-MESSAGE request of
 *	the transaction (per key: a recipient_domain limit counts a message
 *	once per recipient domain).
 *
 *	recipients: one per recipient at RCPT (a recipient seen before in
 *	the transaction, or Postfix's retry of the request, is not counted
 *	again); at DATA or END-OF-MESSAGE, recipient_count when no RCPT of
 *	the transaction was counted.  recipient_domain limits count at RCPT
 *	only.  A transaction remembers POLICY_MAX_RCPTS (10000) recipients;
 *	one more is logged and answered by store_fail_action.
 *
 *	bytes: the real size, at END-OF-MESSAGE (the check must be in
 *	smtpd_end_of_data_restrictions; a recipient_domain limit charges
 *	each domain of the transaction once); at RCPT and DATA a key already
 *	over its limit (or without room for the SIZE= announced at MAIL) is
 *	refused early, counting nothing.
 *
 *	A request refused by a defer or reject action counts nothing (what
 *	other limits took for it is given back), and every later request of
 *	the transaction is checked again.
 *
 *	Refunds: with a session (one per client connection), a transaction
 *	abandoned before END-OF-MESSAGE gives back what it took: when a
 *	request of another instance arrives on that connection (RSET, a new
 *	MAIL), or the connection closes.  Only once the connection has sent
 *	an END-OF-MESSAGE request: without the check in
 *	smtpd_end_of_data_restrictions a finished message looks abandoned,
 *	so nothing is refunded (and the first transaction of a connection
 *	is never refunded).  A transaction belongs to the
 *	session of its last request, so that a Postfix reconnecting in the
 *	middle of a transaction is no abandon.  Without a session
 *	(policyd_policy_decide), nothing is refunded.
 *
 *	The action ladder: warn (log; PREPEND the limit's header when it
 *	has one), hold (HOLD: the message waits in the hold queue), defer
 *	("450 4.7.1 ... try again in N s"), reject ("550 5.7.1 ..."); the
 *	strongest hit decides; every hit is logged.  A limit in dry_run
 *	logs "dry_run=yes" and the action it would take, and changes
 *	nothing.  A weight refused by warn or hold is not counted.
 *
 *	Exemptions (exempt_networks, exempt_sasl_users: policyd-keys.h)
 *	answer DUNNO and count nothing.
 *
 *	When the store fails, store_fail_action: DUNNO (that limit is
 *	skipped), or "451 4.3.0".  With a Redis store
 *	(policyd_policy_set_redis) every check and refund goes to Redis
 *	(those of one request together, pipelined: one round trip);
 *	when Redis fails, store_fallback: the local store counts instead
 *	(the limits then hold per node), or store_fail_action answers.
 *	Each refusal and failure is logged (queue id first, NOQUEUE before
 *	there is one) and counted in the metrics.
 *
 *	LDAP overrides (policyd_policy_set_ldap): a limit with an
 *	ldap_attribute takes the SASL user's own rate from the directory
 *	entry ("N": its period, "N/PERIOD": both; 0: no limit for that
 *	user).  A request whose user is not cached waits (decide answers
 *	0, see below) until the answer is back or ldap_wait_ms has passed;
 *	a directory that fails or is slow leaves the configured rates.
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

/* policyd_policy_set_ldap - users' own rates from the directory (not
 * owned; configured by policyd_policy_configure) */
struct policyd_ldap;
void policyd_policy_set_ldap(struct policyd_policy *pol,
			     struct policyd_ldap *ld);

/* policyd_policy_configure - take limits and actions from c (copied) */
void policyd_policy_configure(struct policyd_policy *pol,
			      const struct policyd_conf *c);

/* policyd_policy_decide - answer one request; returns the reply length */
size_t policyd_policy_decide(struct policyd_policy *pol,
			     const struct policyd_req *req, int64_t now,
			     char *reply, size_t replylen);

/* A client connection: its current transaction, for refunds. */
struct policyd_session;

struct policyd_session *policyd_policy_session_new(void);
/* policyd_policy_session_end - the connection closed: refund its
 * unfinished transaction; frees the session, sets *sp to NULL */
void policyd_policy_session_end(struct policyd_policy *pol,
				struct policyd_session **sp, int64_t now);

/* policyd_policy_decide_session - policyd_policy_decide on a connection
 * (sess may be NULL: no refunds); 0 when the answer waits for the
 * directory (policyd-ldap.h): nothing was counted, and the same request
 * is to be decided again once an answer is back (policyd_ldap_drain) or
 * ldap_wait_ms has passed */
size_t policyd_policy_decide_session(struct policyd_policy *pol,
				     struct policyd_session *sess,
				     const struct policyd_req *req,
				     int64_t now, char *reply,
				     size_t replylen);

/* A batch of requests of several connections decided together: their
 * store operations run at once (in Redis: one pipelined round trip for
 * them all), in the order the requests joined, so the answers are those
 * of deciding them one by one. */
struct policyd_batch;

struct policyd_batch *policyd_policy_batch_new(void);
/* policyd_policy_batch_free - destroy an empty batch; sets *bp to NULL */
void policyd_policy_batch_free(struct policyd_batch **bp);
size_t policyd_policy_batch_size(const struct policyd_batch *b);

#define POLICYD_BATCH_JOINED	((size_t)-2)	/* answered by batch_run */
#define POLICYD_BATCH_FULL	((size_t)-3)	/* run the batch first */

/* policyd_policy_batch_add - req of sess (owner: the caller's, handed to
 * done): the reply length when answered at once (reply filled), 0 when
 * it waits for the directory (as policyd_policy_decide_session), or
 * POLICYD_BATCH_JOINED; POLICYD_BATCH_FULL when the batch holds a
 * request of the same session or transaction already (nothing done:
 * run the batch, then add again).  req (and what it points to) must
 * stay valid until the batch has run. */
size_t policyd_policy_batch_add(struct policyd_policy *pol,
				struct policyd_batch *b,
				struct policyd_session *sess,
				const struct policyd_req *req, int64_t now,
				void *owner, char *reply, size_t replylen);

/* policyd_policy_batch_run - run the batch: done(owner, reply, len, arg)
 * for each request, in the order they joined; the batch is empty then */
void policyd_policy_batch_run(struct policyd_policy *pol,
			      struct policyd_batch *b,
			      void (*done)(void *owner, const char *reply,
					   size_t len, void *arg),
			      void *arg);

/*
 * elemta-ctl ratelimit: a key is "TAG:VALUE" as the log lines show it
 * (key=ip:192.0.2.10), meaning every limit counting that kind of key,
 * or "LIMIT:TAG:VALUE" for one limit.  The state is the live one: in
 * Redis when the policy has it (and, after a reset, the local fallback
 * store's too), else in the local store.  A limit's own rate is shown,
 * not a directory (LDAP) override.
 */
struct policyd_policy_keystate {
	const char *limit;		/* its name */
	const char *skey;		/* the store key */
	const char *store;		/* "redis" or "local" */
	uint64_t used, max;		/* weight counted, allowed */
	const char *period;		/* "1h", "day", ... */
	const char *unit;		/* "messages", "recipients", "bytes" */
	long retry_s;			/* 0: one more passes now */
};
typedef void (*policyd_policy_key_fn)(const struct policyd_policy_keystate *,
				      void *ctx);

/* policyd_policy_key_show - fn for every limit key matches (its state
 * peeked, nothing counted); how many matched (0: none counts such a
 * key), or -1 with a message (a store failed) */
int policyd_policy_key_show(struct policyd_policy *pol, const char *key,
			    int64_t now, policyd_policy_key_fn fn, void *ctx,
			    char *err, size_t errlen);

/* policyd_policy_key_reset - forget key's state in every limit it
 * matches, at once (in Redis: for every node); how many limits, or -1
 * with a message */
int policyd_policy_key_reset(struct policyd_policy *pol, const char *key,
			     char *err, size_t errlen);

/* policyd_policy_tick - expire old transactions, store upkeep */
void policyd_policy_tick(struct policyd_policy *pol, int64_t now);
/* policyd_policy_step - the store's write-behind, a slice at a time;
 * on every turn of the event loop */
void policyd_policy_step(struct policyd_policy *pol, int64_t now);

/* policyd_policy_state_label - a bounded metric label for a state */
const char *policyd_policy_state_label(const char *state);

#endif
