/*++
 * NAME
 *	0014-daemon 1
 * SUMMARY
 *	unit tests for lib/daemon
 * DESCRIPTION
 *	Signals (raise() and kill() from another process: the self-pipe
 *	becomes readable, daemon_signal_take() returns the events and
 *	clears both), the pidfile (held by another process, stale, removed
 *	only by its owner and only while it is still the same file),
 *	privileges dropped in forked children (ids, saved ids, groups, no
 *	way back to root), and daemon_detach() in a forked child: the
 *	detached grandchild reports its session, stdio and directory
 *	through a pipe.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "daemon.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* readable - the fd has data now */
static int
readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* read_all - read exactly len bytes (or to EOF); the count read */
static size_t
read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* write_all - write all of buf; 0 or -1 */
static int
write_all(int fd, const void *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* slurp - the start of a file as a string ("" if unreadable) */
static char *
slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	size_t n = fd >= 0 ? read_all(fd, buf, len - 1) : 0;

	buf[n] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

/* spew - create a file with the given contents */
static int
spew(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = fd >= 0 ? write_all(fd, text, strlen(text)) : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

/* fd_flags_of - F_GETFD of our open fd on path, or -1 if none */
static int
fd_flags_of(const char *path)
{
	char link[64], target[512];
	ssize_t n;
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			return fcntl(fd, F_GETFD);
	}
	return -1;
}

struct signal_case {
	const char *name;
	int sigs[4];		/* 0-terminated */
	int want;
};

static const struct signal_case signal_cases[] = {
	{ "SIGHUP", { SIGHUP }, DAEMON_EV_RELOAD },
	{ "SIGUSR1", { SIGUSR1 }, DAEMON_EV_RELOAD },
	{ "SIGUSR1+SIGHUP", { SIGUSR1, SIGHUP }, DAEMON_EV_RELOAD },
	{ "SIGTERM", { SIGTERM }, DAEMON_EV_STOP },
	{ "SIGINT", { SIGINT }, DAEMON_EV_STOP },
	{ "SIGHUP+SIGTERM", { SIGHUP, SIGTERM }, DAEMON_EV_STOP
						 | DAEMON_EV_RELOAD },
	{ "SIGHUP x3", { SIGHUP, SIGHUP, SIGHUP }, DAEMON_EV_RELOAD },
	{ "SIGINT+SIGTERM", { SIGINT, SIGTERM }, DAEMON_EV_STOP },
};

/* test_signals - the self-pipe and the event mask */
static void
test_signals(void)
{
	const struct signal_case *c;
	struct sigaction sa;
	struct pollfd p;
	char err[256];
	int fd, i, fl, fdfl, status;
	pid_t pid;

	is_int(daemon_signal_fd(), -1, "no signal fd before init");
	is_int(daemon_signal_take(), 0, "nothing to take before init");
	is_int(daemon_signals_init(err, sizeof(err)), 0, "signals_init");
	fd = daemon_signal_fd();
	ok(fd > 2, "signal fd %d", fd);
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	ok(fl >= 0 && (fl & O_NONBLOCK), "signal fd is non-blocking");
	ok(fdfl >= 0 && (fdfl & FD_CLOEXEC), "signal fd is close-on-exec");
	is_int(daemon_signal_take(), 0, "nothing pending after init");
	is_int(readable(fd), 0, "signal fd not readable after init");

	for (c = signal_cases; c < signal_cases + NELEM(signal_cases); c++) {
		for (i = 0; c->sigs[i] != 0; i++)
			raise(c->sigs[i]);
		is_int(readable(fd), 1, "%s: signal fd readable", c->name);
		is_int(daemon_signal_take(), c->want, "%s: events", c->name);
		is_int(readable(fd), 0, "%s: pipe drained", c->name);
		is_int(daemon_signal_take(), 0, "%s: events cleared",
		       c->name);
	}

	ok(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN,
	   "SIGPIPE is ignored");
	raise(SIGPIPE);
	is_int(daemon_signal_take(), 0, "SIGPIPE: no event");
	ok(sigaction(SIGTERM, NULL, &sa) == 0 && (sa.sa_flags & SA_RESTART),
	   "SIGTERM handler restarts system calls");

	/* more signals than the pipe holds: no blocking in the handler */
	for (i = 0; i < 100000; i++)
		raise(SIGHUP);
	is_int(readable(fd), 1, "100000 x SIGHUP: readable");
	is_int(daemon_signal_take(), DAEMON_EV_RELOAD, "100000 x SIGHUP: "
	       "events");
	is_int(readable(fd), 0, "100000 x SIGHUP: drained in one take");

	is_int(daemon_signals_init(err, sizeof(err)), 0,
	       "signals_init again");
	is_int(daemon_signal_fd(), fd, "signals_init again: same fd");

	/* from another process, while we wait in poll() */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		usleep(50 * 1000);
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	for (i = 0; i < 100; i++)
		if (poll(&p, 1, 100) == 1 || (p.revents & POLLIN))
			break;
	ok(p.revents & POLLIN, "kill from a child wakes poll()");
	is_int(daemon_signal_take(), DAEMON_EV_STOP, "kill SIGTERM: STOP");
	waitpid(pid, &status, 0);
}

/* pidfile_holder - a child that holds a pidfile until told to go */
static pid_t
pidfile_holder(const char *path, int raw_lock, int *go_fd)
{
	int ready[2], go[2];
	char c = 0;
	pid_t pid;

	if (pipe(ready) < 0 || pipe(go) < 0)
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	if ((pid = fork()) < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		char err[256];
		int fd, ok_ = 0;

		close(ready[0]);
		close(go[1]);
		if (raw_lock) {
			/* locked, but no pid written (yet) */
			fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
			ok_ = fd >= 0 && flock(fd, LOCK_EX) == 0;
		} else {
			ok_ = daemon_pidfile_open(path, err, sizeof(err)) == 0;
		}
		c = ok_ ? 'y' : 'n';
		(void)write_all(ready[1], &c, 1);
		(void)read_all(go[0], &c, 1);
		daemon_pidfile_remove();
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read_all(ready[0], &c, 1) != 1 || c != 'y')
		bail_out("the pidfile holder could not take %s", path);
	close(ready[0]);
	*go_fd = go[1];
	return pid;
}

/* test_pidfile - lock, pid, stale files, removal */
static void
test_pidfile(const char *dir)
{
	char path[400], other[400], want[1000], err[1000], buf[128];
	char mine[32];
	struct stat st;
	int go, status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/test.pid", dir);
	snprintf(mine, sizeof(mine), "%ld\n", (long)getpid());
	daemon_pidfile_remove();
	ok(1, "remove with no pidfile is a no-op");

	/* another process holds it */
	pid = pidfile_holder(path, 0, &go);
	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	is_str(slurp(path, buf, sizeof(buf)), want, "holder wrote its pid");
	is_int(daemon_pidfile_open(path, err, sizeof(err)), -1,
	       "second open fails while the holder lives");
	snprintf(want, sizeof(want), "pidfile %s: already running as pid %ld",
		 path, (long)pid);
	is_str(err, want, "message names the holder's pid");
	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	is_str(slurp(path, buf, sizeof(buf)), want,
	       "the holder's pid is left in place");
	close(go);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "holder exited");
	is_int(lstat(path, &st), -1, "holder removed its pidfile");

	/* a stale file with a longer content: replaced and truncated */
	ok(spew(path, "99999999\nleft over from an older run\n") == 0,
	   "stale pidfile written");
	is_int(daemon_pidfile_open(path, err, sizeof(err)), 0,
	       "open over a stale pidfile");
	is_str(slurp(path, buf, sizeof(buf)), mine, "our pid, truncated");
	ok(lstat(path, &st) == 0 && (st.st_mode & 0777) == (0644 & ~022)
	   , "mode 0644");
	is_int(daemon_pidfile_open(path, err, sizeof(err)), -1,
	       "open twice in one process fails");
	snprintf(want, sizeof(want), "pidfile %s: %s is already open", path,
		 path);
	is_str(err, want, "open twice: message");

	/* a forked child (a worker) does not remove its parent's file */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		daemon_pidfile_remove();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	is_str(slurp(path, buf, sizeof(buf)), mine,
	       "a child's remove leaves the parent's pidfile");
	is_int(daemon_pidfile_open(path, err, sizeof(err)), -1,
	       "and the lock is still held");
	daemon_pidfile_remove();
	is_int(lstat(path, &st), -1, "remove unlinks our pidfile");

	/* replaced under us: not ours any more, left alone */
	snprintf(other, sizeof(other), "%s/test.pid.old", dir);
	is_int(daemon_pidfile_open(path, err, sizeof(err)), 0, "open again");
	ok(rename(path, other) == 0 && spew(path, "12345\n") == 0,
	   "pidfile replaced by another file");
	daemon_pidfile_remove();
	is_str(slurp(path, buf, sizeof(buf)), "12345\n",
	       "remove leaves a file that is not ours");
	unlink(path);
	unlink(other);

	/* locked, but the holder has not written its pid */
	pid = pidfile_holder(path, 1, &go);
	is_int(daemon_pidfile_open(path, err, sizeof(err)), -1,
	       "locked empty pidfile: fails");
	snprintf(want, sizeof(want), "pidfile %s: locked by another process",
		 path);
	is_str(err, want, "locked empty pidfile: message");
	close(go);
	waitpid(pid, &status, 0);
	unlink(path);

	/* paths that cannot be pidfiles */
	snprintf(other, sizeof(other), "%s/no/such/dir.pid", dir);
	is_int(daemon_pidfile_open(other, err, sizeof(err)), -1,
	       "missing directory fails");
	snprintf(want, sizeof(want), "pidfile %s: open: no such file or "
		 "directory", other);
	is_str(err, want, "missing directory: message");
	snprintf(other, sizeof(other), "%s/link.pid", dir);
	ok(symlink("test.pid", other) == 0, "a symbolic link");
	is_int(daemon_pidfile_open(other, err, sizeof(err)), -1,
	       "a symbolic link is refused");
	snprintf(want, sizeof(want), "pidfile %s: is a symbolic link", other);
	is_str(err, want, "symbolic link: message");
	is_int(lstat(path, &st), -1, "nothing created through the link");
	unlink(other);
	is_int(daemon_pidfile_open(dir, err, sizeof(err)), -1,
	       "a directory is refused");
	snprintf(want, sizeof(want), "pidfile %s: open: is a directory", dir);
	is_str(err, want, "directory: message");

	/* the pidfile fd stays open, close-on-exec */
	is_int(daemon_pidfile_open(path, err, sizeof(err)), 0,
	       "open for the fd check");
	is_int(fd_flags_of(path), FD_CLOEXEC, "pidfile fd is close-on-exec");
	daemon_pidfile_remove();
	is_int(fd_flags_of(path), -1, "pidfile fd closed by remove");
}

