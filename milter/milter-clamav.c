/*++
 * NAME
 *	milter-clamav 3
 * SUMMARY
 *	the ClamAV stage: libclamav in the process
 * DESCRIPTION
 *	The engine of clamav_database (empty: the stage is off) is
 *	compiled once at start; the daemon does not start with a database
 *	that cannot be loaded.  Every scan takes a reference to the
 *	current engine for its length (see milter-clamav.h).
 *
 *	Reloads.  One thread of ours (milter_clamav_start, started before
 *	libmilter's, so that the main thread never creates one later: see
 *	milter.c on signals) compiles new engines: when the milter reloads
 *	(SIGUSR1, milter_clamav_reload), and when the database directory
 *	changes (libclamav's cl_statchkdir, every clamav_reload_check
 *	seconds: freshclam's updates need no signal).  A reload of the
 *	milter compiles only when the engine would differ: the database
 *	directory changed (a file added or changed, by cl_statchkdir; one
 *	removed, by the count of database files) or one of the options
 *	the engine is made of did (clamav_database, clamav_max_*, the
 *	spool directory libclamav writes to); otherwise the engine in use
 *	is kept, logged ("engine unchanged") and counted.  A compile
 *	takes seconds of CPU and, in concurrent mode, a second engine's
 *	memory.  With clamav_reload = concurrent (the default, clamd's
 *	ConcurrentDatabaseReload) the
 *	new engine is compiled beside the old one and swapped in when
 *	ready: no scan ever waits, and a scan in progress finishes on the
 *	engine it started with, which is freed with its last reference.
 *	A database that does not load keeps the old engine.  With
 *	blocking, the old engine is dropped first (once its scans end),
 *	so that two never sit in memory together; messages that arrive
 *	until the new one is ready get clamav_fail_action, and so does
 *	every message while a failed reload is retried at each check.
 *
 *	The stage scans the message's one copy (milter-body.c) in place
 *	(cl_fmap_open_memory on the memory or the mapped file).  A virus:
 *	clamav_action (reject 550 5.7.1 naming it, discard, quarantine,
 *	header); a Heuristics.* alert (encrypted archives with
 *	clamav_alert_encrypted, limits exceeded with
 *	clamav_alert_exceeds_max, zip bombs) clamav_heuristic_action,
 *	which may also accept.  A message already refused for good by an
 *	earlier stage (reject or discard: milter_msg_refused) is not
 *	scanned, "clamav=skipped(refused)": nothing found could have it
 *	delivered.  No copy (the spool failed), no engine, or
 *	a scan error: clamav_fail_action (tempfail 451 4.7.1, or accept),
 *	logged.  A message over scan_max_size is not scanned (milter-body.c
 *	says what happens to it).  Scanned mail that is delivered gets
 *	X-Virus-Scanned (clamav_scanned_header), and X-Virus-Status:
 *	Infected (NAME) when it carries a virus (header, quarantine).
 *
 *	clamav_clamd sends the copy to a clamd instead (milter-clamd.c,
 *	INSTREAM): no engine here, the same actions, clamd's own database.
 *
 *	Metrics: elemta_milter_clamav_signatures (the current engine's),
 *	elemta_milter_clamav_database_timestamp_seconds (its age: see
 *	ce_dbtime; 0 without an engine; with clamav_clamd, clamd's daily
 *	database's, from its VERSION reply: asked by the same thread at
 *	start, at each reload and every CLAMD_VERSION_EVERY seconds, never
 *	per message, and kept while clamd does not answer),
 *	elemta_milter_clamav_reloads_total{result} (ok, failed, and
 *	unchanged: a reload that kept the engine),
 *	elemta_milter_clamav_scans_total{result} (clean, virus,
 *	heuristic, error; skipped: over scan_max_size; refused: not
 *	scanned, an earlier stage had refused it).
 *--*/
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <clamav.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-body.h"
#include "milter-clamav.h"
#include "xalloc.h"

#define CLAMAV_SCANNED_HEADER	"X-Virus-Scanned"
#define CLAMAV_STATUS_HEADER	"X-Virus-Status"
#define CLAMAV_NAME_MAX		128
#define CLAMD_VERSION_EVERY	300	/* seconds between VERSIONs */
#define CLAMD_VERSION_MAX	256

