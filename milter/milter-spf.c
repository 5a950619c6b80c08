/*++
 * NAME
 *	milter-spf 3
 * SUMMARY
 *	the SPF stage (libspf2, fed by lib/dns)
 * DESCRIPTION
 *	One SPF_server_t per process, shared by all threads, whose DNS
 *	layer is ours: libspf2's own "resolv" layer reads /etc/resolv.conf
 *	and cannot use a port, so lookups go through lib/dns instead (one
 *	cache, the configured nameservers, timeout and retries).  The
 *	message's resolver (its connection's) and lookup counter reach the
 *	layer through thread-local pointers, set around each evaluation:
 *	libspf2 calls the layer synchronously from the evaluating thread.
 *
 *	Identity: MAIL FROM; for the null sender, the HELO name as
 *	postmaster@HELO (RFC 7208 section 2.4), reported as smtp.helo.
 *	Skipped (no result) for authenticated clients and for clients in
 *	internal_networks.  A DNS failure (timeout, SERVFAIL, the lookup
 *	cap) becomes TRY_AGAIN for libspf2, and the result temperror
 *	whatever libspf2 concludes (RFC 7208 section 4.4).  An internal
 *	error of libspf2 (its error handler, which would abort the
 *	process) is logged and makes the result temperror for that
 *	message: hostile input never kills the other sessions.
 *
 *	The result is kept typed in the message (milter_spf_results:
 *	result, scope, the identity's domain) for DMARC and ARC.
 *
 *	With received_spf on, the result also goes into a Received-SPF
 *	header (RFC 7208 9.1): the result, a comment in the words of the
 *	RFC's examples, and client-ip, envelope-from, helo, receiver (our
 *	authserv-id) and identity; milter-callbacks.c inserts it.
 *
 *	Enforcement per result: spf_fail_action (550 5.7.23),
 *	spf_softfail_action, spf_temperror_action (451 4.7.24),
 *	spf_permerror_action (550 5.7.24); the default for all is to
 *	record the result only.
 *--*/
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "dns.h"
#include "log.h"
#include "milter.h"
#include "xalloc.h"

static SPF_server_t *spf_server;
static SPF_dns_server_t spf_layer;
static _Thread_local struct dns_resolver *spf_dns;
static _Thread_local struct dns_counter *spf_counter;
static _Thread_local const char *spf_qid;
static _Thread_local int spf_dns_failed;
static _Thread_local jmp_buf *spf_jump;	/* set while libspf2 evaluates */

/* spf_log_error - libspf2's error handler.  libspf2 aborts the process
 * when it returns, and calls it on an internal inconsistency or an
 * allocation failure, which hostile DNS data may provoke: during an
 * evaluation, a complaint is logged and jumps back to spf_query (the
 * message's result is temperror), never a crash.  Outside one (start-up)
 * it is a programmer error, as before. */
static void ATTR_NORETURN
spf_log_error(const char *file, int line, const char *text)
{
	jmp_buf *j = spf_jump;

	if (j == NULL)
		msg_panic("libspf2: %s:%d: %s", file ? file : "?", line,
			  text ? text : "");
	spf_jump = NULL;
	qid_warn(spf_qid ? spf_qid : "NOQUEUE", "spf libspf2 error: %s:%d: "
		 "%s: result temperror", file ? file : "?", line,
		 text ? text : "");
	longjmp(*j, 1);
}

/* spf_log_debug - libspf2's warnings and chatter: debug level */
static void
spf_log_debug(const char *file, int line, const char *text)
{
	msg_debug("libspf2: %s", text ? text : "");
}

