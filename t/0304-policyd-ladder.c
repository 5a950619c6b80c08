/*++
 * NAME
 *	0304-policyd-ladder 1
 * SUMMARY
 *	unit tests: configured limits, units, refunds, actions, exemptions
 * DESCRIPTION
 *	"limit NAME { }" sub-sections read from a real file (and the errors
 *	of bad ones), the built-ins and their replacement, keys of every
 *	kind, recipients counted at RCPT (retries and duplicates once) or
 *	at DATA from recipient_count, bytes at END-OF-MESSAGE (a recipient
 *	domain once per message, every domain, the recipients remembered
 *	bounded and logged), refunds of
 *	abandoned transactions (new instance, connection closed, but not a
 *	Postfix reconnecting mid-transaction), the action ladder with its
 *	texts, dry_run, and exemptions that a recipient or a sender address
 *	can never trigger; calendar quotas (per day, per month, in UTC and
 *	in another time zone) with their answers and retry times.  On a
 *	real SQLite store, with injected time.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "policyd-keys.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/elemta-t0304.XXXXXX";
static char lastlog[1024];
static int nlog;
static int64_t T0 = 1700000000000LL;

/* hook - keep the last log line */
static void
hook(int prio, const char *line)
{
	(void)prio;
	snprintf(lastlog, sizeof(lastlog), "%s", line);
	nlog++;
}

/* A request: state, then "name=value" strings. */
#define MAXA	12

/* ask - one request of sess; returns the action text (static buffer) */
static const char *
ask(struct policyd_policy *pol, struct policyd_session *sess, int64_t now,
    const char *state, const char *const *attrs)
{
	static char out[1200];
	static char copy[MAXA][300];
	struct policyd_req req;
	char reply[1024], *eq;
	size_t n, i;
	int a;

	memset(&req, 0, sizeof(req));
	req.v[POLICYD_A_REQUEST] = "smtpd_access_policy";
	req.v[POLICYD_A_PROTOCOL_STATE] = state;
	req.v[POLICYD_A_CLIENT_NAME] = "unknown";
	for (i = 0; attrs[i] != NULL && i < MAXA; i++) {
		snprintf(copy[i], sizeof(copy[i]), "%s", attrs[i]);
		if ((eq = strchr(copy[i], '=')) == NULL)
			bail_out("bad attribute %s", attrs[i]);
		*eq = '\0';
		if ((a = policyd_proto_attr_lookup(copy[i], strlen(copy[i])))
		    < 0)
			bail_out("unknown attribute %s", copy[i]);
		req.v[a] = eq + 1;
	}
	n = policyd_policy_decide_session(pol, sess, &req, now, reply,
					  sizeof(reply));
	if (n < 9 || strncmp(reply, "action=", 7) != 0
	    || strcmp(reply + n - 2, "\n\n") != 0)
		return "BAD REPLY FORMAT";
	snprintf(out, sizeof(out), "%.*s", (int)(n - 9), reply + 7);
	return out;
}

#define A(...)	((const char *const[]){ __VA_ARGS__, NULL })

/* write_conf - a configuration file in tmpdir; its path (static) */
static const char *
write_conf(const char *text)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/elemta.conf", tmpdir);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) < 0
	    || fclose(fp) != 0)
		bail_out("cannot write %s", path);
	return path;
}

/* load - a snapshot of text, or NULL with *errors */
static struct conf *
load(const char *text, char **errors)
{
	return conf_load(elemta_sections, write_conf(text), NULL, 0, errors);
}

/* A configuration that must be refused, and the error it must give. */
struct bad_conf {
	const char *text, *want;
};

/* refused - each of n bad configurations is refused with its error */
static void
refused(const char *what, const struct bad_conf *bad, size_t n)
{
	struct conf *c;
	char *errors;
	size_t i;

	for (i = 0; i < n; i++) {
		errors = NULL;
		c = load(bad[i].text, &errors);
		ok(c == NULL, "bad %s %zu refused", what, i);
		like_str(errors ? errors : "", bad[i].want, "error %zu says"
			 " so", i);
		conf_unref(&c);
		x_free(&errors);
	}
}

