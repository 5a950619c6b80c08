/*++
 * NAME
 *	runtime 3
 * SUMMARY
 *	what every Elemta daemon does between main() and its work
 * DESCRIPTION
 *	See runtime.h.  The order matters and follows OpenSMTPD and
 *	Postfix: everything that needs root (binding ports below 1024,
 *	unix sockets in root-owned directories, the pidfile) happens first,
 *	then the process detaches, then drops privileges; threads (the
 *	metrics server) start only after the fork, since they would not
 *	survive it.
 *--*/
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "log-conf.h"
#include "metrics.h"
#include "runtime.h"
#include "xalloc.h"

/* runtime_daemon_conf - the daemon_conf inside a snapshot */
const struct daemon_conf *
runtime_daemon_conf(const struct runtime *rt, const struct conf *c)
{
	const char *base = conf_get(c, rt->section);

	return (const struct daemon_conf *)(base + rt->daemon_conf_offset);
}

/* runtime_print_errors - configuration problems, one per line */
static void
runtime_print_errors(const char *errors, int to_log)
{
	char *copy = x_strdup(errors), *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (to_log)
			msg_error("configuration: %s", line);
		else
			msg_stderr("%s", line);
	}
	free(copy);
}

/* runtime_load - load a snapshot from the runtime's file and -o's */
static struct conf *
runtime_load(struct runtime *rt, char **errors)
{
	return conf_load(rt->sections, rt->conf_file,
			 (const char *const *)rt->cli.overrides,
			 rt->cli.noverrides, errors);
}

/* runtime_apply_log - (re)open the log as a snapshot says */
static void
runtime_apply_log(struct runtime *rt, const struct conf *c)
{
	const struct log_conf *lc = conf_get(c, &log_conf_section);

	log_open(lc->ident ? lc->ident : rt->progname,
		 rt->cli.foreground ? LOG_DEST_STDERR : LOG_DEST_SYSLOG,
		 lc->facility);
	log_set_level(lc->level);
}

/* runtime_init_cli - parse the command line; -h, -V and misuse exit */
static void
runtime_init_cli(struct runtime *rt, const char *progname, int argc,
		 char **argv, const struct cli_extra *extra)
{
	char err[512];
	int argi;

	if (cli_parse(&rt->cli, argc, argv, extra, &argi, err,
		      sizeof(err)) < 0) {
		msg_stderr("%s", err);
		cli_usage(progname, extra);
		exit(2);
	}
	if (rt->cli.help) {
		cli_usage(progname, extra);
		exit(0);
	}
	if (rt->cli.version) {
		printf("%s (%s) %s\n", progname, PACKAGE_NAME,
		       PACKAGE_VERSION);
		exit(0);
	}
	if (argi < argc) {
		msg_stderr("unexpected argument '%s'", argv[argi]);
		cli_usage(progname, extra);
		exit(2);
	}
}

/* runtime_init_conf_file - which file to read, as an absolute path */
static void
runtime_init_conf_file(struct runtime *rt)
{
	/* The default file is optional (embedded defaults); -c FILE not. */
	rt->conf_file = rt->cli.conf_path;
	if (!rt->cli.conf_given && access(rt->conf_file, F_OK) != 0
	    && errno == ENOENT)
		rt->conf_file = NULL;
	/* Absolute, so that a reload after detaching (chdir "/") finds it. */
	if (rt->conf_file != NULL
	    && (rt->conf_abs = realpath(rt->conf_file, NULL)) != NULL)
		rt->conf_file = rt->conf_abs;
}

/* runtime_init_conf - the first snapshot; -p and -n exit here */
static struct conf *
runtime_init_conf(struct runtime *rt, const char *progname)
{
	struct conf *c;
	char *errors = NULL;

	if (rt->cli.print) {
		if (conf_dump(rt->sections, rt->conf_file,
			      (const char *const *)rt->cli.overrides,
			      rt->cli.noverrides, stdout, &errors) < 0) {
			runtime_print_errors(errors, 0);
			exit(1);
		}
		exit(0);
	}
	if ((c = runtime_load(rt, &errors)) == NULL) {
		runtime_print_errors(errors, 0);
		free(errors);
		exit(1);
	}
	if (rt->cli.check_only) {
		printf("%s: configuration OK (%s)\n", progname,
		       rt->conf_file ? rt->conf_file : "embedded defaults");
		conf_unref(&c);
		exit(0);
	}
	return c;
}

