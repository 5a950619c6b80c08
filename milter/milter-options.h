/*++
 * NAME
 *	milter-options 3h
 * SUMMARY
 *	the [milter] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	whole schema (sections-all.c) so that every daemon checks the
 *	whole file.  The loaded struct is immutable: it lives inside a
 *	configuration snapshot that threads share.
 *
 *	internal_networks entries ("10.0.0.0/8", "192.0.2.1",
 *	"2001:db8::/32") are lib/cidr's nets: cidr_parse(),
 *	cidr_match_text(), as the listeners' allow-lists.
 *--*/
#ifndef ELEMTA_MILTER_OPTIONS_H
#define ELEMTA_MILTER_OPTIONS_H

#include <stddef.h>

#include "cidr.h"
#include "conf.h"
#include "daemon.h"
#include "milter-greylist.h"

/* ClamAV (milter-clamav.c): clamav_action, clamav_heuristic_action */
#define CLAMAV_ACTION_REJECT		0
#define CLAMAV_ACTION_DISCARD		1
#define CLAMAV_ACTION_QUARANTINE	2
#define CLAMAV_ACTION_HEADER		3
#define CLAMAV_ACTION_ACCEPT		4	/* heuristics only */

struct milter_clamav_conf {
	char *database;			/* signature directory; NULL: off */
	char *clamd;			/* clamd's socket: scans go there */
	long clamd_timeout;		/* seconds, a whole INSTREAM */
	int reload_blocking;		/* clamav_reload = blocking */
	long reload_check;		/* seconds between checks; 0: none */
	long max_scan_size;		/* the engine's limits */
	long max_file_size;
	int max_recursion;
	int max_files;
	int alert_encrypted;		/* encrypted archives, documents */
	int alert_exceeds_max;		/* over a limit: Heuristics.Limits */
	int action;			/* CLAMAV_ACTION_*: a virus */
	int heuristic_action;		/* a Heuristics.* alert */
	int fail_action;		/* enum milter_action: accept, tempfail */
	char *scanned_header;		/* X-Virus-Scanned value; NULL: none */
};

struct milter_conf {
	struct daemon_conf daemon;	/* listen, metrics_listen, user... */
	char *authserv_id;		/* never NULL: the host name if unset */
	struct cidr *internal;	/* internal_networks */
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
	int dkim_min_key_bits;		/* smaller RSA keys: permerror */
	int dkim_max_key_bits;		/* larger RSA keys: permerror */
	/* DKIM signing (milter-dkim-sign.c, milter-keys.c) */
	char *dkim_key_table;		/* NULL: no signing */
	char *dkim_signing_table;	/* set with dkim_key_table */
	int dkim_sign_hcanon;		/* DKIM_CANON_*: 0 simple, 1 relaxed */
	int dkim_sign_bcanon;
	char **dkim_sign_headers;	/* NULL-terminated */
	/* ARC (milter-arc-verify.c) */
	int arc;			/* verify ARC chains at all */
	char *arc_seal_domain;		/* seal with its key; NULL: never */
	/* whose passing chain lifts a DMARC failure's policy: domains,
	 * lower-cased, NULL-terminated */
	char **arc_trusted_sealers;
	/* DMARC (milter-dmarc.c) */
	int dmarc;			/* evaluate DMARC at all */
	char *dmarc_psl;		/* Public Suffix List file */
	int dmarc_enforce;		/* act on p=reject/quarantine */
	int dmarc_quarantine_action;	/* enum milter_action */
	int dmarc_temperror_action;
	int dmarc_bad_from_action;	/* no/several/broken From */
	char *dmarc_history;		/* SQLite file, "" = off */
	int dmarc_history_queue_size;	/* rows waiting for the writer */
	/* DMARC aggregate reports (reports/, not the daemon) */
	char *dmarc_report_org_name;	/* NULL: the report domain */
	char *dmarc_report_email;	/* NULL: postmaster@authserv_id */
	char *dmarc_report_sendmail;	/* command, split on blanks */
	int dmarc_report_history_days;	/* history rows kept */
	/* Received-SPF, header caps, quarantine (issue 4) */
	int received_spf;		/* add a Received-SPF header */
	int header_cap_action;		/* enum milter_action: over the caps */
	char *quarantine_header;	/* NULL: quarantine = MTA hold */
	struct greylist_conf greylist;	/* milter-greylist.c */
	/* the message's copy for the content stages (milter-body.c) */
	long body_memory_max;		/* bytes in memory, then a file */
	char *body_spool_dir;		/* relative to database.directory */
	long scan_max_size;		/* larger: not scanned */
	int scan_oversize_action;	/* MILTER_BODY_OVERSIZE_* */
	/* Rspamd (milter-rspamd.c) */
	char *rspamd_url;		/* NULL: Rspamd off */
	int rspamd_fail_action;		/* MILTER_ACCEPT or MILTER_TEMPFAIL */
	long rspamd_timeout_ms;
	char *rspamd_settings_id;	/* NULL: none sent */
	struct milter_clamav_conf clamav;	/* milter-clamav.c */
};

extern const struct conf_section milter_conf_section;


#endif
