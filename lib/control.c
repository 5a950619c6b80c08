/*++
 * NAME
 *	control 3
 * SUMMARY
 *	the control socket every daemon serves to elemta-ctl(8)
 * DESCRIPTION
 *	See control.h.  One thread, one client at a time: the commands
 *	are an operator's, a handful a minute, and answering them in turn
 *	keeps the daemon's state changes in one order.  A client gets
 *	CONTROL_TIMEOUT seconds to send its line; the thread polls the
 *	listener and a stop pipe, so that control_stop() never waits for
 *	a client that does not come.
 *
 *	A CONTROL_MAIN command is handed to the daemon's thread through
 *	a slot guarded by a mutex: the control thread fills it, writes a
 *	byte to the main pipe and waits on the condition until the daemon
 *	has run it (control_main_run) and marked it done.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "control.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"

#define CONTROL_TIMEOUT		10	/* seconds for the request line */
#define CONTROL_COMMANDS_MAX	32

struct control_out {
	char *buf;			/* the data lines */
	size_t len, size;
	char message[512];		/* the end line's message */
};

struct control_cmd {
	const char *name;
	control_fn fn;
	void *ctx;
	int flags;
	const char *usage;
};

static struct control_cmd control_cmds[CONTROL_COMMANDS_MAX];
static size_t control_ncmds;

static int control_fd = -1;		/* the listener */
static char *control_path;		/* its file, removed at the end */
static dev_t control_dev;
static ino_t control_ino;
static gid_t control_gid;		/* the socket's group */
static int control_stop_pipe[2] = { -1, -1 };
static int control_main_pipe[2] = { -1, -1 };
static pthread_t control_tid;
static int control_running;
static int control_stopping;		/* under control_lock */

/* The slot a CONTROL_MAIN command waits in. */
static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t control_done_cond = PTHREAD_COND_INITIALIZER;
static struct {
	const struct control_cmd *cmd;
	const struct control_req *req;
	struct control_out *out;
	int status;
	int done;
} control_slot;

/* control_append - add bytes to an answer */
static void
control_append(struct control_out *out, const char *s, size_t n)
{
	if (out->len + n + 1 > out->size) {
		out->size = (out->len + n + 1) * 2;
		out->buf = x_realloc(out->buf, out->size);
	}
	memcpy(out->buf + out->len, s, n);
	out->len += n;
	out->buf[out->len] = '\0';
}

/* control_escape - a value safe on one line */
char *
control_escape(const char *value)
{
	const unsigned char *p;
	char *res, *q;

	res = q = x_malloc(strlen(value) * 4 + 1);
	for (p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			q += sprintf(q, "\\x%02x", *p);
		else
			*q++ = (char)*p;
	}
	*q = '\0';
	return res;
}

/* control_put - one data line */
void
control_put(struct control_out *out, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value, *esc;

	va_start(ap, fmt);
	value = x_vasprintf(fmt, ap);
	va_end(ap);
	esc = control_escape(value);
	control_append(out, key, strlen(key));
	control_append(out, "\t", 1);
	control_append(out, esc, strlen(esc));
	control_append(out, "\n", 1);
	free(esc);
	free(value);
}

/* control_message - the end line's message */
void
control_message(struct control_out *out, const char *fmt, ...)
{
	va_list ap;
	char *esc;

	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
	esc = control_escape(out->message);
	snprintf(out->message, sizeof(out->message), "%s", esc);
	free(esc);
}

/* control_register - add or replace a command */
void
control_register(const char *name, control_fn fn, void *ctx, int flags,
		 const char *usage)
{
	size_t i;

	for (i = 0; i < control_ncmds; i++)
		if (strcmp(control_cmds[i].name, name) == 0)
			break;
	if (i == CONTROL_COMMANDS_MAX)
		msg_panic("control_register: too many commands");
	control_cmds[i].name = name;
	control_cmds[i].fn = fn;
	control_cmds[i].ctx = ctx;
	control_cmds[i].flags = flags;
	control_cmds[i].usage = usage;
	if (i == control_ncmds)
		control_ncmds++;
}

