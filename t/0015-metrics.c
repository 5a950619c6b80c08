/*++
 * NAME
 *	0015-metrics 1
 * SUMMARY
 *	unit tests for lib/metrics.c
 * DESCRIPTION
 *	The text rendering of counters, gauges and histograms (a table of
 *	cases compared byte for byte), escaping, bucket cumulativeness,
 *	exact sums under concurrent updates, re-registration, the
 *	programmer errors that panic (run in a child), the HTTP endpoint
 *	over TCP and over a unix socket (fetched with libcurl), and the
 *	[metrics] configuration section.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "tap.h"
#include "tap-conf.h"

#define OPENMETRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Rendering: each case registers and updates metrics on an empty
 * registry, then the whole rendering is compared.  The setup_*
 * functions are the cases' first halves.
 */
static void
setup_counter_untouched(void)
{
	metrics_counter("t_requests_total", "Requests handled", NULL);
}

static void
setup_counter_labels(void)
{
	struct metric *m = metrics_counter("t_req_total", "Requests",
					   "state,action");

	metric_inc(m, "RCPT", "dunno");
	metric_add(m, 2, "DATA", "defer");
	metric_inc(m, "RCPT", "dunno");
	metric_add(m, -5, "RCPT", "dunno");	/* counters never go down */
}

static void
setup_gauge(void)
{
	struct metric *g = metrics_gauge("t_temp", "A gauge", "zone");

	metric_set(g, -3.5, "a");
	metric_add(g, 0.25, "a");
	metric_set(g, 1e15, "b");
	metric_set(g, 0.1, "c");
	metric_add(g, 0.2, "c");
}

static void
setup_special_values(void)
{
	struct metric *g = metrics_gauge("t_val", "Values", "v");

	metric_set(g, NAN, "nan");
	metric_set(g, INFINITY, "inf");
	metric_set(g, -INFINITY, "neginf");
	metric_set(g, 1e-7, "small");
	metric_set(g, 1e20, "huge");
	metric_set(g, 123456.789, "frac");
	metric_set(g, -0.0, "negzero");
	metric_set(g, 3, "three");
}

static void
setup_histogram(void)
{
	static const double b[] = { 0.25, 1, 2.5 };
	struct metric *h = metrics_histogram("t_lat_seconds", "Latency",
					     NULL, b, 3);

	metric_observe(h, 0.125);
	metric_observe(h, 0.25);		/* le is inclusive */
	metric_observe(h, 0.5);
	metric_observe(h, 4);
}

static void
setup_histogram_labels(void)
{
	static const double b[] = { 1 };
	struct metric *h = metrics_histogram("t_h", "H", "peer", b, 1);

	metric_series(h, "b");			/* created, never observed */
	metric_observe(h, 2, "a");
}

static void
setup_histogram_default(void)
{
	struct metric *h = metrics_histogram("t_d", "Default buckets", NULL,
					     NULL, 0);

	metric_observe(h, 0.003);
}

static void
setup_histogram_inf(void)
{
	static const double b[] = { 1, INFINITY };
	struct metric *h = metrics_histogram("t_i", "Explicit +Inf", NULL,
					     b, 2);

	metric_observe(h, 1);
}

static void
setup_escaping(void)
{
	struct metric *m = metrics_counter("t_esc_total",
					   "Line one\nback\\slash \"quoted\"",
					   "v");

	metric_inc(m, "a\\b\"c\nd");
}

static void
setup_empty(void)
{
	metrics_gauge("t_empty", "", "x");
	metrics_gauge("t_nohelp", NULL, NULL);
}

static void
setup_sorted(void)
{
	struct metric *b = metrics_gauge("t_b", "B", NULL);
	struct metric *a = metrics_counter("t_a", "A", " x , y ");

	metric_set(b, 7);
	metric_inc(a, "1", "2");
	metric_inc(a, "1", "10");
	metric_inc(a, "", "2");
}

