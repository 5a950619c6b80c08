/*++
 * NAME
 *	0023-control 1
 * SUMMARY
 *	unit tests for lib/control (the control socket's protocol)
 * DESCRIPTION
 *	The request parser and the value escaping on tables, then the
 *	server in this process on a socket in a temporary directory: a
 *	command run in the control thread, one handed to "the daemon's
 *	thread" (here the test's main thread, polling control_main_fd as a
 *	daemon's loop does), the end lines of each status, an unknown
 *	command, a request with a control byte, one too long, a client
 *	that sends nothing (the server goes on), the socket's mode, the
 *	built-in stats reading the metrics registry, and the socket file
 *	removed by control_stop.  The daemons' own commands and the peer
 *	checks are tested end to end (t/06xx).
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "metrics.h"
#include "tap.h"
#include "xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *line;
	int argc;			/* -1: refused */
	const char *words;		/* the words joined by '|' */
	const char *err;
} parse_cases[] = {
	{ "status", 1, "status", NULL },
	{ "reload policyd", 2, "reload|policyd", NULL },
	{ "  ratelimit   show  ip:192.0.2.1 ", 3, "ratelimit|show|ip:192.0.2.1",
	  NULL },
	{ "", -1, NULL, "empty request" },
	{ "    ", -1, NULL, "empty request" },
	{ "a\tb", -1, NULL, "byte 0x09 in the request" },
	{ "caf\xc3\xa9", -1, NULL, "byte 0xc3 in the request" },
	{ "a b c d e f g h i j k l m n o p", 16, NULL, NULL },
	{ "a b c d e f g h i j k l m n o p q", -1, NULL, "more than 16 words" },
};

static const struct {
	const char *in, *out;
} escape_cases[] = {
	{ "plain text: 1 2 3", "plain text: 1 2 3" },
	{ "tab\there", "tab\\x09here" },
	{ "new\nline\r", "new\\x0aline\\x0d" },
	{ "back\\slash", "back\\x5cslash" },
	{ "\x7f\xff", "\\x7f\\xff" },
	{ "", "" },
};

/* test_parse - the parser's table */
static void
test_parse(void)
{
	struct control_req req;
	char line[200], err[100], words[200];
	size_t i;
	int j, rc;

	for (i = 0; i < NELEM(parse_cases); i++) {
		snprintf(line, sizeof(line), "%s", parse_cases[i].line);
		err[0] = '\0';
		rc = control_parse(line, &req, err, sizeof(err));
		if (parse_cases[i].argc < 0) {
			is_int(rc, -1, "parse '%s': refused", parse_cases[i].line);
			is_str(err, parse_cases[i].err, "parse '%s': why",
			       parse_cases[i].line);
			continue;
		}
		is_int(req.argc, parse_cases[i].argc, "parse '%s': %d words",
		       parse_cases[i].line, parse_cases[i].argc);
		if (parse_cases[i].words == NULL)
			continue;
		words[0] = '\0';
		for (j = 0; j < req.argc; j++)
			snprintf(words + strlen(words),
				 sizeof(words) - strlen(words), "%s%s",
				 j ? "|" : "", req.argv[j]);
		is_str(words, parse_cases[i].words, "parse '%s': the words",
		       parse_cases[i].line);
	}
}

/* test_escape - the escaping's table */
static void
test_escape(void)
{
	char *e;
	size_t i;

	for (i = 0; i < NELEM(escape_cases); i++) {
		e = control_escape(escape_cases[i].in);
		is_str(e, escape_cases[i].out, "escape case %zu", i);
		free(e);
	}
}

/* The test's commands. */
static int
cmd_echo(const struct control_req *req, struct control_out *out, void *ctx)
{
	int i;

	(void)ctx;
	for (i = 1; i < req->argc; i++)
		control_put(out, "arg", "%s", req->argv[i]);
	control_put(out, "odd", "a\tb");
	return CONTROL_OK;
}

static int main_runs;

static int
cmd_main(const struct control_req *req, struct control_out *out, void *ctx)
{
	(void)req;
	(void)ctx;
	main_runs++;			/* only this thread touches it */
	control_message(out, "ran in the main thread");
	return CONTROL_OK;
}

