/*++
 * NAME
 *	0501-lmtp-router 1
 * SUMMARY
 *	unit test of per-recipient routing (lmtp-bridge/lmtp-router.c)
 * DESCRIPTION
 *	A static map written to a temporary file, then a table of
 *	recipients with the status, backend and address each must get,
 *	strict and not; and map files that must be refused with file:line.
 *
 *	The same routes from an SQLite file holding the map's entries in
 *	the documented schema (the same table of cases must pass), then
 *	what only SQLite has: %u/%d queries, columns renamed with AS,
 *	values and queries that cannot work (451 4.4.3, never a 5xx), a
 *	missing, broken or replaced file, changes made in place, and the
 *	router's cache in front of it on a clock the test moves, and the
 *	sqlite_* options.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "metrics.h"
#include "../sections-all.h"
#include "tap.h"
#include "../lmtp-bridge/lmtp-cache.h"
#include "../lmtp-bridge/lmtp-router.h"

#define DEF "inet:127.0.0.1:24"

static const char map_text[] =
	"# comment\n"
	"alias@example.test      -,alice@example.test\n"
	"Sales@Example.test      default,bob@example.test   # trailing\n"
	"tagged@example.test     -,carol+in@example.test\n"
	"exact+x@example.test    -,dave@example.test\n"
	"remote@example.test     inet:10.0.0.2:24\n"
	"unixed@example.test     unix:/run/dovecot/lmtp,eve@example.test\n"
	"gone@example.test       DISABLED\n"
	"@old.test               -,@example.test\n"
	"\n";

struct route_case {
	const char *addr;
	int strict;
	enum lmtp_route_status status;
	const char *backend, *address, *reply;
};

static const struct route_case cases[] = {
	{ "alice@example.test", 0, LMTP_ROUTE_OK, DEF, "alice@example.test",
	  "250 2.1.5 Ok" },
	{ "alice@example.test", 1, LMTP_ROUTE_UNKNOWN, NULL, NULL,
	  "550 5.1.1 <alice@example.test>: Recipient address rejected: "
	  "User unknown" },
	{ "alias@example.test", 1, LMTP_ROUTE_OK, DEF, "alice@example.test",
	  "250 2.1.5 Ok" },
	{ "ALIAS+Work@Example.TEST", 1, LMTP_ROUTE_OK, DEF,
	  "alice+Work@example.test", "250 2.1.5 Ok" },
	{ "sales@example.test", 1, LMTP_ROUTE_OK, DEF, "bob@example.test",
	  "250 2.1.5 Ok" },
	{ "tagged+x@example.test", 1, LMTP_ROUTE_OK, DEF,
	  "carol+in@example.test", "250 2.1.5 Ok" },
	{ "exact+x@example.test", 1, LMTP_ROUTE_OK, DEF, "dave@example.test",
	  "250 2.1.5 Ok" },
	{ "exact+y@example.test", 1, LMTP_ROUTE_UNKNOWN, NULL, NULL, NULL },
	{ "remote+z@example.test", 1, LMTP_ROUTE_OK, "inet:10.0.0.2:24",
	  "remote+z@example.test", NULL },
	{ "unixed@example.test", 1, LMTP_ROUTE_OK, "unix:/run/dovecot/lmtp",
	  "eve@example.test", NULL },
	{ "gone+x@example.test", 0, LMTP_ROUTE_DISABLED, NULL, NULL,
	  "550 5.2.1 <gone+x@example.test>: Recipient address rejected: "
	  "Mailbox disabled" },
	{ "Someone+t@old.test", 1, LMTP_ROUTE_OK, DEF,
	  "Someone+t@example.test", NULL },
	{ "someone@old.test", 1, LMTP_ROUTE_OK, DEF, "someone@example.test",
	  NULL },
	{ "+only@example.test", 0, LMTP_ROUTE_OK, DEF, "+only@example.test",
	  NULL },
};

/* write_file - a temporary file with text; its path (malloc'ed) */
static char *
write_file(const char *text)
{
	char *path = x_strdup("/tmp/elemta-0501.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		bail_out("cannot write %s", path);
	close(fd);
	return path;
}

/* map_source - the map at path as a router's source */
static void
map_source(struct lmtp_router *rt, const char *path)
{
	char err[256];
	void *map = lmtp_map_load(path, err, sizeof(err));

	ok(map != NULL, "map loads %s", map ? "" : err);
	lmtp_router_add(rt, &lmtp_map_ops, map, NULL);
}

/* test_routes - the table against a router per strictness, its source
 * added by add_source(rt, path) */
static void
test_routes(const char *name, const char *path,
	    void (*add_source)(struct lmtp_router *, const char *))
{
	struct lmtp_router *rt[2];
	struct lmtp_route r;
	char err[256], *reply;
	size_t i;
	int s;

	for (s = 0; s < 2; s++) {
		rt[s] = lmtp_router_new(DEF, "+", s);
		add_source(rt[s], path);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];

		lmtp_router_route(rt[c->strict], c->addr, &r, err, sizeof(err));
		if (!is_int(r.status, c->status, "%s: %s strict=%d: status",
			    name, c->addr, c->strict))
			diag("error: %s", err);
		is_str(r.backend, c->backend, "%s: %s: backend", name, c->addr);
		is_str(r.address, c->address, "%s: %s: address", name, c->addr);
		if (c->reply != NULL) {
			reply = lmtp_route_reply(&r, c->addr);
			is_str(reply, c->reply, "%s: %s: reply", name, c->addr);
			x_free(&reply);
		}
		lmtp_route_clear(&r);
	}
	lmtp_router_free(&rt[0]);
	lmtp_router_free(&rt[1]);
}

