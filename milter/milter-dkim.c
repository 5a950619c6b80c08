/*++
 * NAME
 *	milter-dkim 3
 * SUMMARY
 *	the DKIM verify stage (libopendkim, key lookups through lib/dns)
 * DESCRIPTION
 *	See milter-dkim.h.  One DKIM_LIB per process, shared by all
 *	threads (libopendkim allows it); one DKIM verify handle per
 *	message, created at its first header.
 *
 *	DNS: libopendkim's query service hooks (dkim_dns_set_query_*)
 *	are answered by lib/dns.  The start hook does the lookup
 *	synchronously (lib/dns bounds it with the configured timeout and
 *	retries) and writes a DNS response in wire format into the buffer
 *	libopendkim gave, built from the records lib/dns returned; the
 *	wait hook hands over its length and status.  A timeout, SERVFAIL
 *	or the per-message lookup cap becomes a failed query, which
 *	libopendkim reports as DKIM_SIGERROR_KEYFAIL: temperror.  The
 *	message's resolver (its connection's) and lookup counter reach the
 *	hooks through thread-local pointers set around each libopendkim
 *	call that can look keys up (the hooks run in the calling thread).
 *
 *	Headers reach libopendkim as "Name:value" with their folding
 *	line ends made CRLF (libmilter and the test mode fold with a bare
 *	LF, which libopendkim's tag parser does not take for white space);
 *	DKIM_LIBFLAGS_FIXCRLF does the same for the body.
 *
 *	Results (RFC 8601 section 2.7.1, RFC 6376 section 6.1):
 *	pass (header signature and body hash good), fail (signature or
 *	body hash mismatch, revoked key), permerror (no key record,
 *	syntax errors in the signature or key, unsupported algorithm,
 *	expired, and rsa-sha1 even when it verifies: RFC 8301 section
 *	3.1), temperror (key lookup failed), neutral (not evaluated),
 *	none (no signature).  Each signature's result carries header.d,
 *	header.i, header.s, header.a and header.b (first 8 characters of
 *	b=, RFC 6008); failures carry libopendkim's reason as a comment.
 *
 *	A message being signed instead (milter-dkim-sign.c decides at end
 *	of headers) is not verified: the stage stops feeding its handle.
 *
 *	Actions (the On-* knobs of OpenDKIM), only when no signature
 *	passed: dkim_on_no_signature, dkim_on_bad_signature,
 *	dkim_on_key_not_found, dkim_on_dns_error; the strongest applies.
 *	Reject is 550 5.7.20, tempfail 451 4.7.20 (RFC 7372).
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "dns.h"
#include "log.h"
#include "milter.h"
#include "milter-dkim.h"
#include "xalloc.h"

/* A message's verifier. */
struct milter_dkim {
	DKIM *dkim;
	DKIM_STAT eoh;		/* what dkim_eoh said */
	int failed;		/* a call failed: stop feeding */
	int eoh_done;
	int max_sigs;		/* for the prescreen callback */
	size_t nignored;
};

/* A query's outcome, between the start and wait hooks. */
struct milter_dkim_query {
	int status;		/* DKIM_DNS_* */
	size_t len;
};

static DKIM_LIB *dkim_lib;
static _Thread_local struct dns_resolver *dkim_dns;
static _Thread_local struct dns_counter *dkim_counter;
/* what libopendkim is given as its query service: the resolver is the
 * message's (dkim_dns), not one of the process */
static int milter_dkim_service;
static _Thread_local const char *dkim_qid;

#define DNS_C_IN	1

/* milter_dkim_put16 - a 16-bit big-endian value */
static unsigned char *
milter_dkim_put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

