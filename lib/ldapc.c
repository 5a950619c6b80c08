/*++
 * NAME
 *	ldapc 3
 * SUMMARY
 *	the shared LDAP client: [ldap] section, pooled connections, filters
 * DESCRIPTION
 *	See ldapc.h.
 *--*/
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>

#include "ldapc.h"
#include "xalloc.h"

/*
 * The [ldap] section
 */

static cfg_opt_t ldapc_opts[] = {
	CFG_STR("uri", "", CFGF_NONE),
	CFG_STR("bind_dn", "", CFGF_NONE),
	CFG_STR("bind_password", "", CFGF_NONE),
	CFG_STR("bind_password_file", "", CFGF_NONE),
	CFG_BOOL("start_tls", cfg_false, CFGF_NONE),
	CFG_STR("tls_ca_file", "", CFGF_NONE),
	CFG_INT_CB("network_timeout", 5, CFGF_NONE, conf_cb_duration),
	CFG_INT_CB("search_timeout", 5, CFGF_NONE, conf_cb_duration),
	CFG_INT("pool_size", 4, CFGF_NONE),
	CFG_END()
};

const double ldapc_latency_buckets[LDAPC_LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10,
};

/* ldapc_check_uri - empty, or space-separated ldap/ldaps/ldapi URIs */
static int
ldapc_check_uri(const char *value, char *err, size_t errlen)
{
	char *copy = x_strdup(value), *tok, *save = NULL;
	int rc = 0;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (strncasecmp(tok, "ldap://", 7) != 0
		    && strncasecmp(tok, "ldaps://", 8) != 0
		    && strncasecmp(tok, "ldapi://", 8) != 0) {
			x_err(err, errlen, "'%s' is not an ldap://, ldaps:// "
			      "or ldapi:// URI", tok);
			rc = -1;
			break;
		}
	}
	x_free(&copy);
	return rc;
}

static const struct conf_check ldapc_checks[] = {
	{ "uri", CONF_CHECK_FUNC, 0, 0, NULL, ldapc_check_uri },
	{ "bind_password_file", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "tls_ca_file", CONF_CHECK_PATH, 0, 0, NULL, NULL },
	{ "network_timeout", CONF_CHECK_RANGE, 1, 120, NULL, NULL },
	{ "search_timeout", CONF_CHECK_RANGE, 1, 120, NULL, NULL },
	{ "pool_size", CONF_CHECK_RANGE, 1, 256, NULL, NULL },
	CONF_CHECK_END
};

/* ldapc_conf_load - copy the [ldap] section */
static int
ldapc_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct ldapc_conf *c = out;

	c->uri = conf_strdup_opt(sec, "uri");
	c->bind_dn = conf_strdup_opt(sec, "bind_dn");
	c->bind_password = conf_strdup_opt(sec, "bind_password");
	c->bind_password_file = conf_strdup_opt(sec, "bind_password_file");
	c->start_tls = cfg_getbool(sec, "start_tls") ? 1 : 0;
	c->tls_ca_file = conf_strdup_opt(sec, "tls_ca_file");
	c->network_timeout = cfg_getint(sec, "network_timeout");
	c->search_timeout = cfg_getint(sec, "search_timeout");
	c->pool_size = cfg_getint(sec, "pool_size");
	if (c->bind_password != NULL && c->bind_password_file != NULL) {
		x_err(err, errlen, "ldap: bind_password and "
		      "bind_password_file are exclusive");
		return -1;
	}
	if ((c->bind_password != NULL || c->bind_password_file != NULL)
	    && c->bind_dn == NULL) {
		x_err(err, errlen, "ldap: a bind password needs a bind_dn");
		return -1;
	}
	if (c->start_tls && c->uri != NULL
	    && strncasecmp(c->uri, "ldap://", 7) != 0) {
		x_err(err, errlen, "ldap: start_tls needs an ldap:// uri");
		return -1;
	}
	return 0;
}

