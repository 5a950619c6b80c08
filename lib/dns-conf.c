/*++
 * NAME
 *	dns-conf 3
 * SUMMARY
 *	the [dns] section: nameservers (with port), timeout, retries, cache
 * DESCRIPTION
 *	See dns.h.  The options are copied into struct dns_conf; a
 *	nameserver is an IPv4 or IPv6 address, with "@PORT" or without.
 *	dns_conf_equal says whether a reload needs a new resolver.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dns.h"
#include "xalloc.h"

/* dns_nameserver_check - "ADDR" or "ADDR@PORT" */
int
dns_nameserver_check(const char *s, char *err, size_t errlen)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *at = strchr(s, '@');
	size_t alen = at ? (size_t)(at - s) : strlen(s);
	long port;

	if (alen == 0 || alen >= sizeof(addr)) {
		x_err(err, errlen, "'%s': expected ADDRESS or ADDRESS@PORT",
		      s);
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1
	    && inet_pton(AF_INET6, addr, buf) != 1) {
		x_err(err, errlen, "'%s': not an IPv4 or IPv6 address", addr);
		return -1;
	}
	if (at != NULL) {
		errno = 0;
		port = strtol(at + 1, &end, 10);
		if (at[1] == '\0' || *end != '\0' || errno != 0 || port < 1
		    || port > 65535) {
			x_err(err, errlen, "'%s': bad port (1-65535)", s);
			return -1;
		}
	}
	return 0;
}

/*
 * The [dns] section.
 */
static int
dns_check_nameserver(const char *value, char *err, size_t errlen)
{
	return dns_nameserver_check(value, err, errlen);
}

static cfg_opt_t dns_opts[] = {
	CFG_STR_LIST("nameservers", "{}", CFGF_NONE),
	CFG_INT_CB("timeout", 5, CFGF_NONE, conf_cb_duration),
	CFG_INT("retries", 1, CFGF_NONE),
	CFG_STR("resolv_conf", "/etc/resolv.conf", CFGF_NONE),
	CFG_INT_CB("cache_size", 4 * 1024 * 1024, CFGF_NONE, conf_cb_size),
	CFG_END()
};

static const struct conf_check dns_checks[] = {
	{ "nameservers", CONF_CHECK_FUNC, 0, 0, NULL, dns_check_nameserver },
	{ "timeout", CONF_CHECK_RANGE, 1, 300, NULL, NULL },
	{ "retries", CONF_CHECK_RANGE, 0, 10, NULL, NULL },
	{ "resolv_conf", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "cache_size", CONF_CHECK_RANGE, 0, 1024L * 1024 * 1024, NULL, NULL },
	CONF_CHECK_END
};

/* dns_conf_equal - the same nameservers, timeout and retries? */
int
dns_conf_equal(const struct dns_conf *a, const struct dns_conf *b)
{
	size_t i;

	if (a->timeout != b->timeout || a->retries != b->retries
	    || a->nnameservers != b->nnameservers
	    || a->cache_size != b->cache_size
	    || (a->resolv_conf == NULL) != (b->resolv_conf == NULL)
	    || (a->resolv_conf != NULL
		&& strcmp(a->resolv_conf, b->resolv_conf) != 0))
		return 0;
	for (i = 0; i < a->nnameservers; i++)
		if (strcmp(a->nameservers[i], b->nameservers[i]) != 0)
			return 0;
	return 1;
}

/* dns_conf_load - copy the [dns] section into struct dns_conf */
static int
dns_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct dns_conf *c = out;
	unsigned i, n = cfg_size(sec, "nameservers");

	c->nameservers = x_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		c->nameservers[c->nnameservers++] =
			x_strdup(cfg_getnstr(sec, "nameservers", i));
	c->timeout = (int)cfg_getint(sec, "timeout");
	c->retries = (int)cfg_getint(sec, "retries");
	c->resolv_conf = conf_strdup_opt(sec, "resolv_conf");
	c->cache_size = (size_t)cfg_getint(sec, "cache_size");
	return 0;
}

/* dns_conf_release - free what dns_conf_load allocated */
static void
dns_conf_release(void *out)
{
	struct dns_conf *c = out;
	size_t i;

	for (i = 0; i < c->nnameservers; i++)
		free(c->nameservers[i]);
	x_free(&c->nameservers);
	c->nnameservers = 0;
	x_free(&c->resolv_conf);
}

const struct conf_section dns_conf_section = {
	"dns", dns_opts, dns_checks, sizeof(struct dns_conf),
	dns_conf_load, dns_conf_release,
};
