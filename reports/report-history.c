/*++
 * NAME
 *	report-history 3
 * SUMMARY
 *	the milter's DMARC history, aggregated; what was sent
 * DESCRIPTION
 *	The milter writes one row per evaluated message into
 *	dmarc_history (milter/milter-dmarc-history.c, schema version 1: ts,
 *	source_ip, header_from, envelope_from, policy_domain, the
 *	published p sp pct adkim aspf, result, disposition, reason, SPF's
 *	domain, result, scope and alignment, the DKIM signatures as
 *	"d=D;s=S;r=R ...", DKIM alignment; since version 2 the override
 *	and its comment).  Aggregation is SQLite's GROUP BY over the
 *	report's tuple: every domain's records of a day in one pass over
 *	the day's rows (the milter's ts index), ordered by domain.  The
 *	index of (policy_domain, ts) made here serves the queries of one
 *	domain: its published policy, --domain, retries.
 *
 *	Our own table, dmarc_report_sent, is created with IF NOT EXISTS
 *	and never through PRAGMA user_version, which belongs to the
 *	milter's migrations: a database we touched stays one the milter
 *	opens, and the milter's later migrations stay its own.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report.h"
#include "xalloc.h"

static const char report_schema[] =
	"CREATE TABLE IF NOT EXISTS dmarc_report_sent ("
	" policy_domain TEXT NOT NULL,"
	" day_begin INTEGER NOT NULL,"		/* the report's day */
	" dest TEXT NOT NULL,"			/* the rua mailbox */
	" status TEXT NOT NULL,"		/* sent deferred failed ... */
	" tries INTEGER NOT NULL DEFAULT 1,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (policy_domain, day_begin, dest));"
	"CREATE INDEX IF NOT EXISTS dmarc_history_report"
	" ON dmarc_history(policy_domain, ts);";

/* report_history_open - the history (it must exist); read-write also
 * makes our table and index */
struct db *
report_history_open(const char *path, int readonly, char *err,
		    size_t errlen)
{
	struct db *db;

	db = readonly ? db_open_readonly(path, 5000, err, errlen)
		      : db_open(path, 5000, err, errlen);
	if (db == NULL)
		return NULL;
	if (db_stmt(db, "SELECT ts FROM dmarc_history LIMIT 0") == NULL) {
		x_err(err, errlen, "%s: no dmarc_history table: %s", path,
		      db_errmsg(db));
		db_close(&db);
		return NULL;
	}
	if (!readonly && db_exec(db, report_schema, err, errlen) < 0) {
		db_close(&db);
		return NULL;
	}
	return db;
}

/* report_list_free - a NULL-terminated list */
void
report_list_free(char ***lp)
{
	size_t i;

	for (i = 0; *lp != NULL && (*lp)[i] != NULL; i++)
		free((*lp)[i]);
	x_free(lp);
}

/* report_stmt - sql prepared, ?1 = domain and ?2 = t bound; NULL with
 * err */
