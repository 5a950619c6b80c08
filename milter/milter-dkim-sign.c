/*++
 * NAME
 *	milter-dkim-sign 3
 * SUMMARY
 *	the DKIM signing stage (libopendkim, keys from milter-keys)
 * DESCRIPTION
 *	See milter-dkim-sign.h.  One libopendkim signing handle per key
 *	of the matching signing-table line, created at end of headers and
 *	fed the kept headers (the same "Name:value" with CRLF folding as
 *	the verifier, milter_dkim_crlf) and then each body chunk; at end
 *	of message each yields its DKIM-Signature value.  The keys come
 *	from the tables current when the message's headers ended (a
 *	reference held until the message is done).
 *
 *	Cost: dkim_sign() takes the key as PEM text, and libopendkim
 *	parses it again for every signature (PEM_read_bio_PrivateKey,
 *	about 0.33 ms with OpenSSL 3.0): the files are read once, the
 *	parsing is per message.  bench/dkim-sign measures it; signing on a
 *	cached EVP_PKEY needs our own signer or a libopendkim change.
 *
 *	libopendkim 2.11.0 leaks about 0.5 KB per Ed25519 signature
 *	(dkim_free() does not free the Ed25519 key; OpenDKIM pull request
 *	321 fixed it upstream): a warning at start says so.
 *
 *	A signing failure (libopendkim refusing a key, a header) is logged
 *	and the message goes out unsigned: signing is a courtesy to the
 *	receivers, not a reason to lose mail.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "xalloc.h"

struct milter_dkim_sign {
	struct milter_keys *keys;	/* reference */
	int active;			/* signing instead of verifying */
	char *from_domain;		/* for keys of domain "%" */
	size_t n;
	DKIM *h[MILTER_KEYS_PER_RULE];
	const struct milter_key *k[MILTER_KEYS_PER_RULE];
	char *value[MILTER_KEYS_PER_RULE];
	size_t nvalues;
};

/* elemta_milter_dkim_signatures_total{algorithm,result} */
static struct metric *m_signatures;

/* The oversigned headers: From (RFC 6376 section 8.15). */
static const char *milter_dkim_sign_oversign[] = { "From", NULL };

/* milter_dkim_sign_load - the tables named in mc, or NULL if none */
static int
milter_dkim_sign_load(const struct milter_conf *mc, struct milter_keys **kp,
		      char *err, size_t errlen)
{
	*kp = NULL;
	if (mc->dkim_key_table == NULL)
		return 0;
	if ((*kp = milter_keys_load(mc->dkim_key_table,
				    mc->dkim_signing_table, err,
				    errlen)) == NULL)
		return -1;
	return 0;
}

/* milter_dkim_sign_leak_warn - libopendkim up to 2.11.0 leaks the key
 * of every Ed25519 signature (dkim_free() forgets it; fixed upstream by
 * OpenDKIM pull request 321): say so when such keys are configured */
static void
milter_dkim_sign_leak_warn(const struct milter_keys *k)
{
	size_t i;

	if (k == NULL || dkim_libversion() > 0x020b0000UL)
		return;
	for (i = 0; i < k->nkeys; i++)
		if (k->keys[i].type == MILTER_KEY_ED25519) {
			msg_warn("dkim signing: libopendkim %lx leaks about "
				 "0.5 KB per Ed25519 signature (fixed in later "
				 "OpenDKIM): restart elemta-milter now and "
				 "then, or sign with RSA only",
				 (unsigned long)dkim_libversion());
			return;
		}
}

/* milter_dkim_sign_init - oversigning on the shared handle, the keys */
int
milter_dkim_sign_init(const struct milter_conf *mc, char *err, size_t errlen)
{
	DKIM_LIB *lib = milter_dkim_lib();
	struct milter_keys *k;

	if (lib == NULL) {
		x_err(err, errlen, "dkim signing: no libopendkim handle");
		return -1;
	}
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
			 milter_dkim_sign_oversign,
			 sizeof(const char **)) != DKIM_STAT_OK) {
		x_err(err, errlen, "libopendkim: cannot set oversigning");
		return -1;
	}
	m_signatures = metrics_counter("elemta_milter_dkim_signatures_total",
				       "DKIM signatures made, by algorithm "
				       "and result (signed, failed)",
				       "algorithm,result");
	if (milter_dkim_sign_load(mc, &k, err, errlen) < 0)
		return -1;
	milter_keys_install(k);
	milter_dkim_sign_leak_warn(k);
	if (k != NULL)
		msg_info("dkim signing: %zu keys, %zu signing-table entries",
			 k->nkeys, k->nrules);
	return 0;
}

/* milter_dkim_sign_reload - new keys for new messages */
int
milter_dkim_sign_reload(const struct milter_conf *mc, char *err,
			size_t errlen)
{
	struct milter_keys *k;

	if (milter_dkim_sign_load(mc, &k, err, errlen) < 0)
		return -1;
	milter_keys_install(k);
	if (k != NULL)
		msg_info("dkim signing: reloaded %zu keys, %zu signing-table "
			 "entries", k->nkeys, k->nrules);
	return 0;
}

