/*++
 * NAME
 *	log 3
 * SUMMARY
 *	logging to syslog (LOG_MAIL) or stderr
 * DESCRIPTION
 *	See log.h.  Lines are formatted into a stack buffer (no static
 *	buffers: the milter is threaded) and written with one write(2) to
 *	stderr, or one syslog(3) call, so concurrent lines never interleave.
 *	A reload's log_open() waits for lines in progress (log_lock).
 *	Over-long lines are truncated with "..." rather than split, and
 *	control characters in them (from whatever a peer sent) become
 *	'?': one call, one line.  It uses nothing else of lib/ (xalloc and
 *	conf use it); its [log] section is in log-conf.c.
 *--*/
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096

volatile int log_threshold = LOG_INFO;
void (*log_test_hook)(int prio, const char *line);
static const char *log_program = "elemta";	/* msg_stderr's prefix */

/*
 * The destination, the identity and the facility change on a reload
 * while other threads log: log_lock, taken for reading by every line and
 * for writing by log_open(), keeps a line from seeing them half changed.
 * syslog(3) keeps a pointer to the ident we give openlog(), and
 * libraries (libmilter) call syslog() without our lock: a new ident goes
 * into the other buffer, and openlog() (which takes glibc's own lock)
 * switches to it, so the text glibc may be reading is never rewritten.
 * Nothing is closed and reopened when nothing changed, which is the
 * common reload, and never closed before the new one is open.
 */
static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_facility = -1;
static char log_idents[2][64] = { "elemta", "" };
static int log_cur;
#define log_ident	(log_idents[log_cur])

static const struct log_name {
	const char *name;
	int value;
} log_levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "error", LOG_ERR }, { "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "warn", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { NULL, 0 },
}, log_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }, { NULL, 0 },
};

/* log_lookup - name to value in a table, -1 if unknown */
static int
log_lookup(const struct log_name *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcasecmp(t->name, name) == 0)
			return t->value;
	return -1;
}

/* log_level_parse - "info" -> LOG_INFO, -1 if unknown */
int
log_level_parse(const char *name)
{
	return log_lookup(log_levels, name);
}

/* log_facility_parse - "mail" -> LOG_MAIL, -1 if unknown */
int
log_facility_parse(const char *name)
{
	return log_lookup(log_facilities, name);
}

/* log_level_name - LOG_INFO -> "info" */
const char *
log_level_name(int prio)
{
	const struct log_name *t;

	for (t = log_levels; t->name != NULL; t++)
		if (t->value == prio)
			return t->name;
	return "unknown";
}

/* log_open - choose the destination; may be called again on reload */
void
log_open(const char *ident, enum log_dest dest, int facility)
{
	const char *base;
	int changed = 0;

	pthread_rwlock_wrlock(&log_lock);
	if (ident != NULL) {
		base = strrchr(ident, '/');
		base = base ? base + 1 : ident;
		if (strncmp(base, log_ident, sizeof(log_idents[0]) - 1) != 0) {
			snprintf(log_idents[1 - log_cur],
				 sizeof(log_idents[0]), "%s", base);
			log_cur = 1 - log_cur;
			changed = 1;
		}
	}
	if (dest == LOG_DEST_SYSLOG
	    && (changed || log_dest != dest || log_facility != facility))
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	else if (dest != LOG_DEST_SYSLOG && log_dest == LOG_DEST_SYSLOG)
		closelog();
	log_dest = dest;
	log_facility = facility;
	pthread_rwlock_unlock(&log_lock);
}

/* log_set_level - drop messages less important than prio */
void
log_set_level(int prio)
{
	log_threshold = prio;
}

/* log_close - close syslog */
void
log_close(void)
{
	pthread_rwlock_wrlock(&log_lock);
	if (log_dest == LOG_DEST_SYSLOG)
		closelog();
	log_dest = LOG_DEST_STDERR;
	log_facility = -1;
	pthread_rwlock_unlock(&log_lock);
}

