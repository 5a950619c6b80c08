/*++
 * NAME
 *	policyd-policy 3
 * SUMMARY
 *	from a policy request to an action: which limit, which key, when
 * DESCRIPTION
 *	See policyd-policy.h.  The transactions already counted are kept in
 *	a table by instance, forgotten at END-OF-MESSAGE or after
 *	POLICY_TXN_TTL_MS without a request (swept a slice per tick).
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "policyd-policy.h"
#include "policyd-table.h"
#include "xalloc.h"

#define POLICY_TXN_TTL_MS	(10 * 60 * 1000)
#define POLICY_TXN_SWEEP	256

struct policy_txn {
	int64_t seen;		/* last request of the transaction (ms) */
};

struct policy_limit {
	const char *name;	/* "client_message", "sasl_user_message" */
	struct policyd_limit lim;
	char period[24];	/* "1h", for texts */
};

struct policyd_policy {
	struct policyd_store *store;
	struct policyd_table *txns;	/* instance -> struct policy_txn */
	struct policy_limit client;
	struct policy_limit user;
	int v4prefix, v6prefix;
	enum policyd_fail_action fail_action;
	struct policyd_redis *redis;	/* NULL: the local store only */
	enum policyd_fallback fallback;
	int redis_down;			/* its last call failed */
	int64_t now;			/* for the sweep callback */
	struct metric *m_requests;	/* state, action */
	struct metric *m_hits;		/* limit */
	struct metric *m_store_seconds;
	struct metric *m_store_errors;	/* op */
	struct metric *m_txns;
	struct metric *m_fallbacks;
	struct metric *m_redis_up;
};

static const double policy_store_buckets[] = {
	0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.05, 0.1, 0.5, 1,
};

/* policyd_policy_new - a policy on top of a store */
struct policyd_policy *
policyd_policy_new(struct policyd_store *store)
{
	struct policyd_policy *pol = x_calloc(1, sizeof(*pol));

	pol->store = store;
	pol->txns = policyd_table_new();
	pol->client.name = "client_message";
	pol->user.name = "sasl_user_message";
	pol->m_requests = metrics_counter("elemta_policyd_requests_total",
					  "Policy requests answered",
					  "state,action");
	pol->m_hits = metrics_counter("elemta_policyd_limit_hits_total",
				      "Requests refused by a limit", "limit");
	pol->m_store_seconds = metrics_histogram(
		"elemta_policyd_store_seconds",
		"Time a limit check spent in the store", NULL,
		policy_store_buckets,
		sizeof(policy_store_buckets) / sizeof(policy_store_buckets[0]));
	pol->m_store_errors = metrics_counter("elemta_policyd_store_errors_total",
					      "Store operations that failed",
					      "op");
	pol->m_txns = metrics_gauge("elemta_policyd_transactions",
				    "Counted transactions remembered", NULL);
	return pol;
}

/* policyd_policy_set_redis - count in Redis from now on */
void
policyd_policy_set_redis(struct policyd_policy *pol, struct policyd_redis *rs)
{
	pol->redis = rs;
	pol->m_fallbacks = metrics_counter(
		"elemta_policyd_store_fallbacks_total",
		"Checks counted in the local store because Redis failed",
		NULL);
	pol->m_redis_up = metrics_gauge("elemta_policyd_redis_up",
					"1 while the last Redis call worked",
					NULL);
	metric_set(pol->m_redis_up, 1);
}

/* policyd_policy_free - destroy (the store is the caller's) */
void
policyd_policy_free(struct policyd_policy **pp)
{
	if (*pp == NULL)
		return;
	policyd_table_free(&(*pp)->txns, free);
	x_free(pp);
}

/* policy_period_text - 3600 -> "1h", 90 -> "90s" */
static void
policy_period_text(long s, char *out, size_t len)
{
	if (s % 86400 == 0)
		snprintf(out, len, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, len, "%ldh", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, len, "%ldm", s / 60);
	else
		snprintf(out, len, "%lds", s);
}

/* policy_limit_set - a limit from a configured rate */
static void
policy_limit_set(struct policy_limit *pl, const struct policyd_rate *r)
{
	pl->lim.max = r->max;
	pl->lim.period_ms = (int64_t)r->period * 1000;
	policy_period_text(r->period, pl->period, sizeof(pl->period));
}

/* policyd_policy_configure - copy what the decisions need */
void
policyd_policy_configure(struct policyd_policy *pol,
			 const struct policyd_conf *c)
{
	policy_limit_set(&pol->client, &c->client_message_limit);
	policy_limit_set(&pol->user, &c->sasl_user_message_limit);
	pol->v4prefix = c->client_ipv4_prefix;
	pol->v6prefix = c->client_ipv6_prefix;
	pol->fail_action = c->store_fail_action;
	pol->fallback = c->store_fallback;
}

/* policy_mask - keep the first bits of an address */
static void
policy_mask(unsigned char *a, size_t len, int bits)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a[i] &= (unsigned char)(0xff << (8 - bits));
		bits = 0;
	}
}

