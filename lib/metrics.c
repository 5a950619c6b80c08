/*++
 * NAME
 *	metrics 3
 * SUMMARY
 *	Prometheus counters, gauges and histograms: the registry and the
 *	text format (metrics-http.c serves it)
 * DESCRIPTION
 *	See metrics.h.  The registry is a sorted array of families, each
 *	with a sorted array of series, under one read-write lock: looking
 *	a series up takes it for reading, creating one (or a family) for
 *	writing, rendering for reading.  Values are doubles kept as the
 *	bits of an _Atomic uint64_t and updated with a compare-and-swap
 *	loop, so the hot path never takes a lock.  A histogram series
 *	keeps one atomic count per bucket (not cumulative) plus +Inf, and
 *	its sum; the cumulative counts and _count are computed when
 *	rendering, so +Inf and _count always agree in one scrape.
 *
 *	Families and series are never freed but by metrics_reset(),
 *	which is for tests: a series pointer stays valid for the life of
 *	the process.
 *
 *	Numbers are printed in the "C" locale's notation (the daemons
 *	never call setlocale()): integral values without an exponent,
 *	others with the fewest digits that read back to the same double.
 *--*/
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "xalloc.h"

/* More labels than this on one family is a design smell, and the bound
 * lets metric_series() collect its arguments on the stack. */
#define METRICS_MAX_LABELS	16

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

static const char *const metric_type_names[] = {
	"counter", "gauge", "histogram",
};

struct metric_series {
	struct metric *family;
	char **values;			/* family->nlabels label values */
	_Atomic uint64_t value;		/* a double's bits; histogram: sum */
	_Atomic uint64_t *counts;	/* histogram: nbuckets + 1 (+Inf) */
};

struct metric {
	char *name;
	char *help;
	enum metric_type type;
	char **labels;
	size_t nlabels;
	double *buckets;		/* histogram upper bounds, ascending */
	size_t nbuckets;
	struct metric_series **series;	/* sorted by label values */
	size_t nseries;
	size_t aseries;
};

static pthread_rwlock_t metrics_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct metric **metrics_families;	/* sorted by name */
static size_t metrics_nfamilies;
static size_t metrics_afamilies;

static const double metrics_default_buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
};

/* metrics_bits - a double as the bits stored in an atomic */
static uint64_t
metrics_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

/* metrics_double - the double stored in an atomic's bits */
static double
metrics_double(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

/* metrics_atomic_add - add to a double kept as atomic bits */
static void
metrics_atomic_add(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
	uint64_t next;

	do {
		next = metrics_bits(metrics_double(old) + v);
	} while (!atomic_compare_exchange_weak_explicit(p, &old, next,
						       memory_order_relaxed,
						       memory_order_relaxed));
}

/* metrics_lock_read - take the registry lock for reading, or panic */
static void
metrics_lock_read(void)
{
	int rc = pthread_rwlock_rdlock(&metrics_lock);

	if (rc != 0)
		msg_panic("metrics: rdlock: %s", strerror(rc));
}

/* metrics_lock_write - take the registry lock for writing, or panic */
static void
metrics_lock_write(void)
{
	int rc = pthread_rwlock_wrlock(&metrics_lock);

	if (rc != 0)
		msg_panic("metrics: wrlock: %s", strerror(rc));
}

/* metrics_unlock - release the registry lock */
static void
metrics_unlock(void)
{
	int rc = pthread_rwlock_unlock(&metrics_lock);

	if (rc != 0)
		msg_panic("metrics: unlock: %s", strerror(rc));
}

/* metrics_valid_name - [a-zA-Z_:][a-zA-Z0-9_:]* (colon only if allowed) */
static int
metrics_valid_name(const char *s, int colon)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || *p == '_' || (colon && *p == ':'))
			continue;
		if (p > s && *p >= '0' && *p <= '9')
			continue;
		return 0;
	}
	return 1;
}

/* metrics_parse_labels - split "a,b" into names; the count */
static size_t
metrics_parse_labels(const char *name, const char *spec,
		     enum metric_type type, char **out)
{
	const char *p = spec;
	const char *end;
	size_t n = 0;
	size_t i;
	size_t len;