struct drop_report {
	int rc;
	char err[256];
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int ngroups;
	gid_t groups[64];
	int regain_uid;		/* setuid(0) or seteuid(0) worked */
	int regain_gid;		/* setgid(0) or setegid(0) worked */
	int again_self;		/* drop to the same user again: rc */
	int again_root;		/* drop to root when not root: rc */
	char again_root_err[256];
};

/* drop_child - drop privileges in a child, report what we became */
static int
drop_child(const char *user, const char *group, struct drop_report *r)
{
	int pfd[2], status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(pfd) < 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		struct drop_report me;

		close(pfd[0]);
		memset(&me, 0, sizeof(me));
		me.rc = daemon_drop_privileges(user, group, me.err,
					       sizeof(me.err));
		getresuid(&me.ruid, &me.euid, &me.suid);
		getresgid(&me.rgid, &me.egid, &me.sgid);
		me.ngroups = getgroups(NELEM(me.groups), me.groups);
		if (me.rc == 0) {
			me.regain_uid = setuid(0) == 0 || seteuid(0) == 0;
			me.regain_gid = setgid(0) == 0 || setegid(0) == 0;
			me.again_self = daemon_drop_privileges(user, group,
							       me.err,
							       sizeof(me.err));
			me.again_root = daemon_drop_privileges(
				"root", NULL, me.again_root_err,
				sizeof(me.again_root_err));
		}
		_exit(write_all(pfd[1], &me, sizeof(me)) == 0 ? 0 : 1);
	}
	close(pfd[1]);
	if (read_all(pfd[0], r, sizeof(*r)) != sizeof(*r))
		r->rc = -99;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return 0;
}

