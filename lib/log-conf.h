/*++
 * NAME
 *	log-conf 3h
 * SUMMARY
 *	the [log] section of elemta.conf
 * SYNOPSIS
 *	#include "log-conf.h"
 *
 *	const struct log_conf *lc = conf_get(c, &log_conf_section);
 *	log_open(lc->ident ? lc->ident : progname, dest, lc->facility);
 *	log_set_level(lc->level);
 * DESCRIPTION
 *	level, facility and ident, checked against log.c's names while the
 *	file is parsed and copied into struct log_conf.  The runtime
 *	applies it at start and at each reload.
 *--*/
#ifndef ELEMTA_LOG_CONF_H
#define ELEMTA_LOG_CONF_H

#include "conf.h"

extern const struct conf_section log_conf_section;

struct log_conf {
	int level;		/* syslog priority */
	int facility;		/* syslog facility */
	char *ident;		/* NULL: the program name */
};

#endif