static const struct render_case {
	const char *name;
	void (*setup)(void);
	const char *want;
} render_cases[] = {
	{ "unlabelled counter, untouched", setup_counter_untouched,
	  "# HELP t_requests_total Requests handled\n"
	  "# TYPE t_requests_total counter\n"
	  "t_requests_total 0\n" },
	{ "labelled counter, series sorted", setup_counter_labels,
	  "# HELP t_req_total Requests\n"
	  "# TYPE t_req_total counter\n"
	  "t_req_total{state=\"DATA\",action=\"defer\"} 2\n"
	  "t_req_total{state=\"RCPT\",action=\"dunno\"} 2\n" },
	{ "gauge set and add", setup_gauge,
	  "# HELP t_temp A gauge\n"
	  "# TYPE t_temp gauge\n"
	  "t_temp{zone=\"a\"} -3.25\n"
	  "t_temp{zone=\"b\"} 1000000000000000\n"
	  "t_temp{zone=\"c\"} 0.30000000000000004\n" },
	{ "special values", setup_special_values,
	  "# HELP t_val Values\n"
	  "# TYPE t_val gauge\n"
	  "t_val{v=\"frac\"} 123456.789\n"
	  "t_val{v=\"huge\"} 1e+20\n"
	  "t_val{v=\"inf\"} +Inf\n"
	  "t_val{v=\"nan\"} NaN\n"
	  "t_val{v=\"neginf\"} -Inf\n"
	  "t_val{v=\"negzero\"} 0\n"
	  "t_val{v=\"small\"} 1e-07\n"
	  "t_val{v=\"three\"} 3\n" },
	{ "histogram", setup_histogram,
	  "# HELP t_lat_seconds Latency\n"
	  "# TYPE t_lat_seconds histogram\n"
	  "t_lat_seconds_bucket{le=\"0.25\"} 2\n"
	  "t_lat_seconds_bucket{le=\"1\"} 3\n"
	  "t_lat_seconds_bucket{le=\"2.5\"} 3\n"
	  "t_lat_seconds_bucket{le=\"+Inf\"} 4\n"
	  "t_lat_seconds_sum 4.875\n"
	  "t_lat_seconds_count 4\n" },
	{ "histogram with labels", setup_histogram_labels,
	  "# HELP t_h H\n"
	  "# TYPE t_h histogram\n"
	  "t_h_bucket{peer=\"a\",le=\"1\"} 0\n"
	  "t_h_bucket{peer=\"a\",le=\"+Inf\"} 1\n"
	  "t_h_sum{peer=\"a\"} 2\n"
	  "t_h_count{peer=\"a\"} 1\n"
	  "t_h_bucket{peer=\"b\",le=\"1\"} 0\n"
	  "t_h_bucket{peer=\"b\",le=\"+Inf\"} 0\n"
	  "t_h_sum{peer=\"b\"} 0\n"
	  "t_h_count{peer=\"b\"} 0\n" },
	{ "histogram, default buckets", setup_histogram_default,
	  "# HELP t_d Default buckets\n"
	  "# TYPE t_d histogram\n"
	  "t_d_bucket{le=\"0.0005\"} 0\n"
	  "t_d_bucket{le=\"0.001\"} 0\n"
	  "t_d_bucket{le=\"0.0025\"} 0\n"
	  "t_d_bucket{le=\"0.005\"} 1\n"
	  "t_d_bucket{le=\"0.01\"} 1\n"
	  "t_d_bucket{le=\"0.025\"} 1\n"
	  "t_d_bucket{le=\"0.05\"} 1\n"
	  "t_d_bucket{le=\"0.1\"} 1\n"
	  "t_d_bucket{le=\"0.25\"} 1\n"
	  "t_d_bucket{le=\"0.5\"} 1\n"
	  "t_d_bucket{le=\"1\"} 1\n"
	  "t_d_bucket{le=\"2.5\"} 1\n"
	  "t_d_bucket{le=\"5\"} 1\n"
	  "t_d_bucket{le=\"10\"} 1\n"
	  "t_d_bucket{le=\"+Inf\"} 1\n"
	  "t_d_sum 0.003\n"
	  "t_d_count 1\n" },
	{ "histogram, explicit +Inf bound", setup_histogram_inf,
	  "# HELP t_i Explicit +Inf\n"
	  "# TYPE t_i histogram\n"
	  "t_i_bucket{le=\"1\"} 1\n"
	  "t_i_bucket{le=\"+Inf\"} 1\n"
	  "t_i_sum 1\n"
	  "t_i_count 1\n" },
	{ "escaping of help and label values", setup_escaping,
	  "# HELP t_esc_total Line one\\nback\\\\slash \"quoted\"\n"
	  "# TYPE t_esc_total counter\n"
	  "t_esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n" },
	{ "no help, no series", setup_empty,
	  "# TYPE t_empty gauge\n"
	  "# TYPE t_nohelp gauge\n"
	  "t_nohelp 0\n" },
	{ "families sorted by name, spaces in label list", setup_sorted,
	  "# HELP t_a A\n"
	  "# TYPE t_a counter\n"
	  "t_a{x=\"\",y=\"2\"} 1\n"
	  "t_a{x=\"1\",y=\"10\"} 1\n"
	  "t_a{x=\"1\",y=\"2\"} 1\n"
	  "# HELP t_b B\n"
	  "# TYPE t_b gauge\n"
	  "t_b 7\n" },
};

