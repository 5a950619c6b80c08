/*++
 * NAME
 *	policyd-options 3h
 * SUMMARY
 *	the [policyd] section of elemta.conf
 * DESCRIPTION
 *	Declared here, next to the daemon that uses it, and part of the
 *	shared schema (lib/sections.c) so that every daemon checks the
 *	whole file.  The daemon's own options join this table in the issue
 *	that brings the daemon.
 *--*/
#ifndef ELEMTA_POLICYD_OPTIONS_H
#define ELEMTA_POLICYD_OPTIONS_H

#include "conf.h"
#include "daemon.h"

struct policyd_conf {
	struct daemon_conf daemon;	/* listen, metrics_listen, user... */
};

extern const struct conf_section policyd_conf_section;

#endif
