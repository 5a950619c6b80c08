/*++
 * NAME
 *	metrics 3h
 * SUMMARY
 *	Prometheus counters, gauges and histograms, served over HTTP
 * SYNOPSIS
 *	#include "metrics.h"
 *
 *	static struct metric *m_req;
 *	m_req = metrics_counter("elemta_policyd_requests_total",
 *				"Policy requests", "state,action");
 *	metric_inc(m_req, "RCPT", "dunno");
 *
 *	struct metric_series *s = metric_series(m_req, "RCPT", "defer");
 *	metric_series_add(s, 1);		   hot path: no lookup, no lock
 * DESCRIPTION
 *	One process-wide registry.  A metric is a family with fixed label
 *	names (comma-separated, NULL for none); each distinct tuple of
 *	label values is a series, created on first use and kept for the
 *	life of the process.  Updates are lock-free atomics; creating a
 *	series and rendering take the registry lock.  Registering the same
 *	name twice returns the same family (type and labels must match, or
 *	msg_panic), as do a bad metric or label name, more than 16
 *	labels, and updating a family with the wrong function (set on a
 *	counter, observe on a gauge...).  A NULL label value is "".  A
 *	negative amount added to a counter is ignored.  Label values are
 *	escaped in the output as the text format requires; families are
 *	rendered sorted by name, series by label values.
 *
 *	metrics_serve() runs libmicrohttpd on an already bound listening
 *	socket (bind before dropping privileges), answering GET /metrics
 *	with text format 0.0.4; other paths get 404, methods other than
 *	GET and HEAD 405; a client the caller's allow function refuses is
 *	closed before anything is read.  Thread-safe.
 *--*/
#ifndef ELEMTA_METRICS_H
#define ELEMTA_METRICS_H

#include <stddef.h>

struct metric;
struct metric_series;

struct metric *metrics_counter(const char *name, const char *help,
			       const char *labels);
struct metric *metrics_gauge(const char *name, const char *help,
			     const char *labels);
/* buckets: ascending upper bounds, +Inf implied; NULL = default
 * latency buckets in seconds (0.0005 .. 10) */
struct metric *metrics_histogram(const char *name, const char *help,
				 const char *labels, const double *buckets,
				 size_t nbuckets);

/* metric_series - the series for these label values (as many as the
 * family has labels); the pointer stays valid for the process' life */
struct metric_series *metric_series(struct metric *m, ...);
struct metric_series *metric_seriesv(struct metric *m,
				     const char *const *values);

void metric_series_add(struct metric_series *s, double v);	/* counter, gauge */
void metric_series_set(struct metric_series *s, double v);	/* gauge */
void metric_series_observe(struct metric_series *s, double v);	/* histogram */

/* Convenience: look up the series and update it (label values follow) */
#define metric_inc(m, ...) metric_series_add(metric_series((m), ##__VA_ARGS__), 1)
#define metric_add(m, v, ...) metric_series_add(metric_series((m), ##__VA_ARGS__), (v))
#define metric_set(m, v, ...) metric_series_set(metric_series((m), ##__VA_ARGS__), (v))
#define metric_observe(m, v, ...) metric_series_observe(metric_series((m), ##__VA_ARGS__), (v))

/* metrics_render - the whole registry in Prometheus text format;
 * malloc'ed, the caller frees it.  *lenp gets the length if not NULL. */
char *metrics_render(size_t *lenp);

/* metrics_serve - serve GET path (e.g. "/metrics") on listen_fd (takes
 * ownership: closed on error too); 0, or -1 with a message.  allow, if
 * not NULL, is asked about each client as it connects (from the
 * server's thread): 0 closes the connection before it is read.
 * metrics_stop() stops and closes it.  One server per process. */
struct sockaddr;
typedef int (*metrics_allow_fn)(const struct sockaddr *sa, unsigned salen);
int metrics_serve(int listen_fd, const char *path, metrics_allow_fn allow,
		  char *err, size_t errlen);
void metrics_stop(void);

/* metrics_reset - forget every family (tests only) */
void metrics_reset(void);

/* The [metrics] configuration section (lib/metrics.c); where each
 * daemon serves is its own section's metrics_listen. */
struct conf_section;
extern const struct conf_section metrics_conf_section;
struct metrics_conf {
	char *path;		/* URL path, default "/metrics" */
};

#endif
