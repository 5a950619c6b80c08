/*++
 * NAME
 *	milter-options 3
 * SUMMARY
 *	the [milter] section of elemta.conf
 * DESCRIPTION
 *	See milter-options.h.  Action names map to enum milter_action
 *	(milter.h) in the order accept, quarantine, tempfail, reject; the
 *	table below is the one place that spells them.
 *--*/
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter-body.h"
#include "milter-dkim.h"
#include "milter-options.h"
#include "runtime.h"
#include "str.h"
#include "xalloc.h"

static const char *const milter_actions[] = {
	"accept", "quarantine", "tempfail", "reject", NULL,
};

/* DKIM signing: header/body canonicalization (DKIM_CANON_*: 0, 1) */
static const char *const milter_canons[] = {
	"simple/simple", "simple/relaxed", "relaxed/simple",
	"relaxed/relaxed", NULL,
};

static cfg_opt_t milter_opts[] = {
	DAEMON_CONF_OPTS(ELEMTA_SOCKET_DEFAULT("milter"), "",
			 ELEMTA_CONTROL_DEFAULT("milter")),
	CFG_STR("authserv_id", "", CFGF_NONE),
	CFG_STR_LIST("internal_networks", "{\"127.0.0.0/8\", \"::1/128\"}",
		     CFGF_NONE),
	CFG_INT("max_headers", 1000, CFGF_NONE),
	CFG_INT_CB("max_header_size", 65536, CFGF_NONE, conf_cb_size),
	CFG_INT("max_dns_lookups", 50, CFGF_NONE),
	CFG_INT_CB("max_check_time", 30, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("milter_timeout", 300, CFGF_NONE, conf_cb_duration),
	CFG_BOOL("spf", cfg_true, CFGF_NONE),
	CFG_STR("spf_fail_action", "accept", CFGF_NONE),
	CFG_STR("spf_softfail_action", "accept", CFGF_NONE),
	CFG_STR("spf_temperror_action", "accept", CFGF_NONE),
	CFG_STR("spf_permerror_action", "accept", CFGF_NONE),
	CFG_BOOL("dkim", cfg_true, CFGF_NONE),
	CFG_INT("max_signatures", 10, CFGF_NONE),
	CFG_STR("dkim_on_bad_signature", "accept", CFGF_NONE),
	CFG_STR("dkim_on_no_signature", "accept", CFGF_NONE),
	CFG_STR("dkim_on_key_not_found", "accept", CFGF_NONE),
	CFG_STR("dkim_on_dns_error", "accept", CFGF_NONE),
	CFG_BOOL("dkim_partial_body_pass", cfg_false, CFGF_NONE),
	CFG_INT("dkim_min_key_bits", 1024, CFGF_NONE),
	CFG_INT("dkim_max_key_bits", MILTER_DKIM_MAX_KEY_BITS, CFGF_NONE),
	/* DKIM signing (milter-dkim-sign.c): RFC 6376 5.4.1's headers */
	CFG_STR("dkim_key_table", "", CFGF_NONE),
	CFG_STR("dkim_signing_table", "", CFGF_NONE),
	CFG_STR("dkim_sign_canonicalization", "relaxed/relaxed", CFGF_NONE),
	CFG_STR_LIST("dkim_sign_headers", "{From, Reply-To, Subject, Date, "
		     "To, Cc, Resent-Date, Resent-From, Resent-To, Resent-Cc, "
		     "In-Reply-To, References, List-Id, List-Help, "
		     "List-Unsubscribe, List-Subscribe, List-Post, "
		     "List-Owner, List-Archive}", CFGF_NONE),
	/* ARC (milter-arc-verify.c) */
	CFG_BOOL("arc", cfg_true, CFGF_NONE),
	CFG_STR_LIST("arc_trusted_sealers", "{}", CFGF_NONE),
	/* ARC sealing (milter-arc-sealer.c): the key table's domain */
	CFG_STR("arc_seal_domain", "", CFGF_NONE),
	/* DMARC (milter-dmarc.c) */
	CFG_BOOL("dmarc", cfg_true, CFGF_NONE),
	CFG_STR("dmarc_psl", "/usr/share/publicsuffix/public_suffix_list.dat",
		CFGF_NONE),
	CFG_BOOL("dmarc_enforce", cfg_false, CFGF_NONE),
	CFG_STR("dmarc_quarantine_action", "quarantine", CFGF_NONE),
	CFG_STR("dmarc_temperror_action", "accept", CFGF_NONE),
	CFG_STR("dmarc_bad_from_action", "accept", CFGF_NONE),
	CFG_STR("dmarc_history", "", CFGF_NONE),
	CFG_INT("dmarc_history_queue_size", 10000, CFGF_NONE),
	/* DMARC aggregate reports (reports/, elemta-dmarc-report) */
	CFG_STR("dmarc_report_org_name", "", CFGF_NONE),
	CFG_STR("dmarc_report_email", "", CFGF_NONE),
	CFG_STR("dmarc_report_sendmail", "/usr/sbin/sendmail", CFGF_NONE),
	CFG_INT("dmarc_report_history_days", 30, CFGF_NONE),
	/* Received-SPF, header caps, quarantine */
	CFG_BOOL("received_spf", cfg_false, CFGF_NONE),
	CFG_STR("header_cap_action", "accept", CFGF_NONE),
	CFG_STR("quarantine_header", "", CFGF_NONE),
	/* greylisting (milter-greylist.c) */
	CFG_BOOL("greylist", cfg_false, CFGF_NONE),
	CFG_STR("greylist_when", "eom", CFGF_NONE),
	CFG_INT_CB("greylist_delay", 300, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("greylist_retry_window", 2 * 86400, CFGF_NONE,
		   conf_cb_duration),
	CFG_INT_CB("greylist_max_age", 35 * 86400, CFGF_NONE,
		   conf_cb_duration),
	CFG_INT("greylist_auto_allow", 5, CFGF_NONE),
	CFG_STR("greylist_store", "sqlite", CFGF_NONE),
	CFG_STR("greylist_path", "greylist.db", CFGF_NONE),
	CFG_STR("greylist_client_allow_file", "", CFGF_NONE),
	CFG_STR_LIST("greylist_recipient_allow", "{}", CFGF_NONE),
	CFG_STR_LIST("greylist_sender_allow", "{}", CFGF_NONE),
	CFG_INT("greylist_prefix_v4", 24, CFGF_NONE),
	CFG_INT("greylist_prefix_v6", 64, CFGF_NONE),
	CFG_STR("greylist_fail_action", "accept", CFGF_NONE),
	/* the message's copy for the content stages (milter-body.c) */
	CFG_INT_CB("body_memory_max", 1048576, CFGF_NONE, conf_cb_size),
	CFG_STR("body_spool_dir", "spool", CFGF_NONE),
	CFG_INT_CB("scan_max_size", 26214400, CFGF_NONE, conf_cb_size),
	CFG_STR("scan_oversize_action", "skip", CFGF_NONE),
	CFG_STR("greylist_mode", "always", CFGF_NONE),
	/* Rspamd (milter-rspamd.c) */
	CFG_STR("rspamd_url", "", CFGF_NONE),
	CFG_STR("rspamd_fail_action", "tempfail", CFGF_NONE),
	CFG_INT("rspamd_timeout_ms", 15000, CFGF_NONE),
	CFG_STR("rspamd_settings_id", "", CFGF_NONE),
	/* ClamAV (milter-clamav.c) */
	CFG_STR("clamav_database", "", CFGF_NONE),
	CFG_STR("clamav_clamd", "", CFGF_NONE),
	CFG_INT_CB("clamav_clamd_timeout", 30, CFGF_NONE, conf_cb_duration),
	CFG_STR("clamav_reload", "concurrent", CFGF_NONE),
	CFG_INT_CB("clamav_reload_check", 60, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("clamav_max_scan_size", 104857600, CFGF_NONE,
		   conf_cb_size),
	CFG_INT_CB("clamav_max_file_size", 26214400, CFGF_NONE,
		   conf_cb_size),
	CFG_INT("clamav_max_recursion", 16, CFGF_NONE),
	CFG_INT("clamav_max_files", 10000, CFGF_NONE),
	CFG_BOOL("clamav_alert_encrypted", cfg_false, CFGF_NONE),
	CFG_BOOL("clamav_alert_exceeds_max", cfg_false, CFGF_NONE),
	CFG_STR("clamav_action", "reject", CFGF_NONE),
	CFG_STR("clamav_heuristic_action", "reject", CFGF_NONE),
	CFG_STR("clamav_fail_action", "tempfail", CFGF_NONE),
	CFG_STR("clamav_scanned_header", "ClamAV using elemta-milter",
		CFGF_NONE),
	CFG_END()
};

/* milter_check_header_name - quarantine_header: "" or a field name */
static int
milter_check_header_name(const char *value, char *err, size_t errlen)
{
	const char *p;

	/* RFC 5322 2.2: printable US-ASCII but the colon */
	for (p = value; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == ':') {
			x_err(err, errlen, "'%s': not a header field name",
			      value);
			return -1;
		}
	if (p - value > 76) {
		x_err(err, errlen, "'%s': header name too long (76 max)",
		      value);
		return -1;
	}
	return 0;
}

/* milter_check_sealer - arc_trusted_sealers: a domain name */
static int
milter_check_sealer(const char *value, char *err, size_t errlen)
{
	const char *p;

	for (p = value; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		      || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
		      || *p == '_'))
			break;
	if (p == value || *p != '\0' || p - value > 253 || *value == '.') {
		x_err(err, errlen, "'%s': not a domain name", value);
		return -1;
	}
	return 0;
}

static const char *const milter_greylist_whens[] = { "eom", "rcpt", NULL };
static const char *const milter_greylist_stores[] = {
	"sqlite", "redis", NULL,
};
static const char *const milter_greylist_fails[] = {
	"accept", "tempfail", NULL,
};
static const char *const milter_greylist_modes[] = {
	"always", "rspamd", NULL,
};

/* milter_check_url - rspamd_url: "" or http(s)://..., no trailing
 * slash (the stage appends "/checkv2"), nothing a request line could
 * not carry */
static int
milter_check_url(const char *value, char *err, size_t errlen)
{
	const char *p;
	size_t n = strlen(value);

	if (n == 0)
		return 0;
	if (strncmp(value, "http://", 7) != 0
	    && strncmp(value, "https://", 8) != 0) {
		x_err(err, errlen, "'%s': not an http:// or https:// URL",
		      value);
		return -1;
	}
	for (p = value; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~') {
			x_err(err, errlen, "'%s': space or control character "
			      "in the URL", value);
			return -1;
		}
	if (value[n - 1] == '/') {
		x_err(err, errlen, "'%s': no trailing slash (the path "
		      "/checkv2 is added)", value);
		return -1;
	}
	return 0;
}

/* milter_check_token - rspamd_settings_id: "" or [A-Za-z0-9_.-]+ */
static int
milter_check_token(const char *value, char *err, size_t errlen)
{
	if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_-.") != strlen(value)) {
		x_err(err, errlen, "'%s': letters, digits, '_', '-' and '.' "
		      "only", value);
		return -1;
	}
	return 0;
}

/* scan_oversize_action: MILTER_BODY_OVERSIZE_* */
static const char *const milter_oversize_actions[] = {
	"skip", "tempfail", NULL,
};

/* milter_check_spool_dir - body_spool_dir: a path, not "" */
static int
milter_check_spool_dir(const char *value, char *err, size_t errlen)
{
	if (*value == '\0') {
		x_err(err, errlen, "must not be empty");
		return -1;
	}
	return 0;
}

/* clamav_action, clamav_heuristic_action: CLAMAV_ACTION_* */
static const char *const milter_clamav_actions[] = {
	"reject", "discard", "quarantine", "header", "accept", NULL,
};
static const char *const milter_clamav_reloads[] = {
	"concurrent", "blocking", NULL,
};

/* milter_check_clamav_action - clamav_action: a virus is never
 * accepted silently (header at least) */
static int
milter_check_clamav_action(const char *value, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < CLAMAV_ACTION_ACCEPT; i++)
		if (strcmp(value, milter_clamav_actions[i]) == 0)
			return 0;
	x_err(err, errlen, "'%s': not one of reject, discard, quarantine, "
	      "header", value);
	return -1;
}

