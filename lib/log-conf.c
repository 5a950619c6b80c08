/*++
 * NAME
 *	log-conf 3
 * SUMMARY
 *	the [log] section of elemta.conf
 * DESCRIPTION
 *	See log-conf.h.  Kept apart from log.c, as daemon-conf.c is from
 *	runtime.c, so that logging depends on nothing else in lib/: conf
 *	and xalloc log, and this file uses all three.
 *--*/
#include "config.h"

#include "conf.h"
#include "log.h"
#include "log-conf.h"
#include "xalloc.h"

static const char *const log_level_names[] = {
	"emerg", "alert", "crit", "error", "err", "warning", "warn", "notice",
	"info", "debug", NULL,
};
static const char *const log_facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL,
};

static cfg_opt_t log_opts[] = {
	CFG_STR("level", "info", CFGF_NONE),
	CFG_STR("facility", "mail", CFGF_NONE),
	CFG_STR("ident", "", CFGF_NONE),
	CFG_END()
};

static const struct conf_check log_checks[] = {
	{ "level", CONF_CHECK_ENUM, 0, 0, log_level_names, NULL },
	{ "facility", CONF_CHECK_ENUM, 0, 0, log_facility_names, NULL },
	CONF_CHECK_END
};

/* log_conf_load - copy the [log] section into struct log_conf */
static int
log_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct log_conf *lc = out;

	lc->level = log_level_parse(cfg_getstr(sec, "level"));
	lc->facility = log_facility_parse(cfg_getstr(sec, "facility"));
	lc->ident = conf_strdup_opt(sec, "ident");
	return 0;
}

/* log_conf_release - free what log_conf_load allocated */
static void
log_conf_release(void *out)
{
	struct log_conf *lc = out;

	x_free(&lc->ident);
}

const struct conf_section log_conf_section = {
	"log", log_opts, log_checks, sizeof(struct log_conf),
	log_conf_load, log_conf_release,
};
