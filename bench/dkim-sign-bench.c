/*++
 * NAME
 *	dkim-sign-bench 1
 * SUMMARY
 *	sign one message N times through elemta-milter's signing stage
 * SYNOPSIS
 *	dkim-sign-bench KEYTABLE SIGNINGTABLE MESSAGE N
 * DESCRIPTION
 *	Driven by bench/dkim-sign.  Loads the tables once (as the daemon
 *	does), then N times: a message from an authenticated client, its
 *	headers and body through the signing stage's hooks (eoh, body,
 *	eom) and freed, as milter-callbacks.c does per message (the
 *	headers go through milter_msg_header(), so the verify stage's
 *	per-message work until end of headers is counted too).  Prints
 *	"signs=N seconds=S cpu_seconds=C signs_per_s=R wall_signs_per_s=W",
 *	one thread; R divides by the process' CPU time, as "openssl speed"
 *	divides by its CPU time, so that other load on the machine does
 *	not count against us.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "milter.h"
#include "../sections-all.h"
#include "xalloc.h"

/* bench_now - seconds of clock c */
static double
bench_now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bench_read - the message file */
static char *
bench_read(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf = x_malloc(1 << 20);

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	*lenp = fread(buf, 1, (1 << 20) - 1, fp);
	buf[*lenp] = '\0';
	fclose(fp);
	return buf;
}

/* bench_one - one message through the stage; 1 if it got signed */
static int
bench_one(struct milter_conn *c, const char *buf, size_t len)
{
	struct milter_msg *m = milter_msg_new(c, "user@example.test");
	const char *p = buf, *end = buf + len, *nl, *colon, *body;
	char *name, *value;
	int n;

	milter_msg_set_auth(m, "PLAIN", "user");
	body = strstr(buf, "\n\n");
	body = body ? body + 2 : end;
	while (p < body - 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		colon = memchr(p, ':', (size_t)(nl - p));
		name = x_strndup(p, (size_t)(colon - p));
		value = x_strndup(colon + 1, (size_t)(nl - colon - 1));
		milter_msg_header(m, name, value);
		free(name);
		free(value);
		p = nl + 1;
	}
	milter_pipeline_eoh(m);	/* the sign-or-verify decision */
	milter_dkim_sign_body(m, (const unsigned char *)body,
			      (size_t)(end - body));
	milter_dkim_sign_eom(m);
	n = milter_dkim_sign_count(m) > 0;
	milter_msg_free(&m);
	return n;
}

int
main(int argc, char **argv)
{
	struct milter_conn *c;
	struct milter_gen *g;
	struct conf *conf;
	const char *ov[3];
	char err[512], *errors = NULL, *o1, *o2, *buf;
	size_t len;
	long i, n;
	double t0, t, c0, cpu;

	if (argc != 5 || (n = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: dkim-sign-bench KEYTABLE "
			"SIGNINGTABLE MESSAGE N\n");
		return 2;
	}
	log_open("dkim-sign-bench", LOG_DEST_STDERR, LOG_MAIL);
	o1 = x_asprintf("milter.dkim_key_table=%s", argv[1]);
	o2 = x_asprintf("milter.dkim_signing_table=%s", argv[2]);
	ov[0] = o1;
	ov[1] = o2;
	ov[2] = "log.level=warning";
	if ((conf = conf_load(elemta_sections, NULL, ov, 3, &errors))
	    == NULL) {
		fprintf(stderr, "conf: %s\n", errors ? errors : "?");
		return 1;
	}
	milter_dkim_sign_init();
	if (milter_dkim_init(err, sizeof(err)) < 0
	    || (g = milter_gen_build(conf, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	buf = bench_read(argv[3], &len);
	c = milter_conn_open(g);
	milter_conn_set_client(c, "192.0.2.1", NULL);
	if (!bench_one(c, buf, len)) {		/* warm up, and check */
		fprintf(stderr, "the message was not signed\n");
		return 1;
	}
	t0 = bench_now(CLOCK_MONOTONIC);
	c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n; i++)
		(void)bench_one(c, buf, len);
	t = bench_now(CLOCK_MONOTONIC) - t0;
	cpu = bench_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	printf("signs=%ld seconds=%.3f cpu_seconds=%.3f signs_per_s=%.1f "
	       "wall_signs_per_s=%.1f\n", n, t, cpu, (double)n / cpu,
	       (double)n / t);
	milter_conn_free(&c);
	milter_dkim_finish();
	free(buf);
	free(o1);
	free(o2);
	return 0;
}
