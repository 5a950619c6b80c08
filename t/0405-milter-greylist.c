/*++
 * NAME
 *	0405-milter-greylist 1
 * SUMMARY
 *	unit tests of greylisting: normalisation, a triplet's state, the
 *	lists, the SQLite store, the stage
 * DESCRIPTION
 *	Pure parts as tables (milter-greylist-util.c): the sender (case,
 *	SRS0/SRS1, BATV, +detail), the client network (IPv4, IPv6,
 *	mapped), the state machine with now passed in (new, early, passed,
 *	known, window missed, expired), recipients and names allowed, the
 *	allow file (a bad line names file and line).  The store on a file:
 *	the same sequence, auto-allow after N passes, expiry.  The stage
 *	on a message (a real configuration snapshot): 450 4.7.1 with the
 *	wait, the retry passing once the record has aged (the record aged
 *	in the file, not the clock), several recipients deciding together,
 *	postmaster@, authenticated and internal clients skipped, the SPF
 *	domain keying the triplet so another pool address passes, and a
 *	store that cannot be opened (accept by default, tempfail when
 *	configured).  The client allow file is read by the milter's
 *	generation, not by the configuration load every daemon does: a
 *	bad or missing one lets the configuration load and refuses the
 *	generation, naming the file (and line).
 *--*/
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "db.h"
#include "milter.h"
#include "milter-greylist.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/elemta-t0405.XXXXXX";

struct sender_case {
	const char *in, *want;
};

static const struct sender_case sender_cases[] = {
	{ "User@Example.ORG", "user@example.org" },
	{ "", "<>" },
	{ "<>", "<>" },
	{ "bob+list-42@example.org", "bob@example.org" },
	{ "+start@example.org", "+start@example.org" },	/* no base: kept */
	{ "SRS0=HHH=TT=Example.org=Bob@fwd.test", "bob@example.org" },
	{ "srs0=x=yy=example.org=a=b@fwd.test", "a=b@example.org" },
	{ "SRS1=HHH=fwd1.test==HHH=TT=example.org=bob@fwd2.test",
	  "bob@example.org" },
	{ "SRS0=broken@fwd.test", "srs0=broken@fwd.test" },
	{ "prvs=1234567890=bob@example.org", "bob@example.org" },
	{ "msprvs1=18123abcd=bob@example.org", "bob@example.org" },
	{ "prvs=0123456789=bob+tag@example.org", "bob@example.org" },
	{ "local-only", "local-only" },
};

struct net_case {
	const char *addr;
	unsigned v4, v6;
	const char *want;		/* NULL: an error */
};

static const struct net_case net_cases[] = {
	{ "192.0.2.77", 24, 64, "192.0.2.0/24" },
	{ "192.0.2.77", 32, 64, "192.0.2.77/32" },
	{ "::ffff:198.51.100.9", 24, 64, "198.51.100.0/24" },
	{ "2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::/64" },
	{ "2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::/48" },
	{ "mail.example.org", 24, 64, NULL },
	{ "", 24, 64, NULL },
};

/* test_sender - normalisation table */
static void
test_sender(void)
{
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(sender_cases) / sizeof(sender_cases[0]); i++) {
		const struct sender_case *c = &sender_cases[i];

		if (greylist_sender(c->in, out, sizeof(out)) < 0)
			snprintf(out, sizeof(out), "(error)");
		is_str(out, c->want, "sender '%s'", c->in);
	}
	ok(greylist_sender("averyveryverylong@example.org", out, 8) < 0,
	   "sender: too long for the buffer is an error");
}

