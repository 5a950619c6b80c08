/*++
 * NAME
 *	tb-dnsq 1
 * SUMMARY
 *	DNS query through libunbound, for the test harness
 * SYNOPSIS
 *	tb-dnsq [-q] [-p port] [-s server] [-t seconds] name type
 * DESCRIPTION
 *	Sends one query for name and type (A, AAAA, TXT, MX, PTR, CNAME,
 *	NS, or a number) to the DNS server server@port (default
 *	127.0.0.1@53), the only forwarder libunbound is given, so nothing
 *	is resolved past it.  There is no dig or host on the test machines;
 *	this stands in for them and exercises the same library the
 *	daemons use.
 *
 *	Each answer record is printed on a line of its own: an address for
 *	A and AAAA, a domain name for PTR, CNAME and NS, "pref name" for MX,
 *	the character-strings of a TXT record joined without separator (as
 *	DKIM and SPF read them; with -q each one quoted, separated by a
 *	space, to see how a record is split), and "\# len hex" for other
 *	types.
 *
 *	-t gives up after that many seconds (default 5), so a harness can
 *	poll a server that is still starting.
 * DIAGNOSTICS
 *	Exit 0 with an answer, 1 for NXDOMAIN or no data of that type,
 *	2 for any error (timeout, SERVFAIL, bad usage), with a message on
 *	standard error.
 *--*/
#include "config.h"

#include <sys/select.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <unbound.h>

#define DNSQ_CLASS_IN 1

/* Query state shared with the libunbound callback. */
struct dnsq {
	int done;                 /* callback has run */
	int err;                  /* libunbound error code */
	struct ub_result *result; /* owned; freed by main */
};

static const char *prog = "tb-dnsq";
static int dnsq_quote; /* -q: show TXT strings quoted */