/* test_conf - sub-sections, built-ins, errors */
static void
test_conf(void)
{
	static const struct bad_conf bad[] = {
		{ "policyd { limit a { key = nobody\nrate = 1 } }",
		  "limit 'a': key: unknown value 'nobody' (client_ip," },
		{ "policyd { limit a { unit = kg\nrate = 1 } }",
		  "limit 'a': unit: unknown value 'kg'" },
		{ "policyd { limit a { action = shout\nrate = 1 } }",
		  "limit 'a': action: unknown value 'shout'" },
		{ "policyd { limit a { key = global } }",
		  "limit 'a': rate is not set" },
		{ "policyd { limit a { rate = 1\nperiod = 0 } }",
		  "limit 'a': period out of range" },
		{ "policyd { limit a { rate = 1\nprefix_v4 = 33 } }",
		  "prefix_v4 is 8-32" },
		{ "policyd { limit a { rate = 1 }\nlimit a { rate = 2 } }",
		  "" },
		{ "policyd { limit \"a b\" { rate = 1 } }",
		  "a name is 1-64 letters" },
		{ "policyd {\nexempt_networks = {\"10.0.0.0/33\"} }",
		  "elemta.conf:2: option 'exempt_networks': '10.0.0.0/33': "
		  "bad prefix length (0-32)" },
		{ "policyd {\nexempt_networks = {\"bogus\"} }",
		  "'bogus': not an IPv4 or IPv6 address" },
		{ "policyd { ldap_base = \"dc=x\"\nlimit a { rate = 1\n"
		  "ldap_attribute = \"mailRateLimit\" } }",
		  "limit 'a': ldap_attribute needs key = sasl_user" },
		{ "policyd { limit a { key = sasl_user\nrate = 1\n"
		  "ldap_attribute = \"mailRateLimit\" } }",
		  "a limit has an ldap_attribute: ldap_base must be set" },
		{ "policyd { ldap_base = \"dc=x\"\nlimit a { key = sasl_user\n"
		  "rate = 1\nldap_attribute = \"a b\" } }",
		  "limit 'a': ldap_attribute: 'a b' is not an LDAP attribute" },
		{ "policyd {\nldap_filter = \"uid=%s\" }",
		  "elemta.conf:2: option 'ldap_filter': filter 'uid=%s' does"
		  " not start with '('" },
		{ "policyd {\nldap_wait_ms = 0 }", "ldap_wait_ms" },
	};
	const struct policyd_conf *pc;
	struct policyd_limit_conf *l;
	struct conf *c;
	char *errors;
	size_t n;

	c = load("policyd {\n"
		 " exempt_networks = {\"10.0.0.0/8\", \"2001:db8::/32\"}\n"
		 " exempt_sasl_users = {\"relay\"}\n"
		 " limit rcpts { key = sasl_user\nunit = recipients\n"
		 "rate = 500\nperiod = 1d\naction = hold }\n"
		 " limit big { key = sender_domain\nunit = bytes\nrate = 100\n"
		 "period = 10m\naction = warn\nprepend = \"X-Big\"\n"
		 "dry_run = true }\n"
		 " limit client_message { rate = 5\naction = reject }\n"
		 " sasl_user_message_limit = 0\n"
		 "}\n", &errors);
	if (c == NULL)
		bail_out("conf: %s", errors);
	pc = conf_get(c, &policyd_conf_section);
	is_int((long long)pc->nlimits, 3, "three limit sub-sections");
	is_int((long long)pc->nexempt_networks, 2, "two exempt networks");
	is_str(pc->exempt_sasl_users[0], "relay", "an exempt user");
	is_str(pc->limits[0].name, "rcpts", "first limit, by name");
	is_int(pc->limits[0].key, POLICYD_KEY_SASL_USER, "its key");
	is_int(pc->limits[0].unit, POLICYD_UNIT_RECIPIENTS, "its unit");
	is_int((long long)pc->limits[0].rate.max, 500, "its rate");
	is_int(pc->limits[0].rate.period, 86400, "its period (1d)");
	is_int(pc->limits[0].action, POLICYD_ACTION_HOLD, "its action");
	is_int(pc->limits[1].dry_run, 1, "dry_run");
	is_str(pc->limits[1].prepend, "X-Big", "prepend");
	is_int(pc->limits[2].key, POLICYD_KEY_CLIENT_IP,
	       "key defaults to client_ip");
	l = policyd_conf_limits(pc, &n);
	is_int((long long)n, 3, "effective: client_message replaced, "
	       "sasl_user_message off (0)");
	is_str(l[2].name, "client_message", "the replacement is in file order");
	is_int(l[2].action, POLICYD_ACTION_REJECT, "with its own action");
	policyd_conf_limits_free(&l, n);
	conf_unref(&c);

	c = load("", &errors);
	if (c == NULL)
		bail_out("conf: %s", errors);
	l = policyd_conf_limits(conf_get(c, &policyd_conf_section), &n);
	is_int((long long)n, 2, "defaults: two built-in limits");
	is_str(l[0].name, "client_message", "client_message");
	is_int((long long)l[0].rate.max, 100, "100 ...");
	is_int(l[0].rate.period, 3600, "... per hour");
	is_int(l[0].clients, POLICYD_CLIENTS_UNAUTHENTICATED,
	       "for unauthenticated clients");
	is_str(l[1].name, "sasl_user_message", "sasl_user_message");
	is_int((long long)l[1].rate.max, 1000, "1000 per hour");
	policyd_conf_limits_free(&l, n);
	conf_unref(&c);

	refused("configuration", bad, sizeof(bad) / sizeof(bad[0]));
}

