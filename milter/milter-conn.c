/*++
 * NAME
 *	milter-conn 3
 * SUMMARY
 *	per-connection and per-message state of elemta-milter
 * DESCRIPTION
 *	See milter.h.  Everything here belongs to one connection, which
 *	libmilter serves in one thread at a time: no locks.
 *
 *	Header caps: at most max_headers headers and max_header_size bytes
 *	per header are kept for the checks; the rest is counted, logged
 *	once per message, and dropped.  Authentication-Results headers are
 *	counted (and checked for our authserv-id, on the whole value)
 *	whatever the caps, since their index is what removing one takes,
 *	and a forged one must go even when it is the 1001st header.  From
 *	fields are kept whatever the caps too (up to MILTER_MAX_FROM): a
 *	From hidden past them is still what a mail client shows, and DMARC
 *	must judge it.
 *--*/
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"
#include "milter-body.h"
#include "xalloc.h"

/* milter_conn_open - a connection holding a reference to generation g */
struct milter_conn *
milter_conn_open(struct milter_gen *g)
{
	struct milter_conn *c = x_calloc(1, sizeof(*c));

	c->gen = g;
	c->conf = g->conf;
	c->mc = conf_get(g->conf, &milter_conf_section);
	c->dns = g->dns;
	c->keys = g->keys;
	return c;
}

/* milter_conn_new - a connection on a generation of conf and dns */
struct milter_conn *
milter_conn_new(struct conf *conf, struct dns_resolver *dns)
{
	return milter_conn_open(milter_gen_new(conf, dns, NULL));
}

/* milter_conn_set_client - the client's address and name */
void
milter_conn_set_client(struct milter_conn *c, const char *addr,
		       const char *name)
{
	x_free(&c->client_addr);
	x_free(&c->client_name);
	if (addr != NULL && *addr != '\0')
		c->client_addr = x_strdup(addr);
	if (name != NULL && *name != '\0')
		c->client_name = x_strdup(name);
	c->internal = cidr_match_text(c->mc->internal, c->mc->ninternal,
				      c->client_addr);
}

/* milter_conn_set_helo - the HELO/EHLO name */
void
milter_conn_set_helo(struct milter_conn *c, const char *helo)
{
	x_free(&c->helo);
	if (helo != NULL && *helo != '\0')
		c->helo = x_strdup(helo);
}

/* milter_conn_free - free the connection, its message, its reference */
void
milter_conn_free(struct milter_conn **cp)
{
	struct milter_conn *c = *cp;

	if (c == NULL)
		return;
	milter_msg_free(&c->msg);
	x_free(&c->client_addr);
	x_free(&c->client_name);
	x_free(&c->helo);
	milter_gen_unref(&c->gen);
	x_free(cp);
}

/* milter_strip_brackets - "<a@b>" -> "a@b", "<>" -> "" */
static char *
milter_strip_brackets(const char *s)
{
	size_t len;

	if (s == NULL)
		return x_strdup("");
	len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		return x_strndup(s + 1, len - 2);
	return x_strdup(s);
}

/* milter_msg_new - a new message (replacing any previous one) */
struct milter_msg *
milter_msg_new(struct milter_conn *c, const char *sender)
{
	struct milter_msg *m = x_calloc(1, sizeof(*m));

	milter_msg_free(&c->msg);
	c->msg = m;
	m->conn = c;
	snprintf(m->qid, sizeof(m->qid), "NOQUEUE");
	m->sender = milter_strip_brackets(sender);
	m->spf_dns.limit = (unsigned)c->mc->max_dns_lookups;
	m->dkim_dns.limit = (unsigned)c->mc->max_dns_lookups;
	m->dmarc_dns.limit = (unsigned)c->mc->max_dns_lookups;
	m->dns_budget.limit_ms = (long long)c->mc->max_check_time * 1000;
	m->spf_dns.budget = &m->dns_budget;
	m->dkim_dns.budget = &m->dns_budget;
	m->action = MILTER_ACCEPT;
	if (milter_pipeline_body_wanted(c->mc))
		milter_body_start(m);
	return m;
}

