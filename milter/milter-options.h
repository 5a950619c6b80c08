/*++
 * NAME
 *	milter-options 3h
 * SUMMARY
 *	the [milter] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	shared schema (lib/sections.c) so that every daemon checks the
 *	whole file.  The loaded struct is immutable: it lives inside a
 *	configuration snapshot that threads share.
 *
 *	milter_net_parse() reads one internal_networks entry ("10.0.0.0/8",
 *	"192.0.2.1", "2001:db8::/32"); milter_net_match() tells whether an
 *	address (text) is in a list.  Both are pure.
 *--*/
#ifndef ELEMTA_MILTER_OPTIONS_H
#define ELEMTA_MILTER_OPTIONS_H

#include <stddef.h>

#include "conf.h"
#include "daemon.h"

struct milter_net {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;			/* 0..32 or 0..128 */
};

struct milter_conf {
	struct daemon_conf daemon;	/* listen, metrics_listen, user... */
	char *authserv_id;		/* never NULL: the host name if unset */
	struct milter_net *internal;	/* internal_networks */
	size_t ninternal;
	int max_headers;
	long max_header_size;
	int max_dns_lookups;		/* per message and check */
	long max_check_time;		/* seconds: SPF + DKIM lookups */
	long milter_timeout;		/* seconds, MTA <-> milter */
	int spf;			/* check SPF at all */
	int spf_fail_action;		/* enum milter_action */
	int spf_softfail_action;
	int spf_temperror_action;
	int spf_permerror_action;
	int dkim;			/* verify DKIM signatures at all */
	int max_signatures;		/* verified per message (1-20) */
	int dkim_on_bad_signature;	/* enum milter_action */
	int dkim_on_no_signature;
	int dkim_on_key_not_found;
	int dkim_on_dns_error;
	int dkim_partial_body_pass;	/* l= short of the body: pass */
	/* DKIM signing (milter-dkim-sign.c, milter-keys.c) */
	char *dkim_key_table;		/* NULL: no signing */
	char *dkim_signing_table;	/* set with dkim_key_table */
	int dkim_sign_hcanon;		/* DKIM_CANON_*: 0 simple, 1 relaxed */
	int dkim_sign_bcanon;
	char **dkim_sign_headers;	/* NULL-terminated */
	/* DMARC (milter-dmarc.c) */
	int dmarc;			/* evaluate DMARC at all */
	char *dmarc_psl;		/* Public Suffix List file */
	int dmarc_enforce;		/* act on p=reject/quarantine */
	int dmarc_quarantine_action;	/* enum milter_action */
	int dmarc_temperror_action;
	int dmarc_bad_from_action;	/* no/several/broken From */
	char *dmarc_history;		/* SQLite file, "" = off */
	/* Received-SPF, header caps, quarantine (issue 4) */
	int received_spf;		/* add a Received-SPF header */
	int header_cap_action;		/* enum milter_action: over the caps */
	char *quarantine_header;	/* NULL: quarantine = MTA hold */
};

extern const struct conf_section milter_conf_section;

int milter_net_parse(const char *s, struct milter_net *out, char *err,
		     size_t errlen);
int milter_net_match(const struct milter_net *nets, size_t n,
		     const char *addr);

#endif