/* spf_fill - copy our answer's records into a libspf2 RR */
static void
spf_fill(SPF_dns_rr_t *rr, const struct dns_answer *a, ns_type type)
{
	char name[1025], *txt;
	int cnt = 0;
	size_t i;

	for (i = 0; i < a->count; i++) {
		const unsigned char *d = a->data[i];
		size_t len = a->len[i];

		switch (type) {
		case ns_t_a:
			if (len != 4 || SPF_dns_rr_buf_realloc(rr, cnt,
			    sizeof(struct in_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[cnt++]->a, d, 4);
			break;
		case ns_t_aaaa:
			if (len != 16 || SPF_dns_rr_buf_realloc(rr, cnt,
			    sizeof(struct in6_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[cnt++]->aaaa, d, 16);
			break;
		case ns_t_mx:
			if (len < 3 || dns_name_text(d + 2, len - 2, name,
						     sizeof(name)) < 0
			    || SPF_dns_rr_buf_realloc(rr, cnt, strlen(name)
						      + 1) != SPF_E_SUCCESS)
				continue;
			strcpy(rr->rr[cnt++]->mx, name);
			break;
		case ns_t_ptr:
			if (dns_name_text(d, len, name, sizeof(name)) < 0
			    || SPF_dns_rr_buf_realloc(rr, cnt, strlen(name)
						      + 1) != SPF_E_SUCCESS)
				continue;
			strcpy(rr->rr[cnt++]->ptr, name);
			break;
		case ns_t_txt:
		case ns_t_spf:
			if ((txt = dns_txt_join(d, len)) == NULL)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, cnt, strlen(txt) + 1)
			    == SPF_E_SUCCESS)
				strcpy(rr->rr[cnt++]->txt, txt);
			free(txt);
			break;
		default:
			break;
		}
	}
	rr->num_rr = cnt;
	if (cnt == 0)
		rr->herrno = NO_DATA;
}

/* spf_lookup - libspf2's DNS layer, answered by lib/dns */
static SPF_dns_rr_t *
spf_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
	   int should_cache)
{
	struct dns_answer *a = NULL;
	SPF_dns_rr_t *rr;
	enum dns_status st;
	int herrno;

	if (spf_dns == NULL) {		/* no resolver: nothing is known */
		spf_dns_failed = 1;
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	}
	st = dns_query(spf_dns, domain, (int)type, spf_counter, &a);
	switch (st) {
	case DNS_OK:
		herrno = NETDB_SUCCESS;
		break;
	case DNS_NXDOMAIN:
		herrno = HOST_NOT_FOUND;
		break;
	case DNS_NODATA:
		herrno = NO_DATA;
		break;
	default:
		herrno = TRY_AGAIN;
		spf_dns_failed = 1;
		qid_info(spf_qid ? spf_qid : "NOQUEUE", "spf dns=%s name=%s "
			 "type=%d reason=\"%s\"", dns_status_str(st), domain,
			 (int)type, a->why);
		break;
	}
	rr = SPF_dns_rr_new_init(srv, domain, type, a->ttl > 0 ? a->ttl : 0,
				 herrno);
	if (rr != NULL && st == DNS_OK)
		spf_fill(rr, a, type);
	dns_answer_free(&a);
	return rr;
}

/* spf_query - libspf2's evaluation of req into *respp; -1 when libspf2
 * complained (spf_log_error jumped back here).  Then what libspf2 had
 * allocated for the evaluation beyond *respp may leak: a complaint is
 * rare, and a leak beats a crash of every session. */
static int
spf_query(SPF_request_t *req, SPF_response_t **respp)
{
	jmp_buf j;

	if (setjmp(j) != 0)
		return -1;
	spf_jump = &j;
	(void)SPF_request_query_mailfrom(req, respp);
	spf_jump = NULL;
	return 0;
}

/* milter_spf_init - the process' SPF server on our DNS layer */
int
milter_spf_init(char *err, size_t errlen)
{
	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_debug;
	SPF_info_handler = spf_log_debug;
	SPF_debug_handler = spf_log_debug;

	memset(&spf_layer, 0, sizeof(spf_layer));
	spf_layer.destroy = NULL;	/* static: not freed by libspf2 */
	spf_layer.lookup = spf_lookup;
	spf_layer.name = "elemta";
	spf_layer.hook = NULL;		/* the resolver is the message's */
	if ((spf_server = SPF_server_new_dns(&spf_layer, 0)) == NULL) {
		x_err(err, errlen, "libspf2: cannot create an SPF server");
		return -1;
	}
	return 0;
}

/* spf_enforce - the action configured for a result */
static void
spf_enforce(struct milter_msg *m, SPF_result_t res, const char *ident)
{
	const struct milter_conf *mc = m->conn->mc;
	char text[512];
	int a;

	switch (res) {
	case SPF_RESULT_FAIL:
		a = mc->spf_fail_action;
		snprintf(text, sizeof(text), "SPF validation failed for %s "
			 "from %s", ident, m->conn->client_addr);
		break;
	case SPF_RESULT_SOFTFAIL:
		a = mc->spf_softfail_action;
		snprintf(text, sizeof(text), "SPF softfail for %s", ident);
		break;
	case SPF_RESULT_TEMPERROR:
		a = mc->spf_temperror_action;
		snprintf(text, sizeof(text), "SPF temporary error for %s, "
			 "try again later", ident);
		break;
	case SPF_RESULT_PERMERROR:
		a = mc->spf_permerror_action;
		snprintf(text, sizeof(text), "SPF permanent error for %s",
			 ident);
		break;
	default:
		return;
	}
	milter_msg_enforce(m, res == SPF_RESULT_PERMERROR
			   ? MILTER_REPLY_SPF_PERMERROR : MILTER_REPLY_SPF,
			   a, text);
}

/* spf_result_of - libspf2's result as ours */
static enum milter_spf_result
spf_result_of(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return MILTER_SPF_PASS;
	case SPF_RESULT_FAIL:
		return MILTER_SPF_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return MILTER_SPF_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return MILTER_SPF_NEUTRAL;
	case SPF_RESULT_NONE:
		return MILTER_SPF_NONE;
	case SPF_RESULT_TEMPERROR:
		return MILTER_SPF_TEMPERROR;
	case SPF_RESULT_PERMERROR:
	default:
		return MILTER_SPF_PERMERROR;
	}
}