static sqlite3_stmt *
report_stmt(struct db *db, const char *sql, const char *domain, time_t t,
	    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql)) == NULL) {
		x_err(err, errlen, "history: %s", db_errmsg(db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, t);
	return st;
}

/* report_pword - a stored p=/sp= letter as the report's word */
static const char *
report_pword(const unsigned char *c)
{
	if (c == NULL)
		return NULL;
	switch (c[0]) {
	case 'r':
		return "reject";
	case 'q':
		return "quarantine";
	case 'n':
		return "none";
	default:
		return NULL;
	}
}

/* report_history_policy - the record in force last in the period: p,
 * and the defaults of the DMARC record for what it leaves out (sp: p;
 * adkim, aspf: r) */
int
report_history_policy(struct db *db, const char *domain, time_t begin,
		      time_t end, struct report_policy *pol, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *a;
	int rc;

	memset(pol, 0, sizeof(*pol));
	snprintf(pol->domain, sizeof(pol->domain), "%s", domain);
	st = report_stmt(db, "SELECT p, sp, adkim, aspf, pct FROM"
			 " dmarc_history WHERE policy_domain = ?1 AND ts"
			 " BETWEEN ?2 AND ?3 AND p IS NOT NULL"
			 " ORDER BY ts DESC, id DESC LIMIT 1", domain, begin,
			 err, errlen);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 3, end);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((pol->p = report_pword(sqlite3_column_text(st, 0))) == NULL)
			pol->p = "none";
		if ((pol->sp = report_pword(sqlite3_column_text(st, 1)))
		    == NULL)
			pol->sp = pol->p;
		a = sqlite3_column_text(st, 2);
		pol->adkim = a != NULL && a[0] == 's' ? "s" : "r";
		a = sqlite3_column_text(st, 3);
		pol->aspf = a != NULL && a[0] == 's' ? "s" : "r";
		pol->pct = sqlite3_column_type(st, 4) == SQLITE_NULL
			   ? -1 : sqlite3_column_int(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	x_err(err, errlen, "history: %s", db_errmsg(db));
	return -1;
}

/* The report's tuple.  OVR: the override columns (schema version 2,
 * the ARC trusted-sealer override: type and comment), or two empty
 * strings on a history the milter has not migrated yet. */
#define REPORT_GROUP(OVR) "policy_domain, source_ip, disposition," \
	" dkim_aligned," \
	" spf_aligned, COALESCE(reason, ''), applied, header_from," \
	" COALESCE(envelope_from, ''), COALESCE(spf_domain, '')," \
	" COALESCE(spf_result, ''), COALESCE(spf_scope, '')," \
	" COALESCE(dkim, ''), " OVR
#define REPORT_OVR "COALESCE(override, ''), COALESCE(override_comment, '')"
#define REPORT_NO_OVR "'', ''"
#define REPORT_RECORDS(OVR, WHERE) "SELECT " REPORT_GROUP(OVR) \
	", MAX(pct), COUNT(*) FROM (SELECT *, CASE WHEN header_from =" \
	" policy_domain THEN p ELSE COALESCE(sp, p) END AS applied" \
	" FROM dmarc_history WHERE " WHERE \
	" AND ts BETWEEN ?2 AND ?3 AND p IS NOT NULL)" \
	" GROUP BY " REPORT_GROUP(OVR) \
	" ORDER BY policy_domain, COUNT(*) DESC, source_ip"
#define REPORT_ONE "policy_domain = ?1"
#define REPORT_ALL "?1 IS NULL AND policy_domain IS NOT NULL"

/* report_text - a column as text, "" for NULL */
static const char *
report_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* report_text_opt - column i as text, NULL when NULL or empty */
static const char *
report_text_opt(sqlite3_stmt *st, int i)
{
	const char *s = report_text(st, i);

	return *s != '\0' ? s : NULL;
}

/* report_record_row - the current row of a REPORT_RECORDS statement;
 * the strings point into the statement until its next step */
static void
report_record_row(sqlite3_stmt *st, struct report_record *r)
{
	memset(r, 0, sizeof(*r));
	r->policy_domain = report_text(st, 0);
	r->source_ip = report_text(st, 1);
	r->disposition = report_text(st, 2);
	r->dkim_aligned = sqlite3_column_int(st, 3);
	r->spf_aligned = sqlite3_column_int(st, 4);
	r->reason = report_text(st, 5);
	r->applied = report_text(st, 6);
	r->header_from = report_text(st, 7);
	r->envelope_from = report_text(st, 8);
	r->spf_domain = report_text(st, 9);
	r->spf_result = report_text(st, 10);
	r->spf_scope = report_text(st, 11);
	r->dkim = report_text(st, 12);
	r->override_type = report_text_opt(st, 13);
	r->override_comment = report_text_opt(st, 14);
	r->pct = sqlite3_column_type(st, 15) == SQLITE_NULL
		 ? -1 : sqlite3_column_int(st, 15);
	r->count = sqlite3_column_int64(st, 16);
}

/* report_records_stmt - the REPORT_RECORDS statement of one domain
 * (NULL: all), with or without the override columns the history has */
static sqlite3_stmt *
report_records_stmt(struct db *db, const char *domain, time_t begin,
		    char *err, size_t errlen)
{
	int has_ovr;

	has_ovr = db_stmt(db, "SELECT override, override_comment FROM"
			  " dmarc_history LIMIT 0") != NULL;
	if (domain != NULL)
		return report_stmt(db, has_ovr
				   ? REPORT_RECORDS(REPORT_OVR, REPORT_ONE)
				   : REPORT_RECORDS(REPORT_NO_OVR, REPORT_ONE),
				   domain, begin, err, errlen);
	return report_stmt(db, has_ovr
			   ? REPORT_RECORDS(REPORT_OVR, REPORT_ALL)
			   : REPORT_RECORDS(REPORT_NO_OVR, REPORT_ALL),
			   NULL, begin, err, errlen);
}

/* report_history_records - the aggregated records of a domain (NULL:
 * every domain, in one pass, in the order of their names) */
long
report_history_records(struct db *db, const char *domain, time_t begin,
		       time_t end,
		       int (*fn)(const struct report_record *, void *),
		       void *ctx, char *err, size_t errlen)
{
	struct report_record r;
	sqlite3_stmt *st;
	long n = 0;
	int rc;

	if ((st = report_records_stmt(db, domain, begin, err, errlen))
	    == NULL)
		return -1;
	sqlite3_bind_int64(st, 3, end);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		report_record_row(st, &r);
		n++;
		if (fn(&r, ctx) < 0) {
			sqlite3_reset(st);
			x_err(err, errlen, "cannot write the report");
			return -1;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		x_err(err, errlen, "history: %s", db_errmsg(db));
		return -1;
	}
	return n;
}

/* report_sent_status - what happened to (domain, begin, dest) */
char *
report_sent_status(struct db *db, const char *domain, time_t begin,
		   const char *dest)
{
	sqlite3_stmt *st;
	char *s = NULL, err[8];

	st = report_stmt(db, "SELECT status FROM dmarc_report_sent WHERE"
			 " policy_domain = ?1 AND day_begin = ?2 AND"
			 " dest = ?3", domain, begin, err, sizeof(err));
	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 3, dest, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		s = x_strdup(report_text(st, 0));
	sqlite3_reset(st);
	return s;
}

/* report_sent_mark - record what happened (tries counted) */
int
report_sent_mark(struct db *db, const char *domain, time_t begin,
		 const char *dest, const char *status, char *err,
		 size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	st = report_stmt(db, "INSERT INTO dmarc_report_sent (policy_domain,"
			 " day_begin, dest, status, updated) VALUES (?1, ?2,"
			 " ?3, ?4, ?5) ON CONFLICT (policy_domain, day_begin,"
			 " dest) DO UPDATE SET status = ?4, updated = ?5,"
			 " tries = tries + 1", domain, begin, err, errlen);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 3, dest, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		x_err(err, errlen, "sent table: %s", db_errmsg(db));
		return -1;
	}
	return 0;
}