/* milter_check_header_value - a header value we add: printable ASCII */
static int
milter_check_header_value(const char *value, char *err, size_t errlen)
{
	const char *p;

	for (p = value; *p != '\0'; p++)
		if (*p < ' ' || *p > '~') {
			x_err(err, errlen, "not printable ASCII");
			return -1;
		}
	if (p - value > 200) {
		x_err(err, errlen, "too long (200 max)");
		return -1;
	}
	return 0;
}

static const struct conf_check milter_checks[] = {
	DAEMON_CONF_CHECKS,
	{ "internal_networks", CONF_CHECK_FUNC, 0, 0, NULL, cidr_check },
	{ "max_headers", CONF_CHECK_RANGE, 10, 100000, NULL, NULL },
	{ "max_header_size", CONF_CHECK_RANGE, 1024, 16777216, NULL, NULL },
	{ "max_dns_lookups", CONF_CHECK_RANGE, 1, 1000, NULL, NULL },
	{ "max_check_time", CONF_CHECK_RANGE, 1, 3600, NULL, NULL },
	{ "milter_timeout", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "spf_fail_action", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	{ "spf_softfail_action", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	{ "spf_temperror_action", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	{ "spf_permerror_action", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	{ "max_signatures", CONF_CHECK_RANGE, 1, 20, NULL, NULL },
	{ "dkim_min_key_bits", CONF_CHECK_RANGE, 512, 16384, NULL, NULL },
	/* RFC 8301 3.2: verifiers must take 1024 to 4096; 16384 is
	 * OpenSSL's own limit on RSA moduli */
	{ "dkim_max_key_bits", CONF_CHECK_RANGE, 4096, 16384, NULL, NULL },
	{ "dkim_on_bad_signature", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dkim_on_no_signature", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dkim_on_key_not_found", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dkim_on_dns_error", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	/* DKIM signing */
	{ "dkim_sign_canonicalization", CONF_CHECK_ENUM, 0, 0,
	  milter_canons, NULL },
	/* ARC */
	{ "arc_trusted_sealers", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_sealer },
	/* DMARC */
	{ "dmarc_quarantine_action", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dmarc_temperror_action", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dmarc_bad_from_action", CONF_CHECK_ENUM, 0, 0, milter_actions,
	  NULL },
	{ "dmarc_history_queue_size", CONF_CHECK_RANGE, 1, 1000000, NULL,
	  NULL },
	{ "dmarc_report_history_days", CONF_CHECK_RANGE, 1, 3650, NULL,
	  NULL },
	{ "header_cap_action", CONF_CHECK_ENUM, 0, 0, milter_actions, NULL },
	{ "quarantine_header", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_header_name },
	/* greylisting */
	{ "greylist_when", CONF_CHECK_ENUM, 0, 0, milter_greylist_whens,
	  NULL },
	{ "greylist_delay", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "greylist_retry_window", CONF_CHECK_RANGE, 60, 30 * 86400, NULL,
	  NULL },
	{ "greylist_max_age", CONF_CHECK_RANGE, 3600, 365 * 86400, NULL,
	  NULL },
	{ "greylist_auto_allow", CONF_CHECK_RANGE, 0, 1000, NULL, NULL },
	{ "greylist_store", CONF_CHECK_ENUM, 0, 0, milter_greylist_stores,
	  NULL },
	{ "greylist_prefix_v4", CONF_CHECK_RANGE, 8, 32, NULL, NULL },
	{ "greylist_prefix_v6", CONF_CHECK_RANGE, 16, 128, NULL, NULL },
	{ "greylist_fail_action", CONF_CHECK_ENUM, 0, 0,
	  milter_greylist_fails, NULL },
	/* the message's copy */
	{ "body_memory_max", CONF_CHECK_RANGE, 0, 1L << 30, NULL, NULL },
	{ "body_spool_dir", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_spool_dir },
	{ "scan_max_size", CONF_CHECK_RANGE, 1024, 1L << 31, NULL, NULL },
	{ "scan_oversize_action", CONF_CHECK_ENUM, 0, 0,
	  milter_oversize_actions, NULL },
	{ "greylist_mode", CONF_CHECK_ENUM, 0, 0, milter_greylist_modes,
	  NULL },
	/* Rspamd: accept or tempfail, as greylisting */
	{ "rspamd_url", CONF_CHECK_FUNC, 0, 0, NULL, milter_check_url },
	{ "rspamd_fail_action", CONF_CHECK_ENUM, 0, 0, milter_greylist_fails,
	  NULL },
	{ "rspamd_timeout_ms", CONF_CHECK_RANGE, 100, 600000, NULL, NULL },
	{ "rspamd_settings_id", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_token },
	/* ClamAV */
	{ "clamav_database", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "clamav_clamd", CONF_CHECK_LISTEN, 0, 0, NULL, NULL },
	{ "clamav_clamd_timeout", CONF_CHECK_RANGE, 1, 3600, NULL, NULL },
	{ "clamav_reload", CONF_CHECK_ENUM, 0, 0, milter_clamav_reloads,
	  NULL },
	{ "clamav_reload_check", CONF_CHECK_RANGE, 0, 86400, NULL, NULL },
	{ "clamav_max_scan_size", CONF_CHECK_RANGE, 1024, 1L << 32, NULL,
	  NULL },
	{ "clamav_max_file_size", CONF_CHECK_RANGE, 1024, 1L << 32, NULL,
	  NULL },
	{ "clamav_max_recursion", CONF_CHECK_RANGE, 1, 100, NULL, NULL },
	{ "clamav_max_files", CONF_CHECK_RANGE, 1, 1000000, NULL, NULL },
	{ "clamav_action", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_clamav_action },
	{ "clamav_heuristic_action", CONF_CHECK_ENUM, 0, 0,
	  milter_clamav_actions, NULL },
	{ "clamav_fail_action", CONF_CHECK_ENUM, 0, 0, milter_greylist_fails,
	  NULL },
	{ "clamav_scanned_header", CONF_CHECK_FUNC, 0, 0, NULL,
	  milter_check_header_value },
	CONF_CHECK_END
};

/* milter_word_index - position of s in words (0 if absent: the checks
 * above have run) */
static int
milter_word_index(const char *const *words, const char *s)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return 0;
}

/* milter_action_index - position of an action name in milter_actions */
static int
milter_action_index(const char *s)
{
	return milter_word_index(milter_actions, s);
}

/* milter_conf_load_sign - the DKIM signing options */
static int
milter_conf_load_sign(cfg_t *sec, struct milter_conf *c, char *err,
		      size_t errlen)
{
	const char *canon = cfg_getstr(sec, "dkim_sign_canonicalization");
	unsigned i, n = cfg_size(sec, "dkim_sign_headers");
	int k;

	c->dkim_key_table = conf_strdup_opt(sec, "dkim_key_table");
	c->dkim_signing_table = conf_strdup_opt(sec, "dkim_signing_table");
	c->arc_seal_domain = conf_strdup_opt(sec, "arc_seal_domain");
	/* the key table alone: keys that only seal (ARC) */
	if ((c->dkim_key_table == NULL && c->dkim_signing_table != NULL)
	    || (c->dkim_key_table != NULL && c->dkim_signing_table == NULL
		&& c->arc_seal_domain == NULL)) {
		x_err(err, errlen, "milter: dkim_key_table and "
		      "dkim_signing_table go together: set both or neither "
		      "(or the key table and arc_seal_domain)");
		return -1;
	}
	if (c->arc_seal_domain != NULL && c->dkim_key_table == NULL) {
		x_err(err, errlen, "milter: arc_seal_domain %s needs "
		      "dkim_key_table (its key)", c->arc_seal_domain);
		return -1;
	}
	for (k = 0; milter_canons[k] != NULL; k++)
		if (strcmp(milter_canons[k], canon) == 0)
			break;
	c->dkim_sign_hcanon = k / 2 % 2;
	c->dkim_sign_bcanon = k % 2;
	c->dkim_sign_headers = x_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		c->dkim_sign_headers[i] =
			x_strdup(cfg_getnstr(sec, "dkim_sign_headers", i));
	return 0;
}

/* milter_clamav_action - CLAMAV_ACTION_* of a name */
static int
milter_clamav_action(const char *s)
{
	return milter_word_index(milter_clamav_actions, s);
}

/* milter_conf_load_clamav - the clamav_* options; 0, or -1 with err */
static int
milter_conf_load_clamav(cfg_t *sec, struct milter_clamav_conf *c, char *err,
			size_t errlen)
{
	c->database = conf_strdup_opt(sec, "clamav_database");
	c->clamd = conf_strdup_opt(sec, "clamav_clamd");
	c->clamd_timeout = cfg_getint(sec, "clamav_clamd_timeout");
	c->reload_blocking = strcmp(cfg_getstr(sec, "clamav_reload"),
				    "blocking") == 0;
	c->reload_check = cfg_getint(sec, "clamav_reload_check");
	c->max_scan_size = cfg_getint(sec, "clamav_max_scan_size");
	c->max_file_size = cfg_getint(sec, "clamav_max_file_size");
	c->max_recursion = (int)cfg_getint(sec, "clamav_max_recursion");
	c->max_files = (int)cfg_getint(sec, "clamav_max_files");
	c->alert_encrypted = cfg_getbool(sec, "clamav_alert_encrypted");
	c->alert_exceeds_max = cfg_getbool(sec, "clamav_alert_exceeds_max");
	c->action = milter_clamav_action(cfg_getstr(sec, "clamav_action"));
	c->heuristic_action = milter_clamav_action(
		cfg_getstr(sec, "clamav_heuristic_action"));
	c->fail_action = milter_action_index(
		cfg_getstr(sec, "clamav_fail_action"));
	c->scanned_header = conf_strdup_opt(sec, "clamav_scanned_header");
	if (c->database != NULL && c->clamd != NULL) {
		x_err(err, errlen, "milter: clamav_database and clamav_clamd "
		      "are two back ends: set one (clamd has its own "
		      "database)");
		return -1;
	}
	return 0;
}

/* milter_conf_load_client - authserv-id, internal networks and the
 * per-message limits; 0, or -1 with err */
static int
milter_conf_load_client(cfg_t *sec, struct milter_conf *c, char *err,
			size_t errlen)
{
	char host[256];
	unsigned i, n;

	c->authserv_id = conf_strdup_opt(sec, "authserv_id");
	if (c->authserv_id == NULL) {
		if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		c->authserv_id = x_strdup(host);
	}
	n = cfg_size(sec, "internal_networks");
	c->internal = x_calloc(n + 1, sizeof(*c->internal));
	for (i = 0; i < n; i++)
		if (cidr_parse(cfg_getnstr(sec, "internal_networks", i),
			       &c->internal[c->ninternal++], err, errlen) < 0)
			return -1;
	c->max_headers = (int)cfg_getint(sec, "max_headers");
	c->max_header_size = cfg_getint(sec, "max_header_size");
	c->max_dns_lookups = (int)cfg_getint(sec, "max_dns_lookups");
	c->max_check_time = cfg_getint(sec, "max_check_time");
	c->milter_timeout = cfg_getint(sec, "milter_timeout");
	return 0;
}

/* milter_conf_load_auth - the SPF and DKIM verification options; 0,
 * or -1 with err */
static int
milter_conf_load_auth(cfg_t *sec, struct milter_conf *c, char *err,
		      size_t errlen)
{
	c->spf = cfg_getbool(sec, "spf");
	c->spf_fail_action =
		milter_action_index(cfg_getstr(sec, "spf_fail_action"));
	c->spf_softfail_action =
		milter_action_index(cfg_getstr(sec, "spf_softfail_action"));
	c->spf_temperror_action =
		milter_action_index(cfg_getstr(sec, "spf_temperror_action"));
	c->spf_permerror_action =
		milter_action_index(cfg_getstr(sec, "spf_permerror_action"));
	c->dkim = cfg_getbool(sec, "dkim");
	c->max_signatures = (int)cfg_getint(sec, "max_signatures");
	c->dkim_on_bad_signature =
		milter_action_index(cfg_getstr(sec, "dkim_on_bad_signature"));
	c->dkim_on_no_signature =
		milter_action_index(cfg_getstr(sec, "dkim_on_no_signature"));
	c->dkim_on_key_not_found =
		milter_action_index(cfg_getstr(sec, "dkim_on_key_not_found"));
	c->dkim_on_dns_error =
		milter_action_index(cfg_getstr(sec, "dkim_on_dns_error"));
	c->dkim_partial_body_pass = cfg_getbool(sec, "dkim_partial_body_pass");
	c->dkim_min_key_bits = (int)cfg_getint(sec, "dkim_min_key_bits");
	c->dkim_max_key_bits = (int)cfg_getint(sec, "dkim_max_key_bits");
	if (c->dkim_min_key_bits > c->dkim_max_key_bits) {
		x_err(err, errlen, "milter: dkim_min_key_bits (%d) above "
		      "dkim_max_key_bits (%d): no RSA key would verify",
		      c->dkim_min_key_bits, c->dkim_max_key_bits);
		return -1;
	}
	return 0;
}

/* milter_conf_load_dmarc - the ARC and DMARC options */
static void
milter_conf_load_dmarc(cfg_t *sec, struct milter_conf *c)
{
	unsigned i, n;

	c->arc = cfg_getbool(sec, "arc");	/* ARC */
	n = cfg_size(sec, "arc_trusted_sealers");
	c->arc_trusted_sealers = x_calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)		/* lower-cased, no final dot */
		c->arc_trusted_sealers[i] = str_domain_dup(
			cfg_getnstr(sec, "arc_trusted_sealers", i));
	/* DMARC */
	c->dmarc = cfg_getbool(sec, "dmarc");
	c->dmarc_psl = x_strdup(cfg_getstr(sec, "dmarc_psl"));
	c->dmarc_enforce = cfg_getbool(sec, "dmarc_enforce");
	c->dmarc_quarantine_action = milter_action_index(
		cfg_getstr(sec, "dmarc_quarantine_action"));
	c->dmarc_temperror_action = milter_action_index(
		cfg_getstr(sec, "dmarc_temperror_action"));
	c->dmarc_bad_from_action = milter_action_index(
		cfg_getstr(sec, "dmarc_bad_from_action"));
	c->dmarc_history = x_strdup(cfg_getstr(sec, "dmarc_history"));
	c->dmarc_history_queue_size =
		(int)cfg_getint(sec, "dmarc_history_queue_size");
	c->dmarc_report_org_name = conf_strdup_opt(sec,
						   "dmarc_report_org_name");
	c->dmarc_report_email = conf_strdup_opt(sec, "dmarc_report_email");
	c->dmarc_report_sendmail = x_strdup(cfg_getstr(sec,
						       "dmarc_report_sendmail"));
	c->dmarc_report_history_days =
		(int)cfg_getint(sec, "dmarc_report_history_days");
}

/* milter_conf_load_body - headers, quarantine and body options */
static void
milter_conf_load_body(cfg_t *sec, struct milter_conf *c)
{
	c->received_spf = cfg_getbool(sec, "received_spf");
	c->header_cap_action =
		milter_action_index(cfg_getstr(sec, "header_cap_action"));
	c->quarantine_header = conf_strdup_opt(sec, "quarantine_header");
	c->body_memory_max = cfg_getint(sec, "body_memory_max");
	c->body_spool_dir = x_strdup(cfg_getstr(sec, "body_spool_dir"));
	c->scan_max_size = cfg_getint(sec, "scan_max_size");
	c->scan_oversize_action = strcmp(cfg_getstr(sec,
		"scan_oversize_action"), "tempfail") == 0
		? MILTER_BODY_OVERSIZE_TEMPFAIL : MILTER_BODY_OVERSIZE_SKIP;
}

/* milter_conf_load_rspamd - the rspamd_* and greylist options and how
 * they fit together; 0, or -1 with err */
static int
milter_conf_load_rspamd(cfg_t *sec, struct milter_conf *c, char *err,
			size_t errlen)
{
	c->rspamd_url = conf_strdup_opt(sec, "rspamd_url");
	c->rspamd_fail_action =
		milter_action_index(cfg_getstr(sec, "rspamd_fail_action"));
	c->rspamd_timeout_ms = cfg_getint(sec, "rspamd_timeout_ms");
	c->rspamd_settings_id = conf_strdup_opt(sec, "rspamd_settings_id");
	if (c->rspamd_timeout_ms >= c->milter_timeout * 1000) {
		x_err(err, errlen, "milter: rspamd_timeout_ms (%ld) must be "
		      "shorter than milter_timeout (%lds): the MTA would give "
		      "up on the milter first", c->rspamd_timeout_ms,
		      c->milter_timeout);
		return -1;
	}
	if (greylist_conf_load(sec, &c->greylist, err, errlen) < 0)
		return -1;
	if (c->greylist.on && c->greylist.mode == GREYLIST_MODE_RSPAMD
	    && (c->rspamd_url == NULL
		|| c->greylist.when != GREYLIST_WHEN_EOM)) {
		x_err(err, errlen, "milter: greylist_mode = rspamd needs "
		      "rspamd_url and greylist_when = eom (rspamd's verdict "
		      "exists at end of message)");
		return -1;
	}
	return 0;
}

/* milter_conf_load - copy the [milter] section into struct milter_conf */
static int
milter_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct milter_conf *c = out;

	if (daemon_conf_load(sec, &c->daemon, err, errlen) < 0)
		return -1;
	if (milter_conf_load_client(sec, c, err, errlen) < 0)
		return -1;
	if (milter_conf_load_auth(sec, c, err, errlen) < 0)
		return -1;
	if (milter_conf_load_sign(sec, c, err, errlen) < 0)	/* signing */
		return -1;
	milter_conf_load_dmarc(sec, c);
	milter_conf_load_body(sec, c);
	if (milter_conf_load_clamav(sec, &c->clamav, err, errlen) < 0)
		return -1;
	return milter_conf_load_rspamd(sec, c, err, errlen);
}

/* milter_conf_release - free what milter_conf_load allocated */
static void
milter_conf_release(void *out)
{
	struct milter_conf *c = out;
	size_t i;

	daemon_conf_release(&c->daemon);
	x_free(&c->authserv_id);
	x_free(&c->internal);
	c->ninternal = 0;
	x_free(&c->dkim_key_table);		/* DKIM signing */
	x_free(&c->dkim_signing_table);
	for (i = 0; c->dkim_sign_headers && c->dkim_sign_headers[i]; i++)
		x_free(&c->dkim_sign_headers[i]);
	x_free(&c->dkim_sign_headers);
	x_free(&c->arc_seal_domain);	/* ARC */
	for (i = 0; c->arc_trusted_sealers && c->arc_trusted_sealers[i]; i++)
		x_free(&c->arc_trusted_sealers[i]);	/* ARC */
	x_free(&c->arc_trusted_sealers);
	x_free(&c->dmarc_psl);		/* DMARC */
	x_free(&c->dmarc_history);	/* DMARC */
	x_free(&c->dmarc_report_org_name);
	x_free(&c->dmarc_report_email);
	x_free(&c->dmarc_report_sendmail);
	x_free(&c->quarantine_header);
	x_free(&c->body_spool_dir);
	x_free(&c->rspamd_url);
	x_free(&c->rspamd_settings_id);
	x_free(&c->clamav.database);
	x_free(&c->clamav.clamd);
	x_free(&c->clamav.scanned_header);
	greylist_conf_release(&c->greylist);
}

const struct conf_section milter_conf_section = {
	"milter", milter_opts, milter_checks, sizeof(struct milter_conf),
	milter_conf_load, milter_conf_release,
};
