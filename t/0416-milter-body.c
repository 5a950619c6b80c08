/*++
 * NAME
 *	0416-milter-body 1
 * SUMMARY
 *	unit tests of the message's copy for the content stages
 * DESCRIPTION
 *	A table of messages (headers, then body chunks cut anywhere),
 *	each kept with a memory limit: the copy read back through
 *	milter_body_map and milter_body_fd is the message with CRLF line
 *	ends (a bare LF becomes CRLF, a CRLF cut between two chunks stays
 *	one), and it is in memory or in a file as the limit says, or
 *	dropped over scan_max_size.  The spool file: mode 0600, no name
 *	in the spool directory (made 0700), closed when the message ends,
 *	is aborted, or its connection drops.  A spool directory others
 *	can read is refused: no copy, a reason, no crash.  Over the scan
 *	limit: a header (skip) or 452 4.3.4 (tempfail).  No stage wanting
 *	the body (the default configuration): nothing kept.
 *--*/
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "milter.h"
#include "milter-body.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/elemta-t0416.XXXXXX";

struct body_case {
	const char *name;
	const char *memory_max;		/* body_memory_max */
	const char *scan_max;		/* scan_max_size */
	const char *headers[4];		/* name, value, name, value */
	int eoh;			/* end of headers is signalled */
	const char *chunks[4];		/* body chunks, NULL-terminated */
	const char *want;		/* the copy; NULL: none (oversize) */
	const char *where;		/* "memory", "file", "oversize" */
};

#define BIG_LINE "0123456789012345678901234567890123456789012345678\r\n"
#define BIG_2 BIG_LINE BIG_LINE
#define BIG_10 BIG_2 BIG_2 BIG_2 BIG_2 BIG_2
#define BIG_12 BIG_10 BIG_2

static const struct body_case body_cases[] = {
	{ "CRLF kept", "1M", "25M",
	  { "From", " a@example.test", "Subject", " hi" }, 1,
	  { "line 1\r\nline 2\r\n", NULL },
	  "From: a@example.test\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n",
	  "memory" },
	{ "bare LF becomes CRLF, folded header too", "1M", "25M",
	  { "Subject", " one\n\ttwo", NULL, NULL }, 1,
	  { "a\nb\n", "c", NULL },
	  "Subject: one\r\n\ttwo\r\n\r\na\r\nb\r\nc", "memory" },
	{ "CR LF cut between chunks stays one CRLF", "1M", "25M",
	  { "X", " y", NULL, NULL }, 1,
	  { "a\r", "\nb\r", "\n", NULL },
	  "X: y\r\n\r\na\r\nb\r\n", "memory" },
	{ "no body", "1M", "25M",
	  { "Subject", " empty", NULL, NULL }, 1, { NULL },
	  "Subject: empty\r\n\r\n", "memory" },
	{ "no end of headers: the empty line at the body", "1M", "25M",
	  { "Subject", " s", NULL, NULL }, 0, { "b\r\n", NULL },
	  "Subject: s\r\n\r\nb\r\n", "memory" },
	{ "no headers at all", "1M", "25M", { NULL }, 1, { "x", NULL },
	  "\r\nx", "memory" },
	{ "over body_memory_max: a file", "64", "25M",
	  { "Subject", " big", NULL, NULL }, 1,
	  { BIG_LINE, BIG_LINE "tail\n", NULL },
	  "Subject: big\r\n\r\n" BIG_LINE BIG_LINE "tail\r\n", "file" },
	{ "body_memory_max 0: always a file", "0", "25M",
	  { "A", " b", NULL, NULL }, 1, { "c\n", NULL },
	  "A: b\r\n\r\nc\r\n", "file" },
	{ "over scan_max_size in memory: dropped", "1M", "1k",
	  { "Subject", " x", NULL, NULL }, 1,
	  { BIG_12, BIG_10, NULL },
	  NULL, "oversize" },
	{ "over scan_max_size from a file: dropped", "100", "1k",
	  { "Subject", " x", NULL, NULL }, 1,
	  { BIG_12, BIG_10, NULL },
	  NULL, "oversize" },
};

/* body_conf - a configuration with the copy's options */
static struct conf *
body_conf(const char *memory_max, const char *scan_max, const char *action)
{
	char *ov[5], *errors = NULL;
	struct conf *c;
	size_t n = 0;

	ov[n++] = x_asprintf("database.directory=%s", tmpdir);
	ov[n++] = x_asprintf("milter.body_memory_max=%s", memory_max);
	ov[n++] = x_asprintf("milter.scan_max_size=%s", scan_max);
	ov[n++] = x_strdup("milter.authserv_id=mx.elemta.test");
	if (action != NULL)
		ov[n++] = x_asprintf("milter.scan_oversize_action=%s", action);
	c = conf_load(elemta_sections, NULL, (const char **)ov, n, &errors);
	while (n > 0)
		free(ov[--n]);
	if (c == NULL)
		bail_out("body_conf: %s", errors ? errors : "?");
	return c;
}

