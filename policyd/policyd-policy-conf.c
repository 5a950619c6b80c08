/*++
 * NAME
 *	policyd-policy-conf 3
 * SUMMARY
 *	the policy's life: made, configured (and on reload), freed
 * DESCRIPTION
 *	See policyd-policy.h.  The configuration's limits are copied into
 *	the form the decisions use (policy_limit: the period as text, the
 *	store key's prefix), with the exemptions, the failure actions and
 *	the quotas' time zone.  The metrics of the policy are made here.
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "htable.h"
#include "log.h"
#include "metrics.h"
#include "policyd-calendar.h"
#include "policyd-keys.h"
#include "policyd-ldap.h"
#include "policyd-policy.h"
#include "policyd-policy-private.h"
#include "policyd-txn.h"
#include "xalloc.h"

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

/* policyd_policy_period_text - 3600 -> "1h", 90 -> "90s", a quota
 * "day" */
void
policyd_policy_period_text(const struct policyd_rate *rate, char *out,
			   size_t len)
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
		policyd_policy_period_text(&pl->c.rate, pl->period,
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