/* milter_dkim_wire - a DNS response in wire format */
long
milter_dkim_wire(unsigned char *buf, size_t buflen, const char *qname,
		 int qtype, int rcode, unsigned ttl,
		 const unsigned char *const *rdata, const size_t *rdlen,
		 size_t count)
{
	unsigned char *p = buf, *end = buf + buflen;
	const char *s = qname, *dot;
	size_t lab, namelen = 0, i;

	if (buflen < 12 || count > 65535)
		return -1;
	p = milter_dkim_put16(p, 0);		/* id */
	*p++ = 0x81;				/* QR, RD */
	*p++ = (unsigned char)(0x80 | (rcode & 0x0f));	/* RA, rcode */
	p = milter_dkim_put16(p, 1);		/* qdcount */
	p = milter_dkim_put16(p, (unsigned)count);	/* ancount */
	p = milter_dkim_put16(p, 0);		/* nscount */
	p = milter_dkim_put16(p, 0);		/* arcount */
	/* the question's name, label by label ("a.b." and "a.b" alike) */
	while (*s != '\0') {
		dot = strchr(s, '.');
		lab = dot ? (size_t)(dot - s) : strlen(s);
		if (lab == 0 || lab > 63)
			return -1;
		namelen += lab + 1;
		if (namelen > 254 || (size_t)(end - p) < lab + 1)
			return -1;
		*p++ = (unsigned char)lab;
		memcpy(p, s, lab);
		p += lab;
		s += lab;
		if (*s == '.')
			s++;
	}
	if (end - p < 5)
		return -1;
	*p++ = 0;
	p = milter_dkim_put16(p, (unsigned)qtype);
	p = milter_dkim_put16(p, DNS_C_IN);
	for (i = 0; i < count; i++) {
		if (rdlen[i] > 65535 || (size_t)(end - p) < 12 + rdlen[i])
			return -1;
		p = milter_dkim_put16(p, 0xc00c);	/* -> question */
		p = milter_dkim_put16(p, (unsigned)qtype);
		p = milter_dkim_put16(p, DNS_C_IN);
		p = milter_dkim_put16(p, (ttl >> 16) & 0xffff);
		p = milter_dkim_put16(p, ttl & 0xffff);
		p = milter_dkim_put16(p, (unsigned)rdlen[i]);
		memcpy(p, rdata[i], rdlen[i]);
		p += rdlen[i];
	}
	return (long)(p - buf);
}

/* milter_dkim_query_start - libopendkim's query: answered right away */
static int
milter_dkim_query_start(void *srv, int type, unsigned char *query,
			unsigned char *buf, size_t buflen, void **qh)
{
	struct milter_dkim_query *q = x_calloc(1, sizeof(*q));
	struct dns_answer *a = NULL;
	enum dns_status st;
	long n;

	(void)srv;
	if (dkim_dns == NULL) {		/* no resolver: a failed query */
		q->status = DKIM_DNS_ERROR;
		*qh = q;
		return 0;
	}
	st = dns_query(dkim_dns, (const char *)query, type, dkim_counter, &a);
	switch (st) {
	case DNS_OK:
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		n = milter_dkim_wire(buf, buflen, (const char *)query, type,
				     st == DNS_NXDOMAIN ? 3 : 0,
				     a->ttl > 0 ? (unsigned)a->ttl : 0,
				     a->data, a->len,
				     st == DNS_OK ? a->count : 0);
		if (n < 0) {
			q->status = DKIM_DNS_ERROR;
			qid_warn(dkim_qid ? dkim_qid : "NOQUEUE", "dkim "
				 "name=%s: the answer does not fit in %zu "
				 "bytes", query, buflen);
		} else {
			q->status = DKIM_DNS_SUCCESS;
			q->len = (size_t)n;
		}
		break;
	case DNS_TIMEOUT:
		q->status = DKIM_DNS_EXPIRED;
		break;
	default:
		q->status = DKIM_DNS_ERROR;
		break;
	}
	if (st != DNS_OK && st != DNS_NXDOMAIN && st != DNS_NODATA)
		qid_info(dkim_qid ? dkim_qid : "NOQUEUE", "dkim dns=%s "
			 "name=%s reason=\"%s\"", dns_status_str(st), query,
			 a->why);
	dns_answer_free(&a);
	*qh = q;
	return 0;
}