/* test_keys - the key of each kind of limit */
static void
test_keys(void)
{
	static const struct {
		enum policyd_key key;
		enum policyd_clients clients;
		const char *want, *who;
	} t[] = {
		{ POLICYD_KEY_CLIENT_IP, POLICYD_CLIENTS_ALL,
		  "ip:192.0.2.0/24", "client 192.0.2.0/24" },
		{ POLICYD_KEY_CLIENT_IP, POLICYD_CLIENTS_UNAUTHENTICATED,
		  NULL, NULL },
		{ POLICYD_KEY_SASL_USER, POLICYD_CLIENTS_ALL, "user:Alice",
		  "user Alice" },
		{ POLICYD_KEY_SENDER, POLICYD_CLIENTS_ALL,
		  "sender:a.b@example.org", "sender <a.b@example.org>" },
		{ POLICYD_KEY_SENDER_DOMAIN, POLICYD_CLIENTS_AUTHENTICATED,
		  "sdom:example.org", "sender domain example.org" },
		{ POLICYD_KEY_RECIPIENT_DOMAIN, POLICYD_CLIENTS_ALL,
		  "rdom:example.net", "recipient domain example.net" },
		{ POLICYD_KEY_LISTENER, POLICYD_CLIENTS_ALL,
		  "listener:submission", "listener submission" },
		{ POLICYD_KEY_GLOBAL, POLICYD_CLIENTS_ALL, "global:",
		  "this server" },
	};
	struct policyd_limit_conf lc;
	struct policyd_req req;
	char out[300], who[200];
	size_t i;
	int rc;

	memset(&req, 0, sizeof(req));
	req.v[POLICYD_A_CLIENT_ADDRESS] = "192.0.2.77";
	req.v[POLICYD_A_SASL_USERNAME] = "Alice";
	req.v[POLICYD_A_SENDER] = "A.B@Example.ORG";
	req.v[POLICYD_A_RECIPIENT] = "x@EXAMPLE.net";
	req.v[POLICYD_A_POLICY_CONTEXT] = "submission";
	req.v[POLICYD_A_SERVER_PORT] = "587";
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&lc, 0, sizeof(lc));
		lc.key = t[i].key;
		lc.clients = t[i].clients;
		lc.prefix_v4 = 24;
		lc.prefix_v6 = 64;
		rc = policyd_keys_value(&lc, &req, NULL, out, sizeof(out));
		if (t[i].want == NULL) {
			is_int(rc, -1, "key %zu: does not apply", i);
			continue;
		}
		is_str(rc == 0 ? out : "(none)", t[i].want, "key %zu", i);
		policyd_keys_who(&lc, out, who, sizeof(who));
		is_str(who, t[i].who, "key %zu, for people", i);
	}
	memset(&lc, 0, sizeof(lc));
	lc.key = POLICYD_KEY_SENDER_DOMAIN;
	req.v[POLICYD_A_SENDER] = "";
	is_int(policyd_keys_value(&lc, &req, NULL, out, sizeof(out)), -1,
	       "sender_domain: not for the null sender");
	lc.key = POLICYD_KEY_SENDER;
	policyd_keys_value(&lc, &req, NULL, out, sizeof(out));
	is_str(out, "sender:<>", "sender: the null sender is <>");
	/* control characters (a bare CR in a value) are escaped: a key
	 * goes into logs and, through the answer, to the client */
	req.v[POLICYD_A_SENDER] = "A\rB@X\x7f.test";
	policyd_keys_value(&lc, &req, NULL, out, sizeof(out));
	is_str(out, "sender:a\\x0db@x\\x7f.test",
	       "sender: control characters escaped");
	policyd_keys_who(&lc, out, who, sizeof(who));
	is_str(who, "sender <a\\x0db@x\\x7f.test>", "in the text too");
	lc.key = POLICYD_KEY_SASL_USER;
	req.v[POLICYD_A_SASL_USERNAME] = "u\nv";
	policyd_keys_value(&lc, &req, NULL, out, sizeof(out));
	is_str(out, "user:u\\x0av", "sasl_user: likewise");
	lc.key = POLICYD_KEY_LISTENER;
	req.v[POLICYD_A_POLICY_CONTEXT] = NULL;
	policyd_keys_value(&lc, &req, NULL, out, sizeof(out));
	is_str(out, "listener:587", "listener: server_port without a"
	       " policy_context");
}

/* setup - a policy on a fresh store with the limits of conf text */
static struct policyd_policy *
setup(const char *text, struct policyd_store **sp, struct conf **cp)
{
	struct policyd_policy *pol;
	char path[300], err[256], *errors;

	snprintf(path, sizeof(path), "%s/policyd.db", tmpdir);
	unlink(path);
	if ((*sp = policyd_store_sqlite_open(path, 1000, 1000, err,
					     sizeof(err))) == NULL)
		bail_out("store: %s", err);
	if ((*cp = load(text, &errors)) == NULL)
		bail_out("conf: %s", errors);
	pol = policyd_policy_new(*sp);
	policyd_policy_configure(pol, conf_get(*cp, &policyd_conf_section));
	return pol;
}

/* teardown - free what setup made */
static void
teardown(struct policyd_policy **pol, struct policyd_store **s,
	 struct conf **c)
{
	policyd_policy_free(pol);
	policyd_store_close(s);
	conf_unref(c);
}

/* test_recipients - recipients at RCPT, once each; at DATA by count */
static void
test_recipients(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd { client_message_limit = 0"
		"\nlimit r { unit = recipients\nrate = 5 } }", &s, &c);
	const char *a;

	is_str(ask(pol, NULL, T0, "RCPT", A("instance=t1",
	       "client_address=192.0.2.1", "recipient=a@x.test")), "DUNNO",
	       "recipient 1");
	is_str(ask(pol, NULL, T0, "RCPT", A("instance=t1",
	       "client_address=192.0.2.1", "recipient=a@x.test")), "DUNNO",
	       "recipient 1 again (a retry)");
	is_str(ask(pol, NULL, T0, "RCPT", A("instance=t1",
	       "client_address=192.0.2.1", "recipient=b@x.test")), "DUNNO",
	       "recipient 2");
	is_str(ask(pol, NULL, T0, "DATA", A("instance=t1",
	       "client_address=192.0.2.1", "recipient_count=2")), "DUNNO",
	       "DATA counts nothing more");
	is_str(ask(pol, NULL, T0, "END-OF-MESSAGE", A("instance=t1",
	       "client_address=192.0.2.1", "recipient_count=2",
	       "size=100")), "DUNNO", "END-OF-MESSAGE neither");
	/* a transaction checked at DATA only: recipient_count */
	is_str(ask(pol, NULL, T0 + 1, "DATA", A("instance=t2",
	       "client_address=192.0.2.1", "recipient_count=3")), "DUNNO",
	       "3 recipients counted at DATA (5 of 5)");
	a = ask(pol, NULL, T0 + 2, "RCPT", A("instance=t3",
		"client_address=192.0.2.1", "recipient=c@x.test"));
	is_str(a, "450 4.7.1 Recipient rate limit exceeded for client "
	       "192.0.2.1 (5 per 1h), try again in 3600 s",
	       "the 6th recipient is deferred");
	like_str(lastlog, "NOQUEUE: policyd action=defer limit=r "
		 "key=ip:192.0.2.1 used=5 max=5", "and logged");
	is_str(ask(pol, NULL, T0 + 2, "DATA", A("instance=t4",
	       "client_address=192.0.2.1", "recipient_count=1")),
	       "450 4.7.1 Recipient rate limit exceeded for client "
	       "192.0.2.1 (5 per 1h), try again in 3600 s",
	       "so is a DATA with one more");
	is_str(ask(pol, NULL, T0 + 2, "RCPT", A("instance=t5",
	       "client_address=192.0.2.2", "recipient=c@x.test")), "DUNNO",
	       "another client is not affected");
	teardown(&pol, &s, &c);
}