/* One compiled engine, counted. */
struct clamav_engine {
	struct cl_engine *engine;
	unsigned refs;			/* under ce_lock */
	unsigned sigs;
	time_t dbtime;			/* see ce_dbtime */
	char *dir;
	struct cl_stat dbstat;		/* the directory when loaded */
	int stat_ok;
	/* what the engine was made with: a reload with the same keeps it */
	char *tmpdir;			/* NULL: libclamav's default */
	long max_scan_size;
	long max_file_size;
	int max_recursion;
	int max_files;
};

/* ce_cond: reload requests, stop, and a reference dropped (a blocking
 * reload waits for the old engine's scans) */
static pthread_mutex_t ce_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ce_cond = PTHREAD_COND_INITIALIZER;
static struct clamav_engine *ce_current;
static int ce_requested;
static int ce_stop;
static int ce_failed;			/* the last load failed: retry */
static int ce_thread_on;
static pthread_t ce_tid;
static unsigned long ce_reload_count;
static int ce_clamd_on;			/* the gauge is clamd's (thread's) */

static struct metric_series *m_sigs;
static struct metric_series *m_dbtime;
static struct metric *m_reloads;
static struct metric *m_scans;

/* ce_log - libclamav's own messages, to our log */
static void
ce_log(enum cl_msg severity, const char *fullmsg, const char *msg,
       void *context)
{
	size_t len = strlen(msg);

	(void)fullmsg;
	(void)context;
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	if (severity == CL_MSG_ERROR)
		msg_warn("libclamav: %.*s", (int)len, msg);
	else if (severity == CL_MSG_WARN)
		msg_info("libclamav: %.*s", (int)len, msg);
}

/* ce_free - free an engine (no reference left) */
static void
ce_free(struct clamav_engine *ce)
{
	if (ce == NULL)
		return;
	if (ce->engine != NULL)
		cl_engine_free(ce->engine);
	if (ce->stat_ok)
		cl_statfree(&ce->dbstat);
	free(ce->dir);
	free(ce->tmpdir);
	free(ce);
}

/* ce_get - a reference to the current engine, or NULL */
static struct clamav_engine *
ce_get(void)
{
	struct clamav_engine *ce;

	pthread_mutex_lock(&ce_lock);
	if ((ce = ce_current) != NULL)
		ce->refs++;
	pthread_mutex_unlock(&ce_lock);
	return ce;
}

/* ce_put - drop a reference; the last one frees the engine */
static void
ce_put(struct clamav_engine **cep)
{
	struct clamav_engine *ce = *cep;
	unsigned left;

	*cep = NULL;
	if (ce == NULL)
		return;
	pthread_mutex_lock(&ce_lock);
	left = --ce->refs;
	pthread_cond_broadcast(&ce_cond);
	pthread_mutex_unlock(&ce_lock);
	if (left == 0)
		ce_free(ce);
}

/* ce_swap - make ce (NULL: none) current, taking over the caller's
 * reference; the old one's is dropped */
static void
ce_swap(struct clamav_engine *ce)
{
	struct clamav_engine *old;

	pthread_mutex_lock(&ce_lock);
	old = ce_current;
	ce_current = ce;
	pthread_mutex_unlock(&ce_lock);
	ce_put(&old);
}

/* ce_limit - one limit to the engine; 0, or -1 with err */
static int
ce_limit(struct cl_engine *e, enum cl_engine_field f, const char *name,
	 long long v, char *err, size_t errlen)
{
	cl_error_t rc = cl_engine_set_num(e, f, v);

	if (rc != CL_SUCCESS) {
		x_err(err, errlen, "%s=%lld: %s", name, v, cl_strerror(rc));
		return -1;
	}
	return 0;
}

/* ce_tmpdir - libclamav's temporary files (the parts it extracts) in
 * the spool directory, the daemon's own, rather than in /tmp; where
 * that cannot be, libclamav's default, logged.  The directory set
 * (NULL: the default) is the engine's, kept to compare at reloads. */