/* The types we name; others go by number. */
static const struct {
	const char *name;
	int type;
} dnsq_types[] = {
	{"A", 1},   {"NS", 2},   {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
	{"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33},
};

/* dnsq_usage - print usage and exit with the error status */
static void
dnsq_usage(void)
{
	fprintf(stderr,
	        "usage: %s [-q] [-p port] [-s server] [-t seconds] name type\n",
	        prog);
	exit(2);
}

/* dnsq_type - map a type name or number to its code, -1 if unknown */
static int
dnsq_type(const char *s)
{
	char *end;
	long n;
	size_t i;

	for (i = 0; i < sizeof(dnsq_types) / sizeof(dnsq_types[0]); i++)
		if (strcasecmp(s, dnsq_types[i].name) == 0)
			return dnsq_types[i].type;
	n = strtol(s, &end, 10);
	if (*s == 0 || *end != 0 || n < 1 || n > 65535)
		return -1;
	return (int)n;
}

/* dnsq_name - print an uncompressed wire-format name; return its length */
static int
dnsq_name(const unsigned char *p, int len)
{
	int pos = 0;

	if (len > 0 && p[0] == 0) {
		putchar('.');
		return 1;
	}
	while (pos < len && p[pos] != 0) {
		int lab = p[pos++];

		if ((lab & 0xc0) != 0 || pos + lab > len)
			return -1;
		fwrite(p + pos, 1, lab, stdout);
		putchar('.');
		pos += lab;
	}
	return pos < len ? pos + 1 : -1;
}

/* dnsq_txt - print a TXT record's strings, joined or quoted (-q) */
static int
dnsq_txt(const unsigned char *p, int len)
{
	int pos = 0;

	while (pos < len) {
		int slen = p[pos++];

		if (pos + slen > len)
			return -1;
		if (dnsq_quote)
			printf("%s\"", pos > 1 ? " " : "");
		fwrite(p + pos, 1, slen, stdout);
		if (dnsq_quote)
			putchar('"');
		pos += slen;
	}
	return 0;
}

/* dnsq_hex - print rdata in the RFC 3597 generic form */
static void
dnsq_hex(const unsigned char *p, int len)
{
	int i;

	printf("\\# %d ", len);
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
}

/* dnsq_print - print one answer record; -1 if its rdata is malformed */
static int
dnsq_print(int type, const unsigned char *p, int len)
{
	char addr[INET6_ADDRSTRLEN];
	int rc = 0;

	switch (type) {
	case 1:
	case 28:
		if (len != (type == 1 ? 4 : 16))
			return -1;
		fputs(inet_ntop(type == 1 ? AF_INET : AF_INET6, p, addr,
		                sizeof(addr)),
		      stdout);
		break;
	case 2:
	case 5:
	case 12:
		rc = dnsq_name(p, len) < 0 ? -1 : 0;
		break;
	case 15:
		if (len < 3)
			return -1;
		printf("%d ", (p[0] << 8) | p[1]);
		rc = dnsq_name(p + 2, len - 2) < 0 ? -1 : 0;
		break;
	case 16:
		rc = dnsq_txt(p, len);
		break;
	default:
		dnsq_hex(p, len);
		break;
	}
	putchar('\n');
	return rc;
}

/* dnsq_callback - store the result of the asynchronous query */
static void
dnsq_callback(void *arg, int err, struct ub_result *result)
{
	struct dnsq *q = arg;

	q->done = 1;
	q->err = err;
	q->result = result;
}

/* dnsq_wait - process libunbound events until done; NULL or the error */
static const char *
dnsq_wait(struct ub_ctx *ctx, struct dnsq *q, int seconds)
{
	struct timeval end, now, tv;
	int fd = ub_fd(ctx), err;

	gettimeofday(&end, NULL);
	end.tv_sec += seconds;
	while (!q->done) {
		fd_set rfds;

		gettimeofday(&now, NULL);
		if (!timercmp(&now, &end, <))
			return "timeout";
		timersub(&end, &now, &tv);
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		if (select(fd + 1, &rfds, NULL, NULL, &tv) < 0
		    && errno != EINTR)
			return strerror(errno);
		if ((err = ub_process(ctx)) != 0)
			return ub_strerror(err);
	}
	return q->err != 0 ? ub_strerror(q->err) : NULL;
}

/*
 * Special-use zones libunbound answers itself (NXDOMAIN) by default, but
 * the test zones live under .test, with PTRs in the test nets' reverse
 * zones.  "nodefault" has no effect through ub_ctx_set_option() (unbound
 * 1.17); an empty "transparent" zone forwards like any other name.
 */
static const char *dnsq_special[] = {
	"test.",
	"invalid.",
	"onion.",
	"home.arpa.",
	"2.0.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.",
};

/* dnsq_zones - forward the special-use zones instead of answering them */
static int
dnsq_zones(struct ub_ctx *ctx)
{
	char opt[64];
	size_t i;
	int err;

	if ((err = ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes")) != 0)
		return err;
	for (i = 0; i < sizeof(dnsq_special) / sizeof(dnsq_special[0]); i++) {
		snprintf(opt, sizeof(opt), "%s transparent", dnsq_special[i]);
		if ((err = ub_ctx_set_option(ctx, "local-zone:", opt)) != 0)
			return err;
	}
	return 0;
}

/* dnsq_context - create a resolver that only asks server@port */
static struct ub_ctx *
dnsq_context(const char *server, const char *port)
{
	struct ub_ctx *ctx;
	char fwd[300];
	int err;

	if ((ctx = ub_ctx_create()) == NULL) {
		fprintf(stderr, "%s: ub_ctx_create failed\n", prog);
		exit(2);
	}
	snprintf(fwd, sizeof(fwd), "%s@%s", server, port);
	/* Threads, not a forked helper: nothing can outlive us. */
	(void)ub_ctx_async(ctx, 1);
	/* A loopback forwarder is refused unless this is switched off. */
	if ((err = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) != 0
	    || (err = dnsq_zones(ctx)) != 0
	    || (err = ub_ctx_set_fwd(ctx, fwd)) != 0) {
		fprintf(stderr, "%s: forwarder %s: %s\n", prog, fwd,
		        ub_strerror(err));
		exit(2);
	}
	return ctx;
}

/* dnsq_report - print the answer; return the exit status */
static int
dnsq_report(const char *name, const char *tname, struct ub_result *r)
{
	int i, status = 0;

	if (r->rcode != 0 && !r->nxdomain) {
		fprintf(stderr, "%s: %s %s: rcode %d\n", prog, name, tname,
		        r->rcode);
		return 2;
	}
	if (r->nxdomain) {
		fprintf(stderr, "%s: %s %s: NXDOMAIN\n", prog, name, tname);
		return 1;
	}
	if (!r->havedata) {
		fprintf(stderr, "%s: %s %s: NODATA\n", prog, name, tname);
		return 1;
	}
	for (i = 0; r->data[i] != NULL; i++) {
		const unsigned char *rdata = (unsigned char *)r->data[i];

		if (dnsq_print(r->qtype, rdata, r->len[i]) < 0) {
			fprintf(stderr, "%s: %s %s: malformed record %d\n",
			        prog, name, tname, i);
			status = 2;
		}
	}
	return status;
}

/* main - parse the command line, query, print */
int
main(int argc, char **argv)
{
	const char *server = "127.0.0.1", *port = "53";
	struct dnsq q = {0, 0, NULL};
	struct ub_ctx *ctx;
	const char *why;
	int ch, type, err, status, seconds = 5;

	while ((ch = getopt(argc, argv, "p:qs:t:")) != -1) {
		switch (ch) {
		case 'q':
			dnsq_quote = 1;
			break;
		case 'p':
			port = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		default:
			dnsq_usage();
		}
	}
	if (argc - optind != 2 || seconds < 1)
		dnsq_usage();
	if ((type = dnsq_type(argv[optind + 1])) < 0) {
		fprintf(stderr, "%s: unknown type: %s\n", prog,
		        argv[optind + 1]);
		return 2;
	}
	ctx = dnsq_context(server, port);
	err = ub_resolve_async(ctx, argv[optind], type, DNSQ_CLASS_IN, &q,
	                       dnsq_callback, NULL);
	why = err != 0 ? ub_strerror(err) : dnsq_wait(ctx, &q, seconds);
	if (why != NULL) {
		fprintf(stderr, "%s: %s %s via %s@%s: %s\n", prog, argv[optind],
		        argv[optind + 1], server, port, why);
		ub_ctx_delete(ctx);
		return 2;
	}
	status = dnsq_report(argv[optind], argv[optind + 1], q.result);
	ub_resolve_free(q.result);
	ub_ctx_delete(ctx);
	return status;
}