/* test_bytes - bytes at END-OF-MESSAGE, refused early when over */
static void
test_bytes(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd { client_message_limit = 0"
		"\nlimit b { key = sender\nunit = bytes\nrate = 1000\n"
		"action = reject } }", &s, &c);

	is_str(ask(pol, NULL, T0, "RCPT", A("instance=b1",
	       "sender=s@x.test", "recipient=r@y.test")), "DUNNO",
	       "RCPT: bytes are not counted yet");
	is_str(ask(pol, NULL, T0, "END-OF-MESSAGE", A("instance=b1",
	       "sender=s@x.test", "size=600")), "DUNNO",
	       "600 bytes at END-OF-MESSAGE");
	is_str(ask(pol, NULL, T0, "END-OF-MESSAGE", A("instance=b1",
	       "sender=s@x.test", "size=600")), "DUNNO",
	       "its retry is not counted again");
	is_str(ask(pol, NULL, T0 + 1, "RCPT", A("instance=b2",
	       "sender=s@x.test", "recipient=r@y.test")), "DUNNO",
	       "the next message may start (400 left)");
	is_str(ask(pol, NULL, T0 + 1, "RCPT", A("instance=b3",
	       "sender=s@x.test", "recipient=r@y.test", "size=500")),
	       "550 5.7.1 Byte rate limit exceeded for sender <s@x.test> "
	       "(1000 per 1h)", "one announcing SIZE=500 is refused at RCPT");
	is_str(ask(pol, NULL, T0 + 2, "END-OF-MESSAGE", A("instance=b2",
	       "sender=s@x.test", "size=401")),
	       "550 5.7.1 Byte rate limit exceeded for sender <s@x.test> "
	       "(1000 per 1h)", "401 bytes more are rejected at the end");
	is_str(ask(pol, NULL, T0 + 2, "END-OF-MESSAGE", A("instance=b4",
	       "sender=s@x.test", "size=400")), "DUNNO",
	       "400 pass (1000 of 1000)");
	is_str(ask(pol, NULL, T0 + 2, "END-OF-MESSAGE", A("instance=b5",
	       "sender=S@X.TEST", "size=1")),
	       "550 5.7.1 Byte rate limit exceeded for sender <s@x.test> "
	       "(1000 per 1h)", "senders are compared without case");
	teardown(&pol, &s, &c);
}

/* test_refunds - abandoned transactions give back what they took */
static void
test_refunds(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd {"
		"\nclient_message_limit = \"2/1h\""
		"\nlimit r { unit = recipients\nrate = 3 } }", &s, &c);
	struct policyd_session *s1 = policyd_policy_session_new();
	struct policyd_session *s2 = policyd_policy_session_new();
	char *m;

#define RC(sess, t, inst, rcpt) ask(pol, sess, T0 + (t), "RCPT", \
	A("instance=" inst, "client_address=192.0.2.9", "recipient=" rcpt))
#define EOM(sess, t, inst) ask(pol, sess, T0 + (t), "END-OF-MESSAGE", \
	A("instance=" inst, "client_address=192.0.2.250"))
	/* a connection that never sent END-OF-MESSAGE refunds nothing */
	is_str(RC(s2, 0, "n1", "a@x"), "DUNNO", "no EOM yet: message 1");
	is_str(ask(pol, s2, T0, "MAIL", A("instance=n2")), "DUNNO",
	       "a new instance");
	is_str(RC(s2, 0, "n2", "b@x"), "DUNNO", "message 2");
	is_str(RC(s2, 0, "n2", "c@x"), "DUNNO", "...");
	like_str(RC(s2, 0, "n3", "d@x"), "450 4.7.1", "message 1 was not "
		 "refunded (finished, for all we know)");
	policyd_policy_session_end(pol, &s2, T0);
	s2 = policyd_policy_session_new();
	is_str(EOM(s2, 0, "w2"), "DUNNO", "a connection sending EOM");
	is_str(EOM(s1, 0, "w1"), "DUNNO", "another one");
	T0 += 3600000;
	is_str(RC(s1, 0, "r1", "a@x"), "DUNNO", "message 1, recipient 1");
	is_str(RC(s1, 0, "r1", "b@x"), "DUNNO", "message 1, recipient 2");
	is_str(ask(pol, s1, T0 + 1, "MAIL", A("instance=r2",
	       "client_address=192.0.2.9")), "DUNNO",
	       "RSET, a new MAIL: a new instance on the connection");
	is_str(RC(s1, 2, "r2", "a@x"), "DUNNO", "message 2, recipient 1");
	is_str(RC(s1, 2, "r2", "b@x"), "DUNNO", "recipient 2");
	is_str(RC(s1, 2, "r2", "c@x"), "DUNNO",
	       "recipient 3: the abandoned message's 2 were refunded");
	is_str(ask(pol, s1, T0 + 3, "END-OF-MESSAGE", A("instance=r2",
	       "client_address=192.0.2.9")), "DUNNO", "message 2 is sent");
	is_str(RC(s1, 4, "r3", "d@x"),
	       "450 4.7.1 Recipient rate limit exceeded for client "
	       "192.0.2.9 (3 per 1h), try again in 3600 s",
	       "a finished message is never refunded");
	policyd_policy_session_end(pol, &s1, T0 + 5);
	ok(s1 == NULL, "session end clears the pointer");

	/* a connection closing mid-transaction (an hour later) */
