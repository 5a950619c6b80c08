/*++
 * NAME
 *	tap-conf 3h
 * SUMMARY
 *	one case of a configuration section's table, as TAP
 * SYNOPSIS
 *	#include "tap-conf.h"
 *
 *	conf = tap_conf_case(&db_conf_section, "relative directory",
 *			     "database.directory=var/db",
 *			     "must be an absolute path");
 * DESCRIPTION
 *	tap_conf_case() loads the one section with override (NULL: its
 *	defaults).  With want_err NULL the section must load ("conf: NAME:
 *	loads", the errors as a diagnostic otherwise): the snapshot is
 *	returned for the caller's checks (release it with conf_unref;
 *	NULL when it did not load).  Otherwise it must be refused ("conf:
 *	NAME: refused") with want_err in the errors ("conf: NAME: error"),
 *	and NULL is returned.
 *--*/
#ifndef ELEMTA_TAP_CONF_H
#define ELEMTA_TAP_CONF_H

#include "conf.h"

struct conf *tap_conf_case(const struct conf_section *section,
			   const char *name, const char *override,
			   const char *want_err);

#endif