/* milter_dkim_query_wait - the answer start wrote */
static int
milter_dkim_query_wait(void *srv, void *qh, struct timeval *to,
		       size_t *bytes, int *error, int *dnssec)
{
	struct milter_dkim_query *q = qh;

	(void)srv;
	(void)to;
	if (bytes != NULL)
		*bytes = q->len;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return q->status;
}

/* milter_dkim_query_cancel - done with a query */
static int
milter_dkim_query_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return 0;
}

/* milter_dkim_dns_close - the service is lib/dns: nothing to close */
static void
milter_dkim_dns_close(void *srv)
{
	(void)srv;
}

/* milter_dkim_prescreen - verify the first max_signatures only */
static DKIM_CBSTAT
milter_dkim_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct milter_dkim *d = dkim_get_user_context(dkim);
	int i;

	if (d == NULL)
		return DKIM_CBSTAT_CONTINUE;
	for (i = d->max_sigs; i < nsigs; i++) {
		dkim_sig_ignore(sigs[i]);
		d->nignored++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* milter_dkim_init - the process' libopendkim handle */
int
milter_dkim_init(char *err, size_t errlen)
{
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF
			     | DKIM_LIBFLAGS_BADSIGHANDLES;

	milter_dkim_pkey_init();
	if ((dkim_lib = dkim_init(NULL, NULL)) == NULL) {
		x_err(err, errlen, "libopendkim: dkim_init failed");
		return -1;
	}
	if (dkim_options(dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
			 sizeof(flags)) != DKIM_STAT_OK) {
		x_err(err, errlen, "libopendkim: cannot set flags");
		milter_dkim_finish();
		return -1;
	}
	/* dkim_close() closes the service with its close hook: ours
	 * does nothing, the resolvers are lib/dns's. */
	(void)dkim_dns_set_query_service(dkim_lib, &milter_dkim_service);
	dkim_dns_set_close(dkim_lib, milter_dkim_dns_close);
	dkim_dns_set_query_start(dkim_lib, milter_dkim_query_start);
	dkim_dns_set_query_waitreply(dkim_lib, milter_dkim_query_wait);
	dkim_dns_set_query_cancel(dkim_lib, milter_dkim_query_cancel);
	(void)dkim_set_prescreen(dkim_lib, milter_dkim_prescreen);
	return 0;
}

/* milter_dkim_finish - release the library handle */
void
milter_dkim_finish(void)
{
	if (dkim_lib != NULL)
		dkim_close(dkim_lib);
	dkim_lib = NULL;
	milter_dkim_pkey_finish();
}

/* milter_dkim_lib - the process' handle (signing uses it too) */
DKIM_LIB *
milter_dkim_lib(void)
{
	return dkim_lib;
}

/* milter_dkim_enter - set the thread-locals for a libopendkim call */
static void
milter_dkim_enter(struct milter_msg *m)
{
	dkim_dns = m->conn->dns;
	dkim_counter = &m->dkim_dns;
	dkim_qid = m->qid;
}

/* milter_dkim_leave - clear them */
static void
milter_dkim_leave(void)
{
	dkim_dns = NULL;
	dkim_counter = NULL;
	dkim_qid = NULL;
}

/* milter_dkim_state - the message's verifier, created when needed */
static struct milter_dkim *
milter_dkim_state(struct milter_msg *m)
{
	struct milter_dkim *d;
	DKIM_STAT st;

	if (m->mode == MILTER_MODE_SIGN)
		return NULL;	/* signing instead of verifying */
	if (m->dkim != NULL)
		return m->dkim->failed ? NULL : m->dkim;
	if (!m->conn->mc->dkim || dkim_lib == NULL)
		return NULL;
	d = x_calloc(1, sizeof(*d));
	d->max_sigs = m->conn->mc->max_signatures;
	m->dkim = d;
	d->dkim = dkim_verify(dkim_lib, (const unsigned char *)m->qid, NULL,
			      &st);
	if (d->dkim == NULL) {
		qid_warn(m->qid, "dkim: cannot start verifying: %s",
			 dkim_getresultstr(st));
		d->failed = 1;
		return NULL;
	}
	(void)dkim_set_user_context(d->dkim, d);
	return d;
}

/* milter_dkim_crlf - "Name:value", folding line ends made CRLF
 * (libmilter and the test mode give bare LF; libopendkim's tag parser
 * takes only CRLF as folding white space) */
char *
milter_dkim_crlf(const char *name, const char *value, size_t *lenp)
{
	size_t nlen = strlen(name), vlen = strlen(value), i, o;
	char *h = x_malloc(nlen + 1 + 2 * vlen + 1);

	memcpy(h, name, nlen);
	o = nlen;
	h[o++] = ':';
	for (i = 0; i < vlen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			h[o++] = '\r';
		h[o++] = value[i];
	}
	h[o] = '\0';
	*lenp = o;
	return h;
}

/* milter_dkim_header - one header, "Name:value" as received */
void
milter_dkim_header(struct milter_msg *m, const char *name, const char *value)
{
	struct milter_dkim *d = milter_dkim_state(m);
	DKIM_STAT st;
	size_t len;
	char *h;

	if (d == NULL || d->eoh_done)
		return;
	h = milter_dkim_crlf(name, value, &len);
	st = dkim_header(d->dkim, (u_char *)h, len);
	free(h);
	if (st != DKIM_STAT_OK)
		qid_info(m->qid, "dkim: header %.40s not taken: %s", name,
			 dkim_getresultstr(st));
}

/* milter_dkim_eoh - end of headers: libopendkim finds the signatures */
void
milter_dkim_eoh(struct milter_msg *m)
{
	struct milter_dkim *d = milter_dkim_state(m);

	if (d == NULL || d->eoh_done)
		return;
	milter_dkim_enter(m);
	d->eoh = dkim_eoh(d->dkim);
	milter_dkim_leave();
	d->eoh_done = 1;
}

/* milter_dkim_body - a body chunk, hashed as it comes */
void
milter_dkim_body(struct milter_msg *m, const unsigned char *chunk,
		 size_t len)
{
	struct milter_dkim *d = milter_dkim_state(m);
	DKIM_STAT st;

	if (d == NULL || len == 0)
		return;
	if (!d->eoh_done)
		milter_dkim_eoh(m);
	if (d->eoh != DKIM_STAT_OK)
		return;
	st = dkim_body(d->dkim, (u_char *)chunk, len);
	if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG) {
		qid_info(m->qid, "dkim: body: %s", dkim_getresultstr(st));
		d->eoh = st;	/* no more feeding */
	}
}

