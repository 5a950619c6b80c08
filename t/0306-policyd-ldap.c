/*++
 * NAME
 *	0306-policyd-ldap 1
 * SUMMARY
 *	unit tests: the LDAP override cache and its worker threads
 * DESCRIPTION
 *	Against a directory that refuses connections (127.0.0.1:1, a real
 *	refusal from the kernel; t/0314-policyd-ldap.t has a real slapd):
 *	a user not cached makes the request wait, the worker's answer comes
 *	back through the pipe, a failure gives the defaults and is not
 *	searched again for POLICYD_LDAP_RETRY_MS, a search not answered
 *	within ldap_wait_ms gives the defaults, a reload forgets the
 *	answers; through the policy, a request waiting for the directory
 *	counts nothing and answers 0, then the limit's own rate applies;
 *	and the failures are in the metrics.  With injected time.
 *--*/
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ldapc.h"
#include "log.h"
#include "metrics.h"
#include "policyd-ldap.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char tmpdir[] = "/tmp/elemta-t0306.XXXXXX";
static const int64_t T0 = 1700000000000LL;

/* answered - wait up to 10 s for the workers; drain; how many */
static size_t
answered(struct policyd_ldap *ld, int64_t now)
{
	struct pollfd p = { policyd_ldap_fd(ld), POLLIN, 0 };

	if (poll(&p, 1, 10000) != 1)
		return 0;
	return policyd_ldap_drain(ld, now);
}

/* ask - one RCPT of user; the reply's length, and its action in out */
static size_t
ask(struct policyd_policy *pol, int64_t now, const char *user,
    const char *inst, char *out, size_t outlen)
{
	struct policyd_req req;
	char reply[1024];
	size_t n;

	memset(&req, 0, sizeof(req));
	req.v[POLICYD_A_REQUEST] = "smtpd_access_policy";
	req.v[POLICYD_A_PROTOCOL_STATE] = "RCPT";
	req.v[POLICYD_A_CLIENT_ADDRESS] = "192.0.2.5";
	req.v[POLICYD_A_SASL_USERNAME] = user;
	req.v[POLICYD_A_INSTANCE] = inst;
	n = policyd_policy_decide(pol, &req, now, reply, sizeof(reply));
	snprintf(out, outlen, "%.*s", n > 9 ? (int)(n - 9) : 0, reply + 7);
	return n;
}