/* gid_cmp - qsort helper */
static int
gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/* same_groups - the same set of gids */
static int
same_groups(gid_t *a, int na, gid_t *b, int nb)
{
	int i, j, k;

	qsort(a, (size_t)na, sizeof(*a), gid_cmp);
	qsort(b, (size_t)nb, sizeof(*b), gid_cmp);
	/* ignore duplicates: initgroups may list the primary gid twice */
	for (i = j = 0; i < na || j < nb;) {
		if (i < na && j < nb && a[i] == b[j]) {
			k = (int)a[i];
			while (i < na && (int)a[i] == k)
				i++;
			while (j < nb && (int)b[j] == k)
				j++;
			continue;
		}
		return 0;
	}
	return 1;
}

struct drop_case {
	const char *user;
	const char *group;	/* NULL: the user's primary group */
};

static const struct drop_case drop_cases[] = {
	{ "nobody", NULL },
	{ "nobody", "" },
	{ "nobody", "nogroup" },
	{ "nobody", "daemon" },
	{ "daemon", NULL },
};

/* test_drop - privileges, as root (skipped otherwise) */
static void
test_drop(void)
{
	const struct drop_case *c;
	struct drop_report r;
	struct passwd *pw;
	struct group *gr;
	gid_t want_groups[64];
	char err[256], want[400];
	uid_t uid;
	gid_t gid;
	int n;

	/* what fails before anything changes, in this process */
	is_int(daemon_drop_privileges("nosuchuser-elemta", NULL, err,
				      sizeof(err)), -1, "unknown user fails");
	is_str(err, "user \"nosuchuser-elemta\" does not exist",
	       "unknown user: message");
	is_int(daemon_drop_privileges("nobody", "nosuchgroup-elemta", err,
				      sizeof(err)), -1, "unknown group fails");
	is_str(err, "group \"nosuchgroup-elemta\" does not exist",
	       "unknown group: message");
	is_int(daemon_drop_privileges(NULL, "nogroup", err, sizeof(err)), -1,
	       "a group without a user fails");
	is_str(err, "group \"nogroup\" given without a user",
	       "group without user: message");
	uid = geteuid();
	is_int(daemon_drop_privileges(NULL, NULL, err, sizeof(err)), 0,
	       "no user: stay who we are");
	is_int(daemon_drop_privileges("", "", err, sizeof(err)), 0,
	       "empty user: stay who we are");
	is_int(geteuid(), uid, "still the same uid");

	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		is_int(pw ? daemon_drop_privileges(pw->pw_name, NULL, err,
						   sizeof(err)) : -1, 0,
		       "not root: dropping to ourselves is fine");
		is_int(daemon_drop_privileges("root", NULL, err, sizeof(err)),
		       -1, "not root: cannot switch to root");
		is_str(err, "cannot switch to user \"root\": not running as "
		       "root", "not root: message");
		missing((int)NELEM(drop_cases) * 13 + 1, "not running as root");
		return;
	}
	for (c = drop_cases; c < drop_cases + NELEM(drop_cases); c++) {
		const char *g = c->group && *c->group ? c->group : "(primary)";

		if ((pw = getpwnam(c->user)) == NULL
		    || (c->group && *c->group
			&& (gr = getgrnam(c->group)) == NULL)) {
			skip(13, "no user %s or group %s here", c->user, g);
			continue;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (c->group && *c->group && (gr = getgrnam(c->group)) != NULL)
			gid = gr->gr_gid;
		n = NELEM(want_groups);
		if (getgrouplist(c->user, gid, want_groups, &n) < 0)
			n = -1;

		if (drop_child(c->user, c->group, &r) < 0)
			bail_out("fork: %s", strerror(errno));
		if (!is_int(r.rc, 0, "%s/%s: drop", c->user, g))
			diag("  error: %s", r.err);
		is_int(r.ruid, uid, "%s/%s: real uid", c->user, g);
		is_int(r.euid, uid, "%s/%s: effective uid", c->user, g);
		is_int(r.suid, uid, "%s/%s: saved uid", c->user, g);
		is_int(r.rgid, gid, "%s/%s: real gid", c->user, g);
		is_int(r.egid, gid, "%s/%s: effective gid", c->user, g);
		is_int(r.sgid, gid, "%s/%s: saved gid", c->user, g);
		ok(n >= 0 && r.ngroups >= 0
		   && same_groups(r.groups, r.ngroups, want_groups, n),
		   "%s/%s: supplementary groups are the user's (%d, want %d)",
		   c->user, g, r.ngroups, n);
		is_int(r.regain_uid, 0, "%s/%s: cannot become root again",
		       c->user, g);
		is_int(r.regain_gid, 0, "%s/%s: cannot take gid 0 again",
		       c->user, g);
		is_int(r.again_self, 0, "%s/%s: not root: dropping to "
		       "ourselves is fine", c->user, g);
		is_int(r.again_root, -1, "%s/%s: not root: cannot switch to "
		       "root", c->user, g);
		snprintf(want, sizeof(want), "cannot switch to user \"root\": "
			 "not running as root");
		(void)is_str(r.again_root_err, want, "%s/%s: message",
			     c->user, g);
	}
	ok(getuid() == 0 && geteuid() == 0, "the test process is still root");
}

