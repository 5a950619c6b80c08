/*++
 * NAME
 *	tb-rspamd-scan 1
 * SUMMARY
 *	run the milter's pass on one message COUNT times in one thread
 * SYNOPSIS
 *	t/tb-rspamd-scan URL COUNT FILE
 * DESCRIPTION
 *	A helper of t/0482: the message in FILE (CRLF or LF) goes through
 *	the whole pass COUNT times, one after the other in this thread, as
 *	a milter worker thread takes message after message, with
 *	milter.rspamd_url = URL (no DNS: the other stages find nothing to
 *	look up).  Prints each verdict as -t does ("verdict: ...").  The
 *	test compares rspamd's count of connections: the stage keeps one
 *	per thread, so COUNT scans cost the connections one does.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "milter.h"
#include "../sections-all.h"
#include "xalloc.h"

/* scan_conf - the configuration: rspamd at url, nothing else */
static struct conf *
scan_conf(const char *url)
{
	char *ov[2], *errors = NULL;
	struct conf *c;

	ov[0] = x_asprintf("milter.rspamd_url=%s", url);
	ov[1] = x_strdup("milter.authserv_id=mx.elemta.test");
	c = conf_load(elemta_sections, NULL, (const char **)ov, 2, &errors);
	free(ov[0]);
	free(ov[1]);
	if (c == NULL) {
		fprintf(stderr, "tb-rspamd-scan: %s\n", errors ? errors : "?");
		exit(2);
	}
	return c;
}

/* scan_feed - the headers ("Name:value" lines, folded ones joined) and
 * the body of text to the message */
static void
scan_feed(struct milter_msg *m, const char *text)
{
	const char *p = text, *nl, *colon, *body;
	char *name, *value;

	body = strstr(text, "\r\n\r\n");
	body = body != NULL ? body + 4 : text + strlen(text);
	while (p < body - 2 && (nl = strstr(p, "\r\n")) != NULL) {
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon != NULL) {
			name = x_strndup(p, (size_t)(colon - p));
			value = x_strndup(colon + 1, (size_t)(nl - colon - 1));
			milter_msg_header(m, name, value);
			free(name);
			free(value);
		}
		p = nl + 2;
	}
	milter_pipeline_eoh(m);
	milter_pipeline_body(m, (const unsigned char *)body, strlen(body));
	m->body_bytes = strlen(body);
}

int
main(int argc, char **argv)
{
	struct milter_conn *c;
	struct milter_msg *m;
	struct milter_outcome o;
	FILE *fp;
	char *text;
	long n, i;
	size_t len;

	if (argc != 4 || (n = strtol(argv[2], NULL, 10)) < 1) {
		fprintf(stderr, "usage: tb-rspamd-scan URL COUNT FILE\n");
		return 2;
	}
	if ((fp = fopen(argv[3], "rb")) == NULL) {
		perror(argv[3]);
		return 2;
	}
	text = x_malloc(1024 * 1024);
	len = fread(text, 1, 1024 * 1024 - 1, fp);
	text[len] = '\0';
	fclose(fp);
	milter_pipeline_init();
	for (i = 0; i < n; i++) {
		c = milter_conn_new(scan_conf(argv[1]), NULL);
		milter_conn_set_client(c, "192.0.2.10", "mail.other.test");
		milter_conn_set_helo(c, "mail.other.test");
		m = milter_msg_new(c, "<bob@other.test>");
		milter_msg_set_qid(m, "SCAN");
		milter_msg_rcpt(m, "<alice@sink.test>");
		scan_feed(m, text);
		milter_pipeline_run(m, &o);
		milter_outcome_print(&o, stdout);
		milter_outcome_free(&o);
		milter_conn_free(&c);
	}
	milter_rspamd_finish();
	free(text);
	return 0;
}