/* test_no_map - without a source: the default backend, unchanged */
static void
test_no_map(void)
{
	struct lmtp_router *rt = lmtp_router_new(DEF, NULL, 0);
	struct lmtp_route r;

	lmtp_router_route(rt, "Any+thing@Where.test", &r, NULL, 0);
	is_int(r.status, LMTP_ROUTE_OK, "no map: ok");
	is_str(r.address, "Any+thing@Where.test", "no map: unchanged");
	is_str(r.backend, DEF, "no map: default backend");
	lmtp_route_clear(&r);
	lmtp_router_free(&rt);
}

/* failing_lookup - a source whose directory is down */
static int
failing_lookup(void *ctx, const char *key, struct lmtp_lookup_result *res,
	       char *err, size_t errlen)
{
	x_err(err, errlen, "directory down");
	return -1;
}

static const struct lmtp_lookup_ops failing_ops = {
	"ldap", failing_lookup, NULL,
};

/* test_tempfail - a source error is 451 4.4.3, never a 5xx */
static void
test_tempfail(void)
{
	struct lmtp_router *rt = lmtp_router_new(DEF, "+", 1);
	struct lmtp_route r;
	char err[128], *reply;

	lmtp_router_add(rt, &failing_ops, NULL, NULL);
	lmtp_router_route(rt, "a@example.test", &r, err, sizeof(err));
	is_int(r.status, LMTP_ROUTE_TEMPFAIL, "source error: tempfail");
	is_str(err, "directory down", "source error: reason");
	reply = lmtp_route_reply(&r, "a@example.test");
	like_str(reply, "451 4.4.3 <a@example.test>", "source error: 451 4.4.3");
	x_free(&reply);
	lmtp_route_clear(&r);
	lmtp_router_free(&rt);
}

/* A source that names whatever backend and rewrite the test sets. */
static const char *say_backend, *say_rewrite;

static int
saying_lookup(void *ctx, const char *key, struct lmtp_lookup_result *res,
	      char *err, size_t errlen)
{
	(void)ctx;
	(void)key;
	(void)err;
	(void)errlen;
	memset(res, 0, sizeof(*res));
	res->backend = say_backend ? x_strdup(say_backend) : NULL;
	res->rewrite = say_rewrite ? x_strdup(say_rewrite) : NULL;
	return 1;
}

static const struct lmtp_lookup_ops saying_ops = {
	"sqlite", saying_lookup, NULL,
};

struct said {
	const char *backend, *rewrite;
	enum lmtp_route_status want;
};