static void
ce_tmpdir(struct clamav_engine *ce, const struct conf *conf)
{
	char err[512], *dir = milter_body_spool_dir(conf, err, sizeof(err));
	cl_error_t rc;

	if (dir == NULL) {
		msg_warn("clamav: %s: libclamav's temporary files go to its "
			 "default directory", err);
		return;
	}
	if ((rc = cl_engine_set_str(ce->engine, CL_ENGINE_TMPDIR, dir))
	    != CL_SUCCESS) {
		msg_warn("clamav: temporary directory %s: %s", dir,
			 cl_strerror(rc));
		free(dir);
		return;
	}
	ce->tmpdir = dir;
}

/* ce_dbtime - when the loaded database was made: the build time of
 * its newest .cvd/.cld (libclamav's CL_ENGINE_DB_TIME, which freshclam
 * moves forward with each daily update), or, for a directory without
 * one (.hdb, .ndb ... files of one's own), the newest mtime of a file
 * in it; 0 if neither is known */
static time_t
ce_dbtime(struct cl_engine *e, const char *dir)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	time_t newest = 0;
	long long t;
	int rc = CL_SUCCESS;
	DIR *d;

	t = cl_engine_get_num(e, CL_ENGINE_DB_TIME, &rc);
	if (rc == CL_SUCCESS && t > 0)
		return (time_t)t;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)
		    && st.st_mtime > newest)
			newest = st.st_mtime;
	}
	closedir(d);
	return newest;
}

/* ce_build - an engine of conf's database and limits, one reference
 * (the caller's); NULL with err */
static struct clamav_engine *
ce_build(const struct conf *conf, char *err, size_t errlen)
{
	const struct milter_clamav_conf *cc = &((const struct milter_conf *)
		conf_get(conf, &milter_conf_section))->clamav;
	struct clamav_engine *ce = x_calloc(1, sizeof(*ce));
	struct stat st;
	cl_error_t rc;

	ce->refs = 1;
	ce->dir = x_strdup(cc->database);
	ce->max_scan_size = cc->max_scan_size;
	ce->max_file_size = cc->max_file_size;
	ce->max_recursion = cc->max_recursion;
	ce->max_files = cc->max_files;
	if (stat(cc->database, &st) < 0) {
		x_err(err, errlen, "%s: %s", cc->database, strerror(errno));
		goto bad;
	}
	if (!S_ISDIR(st.st_mode)) {
		x_err(err, errlen, "%s: not a directory", cc->database);
		goto bad;
	}
	if ((ce->engine = cl_engine_new()) == NULL) {
		x_err(err, errlen, "cl_engine_new failed");
		goto bad;
	}
	ce_tmpdir(ce, conf);
	if (ce_limit(ce->engine, CL_ENGINE_MAX_SCANSIZE, "clamav_max_scan_size",
		     cc->max_scan_size, err, errlen) < 0
	    || ce_limit(ce->engine, CL_ENGINE_MAX_FILESIZE,
			"clamav_max_file_size", cc->max_file_size, err,
			errlen) < 0
	    || ce_limit(ce->engine, CL_ENGINE_MAX_RECURSION,
			"clamav_max_recursion", cc->max_recursion, err,
			errlen) < 0
	    || ce_limit(ce->engine, CL_ENGINE_MAX_FILES, "clamav_max_files",
			cc->max_files, err, errlen) < 0)
		goto bad;
	/* the directory as it is before the load: a change made during
	 * the load is seen by the next check */
	memset(&ce->dbstat, 0, sizeof(ce->dbstat));
	ce->stat_ok = cl_statinidir(cc->database, &ce->dbstat) == CL_SUCCESS;
	if ((rc = cl_load(cc->database, ce->engine, &ce->sigs, CL_DB_STDOPT))
	    != CL_SUCCESS) {
		x_err(err, errlen, "cl_load %s: %s", cc->database,
		      cl_strerror(rc));
		goto bad;
	}
	ce->dbtime = ce_dbtime(ce->engine, cc->database);
	if ((rc = cl_engine_compile(ce->engine)) != CL_SUCCESS) {
		x_err(err, errlen, "cl_engine_compile %s: %s", cc->database,
		      cl_strerror(rc));
		goto bad;
	}
	return ce;
bad:
	ce_free(ce);
	return NULL;
}

