/*++
 * NAME
 *	log 3h
 * SUMMARY
 *	logging to syslog (LOG_MAIL) or stderr
 * SYNOPSIS
 *	#include "log.h"
 *
 *	msg_info("listening on %s", spec);
 *	qid_warn(qid, "dkim=fail reason=%s", why);	   "3F2A1C12: dkim=..."
 * DESCRIPTION
 *	The level is checked before anything is formatted: a disabled
 *	msg_debug() costs one comparison.  Lines about a message start with
 *	the Postfix queue id ("NOQUEUE" before there is one), then
 *	key=value pairs.  The error ladder follows Postfix: msg_warn for bad
 *	peer input (and the caller returns -1), msg_fatal for a broken
 *	environment (exit 1), msg_panic for programmer errors (abort).
 *
 *	Whoever starts a program reads its stderr, which the log does not
 *	reach once it goes to syslog: msg_stderr() writes one line there,
 *	"PROGRAM: text" (PROGRAM as log_set_program() set it, whatever the
 *	log's ident), and msg_fatal_stderr() writes it there and then
 *	fails as msg_fatal() does, for a daemon that cannot start.
 *	Whatever the arguments hold, a call logs one line: control
 *	characters (a peer's CR LF) are written as '?'.
 *
 *	log_open() may be called again while other threads log (a reload
 *	changes the level, the facility or the ident): a line sees the old
 *	settings or the new ones, never a mix, and syslog is reopened only
 *	when something changed, never closed under another thread's line.
 *--*/
#ifndef ELEMTA_LOG_H
#define ELEMTA_LOG_H

#include <stdarg.h>
#include <syslog.h>

#include "sys-defs.h"

enum log_dest {
	LOG_DEST_SYSLOG,	/* syslog(3), the configured facility */
	LOG_DEST_STDERR,	/* "prog[pid]: level: text" on stderr */
};

/* messages with a priority numerically above this are dropped */
extern volatile int log_threshold;

void log_open(const char *ident, enum log_dest dest, int facility);
void log_set_level(int prio);
void log_close(void);

/* Names <-> values: "debug".."emerg"; "mail", "local0".."local7", ...
 * Return -1 for an unknown name. */
int log_level_parse(const char *name);
const char *log_level_name(int prio);
int log_facility_parse(const char *name);

void log_write(int prio, const char *fmt, ...) ATTR_PRINTF(2, 3);
void log_vwrite(int prio, const char *fmt, va_list ap) ATTR_PRINTF(2, 0);
void log_qid_write(int prio, const char *qid, const char *fmt, ...)
	ATTR_PRINTF(3, 4);

void msg_fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
void msg_panic(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

/* The command's name on stderr ("elemta-milter"); name is not copied.
 * Set once at start, before any thread. */
void log_set_program(const char *name);
void msg_stderr(const char *fmt, ...) ATTR_PRINTF(1, 2);
void msg_fatal_stderr(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

#define log_enabled(prio) ((prio) <= log_threshold)

#define LOG_IF_(prio, ...) do { \
	if (log_enabled(prio)) log_write((prio), __VA_ARGS__); } while (0)
#define msg_debug(...)	LOG_IF_(LOG_DEBUG, __VA_ARGS__)
#define msg_info(...)	LOG_IF_(LOG_INFO, __VA_ARGS__)
#define msg_notice(...)	LOG_IF_(LOG_NOTICE, __VA_ARGS__)
#define msg_warn(...)	LOG_IF_(LOG_WARNING, __VA_ARGS__)
#define msg_error(...)	LOG_IF_(LOG_ERR, __VA_ARGS__)

#define QLOG_IF_(prio, qid, ...) do { \
	if (log_enabled(prio)) log_qid_write((prio), (qid), __VA_ARGS__); } while (0)
#define qid_debug(qid, ...)	QLOG_IF_(LOG_DEBUG, qid, __VA_ARGS__)
#define qid_info(qid, ...)	QLOG_IF_(LOG_INFO, qid, __VA_ARGS__)
#define qid_notice(qid, ...)	QLOG_IF_(LOG_NOTICE, qid, __VA_ARGS__)
#define qid_warn(qid, ...)	QLOG_IF_(LOG_WARNING, qid, __VA_ARGS__)
#define qid_error(qid, ...)	QLOG_IF_(LOG_ERR, qid, __VA_ARGS__)

/* Test hook: when set, every formatted line (without the stderr
 * prefix) is passed here as well.  Not for production use. */
extern void (*log_test_hook)(int prio, const char *line);

#endif