/* control_parse - a request line into words */
int
control_parse(char *line, struct control_req *req, char *err, size_t errlen)
{
	char *p, *save = NULL;

	memset(req, 0, sizeof(*req));
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			x_err(err, errlen, "byte 0x%02x in the request",
			      (unsigned char)*p);
			return -1;
		}
	for (p = strtok_r(line, " ", &save); p != NULL;
	     p = strtok_r(NULL, " ", &save)) {
		if (req->argc == CONTROL_ARGS_MAX) {
			x_err(err, errlen, "more than %d words",
			      CONTROL_ARGS_MAX);
			return -1;
		}
		req->argv[req->argc++] = p;
	}
	if (req->argc == 0) {
		x_err(err, errlen, "empty request");
		return -1;
	}
	return 0;
}

/* control_help - the "help" command: every command and its usage */
static int
control_help(const struct control_req *req, struct control_out *out,
	     void *ctx)
{
	size_t i;

	(void)req;
	(void)ctx;
	for (i = 0; i < control_ncmds; i++)
		control_put(out, "command", "%s%s%s", control_cmds[i].name,
			    control_cmds[i].usage ? " " : "",
			    control_cmds[i].usage ? control_cmds[i].usage : "");
	return CONTROL_OK;
}

/* control_stats - the "stats" command: the metrics registry's series,
 * histogram buckets left out (their _sum and _count stay) */