/* ce_loaded - log and count an engine made current (what: "loaded",
 * "reloaded"; why: the reason) */
static void
ce_loaded(const struct clamav_engine *ce, const char *what, const char *why)
{
	msg_info("clamav: engine %s (%s): libclamav %s, %u signatures, "
		 "database %s", what, why, cl_retver(), ce->sigs, ce->dir);
	if (m_sigs != NULL) {
		metric_series_set(m_sigs, (double)ce->sigs);
		if (!ce_clamd_on)	/* clamd scans: its database's age */
			metric_series_set(m_dbtime, (double)ce->dbtime);
		metric_inc(m_reloads, "ok");
	}
	pthread_mutex_lock(&ce_lock);
	ce_reload_count++;
	pthread_mutex_unlock(&ce_lock);
}

/* milter_clamav_reloads - engines made current so far */
unsigned long
milter_clamav_reloads(void)
{
	unsigned long n;

	pthread_mutex_lock(&ce_lock);
	n = ce_reload_count;
	pthread_mutex_unlock(&ce_lock);
	return n;
}

/* milter_clamav_init - libclamav, metrics, the first engine */
int
milter_clamav_init(const struct conf *conf, char *err, size_t errlen)
{
	const struct milter_conf *mc = conf_get(conf, &milter_conf_section);
	struct clamav_engine *ce;
	char why[512];
	cl_error_t rc;

	m_sigs = metric_series(metrics_gauge("elemta_milter_clamav_signatures",
					     "Signatures of the ClamAV engine "
					     "in use", NULL));
	m_dbtime = metric_series(metrics_gauge(
	    "elemta_milter_clamav_database_timestamp_seconds",
	    "When the ClamAV database in use was built (Unix time; 0: no "
	    "engine)", NULL));
	m_reloads = metrics_counter("elemta_milter_clamav_reloads_total",
				    "ClamAV engine reloads: compiled (ok), "
				    "not (failed), or kept as the database "
				    "and options had not changed (unchanged)",
				    "result");
	m_scans = metrics_counter("elemta_milter_clamav_scans_total",
				  "ClamAV scans by result", "result");
	metric_add(m_scans, 0, "error");	/* at 0: see milter-rspamd.c */
	metric_add(m_reloads, 0, "unchanged");
	cl_set_clcb_msg(ce_log);
	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		x_err(err, errlen, "clamav: cl_init: %s", cl_strerror(rc));
		return -1;
	}
	if (mc->clamav.clamd != NULL)
		msg_info("clamav: scanning by clamd at %s (INSTREAM)",
			 mc->clamav.clamd);
	if (mc->clamav.database == NULL)
		return 0;
	if ((ce = ce_build(conf, why, sizeof(why))) == NULL) {
		x_err(err, errlen, "clamav: %s", why);
		return -1;
	}
	ce_swap(ce);
	ce_loaded(ce, "loaded", "start");
	return 0;
}

/* ce_db_changed - the database directory of ce changed since it was
 * loaded: 1, 0, or -1 when that cannot be told.  cl_statchkdir sees a
 * file added or changed, not one removed: the count of database files
 * does. */
static int
ce_db_changed(struct clamav_engine *ce)
{
	struct cl_stat now;
	int rc;

	if (!ce->stat_ok)
		return -1;
	if ((rc = cl_statchkdir(&ce->dbstat)) != 0)
		return rc == 1 ? 1 : -1;
	memset(&now, 0, sizeof(now));
	if (cl_statinidir(ce->dir, &now) != CL_SUCCESS)
		return -1;
	rc = now.entries != ce->dbstat.entries;
	cl_statfree(&now);
	return rc;
}

/* ce_str_same - two strings, either NULL, equal */
static int
ce_str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ce_options_same - conf would make ce's engine: the same database
 * directory, limits and temporary directory */