static const struct said saids[] = {
	{ "unix:/run/dovecot/lmtp", NULL, LMTP_ROUTE_OK },
	{ "unix:/run/dovecot/lmtp;" DEF, NULL, LMTP_ROUTE_OK },
	{ "unix:/tmp/evil", NULL, LMTP_ROUTE_TEMPFAIL },
	{ ";;", NULL, LMTP_ROUTE_TEMPFAIL },	/* named no backend */
	{ ";", NULL, LMTP_ROUTE_TEMPFAIL },
	{ "unix:/run/dovecot/lmtp;", NULL, LMTP_ROUTE_TEMPFAIL },
	{ NULL, "b@x.test\r\nDATA", LMTP_ROUTE_TEMPFAIL },
	{ NULL, "b c@x.test", LMTP_ROUTE_TEMPFAIL },
	{ NULL, "b@x.test", LMTP_ROUTE_OK },
};

/* test_said - what any source says is checked by the router too:
 * allowed backends only, no empty address, no control character */
static void
test_said(void)
{
	static char *const allowed[] = { "unix:/run/dovecot/lmtp" };
	struct lmtp_router *rt = lmtp_router_new(DEF, "+", 0);
	struct lmtp_route r;
	char err[256];
	size_t i;

	lmtp_router_add(rt, &saying_ops, NULL, NULL);
	lmtp_router_allow(rt, allowed, 1);
	for (i = 0; i < sizeof(saids) / sizeof(saids[0]); i++) {
		say_backend = saids[i].backend;
		say_rewrite = saids[i].rewrite;
		lmtp_router_route(rt, "a@x.test", &r, err, sizeof(err));
		is_int(r.status, saids[i].want, "source says backend '%s' "
		       "rewrite '%s'", say_backend ? say_backend : "",
		       say_rewrite ? say_rewrite : "");
		lmtp_route_clear(&r);
	}
	lmtp_router_free(&rt);
}

struct bad_map {
	const char *text, *err;
};

static const struct bad_map bad_maps[] = {
	{ "a@x.test\n", ":1: expected \"address backend[,rewrite]\"" },
	{ "# c\nnoat -\n", ":2: 'noat' is not an address or @domain" },
	{ "a@x.test - extra\n", ":1: expected" },
	{ "a@x.test inet:host\n", ":1: backend" },
	{ "a@x.test inet::24\n", ":1: backend" },
	{ "a@x.test -,notanaddress\n", ":1: rewrite 'notanaddress' is not" },
	{ "a@x.test DISABLED,b@x.test\n", ":1: DISABLED takes no rewrite" },
	{ "a@x.test -\nA@X.test -\n", "'a@x.test' is listed twice" },
};

/* test_bad_maps - refused with file:line */
static void
test_bad_maps(void)
{
	char err[512], *path;
	void *map;
	size_t i;

	for (i = 0; i < sizeof(bad_maps) / sizeof(bad_maps[0]); i++) {
		path = write_file(bad_maps[i].text);
		map = lmtp_map_load(path, err, sizeof(err));
		ok(map == NULL, "bad map %zu refused", i);
		like_str(map == NULL ? err : "", bad_maps[i].err,
			 "bad map %zu: message", i);
		if (map != NULL)
			lmtp_map_ops.free(map);
		unlink(path);
		x_free(&path);
	}
	map = lmtp_map_load("/nonexistent/map", err, sizeof(err));
	ok(map == NULL && strstr(err, "No such file") != NULL,
	   "missing map file: %s", err);
}

/*
 * SQLite: the map's entries in the documented schema, and more tables
 * for what only a query can do.
 */

#define SQL_QUERY "SELECT backend, rewrite, enabled, junk_optout " \
	"FROM lmtp_routes WHERE address = %s"