/* ldapc_conf_release - free what ldapc_conf_load allocated */
static void
ldapc_conf_release(void *out)
{
	struct ldapc_conf *c = out;

	x_free(&c->uri);
	x_free(&c->bind_dn);
	x_free(&c->bind_password);
	x_free(&c->bind_password_file);
	x_free(&c->tls_ca_file);
}

const struct conf_section ldapc_conf_section = {
	"ldap", ldapc_opts, ldapc_checks, sizeof(struct ldapc_conf),
	ldapc_conf_load, ldapc_conf_release,
};

/*
 * Filters (pure)
 */

const char *const ldapc_scope_names[] = { "base", "one", "sub", NULL };

/* ldapc_scope_parse - scope name to enum */
int
ldapc_scope_parse(const char *s)
{
	if (strcasecmp(s, "base") == 0)
		return LDAPC_SCOPE_BASE;
	if (strcasecmp(s, "one") == 0 || strcasecmp(s, "onelevel") == 0)
		return LDAPC_SCOPE_ONE;
	if (strcasecmp(s, "sub") == 0 || strcasecmp(s, "subtree") == 0)
		return LDAPC_SCOPE_SUB;
	return -1;
}

/* ldapc_escape - RFC 4515 escaping */
char *
ldapc_escape(const char *s, size_t len)
{
	char *out = x_malloc(3 * len + 1), *p = out;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
			snprintf(p, 4, "\\%02x", c);
			p += 3;
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return out;
}

/* ldapc_filter_check - validate a template */
int
ldapc_filter_check(const char *tmpl, char *err, size_t errlen)
{
	const char *p;
	int depth = 0;

	if (*tmpl != '(') {
		x_err(err, errlen, "filter '%s' does not start with '('", tmpl);
		return -1;
	}
	for (p = tmpl; *p; p++) {
		if (*p == '%') {
			if (p[1] != 's' && p[1] != 'u' && p[1] != 'd'
			    && p[1] != '%') {
				x_err(err, errlen, "filter '%s': unknown "
				      "escape '%%%.1s' (%%s %%u %%d %%%%)",
				      tmpl, p + 1);
				return -1;
			}
			p++;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (--depth < 0)
				break;
		}
	}
	if (depth != 0) {
		x_err(err, errlen, "filter '%s': unbalanced parentheses", tmpl);
		return -1;
	}
	return 0;
}

