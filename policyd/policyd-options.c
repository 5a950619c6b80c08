/*++
 * NAME
 *	policyd-options 3
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	See policyd-options.h.  Every daemon links it (the whole schema,
 *	sections-all.c, does), so it depends on nothing else of policyd/.
 *--*/
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cidr.h"
#include "ldapc.h"
#include "policyd-options.h"
#include "runtime.h"
#include "xalloc.h"

#define POLICYD_LDAP_FILTER	"(|(uid=%s)(mail=%s))"

static const char *const policyd_fail_actions[] = { "dunno", "defer", NULL };
static const char *const policyd_stores[] = { "sqlite", "redis", NULL };
static const char *const policyd_fallbacks[] = { "fail_action", "local",
						 NULL };
/* in enum order (policyd-options.h) */
static const char *const policyd_keys[] = { "client_ip", "sasl_user",
	"sender", "sender_domain", "recipient_domain", "listener", "global",
	NULL };
static const char *const policyd_units[] = { "messages", "recipients",
					     "bytes", NULL };
static const char *const policyd_actions[] = { "warn", "hold", "defer",
					       "reject", NULL };
static const char *const policyd_clients_names[] = { "all",
	"unauthenticated", "authenticated", NULL };

/* policyd_conf_action_name - the configuration word of an action */
const char *
policyd_conf_action_name(enum policyd_action a)
{
	return policyd_actions[a];
}

/* policyd_conf_enum - index of value in names, or -1 */
static int
policyd_conf_enum(const char *const *names, const char *value)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], value) == 0)
			return i;
	return -1;
}

/* policyd_conf_calendar - "day" or "month", else POLICYD_CAL_NONE */
static enum policyd_calendar
policyd_conf_calendar(const char *s)
{
	if (strcmp(s, "day") == 0)
		return POLICYD_CAL_DAY;
	if (strcmp(s, "month") == 0)
		return POLICYD_CAL_MONTH;
	return POLICYD_CAL_NONE;
}

/* policyd_conf_cb_period - a limit's period: a duration (seconds), or
 * day / month, stored as minus the enum policyd_calendar value */
static int
policyd_conf_cb_period(cfg_t *cfg, cfg_opt_t *opt, const char *value,
		       void *result)
{
	enum policyd_calendar c = policyd_conf_calendar(value);

	if (c == POLICYD_CAL_NONE)
		return conf_cb_duration(cfg, opt, value, result);
	*(long *)result = -(long)c;
	return 0;
}

/* policyd_conf_zone_check - UTC, or a zone of the zone database */
int
policyd_conf_zone_check(const char *zone, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	struct stat sb;
	char path[PATH_MAX];

	if (strcmp(zone, "UTC") == 0)
		return 0;
	if (*zone == '\0' || *zone == '/' || strstr(zone, "..") != NULL
	    || strspn(zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789/_+-") != strlen(zone)) {
		x_err(err, errlen, "bad time zone '%.64s' (UTC, or a name such"
		      " as Europe/Berlin)", zone);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && *dir == '/'
		 ? dir : "/usr/share/zoneinfo", zone);
	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		x_err(err, errlen, "unknown time zone '%s' (no file %s; the"
		      " tzdata package has them)", zone, path);
		return -1;
	}
	return 0;
}

