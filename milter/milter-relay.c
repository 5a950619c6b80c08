/*++
 * NAME
 *	milter-relay 3
 * SUMMARY
 *	a TCP milter listener with a client allow-list, in front of libmilter
 * DESCRIPTION
 *	libmilter binds and accepts on its own socket and has no hook
 *	between accept() and the first command, so a TCP listener handed
 *	to it would serve any local user or any host that can reach the
 *	port (and sign mail for them).  With a TCP milter.listen, libmilter
 *	listens instead on a unix socket in a private directory (made with
 *	mkdtemp, 0700, owned by the daemon's user); we bind the TCP
 *	listener ourselves, accept through runtime_accept() (which closes
 *	and logs a client outside milter.listen_allow, and counts it), and
 *	relay each admitted connection to the private socket, one thread
 *	per connection, bytes unchanged.  The relay thread ends when either
 *	side closes; libmilter's own timeout still applies on its side.
 *	A unix milter.listen (the default) needs none of this: libmilter
 *	binds it directly, with the mode and owner the spec gives.
 *	Either way milter_relay_conn() spells what libmilter binds its way.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "milter-relay.h"
#include "runtime.h"
#include "xalloc.h"

#define RELAY_BUF	65536

static struct {
	int lfd;			/* our TCP listener */
	struct runtime *rt;
	char dir[64];			/* the private directory */
	struct listen_spec inner;	/* libmilter's socket in it */
	pthread_t tid;
	int running;
	int stop[2];			/* wakes the accept thread */
} relay = { .lfd = -1, .stop = { -1, -1 } };

struct relay_conn {
	int out;			/* the MTA's TCP connection */
};

/* milter_relay_open - bind the TCP listener and make the private
 * socket's spec (see milter-relay.h) */
int
milter_relay_open(const struct listen_spec *tcp, const char *user,
		  struct listen_spec *inner, char *err, size_t errlen)
{
	char tmpl[] = "/tmp/elemta-milter.XXXXXX", ebuf[128];
	struct passwd *pw = NULL;
	int on = 1, dfd;

	if ((relay.lfd = listen_open(tcp, 256, err, errlen)) < 0)
		return -1;
	/* Accepted connections inherit it: without it every message
	 * waits for a delayed ACK (the verdict follows small writes). */
	if (setsockopt(relay.lfd, IPPROTO_TCP, TCP_NODELAY, &on,
		       sizeof(on)) < 0)
		msg_warn("listen: cannot set TCP_NODELAY: %m");
	if (geteuid() == 0 && user != NULL && *user != '\0'
	    && (pw = getpwnam(user)) == NULL) {
		x_err(err, errlen, "user %s: no such user", user);
		goto fail;
	}
	if (mkdtemp(tmpl) == NULL) {
		x_err(err, errlen, "mkdtemp %s: %s", tmpl,
		      x_strerror(errno, ebuf, sizeof(ebuf)));
		goto fail;
	}
	snprintf(relay.dir, sizeof(relay.dir), "%s", tmpl);
	if (pw != NULL) {
		if ((dfd = open(relay.dir, O_RDONLY | O_DIRECTORY
				| O_NOFOLLOW | O_CLOEXEC)) < 0
		    || fchown(dfd, pw->pw_uid, (gid_t)-1) < 0) {
			x_err(err, errlen, "chown %s: %s", relay.dir,
			      x_strerror(errno, ebuf, sizeof(ebuf)));
			if (dfd >= 0)
				close(dfd);
			goto fail;
		}
		close(dfd);
	}
	memset(&relay.inner, 0, sizeof(relay.inner));
	relay.inner.family = LISTEN_UNIX;
	snprintf(relay.inner.path, sizeof(relay.inner.path), "%s/milter.sock",
		 relay.dir);
	relay.inner.mode = 0600;
	if (pw != NULL)
		snprintf(relay.inner.owner, sizeof(relay.inner.owner), "%s",
			 user);
	*inner = relay.inner;
	return 0;

fail:
	close(relay.lfd);
	relay.lfd = -1;
	if (relay.dir[0] != '\0')
		(void)rmdir(relay.dir);
	relay.dir[0] = '\0';
	return -1;
}

