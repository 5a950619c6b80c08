/*++
 * NAME
 *	elemta-dmarc-report 8
 * SUMMARY
 *	DMARC aggregate reports from elemta-milter's history
 * SYNOPSIS
 *	elemta-dmarc-report [-c FILE] [--date YYYY-MM-DD] [--domain D]
 *		[--dry-run] [--output DIR]
 * DESCRIPTION
 *	One report per policy domain of a UTC day (yesterday by default),
 *	built from milter.dmarc_history (report-history.c, report-xml.c),
 *	sent to the domain's verified rua= mailboxes (report-rua.c,
 *	report-send.c).  What was sent, deferred or refused is kept in
 *	the same database (dmarc_report_sent): a second run of a day
 *	sends nothing twice, a temporary failure is retried by the next
 *	runs while the day is in the history.  Then history older than
 *	milter.dmarc_report_history_days is deleted.
 *
 *	--dry-run writes the .xml.gz files into --output (default: the
 *	current directory) and neither looks up destinations, sends,
 *	records nor deletes anything (the database is opened read-only).
 *
 *	Exit: 0 done (some destinations may have been refused or
 *	deferred: logged), 1 a report could not be built or a
 *	destination failed for good, 2 usage or configuration.
 *--*/
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "db.h"
#include "dns.h"
#include "log.h"
#include "milter-dmarc.h"
#include "milter-options.h"
#include "report.h"
#include "sections-all.h"
#include "xalloc.h"

struct run {
	struct db *db;
	struct dns_resolver *dns;
	struct dmarc_psl *psl;
	const struct milter_conf *mc;
	const char *outdir;	/* NULL: no files */
	int dry_run;
	int failures;
	char receiver[256];
	char org_name[256];
	char email[320];
};

/* usage - and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: elemta-dmarc-report [-c FILE] [--date "
		"YYYY-MM-DD] [--domain D] [--dry-run] [--output DIR]\n");
	exit(2);
}

/* report_parse_date - the UTC day of "YYYY-MM-DD" (NULL: yesterday) */
static int
report_parse_date(const char *s, time_t *begin)
{
	struct tm tm;
	char *end;
	time_t now = time(NULL);

	memset(&tm, 0, sizeof(tm));
	if (s == NULL) {
		*begin = (now / 86400 - 1) * 86400;
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*begin = timegm(&tm);
	return *begin == (time_t)-1 ? -1 : 0;
}

/* report_write_file - DIR/NAME, atomically */
static int
report_write_file(const char *dir, const char *name, const char *data,
		  size_t len)
{
	char *tmp = x_asprintf("%s/.%s.tmp", dir, name);
	char *path = x_asprintf("%s/%s", dir, name);
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(tmp, "w")) != NULL) {
		if (fwrite(data, 1, len, fp) == len && fclose(fp) == 0)
			rc = rename(tmp, path);
		else
			(void)fclose(fp);
	}
	if (rc < 0) {
		msg_error("cannot write %s: %m", path);
		(void)unlink(tmp);
	} else {
		msg_info("report file=%s", path);
	}
	free(tmp);
	free(path);
	return rc;
}

/* report_mark - record a destination's outcome (not in a dry run) */
static void
report_mark(struct run *run, const char *domain, time_t begin,
	    const char *dest, const char *status)
{
	char err[256];

	if (!run->dry_run
	    && report_sent_mark(run->db, domain, begin, dest, status, err,
				sizeof(err)) < 0) {
		msg_error("%s", err);
		run->failures++;
	}
}

/* report_dest_ready - whether a destination is to be sent to now: not
 * done by an earlier run, and verified when external (else marked) */