/* ldapc_filter_expand - expand a template for one key */
int
ldapc_filter_expand(const char *tmpl, const char *key, size_t keylen,
		    char **out, char *err, size_t errlen)
{
	const char *at = NULL, *p;
	char *esc_s, *esc_u, *esc_d = NULL, *buf;
	size_t i, len = 0, alloc;

	*out = NULL;
	if (ldapc_filter_check(tmpl, err, errlen) < 0)
		return -1;
	for (i = keylen; i > 0; i--)
		if (key[i - 1] == '@') {
			at = key + i - 1;
			break;
		}
	if (at == NULL && strstr(tmpl, "%d") != NULL) {
		/* like Postfix: %d and no domain suppresses the query,
		 * unless the "%d" is really "%%d" */
		for (p = tmpl; *p; p++) {
			if (*p == '%' && p[1] == '%')
				p++;
			else if (*p == '%' && p[1] == 'd')
				return 0;
		}
	}
	esc_s = ldapc_escape(key, keylen);
	esc_u = at ? ldapc_escape(key, (size_t)(at - key))
		   : ldapc_escape(key, keylen);
	if (at != NULL)
		esc_d = ldapc_escape(at + 1, keylen - (size_t)(at + 1 - key));
	alloc = strlen(tmpl) + 1;
	for (p = tmpl; *p; p++)
		if (*p == '%')
			alloc += strlen(esc_s), p++;
	buf = x_malloc(alloc);
	for (p = tmpl; *p; p++) {
		const char *sub = NULL;

		if (*p != '%') {
			buf[len++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 's': sub = esc_s; break;
		case 'u': sub = esc_u; break;
		case 'd': sub = esc_d ? esc_d : ""; break;
		default: sub = "%"; break;
		}
		memcpy(buf + len, sub, strlen(sub));
		len += strlen(sub);
	}
	buf[len] = '\0';
	x_free(&esc_s);
	x_free(&esc_u);
	x_free(&esc_d);
	*out = buf;
	return 1;
}

/*
 * The client
 */

struct ldapc {
	char *uri;
	char *bind_dn;
	char *password;		/* NULL: anonymous */
	int start_tls;
	char *tls_ca_file;
	long network_timeout;
	long search_timeout;
	size_t pool_size;
	pthread_mutex_t lock;
	LDAP **idle;		/* idle connections */
	size_t nidle;
};

/* ldapc_read_password - the first line of a file; malloc'ed or NULL */
static char *
ldapc_read_password(const char *path, char *err, size_t errlen)
{
	char line[1024];
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		x_err(err, errlen, "ldap: bind_password_file %s: %s", path,
		      strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	return x_strdup(line);
}

/* ldapc_new - a client */
struct ldapc *
ldapc_new(const struct ldapc_conf *c, char *err, size_t errlen)
{
	struct ldapc *cl;
	char *pw = NULL;

	if (c->uri == NULL) {
		x_err(err, errlen, "ldap: no uri configured");
		return NULL;
	}
	if (c->bind_password_file != NULL
	    && (pw = ldapc_read_password(c->bind_password_file, err,
					 errlen)) == NULL)
		return NULL;
	if (c->bind_password != NULL)
		pw = x_strdup(c->bind_password);
	cl = x_calloc(1, sizeof(*cl));
	cl->uri = x_strdup(c->uri);
	cl->bind_dn = c->bind_dn ? x_strdup(c->bind_dn) : NULL;
	cl->password = pw;
	cl->start_tls = c->start_tls;
	cl->tls_ca_file = c->tls_ca_file ? x_strdup(c->tls_ca_file) : NULL;
	cl->network_timeout = c->network_timeout;
	cl->search_timeout = c->search_timeout;
	cl->pool_size = (size_t)c->pool_size;
	cl->idle = x_calloc(cl->pool_size, sizeof(*cl->idle));
	pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

/* ldapc_free - close every idle connection and free the client */
void
ldapc_free(struct ldapc **clp)
{
	struct ldapc *cl = *clp;
	size_t i;

	if (cl == NULL)
		return;
	for (i = 0; i < cl->nidle; i++)
		ldap_unbind_ext_s(cl->idle[i], NULL, NULL);
	pthread_mutex_destroy(&cl->lock);
	x_free(&cl->idle);
	x_free(&cl->uri);
	x_free(&cl->bind_dn);
	if (cl->password != NULL)
		memset(cl->password, 0, strlen(cl->password));
	x_free(&cl->password);
	x_free(&cl->tls_ca_file);
	x_free(clp);
}

/* ldapc_connect - a new bound connection, or NULL with err */
/* ldapc_diag - libldap's diagnostic message for ld ("TLS: peer cert
 * untrusted or revoked" where the error code says only "Can't contact
 * LDAP server"), as " (why)", or "" */
static void
ldapc_diag(LDAP *ld, char *buf, size_t len)
{
	char *msg = NULL;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg)
	    == LDAP_OPT_SUCCESS && msg != NULL && *msg != '\0'
	    && strcmp(msg, "(unknown error code)") != 0)
		snprintf(buf, len, " (%s)", msg);
	ldap_memfree(msg);
}

static LDAP *
ldapc_connect(struct ldapc *cl, char *err, size_t errlen)
{
	LDAP *ld = NULL;
	struct timeval ntv = { cl->network_timeout, 0 };
	struct timeval stv = { cl->network_timeout, 0 };
	struct berval cred;
	char diag[200];
	int rc, v3 = LDAP_VERSION3, zero = 0;

	if ((rc = ldap_initialize(&ld, cl->uri)) != LDAP_SUCCESS) {
		x_err(err, errlen, "ldap %s: %s", cl->uri,
		      ldap_err2string(rc));
		return NULL;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &ntv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &stv);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	if (cl->tls_ca_file != NULL) {
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
				cl->tls_ca_file);
		ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (cl->start_tls && (rc = ldap_start_tls_s(ld, NULL, NULL))
	    != LDAP_SUCCESS) {
		ldapc_diag(ld, diag, sizeof(diag));
		x_err(err, errlen, "ldap %s: StartTLS: %s%s", cl->uri,
		      ldap_err2string(rc), diag);
		goto bad;
	}
	cred.bv_val = cl->password ? cl->password : (char *)"";
	cred.bv_len = strlen(cred.bv_val);
	rc = ldap_sasl_bind_s(ld, cl->bind_dn ? cl->bind_dn : "",
			      LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		ldapc_diag(ld, diag, sizeof(diag));
		x_err(err, errlen, "ldap %s: bind%s%s: %s%s", cl->uri,
		      cl->bind_dn ? " as " : " (anonymous)",
		      cl->bind_dn ? cl->bind_dn : "", ldap_err2string(rc),
		      diag);
		goto bad;
	}
	return ld;
bad:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

/* ldapc_take - an idle connection, or NULL (the caller connects) */
static LDAP *
ldapc_take(struct ldapc *cl)
{
	LDAP *ld = NULL;

	pthread_mutex_lock(&cl->lock);
	if (cl->nidle > 0)
		ld = cl->idle[--cl->nidle];
	pthread_mutex_unlock(&cl->lock);
	return ld;
}

/* ldapc_give - return a healthy connection to the pool, or close it */
static void
ldapc_give(struct ldapc *cl, LDAP *ld)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->nidle < cl->pool_size) {
		cl->idle[cl->nidle++] = ld;
		ld = NULL;
	}
	pthread_mutex_unlock(&cl->lock);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
}

