/*++
 * NAME
 *	policyd-options 3
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	See policyd-options.h.
 *--*/
#include "config.h"

#include <stddef.h>

#include "policyd-options.h"
#include "runtime.h"

static cfg_opt_t policyd_opts[] = {
	DAEMON_CONF_OPTS("inet:127.0.0.1:10040", ""),
	CFG_END()
};

static const struct conf_check policyd_checks[] = {
	DAEMON_CONF_CHECKS,
	CONF_CHECK_END
};

/* policyd_conf_load - copy the [policyd] section into struct policyd_conf */
static int
policyd_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct policyd_conf *c = out;

	return daemon_conf_load(sec, &c->daemon, err, errlen);
}

/* policyd_conf_release - free what policyd_conf_load allocated */
static void
policyd_conf_release(void *out)
{
	struct policyd_conf *c = out;

	daemon_conf_release(&c->daemon);
}

const struct conf_section policyd_conf_section = {
	"policyd", policyd_opts, policyd_checks, sizeof(struct policyd_conf),
	policyd_conf_load, policyd_conf_release,
};
