/*++
 * NAME
 *	tb-resolver 1
 * SUMMARY
 *	lookups through lib/dns, the daemons' resolver, with its cache
 * SYNOPSIS
 *	tb-resolver [-v] [-t seconds] [-c bytes] [-r resolv.conf]
 *		server@port|- step...
 * DESCRIPTION
 *	Makes one resolver (lib/dns) forwarding to server@port, with a
 *	timeout of -t seconds (default 2), no retries and a cache of -c
 *	bytes (default 4 MB), and runs each step in turn.  With server
 *	"-" it has no nameservers: those of -r FILE, or, without -r or
 *	when FILE cannot be read, it recurses from the root.  -v prints
 *	dns_resolver_describe() first and "cache entries=N bytes=B" last.
 *	The steps:
 *
 *	NAME/TYPE	one lookup (TYPE: A, AAAA, TXT, MX, PTR or a number),
 *			counted in a per-run struct dns_counter
 *	sleep/SECS	wait that long (lets cached answers expire, here
 *			and in libunbound's own cache)
 *	advance/SECS	move lib/clock that far ahead without waiting
 *			(clock_test_advance): expires the answers kept
 *			here, not those of libunbound, which runs on the
 *			kernel's clock
 *	limit/N		from now on the counter lets N lookups go to the
 *			network (answers in the cache are always served)
 *	budget/MS	from now on lookups may wait MS ms in all
 *
 *	For each lookup it prints one line, so that a shell test can check
 *	what the cache did:
 *
 *	NAME TYPE STATUS records=N ttl=T hits=H misses=M counted=L cached=C
 *	    kept=K DATA
 *
 *	STATUS is dns_status_str(), T the answer's TTL, H and M the
 *	resolver's cache counters after the lookup (dns_resolver_stats),
 *	K the answers it keeps, L and C the counter's lookups and hits,
 *	DATA the first record (TXT joined, A as an address) or "-".
 * DIAGNOSTICS
 *	Exit 0 when every step ran, 2 on a usage or set-up error.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "dns.h"
#include "xalloc.h"

static const struct {
	const char *name;
	int type;
} tb_types[] = {
	{ "A", DNS_T_A }, { "AAAA", DNS_T_AAAA }, { "TXT", DNS_T_TXT },
	{ "MX", DNS_T_MX }, { "PTR", DNS_T_PTR },
};

/* tb_type - a type name or number; -1 if unknown */
static int
tb_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(tb_types) / sizeof(tb_types[0]); i++)
		if (strcasecmp(s, tb_types[i].name) == 0)
			return tb_types[i].type;
	return atoi(s) > 0 ? atoi(s) : -1;
}

/* tb_first - the first record of an answer as text, malloc'ed */
static char *
tb_first(const struct dns_answer *a, int type)
{
	char buf[INET6_ADDRSTRLEN];
	char *txt;

	if (a->status != DNS_OK || a->count == 0)
		return x_strdup("-");
	if (type == DNS_T_TXT && (txt = dns_txt_join(a->data[0],
						    a->len[0])) != NULL)
		return txt;
	if (type == DNS_T_A && a->len[0] == 4
	    && inet_ntop(AF_INET, a->data[0], buf, sizeof(buf)) != NULL)
		return x_strdup(buf);
	return x_asprintf("(%zu bytes)", a->len[0]);
}

/* tb_lookup - one NAME/TYPE step */
static int
tb_lookup(struct dns_resolver *r, struct dns_counter *cnt, char *step)
{
	struct dns_answer *a = NULL;
	struct dns_stats st;
	char *slash = strrchr(step, '/'), *first;
	int type;

	if (slash == NULL || (type = tb_type(slash + 1)) < 0) {
		fprintf(stderr, "tb-resolver: %s: expected NAME/TYPE\n", step);
		return -1;
	}
	*slash = '\0';
	(void)dns_query(r, step, type, cnt, &a);
	dns_resolver_stats(r, &st);
	first = tb_first(a, type);
	printf("%s %s %s records=%zu ttl=%d hits=%lu misses=%lu counted=%u "
	       "cached=%u kept=%zu %s\n", step, slash + 1,
	       dns_status_str(a->status), a->count, a->ttl, st.hits,
	       st.misses, cnt->lookups, cnt->hits, st.entries, first);
	fflush(stdout);
	free(first);
	dns_answer_free(&a);
	return 0;
}

/* main - one resolver, the steps in turn */
int
main(int argc, char **argv)
{
	struct dns_counter cnt = { 0, 0, 0, NULL };
	struct dns_budget budget = { 0, 0 };
	struct dns_resolver *r;
	struct dns_conf dc;
	char *ns[2], err[256];
	int c, i, status = 0, verbose = 0;

	memset(&dc, 0, sizeof(dc));
	dc.timeout = 2;
	dc.retries = 0;
	dc.cache_size = 4 * 1024 * 1024;
	while ((c = getopt(argc, argv, "c:r:t:v")) != -1) {
		switch (c) {
		case 'c':
			dc.cache_size = (size_t)atol(optarg);
			break;
		case 'r':
			dc.resolv_conf = optarg;
			break;
		case 't':
			dc.timeout = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: tb-resolver [-v] [-t seconds] "
				"[-c bytes] [-r resolv.conf] server@port|- "
				"NAME/TYPE|sleep/SECS|advance/SECS...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "tb-resolver: no server\n");
		return 2;
	}
	ns[0] = argv[optind++];
	ns[1] = NULL;
	dc.nameservers = ns;
	dc.nnameservers = strcmp(ns[0], "-") == 0 ? 0 : 1;
	if ((r = dns_resolver_new(&dc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tb-resolver: %s\n", err);
		return 2;
	}
	if (verbose)
		printf("%s\n", dns_resolver_describe(r, err, sizeof(err)));
	for (i = optind; i < argc && status == 0; i++) {
		if (strncmp(argv[i], "sleep/", 6) == 0)
			sleep((unsigned)atoi(argv[i] + 6));
		else if (strncmp(argv[i], "advance/", 8) == 0)
			clock_test_advance((int64_t)atoi(argv[i] + 8) * 1000);
		else if (strncmp(argv[i], "limit/", 6) == 0)
			cnt.limit = (unsigned)atoi(argv[i] + 6);
		else if (strncmp(argv[i], "budget/", 7) == 0)
			budget.limit_ms = atol(argv[i] + 7),
			cnt.budget = &budget;
		else if (tb_lookup(r, &cnt, argv[i]) < 0)
			status = 2;
	}
	if (verbose) {
		struct dns_stats st;

		dns_resolver_stats(r, &st);
		printf("cache entries=%zu bytes=%zu\n", st.entries, st.bytes);
	}
	dns_resolver_unref(&r);
	return status;
}