#define H2	3700000
	s1 = policyd_policy_session_new();
	EOM(s1, H2, "w3");
	is_str(RC(s1, H2, "r4", "a@x"), "DUNNO", "message 4 starts");
	policyd_policy_session_end(pol, &s1, T0 + H2 + 1);
	s1 = policyd_policy_session_new();
	EOM(s1, H2 + 2, "w4");
	is_str(RC(s1, H2 + 3, "r5", "a@x"), "DUNNO", "message 5 ...");
	is_str(RC(s1, H2 + 3, "r5", "b@x"), "DUNNO", "...");
	is_str(RC(s1, H2 + 3, "r5", "c@x"), "DUNNO",
	       "... has 3 recipients: message 4 was refunded at the close");
	/* Postfix reconnecting in the middle: the txn moves, no refund */
	is_str(ask(pol, s2, T0 + H2 + 4, "DATA", A("instance=r5",
	       "client_address=192.0.2.9", "recipient_count=3")), "DUNNO",
	       "its DATA on another connection");
	policyd_policy_session_end(pol, &s1, T0 + H2 + 5);
	is_str(ask(pol, s2, T0 + H2 + 5, "END-OF-MESSAGE", A("instance=r5",
	       "client_address=192.0.2.9", "recipient_count=3")), "DUNNO",
	       "and its END-OF-MESSAGE");
	is_str(RC(s2, H2 + 6, "r6", "a@x"),
	       "450 4.7.1 Recipient rate limit exceeded for client "
	       "192.0.2.9 (3 per 1h), try again in 3600 s",
	       "the old connection's close refunded nothing");
	policyd_policy_session_end(pol, &s2, T0 + H2 + 7);
	m = metrics_render(NULL);
	like_str(m, "elemta_policyd_refunds_total{reason=\"abandoned\"} 3",
		 "refunds counted (new instance: 3 takes)");
	like_str(m, "elemta_policyd_refunds_total{reason=\"disconnect\"} 2",
		 "refunds counted (disconnect: 2 takes)");
	x_free(&m);
#undef RC
#undef H2
#undef EOM
	T0 -= 3600000;
	teardown(&pol, &s, &c);
}

/* test_ladder - warn, hold, defer, reject; strongest wins; dry_run */
static void
test_ladder(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd { client_message_limit = 0"
		"\nlimit w { key = sender\nrate = 1\naction = warn\n"
		"prepend = \"X-Rate-Warning\" }"
		"\nlimit w2 { key = sender_domain\nrate = 1\naction = warn\n"
		"prepend = \"X-Custom: over\" }"
		"\nlimit h { key = sasl_user\nrate = 1\naction = hold }"
		"\nlimit d { key = client_ip\nrate = 2\naction = defer }"
		"\nlimit rj { key = global\nrate = 5\naction = reject }"
		"\nlimit dry { key = client_ip\nrate = 1\naction = reject\n"
		"dry_run = true } }", &s, &c);
	char *m;
	int before;

#define MSG(t, inst, addr, user, sender) ask(pol, NULL, T0 + (t), "RCPT", \
	A("instance=" inst, "client_address=" addr, "sasl_username=" user, \
	  "sender=" sender, "recipient=r@y.test"))
	before = nlog;
	is_str(MSG(0, "l1", "192.0.2.1", "u1", "s1@a.test"), "DUNNO",
	       "first message: under every limit");
	is_int(nlog - before, 0, "nothing logged");
	before = nlog;
	is_str(MSG(1, "l2", "192.0.2.1", "u2", "s1@a.test"),
	       "PREPEND X-Rate-Warning: Message rate limit exceeded for "
	       "sender <s1@a.test> (1 per 1h)",
	       "warn: PREPEND a header named by prepend, text added");
	is_int(nlog - before, 3, "three lines logged: two warns, a dry run");
	like_str(lastlog, "NOQUEUE: policyd action=reject dry_run=yes "
		 "limit=dry key=ip:192.0.2.1 used=1 max=1",
		 "dry_run logs what it would have done");
	is_str(MSG(2, "l3", "192.0.2.2", "u3", "s2@a.test"),
	       "PREPEND X-Custom: over", "a prepend with ':' is the header");
	is_str(MSG(3, "l4", "192.0.2.3", "u3", "s3@c.test"),
	       "HOLD triggers HOLD action: Message rate limit exceeded for "
	       "user u3 (1 per 1h)",
	       "hold beats nothing");
	is_str(MSG(4, "l5", "192.0.2.1", "u4", "s1@a.test"),
	       "450 4.7.1 Message rate limit exceeded for client 192.0.2.1 "
	       "(2 per 1h), try again in 3600 s",
	       "defer beats warn (and the dry run)");
	is_str(MSG(5, "l6", "192.0.2.9", "u5", "s9@d.test"), "DUNNO",
	       "the server's 5th message (the deferred one was refunded)");
	is_str(MSG(6, "l7", "192.0.2.1", "u3", "s1@a.test"),
	       "550 5.7.1 Message rate limit exceeded for this server "
	       "(5 per 1h)", "reject beats defer, hold and warn");
	m = metrics_render(NULL);
	like_str(m, "elemta_policyd_limit_hits_total{limit=\"w\"} 3",
		 "hits by limit name");
	like_str(m, "elemta_policyd_limit_dry_run_hits_total{limit=\"dry\"}",
		 "dry-run hits by limit name");
	like_str(m, "elemta_policyd_requests_total{state=\"RCPT\","
		 "action=\"hold\"} 1", "answers by action");
	x_free(&m);