/* milter_dkim_sign_finish - drop the current keys */
void
milter_dkim_sign_finish(void)
{
	milter_keys_install(NULL);
}

/* milter_dkim_sign_skip_cfws - past white space and (comments) */
static const char *
milter_dkim_sign_skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

/* milter_dkim_sign_from - the one address of a From value */
int
milter_dkim_sign_from(const char *value, char *out, size_t outlen)
{
	const char *p, *start = NULL, *end = NULL, *at;
	int quoted = 0, depth = 0, angles = 0;
	size_t len, i;

	/* Find <addr> outside quotes and comments; refuse lists. */
	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
		} else if (quoted) {
			quoted = *p != '"';
		} else if (depth > 0) {
			depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '(') {
			depth = 1;
		} else if (*p == ',') {
			return -1;
		} else if (*p == '<') {
			if (angles++ > 0)
				return -1;
			start = p + 1;
			end = strchr(start, '>');
			if (end == NULL)
				return -1;
			p = end;
		}
	}
	if (start == NULL) {
		/* a bare addr-spec, maybe with comments around */
		start = milter_dkim_sign_skip_cfws(value);
		for (end = start; *end != '\0' && !isspace((unsigned char)*end)
		     && *end != '('; end++)
			;
		if (*milter_dkim_sign_skip_cfws(end) != '\0')
			return -1;
	}
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - start);
	if (len == 0 || len >= outlen)
		return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	if ((at = strrchr(out, '@')) == NULL || at == out || at[1] == '\0'
	    || strpbrk(out, " \t\r\n<>()") != NULL)
		return -1;
	for (i = (size_t)(at - out) + 1; i < len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return 0;
}

/* milter_dkim_sign_state - the message's signer state, created once */
static struct milter_dkim_sign *
milter_dkim_sign_state(struct milter_msg *m)
{
	if (m->dkim_sign == NULL)
		m->dkim_sign = x_calloc(1, sizeof(*m->dkim_sign));
	return m->dkim_sign;
}

/* milter_dkim_sign_handle - one signing handle for key k, fed the
 * headers; 0 or -1 (logged) */
static int
milter_dkim_sign_handle(struct milter_msg *m, struct milter_dkim_sign *s,
			const struct milter_key *k, const char *fromdom)
{
	const struct milter_conf *mc = m->conn->mc;
	const char *domain = strcmp(k->domain, "%") == 0 ? fromdom
							  : k->domain;
	DKIM_STAT st;
	DKIM *h;
	size_t i, len;
	char *hdr;

	h = dkim_sign(milter_dkim_lib(), (const unsigned char *)m->qid, NULL,
		      (dkim_sigkey_t)k->pem, (const unsigned char *)k->selector,
		      (const unsigned char *)domain,
		      (dkim_canon_t)mc->dkim_sign_hcanon,
		      (dkim_canon_t)mc->dkim_sign_bcanon,
		      k->type == MILTER_KEY_ED25519 ? DKIM_SIGN_ED25519SHA256
						     : DKIM_SIGN_RSASHA256,
		      -1, &st);
	if (h == NULL) {
		qid_warn(m->qid, "dkim-sign key=%s: cannot sign: %s", k->name,
			 dkim_getresultstr(st));
		return -1;
	}
	if (dkim_signhdrs(h, (const char **)mc->dkim_sign_headers)
	    != DKIM_STAT_OK)
		qid_warn(m->qid, "dkim-sign: cannot set the header list");
	for (i = 0; i < m->nheaders; i++) {
		hdr = milter_dkim_crlf(m->headers[i].name,
				       m->headers[i].value, &len);
		st = dkim_header(h, (u_char *)hdr, len);
		free(hdr);
		if (st != DKIM_STAT_OK) {
			qid_warn(m->qid, "dkim-sign: header %.40s not taken: "
				 "%s", m->headers[i].name,
				 dkim_getresultstr(st));
			(void)dkim_free(h);
			return -1;
		}
	}
	if ((st = dkim_eoh(h)) != DKIM_STAT_OK) {
		qid_warn(m->qid, "dkim-sign key=%s: %s", k->name,
			 dkim_getresultstr(st));
		(void)dkim_free(h);
		return -1;
	}
	s->h[s->n] = h;
	s->k[s->n++] = k;
	return 0;
}