static int
report_dest_ready(struct run *run, const struct report_meta *meta,
		  const char *domain, const struct report_dest *d)
{
	char err[512], *prev;
	int v;

	prev = report_sent_status(run->db, domain, meta->begin, d->addr);
	if (prev != NULL && strcmp(prev, "deferred") != 0) {
		msg_info("domain=%s dest=%s status=%s already", domain,
			 d->addr, prev);
		free(prev);
		return 0;
	}
	free(prev);
	v = report_dest_verify(run->dns, run->psl, domain, d->domain, err,
			       sizeof(err));
	if (v < 0) {
		msg_warn("domain=%s dest=%s action=defer reason=\"%s\"",
			 domain, d->addr, err);
		report_mark(run, domain, meta->begin, d->addr, "deferred");
		return 0;
	}
	if (v == 0) {
		msg_warn("domain=%s dest=%s action=skip reason=\"external "
			 "destination not verified: no v=DMARC1 at "
			 "%s._report._dmarc.%s\"", domain, d->addr, domain,
			 d->domain);
		report_mark(run, domain, meta->begin, d->addr, "unverified");
		return 0;
	}
	return 1;
}

/* report_submit - hand a report mail to the sendmail command, log and
 * record the outcome */
static void
report_submit(struct run *run, const struct report_meta *meta,
	      const char *domain, const struct report_dest *d,
	      const char *msg, size_t len)
{
	char err[512];

	switch (report_mail_submit(run->mc->dmarc_report_sendmail,
				   run->email, d->addr, msg, len, err,
				   sizeof(err))) {
	case 0:
		msg_info("domain=%s dest=%s action=sent size=%zu "
			 "report_id=%s", domain, d->addr, len,
			 meta->report_id);
		report_mark(run, domain, meta->begin, d->addr, "sent");
		break;
	case 1:
		msg_warn("domain=%s dest=%s action=defer reason=\"%s\"",
			 domain, d->addr, err);
		report_mark(run, domain, meta->begin, d->addr, "deferred");
		break;
	default:
		msg_error("domain=%s dest=%s action=fail reason=\"%s\"",
			  domain, d->addr, err);
		report_mark(run, domain, meta->begin, d->addr, "failed");
		run->failures++;
		break;
	}
}

/* report_deliver - one destination of a report */
static void
report_deliver(struct run *run, const struct report_meta *meta,
	       const char *domain, const struct report_dest *d,
	       const char *fname, const char *gz, size_t gzlen)
{
	char *msg;
	size_t len;

	if (!report_dest_ready(run, meta, domain, d))
		return;
	msg = report_mail_build(meta, domain, d->addr, fname, gz, gzlen,
				&len);
	if (d->max_size > 0 && len > d->max_size) {
		msg_warn("domain=%s dest=%s action=skip reason=\"report of "
			 "%zu bytes over the !size limit of %llu\"", domain,
			 d->addr, len, d->max_size);
		report_mark(run, domain, meta->begin, d->addr, "too_big");
	} else {
		report_submit(run, meta, domain, d, msg, len);
	}
	free(msg);
}

/* A report made, to be written and sent. */
struct built {
	char *domain;
	struct report_meta meta;
	char *fname;
	char *gz;
	size_t gzlen;
};

/* The pass over a day's records, ordered by domain: one report open
 * at a time, each finished one gzipped and kept. */
struct scan {
	struct run *run;
	time_t begin;
	char *domain;		/* the open report's, or NULL */
	int skip;		/* that domain is not reported */
	FILE *fp;
	char *xml;
	size_t xmllen;
	long nrec;
	struct report_meta meta;
	struct built *built;
	size_t nbuilt;
};