static int
ce_options_same(const struct clamav_engine *ce, const struct conf *conf)
{
	const struct milter_clamav_conf *cc = &((const struct milter_conf *)
		conf_get(conf, &milter_conf_section))->clamav;
	char err[512], *tmpdir;
	int same;

	if (strcmp(ce->dir, cc->database) != 0
	    || ce->max_scan_size != cc->max_scan_size
	    || ce->max_file_size != cc->max_file_size
	    || ce->max_recursion != cc->max_recursion
	    || ce->max_files != cc->max_files)
		return 0;
	tmpdir = milter_body_spool_dir(conf, err, sizeof(err));
	same = ce_str_same(ce->tmpdir, tmpdir);
	free(tmpdir);
	return same;
}

/* ce_reload_why - why a reload of the milter compiles an engine from
 * conf; NULL: it would be the engine in use (kept) */
static const char *
ce_reload_why(const struct conf *conf)
{
	struct clamav_engine *ce;
	const char *why = NULL;

	if (ce_failed || (ce = ce_get()) == NULL)
		return "no engine in use";
	if (!ce_options_same(ce, conf))
		why = "engine options changed";
	else
		switch (ce_db_changed(ce)) {
		case 1:
			why = "database changed";
			break;
		case -1:
			why = "database state unknown";
			break;
		}
	ce_put(&ce);
	return why;
}

/* ce_reload - a new engine from the published configuration; with
 * check (a reload of the milter), only if it would differ from the
 * engine in use */
static void
ce_reload(const char *why, int check)
{
	struct milter_gen *g = milter_gen_current();
	const struct milter_clamav_conf *cc;
	struct clamav_engine *old, *ce;
	const char *because;
	char err[512];

	if (g == NULL)
		return;
	cc = &((const struct milter_conf *)conf_get(g->conf,
			&milter_conf_section))->clamav;
	if (cc->database == NULL) {
		ce_swap(NULL);
		ce_failed = 0;
		if (m_sigs != NULL) {
			metric_series_set(m_sigs, 0);
			if (!ce_clamd_on)
				metric_series_set(m_dbtime, 0);
		}
		milter_gen_unref(&g);
		return;
	}
	if (check && (because = ce_reload_why(g->conf)) == NULL) {
		msg_info("clamav: engine unchanged (%s): database %s and "
			 "engine options as loaded: no compile, the engine in "
			 "use kept", why, cc->database);
		if (m_reloads != NULL)
			metric_inc(m_reloads, "unchanged");
		milter_gen_unref(&g);
		return;
	}
	if (check)
		msg_info("clamav: %s: %s: compiling a new engine", why,
			 because);
	if (cc->reload_blocking) {
		/* one engine in memory at a time: the old one goes first,
		 * once the scans that hold it end */
		pthread_mutex_lock(&ce_lock);
		old = ce_current;
		ce_current = NULL;
		while (old != NULL && old->refs > 1)
			pthread_cond_wait(&ce_cond, &ce_lock);
		pthread_mutex_unlock(&ce_lock);
		if (old != NULL)
			msg_info("clamav: blocking reload (%s): scans get "
				 "clamav_fail_action until the new engine is "
				 "ready", why);
		ce_put(&old);
	}
	if ((ce = ce_build(g->conf, err, sizeof(err))) == NULL) {
		msg_error("clamav: reload (%s) failed: %s: %s", why, err,
			  cc->reload_blocking ? "no engine: scans get "
			  "clamav_fail_action until a reload succeeds"
			  : "keeping the engine loaded before");
		if (m_reloads != NULL)
			metric_inc(m_reloads, "failed");
		ce_failed = 1;
	} else {
		ce_swap(ce);
		ce_loaded(ce, "reloaded", why);
		ce_failed = 0;
	}
	milter_gen_unref(&g);
}

/* ce_check_every - clamav_reload_check of the published configuration
 * (0: no database, or no checks) */
static long
ce_check_every(void)
{
	struct milter_gen *g = milter_gen_current();
	const struct milter_conf *mc;
	long every = 0;

	if (g != NULL) {
		mc = conf_get(g->conf, &milter_conf_section);
		if (mc->clamav.database != NULL)
			every = mc->clamav.reload_check;
		milter_gen_unref(&g);
	}
	return every;
}

/* ce_changed - the database directory changed since the engine was
 * loaded (or the last load failed and is to be tried again) */
static int
ce_changed(void)
{
	struct clamav_engine *ce = ce_get();
	int changed;

	if (ce == NULL)
		return ce_failed;
	changed = ce_db_changed(ce) == 1;
	ce_put(&ce);
	return changed;
}