/* test_rcpt_key - a recipient as the triplet holds it */
static void
test_rcpt_key(void)
{
	char in[700], a[GREYLIST_ADDR_MAX], b[GREYLIST_ADDR_MAX];
	int rc;

	ok(greylist_addr_key("Bob@Example.TEST", a, sizeof(a)) == 0,
	   "rcpt key: one that fits is kept");
	is_str(a, "bob@example.test", "rcpt key: lower case");
	memset(in, 'X', 650);
	snprintf(in + 650, sizeof(in) - 650, "@example.test");
	rc = greylist_addr_key(in, a, sizeof(a));
	ok(rc == 1 && strlen(a) == sizeof(a) - 1,
	   "rcpt key: one too long is hashed, the buffer's length");
	ok(strncmp(a, "xxxx", 4) == 0
	   && strstr(a, "~SHA256:") == a + sizeof(a) - 1 - 72,
	   "rcpt key: its first bytes, then ~SHA256: and 64 hex digits");
	in[640] = 'Y';
	greylist_addr_key(in, b, sizeof(b));
	ok(strcmp(a, b) != 0, "rcpt key: another tail, another key");
	in[640] = 'x';
	greylist_addr_key(in, b, sizeof(b));
	is_str(b, a, "rcpt key: the hash is of the lower-cased recipient");
	ok(greylist_addr_key(in, a, GREYLIST_ADDR_KEY_MIN - 1) < 0,
	   "rcpt key: no room for the hash is an error");
	ok(greylist_addr_key(in, a, GREYLIST_ADDR_KEY_MIN) == 1
	   && strlen(a) == GREYLIST_ADDR_KEY_MIN - 1
	   && strncmp(a, "xxxxxxx~SHA256:", 15) == 0,
	   "rcpt key: the least room keeps 7 bytes before the hash");
}

/* test_net - client networks */
static void
test_net(void)
{
	char out[64];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
		const struct net_case *c = &net_cases[i];

		rc = greylist_client_net(c->addr, c->v4, c->v6, out,
					 sizeof(out));
		if (c->want == NULL)
			is_int(rc, -1, "net '%s': no address", c->addr);
		else
			is_str(rc == 0 ? out : "(error)", c->want,
			       "net '%s' /%u /%u", c->addr, c->v4, c->v6);
	}
}

/* One step of a triplet's life: at time t, the state, the wait. */
struct step_case {
	int64_t t;
	enum greylist_state want;
	long wait;			/* deferred: seconds to wait */
};

static const struct greylist_params params = {
	.delay = 300, .window = 2 * 86400, .max_age = 35 * 86400,
	.auto_allow = 2,
};

static const struct step_case step_cases[] = {
	{ 1000, GREYLIST_NEW, 300 },
	{ 1010, GREYLIST_EARLY, 290 },
	{ 1299, GREYLIST_EARLY, 1 },
	{ 1300, GREYLIST_PASSED, 0 },
	{ 1400, GREYLIST_KNOWN, 0 },
	{ 1400 + 35 * 86400, GREYLIST_KNOWN, 0 },	/* max_age, not over */
	{ 1401 + 70 * 86400, GREYLIST_NEW, 300 },	/* unused too long */
};

/* test_step - the state machine, now passed in */
static void
test_step(void)
{
	struct greylist_rec r;
	enum greylist_state st;
	size_t i;
	int found = 0;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
		const struct step_case *c = &step_cases[i];

		st = greylist_step(&r, found, c->t, &params);
		found = 1;
		is_str(greylist_state_name(st), greylist_state_name(c->want),
		       "step at %lld", (long long)c->t);
		if (c->wait > 0)
			is_int(greylist_wait(&r, c->t, &params), c->wait,
			       "wait at %lld", (long long)c->t);
	}
	/* a retry after the window: starts again */
	memset(&r, 0, sizeof(r));
	(void)greylist_step(&r, 0, 5000, &params);
	st = greylist_step(&r, 1, 5000 + params.window + 1, &params);
	is_str(greylist_state_name(st), "new", "retry after the window");
	is_int(r.first, 5000 + params.window + 1, "the window restarts");
}