/* milter_dkim_alg - the a= word */
static const char *
milter_dkim_alg(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg;

	if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK)
		return NULL;
	switch (alg) {
	case DKIM_SIGN_RSASHA1:
		return "rsa-sha1";
	case DKIM_SIGN_RSASHA256:
		return "rsa-sha256";
	case DKIM_SIGN_ED25519SHA256:
		return "ed25519-sha256";
	default:
		return NULL;
	}
}

/* milter_dkim_sig_result - the RFC 8601 word for an outcome */
const char *
milter_dkim_sig_result(unsigned flags, int bh, int err,
		       enum milter_dkim_class *cls)
{
	*cls = MILTER_DKIM_BAD;
	if ((flags & DKIM_SIGFLAG_PASSED) != 0 && bh == DKIM_SIGBH_MATCH
	    && (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN)) {
		*cls = MILTER_DKIM_PASS;
		return "pass";
	}
	switch (err) {
	case DKIM_SIGERROR_KEYFAIL:
		*cls = MILTER_DKIM_DNSERR;
		return "temperror";
	case DKIM_SIGERROR_NOKEY:
		*cls = MILTER_DKIM_NOKEY;
		return "permerror";
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_KEYREVOKED:
		return "fail";
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_UNKNOWN:
		if (bh == DKIM_SIGBH_MISMATCH
		    || (flags & DKIM_SIGFLAG_PROCESSED) != 0)
			return "fail";
		return "neutral";
	default:
		return "permerror";
	}
}

