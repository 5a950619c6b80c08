/*++
 * NAME
 *	0403-milter-spf-liberror 1
 * SUMMARY
 *	an internal error of libspf2 is a temperror, never a crash
 * DESCRIPTION
 *	libspf2 calls its error handler on an internal inconsistency or an
 *	allocation failure, and aborts the process if the handler returns.
 *	Here libspf2's own SPF_dns_rr_new_init is wrapped to fail (as when
 *	memory runs out) for one domain, so that the SPF stage's DNS layer
 *	hands libspf2 no answer and libspf2 complains ("SPF DNS layer
 *	return NULL during a lookup"), from inside a real evaluation.
 *	The message's result must be temperror, logged, with the
 *	configured temperror action, and later messages (the same domain
 *	again, another one) must be evaluated as usual.
 *--*/
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

#include "conf.h"
#include "milter.h"
#include "../sections-all.h"
#include "tap.h"

#define BROKEN	"libspf2-error.test"

static int broken_lookups;

/* SPF_dns_rr_new_init - libspf2's, except NULL for the broken domain */
SPF_dns_rr_t *
SPF_dns_rr_new_init(SPF_dns_server_t *srv, const char *domain,
		    ns_type rr_type, int ttl, SPF_dns_stat_t herrno)
{
	static SPF_dns_rr_t *(*real)(SPF_dns_server_t *, const char *,
				     ns_type, int, SPF_dns_stat_t);
	void *sym;

	if (domain != NULL && strcmp(domain, BROKEN) == 0) {
		broken_lookups++;
		return NULL;
	}
	if (real == NULL) {
		if ((sym = dlsym(RTLD_NEXT, "SPF_dns_rr_new_init")) == NULL)
			bail_out("dlsym SPF_dns_rr_new_init: %s", dlerror());
		memcpy(&real, &sym, sizeof(real));
	}
	return real(srv, domain, rr_type, ttl, herrno);
}

struct scase {
	const char *name;
	const char *sender;
	const char *action;		/* spf_temperror_action */
	int lookups;			/* broken lookups it makes */
	const char *summary;
	const char *verdict;
	const char *xcode;
};

static const struct scase scases[] = {
	{ "libspf2 complains: temperror", "user@" BROKEN, "accept", 1,
	  "spf=temperror(library-error)", "accept", "" },
	{ "then another domain: evaluated as usual (no DNS: temperror)",
	  "user@example.test", "accept", 0, "spf=temperror", "accept", "" },
	{ "libspf2 complains again: spf_temperror_action applies",
	  "user@" BROKEN, "tempfail", 1, "spf=temperror(library-error)",
	  "tempfail", "4.7.24" },
};

/* test_case - one message through the SPF stage, no resolver */
static void
test_case(const struct scase *t)
{
	char *ov[2], *errors = NULL;
	struct milter_conn *c;
	struct milter_msg *m;
	struct conf *cf;
	int before = broken_lookups;

	ov[0] = "milter.authserv_id=mx.elemta.test";
	ov[1] = x_asprintf("milter.spf_temperror_action=%s", t->action);
	if ((cf = conf_load(elemta_sections, NULL, (const char **)ov, 2,
			    &errors)) == NULL)
		bail_out("conf_load: %s", errors ? errors : "?");
	free(ov[1]);
	c = milter_conn_new(cf, NULL);
	milter_conn_set_client(c, "192.0.2.1", NULL);
	milter_conn_set_helo(c, "mail.example.test");
	m = milter_msg_new(c, t->sender);
	milter_msg_set_qid(m, "LIBERR");
	milter_spf_eom(m);
	is_int(broken_lookups - before, t->lookups, "%s: libspf2 failed "
	       "lookups", t->name);
	is_str(m->summary, t->summary, "%s: summary", t->name);
	is_int(m->spf_results.result, MILTER_SPF_TEMPERROR, "%s: result",
	       t->name);
	is_str(m->nresults == 1 ? m->results[0].result : "(none)",
	       "temperror", "%s: A-R result", t->name);
	is_str(milter_action_name(m->action), t->verdict, "%s: action",
	       t->name);
	is_str(m->reply_xcode, t->xcode, "%s: enhanced code", t->name);
	milter_conn_free(&c);
}

int
main(void)
{
	char err[256];
	size_t i;

	plan_lazy();
	if (milter_spf_init(err, sizeof(err)) < 0)
		bail_out("milter_spf_init: %s", err);
	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++)
		test_case(&scases[i]);
	ok(1, "still running after libspf2's complaints");
	done_testing();
	return exit_status();
}