/* milter_spf_word - our result as the A-R word */
const char *
milter_spf_word(enum milter_spf_result r)
{
	switch (r) {
	case MILTER_SPF_PASS:
		return "pass";
	case MILTER_SPF_FAIL:
		return "fail";
	case MILTER_SPF_SOFTFAIL:
		return "softfail";
	case MILTER_SPF_NEUTRAL:
		return "neutral";
	case MILTER_SPF_NONE:
		return "none";
	case MILTER_SPF_TEMPERROR:
		return "temperror";
	case MILTER_SPF_PERMERROR:
	default:
		return "permerror";
	}
}

/* spf_results_set - the typed result, for the later stages */
static void
spf_results_set(struct milter_msg *m, SPF_result_t res, int helo_id,
		const char *ident)
{
	struct milter_spf_results *sr = &m->spf_results;
	const char *helo = m->conn->helo;

	sr->done = 1;
	sr->result = spf_result_of(res);
	sr->scope = helo_id ? MILTER_SPF_HELO : MILTER_SPF_MAILFROM;
	sr->domain[0] = '\0';
	if (helo_id) {
		if (dmarc_domain_valid(helo, strlen(helo)))
			snprintf(sr->domain, sizeof(sr->domain), "%s", helo);
	} else if (dmarc_addr_domain(ident, sr->domain) < 0) {
		sr->domain[0] = '\0';
	}
}

/* spf_atom_ok - may s go unquoted as a dot-atom (RFC 5322 3.2.3)? */
static int
spf_atom_ok(const char *s)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~.";

	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s != '\0'; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z')
		    && !(*s >= '0' && *s <= '9')
		    && strchr(special, *s) == NULL)
			return 0;
	return 1;
}

/* spf_escaped - s with each of the characters in esc backslashed, and
 * controls and 8-bit bytes replaced by '?' (a header stays ASCII);
 * malloc'ed */
static char *
spf_escaped(const char *s, const char *esc)
{
	char *out = x_malloc(2 * strlen(s) + 1), *o = out;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < ' ' || ch > '~') {
			*o++ = '?';
			continue;
		}
		if (strchr(esc, *s) != NULL)
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* spf_kv_value - a key-value-pair's value: dot-atom or quoted-string */
static char *
spf_kv_value(const char *s, int always_quote)
{
	char *q, *v;

	if (!always_quote && spf_atom_ok(s))
		return x_strdup(s);
	q = spf_escaped(s, "\"\\");
	v = x_asprintf("\"%s\"", q);
	free(q);
	return v;
}

/* milter_spf_received - the Received-SPF value (see milter.h) */
char *
milter_spf_received(const char *result, const char *receiver,
		    const char *client_ip, const char *ident,
		    const char *helo, const char *identity)
{
	char *who = spf_escaped(ident, "()\\"), *rcv, *from, *hl = NULL;
	char *ip = spf_escaped(client_ip, "()\\"), *comment, *out;
	char *rcomm = spf_escaped(receiver, "()\\");
	char *cip = spf_kv_value(client_ip, 0);	/* IPv6: quoted */

	if (strcmp(result, "pass") == 0)
		comment = x_asprintf("domain of %s designates %s as permitted "
				     "sender", who, ip);
	else if (strcmp(result, "fail") == 0)
		comment = x_asprintf("domain of %s does not designate %s as "
				     "permitted sender", who, ip);
	else if (strcmp(result, "softfail") == 0)
		comment = x_asprintf("domain of transitioning %s does not "
				     "designate %s as permitted sender", who,
				     ip);
	else if (strcmp(result, "neutral") == 0)
		comment = x_asprintf("%s is neither permitted nor denied by "
				     "domain of %s", ip, who);
	else if (strcmp(result, "none") == 0)
		comment = x_asprintf("domain of %s does not designate "
				     "permitted sender hosts", who);
	else if (strcmp(result, "temperror") == 0)
		comment = x_asprintf("temporary error in processing during "
				     "lookup of %s", who);
	else
		comment = x_asprintf("permanent error in processing domain "
				     "of %s", who);
	rcv = spf_kv_value(receiver, 0);
	from = spf_kv_value(ident, 1);
	if (helo != NULL)
		hl = spf_kv_value(helo, 0);
	out = x_asprintf("%s (%s: %s)\n\tclient-ip=%s; envelope-from=%s;%s%s%s"
			 " receiver=%s; identity=%s;", result, rcomm, comment,
			 cip, from, hl ? " helo=" : "", hl ? hl : "",
			 hl ? ";" : "", rcv, identity);
	free(who);
	free(ip);
	free(rcomm);
	free(cip);
	free(comment);
	free(rcv);
	free(from);
	free(hl);
	return out;
}

