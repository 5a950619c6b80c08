/*++
 * NAME
 *	milter-options 3
 * SUMMARY
 *	the [milter] section of elemta.conf
 * DESCRIPTION
 *	See milter-options.h.
 *--*/
#include "config.h"

#include <stddef.h>

#include "milter-options.h"
#include "runtime.h"

static cfg_opt_t milter_opts[] = {
	DAEMON_CONF_OPTS("inet:127.0.0.1:8894", ""),
	CFG_END()
};

static const struct conf_check milter_checks[] = {
	DAEMON_CONF_CHECKS,
	CONF_CHECK_END
};

/* milter_conf_load - copy the [milter] section into struct milter_conf */
static int
milter_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct milter_conf *c = out;

	return daemon_conf_load(sec, &c->daemon, err, errlen);
}

/* milter_conf_release - free what milter_conf_load allocated */
static void
milter_conf_release(void *out)
{
	struct milter_conf *c = out;

	daemon_conf_release(&c->daemon);
}

const struct conf_section milter_conf_section = {
	"milter", milter_opts, milter_checks, sizeof(struct milter_conf),
	milter_conf_load, milter_conf_release,
};