/* fd_open - 1 if fd is an open descriptor */
static int
fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/* read_fd - the whole file of fd, by pread (its offset untouched) */
static char *
read_fd(int fd, size_t *lenp)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return NULL;
	buf = x_malloc((size_t)st.st_size + 1);
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

/* dir_entries - names in dir but . and .. */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* feed - one message of the table into m */
static void
feed(struct milter_msg *m, const struct body_case *t)
{
	size_t i;

	for (i = 0; i < 4 && t->headers[i] != NULL; i += 2)
		milter_msg_header(m, t->headers[i], t->headers[i + 1]);
	if (t->eoh)
		milter_pipeline_eoh(m);
	for (i = 0; t->chunks[i] != NULL; i++)
		milter_pipeline_body(m, (const unsigned char *)t->chunks[i],
				     strlen(t->chunks[i]));
}

/* test_case - one message kept and read back */
static void
test_case(const struct body_case *t)
{
	struct conf *cf = body_conf(t->memory_max, t->scan_max, NULL);
	struct milter_conn *c = milter_conn_new(cf, NULL);
	struct milter_msg *m = milter_msg_new(c, "<a@example.test>");
	const unsigned char *p = NULL;
	char *got, *spool = x_asprintf("%s/spool", tmpdir);
	struct stat st;
	size_t len = 0;
	int fd, rc;

	milter_body_start(m);
	feed(m, t);
	ok(milter_body_kept(m), "%s: kept", t->name);
	rc = milter_body_map(m, &p, &len);
	if (t->want == NULL) {
		is_int(rc, -1, "%s: no copy", t->name);
		ok(milter_body_oversize(m), "%s: oversize", t->name);
		is_str(milter_body_error(m), "oversize", "%s: why", t->name);
		is_int(milter_body_fd(m), -1, "%s: no file", t->name);
		ok(milter_body_size(m) > 1024, "%s: size still counted (%zu)",
		   t->name, milter_body_size(m));
		goto out;
	}
	is_int(rc, 0, "%s: mapped", t->name);
	got = x_strndup((const char *)p, len);
	is_str(got, t->want, "%s: the copy", t->name);
	free(got);
	is_int((long long)len, (long long)strlen(t->want), "%s: length",
	       t->name);
	is_int((long long)milter_body_size(m), (long long)strlen(t->want),
	       "%s: milter_body_size", t->name);
	ok(milter_body_error(m) == NULL, "%s: no error", t->name);
	if (strcmp(t->where, "file") == 0) {
		ok(stat(spool, &st) == 0 && (st.st_mode & 0777) == 0700,
		   "%s: spool directory made 0700", t->name);
		is_int(dir_entries(spool), 0, "%s: the spool file has no name",
		       t->name);
	}
	/* as a file: the file, or the memory written to one */
	fd = milter_body_fd(m);
	ok(fd >= 0, "%s: a descriptor", t->name);
	if (fd >= 0) {
		ok(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600,
		   "%s: the file is 0600", t->name);
		got = read_fd(fd, &len);
		is_str(got, t->want, "%s: the file's content", t->name);
		free(got);
		milter_msg_free(&m);
		ok(!fd_open(fd), "%s: the file is closed with the message",
		   t->name);
	}
out:
	milter_msg_free(&m);
	milter_conn_free(&c);
	free(spool);
}

/* test_map_after_fd - a copy in memory, spilled by milter_body_fd, maps
 * to the same bytes */
static void
test_map_after_fd(void)
{
	struct conf *cf = body_conf("1M", "25M", NULL);
	struct milter_conn *c = milter_conn_new(cf, NULL);
	struct milter_msg *m = milter_msg_new(c, "");
	const unsigned char *p;
	size_t len = 0;
	char *got;

	milter_body_start(m);
	milter_msg_header(m, "Subject", " s");
	milter_pipeline_eoh(m);
	milter_pipeline_body(m, (const unsigned char *)"body\n", 5);
	ok(milter_body_fd(m) >= 0, "memory copy spilled on request");
	is_int(milter_body_map(m, &p, &len), 0, "then mapped");
	got = x_strndup((const char *)p, len);
	is_str(got, "Subject: s\r\n\r\nbody\r\n", "the mapped file");
	free(got);
	milter_conn_free(&c);
}

/* test_drop - the file goes with a dropped connection (milter_conn_free
 * with the message in progress) and with a message replaced (RSET, a
 * new MAIL FROM) */
static void
test_drop(void)
{
	static const char *const how[] = { "the connection drops",
					   "the message is replaced" };
	struct milter_conn *c;
	struct milter_msg *m;
	int i, fd;

	for (i = 0; i < 2; i++) {
		c = milter_conn_new(body_conf("0", "25M", NULL), NULL);
		m = milter_msg_new(c, "");
		milter_body_start(m);
		milter_msg_header(m, "Subject", " s");
		fd = milter_body_fd(m);
		ok(fd_open(fd), "%s: a spool file open mid-message", how[i]);
		if (i == 1)
			(void)milter_msg_new(c, "");
		else
			milter_conn_free(&c);
		ok(!fd_open(fd), "%s: the file is closed", how[i]);
		milter_conn_free(&c);
	}
}