/* spf_skip - whether the SPF check does not apply to m (said in the
 * summary line); *helo_id: the identity is the HELO name */
static int
spf_skip(struct milter_msg *m, int *helo_id)
{
	const struct milter_conn *c = m->conn;

	if (m->auth_type != NULL) {
		milter_msg_summary(m, "spf=skipped(authenticated)");
		return 1;
	}
	if (c->internal) {
		milter_msg_summary(m, "spf=skipped(internal)");
		return 1;
	}
	if (c->client_addr == NULL) {
		milter_msg_summary(m, "spf=skipped(no-client-address)");
		return 1;
	}
	*helo_id = m->sender == NULL || m->sender[0] == '\0';
	if (*helo_id && c->helo == NULL) {
		milter_msg_summary(m, "spf=skipped(null-sender-no-helo)");
		return 1;
	}
	return 0;
}

/* spf_request - a libspf2 request for the client's address and HELO,
 * or NULL (said in the summary line) for an address it refuses */
static SPF_request_t *
spf_request(struct milter_msg *m)
{
	const struct milter_conn *c = m->conn;
	SPF_request_t *req;
	int set;

	req = SPF_request_new(spf_server);
	set = strchr(c->client_addr, ':') != NULL
	      ? SPF_request_set_ipv6_str(req, c->client_addr)
	      : SPF_request_set_ipv4_str(req, c->client_addr);
	if (set != SPF_E_SUCCESS) {
		SPF_request_free(req);
		milter_msg_summary(m, "spf=skipped(bad-client-address)");
		return NULL;
	}
	if (c->helo != NULL)
		SPF_request_set_helo_dom(req, c->helo);
	return req;
}

/* spf_check - evaluate req for ident through the connection's
 * resolver; the result, *resp to free, *liberr for a library error */
static SPF_result_t
spf_check(struct milter_msg *m, SPF_request_t *req, const char *ident,
	  SPF_response_t **resp, int *liberr)
{
	SPF_result_t res;

	if (SPF_request_set_env_from(req, ident) != 0) {
		/* not an address libspf2 accepts: permerror, as the
		 * identity cannot be checked */
		return SPF_RESULT_PERMERROR;
	}
	spf_dns = m->conn->dns;
	spf_counter = &m->spf_dns;
	spf_qid = m->qid;
	spf_dns_failed = 0;
	*liberr = spf_query(req, resp) < 0;
	spf_dns = NULL;
	spf_counter = NULL;
	spf_qid = NULL;
	res = *resp && !*liberr ? SPF_response_result(*resp)
				: SPF_RESULT_TEMPERROR;
	/* RFC 7208 4.4: a lookup that fails or times out ends the
	 * evaluation with temperror; libspf2 1.2.10 reports some of
	 * those as permerror (or goes on to another mechanism). */
	if (spf_dns_failed)
		res = SPF_RESULT_TEMPERROR;
	return res;
}

/* spf_report - record, report (Authentication-Results, summary,
 * Received-SPF) and enforce the result res */
static void
spf_report(struct milter_msg *m, SPF_result_t res, int helo_id,
	   const char *ident, int liberr)
{
	const struct milter_conn *c = m->conn;
	struct authres_result *r;
	const char *word, *ptype_prop;

	spf_results_set(m, res, helo_id, ident);
	word = milter_spf_word(m->spf_results.result);
	r = milter_msg_result(m, "spf", word);
	ptype_prop = helo_id ? "helo" : "mailfrom";
	authres_prop_add(r, "smtp", ptype_prop, helo_id ? c->helo : ident);
	milter_msg_summary(m, "spf=%s%s", word, liberr ? "(library-error)"
						       : "");
	if (c->mc->received_spf)
		m->received_spf = milter_spf_received(word,
			c->mc->authserv_id, c->client_addr, ident, c->helo,
			ptype_prop);
	spf_enforce(m, res, helo_id ? c->helo : ident);
}

/* milter_spf_eom - the SPF stage */
void
milter_spf_eom(struct milter_msg *m)
{
	const struct milter_conn *c = m->conn;
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_result_t res;
	char *ident;
	int helo_id = 0, liberr = 0;

	if (!c->mc->spf || spf_server == NULL)
		return;
	if (spf_skip(m, &helo_id) || (req = spf_request(m)) == NULL)
		return;
	ident = helo_id ? x_asprintf("postmaster@%s", c->helo)
			: x_strdup(m->sender);
	res = spf_check(m, req, ident, &resp, &liberr);
	spf_report(m, res, helo_id, ident, liberr);
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	free(ident);
}
