/*++
 * NAME
 *	0011-conf 1
 * SUMMARY
 *	unit tests for lib/conf: schema, file:line errors, -o overrides,
 *	snapshots
 * DESCRIPTION
 *	Table-driven: each case is a configuration text and overrides, and
 *	either the values expected or the error expected (a substring that
 *	includes the file:line or the -o argument).
 *--*/
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "log-conf.h"
#include "../sections-all.h"
#include "tap.h"
#include "../milter/milter-options.h"

/* A private section exercising every kind of option and check. */
struct test_conf {
	long timeout, size, count;
	char *mode, *addr, *word;
	int flag;
	char **list;
	size_t nlist;
};

static const char *const test_modes[] = { "accept", "tempfail", "reject",
					   NULL };

/* test_word - a FUNC check: lower-case letters only */
static int
test_word(const char *v, char *err, size_t errlen)
{
	for (; *v; v++)
		if (*v < 'a' || *v > 'z') {
			snprintf(err, errlen, "'%c' is not a lower-case letter",
				 *v);
			return -1;
		}
	return 0;
}

static cfg_opt_t test_opts[] = {
	CFG_INT_CB("timeout", 30, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("size", 1024, CFGF_NONE, conf_cb_size),
	CFG_INT("count", 10, CFGF_NONE),
	CFG_STR("mode", "accept", CFGF_NONE),
	CFG_STR("addr", "", CFGF_NONE),
	CFG_STR("word", "abc", CFGF_NONE),
	CFG_BOOL("flag", cfg_false, CFGF_NONE),
	CFG_STR_LIST("list", "{a,b}", CFGF_NONE),
	CFG_STR("path", "", CFGF_NONE),
	CFG_STR("dir", "/var/tmp", CFGF_NONE),
	CFG_END()
};

static const struct conf_check test_checks[] = {
	{ "count", CONF_CHECK_RANGE, 1, 100, NULL, NULL },
	{ "timeout", CONF_CHECK_RANGE, 1, 86400, NULL, NULL },
	{ "mode", CONF_CHECK_ENUM, 0, 0, test_modes, NULL },
	{ "addr", CONF_CHECK_LISTEN, 0, 0, NULL, NULL },
	{ "word", CONF_CHECK_FUNC, 0, 0, NULL, test_word },
	{ "list", CONF_CHECK_FUNC, 0, 0, NULL, test_word },
	{ "path", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "dir", CONF_CHECK_PATH, 1, 0, NULL, NULL },
	CONF_CHECK_END
};

/* test_load - copy the test section */
static int
test_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct test_conf *t = out;
	size_t i;

	t->timeout = cfg_getint(sec, "timeout");
	t->size = cfg_getint(sec, "size");
	t->count = cfg_getint(sec, "count");
	t->mode = conf_strdup_opt(sec, "mode");
	t->addr = conf_strdup_opt(sec, "addr");
	t->word = conf_strdup_opt(sec, "word");
	t->flag = cfg_getbool(sec, "flag");
	t->nlist = cfg_size(sec, "list");
	t->list = x_calloc(t->nlist + 1, sizeof(char *));
	for (i = 0; i < t->nlist; i++)
		t->list[i] = x_strdup(cfg_getnstr(sec, "list", i));
	if (t->count == 13) {
		snprintf(err, errlen, "count 13 is unlucky");
		return -1;
	}
	return 0;
}

/* test_release - free the test section */
static void
test_release(void *out)
{
	struct test_conf *t = out;
	size_t i;

	for (i = 0; i < t->nlist; i++)
		free(t->list[i]);
	free(t->list);
	free(t->mode);
	free(t->addr);
	free(t->word);
}

static const struct conf_section test_section = {
	"test", test_opts, test_checks, sizeof(struct test_conf), test_load,
	test_release,
};
static const struct conf_section *const test_schema[] = {
	&log_conf_section, &test_section, NULL,
};

struct conf_case {
	const char *name;
	const char *text;		/* NULL: no file (embedded defaults) */
	const char *ovr[4];
	const char *want_err;		/* NULL: must load; "%F" = file name */
	const char *want;		/* "key=value,key=value" on success */
};