/* report_scan_close - the open report done: gzipped and kept */
static void
report_scan_close(struct scan *s)
{
	struct built *b;
	char err[256], *xname;

	if (s->fp == NULL)
		return;
	if (report_xml_close(s->fp) < 0) {
		msg_error("domain=%s: cannot write the report", s->domain);
		s->run->failures++;
		goto out;
	}
	s->built = x_realloc(s->built, (s->nbuilt + 1) * sizeof(*s->built));
	b = &s->built[s->nbuilt];
	memset(b, 0, sizeof(*b));
	b->domain = x_strdup(s->domain);
	b->meta = s->meta;
	b->fname = x_asprintf("%s!%s!%lld!%lld.xml.gz", s->run->receiver,
			      s->domain, (long long)s->meta.begin,
			      (long long)s->meta.end);
	xname = x_strndup(b->fname, strlen(b->fname) - 3);
	if (report_gzip(xname, s->xml, s->xmllen, &b->gz, &b->gzlen, err,
			sizeof(err)) < 0) {
		msg_error("domain=%s: %s", s->domain, err);
		s->run->failures++;
		free(b->domain);
		free(b->fname);
	} else {
		msg_info("domain=%s report_id=%s records=%ld xml=%zu "
			 "gzip=%zu", s->domain, s->meta.report_id, s->nrec,
			 s->xmllen, b->gzlen);
		s->nbuilt++;
	}
	free(xname);
out:
	s->fp = NULL;
	x_free(&s->xml);
}

/* report_scan_open - a new domain: its published policy, the head */
static void
report_scan_open(struct scan *s, const char *domain)
{
	struct run *run = s->run;
	struct report_meta *meta = &s->meta;
	struct report_policy pol;
	char err[512];
	int r;

	x_free(&s->domain);
	s->domain = x_strdup(domain);
	s->skip = 1;
	s->nrec = 0;
	if (!dmarc_domain_valid(domain, strlen(domain))) {
		msg_warn("domain=\"%.64s\" action=skip reason=\"not a "
			 "domain name\"", domain);
		return;
	}
	memset(meta, 0, sizeof(*meta));
	meta->org_name = run->org_name;
	meta->email = run->email;
	meta->receiver = run->receiver;
	meta->generator = "elemta-dmarc-report " PACKAGE_VERSION;
	meta->begin = s->begin;
	meta->end = s->begin + 86399;
	snprintf(meta->report_id, sizeof(meta->report_id), "%lld.%s@%s",
		 (long long)s->begin, domain, run->receiver);
	if ((r = report_history_policy(run->db, domain, meta->begin,
				       meta->end, &pol, err,
				       sizeof(err))) <= 0) {
		if (r < 0) {
			msg_error("domain=%s: %s", domain, err);
			run->failures++;
		}
		return;
	}
	if ((s->fp = report_xml_open(meta, &pol, &s->xml, &s->xmllen, err,
				     sizeof(err))) == NULL) {
		msg_error("domain=%s: %s", domain, err);
		run->failures++;
		return;
	}
	s->skip = 0;
}

/* report_scan_record - one aggregated record, in its domain's report */
static int
report_scan_record(const struct report_record *r, void *ctx)
{
	struct scan *s = ctx;

	if (s->domain == NULL || strcmp(r->policy_domain, s->domain) != 0) {
		report_scan_close(s);
		report_scan_open(s, r->policy_domain);
	}
	if (s->skip)
		return 0;
	s->nrec++;
	return report_xml_record(r, s->fp);
}

/* report_send - a built report: its file, its destinations; only_dest:
 * a retry of that destination alone ("": of the whole report) */
static void
report_send(struct run *run, const struct built *b, const char *only_dest)
{
	struct report_dest *dests = NULL;
	const char *domain = b->domain;
	time_t begin = b->meta.begin;
	char err[512], *rec = NULL, *skipped = NULL;
	size_t n = 0, i;
	int r;

	if (run->outdir != NULL
	    && report_write_file(run->outdir, b->fname, b->gz, b->gzlen) < 0)
		run->failures++;
	if (run->dry_run)
		return;			/* files only: no DNS, no mail */
	r = report_dmarc_record(run->dns, domain, &rec, err, sizeof(err));
	if (r < 0) {
		msg_warn("domain=%s action=defer reason=\"%s\"", domain, err);
		report_mark(run, domain, begin, "", "deferred");
		return;
	}
	if (r == 0 || (n = report_rua_parse(rec, &dests, &skipped)) == 0) {
		msg_info("domain=%s action=none reason=\"%s\"", domain,
			 r == 0 ? "no DMARC record now" : "no usable rua=");
		if (only_dest != NULL)
			report_mark(run, domain, begin, only_dest, "no_rua");
	}
	if (skipped != NULL)
		msg_warn("domain=%s rua skipped: %s", domain, skipped);
	for (i = 0; i < n; i++)
		if (only_dest == NULL || *only_dest == '\0'
		    || strcasecmp(only_dest, dests[i].addr) == 0)
			report_deliver(run, &b->meta, domain, &dests[i],
				       b->fname, b->gz, b->gzlen);
	if (only_dest != NULL && *only_dest == '\0')
		report_mark(run, domain, begin, "", "retried");
	report_rua_free(&dests, n);
	free(skipped);
	free(rec);
}

