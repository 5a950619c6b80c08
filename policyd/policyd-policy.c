/*++
 * NAME
 *	policyd-policy 3
 * SUMMARY
 *	from a policy request to an action: which limit, which key, when
 * DESCRIPTION
 *	See policyd-policy.h.  Transactions are kept in a table by
 *	instance; what each took and counted is kept by policyd-txn.c,
 *	so that an abandon can give it back and a retry counts nothing.
 *	A transaction goes when its session moves on, or after ten
 *	minutes without a request (policyd_txn_sweep, a slice per tick).
 *	The store operations a request plans run in policyd-policy-run.c.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "policyd-calendar.h"
#include "policyd-keys.h"
#include "policyd-ldap.h"
#include "policyd-policy.h"
#include "policyd-policy-private.h"
#include "policyd-txn.h"
#include "htable.h"
#include "xalloc.h"

struct policy_limit {
	struct policyd_limit_conf c;
	char period[24];	/* "1h", for texts */
	const char *prefix;	/* of store keys: "msg" or the name */
	int lprefix;		/* "l:" before a name */
};

/* One limit's verdict in the request being answered. */
struct policy_hit {
	const struct policy_limit *pl;
	char key[300];		/* TAG:VALUE */
	struct policyd_limit lim;	/* as applied */
	char period[24];
	int from_ldap;			/* the user's own rate */
	struct policyd_limit_result r;
};

static const double policy_store_buckets[] = {
	0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.05, 0.1, 0.5, 1,
};

/* The local store's operations, as elemta_policyd_store_errors_total's
 * op label names them (Redis adds "redis"). */
static const char *const policy_store_ops[] = {
	"take", "refund", "recipients", "flush", NULL,
};

/* policyd_policy_new - a policy on top of a store */
struct policyd_policy *
policyd_policy_new(struct policyd_store *store)
{
	struct policyd_policy *pol = x_calloc(1, sizeof(*pol));
	size_t i;

	pol->store = store;
	pol->txns = htable_new();
	pol->m_requests = metrics_counter("elemta_policyd_requests_total",
					  "Policy requests answered",
					  "state,action");
	pol->m_hits = metrics_counter("elemta_policyd_limit_hits_total",
				      "Requests over a limit (its action"
				      " taken)", "limit");
	pol->m_dry = metrics_counter("elemta_policyd_limit_dry_run_hits_total",
				     "Requests over a limit in dry_run"
				     " (nothing done)", "limit");
	pol->m_refunds = metrics_counter("elemta_policyd_refunds_total",
					 "Counts given back", "reason");
	pol->m_store_seconds = metrics_histogram(
		"elemta_policyd_store_seconds",
		"Time a limit check spent in the store", NULL,
		policy_store_buckets,
		sizeof(policy_store_buckets) / sizeof(policy_store_buckets[0]));
	pol->m_store_errors = metrics_counter("elemta_policyd_store_errors_total",
					      "Store operations that failed",
					      "op");
	/* At 0 from the start: an alert on its rate sees the first error,
	 * and the family exists before anything has failed. */
	for (i = 0; policy_store_ops[i] != NULL; i++)
		metric_series(pol->m_store_errors, policy_store_ops[i]);
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
	metric_series(pol->m_store_errors, "redis");
}

/* policyd_policy_set_ldap - per-user rates from the directory */
void
policyd_policy_set_ldap(struct policyd_policy *pol, struct policyd_ldap *ld)
{
	pol->ldap = ld;
}

/* policy_limits_free - drop the configured limits */
static void
policy_limits_free(struct policyd_policy *pol)
{
	policyd_conf_limits_free(&pol->conf_limits, pol->nlimits);
	x_free(&pol->limits);
	pol->nlimits = 0;
}

/* policyd_policy_free - destroy (the store is the caller's) */
void
policyd_policy_free(struct policyd_policy **pp)
{
	if (*pp == NULL)
		return;
	htable_free(&(*pp)->txns, policyd_txn_free);
	policy_limits_free(*pp);
	policyd_exempt_free(&(*pp)->exempt);
	x_free(pp);
}

/* policy_period_text - 3600 -> "1h", 90 -> "90s", a quota "day" */
static void
policy_period_text(const struct policyd_rate *rate, char *out, size_t len)
{
	long s = rate->period;

	if (rate->cal != POLICYD_CAL_NONE)
		snprintf(out, len, "%s", policyd_calendar_name(rate->cal));
	else if (s % 86400 == 0)
		snprintf(out, len, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, len, "%ldh", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, len, "%ldm", s / 60);
	else
		snprintf(out, len, "%lds", s);
}

/* policy_compat_prefix - the built-ins keep their keys of old ("msg:") */
static int
policy_compat_prefix(const struct policyd_limit_conf *c)
{
	return c->unit == POLICYD_UNIT_MESSAGES
		&& ((strcmp(c->name, "client_message") == 0
		     && c->key == POLICYD_KEY_CLIENT_IP)
		    || (strcmp(c->name, "sasl_user_message") == 0
			&& c->key == POLICYD_KEY_SASL_USER));
}