static const char sql_tables[] =
	"CREATE TABLE lmtp_routes (address TEXT PRIMARY KEY, backend TEXT,"
	" rewrite TEXT, enabled INTEGER NOT NULL DEFAULT 1,"
	" junk_optout INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO lmtp_routes (address, backend, rewrite) VALUES"
	" ('alias@example.test', NULL, 'alice@example.test'),"
	" ('sales@example.test', 'default', 'bob@example.test'),"
	" ('tagged@example.test', '-', 'carol+in@example.test'),"
	" ('exact+x@example.test', '', 'dave@example.test'),"
	" ('remote@example.test', 'inet:10.0.0.2:24', NULL),"
	" ('unixed@example.test', 'unix:/run/dovecot/lmtp',"
	"  'eve@example.test'),"
	" ('@old.test', NULL, '@example.test');"
	"INSERT INTO lmtp_routes (address, enabled) VALUES"
	" ('gone@example.test', 0);"
	"INSERT INTO lmtp_routes (address, junk_optout) VALUES"
	" ('optout@example.test', 1);"
	"CREATE TABLE users (local TEXT, domain TEXT, host TEXT, active TEXT);"
	"INSERT INTO users VALUES"
	" ('u1', 'example.test', 'inet:10.0.0.3:24', 'yes'),"
	" ('u2', 'example.test', NULL, 'no'),"
	" ('twice', 'example.test', NULL, NULL),"
	" ('twice', 'example.test', NULL, NULL),"
	" ('badhost', 'example.test', 'inet:nohost', NULL);"
	"CREATE TABLE bad (address TEXT, rewrite TEXT);"
	"INSERT INTO bad VALUES ('r@example.test', 'no-at-sign');";

static char *sql_path;		/* the test's database file */

