/*++
 * NAME
 *	lmtp-options 3
 * SUMMARY
 *	the [lmtp_bridge] section of elemta.conf
 * DESCRIPTION
 *	See lmtp-options.h.  Every daemon links it (the whole schema,
 *	sections-all.c, does), so it uses nothing from lmtp-bridge/ itself.
 *--*/
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "db.h"
#include "ldapc.h"
#include "listen.h"
#include "lmtp-options.h"
#include "runtime.h"
#include "xalloc.h"

#define LMTP_LDAP_FILTER \
	"(|(mail=%s)(mailAlias=%s)(mailAlternateAddress=%s))"

#define LMTP_SQLITE_QUERY \
	"SELECT backend, rewrite, enabled, junk_optout FROM lmtp_routes " \
	"WHERE address = %s"

/* lmtp_check_sqlite_query - a usable sqlite_table(5) style template */
static int
lmtp_check_sqlite_query(const char *value, char *err, size_t errlen)
{
	char *sql = NULL;
	unsigned uses;

	if (db_query_template(value, &sql, &uses, err, errlen) < 0)
		return -1;
	x_free(&sql);
	return 0;
}

static cfg_opt_t lmtp_opts[] = {
	DAEMON_CONF_OPTS(ELEMTA_SOCKET_DEFAULT("lmtp"), "",
			 ELEMTA_CONTROL_DEFAULT("lmtp-bridge")),
	CFG_STR("hostname", "", CFGF_NONE),
	CFG_STR("backend", "inet:127.0.0.1:24", CFGF_NONE),
	CFG_STR_LIST("allowed_backends", "{}", CFGF_NONE),
	CFG_STR("map_file", "", CFGF_NONE),
	CFG_BOOL("map_strict", cfg_false, CFGF_NONE),
	CFG_STR("sqlite_database", "", CFGF_NONE),
	CFG_STR("sqlite_query", LMTP_SQLITE_QUERY, CFGF_NONE),
	CFG_INT_CB("sqlite_cache_ttl", 60, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("sqlite_negative_cache_ttl", 10, CFGF_NONE,
		   conf_cb_duration),
	CFG_INT("sqlite_cache_size", 10000, CFGF_NONE),
	CFG_BOOL("ldap_lookup", cfg_false, CFGF_NONE),
	CFG_STR("ldap_base", "", CFGF_NONE),
	CFG_STR("ldap_scope", "sub", CFGF_NONE),
	CFG_STR("ldap_filter", LMTP_LDAP_FILTER, CFGF_NONE),
	CFG_STR("ldap_enabled_attribute", "mailEnabled", CFGF_NONE),
	CFG_STR("ldap_host_attribute", "mailHost", CFGF_NONE),
	CFG_STR("ldap_rewrite_attribute", "mailRoutingAddress", CFGF_NONE),
	CFG_INT("ldap_backend_port", 24, CFGF_NONE),
	CFG_INT_CB("ldap_cache_ttl", 300, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("ldap_negative_cache_ttl", 60, CFGF_NONE,
		   conf_cb_duration),
	CFG_INT("ldap_cache_size", 10000, CFGF_NONE),
	CFG_STR("recipient_delimiter", "+", CFGF_NONE),
	CFG_INT_CB("max_line_length", 2048, CFGF_NONE, conf_cb_size),
	CFG_INT_CB("message_size_limit", 0, CFGF_NONE, conf_cb_size),
	CFG_INT("max_recipients", 1000, CFGF_NONE),
	CFG_INT("max_connections", 100, CFGF_NONE),
	CFG_INT("max_hops", 50, CFGF_NONE),
	CFG_INT_CB("spool_threshold", 1048576, CFGF_NONE, conf_cb_size),
	CFG_STR("spool_directory", "/var/tmp", CFGF_NONE),
	CFG_INT_CB("client_timeout", 300, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("connect_timeout", 10, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("command_timeout", 60, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("delivery_timeout", 300, CFGF_NONE, conf_cb_duration),
	CFG_INT("backend_pool_size", 20, CFGF_NONE),
	CFG_INT_CB("backend_idle_timeout", 10, CFGF_NONE, conf_cb_duration),
	CFG_STR_LIST("junk_headers", "{" LMTP_JUNK_DEFAULT "}", CFGF_NONE),
	CFG_STR("junk_folder", "Junk", CFGF_NONE),
	CFG_STR("ldap_junk_optout_attribute", "mailJunkOptOut", CFGF_NONE),
	CFG_END()
};

/* lmtp_options_backend_check - a backend: one address, or several
 * separated by ';' (tried in order before DATA) */
int
lmtp_options_backend_check(const char *spec, char *err, size_t errlen)
{
	struct listen_spec ls;
	char *copy, *addr, *save = NULL;
	int rc = 0, n = 0;
	const char *p;

	/* it is written into logs and replies, and names a socket path */
	for (p = spec; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 127) {
			x_err(err, errlen, "a backend has no spaces or control "
			      "characters");
			return -1;
		}
	copy = x_strdup(spec);
	for (addr = strtok_r(copy, ";", &save); addr != NULL && rc == 0;
	     addr = strtok_r(NULL, ";", &save)) {
		n++;
		if (listen_parse(addr, &ls, err, errlen) < 0)
			rc = -1;
		else if (ls.family != LISTEN_UNIX && ls.host[0] == '\0') {
			x_err(err, errlen, "'%s': a backend needs a host",
			      addr);
			rc = -1;
		}
	}
	if (rc == 0 && (n == 0 || n > LMTP_MAX_BACKEND_ADDRS)) {
		x_err(err, errlen, "'%s': one to %d addresses separated by "
		      "';'", spec, LMTP_MAX_BACKEND_ADDRS);
		rc = -1;
	}
	x_free(&copy);
	return rc;
}

/* lmtp_check_delimiter - empty or one character that can be in an
 * address's local part */
static int
lmtp_check_delimiter(const char *value, char *err, size_t errlen)
{
	if (strlen(value) > 1 || strpbrk(value, "@<> \t\"\\") != NULL) {
		x_err(err, errlen, "'%s': one character, not @ < > \" \\ or "
		      "a space", value);
		return -1;
	}
	return 0;
}

/* lmtp_check_hostname - empty or a plausible host name */
static int
lmtp_check_hostname(const char *value, char *err, size_t errlen)
{
	if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789.-") != strlen(value) || strlen(value) > 253) {
		x_err(err, errlen, "'%s' is not a host name", value);
		return -1;
	}
	return 0;
}

/* lmtp_check_folder - a mailbox name usable as an address's detail */
static int
lmtp_check_folder(const char *value, char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) > 64
	    || strpbrk(value, "@<> \t\"\\,;:()[]") != NULL) {
		x_err(err, errlen, "'%s': a folder name without spaces or "
		      "@ < > \" \\ , ; : ( ) [ ]", value);
		return -1;
	}
	return 0;
}

/* lmtp_allowed_backends - allowed_backends: each a backend; 0 or -1 */
static int
lmtp_allowed_backends(cfg_t *sec, struct lmtp_conf *c, char *err,
		      size_t errlen)
{
	unsigned i, n = cfg_size(sec, "allowed_backends");
	const char *v;
	char berr[256];

	c->allowed_backends = x_calloc(n + 1, sizeof(*c->allowed_backends));
	for (i = 0; i < n; i++) {
		v = cfg_getnstr(sec, "allowed_backends", i);
		if (lmtp_options_backend_check(v, berr, sizeof(berr)) < 0) {
			x_err(err, errlen, "lmtp_bridge: allowed_backends: %s",
			      berr);
			return -1;
		}
		c->allowed_backends[c->nallowed_backends++] = x_strdup(v);
	}
	return 0;
}

/* lmtp_junk_rules - junk_headers: each "Name: value"; 0 or -1 with err */
static int
lmtp_junk_rules(cfg_t *sec, struct lmtp_conf *c, char *err, size_t errlen)
{
	unsigned i, n = cfg_size(sec, "junk_headers");
	const char *v, *colon;

	c->junk_headers = x_calloc(n + 1, sizeof(*c->junk_headers));
	for (i = 0; i < n; i++) {
		v = cfg_getnstr(sec, "junk_headers", i);
		colon = strchr(v, ':');
		if (colon == NULL || colon == v
		    || strcspn(v, " \t") < (size_t)(colon - v)
		    || colon[1 + strspn(colon + 1, " \t")] == '\0') {
			x_err(err, errlen, "lmtp_bridge: junk_headers: '%s' "
			      "is not \"Header-Name: value\"", v);
			return -1;
		}
		c->junk_headers[c->njunk_headers++] = x_strdup(v);
	}
	return 0;
}

static const struct conf_check lmtp_checks[] = {
	DAEMON_CONF_CHECKS,
	{ "hostname", CONF_CHECK_FUNC, 0, 0, NULL, lmtp_check_hostname },
	{ "backend", CONF_CHECK_FUNC, 0, 0, NULL, lmtp_options_backend_check },
	{ "map_file", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "sqlite_database", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "sqlite_query", CONF_CHECK_FUNC, 0, 0, NULL,
	  lmtp_check_sqlite_query },
	{ "sqlite_cache_ttl", CONF_CHECK_RANGE, 0, 86400, NULL, NULL },
	{ "sqlite_negative_cache_ttl", CONF_CHECK_RANGE, 0, 86400, NULL,
	  NULL },
	{ "sqlite_cache_size", CONF_CHECK_RANGE, 0, 10000000L, NULL, NULL },
	{ "recipient_delimiter", CONF_CHECK_FUNC, 0, 0, NULL,
	  lmtp_check_delimiter },
	{ "ldap_scope", CONF_CHECK_ENUM, 0, 0, ldapc_scope_names, NULL },
	{ "ldap_filter", CONF_CHECK_FUNC, 0, 0, NULL, ldapc_filter_check },
	{ "ldap_backend_port", CONF_CHECK_RANGE, 1, 65535, NULL, NULL },
	{ "ldap_cache_ttl", CONF_CHECK_RANGE, 0, 86400, NULL, NULL },
	{ "ldap_negative_cache_ttl", CONF_CHECK_RANGE, 0, 86400, NULL, NULL },
	{ "ldap_cache_size", CONF_CHECK_RANGE, 0, 10000000L, NULL, NULL },
	{ "max_line_length", CONF_CHECK_RANGE, 512, 65536, NULL, NULL },
	{ "message_size_limit", CONF_CHECK_RANGE, 0, 2147483647L, NULL, NULL },
	{ "max_recipients", CONF_CHECK_RANGE, 1, 100000, NULL, NULL },
	{ "max_connections", CONF_CHECK_RANGE, 1, 10000, NULL, NULL },
	{ "max_hops", CONF_CHECK_RANGE, 1, 1000, NULL, NULL },
	{ "spool_threshold", CONF_CHECK_RANGE, 0, 1073741824L, NULL, NULL },
	{ "spool_directory", CONF_CHECK_PATH, 1, 0, NULL, NULL },
	{ "client_timeout", CONF_CHECK_RANGE, 10, 3600, NULL, NULL },
	{ "connect_timeout", CONF_CHECK_RANGE, 1, 120, NULL, NULL },
	{ "command_timeout", CONF_CHECK_RANGE, 1, 540, NULL, NULL },
	{ "delivery_timeout", CONF_CHECK_RANGE, 10, 540, NULL, NULL },
	{ "backend_pool_size", CONF_CHECK_RANGE, 0, 1000, NULL, NULL },
	{ "backend_idle_timeout", CONF_CHECK_RANGE, 1, 3600, NULL, NULL },
	{ "junk_folder", CONF_CHECK_FUNC, 0, 0, NULL, lmtp_check_folder },
	CONF_CHECK_END
};

/* lmtp_conf_load_lookups - the map, sqlite and LDAP lookup options */
static void
lmtp_conf_load_lookups(cfg_t *sec, struct lmtp_conf *c)
{
	c->map_file = conf_strdup_opt(sec, "map_file");
	c->map_strict = cfg_getbool(sec, "map_strict") ? 1 : 0;
	c->sqlite_database = conf_strdup_opt(sec, "sqlite_database");
	c->sqlite_query = x_strdup(cfg_getstr(sec, "sqlite_query"));
	c->sqlite_cache_ttl = cfg_getint(sec, "sqlite_cache_ttl");
	c->sqlite_negative_cache_ttl = cfg_getint(sec,
						  "sqlite_negative_cache_ttl");
	c->sqlite_cache_size = cfg_getint(sec, "sqlite_cache_size");
	c->ldap_lookup = cfg_getbool(sec, "ldap_lookup") ? 1 : 0;
	c->ldap_base = x_strdup(cfg_getstr(sec, "ldap_base"));
	c->ldap_scope = x_strdup(cfg_getstr(sec, "ldap_scope"));
	c->ldap_filter = x_strdup(cfg_getstr(sec, "ldap_filter"));
	c->ldap_enabled_attribute = conf_strdup_opt(sec,
						    "ldap_enabled_attribute");
	c->ldap_host_attribute = conf_strdup_opt(sec, "ldap_host_attribute");
	c->ldap_rewrite_attribute = conf_strdup_opt(sec,
						    "ldap_rewrite_attribute");
	c->ldap_backend_port = cfg_getint(sec, "ldap_backend_port");
	c->ldap_cache_ttl = cfg_getint(sec, "ldap_cache_ttl");
	c->ldap_negative_cache_ttl = cfg_getint(sec, "ldap_negative_cache_ttl");
	c->ldap_cache_size = cfg_getint(sec, "ldap_cache_size");
}

/* lmtp_conf_load_limits - the size, connection and timeout options */
static void
lmtp_conf_load_limits(cfg_t *sec, struct lmtp_conf *c)
{
	c->max_line_length = cfg_getint(sec, "max_line_length");
	c->message_size_limit = cfg_getint(sec, "message_size_limit");
	c->max_recipients = cfg_getint(sec, "max_recipients");
	c->max_connections = cfg_getint(sec, "max_connections");
	c->max_hops = cfg_getint(sec, "max_hops");
	c->spool_threshold = cfg_getint(sec, "spool_threshold");
	c->spool_directory = x_strdup(cfg_getstr(sec, "spool_directory"));
	c->client_timeout = cfg_getint(sec, "client_timeout");
	c->connect_timeout = cfg_getint(sec, "connect_timeout");
	c->command_timeout = cfg_getint(sec, "command_timeout");
	c->delivery_timeout = cfg_getint(sec, "delivery_timeout");
	c->backend_pool_size = cfg_getint(sec, "backend_pool_size");
	c->backend_idle_timeout = cfg_getint(sec, "backend_idle_timeout");
}

/* lmtp_conf_check - the checks that span several options */
static int
lmtp_conf_check(struct lmtp_conf *c, char *err, size_t errlen)
{
	/* The default rule needs a delimiter too; without one, the
	 * default alone is off rather than an error in a config that
	 * never asked for Junk. */
	if (c->njunk_headers == 1 && c->recipient_delimiter == NULL
	    && strcmp(c->junk_headers[0], LMTP_JUNK_DEFAULT_RULE) == 0)
		x_free(&c->junk_headers[--c->njunk_headers]);
	if (c->njunk_headers > 0 && c->recipient_delimiter == NULL) {
		x_err(err, errlen, "lmtp_bridge: junk_headers needs a "
		      "recipient_delimiter (spam goes to user+%s)",
		      c->junk_folder);
		return -1;
	}
	if (c->map_strict && c->map_file == NULL) {
		x_err(err, errlen, "lmtp_bridge: map_strict = true needs a "
		      "map_file");
		return -1;
	}
	if (c->ldap_lookup && c->ldap_base[0] == '\0') {
		x_err(err, errlen, "lmtp_bridge: ldap_lookup = true needs an "
		      "ldap_base");
		return -1;
	}
	if (c->command_timeout > c->delivery_timeout) {
		x_err(err, errlen, "lmtp_bridge: command_timeout (%lds) is "
		      "longer than delivery_timeout (%lds)",
		      c->command_timeout, c->delivery_timeout);
		return -1;
	}
	return 0;
}

/* lmtp_conf_load - copy the [lmtp_bridge] section into struct lmtp_conf */
static int
lmtp_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct lmtp_conf *c = out;

	if (daemon_conf_load(sec, &c->daemon, err, errlen) < 0)
		return -1;
	c->hostname = conf_strdup_opt(sec, "hostname");
	c->backend = x_strdup(cfg_getstr(sec, "backend"));
	lmtp_conf_load_lookups(sec, c);
	c->recipient_delimiter = conf_strdup_opt(sec, "recipient_delimiter");
	lmtp_conf_load_limits(sec, c);
	c->junk_folder = x_strdup(cfg_getstr(sec, "junk_folder"));
	c->ldap_junk_optout_attribute = conf_strdup_opt(sec,
		"ldap_junk_optout_attribute");
	if (lmtp_junk_rules(sec, c, err, errlen) < 0
	    || lmtp_allowed_backends(sec, c, err, errlen) < 0)
		return -1;
	return lmtp_conf_check(c, err, errlen);
}

/* lmtp_conf_release - free what lmtp_conf_load allocated */
static void
lmtp_conf_release(void *out)
{
	struct lmtp_conf *c = out;

	daemon_conf_release(&c->daemon);
	x_free(&c->hostname);
	x_free(&c->backend);
	x_free(&c->map_file);
	x_free(&c->sqlite_database);
	x_free(&c->sqlite_query);
	x_free(&c->ldap_base);
	x_free(&c->ldap_scope);
	x_free(&c->ldap_filter);
	x_free(&c->ldap_enabled_attribute);
	x_free(&c->ldap_host_attribute);
	x_free(&c->ldap_rewrite_attribute);
	x_free(&c->recipient_delimiter);
	x_free(&c->spool_directory);
	x_free(&c->junk_folder);
	x_free(&c->ldap_junk_optout_attribute);
	while (c->junk_headers != NULL && c->njunk_headers > 0)
		x_free(&c->junk_headers[--c->njunk_headers]);
	x_free(&c->junk_headers);
	while (c->allowed_backends != NULL && c->nallowed_backends > 0)
		x_free(&c->allowed_backends[--c->nallowed_backends]);
	x_free(&c->allowed_backends);
}

const struct conf_section lmtp_conf_section = {
	"lmtp_bridge", lmtp_opts, lmtp_checks, sizeof(struct lmtp_conf),
	lmtp_conf_load, lmtp_conf_release,
};