/* report_day - the reports of a day: one domain's, or every domain's
 * in one pass over the history; only_dest as report_send's */
static void
report_day(struct run *run, const char *domain, time_t begin,
	   const char *only_dest)
{
	struct scan s;
	char err[512];
	size_t i;
	long n;

	memset(&s, 0, sizeof(s));
	s.run = run;
	s.begin = begin;
	n = report_history_records(run->db, domain, begin, begin + 86399,
				   report_scan_record, &s, err, sizeof(err));
	report_scan_close(&s);
	if (n < 0) {
		msg_error("%s", err);
		run->failures++;
	} else if (n == 0) {
		msg_info("day=%lld%s%s: no evaluated message",
			 (long long)begin, domain ? " domain=" : "",
			 domain ? domain : "");
	}
	for (i = 0; i < s.nbuilt; i++) {
		report_send(run, &s.built[i], only_dest);
		free(s.built[i].domain);
		free(s.built[i].fname);
		free(s.built[i].gz);
	}
	free(s.built);
	free(s.domain);
}

/* report_retries - what earlier runs deferred */
static void
report_retries(struct run *run, time_t before, const char *only)
{
	char err[256], **domains, **dests;
	time_t *begins;
	long n, i;

	n = report_sent_deferred(run->db, before, &domains, &begins, &dests,
				 err, sizeof(err));
	if (n < 0) {
		msg_error("%s", err);
		run->failures++;
	}
	for (i = 0; i < n; i++)
		if (only == NULL || strcasecmp(only, domains[i]) == 0) {
			msg_info("domain=%s day=%lld dest=%s retry", domains[i],
				 (long long)begins[i], dests[i]);
			report_day(run, domains[i], begins[i], dests[i]);
		}
	report_list_free(&domains);
	report_list_free(&dests);
	free(begins);
}

/* report_identity - receiver, org_name, email from the configuration */
static void
report_identity(struct run *run)
{
	const struct milter_conf *mc = run->mc;
	const char *at;

	if (mc->dmarc_report_email != NULL)
		snprintf(run->email, sizeof(run->email), "%s",
			 mc->dmarc_report_email);
	else
		snprintf(run->email, sizeof(run->email), "postmaster@%s",
			 mc->authserv_id);
	if (!report_addr_ok(run->email)) {
		msg_stderr("milter.dmarc_report_email: \"%s\" is not a plain "
			   "mailbox", run->email);
		exit(2);
	}
	at = strrchr(run->email, '@');
	snprintf(run->receiver, sizeof(run->receiver), "%s", at + 1);
	snprintf(run->org_name, sizeof(run->org_name), "%s",
		 mc->dmarc_report_org_name != NULL
		 ? mc->dmarc_report_org_name : run->receiver);
}

/* report_args - the command line into run (dry run, output) and the
 * rest; usage() on a bad one */