static const struct conf_case cases[] = {
	{ "defaults without a file", NULL, { 0 }, NULL,
	  "timeout=30,size=1024,count=10,mode=accept,word=abc,flag=0,"
	  "list=a+b,level=info" },
	{ "empty file", "", { 0 }, NULL, "count=10" },
	{ "values from the file",
	  "# comment\ntest {\n  timeout = 5m\n  size = 10M\n  count = 42\n"
	  "  mode = reject\n  addr = \"inet:127.0.0.1:10025\"\n"
	  "  flag = true\n  list = {x, y, z}\n}\nlog { level = debug }\n",
	  { 0 }, NULL,
	  "timeout=300,size=10485760,count=42,mode=reject,"
	  "addr=inet:127.0.0.1:10025,flag=1,list=x+y+z,level=debug" },
	{ "unknown key", "test {\n  count = 5\n  bogus = 1\n}\n", { 0 },
	  "%F:3: no such option 'bogus'", NULL },
	{ "unknown section", "log {\n}\n\nnosuch {\n}\n", { 0 },
	  "%F:4: no such option 'nosuch'", NULL },
	{ "out of range", "test {\n\n  count = 101\n}\n", { 0 },
	  "%F:3: option 'count': value 101 out of range (1-100)", NULL },
	{ "below range", "test { count = 0 }\n", { 0 },
	  "%F:1: option 'count': value 0 out of range (1-100)", NULL },
	{ "wrong type", "test {\n  count = many\n}\n", { 0 },
	  "%F:2:", NULL },
	{ "bad enum", "test {\n  mode = maybe\n}\n", { 0 },
	  "%F:2: option 'mode': unknown value 'maybe'", NULL },
	{ "bad listener", "test {\n  addr = \"inet:127.0.0.1:99999\"\n}\n",
	  { 0 }, "%F:2: option 'addr': ", NULL },
	{ "bad listener syntax", "test {\n  addr = \"tcp:1.2.3.4\"\n}\n",
	  { 0 }, "%F:2: option 'addr': ", NULL },
	{ "bad duration", "test {\n  timeout = 5x\n}\n", { 0 },
	  "%F:2: option 'timeout': bad duration '5x'", NULL },
	{ "duration range after units", "test {\n  timeout = 2d\n}\n",
	  { 0 }, "%F:2: option 'timeout': value 172800 out of range", NULL },
	{ "bad size", "test {\n  size = 10Q\n}\n", { 0 },
	  "%F:2: option 'size': bad size '10Q'", NULL },
	{ "func check", "test {\n  word = \"Abc\"\n}\n", { 0 },
	  "%F:2: option 'word': 'A' is not a lower-case letter", NULL },
	{ "func check on a list item", "test {\n  list = {ok, \"no!\"}\n}\n",
	  { 0 }, "%F:2: option 'list': '!' is not", NULL },
	{ "comments keep line numbers (libconfuse 3.3 miscounts them)",
	  "# one\n# two\n/* three\n   four */\ntest {\n  // six\n"
	  "  count = 101 # seven\n}\n", { 0 },
	  "%F:7: option 'count': value 101 out of range", NULL },
	{ "a # inside a string is not a comment",
	  "test {\n  word = \"ab#c\"\n}\n", { 0 },
	  "%F:2: option 'word': '#' is not a lower-case letter", NULL },
	{ "a multi-line value is reported on one line",
	  "test {\n  mode = \"a\nb\"\n}\n", { 0 },
	  "%F:3: option 'mode': unknown value 'a b'", NULL },
	{ "optional path: absolute", "test {\n  path = \"/etc/x\"\n}\n",
	  { 0 }, NULL, "count=10" },
	{ "optional path: relative", "test {\n  path = \"etc/x\"\n}\n",
	  { 0 }, "%F:2: option 'path': must be an absolute path (or empty),"
	  " not 'etc/x'", NULL },
	{ "required path: empty", "test {\n\n  dir = \"\"\n}\n", { 0 },
	  "%F:3: option 'dir': must be an absolute path", NULL },
	{ "required path: relative", NULL, { "test.dir=tmp" },
	  "-o test.dir=tmp: option 'dir': must be an absolute path, not 'tmp'",
	  NULL },
	{ "syntax error", "test {\n  count = 5\n  mode reject\n}\n", { 0 },
	  "%F:3:", NULL },
	{ "load() cross-check", "test {\n  count = 13\n}\n", { 0 },
	  "%F: section test: count 13 is unlucky", NULL },

	{ "override a string", "test { mode = reject }\n",
	  { "test.mode=tempfail" }, NULL, "mode=tempfail,count=10" },
	{ "override beats the file, others kept",
	  "test {\n  count = 7\n  mode = reject\n}\n",
	  { "test.count=9" }, NULL, "count=9,mode=reject" },
	{ "override without a file", NULL,
	  { "test.timeout=2h", "log.level=debug", "test.flag=true" }, NULL,
	  "timeout=7200,level=debug,flag=1" },
	{ "override a list (commas)", NULL, { "test.list=p,q" }, NULL,
	  "list=p+q" },
	{ "override a list (braces)", NULL, { "test.list={r, s}" }, NULL,
	  "list=r+s" },
	{ "override a listener", NULL,
	  { "test.addr=inet6:[::1]:10025" }, NULL,
	  "addr=inet6:[::1]:10025" },
	{ "override last wins", NULL, { "test.count=2", "test.count=3" },
	  NULL, "count=3" },
	{ "override unknown section", NULL, { "nosuch.key=1" },
	  "-o nosuch.key=1: unknown section 'nosuch'", NULL },
	{ "override unknown key", NULL, { "test.nokey=1" },
	  "-o test.nokey=1: unknown option 'nokey' in section 'test'",
	  NULL },
	{ "override out of range", NULL, { "test.count=1000" },
	  "-o test.count=1000: option 'count': value 1000 out of range",
	  NULL },
	{ "override wrong type", NULL, { "test.count=ten" },
	  "-o test.count=ten:", NULL },
	{ "override bad enum", NULL, { "test.mode=loud" },
	  "-o test.mode=loud: option 'mode': unknown value 'loud'", NULL },
	{ "override bad listener", NULL, { "test.addr=inet:host" },
	  "-o test.addr=inet:host: option 'addr': ", NULL },
	{ "override malformed", NULL, { "test.count" },
	  "-o test.count: expected SECTION.KEY=VALUE", NULL },
	{ "override bad duration", NULL, { "test.timeout=soon" },
	  "-o test.timeout=soon: option 'timeout': bad duration", NULL },
	{ "override checked by load()", NULL, { "test.count=13" },
	  "section test: count 13 is unlucky", NULL },
	{ "override quotes and spaces", NULL, { "test.word=a b" },
	  "-o test.word=a b: option 'word': ' ' is not", NULL },
};

