/*++
 * NAME
 *	0010-log 1
 * SUMMARY
 *	unit tests for lib/log
 * DESCRIPTION
 *	Level filtering happens before formatting (the arguments of a
 *	disabled call are not even evaluated), queue id prefixes, the
 *	stderr line format, truncation, and the name tables; log_open()
 *	again (a reload) while four threads log: every line has one
 *	ident or the other, whole; msg_stderr() and msg_fatal_stderr()
 *	(in a child): "PROGRAM: text" on stderr, then the fatal line in the
 *	log and exit status 1, %m the same in both.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "tap.h"

static char last_line[8192];
static int last_prio = -1;
static int hook_calls;
static int evaluated;

/* hook - capture what the logger emits */
static void
hook(int prio, const char *line)
{
	hook_calls++;
	last_prio = prio;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

/* side_effect - counts how often log arguments are evaluated */
static int
side_effect(void)
{
	return ++evaluated;
}

struct name_case {
	const char *name;
	int level;		/* -2: don't check */
	int facility;
};

static const struct name_case names[] = {
	{ "debug", LOG_DEBUG, -2 }, { "info", LOG_INFO, -2 },
	{ "notice", LOG_NOTICE, -2 }, { "warning", LOG_WARNING, -2 },
	{ "warn", LOG_WARNING, -2 }, { "error", LOG_ERR, -2 },
	{ "ERR", LOG_ERR, -2 }, { "crit", LOG_CRIT, -2 },
	{ "loud", -1, -1 }, { "", -1, -1 },
	{ "mail", -1, LOG_MAIL }, { "local7", -1, LOG_LOCAL7 },
	{ "daemon", -1, LOG_DAEMON },
};

struct filter_case {
	int threshold;
	int prio;
	int emitted;
};

static const struct filter_case filters[] = {
	{ LOG_INFO, LOG_DEBUG, 0 }, { LOG_INFO, LOG_INFO, 1 },
	{ LOG_INFO, LOG_WARNING, 1 }, { LOG_WARNING, LOG_NOTICE, 0 },
	{ LOG_WARNING, LOG_ERR, 1 }, { LOG_DEBUG, LOG_DEBUG, 1 },
	{ LOG_ERR, LOG_WARNING, 0 },
};

/* test_names - level and facility names */
static void
test_names(void)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].level != -2)
			is_int(log_level_parse(names[i].name), names[i].level,
			       "level name '%s'", names[i].name);
		if (names[i].facility != -2)
			is_int(log_facility_parse(names[i].name),
			       names[i].facility, "facility name '%s'",
			       names[i].name);
	}
	is_str(log_level_name(LOG_WARNING), "warning", "LOG_WARNING's name");
}

/* test_filter - what is emitted at which threshold */
static void
test_filter(void)
{
	size_t i;

	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		const struct filter_case *f = &filters[i];

		log_set_level(f->threshold);
		hook_calls = 0;
		log_write(f->prio, "x");
		is_int(hook_calls, f->emitted, "threshold %s, message %s",
		       log_level_name(f->threshold), log_level_name(f->prio));
	}
	log_set_level(LOG_INFO);
	evaluated = 0;
	msg_debug("value=%d", side_effect());
	is_int(evaluated, 0, "a disabled msg_debug does not evaluate its "
	       "arguments");
	msg_info("value=%d", side_effect());
	is_int(evaluated, 1, "an enabled msg_info does");
	is_str(last_line, "value=1", "msg_info text");
	qid_debug("ABC", "n=%d", side_effect());
	is_int(evaluated, 1, "a disabled qid_debug does not evaluate");
}

/* test_qid - the queue id prefix */
static void
test_qid(void)
{
	log_set_level(LOG_INFO);
	qid_info("3F2A1C12", "spf=pass action=%s", "accept");
	is_str(last_line, "3F2A1C12: spf=pass action=accept", "queue id prefix");
	is_int(last_prio, LOG_INFO, "qid_info priority");
	qid_warn(NULL, "client=%s", "1.2.3.4");
	is_str(last_line, "NOQUEUE: client=1.2.3.4", "NULL queue id");
	qid_warn("", "x");
	is_str(last_line, "NOQUEUE: x", "empty queue id");
	is_int(last_prio, LOG_WARNING, "qid_warn priority");
	/* a peer's value cannot forge a line: controls become '?' */
	qid_info("ABC", "ident=%s", "x\r\nDEF: forged\tline\x7f\xc3\xa9");
	is_str(last_line, "ABC: ident=x??DEF: forged?line?\xc3\xa9",
	       "CR, LF, TAB and DEL become '?', UTF-8 stays");
}

/* test_truncate - over-long lines are cut with "..." */
static void
test_truncate(void)
{
	char *big = x_malloc(10000);
	size_t len;

	memset(big, 'a', 9999);
	big[9999] = '\0';
	msg_warn("%s", big);
	len = strlen(last_line);
	ok(len > 1000 && len < 9999, "long line truncated (len %zu)", len);
	is_str(last_line + len - 3, "...", "truncation is marked");
	free(big);
}

