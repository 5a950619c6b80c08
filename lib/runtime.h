/*++
 * NAME
 *	runtime 3h
 * SUMMARY
 *	what every Elemta daemon does between main() and its work
 * SYNOPSIS
 *	#include "runtime.h"
 *
 *	static cfg_opt_t policyd_opts[] = {
 *		DAEMON_CONF_OPTS(ELEMTA_SOCKET_DEFAULT("policyd"), ""),
 *		CFG_INT("max_connections", 1000, CFGF_NONE),
 *		CFG_END()
 *	};
 *
 *	struct runtime rt;
 *	runtime_init(&rt, "elemta-policyd", argc, argv, elemta_sections,
 *		     &policyd_conf_section,
 *		     offsetof(struct policyd_conf, daemon), NULL);
 *	... serve, calling runtime_reload(&rt) on DAEMON_EV_RELOAD ...
 *	runtime_finish(&rt);
 * DESCRIPTION
 *	runtime_init() sets the umask (RUNTIME_UMASK), handles the common command line (-c -n -f -o -p -V -h),
 *	loads the configuration with the sections the daemon hands it
 *	(every daemon hands the whole schema, assembled above lib/ in
 *	sections-all.c, so that -n checks the whole file) (the embedded defaults when no file exists
 *	at the default path and -c was not given), opens the log, and with
 *	-n prints the problems (file:line) and exits.  runtime_listen()
 *	binds the section's listener (a daemon whose library binds for
 *	itself, like libmilter, skips it and binds before runtime_start).
 *	runtime_start() binds the metrics listener and the control socket
 *	(lib/control.h: "status", "stats" and "reload" are built in; a
 *	daemon registers its own commands before), detaches unless -f,
 *	writes the pidfile, drops privileges and starts the metrics server
 *	and the control thread.  runtime_reload() builds a new
 *	snapshot from the same file and overrides and publishes it; on
 *	error it logs the problems and keeps the old one.
 *--*/
#ifndef ELEMTA_RUNTIME_H
#define ELEMTA_RUNTIME_H

#include <stddef.h>
#include <getopt.h>
#include <sys/types.h>

#include "cidr.h"
#include "cli.h"
#include "conf.h"
#include "daemon.h"
#include "listen.h"

/*
 * The default listeners: unix sockets in a directory of Postfix's queue
 * directory, which a chrooted smtpd, cleanup or lmtp client (Debian's
 * default) reaches as "elemta/NAME.sock" and an unchrooted one as well
 * (Postfix runs in its queue directory); owned by the daemon's user,
 * group postfix, 0660: only Postfix and the daemon may connect.  The
 * directory is made at start, elemta:postfix 0750, when missing.
 */
#define ELEMTA_SOCKET_DIR	"/var/spool/postfix/elemta"
#define ELEMTA_SOCKET_DEFAULT(name)					\
	"unix:" ELEMTA_SOCKET_DIR "/" name ".sock,mode=0660,owner=elemta," \
	"group=postfix"

/*
 * The default control sockets (lib/control.h, elemta-ctl(8)): one per
 * daemon in a directory of their own, made at start (elemta, the
 * daemon's group, 0750) when missing; 0660, so that the members of
 * the daemon's group may use elemta-ctl.
 */
#define ELEMTA_CONTROL_DIR	"/run/elemta"
#define ELEMTA_CONTROL_DEFAULT(name)	ELEMTA_CONTROL_DIR "/" name ".ctl"

/* The options every daemon section has, in this order. */
#define DAEMON_CONF_OPTS(listen_default, pidfile_default, control_default) \
	CFG_STR("listen", listen_default, CFGF_NONE),			\
	CFG_STR_LIST("listen_allow", "{127.0.0.0/8, ::1/128}", CFGF_NONE), \
	CFG_STR("metrics_listen", "", CFGF_NONE),			\
	CFG_STR_LIST("metrics_allow", "{127.0.0.0/8, ::1/128}", CFGF_NONE), \
	CFG_STR("user", "elemta", CFGF_NONE),				\
	CFG_STR("group", "", CFGF_NONE),				\
	CFG_STR("pidfile", pidfile_default, CFGF_NONE),			\
	CFG_STR("control_socket", control_default, CFGF_NONE)