/* conf_value - one test value rendered as text, for comparison */
static void
conf_value(const struct conf *c, const char *key, char *buf, size_t len)
{
	const struct test_conf *t = conf_get(c, &test_section);
	const struct log_conf *lc = conf_get(c, &log_conf_section);
	size_t i, off;

	if (strcmp(key, "timeout") == 0)
		snprintf(buf, len, "%ld", t->timeout);
	else if (strcmp(key, "size") == 0)
		snprintf(buf, len, "%ld", t->size);
	else if (strcmp(key, "count") == 0)
		snprintf(buf, len, "%ld", t->count);
	else if (strcmp(key, "mode") == 0)
		snprintf(buf, len, "%s", t->mode ? t->mode : "");
	else if (strcmp(key, "addr") == 0)
		snprintf(buf, len, "%s", t->addr ? t->addr : "");
	else if (strcmp(key, "word") == 0)
		snprintf(buf, len, "%s", t->word ? t->word : "");
	else if (strcmp(key, "flag") == 0)
		snprintf(buf, len, "%d", t->flag);
	else if (strcmp(key, "level") == 0)
		snprintf(buf, len, "%s", log_level_name(lc->level));
	else if (strcmp(key, "list") == 0) {
		buf[0] = '\0';
		for (i = 0; i < t->nlist; i++) {
			off = strlen(buf);
			snprintf(buf + off, len - off, "%s%s", i ? "+" : "",
				 t->list[i]);
		}
	} else
		snprintf(buf, len, "?unknown key %s", key);
}

/* run_case - load one case and compare */
static void
run_case(const struct conf_case *tc, const char *dir)
{
	char path[PATH_MAX], want_err[PATH_MAX + 1024], got[256];
	char *errors = NULL;
	char *want, *item, *save = NULL, *eq;
	const char *p;
	struct conf *c;
	size_t n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/elemta.conf", dir);
	if (tc->text != NULL) {
		if ((fp = fopen(path, "w")) == NULL)
			bail_out("%s: %m", path);
		fputs(tc->text, fp);
		fclose(fp);
	}
	while (n < 4 && tc->ovr[n] != NULL)
		n++;
	c = conf_load(test_schema, tc->text ? path : NULL, tc->ovr, n,
		      &errors);
	if (tc->want_err != NULL) {
		/* expand %F to the file name */
		want_err[0] = '\0';
		for (p = tc->want_err; *p; p++) {
			size_t off = strlen(want_err);

			if (p[0] == '%' && p[1] == 'F') {
				snprintf(want_err + off, sizeof(want_err) - off,
					 "%s", path);
				p++;
			} else if (off + 1 < sizeof(want_err)) {
				want_err[off] = *p;
				want_err[off + 1] = '\0';
			}
		}
		ok(c == NULL, "%s: rejected", tc->name);
		like_str(errors, want_err, "%s: error text", tc->name);
	} else {
		if (!ok(c != NULL, "%s: loaded", tc->name))
			diag("errors: %s", errors ? errors : "(none)");
		want = x_strdup(tc->want);
		for (item = strtok_r(want, ",", &save); item != NULL;
		     item = strtok_r(NULL, ",", &save)) {
			if ((eq = strchr(item, '=')) == NULL)
				continue;
			*eq = '\0';
			if (c == NULL) {
				skip(1, "not loaded");
				continue;
			}
			conf_value(c, item, got, sizeof(got));
			is_str(got, eq + 1, "%s: %s", tc->name, item);
		}
		free(want);
	}
	free(errors);
	conf_unref(&c);
	unlink(path);
}