/* report_sent_deferred - what waits for a retry, days before before */
long
report_sent_deferred(struct db *db, time_t before, char ***domains,
		     time_t **begins, char ***dests, char *err,
		     size_t errlen)
{
	sqlite3_stmt *st;
	long n = 0;
	int rc;

	*domains = x_malloc(sizeof(char *));
	*dests = x_malloc(sizeof(char *));
	*begins = x_malloc(sizeof(time_t));
	(*domains)[0] = (*dests)[0] = NULL;
	st = db_stmt(db, "SELECT policy_domain, day_begin, dest FROM"
		     " dmarc_report_sent WHERE status = 'deferred' AND"
		     " day_begin < ?1 ORDER BY day_begin, policy_domain, dest");
	if (st == NULL) {
		x_err(err, errlen, "sent table: %s", db_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, before);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*domains = x_realloc(*domains, (n + 2) * sizeof(char *));
		*dests = x_realloc(*dests, (n + 2) * sizeof(char *));
		*begins = x_realloc(*begins, (n + 1) * sizeof(time_t));
		(*domains)[n] = x_strdup(report_text(st, 0));
		(*begins)[n] = (time_t)sqlite3_column_int64(st, 1);
		(*dests)[n] = x_strdup(report_text(st, 2));
		n++;
		(*domains)[n] = (*dests)[n] = NULL;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		x_err(err, errlen, "sent table: %s", db_errmsg(db));
		return -1;
	}
	return n;
}

/* report_delete - run a DELETE with ?1 = before; rows deleted or -1 */
static long
report_delete(struct db *db, const char *sql, time_t before)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db_handle(db)) : -1;
}

/* report_history_expire - rows older than before, a batch of 5,000 a
 * transaction: the milter, which writes a row per message with a short
 * busy timeout, never waits long for one large DELETE */
long
report_history_expire(struct db *db, time_t before, char *err,
		      size_t errlen)
{
	long n = 0, k;

	do {
		k = report_delete(db, "DELETE FROM dmarc_history WHERE id IN"
				  " (SELECT id FROM dmarc_history WHERE"
				  " ts < ?1 LIMIT 5000)", before);
		n += k > 0 ? k : 0;
	} while (k > 0);
	if (k < 0 || report_delete(db, "DELETE FROM dmarc_report_sent"
				   " WHERE day_begin < ?1", before) < 0) {
		x_err(err, errlen, "expiry: %s", db_errmsg(db));
		return -1;
	}
	return n;
}