/* ce_printable - s with what is not printable ASCII made '?', in place
 * (a peer's reply, for the log) */
static char *
ce_printable(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return s;
}

/* ce_clamd_version - clamd's database, from its VERSION reply, into
 * elemta_milter_clamav_database_timestamp_seconds (0: clamd named no
 * database); logged when the reply differs from last (the thread's, the
 * previous reply or "") */
static void
ce_clamd_version(const struct milter_clamav_conf *cc, char *last,
		 size_t lastlen)
{
	char reply[CLAMD_VERSION_MAX], engine[64], built[64], err[512];
	unsigned long ver;
	time_t t;
	struct tm tm;

	if (clamd_version(cc->clamd, cc->clamd_timeout, reply, sizeof(reply),
			  err, sizeof(err)) < 0) {
		msg_warn("clamav: clamd's database age unknown (kept): %s", err);
		last[0] = '\0';
		return;
	}
	if (clamd_version_parse(reply, engine, sizeof(engine), &ver, &t) < 0) {
		msg_warn("clamav: clamd %s: not a VERSION reply: \"%.100s\"",
			 cc->clamd, ce_printable(reply));
		last[0] = '\0';
		return;
	}
	if (m_dbtime != NULL)
		metric_series_set(m_dbtime, (double)t);
	if (strcmp(reply, last) == 0)
		return;
	snprintf(last, lastlen, "%s", reply);
	ce_printable(engine);
	if (ver == 0) {
		msg_info("clamav: clamd at %s: ClamAV %s, no database version "
			 "(no daily.cvd loaded): the database's age is unknown",
			 cc->clamd, engine);
		return;
	}
	strftime(built, sizeof(built), "%Y-%m-%dT%H:%M:%S%z",
		 localtime_r(&t, &tm));
	msg_info("clamav: clamd at %s: ClamAV %s, database version %lu built "
		 "%s", cc->clamd, engine, ver, built);
}

/* ce_clamd_gone - clamav_clamd unset: the gauge is the engine's again
 * (0 without one) */
static void
ce_clamd_gone(void)
{
	struct clamav_engine *ce = ce_get();

	if (m_dbtime != NULL)
		metric_series_set(m_dbtime, ce != NULL ? (double)ce->dbtime : 0);
	ce_put(&ce);
}

/* ce_clamd_check - clamd's database age, asked when due (due: the
 * monotonic time of the next question; 0: now) and not more often than
 * every CLAMD_VERSION_EVERY seconds, never per message; the seconds
 * until the next (0: no clamd configured) */
static long
ce_clamd_check(double *due, char *last, size_t lastlen)
{
	struct milter_gen *g = milter_gen_current();
	const struct milter_clamav_conf *cc;
	double now = clock_mono_s();
	long left = 0;

	if (g == NULL)
		return 0;
	cc = &((const struct milter_conf *)conf_get(g->conf,
			&milter_conf_section))->clamav;
	if (ce_clamd_on && cc->clamd == NULL)
		ce_clamd_gone();
	ce_clamd_on = cc->clamd != NULL;
	if (!ce_clamd_on) {
		last[0] = '\0';
	} else if (now >= *due) {
		*due = now + CLAMD_VERSION_EVERY;
		ce_clamd_version(cc, last, lastlen);
		left = CLAMD_VERSION_EVERY;
	} else {
		left = (long)(*due - now) + 1;
	}
	milter_gen_unref(&g);
	return left;
}

/* ce_thread - reloads: asked for, or the database changed; clamd's
 * database age */
