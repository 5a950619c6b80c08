/*++
 * NAME
 *	daemon 3h
 * SUMMARY
 *	process life cycle: detach, pidfile, privileges, signals
 * SYNOPSIS
 *	#include "daemon.h"
 * DESCRIPTION
 *	The order a daemon follows (lib/runtime.c does it for them):
 *	parse the configuration, bind listeners and open files as root,
 *	daemon_detach() unless in the foreground, daemon_pidfile_open(),
 *	daemon_drop_privileges(), then serve.  SIGTERM/SIGINT ask for a
 *	graceful stop and SIGHUP for a reload; both are recorded in flags
 *	and written to a self-pipe, so that a poll/event loop wakes up.
 *	Nothing here logs: errors go into the caller's buffer.
 *--*/
#ifndef ELEMTA_DAEMON_H
#define ELEMTA_DAEMON_H

#include <stddef.h>

/* daemon_detach - fork into the background, new session, stdio on
 * /dev/null, working directory / (so make paths absolute first; call
 * before starting threads).  The parent exits 0 once the child has
 * started, or 1 if the child failed to set itself up (the child then
 * returns -1 with the message, stderr still open).  Returns 0 in the
 * child, -1 with a message on failure.  A pidfile already open stays
 * locked and gets the child's pid before the parent exits, so opening
 * it first lets "already running" reach the terminal and exit 1. */
int daemon_detach(char *err, size_t errlen);

/* daemon_pidfile_open - create and lock path, write our pid.  Fails
 * (naming the pid) when another live process holds the lock.  The file
 * is removed by daemon_pidfile_remove() (call before exit), only by the
 * process that opened it and only if path is still that file.  A
 * symbolic link is refused. */
int daemon_pidfile_open(const char *path, char *err, size_t errlen);
void daemon_pidfile_remove(void);

/* daemon_drop_privileges - when running as root: initgroups, setgid,
 * setuid to user/group (group NULL or "": the user's primary group),
 * verifying that root cannot be regained.  When not root: 0 if user is
 * NULL/"" or already us, else -1.  An unknown user or group is an
 * error that names it; so is a group without a user. */
int daemon_drop_privileges(const char *user, const char *group,
			   char *err, size_t errlen);

/* Signals: SIGTERM and SIGINT -> DAEMON_EV_STOP, SIGHUP and SIGUSR1 ->
 * DAEMON_EV_RELOAD, SIGPIPE ignored.  daemon_signal_fd() becomes
 * readable when an event is pending; daemon_signal_take() returns the
 * pending events (a bit mask) and clears them and the pipe.
 * daemon_signals_init() may be called again (same pipe).
 * daemon_signals_hold() blocks the three from the start of the process
 * until daemon_signals_init() has its handlers in place and unblocks
 * them: a SIGHUP (a "systemctl reload" just after the start) or a
 * SIGTERM that comes while the daemon reads its configuration and binds
 * its listeners waits for the handlers, instead of killing the daemon
 * by the default action. */
enum {
	DAEMON_EV_STOP = 1,
	DAEMON_EV_RELOAD = 2,
};
void daemon_signals_hold(void);
int daemon_signals_init(char *err, size_t errlen);
int daemon_signal_fd(void);
int daemon_signal_take(void);

/* daemon_thread_background - the calling thread (a writer behind the
 * daemon's real work) runs at nice inc (Linux: per thread), with every
 * signal blocked so that the daemon's own threads take them; 0, or -1
 * (errno) when the priority could not be lowered */
int daemon_thread_background(int inc);

/* The per-daemon options every daemon section has (see DAEMON_CONF_OPTS
 * in lib/runtime.h). */
struct cidr;
struct daemon_conf {
	char *listen;		/* listener spec */
	struct cidr *allow;	/* listen_allow: TCP clients let in */
	size_t nallow;
	char *metrics_listen;	/* NULL: no metrics endpoint */
	struct cidr *metrics_allow;	/* metrics_allow: its TCP clients */
	size_t nmetrics_allow;
	char *user;		/* NULL: stay who we are */
	char *group;		/* NULL: the user's primary group */
	char *pidfile;		/* NULL: none */
	char *control_socket;	/* NULL: none (lib/control.h) */
};

#endif