static void
report_args(int argc, char **argv, struct run *run, const char **conf_path,
	    const char **only, time_t *begin)
{
	static const struct option longopts[] = {
		{ "date", required_argument, NULL, 'D' },
		{ "domain", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *date = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*conf_path = optarg;
			break;
		case 'D':
			date = optarg;
			break;
		case 'd':
			*only = optarg;
			break;
		case 'n':
			run->dry_run = 1;
			break;
		case 'O':
			run->outdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || report_parse_date(date, begin) < 0)
		usage();
	if (run->dry_run && run->outdir == NULL)
		run->outdir = ".";
}

/* report_history_path - milter.dmarc_history, relative to
 * database.directory unless absolute (the caller frees it) */
static char *
report_history_path(const struct milter_conf *mc, const struct db_conf *dbc)
{
	return mc->dmarc_history[0] == '/' || dbc->directory == NULL
	       ? x_strdup(mc->dmarc_history)
	       : x_asprintf("%s/%s", dbc->directory, mc->dmarc_history);
}

/* report_open - the history, the public suffix list and (unless a dry
 * run) the resolver of a run; -1: go on, else the exit status */
static int
report_open(struct run *run, struct conf *conf, char **path)
{
	const struct db_conf *dbc = conf_get(conf, &db_conf_section);
	struct stat sb;
	char err[512];

	run->mc = conf_get(conf, &milter_conf_section);
	if (run->mc->dmarc_history == NULL || *run->mc->dmarc_history == '\0') {
		msg_stderr("milter.dmarc_history is not set: no history, "
			   "no reports");
		return 2;
	}
	report_identity(run);
	*path = report_history_path(run->mc, dbc);
	if (stat(*path, &sb) < 0 && errno == ENOENT) {
		msg_info("history %s does not exist yet: nothing to report",
			 *path);
		return 0;
	}
	if ((run->db = report_history_open(*path, run->dry_run, err,
					   sizeof(err))) == NULL) {
		msg_error("%s", err);
		return 1;
	}
	if ((run->psl = dmarc_psl_load(run->mc->dmarc_psl, err, sizeof(err)))
	    == NULL) {
		msg_stderr("milter.dmarc_psl: %s", err);
		return 2;
	}
	if (!run->dry_run
	    && (run->dns = dns_resolver_new(conf_get(conf, &dns_conf_section),
					    err, sizeof(err))) == NULL) {
		msg_stderr("dns: %s", err);
		return 2;
	}
	return -1;
}

/* report_expire - delete the history older than
 * milter.dmarc_report_history_days */
static void
report_expire(struct run *run)
{
	char err[512];
	long expired;

	expired = report_history_expire(run->db, time(NULL)
		- (time_t)run->mc->dmarc_report_history_days * 86400,
		err, sizeof(err));
	if (expired < 0) {
		msg_error("%s", err);
		run->failures++;
	} else if (expired > 0) {
		msg_info("history: %ld rows older than %d days deleted",
			 expired, run->mc->dmarc_report_history_days);
	}
}

int
main(int argc, char **argv)
{
	const char *conf_path = CLI_DEFAULT_CONF, *only = NULL;
	struct conf *conf;
	struct run run;
	char *errors = NULL, *path = NULL;
	time_t begin;
	int rc;

	memset(&run, 0, sizeof(run));
	log_set_program("elemta-dmarc-report");
	log_open("elemta-dmarc-report", LOG_DEST_STDERR, LOG_MAIL);
	report_args(argc, argv, &run, &conf_path, &only, &begin);
	if ((conf = conf_load(elemta_sections, conf_path, NULL, 0, &errors))
	    == NULL) {
		fputs(errors, stderr);
		free(errors);
		return 2;
	}
	if ((rc = report_open(&run, conf, &path)) >= 0)
		return rc;
	if (!run.dry_run)
		report_retries(&run, begin, only);
	report_day(&run, only, begin, NULL);
	if (!run.dry_run)
		report_expire(&run);
	dns_resolver_unref(&run.dns);
	dmarc_psl_free(&run.psl);
	db_close(&run.db);
	free(path);
	conf_unref(&conf);
	return run.failures > 0 ? 1 : 0;
}