/* milter_msg_free - free a message and set *mp to NULL */
void
milter_msg_free(struct milter_msg **mp)
{
	struct milter_msg *m = *mp;
	size_t i;

	if (m == NULL)
		return;
	if (m->conn != NULL && m->conn->msg == m)
		m->conn->msg = NULL;
	milter_pipeline_free(m);
	milter_body_free(m);
	milter_claims_free(m);
	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	for (i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	free(m->ar_ours);
	for (i = 0; i < m->nfrom; i++)
		free(m->from_values[i]);
	free(m->from_values);
	for (i = 0; i < m->nresults; i++)
		authres_result_clear(&m->results[i]);
	free(m->auth_type);
	free(m->auth_authen);
	free(m->sender);
	free(m->summary);
	free(m->reply_text);
	free(m->quarantine_reason);
	free(m->received_spf);
	for (i = 0; i < m->nadd_headers; i++) {
		free(m->add_headers[i].name);
		free(m->add_headers[i].value);
	}
	free(m->add_headers);
	free(m);
	*mp = NULL;	/* mp may be &conn->msg, cleared above: no x_free */
}

/* milter_msg_set_qid - the queue id, once the MTA has one */
void
milter_msg_set_qid(struct milter_msg *m, const char *qid)
{
	if (qid != NULL && *qid != '\0')
		snprintf(m->qid, sizeof(m->qid), "%s", qid);
}

/* milter_msg_set_auth - SASL facts ({auth_type}, {auth_authen}) */
void
milter_msg_set_auth(struct milter_msg *m, const char *type,
		    const char *authen)
{
	x_free(&m->auth_type);
	x_free(&m->auth_authen);
	if (type != NULL && *type != '\0')
		m->auth_type = x_strdup(type);
	if (authen != NULL && *authen != '\0')
		m->auth_authen = x_strdup(authen);
}

/* milter_msg_rcpt - one more recipient (the first MILTER_MAX_RCPTS) */
void
milter_msg_rcpt(struct milter_msg *m, const char *rcpt)
{
	if (m->nrcpts >= MILTER_MAX_RCPTS)
		return;
	m->rcpts = x_realloc(m->rcpts, (m->nrcpts + 1) * sizeof(char *));
	m->rcpts[m->nrcpts++] = milter_strip_brackets(rcpt);
}

/* milter_msg_ar - note an A-R header; remember it if it claims our id */
static void
milter_msg_ar(struct milter_msg *m, const char *value)
{
	m->ar_seen++;
	/* The whole value, whatever its size: CFWS of any length may come
	 * before the authserv-id (the scan is linear and allocates only
	 * the id). */
	if (authres_id_is(value, m->conn->mc->authserv_id)) {
		m->ar_ours = x_realloc(m->ar_ours, (m->nar_ours + 1)
				       * sizeof(*m->ar_ours));
		m->ar_ours[m->nar_ours++] = m->ar_seen;
		qid_notice(m->qid, "removing Authentication-Results #%u "
			   "that claims our authserv-id %s", m->ar_seen,
			   m->conn->mc->authserv_id);
	}
}

/* The From fields kept beyond the caps: RFC 5322 allows one; more than
 * this many is an attack, judged on those kept. */
#define MILTER_MAX_FROM	64

/* milter_msg_from - keep a From value whatever the caps */
static void
milter_msg_from(struct milter_msg *m, const char *value)
{
	if (m->nfrom >= MILTER_MAX_FROM)
		return;
	m->from_values = x_realloc(m->from_values, (m->nfrom + 1)
				   * sizeof(*m->from_values));
	m->from_values[m->nfrom++] = x_strdup(value);
}

/* milter_msg_header - one header, within the caps */
void
milter_msg_header(struct milter_msg *m, const char *name, const char *value)
{
	const struct milter_conf *mc = m->conn->mc;
	size_t len;

	if (value == NULL)
		value = "";
	milter_body_header(m, name, value);	/* every header, as received */
	if (strcasecmp(name, AUTHRES_HEADER) == 0)
		milter_msg_ar(m, value);
	else if (strcasecmp(name, "From") == 0)
		milter_msg_from(m, value);
	milter_claims_header(m, name);	/* X-Spam*...: whatever the caps */
	len = strlen(name) + strlen(value);
	if (m->nheaders >= (size_t)mc->max_headers
	    || len > (size_t)mc->max_header_size) {
		if (m->headers_dropped++ == 0)
			qid_warn(m->qid, "header cap reached: header=%.40s "
				 "size=%zu count=%zu max_headers=%d "
				 "max_header_size=%ld: not checked", name, len,
				 m->nheaders, mc->max_headers,
				 mc->max_header_size);
		return;
	}
	if (m->nheaders == m->aheaders) {
		m->aheaders = m->aheaders ? m->aheaders * 2 : 32;
		m->headers = x_realloc(m->headers,
				       m->aheaders * sizeof(*m->headers));
	}
	m->headers[m->nheaders].name = x_strdup(name);
	m->headers[m->nheaders].value = x_strdup(value);
	m->nheaders++;
	m->header_bytes += len;
	milter_pipeline_header(m, name, value);
}

/* milter_msg_result - a new result slot for a stage */
struct authres_result *
milter_msg_result(struct milter_msg *m, const char *method,
		  const char *result)
{
	struct authres_result *r;

	if (m->nresults >= MILTER_MAX_RESULTS)
		msg_panic("milter_msg_result: more than %d results",
			  MILTER_MAX_RESULTS);
	r = &m->results[m->nresults++];
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->result = result;
	return r;
}

/* milter_msg_summary - append to the one summary line of the message */
void
milter_msg_summary(struct milter_msg *m, const char *fmt, ...)
{
	va_list ap;
	char *part, *joined;

	va_start(ap, fmt);
	part = x_vasprintf(fmt, ap);
	va_end(ap);
	if (m->summary == NULL) {
		m->summary = part;
		return;
	}
	joined = x_asprintf("%s %s", m->summary, part);
	free(part);
	free(m->summary);
	m->summary = joined;
}

/* milter_action_name - the word for an action */
const char *
milter_action_name(enum milter_action a)
{
	switch (a) {
	case MILTER_ACCEPT:
		return "accept";
	case MILTER_QUARANTINE:
		return "quarantine";
	case MILTER_TEMPFAIL:
		return "tempfail";
	case MILTER_REJECT:
		return "reject";
	case MILTER_DISCARD:
		return "discard";
	}
	return "accept";
}

/* milter_action_parse - an action word an option may name, or -1 */
int
milter_action_parse(const char *s)
{
	int a;

	for (a = MILTER_ACCEPT; a <= MILTER_REJECT; a++)
		if (strcmp(s, milter_action_name((enum milter_action)a)) == 0)
			return a;
	return -1;
}

/*
 * The verdict's precedence (elemta-milter(8), VERDICT), in this one
 * place: the stage asking and its action give a rank, the highest rank
 * wins whatever the order of the stages, and its reply is the one the
 * MTA is given; between equal ranks the first stage keeps it.
 *
 *	7  a virus (ClamAV: reject or discard)
 *	6  DMARC reject
 *	5  the other refusals (SPF, DKIM, header and size limits)
 *	4  Rspamd reject (or discard)
 *	3  a soft reject: any tempfail (greylisting, rspamd's soft
 *	   reject, a failed dependency's tempfail)
 *	2  quarantine
 *	1  headers only (accept)
 *
 * A rank only goes up: a message refused for good (reject, discard:
 * milter_msg_refused) stays refused, whatever a later stage says; only
 * the reply's text could change.  So ClamAV does not scan it (a scan
 * costs more than any other stage), and Rspamd is not asked about what
 * it could not outrank (milter_msg_outranks).
 */
/* milter_verdict_rank - the rank of action a asked by stage */
int
milter_verdict_rank(const char *stage, enum milter_action a)
{
	switch (a) {
	case MILTER_ACCEPT:
		return 1;
	case MILTER_QUARANTINE:
		return 2;
	case MILTER_TEMPFAIL:
		return 3;
	case MILTER_REJECT:
	case MILTER_DISCARD:
		break;
	}
	if (stage == NULL)
		return 5;
	if (strcmp(stage, "clamav") == 0)
		return 7;
	if (strcmp(stage, "dmarc") == 0)
		return 6;
	if (strcmp(stage, "rspamd") == 0)
		return 4;
	return 5;
}

/* milter_msg_refused - see milter.h */
int
milter_msg_refused(const struct milter_msg *m)
{
	return m->action == MILTER_REJECT || m->action == MILTER_DISCARD;
}

/* milter_msg_outranks - 1 if the message's verdict so far wins over
 * action a of stage (the stage need not run) */
int
milter_msg_outranks(const struct milter_msg *m, const char *stage,
		    enum milter_action a)
{
	return milter_verdict_rank(m->action_stage, m->action)
	       >= milter_verdict_rank(stage, a);
}

/* milter_msg_action - ask for an action; the highest precedence wins */
void
milter_msg_action(struct milter_msg *m, const char *stage,
		  enum milter_action a, const char *code, const char *xcode,
		  const char *text)
{
	if (a == MILTER_ACCEPT || milter_msg_outranks(m, stage, a))
		return;
	m->action = a;
	m->action_stage = stage;
	snprintf(m->reply_code, sizeof(m->reply_code), "%s", code ? code : "");
	snprintf(m->reply_xcode, sizeof(m->reply_xcode), "%s",
		 xcode ? xcode : "");
	x_free(&m->reply_text);
	m->reply_text = x_strdup(text ? text : "");
	if (a == MILTER_QUARANTINE) {
		x_free(&m->quarantine_reason);
		m->quarantine_reason = x_asprintf("%s: %s", stage,
						  text ? text : "");
	}
}

/* milter_msg_add_header - a header for the end of the message's */
void
milter_msg_add_header(struct milter_msg *m, const char *name,
		      const char *value)
{
	struct milter_header *h;

	m->add_headers = x_realloc(m->add_headers, (m->nadd_headers + 1)
				   * sizeof(*m->add_headers));
	h = &m->add_headers[m->nadd_headers++];
	h->name = x_strdup(name);
	h->value = x_strdup(value);
}

/* The replies by kind (milter.h): the stage that asks, then the reject
 * and the tempfail reply. */
static const struct milter_reply {
	const char *stage;
	const char *reject_code, *reject_xcode;
	const char *tempfail_code, *tempfail_xcode;
} milter_replies[] = {
	[MILTER_REPLY_SPF] = { "spf", "550", "5.7.23", "451", "4.7.24" },
	[MILTER_REPLY_SPF_PERMERROR] = { "spf", "550", "5.7.24",
					 "451", "4.7.24" },
	[MILTER_REPLY_DKIM] = { "dkim", "550", "5.7.20", "451", "4.7.20" },
	[MILTER_REPLY_DMARC] = { "dmarc", "550", "5.7.1", "451", "4.7.1" },
	[MILTER_REPLY_HEADER_CAP] = { "header-cap", "552", "5.3.4",
				      "452", "4.3.4" },
	[MILTER_REPLY_GREYLIST] = { "greylist", "550", "5.7.1",
				    "450", "4.7.1" },
	[MILTER_REPLY_SCAN_SIZE] = { "scan-size", "552", "5.3.4",
				     "452", "4.3.4" },
	[MILTER_REPLY_CLAMAV] = { "clamav", "550", "5.7.1", "451", "4.7.1" },
	[MILTER_REPLY_RSPAMD] = { "rspamd", "550", "5.7.1", "451", "4.7.1" },
};

/* milter_msg_enforce - a configured action, with its kind's replies */
void
milter_msg_enforce(struct milter_msg *m, enum milter_reply_kind k, int a,
		   const char *text)
{
	const struct milter_reply *r = &milter_replies[k];

	switch (a) {
	case MILTER_REJECT:
		milter_msg_action(m, r->stage, MILTER_REJECT, r->reject_code,
				  r->reject_xcode, text);
		break;
	case MILTER_TEMPFAIL:
		milter_msg_action(m, r->stage, MILTER_TEMPFAIL,
				  r->tempfail_code, r->tempfail_xcode, text);
		break;
	case MILTER_QUARANTINE:
	case MILTER_DISCARD:
		milter_msg_action(m, r->stage, (enum milter_action)a, NULL,
				  NULL, text);
		break;
	default:
		break;
	}
}