/* sql_exec - run SQL on the file at path (created if need be) */
static void
sql_exec(const char *path, const char *sql)
{
	sqlite3 *h;
	char *msg = NULL;

	if (sqlite3_open(path, &h) != SQLITE_OK
	    || sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		bail_out("%s: %s", path, msg ? msg : sqlite3_errmsg(h));
	sqlite3_close(h);
}

/* sql_count - rows of lmtp_routes in the file at path */
static int
sql_count(const char *path)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_open(path, &h) == SQLITE_OK
	    && sqlite3_prepare_v2(h, "SELECT count(*) FROM lmtp_routes", -1,
				  &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return n;
}

/* sqlite_source - the file at path, the default query, no cache */
static void
sqlite_source(struct lmtp_router *rt, const char *path)
{
	char err[256];
	void *s = lmtp_sqlite_new(path, SQL_QUERY, 1000, err, sizeof(err));

	ok(s != NULL, "sqlite source %s", s ? "" : err);
	lmtp_router_add(rt, &lmtp_sqlite_ops, s, NULL);
}

struct sql_case {
	const char *query;
	const char *addr;
	enum lmtp_route_status status;
	const char *backend, *address;
	int junk_optout;
	const char *err;	/* in err, for LMTP_ROUTE_TEMPFAIL */
};

#define Q_USERS "SELECT host AS backend, active AS Enabled FROM users " \
	"WHERE local = '%u' AND domain = %d"

static const struct sql_case sql_cases[] = {
	{ Q_USERS, "u1@example.test", LMTP_ROUTE_OK, "inet:10.0.0.3:24",
	  "u1@example.test", 0, NULL },
	{ Q_USERS, "U1+Tag@Example.TEST", LMTP_ROUTE_OK, "inet:10.0.0.3:24",
	  "U1+Tag@Example.TEST", 0, NULL },
	{ Q_USERS, "u2@example.test", LMTP_ROUTE_DISABLED, NULL, NULL, 0,
	  NULL },
	{ Q_USERS, "nobody@example.test", LMTP_ROUTE_UNKNOWN, NULL, NULL, 0,
	  NULL },
	{ Q_USERS, "twice@example.test", LMTP_ROUTE_TEMPFAIL, NULL, NULL, 0,
	  "more than one row for twice@example.test" },
	{ Q_USERS, "badhost@example.test", LMTP_ROUTE_TEMPFAIL, NULL, NULL,
	  0, "backend of badhost@example.test: bad listener \"inet:nohost\"" },
	{ SQL_QUERY, "optout@example.test", LMTP_ROUTE_OK, DEF,
	  "optout@example.test", 1, NULL },
	{ SQL_QUERY, "x' OR '1'='1@example.test", LMTP_ROUTE_UNKNOWN, NULL,
	  NULL, 0, NULL },
	{ "SELECT rewrite FROM bad WHERE address = '%s'", "r@example.test",
	  LMTP_ROUTE_TEMPFAIL, NULL, NULL, 0,
	  "rewrite of r@example.test: 'no-at-sign' is not an address" },
	{ "SELECT address FROM lmtp_routes WHERE address = %s",
	  "alias@example.test", LMTP_ROUTE_TEMPFAIL, NULL, NULL, 0,
	  "result column 'address' is none of backend" },
	{ "SELECT backend, rewrite AS backend FROM lmtp_routes "
	  "WHERE address = %s", "alias@example.test", LMTP_ROUTE_TEMPFAIL,
	  NULL, NULL, 0, "result column 'backend' is there twice" },
	{ "SELECT backend FROM nosuch WHERE address = %s",
	  "alias@example.test", LMTP_ROUTE_TEMPFAIL, NULL, NULL, 0,
	  "no such table: nosuch" },
	{ "DELETE FROM lmtp_routes WHERE address = %s", "alias@example.test",
	  LMTP_ROUTE_TEMPFAIL, NULL, NULL, 0, "not a read-only query" },
};

/* test_sqlite_cases - queries other than the default, and failures */
static void
test_sqlite_cases(void)
{
	const struct sql_case *c;
	struct lmtp_router *rt;
	struct lmtp_route r;
	char err[256], *reply;
	void *s;
	int rows = sql_count(sql_path);

	for (c = sql_cases; c < sql_cases + sizeof(sql_cases)
	     / sizeof(sql_cases[0]); c++) {
		rt = lmtp_router_new(DEF, "+", 1);
		s = lmtp_sqlite_new(sql_path, c->query, 1000, err, sizeof(err));
		if (!ok(s != NULL, "sqlite: %s: source", c->query))
			bail_out("%s", err);
		lmtp_router_add(rt, &lmtp_sqlite_ops, s, NULL);
		err[0] = '\0';
		lmtp_router_route(rt, c->addr, &r, err, sizeof(err));
		if (!is_int(r.status, c->status, "sqlite: %s: status", c->addr))
			diag("error: %s", err);
		is_str(r.backend, c->backend, "sqlite: %s: backend", c->addr);
		is_str(r.address, c->address, "sqlite: %s: address", c->addr);
		is_int(r.junk_optout, c->junk_optout, "sqlite: %s: junk opt-out",
		       c->addr);
		if (c->err != NULL) {
			like_str(err, c->err, "sqlite: %s: error", c->addr);
			reply = lmtp_route_reply(&r, c->addr);
			like_str(reply, "451 4.4.3 ", "sqlite: %s: 451 4.4.3",
				 c->addr);
			x_free(&reply);
		}
		lmtp_route_clear(&r);
		lmtp_router_free(&rt);
	}
	is_int(sql_count(sql_path), rows, "sqlite: nothing was deleted");
	s = lmtp_sqlite_new(sql_path, "SELECT backend FROM lmtp_routes", 0,
			    err, sizeof(err));
	ok(s == NULL, "sqlite: a query without a placeholder is refused");
	like_str(err, "sqlite_query: 'SELECT backend FROM lmtp_routes' uses "
		 "none of %s, %u, %d", "sqlite: ... with its reason");
}

/* route_is - route addr on rt: the status, and the address if want is
 * not NULL; err gets the router's error */
static void
route_is(struct lmtp_router *rt, const char *addr,
	 enum lmtp_route_status status, const char *want, char *err,
	 size_t errlen, const char *desc)
{
	struct lmtp_route r;

	err[0] = '\0';
	lmtp_router_route(rt, addr, &r, err, errlen);
	if (!is_int(r.status, status, "%s: status", desc))
		diag("error: %s", err);
	if (want != NULL)
		is_str(r.address, want, "%s: address", desc);
	lmtp_route_clear(&r);
}

/* test_sqlite_file - missing, broken, replaced, changed in place */
static void
test_sqlite_file(void)
{
	char *path = x_asprintf("%s.file", sql_path);
	char *other = x_asprintf("%s.new", sql_path);
	struct lmtp_router *rt = lmtp_router_new(DEF, "+", 1);
	char err[256], *side;
	const char *alias = "alias@example.test";
	void *s;
	FILE *fp;

	s = lmtp_sqlite_new(path, SQL_QUERY, 100, err, sizeof(err));
	ok(s != NULL, "file: a source on a missing file can be made");
	is_int(lmtp_sqlite_check(s, err, sizeof(err)), -1,
	       "file: ... but the check fails");
	like_str(err, "No such file or directory", "file: ... saying why");
	lmtp_router_add(rt, &lmtp_sqlite_ops, s, NULL);
	route_is(rt, alias, LMTP_ROUTE_TEMPFAIL, NULL, err, sizeof(err),
		 "file: missing: 451 4.4.3");
	ok(access(path, F_OK) < 0, "file: missing: not created");

	if ((fp = fopen(path, "w")) == NULL)
		bail_out("%s", path);
	fputs("this is not an SQLite database, but a text file\n", fp);
	fclose(fp);
	route_is(rt, alias, LMTP_ROUTE_TEMPFAIL, NULL, err, sizeof(err),
		 "file: not a database: 451 4.4.3");
	like_str(err, "file is not a database", "file: ... saying why");

	sql_exec(other, sql_tables);
	if (rename(other, path) < 0)
		bail_out("rename %s: %m", other);
	route_is(rt, alias, LMTP_ROUTE_OK, "alice@example.test", err,
		 sizeof(err), "file: a real one renamed over it: read at once");

	sql_exec(path, "UPDATE lmtp_routes SET rewrite = 'bob@example.test' "
		 "WHERE address = 'alias@example.test'");
	route_is(rt, alias, LMTP_ROUTE_OK, "bob@example.test", err,
		 sizeof(err), "file: a change in place is seen");

	sql_exec(other, sql_tables);
	sql_exec(other, "UPDATE lmtp_routes SET rewrite = 'carol@example.test'"
		 " WHERE address = 'alias@example.test'");
	if (rename(other, path) < 0)
		bail_out("rename %s: %m", other);
	route_is(rt, alias, LMTP_ROUTE_OK, "carol@example.test", err,
		 sizeof(err), "file: replaced again: the new file is read");

	/* WAL mode, as a busy writer would set it */
	sql_exec(path, "PRAGMA journal_mode=WAL; UPDATE lmtp_routes SET "
		 "rewrite = 'dave@example.test' WHERE address = "
		 "'alias@example.test'");
	route_is(rt, alias, LMTP_ROUTE_OK, "dave@example.test", err,
		 sizeof(err), "file: a WAL database is read");

	lmtp_router_free(&rt);
	side = x_asprintf("%s-wal", path);
	unlink(side);
	x_free(&side);
	side = x_asprintf("%s-shm", path);
	unlink(side);
	x_free(&side);
	unlink(path);
	x_free(&path);
	x_free(&other);
}

static double fake_now = 1000;

/* fake_clock - the time the test says it is */
static double
fake_clock(void)
{
	return fake_now;
}

/* test_sqlite_cache - the router's cache in front of the table: answers
 * kept for their TTLs, errors never */
static void
test_sqlite_cache(void)
{
	struct lmtp_router *rt = lmtp_router_new(DEF, "+", 1);
	char err[256], *away, *text;
	const char *alias = "alias@example.test", *new = "new@example.test";
	void *s;

	metrics_reset();
	s = lmtp_sqlite_new(sql_path, SQL_QUERY, 100, err, sizeof(err));
	lmtp_router_add(rt, &lmtp_sqlite_ops, s,
			lmtp_cache_new("sqlite", 100, 60, 10, fake_clock));
	route_is(rt, alias, LMTP_ROUTE_OK, "alice@example.test", err,
		 sizeof(err), "cache: first lookup");
	sql_exec(sql_path, "UPDATE lmtp_routes SET rewrite = "
		 "'bob@example.test' WHERE address = 'alias@example.test'");
	route_is(rt, alias, LMTP_ROUTE_OK, "alice@example.test", err,
		 sizeof(err), "cache: answered from the cache");
	fake_now += 61;
	route_is(rt, alias, LMTP_ROUTE_OK, "bob@example.test", err,
		 sizeof(err), "cache: asked again after the TTL");

	route_is(rt, new, LMTP_ROUTE_UNKNOWN, NULL, err, sizeof(err),
		 "cache: unknown");
	sql_exec(sql_path, "INSERT INTO lmtp_routes (address) VALUES "
		 "('new@example.test')");
	route_is(rt, new, LMTP_ROUTE_UNKNOWN, NULL, err, sizeof(err),
		 "cache: still unknown within the negative TTL");
	fake_now += 11;
	route_is(rt, new, LMTP_ROUTE_OK, new, err, sizeof(err),
		 "cache: known after the negative TTL");

	away = x_asprintf("%s.away", sql_path);
	if (rename(sql_path, away) < 0)
		bail_out("rename: %m");
	route_is(rt, "fresh@example.test", LMTP_ROUTE_TEMPFAIL, NULL, err,
		 sizeof(err), "cache: the file gone: 451 4.4.3");
	if (rename(away, sql_path) < 0)
		bail_out("rename: %m");
	route_is(rt, "fresh@example.test", LMTP_ROUTE_UNKNOWN, NULL, err,
		 sizeof(err), "cache: the error was not cached: asked again");
	x_free(&away);

	text = metrics_render(NULL);
	like_str(text, "elemta_lmtp_sqlite_cache_total{result=\"hit\"} 3\n",
		 "cache: metrics: 3 hits");
	like_str(text, "elemta_lmtp_sqlite_cache_total{result=\"miss\"} 8\n",
		 "cache: metrics: 8 misses");
	like_str(text, "elemta_lmtp_sqlite_lookups_total{outcome=\"found\"} 3\n",
		 "cache: metrics: 3 queries found a row");
	like_str(text, "elemta_lmtp_sqlite_lookups_total{outcome=\"notfound\"}"
		 " 4\n", "cache: metrics: 4 found none");
	like_str(text, "elemta_lmtp_sqlite_lookups_total{outcome=\"error\"} 1\n",
		 "cache: metrics: 1 error");
	x_free(&text);
	lmtp_router_free(&rt);
}

/* The sqlite_* options, checked like the file (-o). */
static const struct sql_conf_case {
	const char *ovr;
	const char *error;	/* NULL: accepted; else a substring */
} sql_conf_cases[] = {
	{ "lmtp_bridge.sqlite_database=/var/lib/elemta/routes.db", NULL },
	{ "lmtp_bridge.sqlite_database=routes.db", "absolute path" },
	{ "lmtp_bridge.sqlite_query=SELECT backend FROM u WHERE l='%u'",
	  NULL },
	{ "lmtp_bridge.sqlite_query=SELECT backend FROM u WHERE l=%x",
	  "'%x' in" },
	{ "lmtp_bridge.sqlite_query=SELECT backend FROM u", "uses none" },
	{ "lmtp_bridge.sqlite_cache_ttl=2d", "sqlite_cache_ttl" },
	{ "lmtp_bridge.sqlite_negative_cache_ttl=-1",
	  "sqlite_negative_cache_ttl" },
	{ "lmtp_bridge.sqlite_cache_size=20000000", "sqlite_cache_size" },
};

/* test_sqlite_conf - the table of options */
static void
test_sqlite_conf(void)
{
	const struct sql_conf_case *c;
	struct conf *conf;
	char *errors;

	for (c = sql_conf_cases; c < sql_conf_cases + sizeof(sql_conf_cases)
	     / sizeof(sql_conf_cases[0]); c++) {
		errors = NULL;
		conf = conf_load(elemta_sections, NULL, &c->ovr, 1, &errors);
		if (c->error == NULL)
			ok(conf != NULL, "conf: accepted: %s (%s)", c->ovr,
			   errors ? errors : "");
		else
			like_str(errors ? errors : "(accepted)", c->error,
				 "conf: refused: %s", c->ovr);
		conf_unref(&conf);
		free(errors);
	}
}

/* test_sqlite - every SQLite table */
static void
test_sqlite(void)
{
	sql_path = x_strdup("/tmp/elemta-0501-sql.XXXXXX");
	close(mkstemp(sql_path));
	unlink(sql_path);
	sql_exec(sql_path, sql_tables);
	test_routes("sqlite", sql_path, sqlite_source);
	test_sqlite_cases();
	test_sqlite_file();
	test_sqlite_cache();
	test_sqlite_conf();
	unlink(sql_path);
	x_free(&sql_path);
}

/* main - run every table */
int
main(void)
{
	char *path;

	plan_lazy();
	path = write_file(map_text);
	test_routes("map", path, map_source);
	unlink(path);
	x_free(&path);
	test_sqlite();
	test_no_map();
	test_tempfail();
	test_said();
	test_bad_maps();
	done_testing();
	return exit_status();
}
