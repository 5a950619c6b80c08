/*++
 * NAME
 *	control 3h
 * SUMMARY
 *	the control socket every daemon serves to elemta-ctl(8)
 * SYNOPSIS
 *	#include "control.h"
 *
 *	static int
 *	my_cmd(const struct control_req *req, struct control_out *out,
 *	       void *ctx)
 *	{
 *		control_put(out, "answer", "%d", 42);
 *		return CONTROL_OK;
 *	}
 *	control_register("answer", my_cmd, ctx, CONTROL_MAIN, "ANSWER");
 * DESCRIPTION
 *	A unix stream socket, bound before the privileges are dropped
 *	(0660, owned by the daemon's user and group: the operators are in
 *	that group), served by one thread, one client at a time.
 *
 *	The protocol is a line protocol.  The client sends one request
 *	line, "COMMAND ARG...", words separated by spaces (at most
 *	CONTROL_LINE_MAX bytes, printable ASCII).  The daemon answers
 *	with zero or more data lines "KEY<TAB>VALUE" (a key never starts
 *	with a dot; a value has its control characters and backslashes
 *	written as \xHH) and one end line, then closes:
 *
 *	.OK [message]
 *	.ERR KIND message	KIND: notfound, refused, usage, failed
 *
 *	Flat key/value answers print as text or as JSON on the client's
 *	side alike (elemta-ctl --json).  A key may repeat (a list).
 *
 *	Peers: SO_PEERCRED.  Root, the daemon's own uid and members of
 *	the socket's group (primary or supplementary) are served; anyone
 *	else who reaches the socket (its mode widened by hand) gets
 *	".ERR refused" and a warning in the log.  A command registered
 *	with CONTROL_CHANGE is logged at info with the peer's uid and pid
 *	before it runs, others at debug.
 *
 *	A command registered with CONTROL_MAIN runs in the daemon's own
 *	thread: the control thread hands it over and waits.  The daemon
 *	watches control_main_fd() in its event loop and calls
 *	control_main_run() when it is readable, at a point where its
 *	state may change (policyd: between two turns of its loop).
 *	Other commands run in the control thread and must be thread-safe.
 *
 *	Built in: "help" (the commands), "status" (the daemon, its pid,
 *	version, configuration generation and uptime) and "stats" (every
 *	series of the metrics registry but histogram buckets: the same
 *	figures /metrics shows, counted once).
 *--*/
#ifndef ELEMTA_CONTROL_H
#define ELEMTA_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "sys-defs.h"

#define CONTROL_LINE_MAX	1024
#define CONTROL_ARGS_MAX	16

/* What a handler returns: the end line's kind. */
enum control_status {
	CONTROL_OK = 0,
	CONTROL_NOTFOUND,	/* the key, daemon, ... does not exist */
	CONTROL_REFUSED,	/* not allowed */
	CONTROL_USAGE,		/* bad arguments */
	CONTROL_FAILED,		/* it went wrong (message says why) */
};

/* register flags */
#define CONTROL_MAIN	(1 << 0)	/* run in the daemon's thread */
#define CONTROL_CHANGE	(1 << 1)	/* changes state: logged at info */

struct control_req {
	int argc;			/* argv[0] is the command */
	char *argv[CONTROL_ARGS_MAX];
	uid_t uid;			/* the peer (SO_PEERCRED) */
	pid_t pid;
};

struct control_out;

typedef int (*control_fn)(const struct control_req *req,
			  struct control_out *out, void *ctx);

/* control_put - add a data line KEY<TAB>VALUE (value printf-style,
 * escaped); control_message - the end line's message */
void control_put(struct control_out *out, const char *key,
		 const char *fmt, ...) ATTR_PRINTF(3, 4);
void control_message(struct control_out *out, const char *fmt, ...)
	ATTR_PRINTF(2, 3);

/* control_register - add a command (before control_start; a name
 * registered again replaces the handler).  usage: the arguments, for
 * "help". */
void control_register(const char *name, control_fn fn, void *ctx,
		      int flags, const char *usage);

/* control_open - bind the socket at path (mode 0660; owner and group
 * when not NULL/"": as root); 0, or -1 with a message.  A live daemon
 * already answering there is an error, a stale socket file is
 * replaced (lib/listen). */
int control_open(const char *path, const char *owner, const char *group,
		 char *err, size_t errlen);

/* control_start - start the control thread (after the fork and the
 * privilege drop); 0, or -1 with a message.  Nothing when not open. */
int control_start(char *err, size_t errlen);

/* control_main_fd - readable when a CONTROL_MAIN command waits; -1 when
 * there is no control socket.  control_main_run - run it here. */
int control_main_fd(void);
void control_main_run(void);

/* control_stop - stop the thread, close and remove the socket */
void control_stop(void);

/* control_parse - split a request line into req (pure; for the tests):
 * 0, or -1 with a message (empty, too many words, a byte that is not
 * printable ASCII) */
int control_parse(char *line, struct control_req *req, char *err,
		  size_t errlen);

/* control_escape - value with control characters, DEL, bytes >= 0x80
 * and backslashes as \xHH; malloc'ed */
char *control_escape(const char *value);

#endif