/* policyd_policy_client_key - the key text of a client address */
void
policyd_policy_client_key(const char *addr, int v4prefix, int v6prefix,
			  char *out, size_t outlen)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int bits;

	if (inet_pton(AF_INET, addr, a) == 1) {
		bits = v4prefix;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
			memmove(a, a + 12, 4);
			bits = v4prefix;
		} else {
			policy_mask(a, 16, v6prefix);
			inet_ntop(AF_INET6, a, text, sizeof(text));
			snprintf(out, outlen, "%s/%d", text, v6prefix);
			return;
		}
	} else {
		snprintf(out, outlen, "%.64s", addr);
		return;
	}
	policy_mask(a, 4, bits);
	inet_ntop(AF_INET, a, text, sizeof(text));
	if (bits == 32)
		snprintf(out, outlen, "%s", text);
	else
		snprintf(out, outlen, "%s/%d", text, bits);
}

/* policyd_policy_state_label - a bounded metric label for a state */
const char *
policyd_policy_state_label(const char *state)
{
	static const char *const known[] = {
		"CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA",
		"END-OF-MESSAGE", "VRFY", "ETRN", NULL,
	};
	int i;

	if (state == NULL)
		return "none";
	for (i = 0; known[i] != NULL; i++)
		if (strcmp(state, known[i]) == 0)
			return known[i];
	return "other";
}

/* policy_val - an attribute's value, "" when not sent */
static const char *
policy_val(const struct policyd_req *req, enum policyd_attr a)
{
	return req->v[a] != NULL ? req->v[a] : "";
}

/* policy_mono - a monotonic clock in seconds, for latencies */
static double
policy_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* policy_answer - format the reply and count it */
static size_t
policy_answer(struct policyd_policy *pol, const char *state,
	      const char *label, const char *action, char *reply,
	      size_t replylen)
{
	int n;

	metric_inc(pol->m_requests, policyd_policy_state_label(state), label);
	n = snprintf(reply, replylen, "action=%s\n\n", action);
	if (n < 0 || (size_t)n >= replylen)
		msg_panic("policyd reply buffer too small");
	return (size_t)n;
}

/* policy_store_failed - log, count, and apply store_fail_action */
static size_t
policy_store_failed(struct policyd_policy *pol, const struct policyd_req *req,
		    const char *qid, const char *key, const char *why,
		    char *reply, size_t replylen)
{
	const char *state = req->v[POLICYD_A_PROTOCOL_STATE];
	int defer = pol->fail_action == POLICYD_FAIL_DEFER;

	metric_inc(pol->m_store_errors, pol->redis ? "redis" : "take");
	qid_warn(qid, "policyd store error key=%s error=\"%s\" action=%s"
		 " (store_fail_action)", key, why, defer ? "defer" : "dunno");
	if (defer)
		return policy_answer(pol, state, "store_fail",
				     "451 4.3.0 Rate limit service temporarily"
				     " unavailable, try again later",
				     reply, replylen);
	return policy_answer(pol, state, "store_fail", "DUNNO", reply,
			     replylen);
}

/* policy_redis_take - take in Redis; on failure, maybe the local store */
static int
policy_redis_take(struct policyd_policy *pol, const char *qid,
		  const char *key, const struct policyd_limit *lim,
		  int64_t now, struct policyd_limit_result *r, char *why,
		  size_t whylen)
{
	int local = pol->fallback == POLICYD_FALLBACK_LOCAL;

	if (policyd_redis_take(pol->redis, key, lim, 0, 1, 0, r, why,
			       whylen) == 0) {
		if (pol->redis_down) {
			pol->redis_down = 0;
			metric_set(pol->m_redis_up, 1);
			msg_info("policyd redis store is back: counting in"
				 " Redis again");
		}
		return 0;
	}
	if (!pol->redis_down) {
		pol->redis_down = 1;
		metric_set(pol->m_redis_up, 0);
		msg_warn("policyd redis store failed: %s; until it is back, %s",
			 why, local ? "counting in the local store"
			 " (store_fallback = local)"
			 : "store_fail_action answers");
	}
	if (!local)
		return -1;
	metric_inc(pol->m_store_errors, "redis");
	metric_inc(pol->m_fallbacks);
	qid_debug(qid, "policyd redis failed (%s): key=%s counted in the"
		  " local store", why, key);
	return policyd_store_take(pol->store, key, lim, now, 1, 0, r, why,
				  whylen);
}

