/*++
 * NAME
 *	0404-milter-generation 1
 * SUMMARY
 *	unit tests for milter/milter-gen.c: one generation per connection
 * DESCRIPTION
 *	Two generations built as a reload builds them (milter_gen_build),
 *	each with its own authserv-id and its own signing key: a
 *	connection opened before the reload keeps the configuration and
 *	the keys it began with, for a message sent after the reload too,
 *	while a connection opened after gets the new ones.  An unchanged
 *	[dns] section keeps the resolver, a changed one makes a new one.
 *	A reload that cannot build a part (a missing key table, a
 *	resolv.conf libunbound refuses) returns the reason and publishes
 *	nothing: the running generation stays, whole.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "milter.h"
#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char dir[] = "/tmp/elemta-0404-XXXXXX";

/* load - a configuration: authserv-id id, key table kt, more options */
static struct conf *
load(const char *id, const char *kt, const char *more)
{
	char *errors = NULL, *ov[4];
	size_t n = 0;
	struct conf *c;

	ov[n++] = x_asprintf("milter.authserv_id=%s", id);
	ov[n++] = x_asprintf("milter.dkim_key_table=%s/%s", dir, kt);
	ov[n++] = x_asprintf("milter.dkim_signing_table=%s/st", dir);
	if (more != NULL)
		ov[n++] = x_strdup(more);
	c = conf_load(elemta_sections, NULL, (const char **)ov, n, &errors);
	if (c == NULL)
		bail_out("conf_load: %s", errors ? errors : "?");
	while (n > 0)
		free(ov[--n]);
	return c;
}

/* sign - a message on c from an authenticated user@example.test: the
 * s= of its signature ("" if none), as "s=NAME;" */
static char *
sign(struct milter_conn *c)
{
	static const char body[] = "Hello.\r\n";
	struct milter_msg *m = milter_msg_new(c, "<user@example.test>");
	const char *v, *s, *e;
	char *sel;

	milter_msg_set_qid(m, "GEN");
	milter_msg_set_auth(m, "PLAIN", "user");
	milter_msg_header(m, "From", " User <user@example.test>");
	milter_msg_header(m, "Subject", " generations");
	milter_pipeline_eoh(m);
	milter_dkim_sign_body(m, (const unsigned char *)body,
			      sizeof(body) - 1);
	milter_dkim_sign_eom(m);
	v = milter_dkim_sign_value(m, 0);
	if (v == NULL || (s = strstr(v, "\ts=")) == NULL
	    || (e = strchr(s, ';')) == NULL)
		sel = x_strdup("");
	else
		sel = x_strndup(s + 1, (size_t)(e - s));
	milter_msg_free(&c->msg);
	return sel;
}

/* is_sel - the selector c signs with */
static void
is_sel(struct milter_conn *c, const char *want, const char *what)
{
	char *got = sign(c);

	is_str(got, want, "%s", what);
	free(got);
}

/* test_reload - before and after, and failed reloads */
static void
test_reload(void)
{
	struct milter_gen *g1, *g2, *g, *cur;
	struct milter_conn *before, *after;
	char err[512], *path;

	g1 = milter_gen_build(load("first.example", "kt1", NULL), NULL, err,
			      sizeof(err));
	if (!ok(g1 != NULL, "the first generation builds"))
		bail_out("%s", err);
	ok(g1->conf != NULL && g1->dns != NULL && g1->keys != NULL,
	   "it holds a configuration, a resolver and keys");
	milter_gen_publish(g1);
	before = milter_conn_open(milter_gen_current());
	is_sel(before, "s=one;", "the first connection signs with key one");

	/* the reload: a new authserv-id and a new key, the same [dns] */
	cur = milter_gen_current();
	g2 = milter_gen_build(load("second.example", "kt2", NULL), cur, err,
			      sizeof(err));
	if (!ok(g2 != NULL, "the second generation builds"))
		bail_out("%s", err);
	ok(g2->dns == cur->dns, "an unchanged [dns] section: the resolver "
	   "is kept");
	milter_gen_unref(&cur);
	milter_gen_publish(g2);
	after = milter_conn_open(milter_gen_current());

	is_str(before->mc->authserv_id, "first.example",
	       "the connection opened before the reload keeps its "
	       "configuration");
	is_sel(before, "s=one;", "... and its keys, for a message sent "
	       "after the reload");
	ok(before->keys == before->gen->keys
	   && before->conf == before->gen->conf
	   && before->dns == before->gen->dns,
	   "... all three from the one generation it holds");
	is_str(after->mc->authserv_id, "second.example",
	       "a connection opened after gets the new configuration");
	is_sel(after, "s=two;", "... and the new keys");

	/* reloads that fail: nothing published */
	g = milter_gen_build(load("third.example", "missing", NULL), g2, err,
			     sizeof(err));
	ok(g == NULL, "a key table that cannot be read: no generation");
	ok(strncmp(err, "dkim signing: ", 14) == 0
	   && strstr(err, "/missing") != NULL, "... the reason: %s", err);
	path = x_asprintf("dns.resolv_conf=%s/resolv.conf", dir);
	g = milter_gen_build(load("third.example", "kt1", path), g2, err,
			     sizeof(err));
	free(path);
	ok(g == NULL, "a resolv.conf libunbound refuses: no generation");
	ok(strncmp(err, "dns: ", 5) == 0 && strstr(err, "resolv.conf") != NULL,
	   "... the reason: %s", err);
	cur = milter_gen_current();
	ok(cur == g2, "the running generation stays published");
	milter_gen_unref(&cur);
	milter_conn_free(&after);
	after = milter_conn_open(milter_gen_current());
	is_str(after->mc->authserv_id, "second.example",
	       "a new connection: its configuration");
	is_sel(after, "s=two;", "... with its keys");

	/* a changed [dns] section: a new resolver */
	cur = milter_gen_current();
	g = milter_gen_build(load("third.example", "kt1", "dns.retries=3"),
			     cur, err, sizeof(err));
	ok(g != NULL && g->dns != NULL && g->dns != cur->dns,
	   "a changed [dns] section: a new resolver");
	milter_gen_unref(&cur);
	milter_gen_unref(&g);

	milter_conn_free(&before);
	milter_conn_free(&after);
	milter_gen_publish(NULL);
	ok(milter_gen_current() == NULL, "nothing published at the end");
}

int
main(void)
{
	static const char *const sel[] = { "one", "two" };
	char *cmd;
	size_t i;

	plan_lazy();
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp failed");
	/* two RSA keys for example.test, selectors one and two */
	for (i = 0; i < 2; i++) {
		char *argv[] = { "genkey", "-d", "example.test", "-s",
				 (char *)sel[i], "-b", "1024", "-D", dir,
				 NULL };

		if (milter_keys_genkey(9, argv) != 0)
			bail_out("genkey %s failed", sel[i]);
	}
	cmd = x_asprintf("k example.test:one:%s/one.private\n", dir);
	free(tap_put(dir, "kt1", cmd));
	free(cmd);
	cmd = x_asprintf("k example.test:two:%s/two.private\n", dir);
	free(tap_put(dir, "kt2", cmd));
	free(cmd);
	free(tap_put(dir, "st", "*@example.test k\n"));
	free(tap_put(dir, "resolv.conf", "nameserver not-an-address\n"));
	test_reload();
	tap_rmtree(dir);
	done_testing();
	return exit_status();
}
