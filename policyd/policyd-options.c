/*++
 * NAME
 *	policyd-options 3
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	See policyd-options.h.  This file is compiled into libelemta.a (the
 *	shared schema), so it depends on nothing else of policyd/.
 *--*/
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policyd-options.h"
#include "runtime.h"
#include "xalloc.h"

static const char *const policyd_fail_actions[] = { "dunno", "defer", NULL };
static const char *const policyd_stores[] = { "sqlite", "redis", NULL };
static const char *const policyd_fallbacks[] = { "fail_action", "local",
						 NULL };

/* policyd_conf_parse_rate - "N/PERIOD" into a struct policyd_rate */
int
policyd_conf_parse_rate(const char *s, struct policyd_rate *out,
			char *err, size_t errlen)
{
	static const char units[] = "smhdw";
	static const long mult[] = { 1, 60, 3600, 86400, 604800 };
	const char *in = s;
	unsigned long n;
	long p = 1;
	const char *u;
	char *end;

	out->max = 0;
	out->period = 3600;
	if (strcmp(s, "0") == 0)
		return 0;
	errno = 0;
	if (*s < '0' || *s > '9' || (n = strtoul(s, &end, 10), errno)
	    || *end != '/' || n > 1000000000000UL) {
		x_err(err, errlen, "bad rate '%s' (examples: 100/1h, 1000/1d)",
		      s);
		return -1;
	}
	s = end + 1;
	if (*s == '\0') {
		x_err(err, errlen, "rate '%s' has no period (examples: 100/1h,"
		      " 1000/1d)", in);
		return -1;
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
			      " m, h, d, w; at most 366d)", in);
			return -1;
		}
		p *= mult[u - units];
	}
	out->max = n;
	out->period = p;
	return 0;
}

/* policyd_conf_check_rate - CONF_CHECK_FUNC for rates */
static int
policyd_conf_check_rate(const char *value, char *err, size_t errlen)
{
	struct policyd_rate r;

	return policyd_conf_parse_rate(value, &r, err, errlen);
}

static cfg_opt_t policyd_opts[] = {
	DAEMON_CONF_OPTS("inet:127.0.0.1:10040", ""),
	CFG_INT_CB("idle_timeout", 600, CFGF_NONE, conf_cb_duration),
	CFG_INT("max_connections", 1000, CFGF_NONE),
	CFG_STR("client_message_limit", "100/1h", CFGF_NONE),
	CFG_STR("sasl_user_message_limit", "1000/1h", CFGF_NONE),
	CFG_INT("client_ipv4_prefix", 32, CFGF_NONE),
	CFG_INT("client_ipv6_prefix", 64, CFGF_NONE),
	CFG_STR("store_path", "", CFGF_NONE),
	CFG_INT_CB("store_flush_interval", 1, CFGF_NONE, conf_cb_duration),
	CFG_STR("store_fail_action", "dunno", CFGF_NONE),
	CFG_STR("store", "sqlite", CFGF_NONE),
	CFG_STR("store_fallback", "fail_action", CFGF_NONE),
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
	{ "store_fail_action", CONF_CHECK_ENUM, 0, 0, policyd_fail_actions,
	  NULL },
	{ "store", CONF_CHECK_ENUM, 0, 0, policyd_stores, NULL },
	{ "store_fallback", CONF_CHECK_ENUM, 0, 0, policyd_fallbacks, NULL },
	CONF_CHECK_END
};

/* policyd_conf_load - copy the [policyd] section into struct policyd_conf */
static int
policyd_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct policyd_conf *c = out;
	const char *fa;

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
	fa = cfg_getstr(sec, "store_fail_action");
	c->store_fail_action = strcmp(fa, "defer") == 0 ? POLICYD_FAIL_DEFER
		: POLICYD_FAIL_DUNNO;
	c->store = strcmp(cfg_getstr(sec, "store"), "redis") == 0
		? POLICYD_STORE_REDIS : POLICYD_STORE_SQLITE;
	c->store_fallback = strcmp(cfg_getstr(sec, "store_fallback"), "local")
		== 0 ? POLICYD_FALLBACK_LOCAL : POLICYD_FALLBACK_ACTION;
	return 0;
}

/* policyd_conf_release - free what policyd_conf_load allocated */
static void
policyd_conf_release(void *out)
{
	struct policyd_conf *c = out;

	daemon_conf_release(&c->daemon);
	x_free(&c->store_path);
}

const struct conf_section policyd_conf_section = {
	"policyd", policyd_opts, policyd_checks, sizeof(struct policyd_conf),
	policyd_conf_load, policyd_conf_release,
};