/* policy_check_message - count one message against the right limit */
static size_t
policy_check_message(struct policyd_policy *pol,
		     const struct policyd_req *req, int64_t now,
		     char *reply, size_t replylen)
{
	const char *state = req->v[POLICYD_A_PROTOCOL_STATE];
	const char *user = policy_val(req, POLICYD_A_SASL_USERNAME);
	const char *inst = policy_val(req, POLICYD_A_INSTANCE);
	const char *qid = req->v[POLICYD_A_QUEUE_ID];
	const struct policy_limit *pl;
	struct policyd_limit_result r;
	struct policy_txn *txn;
	char key[300], who[200], action[512], why[256];
	double t0;
	int rc;

	if (qid == NULL || *qid == '\0')
		qid = "NOQUEUE";
	if (*inst && (txn = policyd_table_get(pol->txns, inst)) != NULL) {
		txn->seen = now;	/* counted already: a retry, or more */
		return policy_answer(pol, state, "dunno", "DUNNO", reply,
				     replylen);
	}
	if (*user) {
		pl = &pol->user;
		snprintf(key, sizeof(key), "msg:user:%.256s", user);
		snprintf(who, sizeof(who), "user %.150s", user);
	} else {
		pl = &pol->client;
		policyd_policy_client_key(policy_val(req,
						     POLICYD_A_CLIENT_ADDRESS),
					  pol->v4prefix, pol->v6prefix, who,
					  sizeof(who));
		snprintf(key, sizeof(key), "msg:ip:%s", who);
		memmove(who + 7, who, strlen(who) + 1);
		memcpy(who, "client ", 7);
	}
	if (pl->lim.max == 0)
		return policy_answer(pol, state, "dunno", "DUNNO", reply,
				     replylen);
	t0 = policy_mono();
	if (pol->redis != NULL)
		rc = policy_redis_take(pol, qid, key, &pl->lim, now, &r, why,
				       sizeof(why));
	else
		rc = policyd_store_take(pol->store, key, &pl->lim, now, 1, 0,
					&r, why, sizeof(why));
	metric_observe(pol->m_store_seconds, policy_mono() - t0);
	if (rc < 0)
		return policy_store_failed(pol, req, qid, key, why, reply,
					   replylen);
	if (r.allowed) {
		if (*inst) {
			txn = x_malloc(sizeof(*txn));
			txn->seen = now;
			policyd_table_put(pol->txns, inst, txn);
		}
		qid_debug(qid, "policyd action=dunno limit=%s key=%s used=%llu"
			  " max=%llu state=%s", pl->name, key + 4,
			  (unsigned long long)r.used + 1,
			  (unsigned long long)pl->lim.max, state);
		return policy_answer(pol, state, "dunno", "DUNNO", reply,
				     replylen);
	}
	metric_inc(pol->m_hits, pl->name);
	qid_info(qid, "policyd action=defer limit=%s key=%s used=%llu max=%llu"
		 " period=%s retry=%lds state=%s client=%s[%s] sasl_username=%s"
		 " sender=<%s> recipient=<%s>", pl->name, key + 4,
		 (unsigned long long)r.used, (unsigned long long)pl->lim.max,
		 pl->period, policyd_limit_retry_seconds(&r), state,
		 policy_val(req, POLICYD_A_CLIENT_NAME),
		 policy_val(req, POLICYD_A_CLIENT_ADDRESS), user,
		 policy_val(req, POLICYD_A_SENDER),
		 policy_val(req, POLICYD_A_RECIPIENT));
	snprintf(action, sizeof(action), "450 4.7.1 Message rate limit exceeded"
		 " for %s (%llu per %s), try again in %ld s", who,
		 (unsigned long long)pl->lim.max, pl->period,
		 policyd_limit_retry_seconds(&r));
	return policy_answer(pol, state, "defer", action, reply, replylen);
}

/* policyd_policy_decide - answer one request */
size_t
policyd_policy_decide(struct policyd_policy *pol,
		      const struct policyd_req *req, int64_t now,
		      char *reply, size_t replylen)
{
	const char *state = req->v[POLICYD_A_PROTOCOL_STATE];
	const char *inst = policy_val(req, POLICYD_A_INSTANCE);

	if (state != NULL
	    && (strcmp(state, "RCPT") == 0 || strcmp(state, "DATA") == 0))
		return policy_check_message(pol, req, now, reply, replylen);
	if (state != NULL && strcmp(state, "END-OF-MESSAGE") == 0 && *inst)
		free(policyd_table_del(pol->txns, inst));
	return policy_answer(pol, state, "dunno", "DUNNO", reply, replylen);
}

/* policy_txn_old - a transaction not heard of for POLICY_TXN_TTL_MS */
static int
policy_txn_old(const char *key, void *value, void *ctx)
{
	struct policyd_policy *pol = ctx;
	struct policy_txn *txn = value;

	(void)key;
	if (txn->seen > pol->now - POLICY_TXN_TTL_MS)
		return 0;
	free(txn);
	return 1;
}

/* policyd_policy_tick - forget old transactions, store upkeep */
void
policyd_policy_tick(struct policyd_policy *pol, int64_t now)
{
	char why[256];
	double t0 = policy_mono();

	pol->now = now;
	policyd_table_sweep(pol->txns, POLICY_TXN_SWEEP, policy_txn_old, pol);
	metric_set(pol->m_txns, (double)policyd_table_size(pol->txns));
	if (policyd_store_tick(pol->store, now, why, sizeof(why)) < 0) {
		metric_inc(pol->m_store_errors, "flush");
		msg_warn("policyd store error during upkeep: %s (the changes"
			 " are kept and written at the next tick)", why);
	}
	if (policy_mono() - t0 > 0.1)
		msg_warn("policyd store upkeep took %.0f ms",
			 (policy_mono() - t0) * 1000);
}
