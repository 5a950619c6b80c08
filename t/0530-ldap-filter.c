/*++
 * NAME
 *	0530-ldap-filter 1
 * SUMMARY
 *	unit test of LDAP filter expansion and RFC 4515 escaping (lib/ldapc.c)
 * DESCRIPTION
 *	A table of templates and keys (injection attempts included: "*",
 *	"(", ")", "\", an embedded NUL) with the filter each must give,
 *	then templates that must be refused, scope names, and the [ldap]
 *	and lmtp_bridge ldap_* options: what is accepted, what is refused.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ldapc.h"
#include "../sections-all.h"

#define ALL "(|(mail=%s)(mailAlias=%s)(mailAlternateAddress=%s))"

struct filter_case {
	const char *tmpl;
	const char *key;
	size_t keylen;		/* 0: strlen(key) */
	int rc;
	const char *want;
};

static const struct filter_case cases[] = {
	{ "(mail=%s)", "alice@example.test", 0, 1,
	  "(mail=alice@example.test)" },
	{ ALL, "bob@example.test", 0, 1,
	  "(|(mail=bob@example.test)(mailAlias=bob@example.test)"
	  "(mailAlternateAddress=bob@example.test))" },
	{ "(&(uid=%u)(dc=%d))", "carol@example.test", 0, 1,
	  "(&(uid=carol)(dc=example.test))" },
	{ "(uid=%u)", "nodomain", 0, 1, "(uid=nodomain)" },
	{ "(&(uid=%u)(dc=%d))", "nodomain", 0, 0, NULL },
	{ "(mail=%%d %s)", "nodomain", 0, 1, "(mail=%d nodomain)" },
	{ "(mail=%s)", "a@b@c.test", 0, 1, "(mail=a@b@c.test)" },
	{ "(uid=%u)", "a@b@c.test", 0, 1, "(uid=a@b)" },
	{ "(mail=%s)", "", 0, 1, "(mail=)" },
	/* injection attempts */
	{ "(mail=%s)", "*", 0, 1, "(mail=\\2a)" },
	{ "(mail=%s)", "*@example.test", 0, 1, "(mail=\\2a@example.test)" },
	{ "(mail=%s)", "x)(uid=*", 0, 1, "(mail=x\\29\\28uid=\\2a)" },
	{ "(mail=%s)", "a)(|(mail=*)@example.test", 0, 1,
	  "(mail=a\\29\\28|\\28mail=\\2a\\29@example.test)" },
	{ "(uid=%u)", "back\\slash@x.test", 0, 1, "(uid=back\\5cslash)" },
	{ "(mail=%s)", "\\2a@x.test", 0, 1, "(mail=\\5c2a@x.test)" },
	{ "(mail=%s)", "nul\0*@x.test", 12, 1, "(mail=nul\\00\\2a@x.test)" },
	{ "(dc=%d)", "u@d*(x)", 0, 1, "(dc=d\\2a\\28x\\29)" },
	{ "(mail=%s)", "caf\xc3\xa9@x.test", 0, 1,
	  "(mail=caf\xc3\xa9@x.test)" },
	/* bad templates */
	{ "(mail=%x)", "a@b", 0, -1, NULL },
	{ "(mail=%s", "a@b", 0, -1, NULL },
	{ "mail=%s", "a@b", 0, -1, NULL },
	{ "(mail=%s))(", "a@b", 0, -1, NULL },
	{ "(mail=%)", "a@b", 0, -1, NULL },
};

struct conf_case {
	const char *ovr[3];
	const char *error;	/* NULL: accepted; else a substring */
};

