/*++
 * NAME
 *	sections-all 3
 * SUMMARY
 *	the whole elemta.conf schema
 * DESCRIPTION
 *	See sections-all.h.  Order is the order of elemta.conf(5).
 *--*/
#include "config.h"

#include <stddef.h>

#include "db.h"
#include "dns.h"
#include "ldapc.h"
#include "log-conf.h"
#include "metrics.h"
#include "redis.h"
#include "sections-all.h"
#include "milter/milter-options.h"
#include "policyd/policyd-options.h"
#include "lmtp-bridge/lmtp-options.h"

const struct conf_section *const elemta_sections[] = {
	&log_conf_section,
	&metrics_conf_section,
	&db_conf_section,
	&dns_conf_section,
	&ldapc_conf_section,
	&redis_conf_section,
	&milter_conf_section,
	&policyd_conf_section,
	&lmtp_conf_section,
	NULL,
};