	if (spec == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ",");
		len = (size_t) (end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (n == METRICS_MAX_LABELS)
			msg_panic("metrics: %s: more than %d labels", name,
				  METRICS_MAX_LABELS);
		out[n] = x_strndup(p, len);
		if (!metrics_valid_name(out[n], 0)
		    || strncmp(out[n], "__", 2) == 0)
			msg_panic("metrics: %s: bad label name \"%s\"",
				  name, out[n]);
		if (type == METRIC_HISTOGRAM && strcmp(out[n], "le") == 0)
			msg_panic("metrics: %s: a histogram cannot have a "
				  "label named \"le\"", name);
		for (i = 0; i < n; i++)
			if (strcmp(out[i], out[n]) == 0)
				msg_panic("metrics: %s: label \"%s\" twice",
					  name, out[n]);
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return n;
}

/* metrics_find - binary search for a family; its index or insertion point */
static size_t
metrics_find(const char *name, int *found)
{
	size_t lo = 0;
	size_t hi = metrics_nfamilies;
	size_t mid;
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(name, metrics_families[mid]->name);
		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* metrics_same_shape - panic unless a re-registration matches */
static void
metrics_same_shape(const struct metric *m, enum metric_type type,
		   char **labels, size_t nlabels, const double *buckets,
		   size_t nbuckets)
{
	size_t i;

	if (m->type != type)
		msg_panic("metrics: %s registered as a %s and as a %s",
			  m->name, metric_type_names[m->type],
			  metric_type_names[type]);
	if (m->nlabels != nlabels)
		msg_panic("metrics: %s registered with %zu and %zu labels",
			  m->name, m->nlabels, nlabels);
	for (i = 0; i < nlabels; i++)
		if (strcmp(m->labels[i], labels[i]) != 0)
			msg_panic("metrics: %s: label %zu is \"%s\", "
				  "not \"%s\"", m->name, i + 1,
				  m->labels[i], labels[i]);
	if (type != METRIC_HISTOGRAM)
		return;
	if (m->nbuckets != nbuckets
	    || memcmp(m->buckets, buckets, nbuckets * sizeof(*buckets)) != 0)
		msg_panic("metrics: %s registered with other buckets",
			  m->name);
}

/* metrics_series_new - allocate a series (values are copied) */
static struct metric_series *
metrics_series_new(struct metric *m, const char *const *values)
{
	struct metric_series *s = x_calloc(1, sizeof(*s));
	size_t i;

	s->family = m;
	s->values = x_calloc(m->nlabels, sizeof(*s->values));
	for (i = 0; i < m->nlabels; i++)
		s->values[i] = x_strdup(values[i] ? values[i] : "");
	atomic_init(&s->value, metrics_bits(0));
	if (m->type == METRIC_HISTOGRAM) {
		s->counts = x_calloc(m->nbuckets + 1, sizeof(*s->counts));
		for (i = 0; i <= m->nbuckets; i++)
			atomic_init(&s->counts[i], 0);
	}
	return s;
}

/* metrics_series_free - free a series */
static void
metrics_series_free(struct metric_series *s, size_t nlabels)
{
	size_t i;

	for (i = 0; i < nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free((void *) s->counts);
	free(s);
}

/* metrics_buckets - the bounds of a histogram (the default ones when
 * NULL, an explicit +Inf dropped: it is implied), checked; NULL and
 * *nbuckets 0 for another type */
static const double *
metrics_buckets(const char *name, enum metric_type type,
		const double *buckets, size_t *nbuckets)
{
	size_t i;

	if (type != METRIC_HISTOGRAM) {
		*nbuckets = 0;
		return NULL;
	}
	if (buckets == NULL) {
		buckets = metrics_default_buckets;
		*nbuckets = sizeof(metrics_default_buckets)
			/ sizeof(metrics_default_buckets[0]);
	}
	/* An explicit +Inf bound is the implied one. */
	if (*nbuckets > 0 && isinf(buckets[*nbuckets - 1])
	    && buckets[*nbuckets - 1] > 0)
		(*nbuckets)--;
	for (i = 0; i < *nbuckets; i++)
		if (!isfinite(buckets[i])
		    || (i > 0 && !(buckets[i] > buckets[i - 1])))
			msg_panic("metrics: %s: bucket bounds must be "
				  "finite and ascending", name);
	return buckets;
}

/* metrics_family_new - a new family, taking over the labels' names */
static struct metric *
metrics_family_new(enum metric_type type, const char *name,
		   const char *help, char **labels, size_t nlabels,
		   const double *buckets, size_t nbuckets)
{
	struct metric *m = x_calloc(1, sizeof(*m));

	m->name = x_strdup(name);
	m->help = x_strdup(help ? help : "");
	m->type = type;
	m->nlabels = nlabels;
	m->labels = x_calloc(nlabels, sizeof(*m->labels));
	memcpy(m->labels, labels, nlabels * sizeof(*labels));
	if (nbuckets > 0) {
		m->buckets = x_calloc(nbuckets, sizeof(*m->buckets));
		memcpy(m->buckets, buckets, nbuckets * sizeof(*buckets));
	}
	m->nbuckets = nbuckets;
	/* A family without labels has exactly one series: create it now,
	 * so that it is rendered (as 0) before its first update. */
	if (nlabels == 0) {
		m->series = x_calloc(1, sizeof(*m->series));
		m->series[0] = metrics_series_new(m, NULL);
		m->nseries = m->aseries = 1;
	}
	return m;
}

/* metrics_register - find or create a family */
static struct metric *
metrics_register(enum metric_type type, const char *name, const char *help,
		 const char *labelspec, const double *buckets,
		 size_t nbuckets)
{
	char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	struct metric *m;
	size_t at;
	size_t i;
	int found;

	if (!metrics_valid_name(name, 1))
		msg_panic("metrics: bad metric name \"%s\"",
			  name ? name : "(null)");
	nlabels = metrics_parse_labels(name, labelspec, type, labels);
	buckets = metrics_buckets(name, type, buckets, &nbuckets);

	metrics_lock_write();
	at = metrics_find(name, &found);
	if (found) {
		m = metrics_families[at];
		metrics_same_shape(m, type, labels, nlabels, buckets, nbuckets);
		metrics_unlock();
		for (i = 0; i < nlabels; i++)
			free(labels[i]);
		return m;
	}
	m = metrics_family_new(type, name, help, labels, nlabels, buckets,
			       nbuckets);
	if (metrics_nfamilies == metrics_afamilies) {
		metrics_afamilies = metrics_afamilies ? 2 * metrics_afamilies : 16;
		metrics_families = x_realloc(metrics_families,
					     metrics_afamilies
					     * sizeof(*metrics_families));
	}
	memmove(metrics_families + at + 1, metrics_families + at,
		(metrics_nfamilies - at) * sizeof(*metrics_families));
	metrics_families[at] = m;
	metrics_nfamilies++;
	metrics_unlock();
	return m;
}

/* metrics_counter - register (or find) a counter family */
struct metric *
metrics_counter(const char *name, const char *help, const char *labels)
{
	return metrics_register(METRIC_COUNTER, name, help, labels, NULL, 0);
}

/* metrics_gauge - register (or find) a gauge family */
struct metric *
metrics_gauge(const char *name, const char *help, const char *labels)
{
	return metrics_register(METRIC_GAUGE, name, help, labels, NULL, 0);
}

/* metrics_histogram - register (or find) a histogram family */
struct metric *
metrics_histogram(const char *name, const char *help, const char *labels,
		  const double *buckets, size_t nbuckets)
{
	return metrics_register(METRIC_HISTOGRAM, name, help, labels,
				buckets, nbuckets);
}

/* metrics_series_cmp - order label-value tuples */
static int
metrics_series_cmp(const struct metric *m, const char *const *values,
		   const struct metric_series *s)
{
	size_t i;
	int cmp;

	for (i = 0; i < m->nlabels; i++) {
		cmp = strcmp(values[i] ? values[i] : "", s->values[i]);
		if (cmp != 0)
			return cmp;
	}
	return 0;
}

/* metrics_series_find - binary search; index or insertion point */
static size_t
metrics_series_find(const struct metric *m, const char *const *values,
		    int *found)
{
	size_t lo = 0;
	size_t hi = m->nseries;
	size_t mid;
	int cmp;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = metrics_series_cmp(m, values, m->series[mid]);
		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* metric_seriesv - the series for these label values, created if new */
struct metric_series *
metric_seriesv(struct metric *m, const char *const *values)
{
	struct metric_series *s;
	size_t at;
	int found;

	if (m == NULL)
		msg_panic("metric_seriesv: null metric");
	if (m->nlabels > 0 && values == NULL)
		msg_panic("metric_seriesv: %s: no label values", m->name);

	metrics_lock_read();
	at = metrics_series_find(m, values, &found);
	s = found ? m->series[at] : NULL;
	metrics_unlock();
	if (s != NULL)
		return s;

	/* Another thread may have created it between the two locks. */
	metrics_lock_write();
	at = metrics_series_find(m, values, &found);
	if (found) {
		s = m->series[at];
	} else {
		s = metrics_series_new(m, values);
		if (m->nseries == m->aseries) {
			m->aseries = m->aseries ? 2 * m->aseries : 8;
			m->series = x_realloc(m->series,
					      m->aseries * sizeof(*m->series));
		}
		memmove(m->series + at + 1, m->series + at,
			(m->nseries - at) * sizeof(*m->series));
		m->series[at] = s;
		m->nseries++;
	}
	metrics_unlock();
	return s;
}

/* metric_series - the series for the label values that follow */
struct metric_series *
metric_series(struct metric *m, ...)
{
	const char *values[METRICS_MAX_LABELS];
	va_list ap;
	size_t i;

	if (m == NULL)
		msg_panic("metric_series: null metric");
	va_start(ap, m);
	for (i = 0; i < m->nlabels; i++)
		values[i] = va_arg(ap, const char *);
	va_end(ap);
	return metric_seriesv(m, values);
}

/* metric_series_add - add to a counter or gauge */
void
metric_series_add(struct metric_series *s, double v)
{
	if (s->family->type == METRIC_HISTOGRAM)
		msg_panic("metrics: %s: add on a histogram", s->family->name);
	/* Counters never go down; a negative (or NaN) amount is a caller's
	 * bug, but not one worth stopping mail for. */
	if (s->family->type == METRIC_COUNTER && !(v >= 0))
		return;
	metrics_atomic_add(&s->value, v);
}

/* metric_series_set - set a gauge */
void
metric_series_set(struct metric_series *s, double v)
{
	if (s->family->type != METRIC_GAUGE)
		msg_panic("metrics: %s: set on a %s", s->family->name,
			  metric_type_names[s->family->type]);
	atomic_store_explicit(&s->value, metrics_bits(v),
			      memory_order_relaxed);
}

/* metric_series_observe - record one histogram observation */
void
metric_series_observe(struct metric_series *s, double v)
{
	const struct metric *m = s->family;
	size_t lo = 0;
	size_t hi;
	size_t mid;

	if (m->type != METRIC_HISTOGRAM)
		msg_panic("metrics: %s: observe on a %s", m->name,
			  metric_type_names[m->type]);
	/* The first bucket whose bound is >= v; NaN goes to +Inf. */
	hi = m->nbuckets;
	if (isnan(v))
		lo = hi;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v <= m->buckets[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
	metrics_atomic_add(&s->value, v);
}

/*
 * Rendering.
 */
struct metrics_buf {
	char *data;
	size_t len;
	size_t size;
};

/* metrics_buf_add - append n bytes */
static void
metrics_buf_add(struct metrics_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		while (b->len + n + 1 > b->size)
			b->size = b->size ? 2 * b->size : 4096;
		b->data = x_realloc(b->data, b->size);
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* metrics_buf_str - append a string */
static void
metrics_buf_str(struct metrics_buf *b, const char *s)
{
	metrics_buf_add(b, s, strlen(s));
}

/* metrics_buf_escaped - append with \\ and \n escaped (and \" if asked) */
static void
metrics_buf_escaped(struct metrics_buf *b, const char *s, int quote)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			metrics_buf_add(b, "\\\\", 2);
		else if (*p == '\n')
			metrics_buf_add(b, "\\n", 2);
		else if (*p == '"' && quote)
			metrics_buf_add(b, "\\\"", 2);
		else
			metrics_buf_add(b, p, 1);
	}
}

/* metrics_format_double - a value as the text format spells it */
static const char *
metrics_format_double(double v, char *buf, size_t len)
{
	int prec;

	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	if (v == 0)
		return "0";			/* and not "-0" */
	/* Integral (and small enough for a long long): no exponent.  The
	 * cast is safe as the range is checked first; no libm needed. */
	if (v > -1e17 && v < 1e17 && v == (double) (long long) v) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	/* The shortest of %.15g .. %.17g that reads back as v. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	snprintf(buf, len, "%.17g", v);
	return buf;
}

/* metrics_buf_labels - append {a="x",b="y"[,le="..."]}, or nothing */
static void
metrics_buf_labels(struct metrics_buf *b, const struct metric *m,
		   const struct metric_series *s, const char *le)
{
	size_t i;

	if (m->nlabels == 0 && le == NULL)
		return;
	metrics_buf_add(b, "{", 1);
	for (i = 0; i < m->nlabels; i++) {
		if (i > 0)
			metrics_buf_add(b, ",", 1);
		metrics_buf_str(b, m->labels[i]);
		metrics_buf_add(b, "=\"", 2);
		metrics_buf_escaped(b, s->values[i], 1);
		metrics_buf_add(b, "\"", 1);
	}
	if (le != NULL) {
		if (m->nlabels > 0)
			metrics_buf_add(b, ",", 1);
		metrics_buf_add(b, "le=\"", 4);
		metrics_buf_str(b, le);
		metrics_buf_add(b, "\"", 1);
	}
	metrics_buf_add(b, "}", 1);
}

/* metrics_buf_sample - append one "name[suffix]{labels} value" line */
static void
metrics_buf_sample(struct metrics_buf *b, const struct metric *m,
		   const char *suffix, const struct metric_series *s,
		   const char *le, double v)
{
	char num[64];

	metrics_buf_str(b, m->name);
	metrics_buf_str(b, suffix);
	metrics_buf_labels(b, m, s, le);
	metrics_buf_add(b, " ", 1);
	metrics_buf_str(b, metrics_format_double(v, num, sizeof(num)));
	metrics_buf_add(b, "\n", 1);
}

/* metrics_render_histogram - the _bucket, _sum and _count lines */
static void
metrics_render_histogram(struct metrics_buf *b, const struct metric *m,
			 const struct metric_series *s)
{
	char le[64];
	uint64_t total = 0;
	size_t i;

	for (i = 0; i <= m->nbuckets; i++) {
		total += atomic_load_explicit(&s->counts[i],
					      memory_order_relaxed);
		metrics_buf_sample(b, m, "_bucket", s, i < m->nbuckets ?
				   metrics_format_double(m->buckets[i], le,
							 sizeof(le)) : "+Inf",
				   (double) total);
	}
	metrics_buf_sample(b, m, "_sum", s, NULL,
			   metrics_double(atomic_load_explicit(&s->value,
							memory_order_relaxed)));
	metrics_buf_sample(b, m, "_count", s, NULL, (double) total);
}

/* metrics_render - the whole registry in text format 0.0.4 */
char *
metrics_render(size_t *lenp)
{
	struct metrics_buf b = { NULL, 0, 0 };
	const struct metric *m;
	const struct metric_series *s;
	size_t i;
	size_t j;

	metrics_buf_add(&b, "", 0);
	metrics_lock_read();
	for (i = 0; i < metrics_nfamilies; i++) {
		m = metrics_families[i];
		if (*m->help != '\0') {
			metrics_buf_str(&b, "# HELP ");
			metrics_buf_str(&b, m->name);
			metrics_buf_add(&b, " ", 1);
			metrics_buf_escaped(&b, m->help, 0);
			metrics_buf_add(&b, "\n", 1);
		}
		metrics_buf_str(&b, "# TYPE ");
		metrics_buf_str(&b, m->name);
		metrics_buf_add(&b, " ", 1);
		metrics_buf_str(&b, metric_type_names[m->type]);
		metrics_buf_add(&b, "\n", 1);
		for (j = 0; j < m->nseries; j++) {
			s = m->series[j];
			if (m->type == METRIC_HISTOGRAM)
				metrics_render_histogram(&b, m, s);
			else
				metrics_buf_sample(&b, m, "", s, NULL,
					metrics_double(atomic_load_explicit(
					&s->value, memory_order_relaxed)));
		}
	}
	metrics_unlock();
	if (lenp != NULL)
		*lenp = b.len;
	return b.data;
}

/* metrics_reset - forget every family (tests only: pointers dangle) */
void
metrics_reset(void)
{
	struct metric *m;
	size_t i;
	size_t j;

	metrics_lock_write();
	for (i = 0; i < metrics_nfamilies; i++) {
		m = metrics_families[i];
		for (j = 0; j < m->nseries; j++)
			metrics_series_free(m->series[j], m->nlabels);
		for (j = 0; j < m->nlabels; j++)
			free(m->labels[j]);
		free(m->series);
		free(m->labels);
		free(m->buckets);
		free(m->name);
		free(m->help);
		free(m);
	}
	x_free(&metrics_families);
	metrics_nfamilies = metrics_afamilies = 0;
	metrics_unlock();
}