#undef MSG
	teardown(&pol, &s, &c);
}

/* test_exempt - networks and users; never recipients or senders */
static void
test_exempt(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd {"
		"\nclient_message_limit = \"1/1h\""
		"\nsasl_user_message_limit = \"1/1h\""
		"\nexempt_networks = {\"10.1.0.0/16\", \"2001:db8:5::/48\"}"
		"\nexempt_sasl_users = {\"postmaster\", \"relay\"}"
		"\nlimit g { key = global\nrate = 5\naction = reject } }",
		&s, &c);
	int i, n;
	char inst[32];
	const char *a;

	for (i = n = 0; i < 4; i++) {
		snprintf(inst, sizeof(inst), "instance=e%d", i);
		n += strcmp(ask(pol, NULL, T0, "RCPT", A("client_address="
			"10.1.2.3", "recipient=r@y.test", inst)),
			"DUNNO") == 0;
	}
	is_int(n, 4, "an exempt network: 4 messages over a limit of 1");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=2001:db8:5:1::9",
	       "instance=v6")), "DUNNO", "an exempt IPv6 network");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=::ffff:10.1.0.1",
	       "instance=v4m")), "DUNNO", "a v4-mapped address");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.1",
	       "sasl_username=relay", "instance=u1")), "DUNNO",
	       "an exempt user, 1");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.1",
	       "sasl_username=relay", "instance=u2")), "DUNNO",
	       "an exempt user, 2");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.1",
	       "sasl_username=Relay", "instance=u3")), "DUNNO",
	       "Relay is another user: counted (1 of 1)");
	like_str(ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.1",
		 "sasl_username=Relay", "instance=u4")), "450 4.7.1",
		 "and limited");
	is_str(ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.50",
	       "recipient=postmaster@example.test", "instance=p1")), "DUNNO",
	       "client 192.0.2.50, message 1");
	a = ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.50",
		"recipient=postmaster", "instance=p2"));
	like_str(a, "450 4.7.1 Message rate limit exceeded for client "
		 "192.0.2.50", "a recipient named like an exempt user does not"
		 " lift the sender's limit");
	a = ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.50",
		"sender=postmaster", "sasl_username=",
		"recipient=postmaster@example.test", "instance=p3"));
	like_str(a, "450 4.7.1", "neither does a sender address");
	a = ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.51",
		"recipient=relay@10.1.0.1", "instance=p4"));
	is_str(a, "DUNNO", "another client: 1 of 1");
	a = ask(pol, NULL, T0, "RCPT", A("client_address=192.0.2.51",
		"recipient=relay@[10.1.0.1]", "instance=p5"));
	like_str(a, "450 4.7.1", "nor a recipient in an exempt network");
	teardown(&pol, &s, &c);
}

/* test_quota - calendar quotas: configuration, answers, the time zone */
static void
test_quota(void)
{
	static const struct bad_conf bad[] = {
		{ "policyd { limit a { rate = 1\nperiod = fortnight } }",
		  "option 'period': bad duration 'fortnight'" },
		{ "policyd {\ncalendar_time_zone = \"Mars/Olympus\" }",
		  "elemta.conf:2: option 'calendar_time_zone': unknown time"
		  " zone 'Mars/Olympus'" },
		{ "policyd { sasl_user_message_limit = \"5/week\" }",
		  "bad period in rate '5/week'" },
	};
	/* T0 is 2023-11-14 22:13:20 UTC: 6400 s to midnight UTC; in
	 * Tokyo (UTC+9, no summer time) 07:13:20 on the 15th, 60400 s */
	const int64_t mid = T0 + 6400 * 1000LL;
	const int64_t dec1 = mid + 16 * 86400 * 1000LL;
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol;

	refused("quota configuration", bad, sizeof(bad) / sizeof(bad[0]));
	pol = setup("policyd { client_message_limit = 0\n"
		    "sasl_user_message_limit = \"2/day\"\n"
		    "limit monthly { key = sender_domain\nrate = 3\n"
		    "period = month\naction = reject } }", &s, &c);
#define QU(t, inst, user, from) ask(pol, NULL, (t), "RCPT", \
	A("instance=" inst, "client_address=192.0.2.60", \
	  "sasl_username=" user, "sender=" from))
	is_str(QU(T0, "q1", "alice", "a@q.test"), "DUNNO", "alice 1 of 2");
	is_str(QU(T0, "q2", "alice", "a@q.test"), "DUNNO", "alice 2 of 2");
	is_str(QU(T0 + 1, "q3", "alice", "a@q.test"),
	       "450 4.7.1 Message quota exceeded for user alice (2 per day),"
	       " try again in 6400 s", "the 3rd waits for midnight UTC");
	like_str(lastlog, "limit=sasl_user_message key=user:alice used=2 "
		 "max=2 period=day retry=6400s", "logged with period=day");
	is_str(QU(mid - 1, "q4", "alice", "a@q.test"),
	       "450 4.7.1 Message quota exceeded for user alice (2 per day),"
	       " try again in 1 s", "23:59:59.999: 1 s");
	is_str(QU(mid, "q5", "alice", "a@q.test"), "DUNNO",
	       "00:00:00.000: a new day (and the monthly 3 of 3)");
	is_str(QU(mid, "q6", "bob", "b@q.test"),
	       "550 5.7.1 Message quota exceeded for sender domain q.test (3"
	       " per month)", "a monthly quota, rejecting");
	is_str(QU(dec1 - 1, "q7", "bob", "b@q.test"),
	       "550 5.7.1 Message quota exceeded for sender domain q.test (3"
	       " per month)", "still on November 30th, 23:59:59.999");
	is_str(QU(dec1, "q8", "bob", "b@q.test"), "DUNNO",
	       "December 1st, 00:00 UTC: counted afresh");
	teardown(&pol, &s, &c);

	pol = setup("policyd { client_message_limit = 0\n"
		    "calendar_time_zone = \"Asia/Tokyo\"\n"
		    "sasl_user_message_limit = \"1/day\" }", &s, &c);
	is_str(QU(T0, "z1", "carol", "c@q.test"), "DUNNO", "Tokyo: 1 of 1");
	is_str(QU(T0, "z2", "carol", "c@q.test"),
	       "450 4.7.1 Message quota exceeded for user carol (1 per day),"
	       " try again in 60400 s", "the reset is Tokyo's midnight");
	is_str(QU(mid, "z3", "carol", "c@q.test"),
	       "450 4.7.1 Message quota exceeded for user carol (1 per day),"
	       " try again in 54000 s", "UTC's midnight is no reset there");
	is_str(QU(T0 + 60400 * 1000LL, "z4", "carol", "c@q.test"), "DUNNO",
	       "Tokyo's is");
	teardown(&pol, &s, &c);