/* test_snapshots - references survive a newer publication */
static void
test_snapshots(void)
{
	const char *o1[] = { "log.level=info" }, *o2[] = { "log.level=debug" };
	struct conf *a, *b, *held, *cur;
	char *errors = NULL;

	ok(conf_current() == NULL, "nothing published at first");
	a = conf_load(test_schema, NULL, o1, 1, &errors);
	b = conf_load(test_schema, NULL, o2, 1, &errors);
	conf_publish(a);
	held = conf_current();
	ok(held == a, "conf_current returns the published snapshot");
	is_int((long long)conf_generation(held), 1, "first generation is 1");
	conf_publish(b);	/* drops the publisher's reference to a */
	cur = conf_current();
	is_int((long long)conf_generation(cur), 2, "reload: generation 2");
	is_str(log_level_name(((const struct log_conf *)conf_get(
		       held, &log_conf_section))->level),
	       "info", "work in progress keeps the old snapshot");
	is_str(log_level_name(((const struct log_conf *)conf_get(
		       cur, &log_conf_section))->level),
	       "debug", "new work sees the new snapshot");
	conf_unref(&held);
	ok(held == NULL, "conf_unref clears the pointer");
	conf_unref(&cur);
	conf_publish(NULL);
	ok(conf_current() == NULL, "unpublished");
}

/* test_real_schema - the shipped schema loads its own defaults */
static void
test_real_schema(const char *dir)
{
	const char *bad[] = { "milter.listen=inet:127.0.0.1:0" };
	const char *good[] = { "milter.listen=unix:/run/elemta/milter.sock" };
	const char *relpid[] = { "policyd.pidfile=run/p.pid" };
	const struct milter_conf *mc;
	struct conf *c;
	char *errors = NULL;

	c = conf_load(elemta_sections, NULL, NULL, 0, &errors);
	if (!ok(c != NULL, "real schema: embedded defaults load"))
		diag("%s", errors);
	free(errors);
	errors = NULL;
	if (c != NULL) {
		mc = conf_get(c, &milter_conf_section);
		is_str(mc->daemon.listen, "unix:/var/spool/postfix/elemta/milter.sock,"
		       "mode=0660,owner=elemta,group=postfix",
		       "real schema: milter.listen default");
		is_str(mc->daemon.user, "elemta",
		       "real schema: milter.user default");
	} else {
		skip(2, "defaults did not load");
	}
	conf_unref(&c);
	c = conf_load(elemta_sections, NULL, bad, 1, &errors);
	ok(c == NULL, "real schema: port 0 refused");
	like_str(errors, "-o milter.listen=inet:127.0.0.1:0: option 'listen'",
		 "real schema: -o error names the override");
	free(errors);
	errors = NULL;
	conf_unref(&c);
	c = conf_load(elemta_sections, NULL, good, 1, &errors);
	ok(c != NULL, "real schema: unix listener accepted");
	free(errors);
	errors = NULL;
	conf_unref(&c);
	c = conf_load(elemta_sections, NULL, relpid, 1, &errors);
	ok(c == NULL, "real schema: a relative pidfile refused");
	like_str(errors, "-o policyd.pidfile=run/p.pid: option 'pidfile': "
		 "must be an absolute path", "real schema: pidfile error text");
	free(errors);
	conf_unref(&c);
	(void)dir;
}

int
main(void)
{
	char dir[] = "/tmp/elemta-t-conf.XXXXXX";
	size_t i;

	plan_lazy();
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp: %m");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], dir);
	test_snapshots();
	test_real_schema(dir);
	rmdir(dir);
	done_testing();
	return exit_status();
}