/* test_render - the table of rendering cases */
static void
test_render(void)
{
	const struct render_case *c;
	size_t len;
	char *got;

	for (c = render_cases; c < render_cases + sizeof(render_cases)
	     / sizeof(render_cases[0]); c++) {
		metrics_reset();
		c->setup();
		got = metrics_render(&len);
		is_str(got, c->want, "render: %s", c->name);
		is_int((long long) len, (long long) strlen(got),
		       "render: %s: length", c->name);
		free(got);
	}
	metrics_reset();
	got = metrics_render(&len);
	is_str(got, "", "render: empty registry");
	free(got);
}

/* test_reregister - the same name gives the same family and series */
static void
test_reregister(void)
{
	static const double b[] = { 1, 2 };
	static const char *const v[] = { "x", "y" };
	struct metric *m1, *m2, *h1, *h2;
	struct metric_series *s1, *s2;

	metrics_reset();
	m1 = metrics_counter("t_same_total", "first help", "a,b");
	m2 = metrics_counter("t_same_total", "other help", " a, b ");
	ok(m1 == m2, "re-registration returns the same family");
	h1 = metrics_histogram("t_same_h", "h", NULL, b, 2);
	h2 = metrics_histogram("t_same_h", "h", NULL, b, 2);
	ok(h1 == h2, "re-registration of a histogram, same buckets");
	s1 = metric_series(m1, "x", "y");
	s2 = metric_seriesv(m2, v);
	ok(s1 == s2, "metric_series and metric_seriesv find one series");
	s2 = metric_series(m1, "x", "z");
	ok(s1 != s2, "other label values, other series");
	s2 = metric_series(m1, NULL, "y");
	ok(s2 == metric_series(m1, "", "y"), "a NULL label value is \"\"");
	metrics_reset();
}

