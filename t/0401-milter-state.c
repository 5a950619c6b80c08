/*++
 * NAME
 *	0401-milter-state 1
 * SUMMARY
 *	unit tests for milter/milter-conn.c and internal_networks matching
 *	(lib/cidr, shared with the listeners' allow-lists)
 * DESCRIPTION
 *	internal_networks parsing and matching on a table; the header caps
 *	(count and size) with forged Authentication-Results still found
 *	past them, and their 1-based indexes; the verdict (the strongest
 *	action wins, the first reason of that strength is kept); the
 *	envelope (brackets stripped, null sender) and the configuration
 *	reference a connection holds across a newer publication.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "milter.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

struct ncase {
	const char *net;
	const char *addr;
	int parse_ok;
	int want;
};

static const struct ncase ncases[] = {
	{ "10.0.0.0/8", "10.1.2.3", 1, 1 },
	{ "10.0.0.0/8", "11.0.0.1", 1, 0 },
	{ "192.0.2.0/25", "192.0.2.127", 1, 1 },
	{ "192.0.2.0/25", "192.0.2.128", 1, 0 },
	{ "192.0.2.7", "192.0.2.7", 1, 1 },
	{ "192.0.2.7", "192.0.2.8", 1, 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1, 1 },
	{ "127.0.0.0/8", "::ffff:127.0.0.1", 1, 1 },
	{ "2001:db8::/32", "2001:db8:1::5", 1, 1 },
	{ "2001:db8::/32", "2001:db9::5", 1, 0 },
	{ "::1/128", "::1", 1, 1 },
	{ "::1/128", "127.0.0.1", 1, 0 },
	{ "10.0.0.0/8", "not-an-address", 1, 0 },
	{ "10.0.0.0/33", "", 0, 0 },
	{ "10.0.0.0/", "", 0, 0 },
	{ "10.0.0.0/x", "", 0, 0 },
	{ "example.com", "", 0, 0 },
	{ "", "", 0, 0 },
	{ "::1/129", "", 0, 0 },
};

/* test_net - parse and match */
static void
test_net(void)
{
	struct cidr n;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
		rc = cidr_parse(ncases[i].net, &n, err, sizeof(err));
		is_int(rc == 0, ncases[i].parse_ok, "parse '%s'%s%s",
		       ncases[i].net, rc ? ": " : "", rc ? err : "");
		if (rc == 0)
			is_int(cidr_match_text(&n, 1, ncases[i].addr),
			       ncases[i].want, "'%s' in %s", ncases[i].addr,
			       ncases[i].net);
	}
}

/* load - a snapshot with overrides */
static struct conf *
load(const char **ov, size_t n)
{
	char *errors = NULL;
	struct conf *c = conf_load(elemta_sections, NULL, ov, n, &errors);

	if (c == NULL)
		bail_out("conf_load: %s", errors ? errors : "?");
	return c;
}

/* test_headers - caps and forged A-R */
static void
test_headers(void)
{
	static const char *ov[] = {
		"milter.authserv_id=mx.elemta.test",
		"milter.max_headers=10",
		"milter.max_header_size=1k",
	};
	struct milter_conn *c = milter_conn_new(load(ov, 3), NULL);
	struct milter_msg *m = milter_msg_new(c, "<user@example.test>");
	char *big = x_malloc(2000);
	int i;

	memset(big, 'x', 1999);
	big[1999] = '\0';
	is_str(m->sender, "user@example.test", "sender without brackets");
	is_str(m->qid, "NOQUEUE", "queue id before the MTA has one");
	milter_msg_set_qid(m, "4A1B2C3D");
	milter_msg_set_qid(m, "");
	is_str(m->qid, "4A1B2C3D", "an empty queue id macro keeps the known one");

	milter_msg_header(m, "Authentication-Results",
			  " other.example; spf=pass");
	milter_msg_header(m, "Authentication-Results",
			  " MX.elemta.test; spf=pass");
	milter_msg_header(m, "Subject", big);
	for (i = 0; i < 20; i++)
		milter_msg_header(m, "X-Filler", " x");
	milter_msg_header(m, "authentication-results",
			  " mx.elemta.test 1; dkim=pass");
	is_int((long long)m->nheaders, 10, "max_headers kept");
	is_int((long long)m->headers_dropped, 14, "the rest counted as dropped");
	is_int(m->ar_seen, 3, "every A-R header counted past the caps");
	is_int((long long)m->nar_ours, 2, "two claim our authserv-id");
	if (m->nar_ours == 2) {
		is_int(m->ar_ours[0], 2, "first forged: A-R #2");
		is_int(m->ar_ours[1], 3, "second forged: A-R #3 (past the cap)");
	}
	milter_msg_rcpt(m, "<alice@example.test>");
	is_str(m->nrcpts ? m->rcpts[0] : "", "alice@example.test", "rcpt");

	m = milter_msg_new(c, "<>");
	is_str(c->msg == m ? m->sender : "?", "", "null sender; the new "
	       "message replaced the old one");
	free(big);
	milter_conn_free(&c);
	ok(c == NULL, "connection freed");
}

/* test_actions - the strongest action wins */
static void
test_actions(void)
{
	struct milter_conn *c = milter_conn_new(load(NULL, 0), NULL);
	struct milter_msg *m = milter_msg_new(c, "a@b");

	is_str(milter_action_name(m->action), "accept", "default verdict");
	milter_msg_action(m, "greylist", MILTER_QUARANTINE, NULL, NULL, "q");
	milter_msg_action(m, "spf", MILTER_TEMPFAIL, "451", "4.7.24", "t");
	milter_msg_action(m, "dkim", MILTER_QUARANTINE, NULL, NULL, "q2");
	is_str(milter_action_name(m->action), "tempfail", "tempfail beats quarantine");
	milter_msg_action(m, "dmarc", MILTER_REJECT, "550", "5.7.1", "r");
	milter_msg_action(m, "spf", MILTER_REJECT, "550", "5.7.23", "r2");
	is_str(milter_action_name(m->action), "reject", "reject beats tempfail");
	is_str(m->action_stage, "dmarc", "the first reject is kept");
	is_str(m->reply_xcode, "5.7.1", "its enhanced code");
	is_int(milter_action_parse("quarantine"), MILTER_QUARANTINE, "parse");
	is_int(milter_action_parse("bogus"), -1, "parse bogus");
	milter_msg_summary(m, "spf=%s", "pass");
	milter_msg_summary(m, "dkim=%s", "none");
	is_str(m->summary, "spf=pass dkim=none", "summary fragments joined");
	milter_conn_free(&c);
}

/* test_snapshot - a connection keeps its snapshot across a publication */
static void
test_snapshot(void)
{
	static const char *ov1[] = { "milter.authserv_id=first.example" };
	static const char *ov2[] = { "milter.authserv_id=second.example" };
	struct milter_conn *c;
	struct conf *cur;

	conf_publish(load(ov1, 1));
	c = milter_conn_new(conf_current(), NULL);
	conf_publish(load(ov2, 1));
	is_str(c->mc->authserv_id, "first.example",
	       "a connection keeps the snapshot it started with");
	cur = conf_current();
	is_str(((const struct milter_conf *)conf_get(cur,
		&milter_conf_section))->authserv_id, "second.example",
	       "new connections get the new one");
	conf_unref(&cur);
	milter_conn_free(&c);
	conf_publish(NULL);
	ok(1, "old snapshot released with its last connection");
}

int
main(void)
{
	plan_lazy();
	test_net();
	test_headers();
	test_actions();
	test_snapshot();
	done_testing();
	return exit_status();
}