/* ldapc_result_clear - free a result */
void
ldapc_result_clear(struct ldapc_result *res)
{
	size_t i, j, k;

	for (i = 0; i < res->nentries; i++) {
		struct ldapc_entry *e = &res->entries[i];

		for (j = 0; j < e->nattrs; j++) {
			for (k = 0; k < e->attrs[j].nvals; k++)
				x_free(&e->attrs[j].vals[k]);
			x_free(&e->attrs[j].vals);
			x_free(&e->attrs[j].name);
		}
		x_free(&e->attrs);
		x_free(&e->dn);
	}
	x_free(&res->entries);
	memset(res, 0, sizeof(*res));
}

/* ldapc_copy_entry - copy one entry of a search result */
static void
ldapc_copy_entry(LDAP *ld, LDAPMessage *m, struct ldapc_entry *e)
{
	BerElement *ber = NULL;
	struct berval **vals;
	char *a, *dn;
	size_t k;

	memset(e, 0, sizeof(*e));
	dn = ldap_get_dn(ld, m);
	e->dn = x_strdup(dn ? dn : "");
	ldap_memfree(dn);
	for (a = ldap_first_attribute(ld, m, &ber); a != NULL;
	     a = ldap_next_attribute(ld, m, ber)) {
		struct ldapc_attr *at;

		e->attrs = x_realloc(e->attrs,
				     (e->nattrs + 1) * sizeof(*e->attrs));
		at = &e->attrs[e->nattrs++];
		at->name = x_strdup(a);
		at->nvals = 0;
		vals = ldap_get_values_len(ld, m, a);
		k = vals ? (size_t)ldap_count_values_len(vals) : 0;
		at->vals = x_calloc(k + 1, sizeof(char *));
		for (k = 0; vals != NULL && vals[k] != NULL; k++)
			at->vals[at->nvals++] = x_strndup(vals[k]->bv_val,
							  vals[k]->bv_len);
		ldap_value_free_len(vals);
		ldap_memfree(a);
	}
	ber_free(ber, 0);
}

