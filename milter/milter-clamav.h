/*++
 * NAME
 *	milter-clamav 3h
 * SUMMARY
 *	the ClamAV stage: libclamav in the process, one shared engine
 * SYNOPSIS
 *	#include "milter-clamav.h"
 * DESCRIPTION
 *	One compiled engine for the process, shared by every scan and
 *	counted: a scan holds a reference from its start to its end, so
 *	a reload that swaps in a new engine never frees one under a scan
 *	(milter-clamav.c says how reloads go).
 *--*/
#ifndef ELEMTA_MILTER_CLAMAV_H
#define ELEMTA_MILTER_CLAMAV_H

#include <stddef.h>
#include <time.h>

struct milter_msg;
struct milter_conf;
struct conf;

/* milter_clamav_init - libclamav and the metrics; the engine of conf's
 * clamav_database compiled now when set.  0, or -1 with err (the
 * database cannot be loaded: the daemon does not start). */
int milter_clamav_init(const struct conf *conf, char *err, size_t errlen);
/* milter_clamav_start - the reload thread (database checks, reloads);
 * call in the daemon once detached, before libmilter's threads */
void milter_clamav_start(void);
/* milter_clamav_reload - a new engine from the published generation's
 * configuration (SIGUSR1), compiled by the reload thread */
void milter_clamav_reload(void);
/* milter_clamav_finish - stop the thread, free the engine (at exit) */
void milter_clamav_finish(void);

/* the stage */
int milter_clamav_wanted(const struct milter_conf *mc);
void milter_clamav_eom(struct milter_msg *m);

/* milter-clamd.c: clamd_scan - the message p, len bytes, to the clamd
 * at spec (lib/listen's "unix:PATH" or "inet:HOST:PORT") by INSTREAM,
 * within timeout_s seconds: CLAMD_CLEAN, CLAMD_VIRUS (its name in
 * name), or CLAMD_ERROR with err */
#define CLAMD_CLEAN	0
#define CLAMD_VIRUS	1
#define CLAMD_ERROR	(-1)
int clamd_scan(const char *spec, long timeout_s, const unsigned char *p,
	       size_t len, char *name, size_t namelen, char *err,
	       size_t errlen);

/* clamd_version - clamd's VERSION reply into reply, within timeout_s
 * seconds; 0, or -1 with err */
int clamd_version(const char *spec, long timeout_s, char *reply,
		  size_t replylen, char *err, size_t errlen);
/* clamd_version_parse - a VERSION reply ("ClamAV 1.4.6/27123/Sat Dec
 * 5 04:42:57 2026"): the engine's version, the database's version and
 * build time (0, 0: clamd named no database); 0, or -1 if it is not a
 * VERSION reply */
int clamd_version_parse(const char *reply, char *engine, size_t enginelen,
			unsigned long *dbver, time_t *dbtime);

/* milter_clamav_reloads - engines compiled so far (tests, logs) */
unsigned long milter_clamav_reloads(void);

#endif