/* runtime_init - command line, configuration, logging */
void
runtime_init(struct runtime *rt, const char *progname, int argc,
	     char **argv, const struct conf_section *const *sections,
	     const struct conf_section *section,
	     size_t daemon_conf_offset, const struct cli_extra *extra)
{
	struct conf *c;

	/* Whatever the parent left: the SQLite stores hold user names and
	 * addresses, so nothing a daemon creates is for others.  Group
	 * read stays, for an operator in the daemon's group. */
	umask(RUNTIME_UMASK);
	daemon_signals_hold();	/* until runtime_start has the handlers */
	memset(rt, 0, sizeof(*rt));
	rt->progname = progname;
	rt->sections = sections;
	rt->section = section;
	rt->daemon_conf_offset = daemon_conf_offset;
	rt->listen_fd = rt->metrics_fd = -1;
	log_open(progname, LOG_DEST_STDERR, LOG_MAIL);
	log_set_program(progname);

	runtime_init_cli(rt, progname, argc, argv, extra);
	runtime_init_conf_file(rt);
	c = runtime_init_conf(rt, progname);
	runtime_apply_log(rt, c);
	conf_publish(c);
}

/* runtime_bind - parse and bind one listener spec, or exit */
static int
runtime_bind(struct runtime *rt, const char *what, const char *spec)
{
	struct listen_spec ls;
	char err[512];
	int fd;

	if (listen_parse(spec, &ls, err, sizeof(err)) < 0
	    || (fd = listen_open(&ls, 256, err, sizeof(err))) < 0)
		msg_fatal_stderr("%s %s", what, err);
	return fd;
}

/* runtime_listen - bind the daemon's own listener */
void
runtime_listen(struct runtime *rt)
{
	struct conf *c = conf_current();
	const char *spec = runtime_daemon_conf(rt, c)->listen;
	struct listen_spec ls;
	struct stat st;

	rt->listen_fd = runtime_bind(rt, "listen", spec);
	/* Remember the socket file, to remove it at the end: a stale one
	 * would be replaced at the next start anyway, but Postfix would
	 * meanwhile get "connection refused" instead of "no such file". */
	if (listen_parse(spec, &ls, NULL, 0) == 0 && ls.family == LISTEN_UNIX
	    && lstat(ls.path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		rt->listen_path = x_strdup(ls.path);
		rt->listen_dev = st.st_dev;
		rt->listen_ino = st.st_ino;
	}
	conf_unref(&c);
}

static void runtime_control_open(struct runtime *rt,
				 const struct daemon_conf *dc);

static struct metric *runtime_m_refused;
static struct metric *runtime_m_reloads;
static struct metric *runtime_m_reload_time;
static const struct runtime *runtime_metrics_rt;	/* one per process */

/* runtime_accept - accept a client that listen_allow lets in */
int
runtime_accept(struct runtime *rt, int lfd, int flags)
{
	const struct daemon_conf *dc;
	struct conf *c;
	char peer[64];
	int fd, ok;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, flags)) < 0)
			return -1;
		c = conf_current();
		dc = runtime_daemon_conf(rt, c);
		ok = listen_peer_check(fd, dc->allow, dc->nallow, peer,
				       sizeof(peer));
		conf_unref(&c);
		if (ok == 1)
			return fd;
		if (ok < 0)
			msg_warn("accept: getpeername: %m: connection closed");
		else
			msg_warn("refused a connection from %s: not in "
				 "%s.listen_allow", peer, rt->section->name);
		metric_inc(runtime_m_refused, "listen_allow");
		close(fd);
	}
}

/* runtime_metrics_allow - whether metrics_allow lets a metrics client in
 * (the metrics server's thread; the current configuration decides, so
 * a reload changes the list) */