/* test_lists - recipients, names, the allow file */
static void
test_lists(void)
{
	static char *rcpts[] = { "ops@", "vip@example.test", "@ops.test",
				 "lists.test", NULL };
	static char *names[] = { "google.com", ".outlook.com", NULL };
	struct greylist_allow a;
	char path[256], err[512];
	FILE *fp;

	ok(greylist_rcpt_allowed(NULL, "Postmaster@example.test"),
	   "postmaster@ always allowed");
	ok(greylist_rcpt_allowed(NULL, "abuse@example.test"),
	   "abuse@ always allowed");
	ok(greylist_rcpt_allowed(NULL, "postmaster"), "bare postmaster");
	ok(!greylist_rcpt_allowed(NULL, "bob@example.test"),
	   "bob@ greylisted");
	ok(greylist_rcpt_allowed(rcpts, "ops@any.test"), "user@ any domain");
	ok(greylist_rcpt_allowed(rcpts, "VIP@example.test"), "user@domain");
	ok(!greylist_rcpt_allowed(rcpts, "vip@other.test"),
	   "user@domain, other domain");
	ok(greylist_rcpt_allowed(rcpts, "x@ops.test"), "@domain");
	ok(greylist_rcpt_allowed(rcpts, "y@lists.test"), "domain");
	ok(!greylist_rcpt_allowed(rcpts, "y@sub.lists.test"),
	   "domain: not its subdomains");
	ok(greylist_name_listed(names, "mail-a.google.com"), "subdomain");
	ok(greylist_name_listed(names, "GOOGLE.com"), "the name itself");
	ok(!greylist_name_listed(names, "notgoogle.com"), "suffix only");
	ok(greylist_name_listed(names, "x.protection.outlook.com"),
	   "leading dot");

	snprintf(path, sizeof(path), "%s/clients", tmpdir);
	if ((fp = fopen(path, "w")) == NULL)
		bail_out("%s: %m", path);
	fputs("# big senders\n192.0.2.0/24  \n\n2001:db8::/32\n"
	      "google.com # Gmail\n", fp);
	fclose(fp);
	ok(greylist_allow_load(path, &a, err, sizeof(err)) == 0,
	   "allow file loads");
	is_int((long long)(a.nnets * 10 + a.nnames), 21, "2 nets, 1 name");
	ok(greylist_allow_client(&a, "192.0.2.9", "[192.0.2.9]"),
	   "address in a net");
	ok(greylist_allow_client(&a, "203.0.113.5", "mail-x.google.com"),
	   "by name");
	ok(!greylist_allow_client(&a, "203.0.113.5", "[google.com]"),
	   "a bracketed address is no name");
	ok(!greylist_allow_client(&a, "203.0.113.5", NULL), "not listed");
	greylist_allow_free(&a);
	if ((fp = fopen(path, "a")) == NULL)
		bail_out("%s: %m", path);
	fputs("bad entry!\n", fp);
	fclose(fp);
	ok(greylist_allow_load(path, &a, err, sizeof(err)) < 0,
	   "a bad line fails");
	like_str(err, "clients:6: 'bad entry!': neither", "it names file:line");
}