/* ldapc_conn_error - an error that means the connection is unusable */
static int
ldapc_conn_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR
	    || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE
	    || rc == LDAP_BUSY || rc == LDAP_OTHER
	    || rc == LDAP_LOCAL_ERROR || rc == LDAP_ENCODING_ERROR
	    || rc == LDAP_DECODING_ERROR;
}

/* ldapc_copy_result - the entries of a search's answer msg (NULL:
 * none) into res */
static void
ldapc_copy_result(LDAP *ld, LDAPMessage *msg, struct ldapc_result *res)
{
	LDAPMessage *m;
	int n = msg ? ldap_count_entries(ld, msg) : 0;

	if (n <= 0)
		return;
	res->entries = x_calloc((size_t)n, sizeof(*res->entries));
	for (m = ldap_first_entry(ld, msg); m != NULL
	     && res->nentries < (size_t)n; m = ldap_next_entry(ld, m))
		ldapc_copy_entry(ld, m, &res->entries[res->nentries++]);
}

/* ldapc_search - search, reconnecting once if a pooled connection died */
int
ldapc_search(struct ldapc *cl, const char *base, enum ldapc_scope scope,
	     const char *filter, const char *const *attrs, int sizelimit,
	     struct ldapc_result *res, char *err, size_t errlen)
{
	static const int scopes[] = {
		LDAP_SCOPE_BASE, LDAP_SCOPE_ONELEVEL, LDAP_SCOPE_SUBTREE,
	};
	struct timeval tv = { cl->search_timeout, 0 };
	LDAPMessage *msg = NULL;
	LDAP *ld;
	int rc, pooled, attempt;

	memset(res, 0, sizeof(*res));
	for (attempt = 0; attempt < 2; attempt++) {
		/* the retry always opens a fresh connection */
		ld = attempt == 0 ? ldapc_take(cl) : NULL;
		pooled = ld != NULL;
		if (ld == NULL && (ld = ldapc_connect(cl, err, errlen)) == NULL)
			return -1;
		rc = ldap_search_ext_s(ld, base, scopes[scope], filter,
				       (char **)attrs, 0, NULL, NULL, &tv,
				       sizelimit, &msg);
		/* noSuchObject is not "no entry": the base itself is not
		 * there (a wrong base after a reload, a replica still being
		 * filled), so nothing can be said about the key -- an error,
		 * never an answer that callers would cache as "unknown" */
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
			break;
		if (msg != NULL)
			ldap_msgfree(msg), msg = NULL;
		if (rc == LDAP_NO_SUCH_OBJECT)
			x_err(err, errlen, "ldap %s: search base '%s' does "
			      "not exist (noSuchObject): a wrong base or an "
			      "incomplete replica", cl->uri, base);
		else
			x_err(err, errlen, "ldap %s: search %s: %s", cl->uri,
			      filter, ldap_err2string(rc));
		if (!ldapc_conn_error(rc)) {
			ldapc_give(cl, ld);
			return -1;
		}
		ldap_unbind_ext_s(ld, NULL, NULL);
		if (!pooled)
			return -1;
	}
	if (attempt == 2)
		return -1;
	res->truncated = rc == LDAP_SIZELIMIT_EXCEEDED;
	ldapc_copy_result(ld, msg, res);
	if (msg != NULL)
		ldap_msgfree(msg);
	ldapc_give(cl, ld);
	return 0;
}

/* ldapc_entry_value - first value of an attribute */
const char *
ldapc_entry_value(const struct ldapc_entry *e, const char *attr)
{
	size_t i;

	for (i = 0; i < e->nattrs; i++)
		if (strcasecmp(e->attrs[i].name, attr) == 0
		    && e->attrs[i].nvals > 0)
			return e->attrs[i].vals[0];
	return NULL;
}