/* test_cumulative - buckets against a direct count, +Inf == _count */
static void
test_cumulative(void)
{
	static const double bounds[] = {
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
		0.5, 1, 2.5, 5, 10,
	};
	static const double scale[] = {
		1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10,
	};
	enum { NB = sizeof(bounds) / sizeof(bounds[0]), NOBS = 1000 };
	double obs[NOBS];
	unsigned long long want, got, prev = 0, count = 0;
	unsigned seed = 12345;
	struct metric *h;
	char *text, *p;
	size_t i, j;
	int good = 1, monotonic = 1, nlines = 0;

	metrics_reset();
	h = metrics_histogram("t_cum", "cumulative", NULL, NULL, 0);
	for (i = 0; i < NOBS; i++) {
		seed = seed * 1103515245 + 12345;
		/* spread over 1e-5 .. 100, about as many per decade */
		obs[i] = (1 + (seed >> 8) % 9000 / 1000.0)
			* scale[(seed >> 16) % 7];
		metric_observe(h, obs[i]);
	}
	text = metrics_render(NULL);
	p = text;
	for (i = 0; i <= NB; i++) {
		p = strstr(p, "t_cum_bucket{le=\"");
		if (p == NULL)
			break;
		p = strchr(p, '}') + 2;
		got = strtoull(p, &p, 10);
		for (want = 0, j = 0; j < NOBS; j++)
			if (i == NB || obs[j] <= bounds[i])
				want++;
		if (got != want) {
			good = 0;
			diag("bucket %zu: got %llu, want %llu", i, got, want);
		}
		if (got < prev)
			monotonic = 0;
		prev = got;
		nlines++;
	}
	is_int(nlines, NB + 1, "cumulative: %d bucket lines", NB + 1);
	ok(good, "cumulative: each bucket counts the values <= its bound");
	ok(monotonic, "cumulative: counts never decrease");
	if ((p = strstr(text, "t_cum_count ")) != NULL)
		count = strtoull(p + strlen("t_cum_count "), NULL, 10);
	is_int((long long) count, (long long) prev, "cumulative: +Inf == _count");
	is_int((long long) count, NOBS, "cumulative: _count");
	free(text);
	metrics_reset();
}

/*
 * Concurrency: several threads update shared series (cached pointer and
 * lookup path) and create the same new series at the same time.
 */
enum { NTHREADS = 4, NITER = 100000, NNEW = 50 };

struct conc_arg {
	struct metric *counter, *gauge, *hist, *created;
	int id;
};

/* conc_thread - one thread's share of the updates */
static void *
conc_thread(void *arg)
{
	struct conc_arg *a = arg;
	struct metric_series *shared = metric_series(a->counter, "shared");
	char name[16];
	int i;

	for (i = 0; i < NITER; i++) {
		metric_series_add(shared, 1);
		metric_inc(a->counter, "lookup");
		metric_add(a->gauge, 0.5);
		metric_observe(a->hist, (i % 4) * 0.5);
		if (i < NNEW) {
			snprintf(name, sizeof(name), "s%02d",
				 (i + a->id * 7) % NNEW);
			metric_inc(a->created, name);
		}
	}
	return NULL;
}

/* test_concurrency - exact sums from several threads */
static void
test_concurrency(void)
{
	static const double b[] = { 0.75 };
	struct conc_arg args[NTHREADS];
	pthread_t tid[NTHREADS];
	char want[128], *text, *p;
	int i, nseries = 0, allfour = 1;

	metrics_reset();
	args[0].counter = metrics_counter("t_conc_total", "c", "kind");
	args[0].gauge = metrics_gauge("t_conc_gauge", "g", NULL);
	args[0].hist = metrics_histogram("t_conc_h", "h", NULL, b, 1);
	args[0].created = metrics_counter("t_conc_new_total", "n", "name");
	for (i = 0; i < NTHREADS; i++) {
		args[i] = args[0];
		args[i].id = i;
		if (pthread_create(&tid[i], NULL, conc_thread, &args[i]) != 0)
			bail_out("pthread_create failed");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);

	text = metrics_render(NULL);
	snprintf(want, sizeof(want), "t_conc_total{kind=\"shared\"} %d\n",
		 NTHREADS * NITER);
	like_str(text, want, "concurrent: cached series sums exactly");
	snprintf(want, sizeof(want), "t_conc_total{kind=\"lookup\"} %d\n",
		 NTHREADS * NITER);
	like_str(text, want, "concurrent: looked-up series sums exactly");
	snprintf(want, sizeof(want), "t_conc_gauge %d\n",
		 NTHREADS * NITER / 2);
	like_str(text, want, "concurrent: gauge adds sum exactly");
	snprintf(want, sizeof(want), "t_conc_h_bucket{le=\"0.75\"} %d\n",
		 NTHREADS * NITER / 2);
	like_str(text, want, "concurrent: histogram bucket exact");
	snprintf(want, sizeof(want), "t_conc_h_count %d\n", NTHREADS * NITER);
	like_str(text, want, "concurrent: histogram count exact");
	snprintf(want, sizeof(want), "t_conc_h_sum %d\n",
		 NTHREADS * NITER / 4 * 3);
	like_str(text, want, "concurrent: histogram sum exact");
	for (p = text; (p = strstr(p, "t_conc_new_total{")) != NULL; p++) {
		nseries++;
		p = strchr(p, '}');
		if (strncmp(p, "} 4\n", 4) != 0)
			allfour = 0;
	}
	is_int(nseries, NNEW, "concurrent: each new series created once");
	ok(allfour, "concurrent: each new series counted by every thread");
	free(text);
	metrics_reset();
}

