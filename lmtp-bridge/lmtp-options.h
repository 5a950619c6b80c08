/*++
 * NAME
 *	lmtp-options 3h
 * SUMMARY
 *	the [lmtp_bridge] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	whole schema (sections-all.c) so that every daemon checks the
 *	whole file.  Every option is documented in elemta.conf(5).
 *	Durations are in seconds, sizes in bytes.
 *--*/
#ifndef ELEMTA_LMTP_OPTIONS_H
#define ELEMTA_LMTP_OPTIONS_H

#include "conf.h"
#include "daemon.h"

struct lmtp_conf {
	struct daemon_conf daemon;	/* listen, metrics_listen, user... */
	char *hostname;		/* NULL: the system's host name */
	char *backend;		/* default backend: inet:H:P or unix:PATH */
	char **allowed_backends;/* more that SQLite or LDAP may name */
	size_t nallowed_backends;
	char *map_file;		/* static recipient map, or NULL */
	int map_strict;		/* not in the map: 550 5.1.1 */
	char *sqlite_database;	/* SQLite routing table's file, or NULL */
	char *sqlite_query;	/* %s %u %d template */
	long sqlite_cache_ttl;	/* positive answers */
	long sqlite_negative_cache_ttl;	/* unknown users */
	long sqlite_cache_size;	/* entries; 0: no cache */
	int ldap_lookup;	/* route through the [ldap] directory */
	char *ldap_base;
	char *ldap_scope;	/* base, one, sub */
	char *ldap_filter;	/* %s %u %d template */
	char *ldap_enabled_attribute;	/* NULL: none */
	char *ldap_host_attribute;	/* NULL: none */
	char *ldap_rewrite_attribute;	/* NULL: none */
	long ldap_backend_port;	/* for a bare host name in mailHost */
	long ldap_cache_ttl;	/* positive answers */
	long ldap_negative_cache_ttl;	/* unknown users */
	long ldap_cache_size;	/* entries; 0: no cache */
	char *recipient_delimiter;	/* "+" ; NULL: none */
	long max_line_length;	/* command line, CRLF included */
	long message_size_limit;/* 0: none */
	long max_recipients;	/* per transaction */
	long max_connections;	/* concurrent client connections */
	long max_hops;		/* Received: headers before 554 5.4.6 */
	long spool_threshold;	/* bytes kept in memory per message */
	char *spool_directory;	/* where bigger messages go */
	long client_timeout;	/* idle time allowed to Postfix */
	long connect_timeout;	/* connecting to a backend */
	long command_timeout;	/* each backend reply */
	long delivery_timeout;	/* a whole message, every backend */
	long backend_pool_size;	/* idle backend connections kept; 0: none */
	long backend_idle_timeout;	/* how long one is kept */
	char **junk_headers;	/* "Name: value" spam verdicts */
	size_t njunk_headers;
	char *junk_folder;	/* the +detail spam is delivered to */
	char *ldap_junk_optout_attribute;	/* NULL: none */
};

extern const struct conf_section lmtp_conf_section;

/* At most this many addresses in one backend ("a;b;c"). */
#define LMTP_MAX_BACKEND_ADDRS 16

/* junk_headers' default: the header elemta-milter's Rspamd stage sets
 * (and removes when a sender claims it), so that spam reaches Junk
 * with no configuration. */
#define LMTP_JUNK_DEFAULT_RULE	"X-Spam: Yes"
#define LMTP_JUNK_DEFAULT	"\"" LMTP_JUNK_DEFAULT_RULE "\""

/* lmtp_options_backend_check - is spec a usable backend: one address
 * (inet:HOST:PORT with a host, or unix:PATH) or several separated by
 * ';'?  0, or -1 with err */
int lmtp_options_backend_check(const char *spec, char *err, size_t errlen);

#endif
