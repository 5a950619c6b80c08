/*++
 * NAME
 *	lmtp-options 3
 * SUMMARY
 *	the [lmtp_bridge] section of elemta.conf
 * DESCRIPTION
 *	See lmtp-options.h.
 *--*/
#include "config.h"

#include <stddef.h>

#include "lmtp-options.h"
#include "runtime.h"

static cfg_opt_t lmtp_opts[] = {
	DAEMON_CONF_OPTS("inet:127.0.0.1:10029", ""),
	CFG_END()
};

static const struct conf_check lmtp_checks[] = {
	DAEMON_CONF_CHECKS,
	CONF_CHECK_END
};

/* lmtp_conf_load - copy the [lmtp_bridge] section into struct lmtp_conf */
static int
lmtp_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct lmtp_conf *c = out;

	return daemon_conf_load(sec, &c->daemon, err, errlen);
}

/* lmtp_conf_release - free what lmtp_conf_load allocated */
static void
lmtp_conf_release(void *out)
{
	struct lmtp_conf *c = out;

	daemon_conf_release(&c->daemon);
}

const struct conf_section lmtp_conf_section = {
	"lmtp_bridge", lmtp_opts, lmtp_checks, sizeof(struct lmtp_conf),
	lmtp_conf_load, lmtp_conf_release,
};