#undef QU
}

/* main - run the groups in a temporary directory */
/* rdom_eom - one transaction of user u to n recipients (the i-th in
 * domain TAG<i / per>.test), then END-OF-MESSAGE with size; the first
 * answer other than DUNNO, or END-OF-MESSAGE's */
static const char *
rdom_eom(struct policyd_policy *pol, int64_t now, const char *inst,
	 const char *tag, int n, int per, int size)
{
	char a_inst[64], a_rcpt[80], a_size[32];
	const char *a;
	int i;

	snprintf(a_inst, sizeof(a_inst), "instance=%s", inst);
	for (i = 0; i < n; i++) {
		snprintf(a_rcpt, sizeof(a_rcpt), "recipient=r%d@%s%d.test",
			 i, tag, i / per);
		a = ask(pol, NULL, now, "RCPT", A(a_inst, "sasl_username=u",
			"client_address=192.0.2.9", a_rcpt));
		if (strcmp(a, "DUNNO") != 0)
			return a;
	}
	snprintf(a_size, sizeof(a_size), "size=%d", size);
	return ask(pol, NULL, now, "END-OF-MESSAGE", A(a_inst,
		   "sasl_username=u", "client_address=192.0.2.9", a_size));
}

/* rdom_room - how many of domains TAG0..TAG<n-1>.test still take a
 * message of size bytes (a RCPT announcing SIZE=) */
static int
rdom_room(struct policyd_policy *pol, int64_t now, const char *tag, int n,
	  int size)
{
	char a_inst[64], a_rcpt[80], a_size[32];
	int i, room = 0;

	snprintf(a_size, sizeof(a_size), "size=%d", size);
	for (i = 0; i < n; i++) {
		snprintf(a_inst, sizeof(a_inst), "instance=room.%s.%d.%d",
			 tag, i, size);
		snprintf(a_rcpt, sizeof(a_rcpt), "recipient=z@%s%d.test", tag,
			 i);
		room += strcmp(ask(pol, NULL, now, "RCPT", A(a_inst,
			       "sasl_username=u", "client_address=192.0.2.9",
			       a_rcpt, a_size)), "DUNNO") == 0;
	}
	return room;
}

/* test_rdom_bytes - a recipient_domain byte limit at END-OF-MESSAGE:
 * each domain charged once per message, whatever its number of
 * recipients, and every domain charged however many there are; past
 * the recipients a transaction remembers, store_fail_action */
static void
test_rdom_bytes(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd { client_message_limit = 0"
		"\nsasl_user_message_limit = 0\nstore_fail_action = defer\n"
		"limit d { key = recipient_domain\nunit = bytes\nrate = 1000\n"
		"action = reject } }", &s, &c);
	char a_rcpt[80];
	const char *a = "DUNNO";
	int i;

	is_str(rdom_eom(pol, T0, "rd1", "a", 2, 2, 600), "DUNNO",
	       "two recipients in a0.test, 600 bytes");
	is_int(rdom_room(pol, T0 + 1, "a", 1, 400), 1,
	       "a0.test was charged 600 once, not twice: 400 more fit");
	is_int(rdom_room(pol, T0 + 1, "a", 1, 401), 0, "401 do not");
	is_str(rdom_eom(pol, T0 + 2, "rd2", "b", 70, 1, 600), "DUNNO",
	       "70 recipients in 70 domains, 600 bytes");
	is_int(rdom_room(pol, T0 + 3, "b", 70, 401), 0,
	       "every one of the 70 domains was charged (none takes 401"
	       " more)");
	is_int(rdom_room(pol, T0 + 3, "b", 70, 400), 70,
	       "once each (all take 400)");
	/* the recipients a transaction remembers: 10000, then
	 * store_fail_action (defer here) */
	for (i = 0; i < 10000 && strcmp(a, "DUNNO") == 0; i++) {
		snprintf(a_rcpt, sizeof(a_rcpt), "recipient=r%d@c.test", i);
		a = ask(pol, NULL, T0 + 4, "RCPT", A("instance=rd3",
			"sasl_username=u", "client_address=192.0.2.9",
			a_rcpt));
	}
	is_str(a, "DUNNO", "10000 recipients remembered");
	a = ask(pol, NULL, T0 + 4, "RCPT", A("instance=rd3",
		"sasl_username=u", "client_address=192.0.2.9",
		"recipient=one-more@c.test"));
	is_str(a, "451 4.3.0 Rate limit service temporarily unavailable, try"
	       " again later", "the 10001st: store_fail_action (defer)");
	like_str(lastlog, "policyd too many recipients in one transaction"
		 " (10000): recipient=<one-more@c.test> not remembered,"
		 " action=defer", "and logged");
	a = ask(pol, NULL, T0 + 4, "RCPT", A("instance=rd3",
		"sasl_username=u", "client_address=192.0.2.9",
		"recipient=R9999@C.test"));
	is_str(a, "DUNNO", "a retry of a remembered one is still fine");
	teardown(&pol, &s, &c);
}