/* policyd_conf_parse_rate - "N/PERIOD" into a struct policyd_rate */
int
policyd_conf_parse_rate(const char *s, struct policyd_rate *out,
			char *err, size_t errlen)
{
	static const char units[] = "smhdw";
	static const long mult[] = { 1, 60, 3600, 86400, 604800 };
	const char *in = s;
	enum policyd_calendar c;
	unsigned long n;
	long p = 1;
	const char *u;
	char *end;

	out->max = 0;
	out->period = 3600;
	out->cal = POLICYD_CAL_NONE;
	if (strcmp(s, "0") == 0)
		return 0;
	errno = 0;
	if (*s < '0' || *s > '9' || (n = strtoul(s, &end, 10), errno)
	    || *end != '/' || n > 1000000000000UL) {
		x_err(err, errlen, "bad rate '%s' (examples: 100/1h, 1000/1d,"
		      " 5000/month)", s);
		return -1;
	}
	s = end + 1;
	if (*s == '\0') {
		x_err(err, errlen, "rate '%s' has no period (examples: 100/1h,"
		      " 1000/1d, 5000/month)", in);
		return -1;
	}
	if ((c = policyd_conf_calendar(s)) != POLICYD_CAL_NONE) {
		out->max = n;
		out->period = 0;
		out->cal = c;
		return 0;
	}
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		p = strtol(s, &end, 10);
		if (errno || p <= 0 || p > 366L * 86400) {
			x_err(err, errlen, "bad period in rate '%s' (1s-366d)",
			      in);
			return -1;
		}
		s = end;
	}
	if (*s != '\0') {
		if ((u = strchr(units, *s)) == NULL || s[1] != '\0'
		    || p * mult[u - units] > 366L * 86400) {
			x_err(err, errlen, "bad period in rate '%s' (units s,"
			      " m, h, d, w; at most 366d; or day, month)", in);
			return -1;
		}
		p *= mult[u - units];
	}
	out->max = n;
	out->period = p;
	return 0;
}

/* policyd_conf_parse_override - "N" or "N/PERIOD" from a directory */
int
policyd_conf_parse_override(const char *s, struct policyd_rate *out,
			    int *has_period, char *err, size_t errlen)
{
	unsigned long n;
	char *end;

	*has_period = strchr(s, '/') != NULL;
	if (*has_period)
		return policyd_conf_parse_rate(s, out, err, errlen);
	errno = 0;
	if (*s < '0' || *s > '9' || (n = strtoul(s, &end, 10), errno)
	    || *end != '\0' || n > 1000000000000UL) {
		x_err(err, errlen, "'%.64s' is neither N nor N/PERIOD (examples:"
		      " 500, 500/1h, 5000/day)", s);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->max = n;
	return 0;
}

/* policyd_conf_check_attr - an LDAP attribute description: a name
 * (letters, digits, '-') or an OID; empty: none */
static int
policyd_conf_check_attr(const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0)
		return 0;
	if (n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
			     "QRSTUVWXYZ0123456789-.") != n) {
		x_err(err, errlen, "'%.64s' is not an LDAP attribute name", s);
		return -1;
	}
	return 0;
}

/* policyd_conf_check_rate - CONF_CHECK_FUNC for rates */
static int
policyd_conf_check_rate(const char *value, char *err, size_t errlen)
{
	struct policyd_rate r;

	return policyd_conf_parse_rate(value, &r, err, errlen);
}

/* One "limit NAME { }" sub-section; checked in policyd_conf_load_limit
 * (see policyd-options.h). */