#define DAEMON_CONF_CHECKS						\
	{ "listen", CONF_CHECK_LISTEN, 0, 0, NULL, NULL },		\
	{ "listen_allow", CONF_CHECK_FUNC, 0, 0, NULL, cidr_check },	\
	{ "metrics_listen", CONF_CHECK_LISTEN, 0, 0, NULL, NULL },	\
	{ "metrics_allow", CONF_CHECK_FUNC, 0, 0, NULL, cidr_check },	\
	{ "pidfile", CONF_CHECK_PATH, 0, 0, NULL, NULL },		\
	{ "control_socket", CONF_CHECK_PATH, 0, 0, NULL, NULL }

/* daemon_conf_load - fill a struct daemon_conf from a daemon section;
 * daemon_conf_release - free it */
int daemon_conf_load(cfg_t *sec, struct daemon_conf *dc, char *err,
		     size_t errlen);
void daemon_conf_release(struct daemon_conf *dc);

struct runtime {
	const char *progname;
	struct cli cli;
	const char *conf_file;		/* NULL: embedded defaults */
	char *conf_abs;			/* conf_file made absolute */
	const struct conf_section *const *sections; /* what it parses */
	const struct conf_section *section;	/* the daemon's own */
	size_t daemon_conf_offset;	/* where its struct daemon_conf is */
	int listen_fd;			/* -1 until runtime_start */
	int metrics_fd;			/* -1: none */
	char *listen_path;		/* a unix listener's socket file, */
	dev_t listen_dev;		/* removed at the end if it is */
	ino_t listen_ino;		/* still the one we bound */
	/* what a reload does (SIGHUP/SIGUSR1 and elemta-ctl reload):
	 * NULL is runtime_reload(); 0 published, -1 kept the old */
	int (*reload)(struct runtime *rt);
	char reload_error[512];		/* why the last reload failed */
	long started;			/* wall clock at runtime_start, s */
};

/* The umask every daemon sets first (files: 0640 at most). */
#define RUNTIME_UMASK	027

/* runtime_init - umask, command line, configuration, logging.  Exits on -V, -h,
 * -n and on configuration errors (status 1, problems on stderr).
 * sections: the NULL-terminated list the file is parsed with (it must
 * hold section and log_conf_section); the caller keeps it alive. */
void runtime_init(struct runtime *rt, const char *progname, int argc,
		  char **argv, const struct conf_section *const *sections,
		  const struct conf_section *section,
		  size_t daemon_conf_offset, const struct cli_extra *extra);

/* runtime_listen - bind the daemon section's listener into
 * rt->listen_fd.  Exits with a clear message when it fails. */
void runtime_listen(struct runtime *rt);

/* runtime_accept - accept a connection on lfd (accept4 flags) from a
 * client the daemon section's listen_allow lets in.  A client outside
 * it is closed at once, logged (warning) and counted in
 * elemta_connections_refused_total{reason="listen_allow"}, and the
 * next pending connection is taken.  The fd, or -1 with accept4's
 * errno (EAGAIN when nothing is pending on a non-blocking socket). */
int runtime_accept(struct runtime *rt, int lfd, int flags);

/* runtime_start - metrics listener, detach, pidfile, privileges,
 * signals, metrics server.  Exits with a clear message when any of it
 * fails. */
void runtime_start(struct runtime *rt);

/* runtime_daemon_conf - the daemon_conf inside a snapshot */
const struct daemon_conf *runtime_daemon_conf(const struct runtime *rt,
					      const struct conf *c);

/* runtime_reload - reload the configuration; 0 if a new snapshot was
 * published, -1 if the old one was kept (problems logged, the first
 * in rt->reload_error) */
int runtime_reload(struct runtime *rt);

/* runtime_do_reload - what a reload signal does: rt->reload, or
 * runtime_reload(); 0 or -1 (rt->reload_error says why) */
int runtime_do_reload(struct runtime *rt);

/* runtime_reload() in two steps, for a daemon that builds more than
 * the configuration at a reload and publishes all of it or none:
 * runtime_reload_build() loads the file (NULL if it cannot, problems
 * logged), runtime_reload_commit() publishes what it made (taking over
 * the reference), applies its [log] section and logs "reloaded". */
struct conf *runtime_reload_build(struct runtime *rt);
void runtime_reload_commit(struct runtime *rt, struct conf *c);

/* runtime_finish - metrics off, pidfile removed, the unix listener's
 * socket file removed (if it is still ours), snapshot released */
void runtime_finish(struct runtime *rt);

#endif