/*
 * Programmer errors panic (abort).  Each case runs in a child whose
 * log lines come back through a pipe; the panic_* functions are the
 * cases' bodies.
 */
static int panic_pipe = -1;

/* panic_hook - send the child's log lines to the parent */
static void
panic_hook(int prio, const char *line)
{
	if (write(panic_pipe, line, strlen(line)) < 0)
		_exit(3);
}

static void
panic_type(void)
{
	metrics_counter("t_p", "p", NULL);
	metrics_gauge("t_p", "p", NULL);
}

static void
panic_labels(void)
{
	metrics_counter("t_p", "p", "a,b");
	metrics_counter("t_p", "p", "a,c");
}

static void
panic_nlabels(void)
{
	metrics_counter("t_p", "p", "a");
	metrics_counter("t_p", "p", "a,b");
}

static void
panic_buckets(void)
{
	static const double b1[] = { 1, 2 }, b2[] = { 1, 3 };

	metrics_histogram("t_p", "p", NULL, b1, 2);
	metrics_histogram("t_p", "p", NULL, b2, 2);
}

static void
panic_name(void)
{
	metrics_counter("1bad", "p", NULL);
}

static void
panic_label_name(void)
{
	metrics_counter("t_p", "p", "a-b");
}

static void
panic_label_reserved(void)
{
	metrics_counter("t_p", "p", "__x");
}

static void
panic_label_twice(void)
{
	metrics_counter("t_p", "p", "a,a");
}

static void
panic_label_le(void)
{
	metrics_histogram("t_p", "p", "le", NULL, 0);
}

static void
panic_descending(void)
{
	static const double b[] = { 2, 1 };

	metrics_histogram("t_p", "p", NULL, b, 2);
}

static void
panic_set_counter(void)
{
	metric_set(metrics_counter("t_p", "p", NULL), 1);
}

static void
panic_observe_gauge(void)
{
	metric_observe(metrics_gauge("t_p", "p", NULL), 1);
}

static void
panic_add_histogram(void)
{
	metric_inc(metrics_histogram("t_p", "p", NULL, NULL, 0));
}

static const struct panic_case {
	const char *name;
	void (*fn)(void);
	const char *want;		/* substring of the panic message */
} panic_cases[] = {
	{ "type mismatch", panic_type, "registered as a counter and as a gauge" },
	{ "label mismatch", panic_labels, "label 2 is \"b\", not \"c\"" },
	{ "label count mismatch", panic_nlabels, "with 1 and 2 labels" },
	{ "bucket mismatch", panic_buckets, "other buckets" },
	{ "bad metric name", panic_name, "bad metric name \"1bad\"" },
	{ "bad label name", panic_label_name, "bad label name \"a-b\"" },
	{ "reserved label name", panic_label_reserved, "bad label name" },
	{ "duplicate label", panic_label_twice, "label \"a\" twice" },
	{ "le on a histogram", panic_label_le, "label named \"le\"" },
	{ "descending buckets", panic_descending, "ascending" },
	{ "set on a counter", panic_set_counter, "set on a counter" },
	{ "observe on a gauge", panic_observe_gauge, "observe on a gauge" },
	{ "add on a histogram", panic_add_histogram, "add on a histogram" },
};

