/*++
 * NAME
 *	sections-all 3h
 * SUMMARY
 *	the whole elemta.conf schema
 * SYNOPSIS
 *	#include "../sections-all.h"
 *
 *	runtime_init(&rt, "elemta-policyd", argc, argv, elemta_sections,
 *		     &policyd_conf_section, ...);
 * DESCRIPTION
 *	Every daemon parses the whole file (so that `-n` of any of them
 *	checks all of it, and a typo in another daemon's section is still
 *	caught), so it hands the runtime the list of every section: the
 *	shared ones from lib/ and each daemon's, declared in that daemon's
 *	folder.  The list is assembled here, above lib/ and the daemons,
 *	as Dovecot builds its all-settings table outside its library:
 *	lib/ knows no daemon.  The daemons, the tests and the sample's
 *	check (t/0021) link it (libelemta-sections.a, with each daemon's
 *	convenience library for its own section).
 *--*/
#ifndef ELEMTA_SECTIONS_ALL_H
#define ELEMTA_SECTIONS_ALL_H

#include "conf.h"

extern const struct conf_section *const elemta_sections[];

#endif