static cfg_opt_t policyd_limit_opts[] = {
	CFG_STR("key", "client_ip", CFGF_NONE),
	CFG_INT("prefix_v4", 32, CFGF_NONE),
	CFG_INT("prefix_v6", 64, CFGF_NONE),
	CFG_STR("unit", "messages", CFGF_NONE),
	CFG_INT("rate", -1, CFGF_NONE),
	CFG_INT_CB("period", 3600, CFGF_NONE, policyd_conf_cb_period),
	CFG_STR("action", "defer", CFGF_NONE),
	CFG_STR("clients", "all", CFGF_NONE),
	CFG_BOOL("dry_run", cfg_false, CFGF_NONE),
	CFG_STR("prepend", "", CFGF_NONE),
	CFG_STR("ldap_attribute", "", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t policyd_opts[] = {
	DAEMON_CONF_OPTS(ELEMTA_SOCKET_DEFAULT("policyd"), "",
			 ELEMTA_CONTROL_DEFAULT("policyd")),
	CFG_INT_CB("idle_timeout", 600, CFGF_NONE, conf_cb_duration),
	CFG_INT("max_connections", 1000, CFGF_NONE),
	CFG_STR("client_message_limit", "100/1h", CFGF_NONE),
	CFG_STR("sasl_user_message_limit", "1000/1h", CFGF_NONE),
	CFG_INT("client_ipv4_prefix", 32, CFGF_NONE),
	CFG_INT("client_ipv6_prefix", 64, CFGF_NONE),
	CFG_STR("store_path", "", CFGF_NONE),
	CFG_INT_CB("store_flush_interval", 1, CFGF_NONE, conf_cb_duration),
	CFG_STR("calendar_time_zone", "UTC", CFGF_NONE),
	CFG_STR("store_fail_action", "dunno", CFGF_NONE),
	CFG_STR("store", "sqlite", CFGF_NONE),
	CFG_STR("store_fallback", "fail_action", CFGF_NONE),
	CFG_STR_LIST("exempt_networks", "{}", CFGF_NONE),
	CFG_STR_LIST("exempt_sasl_users", "{}", CFGF_NONE),
	CFG_STR("ldap_base", "", CFGF_NONE),
	CFG_STR("ldap_scope", "sub", CFGF_NONE),
	CFG_STR("ldap_filter", POLICYD_LDAP_FILTER, CFGF_NONE),
	CFG_INT_CB("ldap_cache_ttl", 300, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("ldap_negative_cache_ttl", 60, CFGF_NONE,
		   conf_cb_duration),
	CFG_INT("ldap_cache_size", 10000, CFGF_NONE),
	CFG_INT("ldap_wait_ms", 1000, CFGF_NONE),
	CFG_SEC("limit", policyd_limit_opts,
		CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static const struct conf_check policyd_checks[] = {
	DAEMON_CONF_CHECKS,
	{ "idle_timeout", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "max_connections", CONF_CHECK_RANGE, 1, 100000, NULL, NULL },
	{ "client_message_limit", CONF_CHECK_FUNC, 0, 0, NULL,
	  policyd_conf_check_rate },
	{ "sasl_user_message_limit", CONF_CHECK_FUNC, 0, 0, NULL,
	  policyd_conf_check_rate },
	{ "client_ipv4_prefix", CONF_CHECK_RANGE, 8, 32, NULL, NULL },
	{ "client_ipv6_prefix", CONF_CHECK_RANGE, 16, 128, NULL, NULL },
	{ "store_path", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "store_flush_interval", CONF_CHECK_RANGE, 0, 60, NULL, NULL },
	{ "calendar_time_zone", CONF_CHECK_FUNC, 0, 0, NULL,
	  policyd_conf_zone_check },
	{ "store_fail_action", CONF_CHECK_ENUM, 0, 0, policyd_fail_actions,
	  NULL },
	{ "store", CONF_CHECK_ENUM, 0, 0, policyd_stores, NULL },
	{ "store_fallback", CONF_CHECK_ENUM, 0, 0, policyd_fallbacks, NULL },
	{ "exempt_networks", CONF_CHECK_FUNC, 0, 0, NULL, cidr_check },
	{ "ldap_scope", CONF_CHECK_ENUM, 0, 0, ldapc_scope_names, NULL },
	{ "ldap_filter", CONF_CHECK_FUNC, 0, 0, NULL, ldapc_filter_check },
	/* at least a second: the request that waited uses the answer */
	{ "ldap_cache_ttl", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "ldap_negative_cache_ttl", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "ldap_cache_size", CONF_CHECK_RANGE, 1, 10000000L, NULL, NULL },
	{ "ldap_wait_ms", CONF_CHECK_RANGE, 1, 60000, NULL, NULL },
	CONF_CHECK_END
};

/* policyd_conf_limit_enum - one enum option of a limit sub-section */
static int
policyd_conf_limit_enum(cfg_t *ls, const char *key, const char *const *names,
			int *out, char *err, size_t errlen)
{
	const char *v = cfg_getstr(ls, key);
	char list[200] = "";
	int i;

	if ((*out = policyd_conf_enum(names, v)) >= 0)
		return 0;
	for (i = 0; names[i] != NULL; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	x_err(err, errlen, "limit '%s': %s: unknown value '%s' (%s)",
	      cfg_title(ls), key, v, list);
	return -1;
}

/* policyd_conf_limit_values - a limit's numbers and strings; 0 or -1 */
static int
policyd_conf_limit_values(cfg_t *ls, const char *name, int k, char *err,
			  size_t errlen)
{
	long rate = cfg_getint(ls, "rate"), period = cfg_getint(ls, "period");
	char why[200];

	if (rate < 0 || rate > 1000000000000L) {
		x_err(err, errlen, "limit '%s': rate %s (0-1000000000000;"
		      " 0 switches it off)", name, rate == -1
		      ? "is not set" : "out of range");
		return -1;
	}
	if (period != -(long)POLICYD_CAL_DAY && period != -(long)POLICYD_CAL_MONTH
	    && (period < 1 || period > 366L * 86400)) {
		x_err(err, errlen, "limit '%s': period out of range (1s-366d,"
		      " or day, month)", name);
		return -1;
	}
	if (cfg_getint(ls, "prefix_v4") < 8 || cfg_getint(ls, "prefix_v4") > 32
	    || cfg_getint(ls, "prefix_v6") < 16
	    || cfg_getint(ls, "prefix_v6") > 128) {
		x_err(err, errlen, "limit '%s': prefix_v4 is 8-32, prefix_v6"
		      " 16-128", name);
		return -1;
	}
	if (strchr(cfg_getstr(ls, "prepend"), '\n') != NULL
	    || strlen(cfg_getstr(ls, "prepend")) > 200) {
		x_err(err, errlen, "limit '%s': prepend: one line of at most"
		      " 200 bytes", name);
		return -1;
	}
	if (policyd_conf_check_attr(cfg_getstr(ls, "ldap_attribute"), why,
				    sizeof(why)) < 0) {
		x_err(err, errlen, "limit '%s': ldap_attribute: %s", name, why);
		return -1;
	}
	if (*cfg_getstr(ls, "ldap_attribute") && k != POLICYD_KEY_SASL_USER) {
		x_err(err, errlen, "limit '%s': ldap_attribute needs key ="
		      " sasl_user (the directory is asked about the SASL"
		      " user)", name);
		return -1;
	}
	return 0;
}

/* policyd_conf_load_limit - one limit sub-section, checked */
static int
policyd_conf_load_limit(cfg_t *ls, struct policyd_limit_conf *l, char *err,
			size_t errlen)
{
	const char *name = cfg_title(ls);
	long rate = cfg_getint(ls, "rate"), period = cfg_getint(ls, "period");
	int k, u, a, c;

	if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
	    != strlen(name) || strlen(name) > 64) {
		x_err(err, errlen, "limit '%.64s': a name is 1-64 letters,"
		      " digits, '_' or '-'", name);
		return -1;
	}
	if (policyd_conf_limit_enum(ls, "key", policyd_keys, &k, err,
				    errlen) < 0
	    || policyd_conf_limit_enum(ls, "unit", policyd_units, &u, err,
				       errlen) < 0
	    || policyd_conf_limit_enum(ls, "action", policyd_actions, &a,
				       err, errlen) < 0
	    || policyd_conf_limit_enum(ls, "clients", policyd_clients_names,
				       &c, err, errlen) < 0)
		return -1;
	if (policyd_conf_limit_values(ls, name, k, err, errlen) < 0)
		return -1;
	l->name = x_strdup(name);
	l->key = (enum policyd_key)k;
	l->unit = (enum policyd_unit)u;
	l->action = (enum policyd_action)a;
	l->clients = (enum policyd_clients)c;
	l->rate.max = (unsigned long)rate;
	if (period < 0) {
		l->rate.period = 0;
		l->rate.cal = (enum policyd_calendar)-period;
	} else {
		l->rate.period = period;
		l->rate.cal = POLICYD_CAL_NONE;
	}
	l->prefix_v4 = (int)cfg_getint(ls, "prefix_v4");
	l->prefix_v6 = (int)cfg_getint(ls, "prefix_v6");
	l->dry_run = cfg_getbool(ls, "dry_run") ? 1 : 0;
	l->prepend = conf_strdup_opt(ls, "prepend");
	l->ldap_attribute = conf_strdup_opt(ls, "ldap_attribute");
	return 0;
}

/* policyd_conf_strlist - copy a list option */
static char **
policyd_conf_strlist(cfg_t *sec, const char *key, size_t *n)
{
	char **v;
	size_t i;

	*n = cfg_size(sec, key);
	v = x_calloc(*n + 1, sizeof(*v));
	for (i = 0; i < *n; i++)
		v[i] = x_strdup(cfg_getnstr(sec, key, (unsigned)i));
	return v;
}

/* policyd_conf_strlist_free - free a copied list */
static void
policyd_conf_strlist_free(char ***vp, size_t n)
{
	size_t i;

	if (*vp == NULL)
		return;
	for (i = 0; i < n; i++)
		x_free(&(*vp)[i]);
	x_free(vp);
}

/* policyd_conf_limit_copy - a deep copy of one limit */
static void
policyd_conf_limit_copy(struct policyd_limit_conf *to,
			const struct policyd_limit_conf *from)
{
	*to = *from;
	to->name = x_strdup(from->name);
	to->prepend = from->prepend ? x_strdup(from->prepend) : NULL;
	to->ldap_attribute = from->ldap_attribute
		? x_strdup(from->ldap_attribute) : NULL;
}

/* policyd_conf_has_limit - is name one of c's sub-sections? */
static int
policyd_conf_has_limit(const struct policyd_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nlimits; i++)
		if (strcmp(c->limits[i].name, name) == 0)
			return 1;
	return 0;
}

/* policyd_conf_limits - the built-ins, then the sub-sections */
struct policyd_limit_conf *
policyd_conf_limits(const struct policyd_conf *c, size_t *n)
{
	struct policyd_limit_conf *l, b;
	size_t i;

	l = x_calloc(c->nlimits + 2, sizeof(*l));
	*n = 0;
	memset(&b, 0, sizeof(b));
	b.prefix_v4 = c->client_ipv4_prefix;
	b.prefix_v6 = c->client_ipv6_prefix;
	b.unit = POLICYD_UNIT_MESSAGES;
	b.action = POLICYD_ACTION_DEFER;
	if (c->client_message_limit.max > 0
	    && !policyd_conf_has_limit(c, "client_message")) {
		b.name = (char *)"client_message";
		b.key = POLICYD_KEY_CLIENT_IP;
		b.clients = POLICYD_CLIENTS_UNAUTHENTICATED;
		b.rate = c->client_message_limit;
		policyd_conf_limit_copy(&l[(*n)++], &b);
	}
	if (c->sasl_user_message_limit.max > 0
	    && !policyd_conf_has_limit(c, "sasl_user_message")) {
		b.name = (char *)"sasl_user_message";
		b.key = POLICYD_KEY_SASL_USER;
		b.clients = POLICYD_CLIENTS_AUTHENTICATED;
		b.rate = c->sasl_user_message_limit;
		policyd_conf_limit_copy(&l[(*n)++], &b);
	}
	for (i = 0; i < c->nlimits; i++)
		if (c->limits[i].rate.max > 0)
			policyd_conf_limit_copy(&l[(*n)++], &c->limits[i]);
	return l;
}

/* policyd_conf_limits_free - free what policyd_conf_limits returned */
void
policyd_conf_limits_free(struct policyd_limit_conf **lp, size_t n)
{
	size_t i;

	if (*lp == NULL)
		return;
	for (i = 0; i < n; i++) {
		x_free(&(*lp)[i].name);
		x_free(&(*lp)[i].prepend);
		x_free(&(*lp)[i].ldap_attribute);
	}
	x_free(lp);
}

/* policyd_conf_load - copy the [policyd] section into struct policyd_conf */
static int
policyd_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct policyd_conf *c = out;
	const char *fa;
	size_t i, n;

	if (daemon_conf_load(sec, &c->daemon, err, errlen) < 0)
		return -1;
	c->idle_timeout = (int)cfg_getint(sec, "idle_timeout");
	c->max_connections = (int)cfg_getint(sec, "max_connections");
	if (policyd_conf_parse_rate(cfg_getstr(sec, "client_message_limit"),
				    &c->client_message_limit, err, errlen) < 0
	    || policyd_conf_parse_rate(cfg_getstr(sec,
						  "sasl_user_message_limit"),
				       &c->sasl_user_message_limit, err,
				       errlen) < 0)
		return -1;
	c->client_ipv4_prefix = (int)cfg_getint(sec, "client_ipv4_prefix");
	c->client_ipv6_prefix = (int)cfg_getint(sec, "client_ipv6_prefix");
	c->store_path = conf_strdup_opt(sec, "store_path");
	c->store_flush_interval = (int)cfg_getint(sec, "store_flush_interval");
	c->calendar_time_zone = x_strdup(cfg_getstr(sec, "calendar_time_zone"));
	fa = cfg_getstr(sec, "store_fail_action");
	c->store_fail_action = strcmp(fa, "defer") == 0 ? POLICYD_FAIL_DEFER
		: POLICYD_FAIL_DUNNO;
	c->store = strcmp(cfg_getstr(sec, "store"), "redis") == 0
		? POLICYD_STORE_REDIS : POLICYD_STORE_SQLITE;
	c->store_fallback = strcmp(cfg_getstr(sec, "store_fallback"), "local")
		== 0 ? POLICYD_FALLBACK_LOCAL : POLICYD_FALLBACK_ACTION;
	c->exempt_networks = policyd_conf_strlist(sec, "exempt_networks",
						  &c->nexempt_networks);
	c->exempt_sasl_users = policyd_conf_strlist(sec, "exempt_sasl_users",
						    &c->nexempt_sasl_users);
	c->ldap_base = conf_strdup_opt(sec, "ldap_base");
	c->ldap_scope = ldapc_scope_parse(cfg_getstr(sec, "ldap_scope"));
	c->ldap_filter = x_strdup(cfg_getstr(sec, "ldap_filter"));
	c->ldap_cache_ttl = cfg_getint(sec, "ldap_cache_ttl");
	c->ldap_negative_cache_ttl = cfg_getint(sec, "ldap_negative_cache_ttl");
	c->ldap_cache_size = cfg_getint(sec, "ldap_cache_size");
	c->ldap_wait_ms = (int)cfg_getint(sec, "ldap_wait_ms");
	n = cfg_size(sec, "limit");
	c->limits = x_calloc(n + 1, sizeof(*c->limits));
	for (i = 0; i < n; i++) {
		if (policyd_conf_load_limit(cfg_getnsec(sec, "limit",
							(unsigned)i),
					    &c->limits[i], err, errlen) < 0)
			return -1;
		if (c->limits[i].ldap_attribute != NULL)
			c->ldap_used = 1;
		c->nlimits++;
	}
	if (c->ldap_used && c->ldap_base == NULL) {
		x_err(err, errlen, "policyd: a limit has an ldap_attribute:"
		      " ldap_base must be set");
		return -1;
	}
	return 0;
}

/* policyd_conf_release - free what policyd_conf_load allocated */
static void
policyd_conf_release(void *out)
{
	struct policyd_conf *c = out;

	daemon_conf_release(&c->daemon);
	x_free(&c->store_path);
	x_free(&c->calendar_time_zone);
	x_free(&c->ldap_base);
	x_free(&c->ldap_filter);
	policyd_conf_strlist_free(&c->exempt_networks, c->nexempt_networks);
	policyd_conf_strlist_free(&c->exempt_sasl_users,
				  c->nexempt_sasl_users);
	policyd_conf_limits_free(&c->limits, c->nlimits);
}

const struct conf_section policyd_conf_section = {
	"policyd", policyd_opts, policyd_checks, sizeof(struct policyd_conf),
	policyd_conf_load, policyd_conf_release,
};