static int
control_stats(const struct control_req *req, struct control_out *out,
	      void *ctx)
{
	char *text = metrics_render(NULL), *line, *save = NULL, *sp;

	(void)ctx;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (*line == '#' || (sp = strrchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		if (strstr(line, "_bucket{") != NULL)
			continue;
		/* "stats PREFIX": only the series whose name starts so */
		if (req->argc > 1 && strncmp(line, req->argv[1],
					     strlen(req->argv[1])) != 0)
			continue;
		control_put(out, line, "%s", sp + 1);
	}
	free(text);
	return CONTROL_OK;
}

/* control_open - bind the socket */
int
control_open(const char *path, const char *owner, const char *group,
	     char *err, size_t errlen)
{
	struct listen_spec ls;
	struct stat st;
	char *spec;
	int fd;

	spec = x_asprintf("unix:%s,mode=0660%s%s%s%s", path,
			  owner && *owner ? ",owner=" : "",
			  owner && *owner ? owner : "",
			  group && *group ? ",group=" : "",
			  group && *group ? group : "");
	if (listen_parse(spec, &ls, err, errlen) < 0) {
		free(spec);
		return -1;
	}
	free(spec);
	if ((fd = listen_open(&ls, 16, err, errlen)) < 0)
		return -1;
	if (lstat(ls.path, &st) < 0) {
		x_err(err, errlen, "%s: %s", ls.path, strerror(errno));
		close(fd);
		return -1;
	}
	if (pipe2(control_stop_pipe, O_CLOEXEC) < 0
	    || pipe2(control_main_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		x_err(err, errlen, "pipe: %s", strerror(errno));
		close(fd);
		return -1;
	}
	control_fd = fd;
	control_path = x_strdup(ls.path);
	control_dev = st.st_dev;
	control_ino = st.st_ino;
	control_gid = st.st_gid;
	control_register("help", control_help, NULL, 0, NULL);
	control_register("stats", control_stats, NULL, 0, "[PREFIX]");
	return 0;
}

/* control_peer_in_group - whether uid is in gid (its primary group or
 * a supplementary one, from the user database) */
static int
control_peer_in_group(uid_t uid, gid_t pgid, gid_t gid)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256, i;

	if (pgid == gid)
		return 1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return 0;
	if (pw.pw_gid == gid)
		return 1;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* control_find - the command named so, or NULL */
static const struct control_cmd *
control_find(const char *name)
{
	size_t i;

	for (i = 0; i < control_ncmds; i++)
		if (strcmp(control_cmds[i].name, name) == 0)
			return &control_cmds[i];
	return NULL;
}

/* control_run - run a command where it belongs; the status */
static int
control_run(const struct control_cmd *cmd, const struct control_req *req,
	    struct control_out *out)
{
	int status;
	char b = 0;

	if (!(cmd->flags & CONTROL_MAIN))
		return cmd->fn(req, out, cmd->ctx);
	pthread_mutex_lock(&control_lock);
	control_slot.cmd = cmd;
	control_slot.req = req;
	control_slot.out = out;
	control_slot.done = 0;
	pthread_mutex_unlock(&control_lock);
	if (write(control_main_pipe[1], &b, 1) < 0 && errno != EAGAIN)
		msg_warn("control: main pipe: %m");
	pthread_mutex_lock(&control_lock);
	while (!control_slot.done && !control_stopping)
		pthread_cond_wait(&control_done_cond, &control_lock);
	status = control_slot.done ? control_slot.status : CONTROL_FAILED;
	if (!control_slot.done)
		control_message(out, "the daemon is stopping");
	control_slot.done = 1;
	control_slot.cmd = NULL;
	pthread_mutex_unlock(&control_lock);
	return status;
}

/* control_main_fd - the daemon's side of the hand-over */
int
control_main_fd(void)
{
	return control_fd >= 0 ? control_main_pipe[0] : -1;
}

/* control_main_run - run the command waiting in the slot, if any */
void
control_main_run(void)
{
	char buf[64];
	const struct control_cmd *cmd;
	int status;

	while (read(control_main_pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&control_lock);
	cmd = control_slot.done || control_stopping ? NULL : control_slot.cmd;
	pthread_mutex_unlock(&control_lock);
	if (cmd == NULL)
		return;
	/* the control thread waits: the slot is ours until done */
	status = cmd->fn(control_slot.req, control_slot.out, cmd->ctx);
	pthread_mutex_lock(&control_lock);
	control_slot.status = status;
	control_slot.done = 1;
	pthread_cond_signal(&control_done_cond);
	pthread_mutex_unlock(&control_lock);
}

/* control_read_line - the request line; 0, or -1 (logged) */
static int
control_read_line(int fd, char *line, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char *nl;

	for (;;) {
		n = read(fd, line + len, size - 1 - len);
		if (n <= 0) {
			if (n < 0)
				msg_warn("control: read: %m");
			return -1;
		}
		len += (size_t)n;
		line[len] = '\0';
		if ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			return 0;
		}
		if (len == size - 1) {
			msg_warn("control: request longer than %d bytes: "
				 "closed", CONTROL_LINE_MAX);
			return -1;
		}
	}
}

/* control_write_all - the answer; errors only logged (the client went) */
static void
control_write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) < 0) {
			if (errno == EINTR)
				continue;
			msg_info("control: write: %m");
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* control_join - the request's words again, for the log (the line was
 * cut by control_parse; the words are printable ASCII) */
static const char *
control_join(const struct control_req *req, char *buf, size_t size)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < req->argc && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? " " : "",
				      req->argv[i]);
	return buf;
}

static const char *const control_kinds[] = {
	"OK", "notfound", "refused", "usage", "failed",
};

/* control_client_peer - timeouts and the peer's credentials; 0 or -1 */
static int
control_client_peer(int fd, struct ucred *cred)
{
	socklen_t clen = sizeof(*cred);
	struct timeval tv = { CONTROL_TIMEOUT, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &clen) < 0) {
		msg_warn("control: SO_PEERCRED: %m: closed");
		return -1;
	}
	return 0;
}

/* control_client_dispatch - check, parse and run one request line */
static int
control_client_dispatch(const struct ucred *cred, char *line,
			struct control_out *out)
{
	struct control_req req;
	const struct control_cmd *cmd;
	char joined[CONTROL_LINE_MAX + 2], err[256];
	int status;