int
main(void)
{
	static const char *const ov[] = {
		"ldap.uri=ldap://127.0.0.1:1/", "ldap.network_timeout=1s",
		"policyd.ldap_base=dc=example,dc=test",
		"policyd.ldap_wait_ms=200",
		"policyd.sasl_user_message_limit=0",
	};
	const struct policyd_ldap_answer *ans;
	struct policyd_store *store;
	struct policyd_policy *pol;
	struct policyd_ldap *ld;
	const struct policyd_conf *pc;
	struct conf *c;
	char *errors = NULL, err[256], path[300], out[512], *m;
	FILE *fp;
	int64_t t;

	if (mkdtemp(tmpdir) == NULL)
		bail_out("mkdtemp: %s", tmpdir);
	log_set_level(LOG_ERR);
	plan_lazy();
	/* limit sub-sections only come from a file */
	snprintf(path, sizeof(path), "%s/elemta.conf", tmpdir);
	if ((fp = fopen(path, "w")) == NULL
	    || fputs("policyd { limit own { key = sasl_user\nrate = 1\n"
		     "ldap_attribute = mailRateLimit } }\n", fp) < 0
	    || fclose(fp) != 0)
		bail_out("cannot write %s", path);
	c = conf_load(elemta_sections, path, ov, sizeof(ov) / sizeof(ov[0]),
		      &errors);
	if (c == NULL)
		bail_out("conf: %s", errors);
	pc = conf_get(c, &policyd_conf_section);
	ok(pc->ldap_used, "a limit with an ldap_attribute: the directory is"
	   " used");
	if ((ld = policyd_ldap_new(conf_get(c, &ldapc_conf_section), err,
				   sizeof(err))) == NULL)
		bail_out("ldap: %s", err);
	is_int(policyd_ldap_start(ld, 2, err, sizeof(err)), 0, "2 workers");
	policyd_ldap_configure(ld, pc);

	is_int(policyd_ldap_get(ld, "alice", T0, &ans), POLICYD_LDAP_WAIT,
	       "alice, not cached: wait");
	is_int(policyd_ldap_get(ld, "alice", T0 + 1, &ans), POLICYD_LDAP_WAIT,
	       "asked again: still waiting (one search)");
	is_int((long long)answered(ld, T0 + 2), 1, "one answer comes back");
	is_int(policyd_ldap_get(ld, "alice", T0 + 3, &ans),
	       POLICYD_LDAP_DEFAULT, "the directory failed: the defaults");
	ok(ans == NULL, "and no answer");
	is_int(policyd_ldap_get(ld, "alice", T0 + POLICYD_LDAP_RETRY_MS, &ans),
	       POLICYD_LDAP_DEFAULT, "no new search until the retry time");
	is_int(policyd_ldap_get(ld, "alice", T0 + 3 + POLICYD_LDAP_RETRY_MS,
				&ans), POLICYD_LDAP_WAIT,
	       "then one is made");
	answered(ld, T0 + 4 + POLICYD_LDAP_RETRY_MS);

	t = T0 + 60000;
	is_int(policyd_ldap_get(ld, "bob", t, &ans), POLICYD_LDAP_WAIT,
	       "bob: wait ...");
	is_int(policyd_ldap_get(ld, "bob", t + 199, &ans), POLICYD_LDAP_WAIT,
	       "... 199 ms ...");
	is_int(policyd_ldap_get(ld, "bob", t + 200, &ans),
	       POLICYD_LDAP_DEFAULT, "... but not ldap_wait_ms (200)");
	answered(ld, t + 201);

	policyd_ldap_configure(ld, pc);
	is_int(policyd_ldap_get(ld, "alice", T0 + 3, &ans), POLICYD_LDAP_WAIT,
	       "a reload forgets the answers");
	answered(ld, T0 + 4);

	/* through the policy */
	snprintf(path, sizeof(path), "%s/policyd.db", tmpdir);
	if ((store = policyd_store_sqlite_open(path, 1000, 1000, err,
					       sizeof(err))) == NULL)
		bail_out("store: %s", err);
	pol = policyd_policy_new(store);
	policyd_policy_set_ldap(pol, ld);
	policyd_policy_configure(pol, pc);
	t = T0 + 120000;
	is_int((long long)ask(pol, t, "carol", "c1", out, sizeof(out)), 0,
	       "carol's request waits for the directory (answer 0)");
	is_int((long long)ask(pol, t, "carol", "c1", out, sizeof(out)), 0,
	       "asked again: still waiting");
	answered(ld, t + 1);
	ask(pol, t + 2, "carol", "c1", out, sizeof(out));
	is_str(out, "DUNNO", "the directory failed: the own rate (1 of 1)");
	ask(pol, t + 3, "carol", "c2", out, sizeof(out));
	like_str(out, "450 4.7.1 Message rate limit exceeded for user carol "
		 "(1 per 1h)", "waiting counted nothing: the 2nd is over 1");
	ask(pol, t + 4, "", "n1", out, sizeof(out));
	is_str(out, "DUNNO", "no SASL user: nothing to ask");
	m = metrics_render(NULL);
	like_str(m, "elemta_policyd_ldap_defaults_total{reason=\"error\"} 4",
		 "requests given the defaults (error), counted");
	like_str(m, "elemta_policyd_ldap_defaults_total{reason=\"timeout\"} 1",
		 "and those that waited too long");
	like_str(m, "elemta_policyd_ldap_lookups_total{outcome=\"error\"} ",
		 "failed searches are counted");
	x_free(&m);
	policyd_policy_free(&pol);
	policyd_store_close(&store);
	policyd_ldap_free(&ld);
	ok(ld == NULL, "freed (the workers joined)");
	conf_unref(&c);
	tap_rmtree(tmpdir);
	done_testing();
	return exit_status();
}