/* milter_dkim_b8 - the first 8 characters of b=, FWS skipped */
void
milter_dkim_b8(const char *b, char out[9])
{
	size_t n = 0;

	for (; b != NULL && *b != '\0' && n < 8; b++)
		if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n')
			out[n++] = *b;
	out[n] = '\0';
}

/* milter_dkim_partial - does the signature's l= stop short of the
 * body?  The body as received is compared: with relaxed
 * canonicalization white space may make it longer than what l=
 * counts, which errs on the side of "partial". */
static int
milter_dkim_partial(struct milter_dkim *d, DKIM_SIGINFO *sig, char *why,
		    size_t whylen)
{
	ssize_t msglen = -1, canonlen = -1, signlen = -1;

	if (dkim_sig_getcanonlen(d->dkim, sig, &msglen, &canonlen, &signlen)
	    != DKIM_STAT_OK || signlen < 0 || msglen <= signlen)
		return 0;
	snprintf(why, whylen, "l=%zd signs part of the %zd-byte body",
		 signlen, msglen);
	return 1;
}

/* milter_dkim_collect - one signature into the results and A-R */
static void
milter_dkim_collect(struct milter_msg *m, struct milter_dkim *d,
		    DKIM_SIGINFO *sig, enum milter_dkim_class *cls)
{
	struct milter_dkim_results *res = &m->dkim_results;
	struct milter_dkim_sig *s;
	struct authres_result *r;
	unsigned char ident[512];
	const unsigned char *v;
	const char *why = NULL;
	char lwhy[96];
	dkim_alg_t alg;
	int err = dkim_sig_geterror(sig);

	if (res->nsigs >= MILTER_DKIM_MAX_SIGS)
		return;
	s = &res->sigs[res->nsigs++];
	s->result = milter_dkim_sig_result(dkim_sig_getflags(sig),
					   dkim_sig_getbh(sig), err, cls);
	s->pass = *cls == MILTER_DKIM_PASS;
	s->sigerror = err;
	if ((v = dkim_sig_getdomain(sig)) != NULL)
		s->domain = x_strdup((const char *)v);
	if ((v = dkim_sig_getselector(sig)) != NULL)
		s->selector = x_strdup((const char *)v);
	if (dkim_sig_getidentity(d->dkim, sig, ident, sizeof(ident))
	    == DKIM_STAT_OK && ident[0] != '\0')
		s->identity = x_strdup((const char *)ident);
	s->algorithm = milter_dkim_alg(sig);
	milter_dkim_b8((const char *)dkim_sig_gettagvalue(sig, 0,
				(u_char *)"b"), s->b);

	/* RFC 8301 section 3.1: rsa-sha1 signatures are not valid. */
	if (s->pass && dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK
	    && alg == DKIM_SIGN_RSASHA1) {
		s->pass = 0;
		s->result = "permerror";
		*cls = MILTER_DKIM_BAD;
		why = "rsa-sha1 not accepted, RFC 8301";
	}
	/* RFC 6376 8.2: l= may leave the end of the body unsigned, where
	 * anyone can append anything: not a plain pass (nor a DMARC one)
	 * unless dkim_partial_body_pass says so. */
	if (s->pass && milter_dkim_partial(d, sig, lwhy, sizeof(lwhy))) {
		s->partial = 1;
		why = lwhy;
		if (!m->conn->mc->dkim_partial_body_pass) {
			s->pass = 0;
			s->result = "policy";
			*cls = MILTER_DKIM_BAD;
		}
	}
	r = milter_msg_result(m, "dkim", s->result);
	if (why != NULL) {
		authres_set_comment(r, why);
	} else if (!s->pass) {
		if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)
			why = "body hash mismatch";
		else if (err != DKIM_SIGERROR_OK
			 && err != DKIM_SIGERROR_UNKNOWN)
			why = dkim_sig_geterrorstr(err);
		if (why != NULL)
			authres_set_comment(r, why);
		else if (strcmp(s->result, "fail") == 0)
			authres_set_comment(r, "signature verification "
					    "failed");
	}
	if (s->domain != NULL)
		authres_prop_add(r, "header", "d", s->domain);
	if (s->identity != NULL)
		authres_prop_add(r, "header", "i", s->identity);
	if (s->selector != NULL)
		authres_prop_add(r, "header", "s", s->selector);
	if (s->algorithm != NULL)
		authres_prop_add(r, "header", "a", s->algorithm);
	if (s->b[0] != '\0')
		authres_prop_add(r, "header", "b", s->b);
	milter_msg_summary(m, "dkim=%s(d=%s%s%s)", s->result,
			   s->domain ? s->domain : "", why ? " " : "",
			   why ? why : "");
}