	if (cred->uid != 0 && cred->uid != geteuid()
	    && !control_peer_in_group(cred->uid, cred->gid, control_gid)) {
		msg_warn("control: refused uid=%u pid=%d: not root, not us, "
			 "not in group %u", (unsigned)cred->uid,
			 (int)cred->pid, (unsigned)control_gid);
		control_message(out, "uid %u may not use this control socket",
				(unsigned)cred->uid);
		return CONTROL_REFUSED;
	}
	if (control_parse(line, &req, err, sizeof(err)) < 0) {
		msg_warn("control: uid=%u pid=%d: bad request: %s",
			 (unsigned)cred->uid, (int)cred->pid, err);
		control_message(out, "bad request: %s", err);
		return CONTROL_USAGE;
	}
	req.uid = cred->uid;
	req.pid = cred->pid;
	if ((cmd = control_find(req.argv[0])) == NULL) {
		control_message(out, "unknown command '%s' (try help)",
				req.argv[0]);
		return CONTROL_USAGE;
	}
	if (cmd->flags & CONTROL_CHANGE)
		msg_info("control: uid=%u pid=%d command=%s",
			 (unsigned)cred->uid, (int)cred->pid,
			 control_join(&req, joined, sizeof(joined)));
	else
		msg_debug("control: uid=%u pid=%d command=%s",
			  (unsigned)cred->uid, (int)cred->pid, cmd->name);
	status = control_run(cmd, &req, out);
	if (status < CONTROL_OK || status > CONTROL_FAILED)
		status = CONTROL_FAILED;
	return status;
}

/* control_client_answer - the output, then the .OK or .ERR line */
static void
control_client_answer(int fd, int status, const struct control_out *out)
{
	char *end;

	if (out->buf != NULL)
		control_write_all(fd, out->buf, out->len);
	end = x_asprintf(status == CONTROL_OK ? ".OK%s%s\n" : ".ERR %s %s\n",
			 status == CONTROL_OK ? (*out->message ? " " : "")
			 : control_kinds[status], out->message);
	control_write_all(fd, end, strlen(end));
	free(end);
}

/* control_client - serve one connection */
static void
control_client(int fd)
{
	struct control_out out;
	struct ucred cred;
	char line[CONTROL_LINE_MAX + 2];
	int status;

	memset(&out, 0, sizeof(out));
	if (control_client_peer(fd, &cred) < 0)
		return;
	/* the request first, even a stranger's: closing on unread bytes
	 * would reset the connection before the client reads the answer */
	if (control_read_line(fd, line, sizeof(line)) < 0)
		return;
	status = control_client_dispatch(&cred, line, &out);
	control_client_answer(fd, status, &out);
	free(out.buf);
}

/* control_thread - accept and serve until control_stop */
static void *
control_thread(void *arg)
{
	struct pollfd pfd[2];
	int fd;

	(void)arg;
	pfd[0].fd = control_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = control_stop_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_error("control: poll: %m: control socket closed");
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		/* the listener is non-blocking; the client need not be */
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		control_client(fd);
		close(fd);
	}
	return NULL;
}

/* control_start - the thread, signals blocked (they are the daemon's) */
int
control_start(char *err, size_t errlen)
{
	sigset_t all, old;
	int e;

	if (control_fd < 0)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&control_tid, NULL, control_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		x_err(err, errlen, "control: pthread_create: %s", strerror(e));
		return -1;
	}
	control_running = 1;
	return 0;
}

/* control_stop - stop the thread, remove the socket if still ours */
void
control_stop(void)
{
	struct stat st;
	char b = 0;

	if (control_running) {
		pthread_mutex_lock(&control_lock);
		control_stopping = 1;
		pthread_cond_broadcast(&control_done_cond);
		pthread_mutex_unlock(&control_lock);
		if (write(control_stop_pipe[1], &b, 1) < 0)
			msg_warn("control: stop pipe: %m");
		pthread_join(control_tid, NULL);
		control_running = 0;
	}
	if (control_fd >= 0)
		close(control_fd);
	control_fd = -1;
	if (control_path != NULL) {
		if (lstat(control_path, &st) == 0 && S_ISSOCK(st.st_mode)
		    && st.st_dev == control_dev && st.st_ino == control_ino)
			(void)unlink(control_path);
		x_free(&control_path);
	}
}