/* milter_dkim_sign_eoh - decide: sign (instead of verify) or not */
void
milter_dkim_sign_eoh(struct milter_msg *m)
{
	const struct milter_sign_rule *rule;
	struct milter_dkim_sign *s;
	struct milter_keys *keys;
	const char *from = NULL;
	char addr[512];
	size_t i, nfrom = 0;

	if (m->dkim_sign != NULL || milter_dkim_lib() == NULL)
		return;
	if ((m->auth_type == NULL || m->auth_type[0] == '\0')
	    && !m->conn->internal)
		return;
	if ((keys = milter_keys_current()) == NULL)
		return;
	for (i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, "From") == 0) {
			from = m->headers[i].value;
			nfrom++;
		}
	if (nfrom != 1 || milter_dkim_sign_from(from, addr, sizeof(addr)) < 0) {
		qid_info(m->qid, "dkim-sign: not signed: %s",
			 nfrom == 0 ? "no From header"
			 : nfrom > 1 ? "several From headers"
				     : "no single From address");
		milter_keys_unref(&keys);
		return;
	}
	if ((rule = milter_keys_match(keys, addr)) == NULL) {
		milter_keys_unref(&keys);
		return;
	}
	s = milter_dkim_sign_state(m);
	s->keys = keys;
	s->active = 1;
	s->from_domain = x_strdup(strrchr(addr, '@') + 1);
	for (i = 0; i < rule->nkeys; i++)
		(void)milter_dkim_sign_handle(m, s, rule->keys[i],
					      strrchr(addr, '@') + 1);
}

/* milter_dkim_sign_body - a body chunk to every signer */
void
milter_dkim_sign_body(struct milter_msg *m, const unsigned char *chunk,
		      size_t len)
{
	struct milter_dkim_sign *s = m->dkim_sign;
	DKIM_STAT st;
	size_t i;

	if (s == NULL || len == 0)
		return;
	for (i = 0; i < s->n; i++) {
		if (s->h[i] == NULL)
			continue;
		if ((st = dkim_body(s->h[i], (u_char *)chunk, len))
		    != DKIM_STAT_OK) {
			qid_warn(m->qid, "dkim-sign key=%s: body: %s",
				 s->k[i]->name, dkim_getresultstr(st));
			(void)dkim_free(s->h[i]);
			s->h[i] = NULL;
		}
	}
}

/* milter_dkim_sign_value_of - the signature header value, LF folding */
static char *
milter_dkim_sign_value_of(const unsigned char *buf, size_t len)
{
	char *v = x_malloc(len + 1);
	size_t i, o = 0;

	for (i = 0; i < len; i++)
		if (buf[i] != '\r')
			v[o++] = (char)buf[i];
	v[o] = '\0';
	return v;
}

/* milter_dkim_sign_eom - compute the signatures */
void
milter_dkim_sign_eom(struct milter_msg *m)
{
	struct milter_dkim_sign *s = m->dkim_sign;
	const char *alg;
	unsigned char *buf;
	size_t i, len;
	DKIM_STAT st;

	if (s == NULL || !s->active)
		return;
	for (i = 0; i < s->n; i++) {
		alg = s->k[i]->type == MILTER_KEY_ED25519 ? "ed25519-sha256"
							  : "rsa-sha256";
		if (s->h[i] == NULL) {
			if (m_signatures != NULL)
				metric_inc(m_signatures, alg, "failed");
			continue;
		}
		if ((st = dkim_eom(s->h[i], NULL)) != DKIM_STAT_OK
		    || (st = dkim_getsighdr_d(s->h[i],
				strlen(MILTER_DKIM_SIGN_HEADER) + 2, &buf,
				&len)) != DKIM_STAT_OK) {
			qid_warn(m->qid, "dkim-sign key=%s: not signed: %s%s"
				 "%s", s->k[i]->name, dkim_getresultstr(st),
				 dkim_geterror(s->h[i]) ? ": " : "",
				 dkim_geterror(s->h[i]) ? dkim_geterror(s->h[i])
							: "");
			if (m_signatures != NULL)
				metric_inc(m_signatures, alg, "failed");
			continue;
		}
		s->value[s->nvalues++] = milter_dkim_sign_value_of(buf, len);
		if (m_signatures != NULL)
			metric_inc(m_signatures, alg, "signed");
		milter_msg_summary(m, "dkim-sign=%s(d=%s s=%s)", alg,
				   strcmp(s->k[i]->domain, "%") == 0
				   ? s->from_domain : s->k[i]->domain,
				   s->k[i]->selector);
	}
	if (s->nvalues == 0)
		milter_msg_summary(m, "dkim-sign=failed");
}

/* milter_dkim_sign_free - handles, values, the keys reference */
void
milter_dkim_sign_free(struct milter_msg *m)
{
	struct milter_dkim_sign *s = m->dkim_sign;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		if (s->h[i] != NULL)
			(void)dkim_free(s->h[i]);
	for (i = 0; i < s->nvalues; i++)
		x_free(&s->value[i]);
	milter_keys_unref(&s->keys);
	x_free(&s->from_domain);
	x_free(&m->dkim_sign);
}

/* milter_dkim_sign_active - signing instead of verifying? */
int
milter_dkim_sign_active(const struct milter_msg *m)
{
	return m->dkim_sign != NULL && m->dkim_sign->active;
}

/* milter_dkim_sign_count - how many DKIM-Signature values */
size_t
milter_dkim_sign_count(const struct milter_msg *m)
{
	return m->dkim_sign != NULL ? m->dkim_sign->nvalues : 0;
}

/* milter_dkim_sign_value - the i-th value (owned by the message) */
const char *
milter_dkim_sign_value(const struct milter_msg *m, size_t i)
{
	return i < milter_dkim_sign_count(m) ? m->dkim_sign->value[i] : NULL;
}