static int
cmd_fail(const struct control_req *req, struct control_out *out, void *ctx)
{
	(void)ctx;
	control_message(out, "no %s here", req->argc > 1 ? req->argv[1] : "x");
	return req->argc > 1 ? CONTROL_NOTFOUND : CONTROL_FAILED;
}

/* ask - one request on a new connection; the whole answer (malloc'ed),
 * the main thread's hand-over served meanwhile */
static char *
ask(const char *path, const char *request)
{
	struct sockaddr_un sun;
	struct pollfd pfd[2];
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return x_asprintf("connect: %s", strerror(errno));
	if (write(fd, request, strlen(request)) < 0)
		diag("write: %s", strerror(errno));
	(void)shutdown(fd, SHUT_WR);	/* our EOF: nothing more comes */
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = control_main_fd();
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, 10000) <= 0)
			break;
		if (pfd[1].revents & POLLIN)
			control_main_run();
		if (!(pfd[0].revents & (POLLIN | POLLHUP)))
			continue;
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return x_strdup(buf);
}

/* What the server answers (request NULL: longer than the limit). */
static const struct {
	const char *request, *answer, *name;
} server_cases[] = {
	{ "echo one two\n", "arg\tone\narg\ttwo\nodd\ta\\x09b\n.OK\n",
	  "a command of the control thread: data lines, .OK" },
	{ "main\r\n", ".OK ran in the main thread\n",
	  "a CONTROL_MAIN command: run by the daemon's thread" },
	{ "fail thing\n", ".ERR notfound no thing here\n", "notfound's end line" },
	{ "fail\n", ".ERR failed no x here\n", "failed's end line" },
	{ "nosuch\n", ".ERR usage unknown command 'nosuch' (try help)\n",
	  "an unknown command" },
	{ "echo \x01\n", ".ERR usage bad request: byte 0x01 in the request\n",
	  "a control byte is refused" },
	{ NULL, "", "a request longer than the limit: closed, no answer" },
	{ "", "", "a client that sends nothing: closed at its EOF" },
	{ "stats t0023_\n", "t0023_things_total{kind=\"x\"}\t3\n.OK\n",
	  "stats: the registry's series" },
};

/* test_server - the server in this process */
static void
test_server(void)
{
	char dir[] = "/tmp/t0023.XXXXXX", path[200], err[256], *a, big[1500];
	struct stat st;
	struct metric *m;
	size_t i;

	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ctl/test.ctl", dir);
	m = metrics_counter("t0023_things_total", "Things", "kind");
	metric_add(m, 3, "x");
	control_register("echo", cmd_echo, NULL, 0, "ARGS...");
	control_register("main", cmd_main, NULL, CONTROL_MAIN | CONTROL_CHANGE,
			 NULL);
	control_register("fail", cmd_fail, NULL, 0, NULL);
	if (control_open(path, NULL, NULL, err, sizeof(err)) < 0)
		bail_out("control_open: %s", err);
	if (control_start(err, sizeof(err)) < 0)
		bail_out("control_start: %s", err);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0660,
	   "the socket is mode 0660");
	ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "it is a socket");

	for (i = 0; i < NELEM(server_cases); i++) {
		if (server_cases[i].request == NULL) {	/* the long one */
			memset(big, 'a', sizeof(big) - 2);
			big[sizeof(big) - 2] = '\n';
			big[sizeof(big) - 1] = '\0';
		}
		a = ask(path, server_cases[i].request ? server_cases[i].request
			: big);
		is_str(a, server_cases[i].answer, "%s", server_cases[i].name);
		free(a);
		if (i == 1)
			is_int(main_runs, 1, "... once");
	}
	a = ask(path, "help\n");
	like_str(a, "command\techo ARGS...\n", "help lists the commands");
	free(a);

	control_stop();
	ok(stat(path, &st) < 0 && errno == ENOENT,
	   "control_stop removes the socket file");
	tap_rmtree(dir);
}

int
main(void)
{
	plan_lazy();
	test_parse();
	test_escape();
	test_server();
	done_testing();
	return exit_status();
}