/* log_emit - write one formatted line to the destination */
static void
log_emit(int prio, const char *line)
{
	char buf[LOG_LINE_MAX + 128];
	int n;

	if (log_test_hook != NULL)
		log_test_hook(prio, line);
	pthread_rwlock_rdlock(&log_lock);
	if (log_dest == LOG_DEST_SYSLOG) {
		syslog(prio, "%s", line);
		pthread_rwlock_unlock(&log_lock);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%s[%ld]: %s: %s\n", log_ident,
		     (long)getpid(), log_level_name(prio), line);
	pthread_rwlock_unlock(&log_lock);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* One write per line; a short write on stderr is not worth a retry
	 * loop that could block a milter thread. */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

/* log_sanitize - one line, whatever a peer sent: control characters
 * (CR and LF included) become '?', as Postfix's printable() does, so
 * that no value can forge a line or a field in the log.  8-bit bytes
 * (UTF-8 addresses) stay. */
static void
log_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* log_format - format into buf, marking truncation with "..." */
static void
log_format(char *buf, size_t len, const char *prefix, const char *fmt,
	   va_list ap)
{
	size_t off = 0;
	int n;

	if (prefix != NULL) {
		n = snprintf(buf, len, "%s: ", prefix);
		off = n > 0 && (size_t)n < len ? (size_t)n : 0;
	}
	n = vsnprintf(buf + off, len - off, fmt, ap);
	if (n > 0 && (size_t)n >= len - off)
		memcpy(buf + len - 4, "...", 4);
	log_sanitize(buf);
}

/* log_vwrite - format and emit one line */
void
log_vwrite(int prio, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;

	if (!log_enabled(prio))
		return;
	errno = saved;		/* for %m */
	log_format(line, sizeof(line), NULL, fmt, ap);
	log_emit(prio, line);
	errno = saved;
}

/* log_write - format and emit one line */
void
log_write(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(prio, fmt, ap);
	va_end(ap);
}

/* log_qid_write - one line prefixed with a queue id (NOQUEUE if none) */
void
log_qid_write(int prio, const char *qid, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int saved = errno;

	if (!log_enabled(prio))
		return;
	errno = saved;
	va_start(ap, fmt);
	log_format(line, sizeof(line), qid && *qid ? qid : "NOQUEUE", fmt,
		   ap);
	va_end(ap);
	log_emit(prio, line);
	errno = saved;
}

/* msg_vfatal - log and exit: the environment is broken */
static void ATTR_NORETURN
msg_vfatal(const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	log_format(line, sizeof(line), "fatal", fmt, ap);
	log_emit(LOG_CRIT, line);
	exit(1);
}

/* msg_fatal - log and exit: the environment is broken */
void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vfatal(fmt, ap);
}

/* msg_panic - log and abort: a programmer error */
void
msg_panic(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	log_format(line, sizeof(line), "panic", fmt, ap);
	va_end(ap);
	log_emit(LOG_CRIT, line);
	abort();
}

/* log_set_program - the prefix of msg_stderr's lines */
void
log_set_program(const char *name)
{
	log_program = name;
}

/* msg_vstderr - "PROGRAM: text" on stderr, the text as formatted */
static void
msg_vstderr(const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s\n", log_program, line);
	errno = saved;		/* for the %m of msg_fatal_stderr's log line */
}

/* msg_stderr - one line for whoever started the program, not logged */
void
msg_stderr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vstderr(fmt, ap);
	va_end(ap);
}

/* msg_fatal_stderr - the same line on stderr and in the log, then exit */
void
msg_fatal_stderr(const char *fmt, ...)
{
	va_list ap, again;

	va_start(ap, fmt);
	va_copy(again, ap);
	msg_vstderr(fmt, ap);
	va_end(ap);
	msg_vfatal(fmt, again);
}