/* test_store - the SQLite store, now passed in */
static void
test_store(void)
{
	char path[256], err[512];
	enum greylist_state st;
	struct greylist_rec rec;
	struct db *db;
	const char *k = "192.0.2.0/24\tbob@example.org\talice@example.test";

	snprintf(path, sizeof(path), "%s/store.db", tmpdir);
	if ((db = greylist_db_open(path, err, sizeof(err))) == NULL)
		bail_out("greylist_db_open: %s", err);
	ok(greylist_db_check(db, k, 1000, &params, &st, &rec) == 0
	   && st == GREYLIST_NEW, "store: new");
	ok(greylist_db_check(db, k, 1100, &params, &st, &rec) == 0
	   && st == GREYLIST_EARLY, "store: early");
	is_int(greylist_wait(&rec, 1100, &params), 200, "store: wait 200 s");
	ok(greylist_db_check(db, k, 1300, &params, &st, &rec) == 0
	   && st == GREYLIST_PASSED, "store: passed");
	ok(greylist_db_check(db, k, 1301, &params, &st, &rec) == 0
	   && st == GREYLIST_KNOWN, "store: known");
	is_int(rec.first, 1000, "store: the first attempt kept");

	/* auto-allow: 2 passed retries */
	is_int(greylist_db_client_allowed(db, "192.0.2.0/24", 1300, &params),
	       0, "auto-allow: not yet");
	ok(greylist_db_client_pass(db, "192.0.2.0/24", 1300) == 0, "pass 1");
	is_int(greylist_db_client_allowed(db, "192.0.2.0/24", 1300, &params),
	       0, "auto-allow: 1 of 2");
	ok(greylist_db_client_pass(db, "192.0.2.0/24", 1400) == 0, "pass 2");
	is_int(greylist_db_client_allowed(db, "192.0.2.0/24", 1400, &params),
	       1, "auto-allow: 2 of 2");
	is_int(greylist_db_client_allowed(db, "192.0.2.0/24",
					  1401 + params.max_age, &params),
	       0, "auto-allow: expired with max_age");

	/* expiry: an unpassed triplet past the window, the rest by age */
	ok(greylist_db_check(db, "x\ty\tz", 2000, &params, &st, &rec) == 0,
	   "a second triplet");
	is_int(greylist_db_expire(db, 2001 + params.window, &params), 1,
	       "expire: the unpassed one past its window");
	is_int(greylist_db_expire(db, 1402 + params.max_age, &params), 2,
	       "expire: the passed one and the client by max_age");
	ok(greylist_db_check(db, k, 1403 + params.max_age, &params, &st,
			     &rec) == 0 && st == GREYLIST_NEW,
	   "expired triplet: new again");
	db_close(&db);
}

/* gl_conf - greylisting on, 60 s delay, the store at path; fail: the
 * greylist_fail_action or NULL */
static struct conf *
gl_conf(const char *path, const char *fail)
{
	char *ov[4], *errors = NULL;
	struct conf *c;
	size_t n = 3;

	ov[0] = x_strdup("milter.greylist=true");
	ov[1] = x_asprintf("milter.greylist_path=%s", path);
	ov[2] = x_strdup("milter.greylist_delay=60");
	if (fail != NULL)
		ov[n++] = x_asprintf("milter.greylist_fail_action=%s", fail);
	c = conf_load(elemta_sections, NULL, (const char **)ov, n, &errors);
	while (n > 0)
		free(ov[--n]);
	if (c == NULL)
		bail_out("gl_conf: %s", errors ? errors : "?");
	return c;
}

/* run_sig - one message through the stage, on a generation of conf
 * with its client allow file (no resolver), with a passing DKIM
 * signature of dkim_domain (NULL: none); its verdict's text or "accept" */
static char *
run_sig(struct conf *conf, const char *ip, const char *sender,
	const char *const *rcpts, const char *auth, const char *spf_domain,
	const char *dkim_domain)
{
	struct milter_gen *g = milter_gen_new(conf_ref(conf), NULL, NULL);
	struct milter_conn *c;
	struct milter_msg *m;
	char *out, err[512];

	if (milter_gen_greylist(g, err, sizeof(err)) < 0)
		bail_out("run_sig: %s", err);
	c = milter_conn_open(g);

	milter_conn_set_client(c, ip, NULL);
	m = milter_msg_new(c, sender);
	milter_msg_set_auth(m, auth, auth ? "user" : NULL);
	for (; *rcpts != NULL; rcpts++)
		milter_msg_rcpt(m, *rcpts);
	if (spf_domain != NULL) {
		m->spf_results.done = 1;
		m->spf_results.result = MILTER_SPF_PASS;
		m->spf_results.scope = MILTER_SPF_MAILFROM;
		snprintf(m->spf_results.domain, sizeof(m->spf_results.domain),
			 "%s", spf_domain);
	}
	if (dkim_domain != NULL) {
		m->dkim_results.done = 1;
		m->dkim_results.nsigs = 1;
		m->dkim_results.sigs[0].pass = 1;
		m->dkim_results.sigs[0].domain = x_strdup(dkim_domain);
	}
	milter_greylist_eom(m);
	out = m->action == MILTER_ACCEPT ? x_strdup("accept")
	      : x_asprintf("%s %s %s %s", milter_action_name(m->action),
			   m->reply_code, m->reply_xcode, m->reply_text);
	milter_msg_free(&m);
	milter_conn_free(&c);
	return out;
}