/* relay_connect - a connection to libmilter's private socket */
static int
relay_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, relay.inner.path,
	       strnlen(relay.inner.path, sizeof(sun.sun_path) - 1));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* relay_write - all of buf, or -1 */
static int
relay_write(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* relay_thread - copy bytes both ways until a side closes */
static void *
relay_thread(void *arg)
{
	struct relay_conn *rc = arg;
	struct pollfd pfd[2];
	char *buf = x_malloc(RELAY_BUF);
	ssize_t n;
	int in, i;

	if ((in = relay_connect()) < 0) {
		msg_warn("milter relay: connect %s: %m", relay.inner.path);
		close(rc->out);
		free(buf);
		x_free(&rc);
		return NULL;
	}
	pfd[0].fd = rc->out;
	pfd[1].fd = in;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(pfd[i].fd, buf, RELAY_BUF, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || relay_write(pfd[1 - i].fd, buf,
						  (size_t)n) < 0)
				goto done;
		}
	}
done:
	close(in);
	close(rc->out);
	free(buf);
	x_free(&rc);
	return NULL;
}

/* relay_accept_thread - admit clients and start their relays */
static void *
relay_accept_thread(void *arg)
{
	struct pollfd pfd[2];
	struct relay_conn *rc;
	pthread_attr_t attr;
	pthread_t tid;
	int fd;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pfd[0].fd = relay.lfd;
	pfd[1].fd = relay.stop[0];
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_error("milter relay: poll: %m");
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		while ((fd = runtime_accept(relay.rt, relay.lfd,
					    SOCK_CLOEXEC)) >= 0) {
			rc = x_calloc(1, sizeof(*rc));
			rc->out = fd;
			if ((errno = pthread_create(&tid, &attr, relay_thread,
						    rc)) != 0) {
				msg_warn("milter relay: pthread_create: %m: "
					 "connection closed");
				close(fd);
				x_free(&rc);
			}
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
		    && errno != ECONNABORTED)
			msg_warn("milter relay: accept: %m");
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* milter_relay_start - start accepting (after runtime_start) */
void
milter_relay_start(struct runtime *rt)
{
	if (relay.lfd < 0)
		return;
	relay.rt = rt;
	if (pipe2(relay.stop, O_CLOEXEC) < 0)
		msg_fatal("milter relay: pipe: %m");
	if ((errno = pthread_create(&relay.tid, NULL, relay_accept_thread,
				    NULL)) != 0)
		msg_fatal("milter relay: pthread_create: %m");
	relay.running = 1;
}

/* milter_relay_stop - stop accepting; remove the private socket */
void
milter_relay_stop(void)
{
	if (relay.running) {
		(void)write(relay.stop[1], "x", 1);
		pthread_join(relay.tid, NULL);
		relay.running = 0;
		close(relay.stop[0]);
		close(relay.stop[1]);
	}
	if (relay.lfd >= 0)
		close(relay.lfd);
	relay.lfd = -1;
	if (relay.dir[0] != '\0') {
		(void)unlink(relay.inner.path);
		(void)rmdir(relay.dir);
		relay.dir[0] = '\0';
	}
}

/* milter_relay_conn - the address in libmilter's smfi_setconn() form */
char *
milter_relay_conn(const struct listen_spec *ls, char *buf, size_t len)
{
	const char *fam = ls->family == LISTEN_INET ? "inet" : "inet6";
	int hn = (int)strnlen(ls->host, sizeof(ls->host));

	if (len == 0)
		return buf;
	if (ls->family == LISTEN_UNIX)
		snprintf(buf, len, "local:%.*s",
			 (int)strnlen(ls->path, sizeof(ls->path)), ls->path);
	else if (ls->family == LISTEN_INET || ls->family == LISTEN_INET6)
		/* libmilter binds to the any address when '@' is absent */
		snprintf(buf, len, "%s:%u%s%.*s", fam, ls->port,
			 hn ? "@" : "", hn, ls->host);
	else
		snprintf(buf, len, "unknown:%d", (int)ls->family);
	return buf;
}