static int
runtime_metrics_allow(const struct sockaddr *sa, unsigned salen)
{
	const struct runtime *rt = runtime_metrics_rt;
	const struct daemon_conf *dc;
	struct conf *c = conf_current();
	char peer[NI_MAXHOST];
	int ok;

	dc = runtime_daemon_conf(rt, c);
	ok = listen_net_match(dc->metrics_allow, dc->nmetrics_allow, sa,
			      (socklen_t) salen);
	conf_unref(&c);
	if (ok)
		return 1;
	if (getnameinfo(sa, (socklen_t) salen, peer, sizeof(peer), NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(peer, sizeof(peer), "unknown");
	msg_warn("refused a metrics connection from %s: not in "
		 "%s.metrics_allow", peer, rt->section->name);
	metric_inc(runtime_m_refused, "metrics_allow");
	return 0;
}

/* runtime_metrics_init - the runtime's own metrics (before any thread:
 * runtime_accept counts here) */
static void
runtime_metrics_init(void)
{
	runtime_m_refused = metrics_counter("elemta_connections_refused_total",
					    "Connections closed at accept",
					    "reason");
	/* Both results at 0 from the start, so that increase() sees the
	 * first failure; the load at start counts as a successful one. */
	runtime_m_reloads = metrics_counter("elemta_config_reloads_total",
					    "Configuration reloads (signal or "
					    "elemta-ctl reload)", "result");
	metric_add(runtime_m_reloads, 0, "ok");
	metric_add(runtime_m_reloads, 0, "failed");
	runtime_m_reload_time = metrics_gauge(
	    "elemta_config_last_reload_success_timestamp_seconds",
	    "When the running configuration was loaded (Unix time)", NULL);
	metric_set(runtime_m_reload_time, (double)time(NULL));
}

/* runtime_privileges - drop root for SECTION.user (warn when unset) */
static void
runtime_privileges(const struct runtime *rt, const struct daemon_conf *dc)
{
	char err[512];

	if (geteuid() == 0) {
		if (dc->user == NULL)
			msg_warn("running as root: set %s.user",
				 rt->section->name);
		else if (daemon_drop_privileges(dc->user, dc->group, err,
						 sizeof(err)) < 0)
			msg_fatal("%s.user: %s", rt->section->name, err);
	} else if (dc->user != NULL) {
		msg_debug("not started as root: %s.user ignored",
			  rt->section->name);
	}
}

/* runtime_start - metrics listener, detach, pidfile, privileges */
void
runtime_start(struct runtime *rt)
{
	struct conf *c = conf_current();
	const struct daemon_conf *dc = runtime_daemon_conf(rt, c);
	const struct metrics_conf *mc = conf_get(c, &metrics_conf_section);
	char err[512];

	runtime_metrics_init();
	if (dc->metrics_listen != NULL)
		rt->metrics_fd = runtime_bind(rt, "metrics_listen",
					      dc->metrics_listen);
	runtime_control_open(rt, dc);
	/* The pidfile before detaching: "already running" reaches the
	 * terminal, and the parent exits only once the file holds the
	 * daemon's pid (daemon_detach hands the lock to the child). */
	if (dc->pidfile != NULL
	    && daemon_pidfile_open(dc->pidfile, err, sizeof(err)) < 0)
		msg_fatal_stderr("%s", err);
	if (!rt->cli.foreground && daemon_detach(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	runtime_privileges(rt, dc);
	if (daemon_signals_init(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (rt->metrics_fd >= 0) {
		runtime_metrics_rt = rt;
		if (metrics_serve(rt->metrics_fd, mc->path,
				  runtime_metrics_allow, err, sizeof(err)) < 0)
			msg_fatal("metrics: %s", err);
		rt->metrics_fd = -1;	/* owned by the metrics server */
	}
	rt->started = (long)time(NULL);
	if (control_start(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	msg_info("started: version=%s config=%s listen=%s", PACKAGE_VERSION,
		 rt->conf_file ? rt->conf_file : "(embedded defaults)",
		 dc->listen);
	conf_unref(&c);
}

/* runtime_reload_build - a new snapshot from the file, not published */
struct conf *
runtime_reload_build(struct runtime *rt)
{
	struct conf *c;
	char *errors = NULL;

	rt->reload_error[0] = '\0';
	if ((c = runtime_load(rt, &errors)) == NULL) {
		runtime_print_errors(errors, 1);
		msg_error("reload failed: keeping the running configuration");
		snprintf(rt->reload_error, sizeof(rt->reload_error), "%.*s",
			 (int)strcspn(errors, "\n"), errors);
		free(errors);
	}
	return c;
}

/* runtime_reload_commit - publish c, a snapshot runtime_reload_build
 * made */
void
runtime_reload_commit(struct runtime *rt, struct conf *c)
{
	struct conf *old;
	const struct daemon_conf *od, *nd;

	old = conf_current();
	od = runtime_daemon_conf(rt, old);
	nd = runtime_daemon_conf(rt, c);
	if (strcmp(od->listen, nd->listen) != 0)
		msg_warn("%s.listen changed to %s: takes effect at restart",
			 rt->section->name, nd->listen);
	conf_unref(&old);
	runtime_apply_log(rt, c);
	conf_publish(c);
	c = conf_current();
	msg_info("reloaded: config=%s generation=%lu",
		 rt->conf_file ? rt->conf_file : "(embedded defaults)",
		 conf_generation(c));
	conf_unref(&c);
}

/* runtime_reload - build and publish a new snapshot, or keep the old */
int
runtime_reload(struct runtime *rt)
{
	struct conf *c;

	if ((c = runtime_reload_build(rt)) == NULL)
		return -1;
	runtime_reload_commit(rt, c);
	return 0;
}

/* runtime_do_reload - what a reload signal or elemta-ctl reload does */
int
runtime_do_reload(struct runtime *rt)
{
	int rc;

	rt->reload_error[0] = '\0';
	rc = rt->reload != NULL ? rt->reload(rt) : runtime_reload(rt);
	if (runtime_m_reloads != NULL)
		metric_inc(runtime_m_reloads, rc < 0 ? "failed" : "ok");
	if (rc == 0 && runtime_m_reload_time != NULL)
		metric_set(runtime_m_reload_time, (double)time(NULL));
	return rc;
}

/* runtime_ctl_status - the control command "status" */
static int
runtime_ctl_status(const struct control_req *req, struct control_out *out,
		   void *ctx)
{
	struct runtime *rt = ctx;
	struct conf *c = conf_current();

	(void)req;
	control_put(out, "daemon", "%s", rt->progname);
	control_put(out, "pid", "%ld", (long)getpid());
	control_put(out, "version", "%s", PACKAGE_VERSION);
	control_put(out, "generation", "%lu", c ? conf_generation(c) : 0UL);
	control_put(out, "config", "%s",
		    rt->conf_file ? rt->conf_file : "(embedded defaults)");
	control_put(out, "uptime", "%ld", (long)time(NULL) - rt->started);
	conf_unref(&c);
	return CONTROL_OK;
}

/* runtime_ctl_reload - the control command "reload" (in the daemon's
 * thread, like a reload signal) */
static int
runtime_ctl_reload(const struct control_req *req, struct control_out *out,
		   void *ctx)
{
	struct runtime *rt = ctx;
	struct conf *c;
	int rc;

	(void)req;
	rc = runtime_do_reload(rt);
	c = conf_current();
	control_put(out, "generation", "%lu", c ? conf_generation(c) : 0UL);
	conf_unref(&c);
	if (rc < 0) {
		control_message(out, "reload failed, running configuration "
				"kept: %s", *rt->reload_error ? rt->reload_error
				: "see the log");
		return CONTROL_FAILED;
	}
	control_message(out, "reloaded");
	return CONTROL_OK;
}

/* runtime_control_open - bind the control socket as root: owned by the
 * daemon's user and group.  Not fatal: mail flows without it; the
 * warning says why elemta-ctl cannot reach this daemon. */
static void
runtime_control_open(struct runtime *rt, const struct daemon_conf *dc)
{
	char err[512], gname[64] = "";
	struct passwd *pw;
	struct group *gr;

	if (dc->control_socket == NULL)
		return;
	if (geteuid() == 0 && dc->user != NULL && dc->group == NULL
	    && (pw = getpwnam(dc->user)) != NULL) {
		if ((gr = getgrgid(pw->pw_gid)) != NULL)
			snprintf(gname, sizeof(gname), "%s", gr->gr_name);
		else
			snprintf(gname, sizeof(gname), "%u",
				 (unsigned)pw->pw_gid);
	}
	if (control_open(dc->control_socket,
			 geteuid() == 0 ? dc->user : NULL,
			 geteuid() != 0 ? NULL : dc->group ? dc->group : gname,
			 err, sizeof(err)) < 0) {
		msg_warn("%s.control_socket %s: %s: running without a control "
			 "socket", rt->section->name, dc->control_socket, err);
		return;
	}
	control_register("status", runtime_ctl_status, rt, 0, NULL);
	control_register("reload", runtime_ctl_reload, rt,
			 CONTROL_MAIN | CONTROL_CHANGE, NULL);
}

/* runtime_finish - stop metrics, remove the pidfile, drop the config */
void
runtime_finish(struct runtime *rt)
{
	control_stop();
	metrics_stop();
	daemon_pidfile_remove();
	if (rt->listen_fd >= 0)
		close(rt->listen_fd);
	rt->listen_fd = -1;
	if (rt->listen_path != NULL) {
		struct stat st;

		if (lstat(rt->listen_path, &st) == 0 && S_ISSOCK(st.st_mode)
		    && st.st_dev == rt->listen_dev
		    && st.st_ino == rt->listen_ino
		    && unlink(rt->listen_path) < 0)
			msg_info("listen: cannot remove %s: %m",
				 rt->listen_path);
		x_free(&rt->listen_path);
	}
	conf_publish(NULL);
	cli_free(&rt->cli);
	x_free(&rt->conf_abs);
	rt->conf_file = NULL;
	msg_info("stopped");
}
