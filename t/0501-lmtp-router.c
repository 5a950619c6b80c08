/*++
 * NAME
 *	0501-lmtp-router 1
 * SUMMARY
 *	unit test of per-recipient routing (lmtp-bridge/lmtp-router.c)
 * DESCRIPTION
 *	A static map written to a temporary file, then a table of
 *	recipients with the status, backend and address each must get,
 *	strict and not; and map files that must be refused with file:line.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
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

/* test_routes - the table against a router per strictness */
static void
test_routes(const char *path)
{
	struct lmtp_router *rt[2];
	struct lmtp_route r;
	char err[256], *reply;
	void *map;
	size_t i;
	int s;

	for (s = 0; s < 2; s++) {
		rt[s] = lmtp_router_new(DEF, "+", s);
		map = lmtp_map_load(path, err, sizeof(err));
		ok(map != NULL, "map loads (strict=%d) %s", s, map ? "" : err);
		lmtp_router_add(rt[s], &lmtp_map_ops, map);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];

		lmtp_router_route(rt[c->strict], c->addr, &r, err, sizeof(err));
		is_int(r.status, c->status, "%s strict=%d: status", c->addr,
		       c->strict);
		is_str(r.backend, c->backend, "%s: backend", c->addr);
		is_str(r.address, c->address, "%s: address", c->addr);
		if (c->reply != NULL) {
			reply = lmtp_route_reply(&r, c->addr);
			is_str(reply, c->reply, "%s: reply", c->addr);
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

	lmtp_router_add(rt, &failing_ops, NULL);
	lmtp_router_route(rt, "a@example.test", &r, err, sizeof(err));
	is_int(r.status, LMTP_ROUTE_TEMPFAIL, "source error: tempfail");
	is_str(err, "directory down", "source error: reason");
	reply = lmtp_route_reply(&r, "a@example.test");
	like_str(reply, "451 4.4.3 <a@example.test>", "source error: 451 4.4.3");
	x_free(&reply);
	lmtp_route_clear(&r);
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

/* main - run every table */
int
main(void)
{
	char *path;

	plan_lazy();
	path = write_file(map_text);
	test_routes(path);
	unlink(path);
	x_free(&path);
	test_no_map();
	test_tempfail();
	test_bad_maps();
	done_testing();
	return exit_status();
}