/* test_stderr - the stderr format: "ident[pid]: level: text" */
static void
test_stderr(void)
{
	char path[] = "/tmp/elemta-t-log.XXXXXX", buf[512], want[512];
	int fd, saved;
	ssize_t n;

	if ((fd = mkstemp(path)) < 0)
		bail_out("mkstemp: %m");
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_open("/usr/sbin/elemta-test", LOG_DEST_STDERR, LOG_MAIL);
	qid_notice("ABC123", "hello %s", "world");
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	snprintf(want, sizeof(want), "elemta-test[%ld]: notice: ABC123: "
		 "hello world\n", (long)getpid());
	is_str(buf, want, "stderr line format (ident is the basename)");
}

/* test_fatal_stderr - the line for whoever started the program, then
 * the fatal one in the log (stderr here too, as with -f) */
static void
test_fatal_stderr(void)
{
	char path[] = "/tmp/elemta-t-log.XXXXXX", buf[1024], want[1024];
	int fd, status = 0;
	ssize_t n;
	pid_t pid;

	if ((fd = mkstemp(path)) < 0)
		bail_out("mkstemp: %m");
	fflush(stdout);
	if ((pid = fork()) < 0)
		bail_out("fork: %m");
	if (pid == 0) {
		dup2(fd, STDERR_FILENO);
		log_test_hook = NULL;
		log_open("elemta-ident", LOG_DEST_STDERR, LOG_MAIL);
		log_set_program("elemta-test");
		msg_stderr("unexpected argument '%s'", "x\ty");
		errno = ENOENT;
		msg_fatal_stderr("listen %s: %m", "unix:/nonexistent/s");
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	   "msg_fatal_stderr exits with status 1 (status %d)", status);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	snprintf(want, sizeof(want), "elemta-test: unexpected argument "
		 "'x\ty'\nelemta-test: listen unix:/nonexistent/s: %s\n"
		 "elemta-ident[%ld]: crit: fatal: listen unix:/nonexistent/s: "
		 "%s\n", strerror(ENOENT), (long)pid, strerror(ENOENT));
	is_str(buf, want, "stderr: the program's name and the text as it "
	       "is, then the fatal line of the log");
}

#define RACE_THREADS	4
#define RACE_LINES	20000

static volatile int race_stop;

/* race_logger - log lines until told to stop */
static void *
race_logger(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < RACE_LINES && !race_stop; i++)
		msg_info("line %d of a thread", i);
	return NULL;
}

/* has_ident - does the line's ident (up to end) equal ident? */
static int
has_ident(const char *line, const char *end, const char *ident)
{
	return (size_t)(end - line) == strlen(ident)
	       && strncmp(line, ident, strlen(ident)) == 0;
}

/* test_reopen_race - reloads (log_open) while other threads log */
static void
test_reopen_race(void)
{
	static const char *const idents[] = {
		"ident-one", "ident-two-is-longer-than-one",
	};
	char path[] = "/tmp/elemta-t-log.XXXXXX", line[512], *p;
	pthread_t tid[RACE_THREADS];
	int fd, saved, i, reopens = 0, bad = 0, lines = 0;
	FILE *fp;

	if ((fd = mkstemp(path)) < 0)
		bail_out("mkstemp: %m");
	fcntl(fd, F_SETFL, O_APPEND);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_test_hook = NULL;		/* it is not thread-safe */
	log_open(idents[0], LOG_DEST_STDERR, LOG_MAIL);
	race_stop = 0;
	for (i = 0; i < RACE_THREADS; i++)
		if (pthread_create(&tid[i], NULL, race_logger, NULL) != 0)
			bail_out("pthread_create");
	for (reopens = 0; reopens < 20000; reopens++)
		log_open(idents[reopens % 2], LOG_DEST_STDERR, LOG_MAIL);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(tid[i], NULL);
	log_open("0010-log", LOG_DEST_STDERR, LOG_MAIL);
	log_test_hook = hook;
	dup2(saved, STDERR_FILENO);
	close(saved);
	if ((fp = fdopen(fd, "r")) == NULL)
		bail_out("fdopen: %m");
	rewind(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lines++;
		p = strchr(line, '[');
		if (p == NULL || (!has_ident(line, p, idents[0])
				  && !has_ident(line, p, idents[1]))) {
			if (bad++ < 3)
				diag("torn line: %s", line);
		}
	}
	fclose(fp);
	unlink(path);
	is_int(lines, RACE_THREADS * RACE_LINES,
	       "%d threads x %d lines while the ident changed %d times: "
	       "every line written", RACE_THREADS, RACE_LINES, reopens);
	is_int(bad, 0, "every line has one ident or the other, whole");
}

int
main(void)
{
	int devnull = open("/dev/null", O_WRONLY);

	/* The hook sees every line; keep them out of the TAP stream. */
	if (devnull >= 0)
		dup2(devnull, STDERR_FILENO);
	plan_lazy();
	log_test_hook = hook;
	log_open("0010-log", LOG_DEST_STDERR, LOG_MAIL);
	test_names();
	test_filter();
	test_qid();
	test_truncate();
	test_stderr();
	test_fatal_stderr();
	test_reopen_race();
	done_testing();
	return exit_status();
}