/* test_panics - each programmer error aborts with a message */
static void
test_panics(void)
{
	const struct panic_case *c;
	char buf[512];
	ssize_t n;
	size_t len;
	int fds[2], status, devnull;
	pid_t pid;

	for (c = panic_cases; c < panic_cases + sizeof(panic_cases)
	     / sizeof(panic_cases[0]); c++) {
		if (pipe(fds) < 0)
			bail_out("pipe: %s", strerror(errno));
		fflush(stdout);
		if ((pid = fork()) < 0)
			bail_out("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			panic_pipe = fds[1];
			log_test_hook = panic_hook;
			if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
				dup2(devnull, STDERR_FILENO);
			metrics_reset();
			c->fn();
			_exit(0);
		}
		close(fds[1]);
		len = 0;
		while (len < sizeof(buf) - 1
		       && (n = read(fds[0], buf + len,
				    sizeof(buf) - 1 - len)) > 0)
			len += (size_t) n;
		buf[len] = '\0';
		close(fds[0]);
		waitpid(pid, &status, 0);
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		   "panic: %s: aborts", c->name);
		like_str(buf, c->want, "panic: %s: message", c->name);
	}
}

/*
 * The HTTP endpoint.
 */
struct http_result {
	CURLcode rc;
	long status;
	char ctype[128];
	char allow[64];
	char *body;
	size_t len;
};

/* http_write - collect the response body */
static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_result *r = ud;
	size_t n = size * nmemb;

	r->body = x_realloc(r->body, r->len + n + 1);
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* http_header - keep the Allow header */
static size_t
http_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_result *r = ud;
	size_t n = size * nmemb;

	if (n > 6 && strncasecmp(ptr, "Allow:", 6) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s",
			 (int) strcspn(ptr + 7, "\r\n"), ptr + 7);
	return n;
}

/* http_do - one request; method "GET", "HEAD" or "POST" */
static void
http_do(const char *url, const char *unix_path, const char *method,
	struct http_result *r)
{
	CURL *curl = curl_easy_init();
	char *ctype = NULL;

	memset(r, 0, sizeof(*r));
	r->body = x_strdup("");
	if (curl == NULL)
		bail_out("curl_easy_init failed");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, http_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
	if (unix_path != NULL)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "x=1");
	r->rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK
	    && ctype != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	curl_easy_cleanup(curl);
}

static const struct http_case {
	const char *name;
	const char *method;
	const char *path;		/* appended to the base URL */
	long status;
	const char *ctype;		/* NULL: not checked */
	int body_is_metrics;		/* 1: the rendering, 0: not checked */
} http_cases[] = {
	{ "GET the path", "GET", "", 200, OPENMETRICS_CTYPE, 1 },
	{ "GET with a query string", "GET", "?debug=1", 200,
	  OPENMETRICS_CTYPE, 1 },
	{ "HEAD the path", "HEAD", "", 200, OPENMETRICS_CTYPE, 0 },
	{ "GET another path", "GET", "/x", 404, NULL, 0 },
	{ "GET a prefix of the path", "GET", "@prefix", 404, NULL, 0 },
	{ "POST the path", "POST", "", 405, NULL, 0 },
};

