/*++
 * NAME
 *	policyd-options 3h
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	shared schema (lib/sections.c) so that every daemon checks the
 *	whole file.  Every option is documented in elemta.conf(5) and shown
 *	at its default in conf/elemta.conf.
 *
 *	Rates are written "N/PERIOD": "100/1h" is 100 per any hour, the
 *	period a duration (s, m, h, d, w; a bare number is seconds).  N = 0
 *	("0/1h", or just "0") switches the limit off.
 *--*/
#ifndef ELEMTA_POLICYD_OPTIONS_H
#define ELEMTA_POLICYD_OPTIONS_H

#include <stddef.h>

#include "conf.h"
#include "daemon.h"

struct policyd_rate {
	unsigned long max;	/* N; 0: no limit */
	long period;		/* P in seconds (> 0) */
};

enum policyd_fail_action {
	POLICYD_FAIL_DUNNO,	/* answer DUNNO: mail flows unlimited */
	POLICYD_FAIL_DEFER,	/* answer 451 4.3.0: mail waits */
};

enum policyd_store_kind {
	POLICYD_STORE_SQLITE,	/* this node's own store */
	POLICYD_STORE_REDIS,	/* shared by the nodes ([redis] section) */
};

enum policyd_fallback {
	POLICYD_FALLBACK_ACTION,	/* Redis down: store_fail_action */
	POLICYD_FALLBACK_LOCAL,		/* Redis down: the local store */
};

struct policyd_conf {
	struct daemon_conf daemon;	/* listen, metrics_listen, user... */
	int idle_timeout;		/* seconds a connection may be idle */
	int max_connections;
	struct policyd_rate client_message_limit;
	struct policyd_rate sasl_user_message_limit;
	int client_ipv4_prefix;		/* client keys: bits kept */
	int client_ipv6_prefix;
	char *store_path;		/* NULL: database.directory/policyd.db */
	int store_flush_interval;	/* seconds; 0: write-through */
	enum policyd_fail_action store_fail_action;
	enum policyd_store_kind store;
	enum policyd_fallback store_fallback;
};

extern const struct conf_section policyd_conf_section;

/* policyd_conf_parse_rate - "100/1h" -> {100, 3600}; 0, or -1 + err */
int policyd_conf_parse_rate(const char *s, struct policyd_rate *out,
			    char *err, size_t errlen);

#endif