/* run - run_sig without a DKIM signature */
static char *
run(struct conf *conf, const char *ip, const char *sender,
    const char *const *rcpts, const char *auth, const char *spf_domain)
{
	return run_sig(conf, ip, sender, rcpts, auth, spf_domain, NULL);
}

/* run_dkim - one message to carol@ with a passing DKIM signature */
static char *
run_dkim(struct conf *conf, const char *ip, const char *sender,
	 const char *d)
{
	static const char *carol[] = { "carol@example.test", NULL };

	return run_sig(conf, ip, sender, carol, NULL, NULL, d);
}

/* age - every record of the store file first seen secs earlier */
static void
age(const char *path, int secs)
{
	char sql[128], err[256];
	struct db *db;

	if ((db = db_open(path, 1000, err, sizeof(err))) == NULL)
		bail_out("%s: %s", path, err);
	snprintf(sql, sizeof(sql), "UPDATE greylist SET first = first - %d",
		 secs);
	if (db_exec(db, sql, err, sizeof(err)) < 0)
		bail_out("%s: %s", path, err);
	db_close(&db);
}

/* matches - got (taken over) matches the extended regex want */
static void
matches(char *got, const char *want, const char *name)
{
	regex_t re;

	if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0)
		bail_out("bad regex %s", want);
	if (!ok(regexec(&re, got, 0, NULL, 0) == 0, "%s", name))
		diag("got '%s', want /%s/", got, want);
	regfree(&re);
	free(got);
}
#define IS(got, want, name) matches(got, want, name)