/* http_cases_run - the table against one server; base is the path URL */
static void
http_cases_run(const char *what, const char *base, const char *unix_path)
{
	const struct http_case *c;
	struct http_result r;
	char url[512], *want;

	for (c = http_cases; c < http_cases + sizeof(http_cases)
	     / sizeof(http_cases[0]); c++) {
		if (strcmp(c->path, "@prefix") == 0) {
			/* the base URL minus its last character */
			snprintf(url, sizeof(url), "%.*s",
				 (int) strlen(base) - 1, base);
		} else {
			snprintf(url, sizeof(url), "%s%s", base, c->path);
		}
		http_do(url, unix_path, c->method, &r);
		if (!is_int(r.rc, CURLE_OK, "%s: %s: request", what, c->name))
			diag("curl: %s", curl_easy_strerror(r.rc));
		is_int(r.status, c->status, "%s: %s: status", what, c->name);
		if (c->ctype != NULL)
			is_str(r.ctype, c->ctype, "%s: %s: Content-Type",
			       what, c->name);
		if (c->body_is_metrics) {
			want = metrics_render(NULL);
			is_str(r.body, want, "%s: %s: body", what, c->name);
			free(want);
		}
		if (strcmp(c->method, "HEAD") == 0)
			is_int((long long) r.len, 0, "%s: %s: no body", what,
			       c->name);
		if (c->status == 405)
			is_str(r.allow, "GET, HEAD", "%s: %s: Allow", what,
			       c->name);
		free(r.body);
	}
}

/* tcp_listener - a listener on 127.0.0.1, port chosen by the kernel;
 * base gets its metrics URL */
static int
tcp_listener(char *base, size_t len)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) < 0
	    || listen(fd, 16) < 0
	    || getsockname(fd, (struct sockaddr *) &sin, &slen) < 0)
		bail_out("tcp listener: %s", strerror(errno));
	snprintf(base, len, "http://127.0.0.1:%u/metrics",
		 ntohs(sin.sin_port));
	return fd;
}

/* test_serve_tcp - the endpoint on 127.0.0.1, port chosen by the kernel */
static void
test_serve_tcp(void)
{
	struct http_result r;
	char err[256], base[128];
	struct metric *m;
	int fd, fd2;

	metrics_reset();
	m = metrics_counter("t_http_total", "served", "path");
	metric_inc(m, "/a\"b");
	metrics_histogram("t_http_seconds", "latency", NULL, NULL, 0);

	fd = tcp_listener(base, sizeof(base));

	err[0] = '\0';
	if (!is_int(metrics_serve(fd, "/metrics", NULL, err, sizeof(err)), 0,
		    "tcp: metrics_serve"))
		diag("error: %s", err);
	http_cases_run("tcp", base, NULL);

	fd2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	is_int(metrics_serve(fd2, "/metrics", NULL, err, sizeof(err)), -1,
	       "tcp: a second server is refused");
	like_str(err, "already serving", "tcp: a second server: error");

	metrics_stop();
	http_do(base, NULL, "GET", &r);
	is_int(r.rc, CURLE_COULDNT_CONNECT,
	       "tcp: after metrics_stop the socket is closed");
	free(r.body);
	metrics_stop();
	ok(1, "tcp: metrics_stop twice is harmless");
	metrics_reset();
}

static int serve_allow_calls;
static int serve_allow_family;
static int serve_allow_answer;

/* serve_allow - a metrics_allow_fn that says what the test wants and
 * remembers what it was asked */
static int
serve_allow(const struct sockaddr *sa, unsigned salen)
{
	serve_allow_calls++;
	serve_allow_family = salen >= sizeof(sa_family_t) ? sa->sa_family : -1;
	return serve_allow_answer;
}

/* test_serve_allow - the allow function decides before anything is
 * read: refused, no HTTP answer at all; allowed, the metrics */
static void
test_serve_allow(void)
{
	struct http_result r;
	char err[256], base[128];
	int fd;

	metrics_reset();
	metric_set(metrics_gauge("t_allow", "behind an allow function", NULL),
		   7);
	fd = tcp_listener(base, sizeof(base));
	if (!is_int(metrics_serve(fd, "/metrics", serve_allow, err,
				  sizeof(err)), 0, "allow: metrics_serve"))
		diag("error: %s", err);

	serve_allow_answer = 0;
	http_do(base, NULL, "GET", &r);
	ok(r.rc != CURLE_OK && r.status == 0,
	   "allow: refused, no HTTP answer (curl: %s)",
	   curl_easy_strerror(r.rc));
	ok(strstr(r.body, "t_allow") == NULL, "allow: refused, no metrics");
	free(r.body);
	is_int(serve_allow_calls, 1, "allow: asked once for the connection");
	is_int(serve_allow_family, AF_INET, "allow: given the peer address");

	serve_allow_answer = 1;
	http_do(base, NULL, "GET", &r);
	is_int(r.status, 200, "allow: allowed, served");
	ok(strstr(r.body, "t_allow 7") != NULL, "allow: allowed, the metrics");
	free(r.body);
	is_int(serve_allow_calls, 2, "allow: asked again for the next one");
	metrics_stop();
	metrics_reset();
}