/* The answers of a batch, by owner. */
static char batch_got[8][200];

/* batch_done - keep the answer of request (int)owner */
static void
batch_done(void *owner, const char *reply, size_t len, void *arg)
{
	int i = (int)(intptr_t)owner;

	(void)arg;
	snprintf(batch_got[i], sizeof(batch_got[i]), "%.*s",
		 len > 9 ? (int)(len - 9) : 0, reply + 7);
}

/* test_batch - requests of several connections decided together give
 * the answers of deciding them one by one; one per session and per
 * transaction; other states answered at once */
static void
test_batch(void)
{
	struct policyd_store *s;
	struct conf *c;
	struct policyd_policy *pol = setup("policyd { client_message_limit ="
		" \"3/1h\" }", &s, &c);
	struct policyd_session *sess[6];
	struct policyd_batch *b = policyd_policy_batch_new();
	struct policyd_req req[6];
	char inst[6][16], reply[1024];
	size_t n;
	int i, joined = 0;

	for (i = 0; i < 6; i++) {
		sess[i] = policyd_policy_session_new();
		memset(&req[i], 0, sizeof(req[i]));
		snprintf(inst[i], sizeof(inst[i]), "bt%d", i);
		req[i].v[POLICYD_A_REQUEST] = "smtpd_access_policy";
		req[i].v[POLICYD_A_PROTOCOL_STATE] = "RCPT";
		req[i].v[POLICYD_A_CLIENT_ADDRESS] = "192.0.2.77";
		req[i].v[POLICYD_A_INSTANCE] = inst[i];
	}
	for (i = 0; i < 5; i++)
		joined += policyd_policy_batch_add(pol, b, sess[i], &req[i],
						   T0, (void *)(intptr_t)i,
						   reply, sizeof(reply))
			== POLICYD_BATCH_JOINED;
	is_int(joined, 5, "5 requests of 5 connections join the batch");
	is_int((long long)policyd_policy_batch_add(pol, b, sess[0], &req[5],
						   T0, (void *)5, reply,
						   sizeof(reply)),
	       (long long)POLICYD_BATCH_FULL,
	       "a second request of a connection: run the batch first");
	req[5].v[POLICYD_A_INSTANCE] = inst[1];
	is_int((long long)policyd_policy_batch_add(pol, b, sess[5], &req[5],
						   T0, (void *)5, reply,
						   sizeof(reply)),
	       (long long)POLICYD_BATCH_FULL,
	       "a request of a transaction in the batch: likewise");
	req[5].v[POLICYD_A_INSTANCE] = inst[5];
	req[5].v[POLICYD_A_PROTOCOL_STATE] = "CONNECT";
	n = policyd_policy_batch_add(pol, b, sess[5], &req[5], T0, (void *)5,
				     reply, sizeof(reply));
	is_str(n > 0 && n < sizeof(reply) ? reply : "", "action=DUNNO\n\n",
	       "another state is answered at once");
	is_int((long long)policyd_policy_batch_size(b), 5, "5 in the batch");
	policyd_policy_batch_run(pol, b, batch_done, NULL);
	is_int((long long)policyd_policy_batch_size(b), 0, "empty after");
	for (i = 0; i < 3; i++)
		is_str(batch_got[i], "DUNNO", "request %d: DUNNO", i + 1);
	for (i = 3; i < 5; i++)
		like_str(batch_got[i], "450 4.7.1 Message rate limit exceeded"
			 " for client 192.0.2.77 (3 per 1h)",
			 "request %d: deferred, as one by one", i + 1);
	/* what the batch took is each transaction's: a retry counts
	 * nothing, an abandon gives it back */
	is_str(ask(pol, sess[0], T0 + 1, "RCPT", A("instance=bt0",
	       "client_address=192.0.2.77")), "DUNNO",
	       "the retry of request 1 counts nothing");
	for (i = 0; i < 6; i++)
		policyd_policy_session_end(pol, &sess[i], T0 + 2);
	policyd_policy_batch_free(&b);
	ok(b == NULL, "batch freed");
	teardown(&pol, &s, &c);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", tmpdir);
	log_set_level(LOG_INFO);
	log_test_hook = hook;
	plan_lazy();
	test_conf();
	test_keys();
	test_recipients();
	test_bytes();
	test_rdom_bytes();
	test_batch();
	test_refunds();
	test_ladder();
	test_exempt();
	test_quota();
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