/* test_stage - the stage on messages */
static void
test_stage(void)
{
	static const char *bob[] = { "bob@example.test", NULL };
	static const char *two[] = { "bob@example.test", "carol@example.test",
				     NULL };
	static const char *pm[] = { "postmaster@example.test", NULL };
	static const char *carol[] = { "carol@example.test", NULL };
	static char long_a[700], long_b[700];
	static const char *la[] = { long_a, NULL }, *lb[] = { long_b, NULL };
	char path[256];
	struct conf *conf;

	snprintf(path, sizeof(path), "%s/stage.db", tmpdir);
	conf = gl_conf(path, NULL);

	IS(run(conf, "198.51.100.7", "a@sender.test", bob, NULL, NULL),
	   "^tempfail 450 4\\.7\\.1 Greylisted, please try again in 60 "
	   "seconds$", "first attempt: 450 4.7.1 with the wait");
	IS(run(conf, "198.51.100.99", "a+x@Sender.test", bob, NULL, NULL),
	   "^tempfail 450 4\\.7\\.1 Greylisted, please try again in [56][0-9] "
	   "seconds$", "retry too early (same /24, +detail): still 450");
	IS(run(conf, "198.51.100.7", "a@sender.test", pm, NULL, NULL),
	   "^accept$", "postmaster@ is never greylisted");
	IS(run(conf, "198.51.100.7", "a@sender.test", bob, "PLAIN", NULL),
	   "^accept$", "an authenticated client is not greylisted");
	IS(run(conf, "127.0.0.1", "a@sender.test", bob, NULL, NULL),
	   "^accept$", "internal_networks are not greylisted");
	age(path, 61);
	IS(run(conf, "198.51.100.8", "a@sender.test", bob, NULL, NULL),
	   "^accept$", "after the delay: accepted");
	IS(run(conf, "198.51.100.7", "a@sender.test", two, NULL, NULL),
	   "^tempfail 450 4\\.7\\.1", "two recipients, one new: one 450");
	age(path, 61);
	IS(run(conf, "198.51.100.7", "a@sender.test", two, NULL, NULL),
	   "^accept$", "two recipients, both passed: accept");

	/* two recipients longer than the key, alike in their first 600
	 * bytes: each its own triplet, the first one's pass is not the
	 * second's */
	memset(long_a, 'l', 600);
	snprintf(long_a + 600, sizeof(long_a) - 600, "-A@example.test");
	snprintf(long_b, sizeof(long_b), "%s", long_a);
	long_b[601] = 'B';
	IS(run(conf, "198.51.100.50", "a@sender.test", la, NULL, NULL),
	   "^tempfail 450", "long recipient A: first attempt deferred");
	age(path, 61);
	IS(run(conf, "198.51.100.50", "a@sender.test", la, NULL, NULL),
	   "^accept$", "long recipient A: the retry passes");
	IS(run(conf, "198.51.100.50", "a@sender.test", lb, NULL, NULL),
	   "^tempfail 450", "long recipient B, same first 600 bytes: a "
	   "triplet of its own, deferred");

	/* SPF pass keys by the domain: another pool address passes */
	IS(run(conf, "203.0.113.1", "b@pool.test", carol, NULL, "pool.test"),
	   "^tempfail 450", "SPF-keyed: first attempt deferred");
	age(path, 61);
	IS(run(conf, "192.0.2.200", "b@pool.test", carol, NULL, "pool.test"),
	   "^accept$", "SPF-keyed: the retry from another pool address passes");
	IS(run(conf, "192.0.2.201", "b@pool.test", carol, NULL, NULL),
	   "^tempfail 450", "without SPF pass: keyed by the network again");

	/* an aligned DKIM pass keys by the sender's domain too */
	IS(run_dkim(conf, "203.0.113.9", "news@mail.big.test", "big.test"),
	   "^tempfail 450", "DKIM-keyed: first attempt deferred");
	age(path, 61);
	IS(run_dkim(conf, "192.0.2.99", "news@mail.big.test", "big.test"),
	   "^accept$", "DKIM-keyed: the retry from another address passes");
	IS(run_dkim(conf, "192.0.2.98", "news@mail.big.test", "other.test"),
	   "^tempfail 450", "a DKIM pass of another domain does not key it");
	conf_unref(&conf);

	/* a store that cannot be opened */
	snprintf(path, sizeof(path), "%s/missing/dir/g.db", tmpdir);
	conf = gl_conf(path, NULL);
	IS(run(conf, "198.51.100.7", "a@sender.test", bob, NULL, NULL),
	   "^accept$", "store failure: accepted by default");
	conf_unref(&conf);
	conf = gl_conf(path, "tempfail");
	milter_greylist_finish();	/* no retry pause in between */
	IS(run(conf, "198.51.100.7", "a@sender.test", bob, NULL, NULL),
	   "^tempfail 450 4\\.7\\.1 Greylisting is temporarily unavailable",
	   "store failure with greylist_fail_action=tempfail: 450");
	conf_unref(&conf);
	milter_greylist_finish();
}