/* test_serve_unix - the endpoint on a unix socket, with another path */
static void
test_serve_unix(void)
{
	char dir[] = "/tmp/elemta-t0015.XXXXXX";
	struct sockaddr_un sun;
	char err[256];
	int fd;

	metrics_reset();
	metric_set(metrics_gauge("t_unix", "over a unix socket", NULL), 42);
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/metrics.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
	    || listen(fd, 16) < 0)
		bail_out("unix listener: %s", strerror(errno));

	err[0] = '\0';
	if (!is_int(metrics_serve(fd, "/custom/prom", NULL, err, sizeof(err)), 0,
		    "unix: metrics_serve"))
		diag("error: %s", err);
	http_cases_run("unix", "http://localhost/custom/prom", sun.sun_path);
	metrics_stop();
	unlink(sun.sun_path);
	rmdir(dir);
	metrics_reset();
}

/* test_serve_errors - bad arguments are errors, not crashes */
static void
test_serve_errors(void)
{
	char err[256];
	int fd;

	err[0] = '\0';
	is_int(metrics_serve(-1, "/metrics", NULL, err, sizeof(err)), -1,
	       "serve: no socket");
	like_str(err, "no listening socket", "serve: no socket: error");

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	err[0] = '\0';
	is_int(metrics_serve(fd, "metrics", NULL, err, sizeof(err)), -1,
	       "serve: relative path");
	like_str(err, "does not start with \"/\"",
		 "serve: relative path: error");
	errno = 0;
	ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF,
	   "serve: the socket is closed on error");
}

/*
 * The [metrics] section, through the real loader.
 */
static const struct conf_case {
	const char *name;
	const char *override;		/* NULL: defaults */
	const char *want_path;		/* NULL: an error is expected */
	const char *want_err;
} conf_cases[] = {
	{ "defaults", NULL, "/metrics", NULL },
	{ "another path", "metrics.path=/prom/metrics", "/prom/metrics", NULL },
	{ "relative path", "metrics.path=metrics", NULL,
	  "must start with \"/\"" },
	{ "empty path", "metrics.path=", NULL, "must start with \"/\"" },
	{ "query in path", "metrics.path=/metrics?x", NULL,
	  "must not contain \"?\"" },
	{ "space in path", "metrics.path=/a b", NULL, "must not contain" },
};

/* test_conf - the [metrics] section's table of cases */
static void
test_conf(void)
{
	const struct conf_case *c;
	const struct metrics_conf *mc;
	struct conf *conf;

	for (c = conf_cases; c < conf_cases + sizeof(conf_cases)
	     / sizeof(conf_cases[0]); c++) {
		conf = tap_conf_case(&metrics_conf_section, c->name,
				     c->override,
				     c->want_path ? NULL : c->want_err);
		if (c->want_path != NULL) {
			mc = conf ? conf_get(conf, &metrics_conf_section) : NULL;
			is_str(mc ? mc->path : NULL, c->want_path,
			       "conf: %s: path", c->name);
		}
		conf_unref(&conf);
	}
}

int
main(void)
{
	plan_lazy();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		bail_out("curl_global_init failed");
	test_render();
	test_reregister();
	test_cumulative();
	test_concurrency();
	test_panics();
	test_serve_errors();
	test_serve_tcp();
	test_serve_allow();
	test_serve_unix();
	test_conf();
	curl_global_cleanup();
	done_testing();
	return exit_status();
}
