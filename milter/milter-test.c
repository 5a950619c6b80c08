/*++
 * NAME
 *	milter-test 3
 * SUMMARY
 *	elemta-milter -t: the pipeline on a message file, without an MTA
 * DESCRIPTION
 *	Reads a message (LF or CRLF line ends), splits its header block
 *	into headers (continuation lines kept, as an MTA hands them over),
 *	builds the connection and message from the command line, runs the
 *	same pipeline as the daemon and prints what the MTA would be told:
 *
 *		delete-header: Authentication-Results 2
 *		insert-header: Authentication-Results: mx.example.test;
 *			spf=pass smtp.mailfrom=user@example.test
 *		verdict: accept
 *
 *	or "verdict: reject 550 5.7.23 text" / "verdict: tempfail 451 ..."
 *	/ "verdict: quarantine reason".  The exit status is 0 when the
 *	message could be run through the pipeline, whatever the verdict.
 *
 *	A DKIM-Signature header (when signing: --auth TYPE or an
 *	internal --client-ip) is printed as "insert-header: DKIM-Signature:
 *	..." after the A-R line, its folded lines starting with a tab.
 *	The lines are the daemon's outcome, edit by edit
 *	(milter_outcome_print): what is printed is what the MTA is told.
 *--*/
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "milter.h"
#include "xalloc.h"

#define MILTER_TEST_CHUNK	65535

enum {
	MILTER_OPT_CLIENT_IP = 1000,
	MILTER_OPT_HELO,
	MILTER_OPT_SENDER,
	MILTER_OPT_RCPT,
	MILTER_OPT_AUTH,
};

/* milter_test_option - the cli_extra handler of -t and friends */
int
milter_test_option(int opt, const char *arg, void *ctx)
{
	struct milter_test *t = ctx;

	switch (opt) {
	case 't':
		t->file = arg;
		return 0;
	case MILTER_OPT_CLIENT_IP:
		t->client_ip = arg;
		return 0;
	case MILTER_OPT_HELO:
		t->helo = arg;
		return 0;
	case MILTER_OPT_SENDER:
		t->sender = arg;
		return 0;
	case MILTER_OPT_AUTH:		/* {auth_type}: signs, not verifies */
		t->auth_type = arg;
		return 0;
	case MILTER_OPT_RCPT:
		t->rcpts = x_realloc(t->rcpts,
				     (t->nrcpts + 1) * sizeof(char *));
		t->rcpts[t->nrcpts++] = arg;
		return 0;
	}
	return -1;
}

const struct option milter_test_longopts[] = {
	{ "client-ip", required_argument, NULL, MILTER_OPT_CLIENT_IP },
	{ "helo", required_argument, NULL, MILTER_OPT_HELO },
	{ "sender", required_argument, NULL, MILTER_OPT_SENDER },
	{ "rcpt", required_argument, NULL, MILTER_OPT_RCPT },
	{ "auth", required_argument, NULL, MILTER_OPT_AUTH },
	{ NULL, 0, NULL, 0 },
};

/* milter_test_read - the whole file, NUL-terminated; NULL on error */
static char *
milter_test_read(const char *path, size_t *lenp)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, size = 0, n;

	if (fp == NULL)
		return NULL;
	do {
		if (len + 65536 + 1 > size) {
			size = size ? size * 2 : 65536 * 2;
			buf = x_realloc(buf, size);
		}
		n = fread(buf + len, 1, size - len - 1, fp);
		len += n;
	} while (n > 0);
	if (ferror(fp)) {
		free(buf);
		buf = NULL;
	} else {
		buf[len] = '\0';
	}
	if (fp != stdin)
		fclose(fp);
	*lenp = len;
	return buf;
}

/* milter_test_line_end - end of the line at p (before CRLF/LF) */
static const char *
milter_test_line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL) {
		*next = end;
		return end;
	}
	*next = nl + 1;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* milter_test_headers - feed the header block; the body offset */
static size_t
milter_test_headers(struct milter_msg *m, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *le, *next, *colon;
	char *name = NULL, *value = NULL, *joined;

	while (p < end) {
		le = milter_test_line_end(p, end, &next);
		if (le == p) {		/* the empty line */
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && name != NULL) {
			joined = x_asprintf("%s\n%.*s", value, (int)(le - p), p);
			free(value);
			value = joined;
		} else {
			if (name != NULL)
				milter_msg_header(m, name, value);
			x_free(&name);
			x_free(&value);
			colon = memchr(p, ':', (size_t)(le - p));
			if (colon == NULL) {
				qid_warn(m->qid, "not a header line: %.40s",
					 p);
			} else {
				name = x_strndup(p, (size_t)(colon - p));
				value = x_strndup(colon + 1,
						  (size_t)(le - colon - 1));
			}
		}
		p = next;
	}
	if (name != NULL)
		milter_msg_header(m, name, value);
	free(name);
	free(value);
	return (size_t)(p - buf);
}

/* milter_test_rcpt - one recipient, deferred at RCPT when greylisting
 * says so (greylist_when = rcpt): printed, and not kept */
static void
milter_test_rcpt(struct milter_msg *m, const char *rcpt)
{
	struct milter_verdict v;

	if (milter_greylist_rcpt(m, rcpt, &v)) {
		printf("rcpt: %s %s %s %s %s\n", rcpt,
		       milter_action_name(v.action), v.code, v.xcode, v.text);
		free(v.text);
		return;
	}
	milter_msg_rcpt(m, rcpt);
}

/* milter_test_run - run the pipeline on t->file; the exit status */
int
milter_test_run(const struct milter_test *t)
{
	struct milter_conn *c;
	struct milter_msg *m;
	struct milter_outcome o;
	size_t len, off, i;
	char *buf;

	if ((buf = milter_test_read(t->file, &len)) == NULL) {
		msg_stderr("%s: %s", t->file, strerror(errno));
		return 1;
	}
	c = milter_conn_open(milter_gen_current());
	milter_conn_set_client(c, t->client_ip, NULL);
	milter_conn_set_helo(c, t->helo);
	m = milter_msg_new(c, t->sender ? t->sender : "");
	milter_msg_set_qid(m, "TEST");
	if (t->auth_type != NULL)
		milter_msg_set_auth(m, t->auth_type, "test");
	for (i = 0; i < t->nrcpts; i++)
		milter_test_rcpt(m, t->rcpts[i]);
	off = milter_test_headers(m, buf, len);
	milter_pipeline_eoh(m);
	/* in chunks, as an MTA sends them (64 KB: libmilter's size) */
	for (i = off; i < len; i += MILTER_TEST_CHUNK)
		milter_pipeline_body(m, (const unsigned char *)buf + i,
				     len - i < MILTER_TEST_CHUNK
				     ? len - i : MILTER_TEST_CHUNK);
	m->body_bytes = len - off;
	milter_pipeline_run(m, &o);
	milter_outcome_print(&o, stdout);
	fflush(stdout);
	milter_outcome_free(&o);
	milter_conn_free(&c);
	free(buf);
	return 0;
}
