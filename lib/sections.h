/*++
 * NAME
 *	sections 3h
 * SUMMARY
 *	the whole elemta.conf schema
 * DESCRIPTION
 *	Every daemon parses the whole file (so that `-n` of any of them
 *	checks all of it, and a typo in another daemon's section is still
 *	caught), so the schema lists every section: the shared ones from
 *	lib/ and each daemon's, declared in that daemon's folder.
 *--*/
#ifndef ELEMTA_SECTIONS_H
#define ELEMTA_SECTIONS_H

#include "conf.h"

extern const struct conf_section *const elemta_sections[];

#endif