static void *
ce_thread(void *arg)
{
	char clamd_last[CLAMD_VERSION_MAX] = "";
	double clamd_due = 0;
	struct timespec ts;
	sigset_t all;
	long every, wait, clamd_wait;
	int req, stop;

	(void)arg;
	sigfillset(&all);		/* signals are the main thread's */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		every = ce_check_every();
		wait = every > 0 ? every : 3600;
		clamd_wait = ce_clamd_check(&clamd_due, clamd_last,
					    sizeof(clamd_last));
		if (clamd_wait > 0 && clamd_wait < wait)
			wait = clamd_wait;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait;
		pthread_mutex_lock(&ce_lock);
		while (!ce_stop && !ce_requested)
			if (pthread_cond_timedwait(&ce_cond, &ce_lock, &ts)
			    == ETIMEDOUT)
				break;
		stop = ce_stop;
		req = ce_requested;
		ce_requested = 0;
		pthread_mutex_unlock(&ce_lock);
		if (stop)
			break;
		if (req) {
			ce_reload("reload", 1);
			clamd_due = 0;	/* clamd's database asked again */
		} else if (every > 0 && ce_changed())
			ce_reload("database changed", 0);
	}
	return NULL;
}

/* milter_clamav_start - the reload thread */
void
milter_clamav_start(void)
{
	if ((errno = pthread_create(&ce_tid, NULL, ce_thread, NULL)) != 0)
		msg_fatal("clamav: pthread_create: %m");
	ce_thread_on = 1;
}

/* milter_clamav_reload - ask the reload thread for a new engine */
void
milter_clamav_reload(void)
{
	pthread_mutex_lock(&ce_lock);
	ce_requested = 1;
	pthread_cond_broadcast(&ce_cond);
	pthread_mutex_unlock(&ce_lock);
}

/* milter_clamav_finish - stop the thread, drop the engine */
void
milter_clamav_finish(void)
{
	if (ce_thread_on) {
		pthread_mutex_lock(&ce_lock);
		ce_stop = 1;
		pthread_cond_broadcast(&ce_cond);
		pthread_mutex_unlock(&ce_lock);
		pthread_join(ce_tid, NULL);
		ce_thread_on = 0;
	}
	ce_swap(NULL);
}

/* milter_clamav_wanted - the stage reads the whole message when on */
int
milter_clamav_wanted(const struct milter_conf *mc)
{
	return mc->clamav.database != NULL || mc->clamav.clamd != NULL;
}

/* clamav_count - one scan's result in the metrics */
static void
clamav_count(const char *result)
{
	if (m_scans != NULL)
		metric_inc(m_scans, result);
}

/* clamav_fail - no scan: clamav_fail_action */
static void
clamav_fail(struct milter_msg *m, const char *why)
{
	int a = m->conn->mc->clamav.fail_action;

	clamav_count("error");
	qid_warn(m->qid, "clamav: no scan: %s: %s", why,
		 a == MILTER_TEMPFAIL ? "tempfail" : "accepted unscanned");
	milter_msg_summary(m, "clamav=error");
	milter_msg_enforce(m, MILTER_REPLY_CLAMAV, a,
			   "virus scan unavailable, try again later");
}

/* clamav_name - the virus name, safe for a reply and a header */
static void
clamav_name(const char *virname, char *out, size_t len)
{
	size_t i;

	/* libclamav 1.4 names no signature when the message as a whole
	 * is over a limit (clamav_alert_exceeds_max): a heuristic */
	snprintf(out, len, "%s", virname != NULL && *virname != '\0'
		 ? virname : "Heuristics.Limits.Exceeded");
	for (i = 0; out[i] != '\0'; i++)
		if (!(out[i] >= 'a' && out[i] <= 'z')
		    && !(out[i] >= 'A' && out[i] <= 'Z')
		    && !(out[i] >= '0' && out[i] <= '9')
		    && strchr("._-:/+", out[i]) == NULL)
			out[i] = '_';
}

/* clamav_found - act on a virus or a heuristic alert */
static void
clamav_found(struct milter_msg *m, const char *name)
{
	const struct milter_clamav_conf *cc = &m->conn->mc->clamav;
	int heuristic = strncmp(name, "Heuristics.", 11) == 0;
	int act = heuristic ? cc->heuristic_action : cc->action;
	char *text, *status;

	clamav_count(heuristic ? "heuristic" : "virus");
	milter_msg_summary(m, "clamav=%s virus=%s", heuristic ? "heuristic"
			   : "virus", name);
	text = x_asprintf("%s: %s", heuristic ? "content refused"
			  : "virus found", name);
	status = x_asprintf("Infected (%s)", name);
	switch (act) {
	case CLAMAV_ACTION_REJECT:
		milter_msg_enforce(m, MILTER_REPLY_CLAMAV, MILTER_REJECT, text);
		break;
	case CLAMAV_ACTION_DISCARD:
		milter_msg_enforce(m, MILTER_REPLY_CLAMAV, MILTER_DISCARD,
				   text);
		break;
	case CLAMAV_ACTION_QUARANTINE:
		milter_msg_enforce(m, MILTER_REPLY_CLAMAV, MILTER_QUARANTINE,
				   text);
		milter_msg_add_header(m, CLAMAV_STATUS_HEADER, status);
		break;
	case CLAMAV_ACTION_HEADER:
		milter_msg_add_header(m, CLAMAV_STATUS_HEADER, status);
		break;
	default:		/* accept: a heuristic alert, logged */
		break;
	}
	free(text);
	free(status);
}