/* test_allow - the allow-lists of the configuration, on messages */
static void
test_allow(void)
{
	static const char *bob[] = { "bob@example.test", NULL };
	char path[256], file[256], err[512], *ov[5], *errors = NULL;
	struct milter_gen *gen;
	struct conf *conf;
	FILE *fp;
	size_t i;

	snprintf(path, sizeof(path), "%s/allow.db", tmpdir);
	snprintf(file, sizeof(file), "%s/allow-clients", tmpdir);
	if ((fp = fopen(file, "w")) == NULL)
		bail_out("%s: %m", file);
	fputs("203.0.113.0/24\nmx.big.test\n", fp);
	fclose(fp);
	ov[0] = x_strdup("milter.greylist=true");
	ov[1] = x_asprintf("milter.greylist_path=%s", path);
	ov[2] = x_asprintf("milter.greylist_client_allow_file=%s", file);
	ov[3] = x_strdup("milter.greylist_sender_allow={\"trusted.test\"}");
	ov[4] = x_strdup("milter.greylist_recipient_allow={\"vip@\"}");
	conf = conf_load(elemta_sections, NULL, (const char **)ov, 5, &errors);
	if (conf == NULL)
		bail_out("test_allow: %s", errors ? errors : "?");
	IS(run(conf, "203.0.113.5", "a@x.test", bob, NULL, NULL), "^accept$",
	   "a client in the allow file's net is not greylisted");
	IS(run(conf, "198.51.100.5", "a@mail.trusted.test", bob, NULL, NULL),
	   "^accept$", "a sender domain allowed (a subdomain of it)");
	IS(run(conf, "198.51.100.5", "a@x.test", (const char *[]){
		"vip@example.test", NULL }, NULL, NULL),
	   "^accept$", "a recipient allowed (user@ of any domain)");
	IS(run(conf, "198.51.100.5", "a@x.test", bob, NULL, NULL),
	   "^tempfail 450", "anyone else from the same client is greylisted");
	conf_unref(&conf);
	milter_greylist_finish();

	/* a bad allow file is an error of the milter's generation, naming
	 * file:line; the configuration itself loads, for policyd and the
	 * bridge load the [milter] section too and never read the file */
	if ((fp = fopen(file, "a")) == NULL)
		bail_out("%s: %m", file);
	fputs("not/a name\n", fp);
	fclose(fp);
	conf = conf_load(elemta_sections, NULL, (const char **)ov, 5, &errors);
	ok(conf != NULL, "a bad client allow file: the configuration loads"
	   " (every daemon loads it)");
	gen = conf != NULL ? milter_gen_build(conf_ref(conf), NULL, err,
					      sizeof(err)) : NULL;
	ok(gen == NULL, "a bad line in the client allow file: the milter's"
	   " generation is refused");
	like_str(err, "allow-clients:3:", "the error names the file and line");
	ok(strncmp(err, "greylist_client_allow_file: ", 28) == 0,
	   "and the option (%s)", err);
	milter_gen_unref(&gen);
	conf_unref(&conf);
	free(errors);
	errors = NULL;
	/* a missing one: the same */
	free(ov[2]);
	ov[2] = x_asprintf("milter.greylist_client_allow_file=%s/none",
			   tmpdir);
	conf = conf_load(elemta_sections, NULL, (const char **)ov, 5, &errors);
	ok(conf != NULL, "a missing client allow file: the configuration"
	   " loads");
	gen = conf != NULL ? milter_gen_build(conf_ref(conf), NULL, err,
					      sizeof(err)) : NULL;
	ok(gen == NULL, "... and the milter's generation is refused");
	like_str(err, "/none: No such file", "naming the file");
	milter_gen_unref(&gen);
	conf_unref(&conf);
	free(errors);
	for (i = 0; i < 5; i++)
		free(ov[i]);
}

/* test_conf - bad settings are configuration errors */
static void
test_conf(void)
{
	static const char *ov[] = { "milter.greylist_delay=3d" };
	char *errors = NULL;
	struct conf *c = conf_load(elemta_sections, NULL, ov, 1, &errors);

	ok(c == NULL, "greylist_delay longer than the retry window: error");
	like_str(errors ? errors : "", "greylist_delay",
		 "the error names the option");
	free(errors);
	conf_unref(&c);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %m");
	plan_lazy();
	test_sender();
	test_rcpt_key();
	test_net();
	test_step();
	test_lists();
	test_store();
	test_stage();
	test_allow();
	test_conf();
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