/* policy_zone - the time zone of quotas (checked by the configuration;
 * an unusable one, gone since, falls back to UTC) */
static void
policy_zone(struct policyd_policy *pol, const char *zone)
{
	char why[256];
	int rc, k;

	rc = policyd_calendar_set_zone(zone ? zone : "UTC", why, sizeof(why));
	if (rc == -2) {			/* another zone after the start */
		msg_warn("policyd calendar_time_zone: %s", why);
		return;			/* the zone in use stays */
	}
	if (rc < 0)
		msg_warn("policyd calendar_time_zone: %s; quotas use UTC", why);
	pol->cal_utc = rc != 0;
	for (k = 0; k < 3; k++)		/* recomputed at the next request */
		pol->calq[k][1] = pol->calq[k][2] = 0;
}

/* policy_calendar - a quota's periods around now, cached until the
 * period ends (mktime in a zone costs microseconds) */
static void
policy_calendar(struct policyd_policy *pol, enum policyd_calendar cal,
		int64_t now, int64_t q[4])
{
	int64_t *c = pol->calq[cal];

	if (now < c[1] || now >= c[2])
		policyd_calendar_bounds(cal, pol->cal_utc, now, c);
	memcpy(q, c, 4 * sizeof(*q));
}

/* policyd_policy_configure - copy what the decisions need */
void
policyd_policy_configure(struct policyd_policy *pol,
			 const struct policyd_conf *c)
{
	struct policy_limit *pl;
	size_t i, n;

	policy_limits_free(pol);
	pol->conf_limits = policyd_conf_limits(c, &n);
	pol->limits = x_calloc(n + 1, sizeof(*pol->limits));
	for (i = 0; i < n; i++) {
		pl = &pol->limits[i];
		pl->c = pol->conf_limits[i];
		policy_period_text(&pl->c.rate, pl->period,
				   sizeof(pl->period));
		pl->lprefix = !policy_compat_prefix(&pl->c);
		pl->prefix = pl->lprefix ? pl->c.name : "msg";
	}
	pol->nlimits = n;
	policyd_exempt_free(&pol->exempt);
	pol->exempt = policyd_exempt_new(c);
	pol->fail_action = c->store_fail_action;
	pol->fallback = c->store_fallback;
	policy_zone(pol, c->calendar_time_zone);
	pol->ldap_used = c->ldap_used;
	if (pol->ldap != NULL)
		policyd_ldap_configure(pol->ldap, c);
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

/* policy_txn_abandon - refund an unfinished transaction and forget it;
 * only on a connection that has sent END-OF-MESSAGE requests before:
 * without the check in smtpd_end_of_data_restrictions, a finished
 * message and an abandoned one look the same */
static void
policy_txn_abandon(struct policyd_policy *pol, const char *inst,
		   const struct policyd_session *owner, const char *reason)
{
	struct policy_txn *txn = htable_get(pol->txns, inst);
	if (txn == NULL || txn->owner != owner)
		return;
	if (owner->eom_seen && !txn->done)
		policyd_policy_refund(pol, "NOQUEUE", txn->takes,
				      txn->ntakes, reason);
	policyd_txn_free(htable_del(pol->txns, inst));
}

/* policyd_policy_session_new - a connection's state */
struct policyd_session *
policyd_policy_session_new(void)
{
	return x_calloc(1, sizeof(struct policyd_session));
}

/* policyd_policy_session_end - the connection closed */
void
policyd_policy_session_end(struct policyd_policy *pol,
			   struct policyd_session **sp, int64_t now)
{
	struct policyd_session *sess = *sp;

	(void)now;
	if (sess == NULL)
		return;
	if (sess->inst != NULL)
		policy_txn_abandon(pol, sess->inst, sess, "disconnect");
	x_free(&sess->inst);
	x_free(sp);
}

/* policy_session_switch - a request of inst on sess: the previous
 * transaction of the connection, if another, was abandoned */
static void
policy_session_switch(struct policyd_policy *pol,
		      struct policyd_session *sess, const char *inst)
{
	if (sess->inst != NULL && strcmp(sess->inst, inst) == 0)
		return;
	if (sess->inst != NULL)
		policy_txn_abandon(pol, sess->inst, sess, "abandoned");
	x_free(&sess->inst);
	sess->inst = x_strdup(inst);
}

/* policy_ulong - an attribute as a number (0 when absent or bad) */
static uint64_t
policy_ulong(const struct policyd_req *req, enum policyd_attr a)
{
	const char *v = req->v[a];
	char *end;
	unsigned long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return 0;
	n = strtoull(v, &end, 10);
	return *end == '\0' ? (uint64_t)n : 0;
}

/* The request being answered. */
struct policy_ctx {
	const struct policyd_req *req;
	const char *state, *qid, *inst;
	int rcpt, data, eom;		/* which state */
	int64_t now;
	struct policy_txn *txn;		/* NULL: not seen before */
	struct policy_take *takes;	/* grown as needed */
	size_t ntakes, maxtakes;
	struct policy_op *ops;		/* planned, then run together */
	size_t nops, maxops;
	struct policy_hit *hits;
	size_t nhits;
	int store_failed;		/* and store_fail_action = defer */
	int store_errors;
	const struct policyd_ldap_answer *ldap;	/* the user's entry */
	char why[256];
};

/* policy_weight - what limit pl takes for key now: 0 nothing, else the
 * weight (*peek: only look) */
static uint64_t
policy_weight(const struct policy_ctx *cx, const struct policy_limit *pl,
	      const char *skey, int *peek)
{
	uint64_t n;

	*peek = 0;
	switch (pl->c.unit) {
	case POLICYD_UNIT_MESSAGES:
		return policyd_txn_has(cx->txn, skey) ? 0 : 1;
	case POLICYD_UNIT_RECIPIENTS:
		if (cx->rcpt)
			return 1;	/* a recipient not counted yet */
		if (pl->c.key == POLICYD_KEY_RECIPIENT_DOMAIN
		    || policyd_txn_has(cx->txn, skey)
		    || (cx->txn != NULL && cx->txn->nrcpts > 0))
			return 0;
		n = policy_ulong(cx->req, POLICYD_A_RECIPIENT_COUNT);
		return n;
	case POLICYD_UNIT_BYTES:
		n = policy_ulong(cx->req, POLICYD_A_SIZE);
		if (!cx->eom) {
			*peek = 1;
			return n > 0 ? n : 1;
		}
		return policyd_txn_has(cx->txn, skey) ? 0 : n;
	}
	return 0;
}

/* policy_limit_for - limit pl as it applies to this request: its own
 * rate, or the user's from the directory; 1 from the directory, 0 its
 * own, -1 none (the directory's 0: no limit for that user) */
static int
policy_limit_for(struct policyd_policy *pol, const struct policy_ctx *cx,
		 const struct policy_limit *pl, struct policyd_limit *lim,
		 char *period, size_t periodlen)
{
	const struct policyd_ldap_rate *o = NULL;
	struct policyd_rate rate = pl->c.rate;

	if (pl->c.ldap_attribute != NULL && cx->ldap != NULL
	    && (o = policyd_ldap_rate(cx->ldap, pl->c.ldap_attribute))
	    != NULL) {
		if (o->has_period)
			rate = o->rate;
		else
			rate.max = o->rate.max;
		if (rate.max == 0)
			return -1;
	}
	memset(lim, 0, sizeof(*lim));
	lim->max = rate.max;
	lim->period_ms = (int64_t)rate.period * 1000;
	if (rate.cal != POLICYD_CAL_NONE)
		policy_calendar(pol, rate.cal, cx->now, lim->q);
	if (o == NULL)
		snprintf(period, periodlen, "%s", pl->period);
	else
		policy_period_text(&rate, period, periodlen);
	return o != NULL;
}

/* policy_plan_one - limit pl on key (TAG:VALUE): the store operation
 * it needs, if any, joins the request's */
static void
policy_plan_one(struct policyd_policy *pol, struct policy_ctx *cx,
		const struct policy_limit *pl, const char *key)
{
	struct policyd_limit lim;
	struct policy_op *op;
	char skey[400], period[24];
	uint64_t w;
	int peek, from_ldap;

	snprintf(skey, sizeof(skey), "%s%s:%s", pl->lprefix ? "l:" : "",
		 pl->prefix, key);
	if ((w = policy_weight(cx, pl, skey, &peek)) == 0)
		return;
	if ((from_ldap = policy_limit_for(pol, cx, pl, &lim, period,
					  sizeof(period))) < 0)
		return;
	if (cx->nops == cx->maxops) {
		cx->maxops = cx->maxops ? 2 * cx->maxops : 8;
		cx->ops = x_realloc(cx->ops, cx->maxops * sizeof(*cx->ops));
	}
	op = &cx->ops[cx->nops++];
	memset(op, 0, sizeof(*op));
	op->pl = pl;
	op->key = x_strdup(key);
	op->skey = x_strdup(skey);
	op->lim = lim;
	snprintf(op->period, sizeof(op->period), "%s", period);
	op->from_ldap = from_ldap;
	op->w = w;
	op->peek = peek;
}

/* policy_check_one - what the store answered for one planned operation:
 * a take kept, a hit, or a store failure (store_fail_action) */
static void
policy_check_one(struct policyd_policy *pol, struct policy_ctx *cx,
		 struct policy_op *op)
{
	const struct policy_limit *pl = op->pl;
	struct policy_take *t;
	struct policy_hit *h;

	if (op->rc < 0) {
		metric_inc(pol->m_store_errors, pol->redis ? "redis" : "take");
		cx->store_errors++;
		qid_warn(cx->qid, "policyd store error key=%s limit=%s"
			 " error=\"%s\" action=%s (store_fail_action)",
			 op->skey, pl->c.name, op->why,
			 pol->fail_action == POLICYD_FAIL_DEFER ? "defer"
			 : "dunno");
		if (pol->fail_action == POLICYD_FAIL_DEFER)
			cx->store_failed = 1;
		return;
	}
	if (op->r.allowed) {
		if (op->peek)
			return;
		if (cx->ntakes == cx->maxtakes) {
			cx->maxtakes = cx->maxtakes ? 2 * cx->maxtakes : 8;
			cx->takes = x_realloc(cx->takes, cx->maxtakes
					      * sizeof(*cx->takes));
		}
		t = &cx->takes[cx->ntakes++];
		t->key = op->skey;
		op->skey = NULL;		/* the take's now */
		t->lim = op->lim;
		t->at = op->r.at;
		t->weight = op->w;
		t->redis = op->in_redis;
		qid_debug(cx->qid, "policyd action=dunno limit=%s key=%s"
			  " used=%llu max=%llu period=%s%s state=%s",
			  pl->c.name, op->key,
			  (unsigned long long)(op->r.used + op->w),
			  (unsigned long long)op->lim.max, op->period,
			  op->from_ldap ? " rate_from=ldap" : "", cx->state);
		return;
	}
	cx->hits = x_realloc(cx->hits, (cx->nhits + 1) * sizeof(*cx->hits));
	h = &cx->hits[cx->nhits++];
	h->pl = pl;
	snprintf(h->key, sizeof(h->key), "%s", op->key);
	h->lim = op->lim;
	snprintf(h->period, sizeof(h->period), "%s", op->period);
	h->from_ldap = op->from_ldap;
	h->r = op->r;
}

/* policy_check_limit - plan one limit for the request (to each of its
 * recipient domains at DATA and END-OF-MESSAGE, once per domain however
 * many recipients it has) */
static void
policy_check_limit(struct policyd_policy *pol, struct policy_ctx *cx,
		   const struct policy_limit *pl)
{
	struct htable *seen;
	static char mark;
	char key[300];
	size_t i;

	if (pl->c.key == POLICYD_KEY_RECIPIENT_DOMAIN && !cx->rcpt
	    && cx->txn != NULL && cx->txn->nrcpts > 0) {
		seen = htable_new();
		for (i = 0; i < cx->txn->nrcpts; i++)
			if (policyd_keys_value(&pl->c, cx->req,
					       cx->txn->rcpts[i], key,
					       sizeof(key)) == 0
			    && htable_put(seen, key, &mark) == NULL)
				policy_plan_one(pol, cx, pl, key);
		htable_free(&seen, NULL);
		return;
	}
	if (policyd_keys_value(&pl->c, cx->req, NULL, key, sizeof(key)) == 0)
		policy_plan_one(pol, cx, pl, key);
}

/* policy_unit_text - "Message", "Recipient", "Byte" */
static const char *
policy_unit_text(enum policyd_unit u)
{
	return u == POLICYD_UNIT_MESSAGES ? "Message"
		: u == POLICYD_UNIT_RECIPIENTS ? "Recipient" : "Byte";
}

/* policy_log_hit - one line per limit over */
static void
policy_log_hit(struct policyd_policy *pol, const struct policy_ctx *cx,
	       const struct policy_hit *h)
{
	const struct policy_limit *pl = h->pl;
	const struct policyd_req *req = cx->req;

	if (pl->c.dry_run)
		metric_inc(pol->m_dry, pl->c.name);
	else
		metric_inc(pol->m_hits, pl->c.name);
	qid_info(cx->qid, "policyd action=%s %slimit=%s key=%s used=%llu"
		 " max=%llu period=%s retry=%lds state=%s client=%s[%s]"
		 " sasl_username=%s sender=<%s> recipient=<%s>%s",
		 policyd_conf_action_name(pl->c.action),
		 pl->c.dry_run ? "dry_run=yes " : "", pl->c.name, h->key,
		 (unsigned long long)h->r.used,
		 (unsigned long long)h->lim.max, h->period,
		 policyd_limit_retry_seconds(&h->r), cx->state,
		 policy_val(req, POLICYD_A_CLIENT_NAME),
		 policy_val(req, POLICYD_A_CLIENT_ADDRESS),
		 policy_val(req, POLICYD_A_SASL_USERNAME),
		 policy_val(req, POLICYD_A_SENDER),
		 policy_val(req, POLICYD_A_RECIPIENT),
		 h->from_ldap ? " rate_from=ldap" : "");
}

/* policy_hit_text - the answer of one hit */
static void
policy_hit_text(const struct policy_hit *h, char *out, size_t outlen)
{
	const struct policy_limit *pl = h->pl;
	char who[200], what[400];

	policyd_keys_who(&pl->c, h->key, who, sizeof(who));
	snprintf(what, sizeof(what), "%s %s exceeded for %s (%llu per %s)",
		 policy_unit_text(pl->c.unit),
		 h->lim.period_ms == 0 ? "quota" : "rate limit", who,
		 (unsigned long long)h->lim.max, h->period);
	switch (pl->c.action) {
	case POLICYD_ACTION_REJECT:
		snprintf(out, outlen, "550 5.7.1 %s", what);
		break;
	case POLICYD_ACTION_DEFER:
		snprintf(out, outlen, "450 4.7.1 %s, try again in %ld s", what,
			 policyd_limit_retry_seconds(&h->r));
		break;
	case POLICYD_ACTION_HOLD:
		/* Postfix logs "Recipient address " + this text */
		snprintf(out, outlen, "HOLD triggers HOLD action: %s", what);
		break;
	case POLICYD_ACTION_WARN:
		if (pl->c.prepend == NULL)
			snprintf(out, outlen, "DUNNO");
		else if (strchr(pl->c.prepend, ':') != NULL)
			snprintf(out, outlen, "PREPEND %s", pl->c.prepend);
		else
			snprintf(out, outlen, "PREPEND %s: %s", pl->c.prepend,
				 what);
		break;
	}
}

/* policy_txn_get - the transaction, created when missing */
static struct policy_txn *
policy_txn_get(struct policyd_policy *pol, struct policy_ctx *cx)
{
	if (cx->txn == NULL) {
		cx->txn = x_calloc(1, sizeof(*cx->txn));
		htable_put(pol->txns, cx->inst, cx->txn);
	}
	return cx->txn;
}

/* policy_commit - keep what the request took, in its transaction */
static void
policy_commit(struct policyd_policy *pol, struct policy_ctx *cx,
	      struct policyd_session *sess)
{
	struct policy_txn *txn;
	size_t i;

	if (!*cx->inst) {		/* no transaction: counted alone */
		for (i = 0; i < cx->ntakes; i++)
			x_free(&cx->takes[i].key);
		x_free(&cx->takes);
		return;
	}
	txn = policy_txn_get(pol, cx);
	txn->seen = cx->now;
	txn->owner = sess;
	policyd_txn_keep(txn, &cx->takes, &cx->ntakes, cx->rcpt
			 ? policy_val(cx->req, POLICYD_A_RECIPIENT) : NULL,
			 cx->eom);
}

/* policy_ldap - the SASL user's directory entry, when a limit needs it:
 * cx->ldap set (or left NULL: none, or the defaults apply), or
 * POLICYD_LDAP_WAIT */
static int
policy_ldap(struct policyd_policy *pol, struct policy_ctx *cx)
{
	const char *user = policy_val(cx->req, POLICYD_A_SASL_USERNAME);
	int rc;

	if (pol->ldap == NULL || !pol->ldap_used || !*user)
		return POLICYD_LDAP_READY;
	rc = policyd_ldap_get(pol->ldap, user, cx->now, &cx->ldap);
	if (rc == POLICYD_LDAP_DEFAULT)
		qid_debug(cx->qid, "policyd ldap user=%s: no answer, the"
			  " limits' own rates apply", user);
	return rc;
}

#define POLICY_PLANNED	((size_t)-1)	/* policy_begin: ops to run */

/* policy_plan - a RCPT, DATA or END-OF-MESSAGE request: answered at once
 * (a retry, a finished message, too many recipients), 0 when it waits
 * for the directory, or POLICY_PLANNED with the store operations of its
 * limits in cx->ops */
static size_t
policy_plan(struct policyd_policy *pol, struct policyd_session *sess,
	    struct policy_ctx *cx, char *reply, size_t replylen)
{
	const char *rcpt = policy_val(cx->req, POLICYD_A_RECIPIENT);
	size_t i;

	cx->txn = *cx->inst ? htable_get(pol->txns, cx->inst) : NULL;
	if (cx->txn != NULL) {
		cx->txn->seen = cx->now;
		cx->txn->owner = sess;
		/* counted already: Postfix's retry, or a finished message */
		if (cx->txn->done || (cx->rcpt && *rcpt
				      && policyd_txn_has_rcpt(cx->txn, rcpt)))
			return policy_answer(pol, cx->state, "dunno", "DUNNO",
					     reply, replylen);
	}
	if (cx->rcpt && *rcpt && cx->txn != NULL
	    && cx->txn->nrcpts >= POLICY_MAX_RCPTS) {
		/* not remembered: its domain would go uncounted at
		 * END-OF-MESSAGE, and a retry counted again */
		qid_warn(cx->qid, "policyd too many recipients in one"
			 " transaction (%d): recipient=<%s> not remembered,"
			 " action=%s (store_fail_action)", POLICY_MAX_RCPTS,
			 rcpt, pol->fail_action == POLICYD_FAIL_DEFER
			 ? "defer" : "dunno");
		metric_inc(pol->m_store_errors, "recipients");
		if (pol->fail_action == POLICYD_FAIL_DEFER)
			return policy_answer(pol, cx->state, "store_fail",
					     "451 4.3.0 Rate limit service"
					     " temporarily unavailable, try"
					     " again later", reply, replylen);
	}
	if (policy_ldap(pol, cx) == POLICYD_LDAP_WAIT)
		return 0;		/* nothing counted: asked again */
	for (i = 0; i < pol->nlimits; i++)
		policy_check_limit(pol, cx, &pol->limits[i]);
	return POLICY_PLANNED;
}

/* policy_finish - the answer of a planned request, its ops run: takes
 * kept (or, refused, given back), hits logged */
static size_t
policy_finish(struct policyd_policy *pol, struct policyd_session *sess,
	      struct policy_ctx *cx, char *reply, size_t replylen)
{
	const struct policy_hit *worst = NULL, *warn = NULL;
	const char *label;
	char action[700];
	size_t i, n;

	for (i = 0; i < cx->nops; i++) {
		policy_check_one(pol, cx, &cx->ops[i]);
		x_free(&cx->ops[i].key);
		x_free(&cx->ops[i].skey);
	}
	x_free(&cx->ops);
	for (i = 0; i < cx->nhits; i++) {
		const struct policy_hit *h = &cx->hits[i];

		policy_log_hit(pol, cx, h);
		if (h->pl->c.dry_run)
			continue;
		if (worst == NULL || h->pl->c.action > worst->pl->c.action)
			worst = h;
		if (warn == NULL && h->pl->c.action == POLICYD_ACTION_WARN
		    && h->pl->c.prepend != NULL)
			warn = h;
	}
	if (cx->store_failed || (worst != NULL
				 && worst->pl->c.action
				 >= POLICYD_ACTION_DEFER)) {
		/* refused: what the other limits took goes back */
		policyd_policy_refund(pol, cx->qid, cx->takes, cx->ntakes,
				      "refused");
		for (i = 0; i < cx->ntakes; i++)
			x_free(&cx->takes[i].key);
		x_free(&cx->takes);
		if (worst == NULL || worst->pl->c.action < POLICYD_ACTION_DEFER)
			n = policy_answer(pol, cx->state, "store_fail",
					  "451 4.3.0 Rate limit service"
					  " temporarily unavailable, try"
					  " again later", reply, replylen);
		else {
			policy_hit_text(worst, action, sizeof(action));
			n = policy_answer(pol, cx->state,
					  policyd_conf_action_name(
						  worst->pl->c.action),
					  action, reply, replylen);
		}
		x_free(&cx->hits);
		return n;
	}
	policy_commit(pol, cx, sess);
	if (worst != NULL && worst->pl->c.action == POLICYD_ACTION_HOLD)
		policy_hit_text(worst, action, sizeof(action));
	else if (warn != NULL)
		policy_hit_text(warn, action, sizeof(action));
	else
		snprintf(action, sizeof(action), "DUNNO");
	if (worst != NULL)
		label = policyd_conf_action_name(worst->pl->c.action);
	else
		label = cx->store_errors ? "store_fail" : "dunno";
	n = policy_answer(pol, cx->state, label, action, reply, replylen);
	x_free(&cx->hits);
	return n;
}

/* policy_begin - a request of a connection up to its store operations:
 * answered at once (other states, exemptions, retries...), 0 when it
 * waits for the directory, or POLICY_PLANNED */
static size_t
policy_begin(struct policyd_policy *pol, struct policyd_session *sess,
	     const struct policyd_req *req, int64_t now,
	     struct policy_ctx *cx, char *reply, size_t replylen)
{
	char why[200];

	memset(cx, 0, sizeof(*cx));
	cx->req = req;
	cx->now = now;
	cx->state = req->v[POLICYD_A_PROTOCOL_STATE];
	cx->inst = policy_val(req, POLICYD_A_INSTANCE);
	cx->qid = req->v[POLICYD_A_QUEUE_ID];
	if (cx->qid == NULL || *cx->qid == '\0')
		cx->qid = "NOQUEUE";
	if (sess != NULL && *cx->inst)
		policy_session_switch(pol, sess, cx->inst);
	if (cx->state != NULL) {
		cx->rcpt = strcmp(cx->state, "RCPT") == 0;
		cx->data = strcmp(cx->state, "DATA") == 0;
		cx->eom = strcmp(cx->state, "END-OF-MESSAGE") == 0;
	}
	if (sess != NULL && cx->eom)
		sess->eom_seen = 1;
	if (!cx->rcpt && !cx->data && !cx->eom)
		return policy_answer(pol, cx->state, "dunno", "DUNNO", reply,
				     replylen);
	if (pol->exempt != NULL
	    && policyd_exempt_match(pol->exempt, req, why, sizeof(why))) {
		qid_debug(cx->qid, "policyd action=dunno exempt=\"%s\""
			  " state=%s", why, cx->state);
		return policy_answer(pol, cx->state, "exempt", "DUNNO", reply,
				     replylen);
	}
	return policy_plan(pol, sess, cx, reply, replylen);
}

/* policyd_policy_decide_session - answer one request of a connection */
size_t
policyd_policy_decide_session(struct policyd_policy *pol,
			      struct policyd_session *sess,
			      const struct policyd_req *req, int64_t now,
			      char *reply, size_t replylen)
{
	struct policy_ctx cx;
	size_t n;

	if ((n = policy_begin(pol, sess, req, now, &cx, reply, replylen))
	    != POLICY_PLANNED)
		return n;
	policyd_policy_run(pol, cx.qid, cx.ops, cx.nops, cx.now);
	return policy_finish(pol, sess, &cx, reply, replylen);
}

/* A request in a batch. */
struct policy_batch_item {
	struct policy_ctx cx;
	struct policyd_session *sess;
	void *owner;
};

struct policyd_batch {
	struct policy_batch_item **items;
	size_t n, max;
};

/* policyd_policy_batch_new - an empty batch */
struct policyd_batch *
policyd_policy_batch_new(void)
{
	return x_calloc(1, sizeof(struct policyd_batch));
}

/* policyd_policy_batch_free - destroy an empty batch */
void
policyd_policy_batch_free(struct policyd_batch **bp)
{
	if (*bp == NULL)
		return;
	if ((*bp)->n > 0)
		msg_panic("policyd_policy_batch_free: %zu requests not run",
			  (*bp)->n);
	x_free(&(*bp)->items);
	x_free(bp);
}

/* policyd_policy_batch_size - how many requests wait in the batch */
size_t
policyd_policy_batch_size(const struct policyd_batch *b)
{
	return b->n;
}

/* policyd_policy_batch_add - req joins the batch, or is answered now */
size_t
policyd_policy_batch_add(struct policyd_policy *pol, struct policyd_batch *b,
			 struct policyd_session *sess,
			 const struct policyd_req *req, int64_t now,
			 void *owner, char *reply, size_t replylen)
{
	struct policy_batch_item *it;
	const char *inst = policy_val(req, POLICYD_A_INSTANCE);
	size_t i, n;

	/* one request per session and per transaction: the second would
	 * have to see what the first took */
	for (i = 0; i < b->n; i++)
		if ((sess != NULL && b->items[i]->sess == sess)
		    || (*inst && strcmp(b->items[i]->cx.inst, inst) == 0))
			return POLICYD_BATCH_FULL;
	it = x_malloc(sizeof(*it));
	if ((n = policy_begin(pol, sess, req, now, &it->cx, reply, replylen))
	    != POLICY_PLANNED) {
		x_free(&it);
		return n;
	}
	it->sess = sess;
	it->owner = owner;
	if (b->n == b->max) {
		b->max = b->max ? 2 * b->max : 16;
		b->items = x_realloc(b->items, b->max * sizeof(*b->items));
	}
	b->items[b->n++] = it;
	return POLICYD_BATCH_JOINED;
}

/* policyd_policy_batch_run - every request's store operations at once
 * (one Redis round trip), then each request's answer, in order */
void
policyd_policy_batch_run(struct policyd_policy *pol, struct policyd_batch *b,
			 void (*done)(void *owner, const char *reply,
				      size_t len, void *arg), void *arg)
{
	struct policy_op *all;
	char reply[1024];
	size_t i, k, nall = 0;

	for (i = 0; i < b->n; i++)
		nall += b->items[i]->cx.nops;
	if (nall > 0) {
		all = x_malloc(nall * sizeof(*all));
		for (i = 0, k = 0; i < b->n; i++) {
			struct policy_ctx *cx = &b->items[i]->cx;

			if (cx->nops > 0)
				memcpy(all + k, cx->ops, cx->nops
				       * sizeof(*all));
			k += cx->nops;
		}
		policyd_policy_run(pol, b->n == 1 ? b->items[0]->cx.qid
				   : "NOQUEUE", all, nall,
				   b->items[0]->cx.now);
		for (i = 0, k = 0; i < b->n; i++) {
			struct policy_ctx *cx = &b->items[i]->cx;

			if (cx->nops > 0)
				memcpy(cx->ops, all + k, cx->nops
				       * sizeof(*all));
			k += cx->nops;
		}
		free(all);
	}
	for (i = 0; i < b->n; i++) {
		struct policy_batch_item *it = b->items[i];
		size_t n = policy_finish(pol, it->sess, &it->cx, reply,
					 sizeof(reply));

		done(it->owner, reply, n, arg);
		x_free(&it);
	}
	b->n = 0;
}

/* policyd_policy_decide - answer one request (no session: no refunds) */
size_t
policyd_policy_decide(struct policyd_policy *pol,
		      const struct policyd_req *req, int64_t now,
		      char *reply, size_t replylen)
{
	return policyd_policy_decide_session(pol, NULL, req, now, reply,
					     replylen);
}

/* policyd_policy_step - a slice of the store's write-behind */
void
policyd_policy_step(struct policyd_policy *pol, int64_t now)
{
	if (pol->store != NULL)
		policyd_store_step(pol->store, now);
}

/* policyd_policy_tick - forget old transactions, store upkeep */
void
policyd_policy_tick(struct policyd_policy *pol, int64_t now)
{
	char why[256];
	double t0 = clock_mono_s();

	policyd_txn_sweep(pol->txns, now);
	if (pol->ldap != NULL)
		policyd_ldap_tick(pol->ldap, now);
	metric_set(pol->m_txns, (double)htable_size(pol->txns));
	if (policyd_store_tick(pol->store, now, why, sizeof(why)) < 0) {
		metric_inc(pol->m_store_errors, "flush");
		msg_warn("policyd store error during upkeep: %s (the changes"
			 " are kept and written at the next tick)", why);
	}
	if (clock_mono_s() - t0 > 0.1)
		msg_warn("policyd store upkeep took %.0f ms",
			 (clock_mono_s() - t0) * 1000);
}

/* policy_key_match - whether key names limit pl; *value gets the
 * TAG:VALUE part, skey the store key */
static int
policy_key_match(const struct policy_limit *pl, const char *key,
		 const char **value, char *skey, size_t skeylen)
{
	const char *tag = policyd_keys_tag(pl->c.key);
	size_t nlen = strlen(pl->c.name), tlen = strlen(tag);

	if (strncmp(key, pl->c.name, nlen) == 0 && key[nlen] == ':'
	    && strncmp(key + nlen + 1, tag, tlen) == 0
	    && key[nlen + 1 + tlen] == ':')
		key += nlen + 1;	/* LIMIT:TAG:VALUE */
	if (strncmp(key, tag, tlen) != 0 || key[tlen] != ':')
		return 0;
	*value = key;
	snprintf(skey, skeylen, "%s%s:%s", pl->lprefix ? "l:" : "",
		 pl->prefix, key);
	return 1;
}

/* policy_key_limit - a limit's own rate at now, as a store wants it */
static void
policy_key_limit(struct policyd_policy *pol, const struct policy_limit *pl,
		 int64_t now, struct policyd_limit *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max = pl->c.rate.max;
	lim->period_ms = (int64_t)pl->c.rate.period * 1000;
	if (pl->c.rate.cal != POLICYD_CAL_NONE)
		policy_calendar(pol, pl->c.rate.cal, now, lim->q);
}

/* policy_key_named - whether key is LIMIT:TAG:VALUE (one limit only) */
static int
policy_key_named(const struct policyd_policy *pol, const char *key)
{
	size_t i, n;

	for (i = 0; i < pol->nlimits; i++) {
		n = strlen(pol->limits[i].c.name);
		if (strncmp(key, pol->limits[i].c.name, n) == 0
		    && key[n] == ':')
			return 1;
	}
	return 0;
}

/* policyd_policy_key_show - peek at key in each limit it matches */
int
policyd_policy_key_show(struct policyd_policy *pol, const char *key,
			int64_t now, policyd_policy_key_fn fn, void *ctx,
			char *err, size_t errlen)
{
	struct policyd_policy_keystate ks;
	struct policyd_limit_result r;
	struct policyd_limit lim;
	const struct policy_limit *pl;
	const char *value;
	char skey[400];
	size_t i;
	int n = 0, rc, named = policy_key_named(pol, key);

	for (i = 0; i < pol->nlimits; i++) {
		pl = &pol->limits[i];
		if (pl->c.rate.max == 0
		    || !policy_key_match(pl, key, &value, skey, sizeof(skey))
		    || (named && value == key))
			continue;
		policy_key_limit(pol, pl, now, &lim);
		rc = pol->redis != NULL
			? policyd_redis_take(pol->redis, skey, &lim, 0, 1, 1,
					     &r, err, errlen)
			: policyd_store_take(pol->store, skey, &lim, now, 1, 1,
					     &r, err, errlen);
		if (rc < 0)
			return -1;
		memset(&ks, 0, sizeof(ks));
		ks.limit = pl->c.name;
		ks.skey = skey;
		ks.store = pol->redis != NULL ? "redis" : "local";
		ks.used = r.used;
		ks.max = lim.max;
		ks.period = pl->period;
		ks.unit = policy_unit_text(pl->c.unit);
		ks.retry_s = r.allowed ? 0 : policyd_limit_retry_seconds(&r);
		fn(&ks, ctx);
		n++;
	}
	return n;
}

/* policyd_policy_key_reset - forget key in each limit it matches */
int
policyd_policy_key_reset(struct policyd_policy *pol, const char *key,
			 char *err, size_t errlen)
{
	const struct policy_limit *pl;
	const char *value;
	char skey[400];
	size_t i;
	int n = 0, named = policy_key_named(pol, key);

	for (i = 0; i < pol->nlimits; i++) {
		pl = &pol->limits[i];
		if (!policy_key_match(pl, key, &value, skey, sizeof(skey))
		    || (named && value == key))
			continue;
		if (pol->redis != NULL
		    && policyd_redis_reset(pol->redis, skey, err, errlen) < 0)
			return -1;
		/* the local store too: Redis's fallback, or the store */
		if (policyd_store_reset(pol->store, skey, err, errlen) < 0)
			return -1;
		n++;
	}
	return n;
}
