/*++
 * NAME
 *	policyd-options 3h
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	whole schema (sections-all.c) so that every daemon checks the
 *	whole file.  Every option is documented in elemta.conf(5) and shown
 *	at its default in conf/elemta.conf.
 *
 *	Rates are written "N/PERIOD": "100/1h" is 100 per any hour, the
 *	period a duration (s, m, h, d, w; a bare number is seconds).  N = 0
 *	("0/1h", or just "0") switches the limit off.  The period may also
 *	be a calendar one, "day" or "month" ("1000/day"): a quota, counted
 *	from the start of the day or month to its end in
 *	calendar_time_zone (policyd-calendar.h), then counted afresh.
 *
 *	LDAP overrides: a limit with key = sasl_user may name an
 *	ldap_attribute; the directory entry of the user (ldap_filter with
 *	%s %u %d of the SASL user name, under ldap_base) then gives that
 *	user's own rate, "N" or "N/PERIOD" (policyd-ldap.h).
 *
 *	Limits: besides the two built-in ones (client_message from
 *	client_message_limit, sasl_user_message from sasl_user_message_limit),
 *	any number of "limit NAME { ... }" sub-sections.  A sub-section
 *	named like a built-in replaces it.  Sub-sections cannot be set with
 *	-o (libconfuse sections are not options); their values are checked
 *	in load(), with the limit's name in the message.
 *--*/
#ifndef ELEMTA_POLICYD_OPTIONS_H
#define ELEMTA_POLICYD_OPTIONS_H

#include <stddef.h>

#include "conf.h"
#include "daemon.h"

/* A period that is not a duration but a calendar one: a quota. */
enum policyd_calendar {
	POLICYD_CAL_NONE,	/* any window of the period (sliding) */
	POLICYD_CAL_DAY,	/* from midnight to midnight */
	POLICYD_CAL_MONTH,	/* from the 1st to the 1st */
};

struct policyd_rate {
	unsigned long max;	/* N; 0: no limit */
	long period;		/* P in seconds (> 0); 0 with a calendar */
	enum policyd_calendar cal;
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

enum policyd_key {
	POLICYD_KEY_CLIENT_IP,		/* client_address, by prefix */
	POLICYD_KEY_SASL_USER,		/* sasl_username */
	POLICYD_KEY_SENDER,		/* envelope sender */
	POLICYD_KEY_SENDER_DOMAIN,
	POLICYD_KEY_RECIPIENT_DOMAIN,	/* one per recipient domain */
	POLICYD_KEY_LISTENER,		/* policy_context, else server_port */
	POLICYD_KEY_GLOBAL,		/* one key for everything */
};

enum policyd_unit {
	POLICYD_UNIT_MESSAGES,		/* at the first RCPT/DATA/EOM */
	POLICYD_UNIT_RECIPIENTS,	/* at RCPT, or recipient_count */
	POLICYD_UNIT_BYTES,		/* size, at END-OF-MESSAGE */
};

/* The ladder, mildest first: the strongest hit decides the answer. */
enum policyd_action {
	POLICYD_ACTION_WARN,		/* log (and PREPEND a header) */
	POLICYD_ACTION_HOLD,		/* HOLD: into the hold queue */
	POLICYD_ACTION_DEFER,		/* 450 4.7.1 ... try again in N s */
	POLICYD_ACTION_REJECT,		/* 550 5.7.1 */
};

enum policyd_clients {
	POLICYD_CLIENTS_ALL,
	POLICYD_CLIENTS_UNAUTHENTICATED,	/* no sasl_username */
	POLICYD_CLIENTS_AUTHENTICATED,		/* a sasl_username */
};

struct policyd_limit_conf {
	char *name;			/* the section title; metric label */
	enum policyd_key key;
	int prefix_v4, prefix_v6;	/* key = client_ip */
	enum policyd_unit unit;
	struct policyd_rate rate;	/* rate per period; max 0: off */
	enum policyd_action action;
	enum policyd_clients clients;
	int dry_run;			/* log what it would do, answer DUNNO */
	char *prepend;			/* warn: a header (NULL: none) */
	char *ldap_attribute;		/* the user's own rate (NULL: none) */
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
	char *calendar_time_zone;	/* of day/month quotas: "UTC" or a
					 * zone database name */
	enum policyd_fail_action store_fail_action;
	enum policyd_store_kind store;
	enum policyd_fallback store_fallback;
	/* limit sub-sections, in file order (the built-ins are not here:
	 * policyd_conf_limits() gives the effective list) */
	struct policyd_limit_conf *limits;
	size_t nlimits;
	char **exempt_networks;		/* CIDRs, checked */
	size_t nexempt_networks;
	char **exempt_sasl_users;
	size_t nexempt_sasl_users;
	/* LDAP overrides of limits with an ldap_attribute ([ldap]) */
	char *ldap_base;
	int ldap_scope;			/* enum ldapc_scope */
	char *ldap_filter;		/* %s %u %d of the SASL user name */
	long ldap_cache_ttl;		/* seconds */
	long ldap_negative_cache_ttl;
	long ldap_cache_size;		/* users remembered */
	int ldap_wait_ms;		/* a request waits at most this */
	int ldap_used;			/* some limit has an ldap_attribute */
};

extern const struct conf_section policyd_conf_section;

/* policyd_conf_parse_rate - "100/1h" -> {100, 3600}, "5/day" -> {5, 0,
 * POLICYD_CAL_DAY}; 0, or -1 + err */
int policyd_conf_parse_rate(const char *s, struct policyd_rate *out,
			    char *err, size_t errlen);

/* policyd_conf_limits - the effective limits of c: the built-ins (unless
 * a sub-section of that name replaces them, or their rate is 0), then
 * the sub-sections; *n is set.  The array and its strings are new
 * (policyd_conf_limits_free); the built-ins use client_ipv4_prefix and
 * client_ipv6_prefix, unauthenticated and authenticated clients. */
struct policyd_limit_conf *policyd_conf_limits(const struct policyd_conf *c,
					       size_t *n);
void policyd_conf_limits_free(struct policyd_limit_conf **lp, size_t n);

/* policyd_conf_parse_override - a directory's rate for one user: "N"
 * (the limit's own period: *has_period 0) or "N/PERIOD" as a rate;
 * 0, or -1 + err */
int policyd_conf_parse_override(const char *s, struct policyd_rate *out,
				int *has_period, char *err, size_t errlen);

/* policyd_conf_zone_check - "UTC", or the name of a file of the zone
 * database (TZDIR, else /usr/share/zoneinfo); 0 or -1 + err */
int policyd_conf_zone_check(const char *zone, char *err, size_t errlen);

/* policyd_conf_action_name - "warn", "hold", "defer", "reject" */
const char *policyd_conf_action_name(enum policyd_action a);

#endif