/* test_bad_spool - a spool directory others may read: no copy, said */
static void
test_bad_spool(void)
{
	struct conf *cf = body_conf("0", "25M", NULL);
	struct milter_conn *c = milter_conn_new(cf, NULL);
	struct milter_msg *m = milter_msg_new(c, "");
	char *spool = x_asprintf("%s/spool", tmpdir);
	const unsigned char *p;
	size_t len;

	if (mkdir(spool, 0700) < 0 && errno != EEXIST)
		bail_out("mkdir %s: %m", spool);
	if (chmod(spool, 0755) < 0)
		bail_out("chmod %s: %m", spool);
	milter_body_start(m);
	milter_msg_header(m, "Subject", " s");
	milter_pipeline_body(m, (const unsigned char *)"x\r\n", 3);
	is_int(milter_body_map(m, &p, &len), -1, "open spool dir: no copy");
	like_str(milter_body_error(m) ? milter_body_error(m) : "",
		 "must be the daemon's own", "open spool dir: the reason");
	ok(!milter_body_oversize(m), "open spool dir: not oversize");
	is_int(milter_body_fd(m), -1, "open spool dir: no file");
	is_int(dir_entries(spool), 0, "open spool dir: nothing left in it");
	milter_conn_free(&c);
	if (chmod(spool, 0700) < 0)
		bail_out("chmod %s: %m", spool);
	free(spool);
}

/* test_oversize_action - skip: a header; tempfail: 452 4.3.4 */
static void
test_oversize_action(void)
{
	static const char *const actions[] = { NULL, "skip", "tempfail" };
	static const char note[] = "skipped (size 2062 over the limit of 1024)";
	struct milter_outcome o;
	const struct milter_edit *e;
	struct milter_conn *c;
	struct milter_msg *m;
	const char *name;
	char big[2048];
	size_t i;

	memset(big, 'a', sizeof(big));
	for (i = 0; i < 3; i++) {
		name = actions[i] ? actions[i] : "(default)";
		c = milter_conn_new(body_conf("1M", "1k", actions[i]), NULL);
		m = milter_msg_new(c, "");
		milter_body_start(m);
		milter_msg_header(m, "Subject", " s");	/* 12 bytes */
		milter_pipeline_eoh(m);			/* 2 */
		milter_pipeline_body(m, (unsigned char *)big, sizeof(big));
		milter_body_eom(m);
		milter_outcome_build(m, &o);
		like_str(m->summary ? m->summary : "",
			 "scan=oversize size=2062", "%s: the log line", name);
		if (i < 2) {
			is_int(o.verdict.action, MILTER_ACCEPT, "%s: accept",
			       name);
			e = o.nedits > 0 ? &o.edits[o.nedits - 1] : NULL;
			ok(e != NULL && e->op == MILTER_EDIT_ADD, "%s: a header "
			   "added at the end", name);
			is_str(e ? e->name : "", MILTER_BODY_SCAN_HEADER,
			       "%s: its name", name);
			is_str(e ? e->value : "", note, "%s: its value", name);
		} else {
			is_int(o.verdict.action, MILTER_TEMPFAIL, "%s: verdict",
			       name);
			is_str(o.verdict.code, "452", "%s: code", name);
			is_str(o.verdict.xcode, "4.3.4", "%s: enhanced code",
			       name);
			is_int((long long)o.nedits, 0, "%s: no edits", name);
		}
		milter_outcome_free(&o);
		milter_conn_free(&c);
	}
}

/* test_off - no stage wants the body: nothing kept, nothing spent */
static void
test_off(void)
{
	struct milter_conn *c = milter_conn_new(body_conf("0", "25M", NULL),
						NULL);
	struct milter_msg *m = milter_msg_new(c, "");
	const unsigned char *p;
	size_t len;

	milter_msg_header(m, "Subject", " s");
	milter_pipeline_body(m, (const unsigned char *)"x", 1);
	milter_body_eom(m);
	ok(!milter_body_kept(m), "default configuration: no copy");
	is_int(milter_body_map(m, &p, &len), -1, "off: nothing to map");
	is_str(milter_body_error(m), "off", "off: the reason");
	is_int((long long)milter_body_size(m), 0, "off: size 0");
	milter_conn_free(&c);
}

/* test_conf - the options' ranges */
static void
test_conf(void)
{
	static const char *const bad[] = {
		"milter.scan_max_size=100",
		"milter.scan_oversize_action=reject",
		"milter.body_memory_max=2G",
		"milter.body_spool_dir=",
	};
	char *errors;
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errors = NULL;
		c = conf_load(elemta_sections, NULL, &bad[i], 1, &errors);
		ok(c == NULL, "%s: a configuration error", bad[i]);
		free(errors);
		conf_unref(&c);
	}
}

int
main(void)
{
	size_t i;

	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %m");
	plan_lazy();
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
		test_case(&body_cases[i]);
	test_map_after_fd();
	test_drop();
	test_bad_spool();
	test_oversize_action();
	test_off();
	test_conf();
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
