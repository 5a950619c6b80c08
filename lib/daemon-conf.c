/*++
 * NAME
 *	daemon-conf 3
 * SUMMARY
 *	the process options every daemon section has
 * DESCRIPTION
 *	listen, listen_allow, metrics_listen, metrics_allow, user, group,
 *	pidfile and control_socket: declared by
 *	DAEMON_CONF_OPTS in runtime.h, copied here into struct
 *	daemon_conf.  Kept apart from runtime.c so that the schema (and its
 *	unit tests) link without the process machinery.
 *--*/
#include "config.h"

#include "cidr.h"
#include "conf.h"
#include "daemon.h"
#include "listen.h"
#include "runtime.h"
#include "xalloc.h"

/* daemon_conf_nets - an allow-list option's nets */
static int
daemon_conf_nets(cfg_t *sec, const char *name, struct cidr **nets,
		 size_t *np, char *err, size_t errlen)
{
	unsigned i, n = cfg_size(sec, name);

	*nets = x_calloc(n ? n : 1, sizeof(**nets));
	for (*np = 0, i = 0; i < n; i++, (*np)++)
		if (cidr_parse(cfg_getnstr(sec, name, i), &(*nets)[*np], err,
			       errlen) < 0)
			return -1;
	return 0;
}

/* daemon_conf_load - fill a struct daemon_conf from a daemon section */
int
daemon_conf_load(cfg_t *sec, struct daemon_conf *dc, char *err,
		 size_t errlen)
{
	dc->listen = conf_strdup_opt(sec, "listen");
	dc->metrics_listen = conf_strdup_opt(sec, "metrics_listen");
	dc->user = conf_strdup_opt(sec, "user");
	dc->group = conf_strdup_opt(sec, "group");
	dc->pidfile = conf_strdup_opt(sec, "pidfile");
	dc->control_socket = conf_strdup_opt(sec, "control_socket");
	if (dc->listen == NULL) {
		x_err(err, errlen, "option 'listen' must not be empty");
		return -1;
	}
	if (daemon_conf_nets(sec, "listen_allow", &dc->allow, &dc->nallow,
			     err, errlen) < 0
	    || daemon_conf_nets(sec, "metrics_allow", &dc->metrics_allow,
				&dc->nmetrics_allow, err, errlen) < 0)
		return -1;
	return 0;
}

/* daemon_conf_release - free a struct daemon_conf's strings */
void
daemon_conf_release(struct daemon_conf *dc)
{
	x_free(&dc->listen);
	x_free(&dc->allow);
	dc->nallow = 0;
	x_free(&dc->metrics_listen);
	x_free(&dc->metrics_allow);
	dc->nmetrics_allow = 0;
	x_free(&dc->user);
	x_free(&dc->group);
	x_free(&dc->pidfile);
	x_free(&dc->control_socket);
}
