/*++
 * NAME
 *	policyd-policy-key 3
 * SUMMARY
 *	a key's live state in the limits, for elemta-ctl: show, reset
 * DESCRIPTION
 *	See policyd-policy.h (policyd_policy_key_show, _reset).  A key is
 *	TAG:VALUE (every limit counting by that tag) or LIMIT:TAG:VALUE
 *	(that limit only); its state is looked at with a peek, which
 *	takes nothing, in Redis when policyd counts there, else in the
 *	local store, and reset in both.
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policyd-keys.h"
#include "policyd-policy.h"
#include "policyd-policy-private.h"
#include "policyd-store.h"
#include "policyd-store-redis.h"

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
		policyd_policy_calendar(pol, pl->c.rate.cal, now,
					lim->q);
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
		ks.unit = policyd_policy_unit_text(pl->c.unit);
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