/* clamav_scan_engine - libclamav on p: CLAMD_CLEAN, CLAMD_VIRUS (name),
 * CLAMD_ERROR (err) */
static int
clamav_scan_engine(const struct milter_clamav_conf *cc,
		   const unsigned char *p, size_t len, char *name,
		   size_t namelen, char *err, size_t errlen)
{
	struct cl_scan_options opts;
	struct clamav_engine *ce;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t rc;

	if ((ce = ce_get()) == NULL) {
		x_err(err, errlen, "no engine loaded");
		return CLAMD_ERROR;
	}
	if ((map = cl_fmap_open_memory(p, len)) == NULL) {
		ce_put(&ce);
		x_err(err, errlen, "cl_fmap_open_memory failed");
		return CLAMD_ERROR;
	}
	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0u;
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	if (cc->alert_encrypted)
		opts.heuristic |= CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE
				  | CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
	if (cc->alert_exceeds_max)
		opts.heuristic |= CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	rc = cl_scanmap_callback(map, NULL, &virname, &scanned, ce->engine,
				 &opts, NULL);
	cl_fmap_close(map);
	/* the name lives in the engine: copied before it is let go */
	if (rc == CL_VIRUS)
		clamav_name(virname, name, namelen);
	ce_put(&ce);
	if (rc == CL_CLEAN)
		return CLAMD_CLEAN;
	if (rc == CL_VIRUS)
		return CLAMD_VIRUS;
	x_err(err, errlen, "%s", cl_strerror(rc));
	return CLAMD_ERROR;
}

/* milter_clamav_eom - scan the message's copy, in the process or by
 * clamd */
void
milter_clamav_eom(struct milter_msg *m)
{
	const struct milter_clamav_conf *cc = &m->conn->mc->clamav;
	const unsigned char *p;
	char name[CLAMAV_NAME_MAX], raw[CLAMAV_NAME_MAX], err[512];
	size_t len;
	int rc;

	if (cc->database == NULL && cc->clamd == NULL)
		return;
	/* refused already (SPF, DMARC, a limit...): a virus would change
	 * the reply's text only, the message is refused either way */
	if (milter_msg_refused(m)) {
		clamav_count("refused");
		milter_msg_summary(m, "clamav=skipped(refused)");
		return;
	}
	if (milter_body_oversize(m)) {
		clamav_count("skipped");
		milter_msg_summary(m, "clamav=skipped");
		return;
	}
	if (milter_body_map(m, &p, &len) < 0) {
		clamav_fail(m, milter_body_error(m));
		return;
	}
	if (cc->clamd != NULL) {
		rc = clamd_scan(cc->clamd, cc->clamd_timeout, p, len, raw,
				sizeof(raw), err, sizeof(err));
		if (rc == CLAMD_VIRUS)
			clamav_name(raw, name, sizeof(name));
	} else {
		rc = clamav_scan_engine(cc, p, len, name, sizeof(name), err,
					sizeof(err));
	}
	switch (rc) {
	case CLAMD_CLEAN:
		clamav_count("clean");
		milter_msg_summary(m, "clamav=clean");
		break;
	case CLAMD_VIRUS:
		clamav_found(m, name);
		break;
	default:
		clamav_fail(m, err);
		return;
	}
	if (cc->scanned_header != NULL)
		milter_msg_add_header(m, CLAMAV_SCANNED_HEADER,
				      cc->scanned_header);
}
