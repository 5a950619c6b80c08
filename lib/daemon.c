/*++
 * NAME
 *	daemon 3
 * SUMMARY
 *	process life cycle: detach, pidfile, privileges, signals
 * DESCRIPTION
 *	See daemon.h.  The state kept here (the pidfile, the signal pipe
 *	and flags) is per process, set up once before any thread starts;
 *	signal handlers only touch a lock-free atomic and write(2).
 *
 *	The pidfile is locked with flock(2) for as long as the process
 *	lives, so "is it running" is answered by the kernel, not by
 *	guessing whether the pid in a stale file was reused.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "daemon.h"
#include "xalloc.h"

#if ATOMIC_INT_LOCK_FREE != 2
#error "signal handlers need a lock-free atomic int"
#endif

#define DAEMON_ERRBUF	128

/* the pidfile we hold, and which process took it */
static int daemon_pid_fd = -1;
static char *daemon_pid_path;
static pid_t daemon_pid_owner;

/* the self-pipe and the pending events; see daemon_signals_init() */
static int daemon_sig_pipe[2] = { -1, -1 };
static atomic_int daemon_sig_events;


/* daemon_pidfile_write - replace the contents of a pidfile with our pid */
static int
daemon_pidfile_write(int fd, const char *path, char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF], buf[32];
	int len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	errno = 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		x_err(err, errlen, "pidfile %s: write: %s", path,
		      x_strerror(errno ? errno : EIO, ebuf,
				      sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* daemon_detach_fork - fork; the parent waits for the child's word
 * and exits, the child gets the pipe's write end back */
static int
daemon_detach_fork(char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF], c = 0;
	int pfd[2];
	pid_t pid;
	ssize_t n;

	/* The parent waits for the child's word that it is set up, and
	 * exits 1 if it never comes, so that an init script sees the
	 * failure; the child itself reports it to the caller. */
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		x_err(err, errlen, "detach: pipe: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		x_err(err, errlen, "detach: fork: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid > 0) {
		close(pfd[1]);
		do
			n = read(pfd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(pfd[0]);
	return pfd[1];
}

/* daemon_detach_session - a new session, the root as working directory */
static int
daemon_detach_session(char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF];

	if (setsid() < 0) {
		x_err(err, errlen, "detach: setsid: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	/* do not keep a file system busy; paths must be absolute by now */
	if (chdir("/") < 0) {
		x_err(err, errlen, "detach: chdir /: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	return 0;
}

/* daemon_detach_stdio - point stdin, stdout and stderr at /dev/null */
static int
daemon_detach_stdio(char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF];
	int nullfd, fd;

	if ((nullfd = open("/dev/null", O_RDWR | O_NOCTTY)) < 0) {
		x_err(err, errlen, "detach: open /dev/null: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	for (fd = 0; fd <= 2; fd++) {
		if (fd != nullfd && dup2(nullfd, fd) < 0) {
			x_err(err, errlen, "detach: dup2: %s",
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			if (nullfd > 2)
				close(nullfd);
			return -1;
		}
	}
	if (nullfd > 2)
		close(nullfd);
	return 0;
}

/* daemon_detach - fork into the background, new session, stdio on null */
int
daemon_detach(char *err, size_t errlen)
{
	char c = 0;
	int wfd;
	ssize_t n;

	if ((wfd = daemon_detach_fork(err, errlen)) < 0)
		return -1;
	if (daemon_detach_session(err, errlen) < 0
	    || daemon_detach_stdio(err, errlen) < 0)
		goto fail;
	/* A pidfile opened before detaching stays locked (the lock belongs
	 * to the open file, which we share) and gets our pid before the
	 * parent exits: whoever reads it then finds the daemon's pid. */
	if (daemon_pid_fd >= 0) {
		if (daemon_pidfile_write(daemon_pid_fd, daemon_pid_path, err,
					 errlen) < 0)
			goto fail;
		daemon_pid_owner = getpid();
	}
	do
		n = write(wfd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(wfd);
	return 0;

fail:
	close(wfd);
	return -1;
}

/* daemon_pidfile_read - the pid in an open pidfile, or 0 */
static long
daemon_pidfile_read(int fd)
{
	char buf[32], *end;
	ssize_t n;
	long pid;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0
	    || (*end != '\n' && *end != '\0'))
		return 0;
	return pid;
}

/* daemon_pidfile_open - create and lock path, write our pid */
int
daemon_pidfile_open(const char *path, char *err, size_t errlen)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char ebuf[DAEMON_ERRBUF];
	struct stat st;
	long other = 0;
	int fd, i;

	if (daemon_pid_fd >= 0) {
		x_err(err, errlen, "pidfile %s: %s is already open", path,
		      daemon_pid_path);
		return -1;
	}
	/* no symbolic links: the directory may be writable by others */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		  0644);
	if (fd < 0) {
		if (errno == ELOOP)
			x_err(err, errlen, "pidfile %s: is a symbolic link",
			      path);
		else
			x_err(err, errlen, "pidfile %s: open: %s", path,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		x_err(err, errlen, "pidfile %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			x_err(err, errlen, "pidfile %s: flock: %s", path,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			close(fd);
			return -1;
		}
		/* the holder may not have written its pid yet */
		for (i = 0; i < 20 && (other = daemon_pidfile_read(fd)) == 0;
		     i++)
			nanosleep(&ts, NULL);
		if (other > 0)
			x_err(err, errlen, "pidfile %s: already running as "
			      "pid %ld", path, other);
		else
			x_err(err, errlen, "pidfile %s: locked by another "
			      "process", path);
		close(fd);
		return -1;
	}
	if (daemon_pidfile_write(fd, path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	daemon_pid_fd = fd;
	daemon_pid_path = x_strdup(path);
	daemon_pid_owner = getpid();
	return 0;
}

/* daemon_pidfile_remove - unlink the pidfile if it is still ours */
void
daemon_pidfile_remove(void)
{
	struct stat ours, now;

	if (daemon_pid_fd < 0)
		return;
	/* Not in a forked child, and not a file that replaced ours. */
	if (daemon_pid_owner == getpid()
	    && fstat(daemon_pid_fd, &ours) == 0
	    && lstat(daemon_pid_path, &now) == 0
	    && ours.st_dev == now.st_dev && ours.st_ino == now.st_ino)
		(void)unlink(daemon_pid_path);
	close(daemon_pid_fd);
	daemon_pid_fd = -1;
	x_free(&daemon_pid_path);
}

/* A getpwnam_r()-like lookup: its error number; *found when it found name. */
typedef int (*daemon_lookup_fn)(const char *name, char *buf, size_t len,
				void *out, int *found);

/* daemon_lookup - run fn with a growing buffer; 0 or -1 with err set */
static int
daemon_lookup(const char *what, const char *name, daemon_lookup_fn fn,
	      void *out, char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF];
	size_t len = 4096;
	char *buf;
	int rc, found;

	for (;;) {
		buf = x_malloc(len);
		rc = fn(name, buf, len, out, &found);
		if (rc != ERANGE || len >= 1024 * 1024)
			break;
		free(buf);
		len *= 2;
	}
	free(buf);
	if (found)
		return 0;
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF
	    || rc == EPERM)
		x_err(err, errlen, "%s \"%s\" does not exist", what, name);
	else
		x_err(err, errlen, "%s \"%s\": lookup failed: %s", what, name,
		      x_strerror(rc, ebuf, sizeof(ebuf)));
	return -1;
}

struct daemon_ids {
	uid_t uid;
	gid_t gid;
};

/* daemon_lookup_pw - getpwnam_r() into a struct daemon_ids */
static int
daemon_lookup_pw(const char *name, char *buf, size_t len, void *out,
		 int *found)
{
	struct daemon_ids *ids = out;
	struct passwd pw, *res = NULL;
	int rc;

	rc = getpwnam_r(name, &pw, buf, len, &res);
	if ((*found = res != NULL)) {
		ids->uid = res->pw_uid;
		ids->gid = res->pw_gid;
	}
	return rc;
}

/* daemon_lookup_gr - getgrnam_r() into a gid_t */
static int
daemon_lookup_gr(const char *name, char *buf, size_t len, void *out,
		 int *found)
{
	struct group gr, *res = NULL;
	int rc;

	rc = getgrnam_r(name, &gr, buf, len, &res);
	if ((*found = res != NULL))
		*(gid_t *)out = res->gr_gid;
	return rc;
}

/* daemon_lookup_user - uid and primary gid of a user; 0 or -1 */
static int
daemon_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err,
		   size_t errlen)
{
	struct daemon_ids ids;

	if (daemon_lookup("user", name, daemon_lookup_pw, &ids, err,
			  errlen) < 0)
		return -1;
	*uid = ids.uid;
	*gid = ids.gid;
	return 0;
}

/* daemon_lookup_group - gid of a group; 0 or -1 */
static int
daemon_lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	return daemon_lookup("group", name, daemon_lookup_gr, gid, err,
			     errlen);
}

/* daemon_drop_privileges - become user (and group) for good */
int
daemon_drop_privileges(const char *user, const char *group, char *err,
		       size_t errlen)
{
	char ebuf[DAEMON_ERRBUF];
	uid_t uid;
	gid_t gid;

	if (user == NULL || *user == '\0') {
		if (group != NULL && *group != '\0') {
			x_err(err, errlen, "group \"%s\" given without a user",
			      group);
			return -1;
		}
		return 0;
	}
	if (daemon_lookup_user(user, &uid, &gid, err, errlen) < 0)
		return -1;
	if (group != NULL && *group != '\0'
	    && daemon_lookup_group(group, &gid, err, errlen) < 0)
		return -1;
	if (geteuid() != 0) {
		if (getuid() == uid && geteuid() == uid && getgid() == gid
		    && getegid() == gid)
			return 0;
		x_err(err, errlen, "cannot switch to user \"%s\": not running "
		      "as root", user);
		return -1;
	}
	if (initgroups(user, gid) < 0) {
		x_err(err, errlen, "initgroups \"%s\": %s", user,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	/* as root, setgid() and setuid() set real, effective and saved */
	if (setgid(gid) < 0) {
		x_err(err, errlen, "setgid %lu: %s", (unsigned long)gid,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (setuid(uid) < 0) {
		x_err(err, errlen, "setuid %lu (user \"%s\"): %s",
		      (unsigned long)uid, user,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid
	    || getegid() != gid) {
		x_err(err, errlen, "user \"%s\": ids did not change as asked",
		      user);
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		x_err(err, errlen, "user \"%s\": root privileges could be "
		      "regained after setuid", user);
		return -1;
	}
	return 0;
}

/* daemon_signal_handler - record the event, wake the loop */
static void
daemon_signal_handler(int sig)
{
	int saved_errno = errno;

	atomic_fetch_or(&daemon_sig_events,
			sig == SIGHUP || sig == SIGUSR1 ? DAEMON_EV_RELOAD
							: DAEMON_EV_STOP);
	/* a full pipe is fine: the loop has a wake-up pending anyway */
	if (daemon_sig_pipe[1] >= 0) {
		ssize_t n = write(daemon_sig_pipe[1], "", 1);

		(void)n;
	}
	errno = saved_errno;
}

static const int daemon_sigs[] = {
	SIGTERM, SIGINT, SIGHUP, SIGUSR1,
};
#define DAEMON_NSIGS	(sizeof(daemon_sigs) / sizeof(daemon_sigs[0]))

/* daemon_sigset - the signals daemon_signals_init() handles */
static void
daemon_sigset(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < DAEMON_NSIGS; i++)
		sigaddset(set, daemon_sigs[i]);
}

/* daemon_signals_hold - block them until the handlers are in place */
void
daemon_signals_hold(void)
{
	sigset_t set;

	daemon_sigset(&set);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* daemon_signals_init - install the handlers and the self-pipe, then
 * let in what daemon_signals_hold() kept waiting */
int
daemon_signals_init(char *err, size_t errlen)
{
	char ebuf[DAEMON_ERRBUF];
	struct sigaction sa;
	sigset_t set;
	size_t i;

	if (daemon_sig_pipe[0] < 0
	    && pipe2(daemon_sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		x_err(err, errlen, "signals: pipe: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		daemon_sig_pipe[0] = daemon_sig_pipe[1] = -1;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = daemon_signal_handler;
	sa.sa_flags = SA_RESTART;
	daemon_sigset(&sa.sa_mask);
	for (i = 0; i < DAEMON_NSIGS; i++) {
		if (sigaction(daemon_sigs[i], &sa, NULL) < 0) {
			x_err(err, errlen, "signals: sigaction %d: %s",
			      daemon_sigs[i],
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			return -1;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0) {
		x_err(err, errlen, "signals: ignoring SIGPIPE: %s",
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	daemon_sigset(&set);
	(void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

/* daemon_signal_fd - readable while an event is pending; -1 before init */
int
daemon_signal_fd(void)
{
	return daemon_sig_pipe[0];
}

/* daemon_signal_take - the pending events; clears them and the pipe */
int
daemon_signal_take(void)
{
	char buf[256];
	ssize_t n;

	/* Drain first: a signal that arrives after the drain leaves a
	 * byte behind, so its event is never pending without a wake-up. */
	if (daemon_sig_pipe[0] >= 0) {
		do
			n = read(daemon_sig_pipe[0], buf, sizeof(buf));
		while (n > 0 || (n < 0 && errno == EINTR));
	}
	return atomic_exchange(&daemon_sig_events, 0);
}

/* daemon_thread_background - a background thread: niced, no signals */
int
daemon_thread_background(int inc)
{
	sigset_t all;

	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, NULL);
	return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), inc);
}