static const struct conf_case conf_cases[] = {
	{ { "ldap.uri=ldap://127.0.0.1:389/ ldaps://h ldapi://%2Frun%2Fs",
	    NULL, NULL }, NULL },
	{ { "ldap.uri=http://h/", NULL, NULL }, "not an ldap://" },
	{ { "ldap.bind_password=x", NULL, NULL }, "needs a bind_dn" },
	{ { "ldap.bind_dn=cn=x", "ldap.bind_password=x",
	    "ldap.bind_password_file=/x" }, "exclusive" },
	{ { "ldap.uri=ldaps://h", "ldap.start_tls=true", NULL },
	  "start_tls needs an ldap:// uri" },
	{ { "ldap.search_timeout=0", NULL, NULL }, "search_timeout" },
	{ { "ldap.bind_password_file=relative", NULL, NULL },
	  "absolute path" },
	{ { "lmtp_bridge.ldap_lookup=true", NULL, NULL },
	  "needs an ldap_base" },
	{ { "lmtp_bridge.ldap_lookup=true", "lmtp_bridge.ldap_base=dc=x",
	    NULL }, NULL },
	{ { "lmtp_bridge.ldap_filter=(mail=%x)", NULL, NULL },
	  "unknown escape" },
	{ { "lmtp_bridge.ldap_filter=(mail=%s", NULL, NULL }, "unbalanced" },
	{ { "lmtp_bridge.ldap_scope=tree", NULL, NULL }, "ldap_scope" },
	{ { "lmtp_bridge.ldap_backend_port=0", NULL, NULL },
	  "ldap_backend_port" },
	{ { "lmtp_bridge.ldap_cache_ttl=2d", NULL, NULL }, "ldap_cache_ttl" },
};

/* conf_table - the configuration cases */
static void
conf_table(void)
{
	size_t i, n;
	struct conf *c;
	char *errors;

	for (i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]); i++) {
		const struct conf_case *cc = &conf_cases[i];

		for (n = 0; n < 3 && cc->ovr[n] != NULL; n++)
			;
		errors = NULL;
		c = conf_load(elemta_sections, NULL, cc->ovr, n, &errors);
		if (cc->error == NULL)
			ok(c != NULL, "accepted: %s%s%s (%s)", cc->ovr[0],
			   n > 1 ? " " : "", n > 1 ? cc->ovr[1] : "",
			   errors ? errors : "");
		else
			like_str(errors ? errors : "(accepted)", cc->error,
				 "refused: %s ...", cc->ovr[0]);
		conf_unref(&c);
		free(errors);
	}
}

/* main - run the table */
int
main(void)
{
	size_t i, n = sizeof(cases) / sizeof(cases[0]);
	char err[256], *out, *esc;
	int rc;

	plan((int)(2 * n + 6
		   + sizeof(conf_cases) / sizeof(conf_cases[0])));
	for (i = 0; i < n; i++) {
		const struct filter_case *c = &cases[i];
		size_t len = c->keylen ? c->keylen : strlen(c->key);

		err[0] = '\0';
		rc = ldapc_filter_expand(c->tmpl, c->key, len, &out, err,
					 sizeof(err));
		is_int(rc, c->rc, "expand %s with '%s': rc (%s)", c->tmpl,
		       c->key, err);
		if (c->want != NULL)
			is_str(out, c->want, "expand %s with '%s'", c->tmpl,
			       c->key);
		else if (c->rc < 0)
			ok(out == NULL && err[0] != '\0',
			   "%s refused: %s", c->tmpl, err);
		else
			ok(out == NULL, "%s with '%s': query suppressed",
			   c->tmpl, c->key);
		free(out);
	}
	esc = ldapc_escape("*()\\\0", 5);
	is_str(esc, "\\2a\\28\\29\\5c\\00", "ldapc_escape of every special");
	free(esc);
	is_int(ldapc_scope_parse("base"), LDAPC_SCOPE_BASE, "scope base");
	is_int(ldapc_scope_parse("one"), LDAPC_SCOPE_ONE, "scope one");
	is_int(ldapc_scope_parse("SUB"), LDAPC_SCOPE_SUB, "scope SUB");
	is_int(ldapc_scope_parse("subordinate"), -1, "scope subordinate");
	is_int(ldapc_filter_check(ALL, err, sizeof(err)), 0,
	       "the default filter is a valid template");
	conf_table();
	done_testing();
	return exit_status();
}
