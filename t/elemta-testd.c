/*++
 * NAME
 *	elemta-testd 8
 * SUMMARY
 *	a minimal daemon on the shared runtime, for the tests
 * SYNOPSIS
 *	elemta-testd [-fnV] [-c FILE] [-o SECTION.KEY=VALUE]...
 * DESCRIPTION
 *	Exercises everything a real Elemta daemon gets from lib/: the
 *	command line, the configuration (it uses the [policyd] section's
 *	listen, user, pidfile and metrics_listen), listeners, detaching,
 *	the pidfile, privilege drop, SIGHUP reload and SIGTERM stop, and
 *	the metrics endpoint.
 *
 *	Each client connection takes a reference to the configuration
 *	snapshot current when it was accepted and keeps it until it
 *	closes: for every line it receives it answers
 *	"gen=N level=LEVEL uid=UID", so a test can see that a reload
 *	reaches new connections while old ones keep their snapshot.
 *	"quit" closes the connection.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "log-conf.h"
#include "metrics.h"
#include "runtime.h"
#include "../policyd/policyd-options.h"
#include "../sections-all.h"

#define TESTD_MAX_CLIENTS 64

struct testd_client {
	int fd;
	struct conf *conf;	/* the snapshot at accept time */
	char buf[512];
	size_t len;
};

static struct metric *m_conns;
static struct metric *m_lines;

/* testd_close - drop a client and its snapshot reference */
static void
testd_close(struct testd_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	conf_unref(&cl->conf);
}

/* testd_answer - one reply line from the client's own snapshot */
static int
testd_answer(struct testd_client *cl)
{
	const struct log_conf *lc = conf_get(cl->conf, &log_conf_section);
	char out[256];
	int n;

	n = snprintf(out, sizeof(out), "gen=%lu level=%s uid=%ld\n",
		     conf_generation(cl->conf), log_level_name(lc->level),
		     (long)geteuid());
	metric_inc(m_lines);
	return write(cl->fd, out, (size_t)n) == n ? 0 : -1;
}

/* testd_read - read from a client and answer each complete line */
static void
testd_read(struct testd_client *cl)
{
	size_t consumed;
	ssize_t n;
	char *nl;

	n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len - 1);
	if (n <= 0) {
		testd_close(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	while ((nl = strchr(cl->buf, '\n')) != NULL) {
		*nl = '\0';
		if (strncmp(cl->buf, "quit", 4) == 0
		    || testd_answer(cl) < 0) {
			testd_close(cl);
			return;
		}
		consumed = (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len - consumed + 1);
		cl->len -= consumed;
	}
	if (cl->len >= sizeof(cl->buf) - 1)
		testd_close(cl);	/* line too long */
}

/* testd_accept - take a new client with the current snapshot */
static void
testd_accept(int lfd, struct testd_client *cls)
{
	int fd, i;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		return;
	for (i = 0; i < TESTD_MAX_CLIENTS; i++) {
		if (cls[i].fd < 0) {
			cls[i].fd = fd;
			cls[i].conf = conf_current();
			cls[i].len = 0;
			metric_inc(m_conns);
			return;
		}
	}
	close(fd);
}

/* main - serve until SIGTERM */
int
main(int argc, char **argv)
{
	struct testd_client cls[TESTD_MAX_CLIENTS];
	struct pollfd pfd[TESTD_MAX_CLIENTS + 2];
	struct runtime rt;
	int i, n, ev, running = 1;

	runtime_init(&rt, "elemta-testd", argc, argv, elemta_sections,
		     &policyd_conf_section,
		     offsetof(struct policyd_conf, daemon), NULL);
	runtime_listen(&rt);
	/* t/0020: a signal in the window before the handlers (test only) */
	if (getenv("ELEMTA_TESTD_START_PAUSE_MS") != NULL)
		usleep((useconds_t)atoi(getenv("ELEMTA_TESTD_START_PAUSE_MS"))
		       * 1000);
	runtime_start(&rt);
	m_conns = metrics_counter("elemta_testd_connections_total",
				  "Connections accepted", NULL);
	m_lines = metrics_counter("elemta_testd_lines_total",
				  "Lines answered", NULL);
	for (i = 0; i < TESTD_MAX_CLIENTS; i++)
		cls[i].fd = -1, cls[i].conf = NULL;

	while (running) {
		pfd[0].fd = daemon_signal_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = rt.listen_fd;
		pfd[1].events = POLLIN;
		for (i = 0; i < TESTD_MAX_CLIENTS; i++) {
			pfd[i + 2].fd = cls[i].fd;
			pfd[i + 2].events = POLLIN;
		}
		n = poll(pfd, TESTD_MAX_CLIENTS + 2, -1);
		if (n < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			ev = daemon_signal_take();
			if (ev & DAEMON_EV_RELOAD)
				runtime_reload(&rt);
			if (ev & DAEMON_EV_STOP)
				running = 0;
		}
		if (pfd[1].revents & POLLIN)
			testd_accept(rt.listen_fd, cls);
		for (i = 0; i < TESTD_MAX_CLIENTS; i++)
			if (cls[i].fd >= 0 && pfd[i + 2].revents)
				testd_read(&cls[i]);
	}
	for (i = 0; i < TESTD_MAX_CLIENTS; i++)
		if (cls[i].fd >= 0)
			testd_close(&cls[i]);
	runtime_finish(&rt);
	return 0;
}