struct detach_report {
	int rc;
	char err[256];
	int pidfile_rc;		/* daemon_pidfile_open() before detaching */
	pid_t pid, ppid, sid, pgid;
	int stdio_null;		/* bit per fd 0..2 */
	char cwd[PATH_MAX];
};

/* test_detach - daemon_detach() in a child; the grandchild reports.
 * The child opens a pidfile first: the lock must pass to the detached
 * process, with its pid written before the parent exits. */
static void
test_detach(const char *dir)
{
	struct detach_report r;
	struct stat null_st, st;
	char path[400], buf[64], want[600], err[600];
	int pfd[2], go[2], status, i;
	pid_t child;
	size_t n;

	snprintf(path, sizeof(path), "%s/detach.pid", dir);
	if (stat("/dev/null", &null_st) < 0 || pipe(pfd) < 0 || pipe(go) < 0)
		bail_out("/dev/null or pipe: %s", strerror(errno));
	fflush(stdout);
	if ((child = fork()) == 0) {
		struct detach_report me;
		int fd;

		close(pfd[0]);
		close(go[1]);
		/* keep the pipes clear of the fds detach rewires */
		if (pfd[1] <= 2) {
			fd = fcntl(pfd[1], F_DUPFD, 10);
			close(pfd[1]);
			pfd[1] = fd;
		}
		if (go[0] <= 2) {
			fd = fcntl(go[0], F_DUPFD, 10);
			close(go[0]);
			go[0] = fd;
		}
		memset(&me, 0, sizeof(me));
		me.pidfile_rc = daemon_pidfile_open(path, me.err,
						    sizeof(me.err));
		me.rc = daemon_detach(me.err, sizeof(me.err));
		/* only the detached process gets here with rc 0 */
		me.pid = getpid();
		me.ppid = getppid();
		me.sid = getsid(0);
		me.pgid = getpgid(0);
		for (fd = 0; fd <= 2; fd++)
			if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)
			    && st.st_rdev == null_st.st_rdev)
				me.stdio_null |= 1 << fd;
		if (getcwd(me.cwd, sizeof(me.cwd)) == NULL)
			snprintf(me.cwd, sizeof(me.cwd), "?");
		(void)write_all(pfd[1], &me, sizeof(me));
		/* hold the pidfile until the test has looked at it */
		(void)read_all(go[0], &i, 1);
		daemon_pidfile_remove();
		_exit(0);
	}
	close(pfd[1]);
	close(go[0]);
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "detach: the parent exits 0 (status %d)", status);

	/* before reading the report: the pid was there when it exited */
	slurp(path, buf, sizeof(buf));
	is_int(daemon_pidfile_open(path, err, sizeof(err)), -1,
	       "detach: the detached process holds the pidfile lock");
	memset(&r, 0, sizeof(r));
	n = read_all(pfd[0], &r, sizeof(r));
	close(pfd[0]);
	if (!is_int(n, sizeof(r), "detach: the detached process reported")) {
		close(go[1]);
		skip(10, "no report");
		return;
	}
	is_int(r.pidfile_rc, 0, "detach: pidfile opened before detaching");
	if (!is_int(r.rc, 0, "detach: returns 0 in the child"))
		diag("  error: %s", r.err);
	snprintf(want, sizeof(want), "%ld\n", (long)r.pid);
	is_str(buf, want, "detach: the pidfile has the detached pid as soon "
	       "as the parent exits");
	snprintf(want, sizeof(want), "pidfile %s: already running as pid %ld",
		 path, (long)r.pid);
	is_str(err, want, "detach: pidfile lock message");
	ok(r.pid != child && r.pid != getpid(),
	   "detach: runs in a new process (%ld, parent was %ld)",
	   (long)r.pid, (long)child);
	is_int(r.sid, r.pid, "detach: leads a new session");
	ok(r.sid != getsid(0), "detach: not our session");
	is_int(r.stdio_null, 7, "detach: stdin, stdout, stderr on /dev/null");
	is_str(r.cwd, "/", "detach: working directory /");

	/* the detached process removes its pidfile (its own, moved pid) */
	close(go[1]);
	for (i = 0; i < 200 && lstat(path, &st) == 0; i++)
		usleep(10 * 1000);
	is_int(lstat(path, &st), -1, "detach: the detached process removed "
	       "its pidfile");
}

int
main(void)
{
	char tmpl[] = "/tmp/elemta-t0014-XXXXXX";
	char *dir;

	plan_lazy();
	umask(022);
	if ((dir = mkdtemp(tmpl)) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	test_signals();
	test_pidfile(dir);
	test_drop();
	test_detach(dir);
	if (rmdir(dir) < 0)
		diag("rmdir %s: %s", dir, strerror(errno));
	done_testing();
	return exit_status();
}