/* milter_dkim_eom - verify, report each signature, act */
void
milter_dkim_eom(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	struct milter_dkim_results *res = &m->dkim_results;
	struct milter_dkim *d;
	DKIM_SIGINFO **sigs = NULL;
	enum milter_dkim_class cls;
	int nsigs = 0, i, any_pass = 0, bad = 0, nokey = 0, dnserr = 0;
	_Bool testkey = 0;

	if (!mc->dkim || dkim_lib == NULL || m->mode == MILTER_MODE_SIGN)
		return;
	res->done = 1;
	if ((d = milter_dkim_state(m)) == NULL) {
		milter_msg_summary(m, "dkim=skipped(error)");
		return;
	}
	if (!d->eoh_done)
		milter_dkim_eoh(m);
	milter_dkim_enter(m);
	if (d->eoh == DKIM_STAT_OK)
		(void)dkim_eom(d->dkim, &testkey);
	milter_dkim_leave();
	if (dkim_getsiglist(d->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	res->nignored = d->nignored;
	for (i = 0; i < nsigs; i++) {
		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		milter_dkim_collect(m, d, sigs[i], &cls);
		switch (cls) {
		case MILTER_DKIM_PASS:
			any_pass = 1;
			break;
		case MILTER_DKIM_NOKEY:
			nokey = 1;
			break;
		case MILTER_DKIM_DNSERR:
			dnserr = 1;
			break;
		default:
			bad = 1;
			break;
		}
	}
	res->signed_ = nsigs > 0;
	if (nsigs == 0) {
		(void)milter_msg_result(m, "dkim", "none");
		milter_msg_summary(m, "dkim=none");
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_no_signature,
				   "No DKIM signature found");
		return;
	}
	if (d->nignored > 0)
		qid_info(m->qid, "dkim: %zu signatures beyond max_signatures="
			 "%d not verified", d->nignored, mc->max_signatures);
	if (any_pass)
		return;
	if (bad)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_bad_signature,
				   "No passing DKIM signature found");
	if (nokey)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_key_not_found,
				   "No DKIM key found for the signature");
	if (dnserr)
		milter_msg_enforce(m, MILTER_REPLY_DKIM,
				   mc->dkim_on_dns_error,
				   "DKIM key lookup failed, try again later");
}

/* milter_dkim_free - the verifier and the results' strings */
void
milter_dkim_free(struct milter_msg *m)
{
	struct milter_dkim_results *res = &m->dkim_results;
	size_t i;

	if (m->dkim != NULL) {
		if (m->dkim->dkim != NULL)
			(void)dkim_free(m->dkim->dkim);
		x_free(&m->dkim);
	}
	for (i = 0; i < res->nsigs; i++) {
		x_free(&res->sigs[i].domain);
		x_free(&res->sigs[i].selector);
		x_free(&res->sigs[i].identity);
	}
	res->nsigs = 0;
}
