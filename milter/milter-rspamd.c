/*++
 * NAME
 *	milter-rspamd 3
 * SUMMARY
 *	the Rspamd stage: rspamd's HTTP protocol (/checkv2), its verdict
 * DESCRIPTION
 *	With milter.rspamd_url set, every message is POSTed to
 *	rspamd_url/checkv2 with libcurl: the envelope and the connection
 *	as request headers (IP, Helo, From, one Rcpt per recipient,
 *	Queue-Id, User for an authenticated client, Hostname when the
 *	client's name is known, Settings-ID when rspamd_settings_id is
 *	set), the message from the one copy of it (milter-body.c: no
 *	other copy is made, curl reads it where it is).  Each milter
 *	worker thread has its own curl handle, kept for the thread's life
 *	(a thread-specific key): its connection stays open and is reused by
 *	the thread's next message when the server allows it (rspamd 3.4's
 *	normal worker closes each one), and no lock is held around a
 *	request.
 *
 *	The reply (milter-rspamd-reply.c, json-c) becomes, by rspamd's
 *	action: reject: 550 5.7.1 (rspamd's messages.smtp_message, if any,
 *	as the text); soft reject: 451 4.7.1; greylist: the greylisting
 *	stage decides (milter_greylist_rspamd: with greylist_mode = rspamd
 *	only such mail is greylisted); add header, rewrite subject:
 *	"X-Spam: Yes" and "X-Spamd-Result" (the score line of rspamd's
 *	milter_headers), the Subject rspamd rewrote; discard, quarantine:
 *	the milter's discard and quarantine.  The reply's
 *	milter.add_headers and milter.remove_headers are honoured (a
 *	header rspamd adds itself is not added twice).  Headers the sender
 *	wrote that claim a verdict (X-Spam*, X-Rspamd*) are removed first,
 *	whatever the verdict, as long as Rspamd is on (milter-claims.c).
 *
 *	Rspamd unreachable, slower than rspamd_timeout_ms, or answering
 *	something that is not a reply (an HTTP error, not JSON, no action):
 *	logged with the reason, counted, and rspamd_fail_action decides
 *	(tempfail, the default, 451 4.7.1; or accept, unscanned).  A
 *	message an earlier stage already refused is not sent.
 *
 *	Metrics: elemta_milter_rspamd_total{result}, result one of no_action,
 *	greylist, add_header, rewrite_subject, soft_reject, reject,
 *	discard, quarantine, skipped (over scan_max_size), refused (not
 *	asked: an earlier stage already rejects or discards the message),
 *	unreachable, timeout, garbage.
 *--*/
#include "config.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-body.h"
#include "milter-rspamd.h"
#include "xalloc.h"

#define RSPAMD_REPLY_MAX	(1024 * 1024)	/* more is not a reply */
#define RSPAMD_SCORE_HEADER	"X-Spamd-Result"
#define RSPAMD_SPAM_HEADER	"X-Spam"

/* The stage's state of one message (m->rspamd). */
struct milter_rspamd {
	int replied;			/* reply below holds a verdict */
	struct rspamd_reply reply;
};

static pthread_key_t rs_key;
static pthread_once_t rs_once = PTHREAD_ONCE_INIT;
static struct metric *m_rspamd;

/* rs_handle_free - a thread's curl handle, at the thread's exit */
static void
rs_handle_free(void *h)
{
	curl_easy_cleanup(h);
}

/* rs_key_make - the thread-specific key of the handles */
static void
rs_key_make(void)
{
	if (pthread_key_create(&rs_key, rs_handle_free) != 0)
		msg_fatal("rspamd: pthread_key_create failed");
}

/* milter_rspamd_init - libcurl and the metric (once, before threads) */
void
milter_rspamd_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		msg_fatal("rspamd: curl_global_init failed");
	pthread_once(&rs_once, rs_key_make);
	m_rspamd = metrics_counter("elemta_milter_rspamd_total",
				   "Rspamd verdicts and failures", "result");
	/* the failures at 0 from the start: an alert's increase() sees
	 * the first one */
	metric_add(m_rspamd, 0, "unreachable");
	metric_add(m_rspamd, 0, "timeout");
	metric_add(m_rspamd, 0, "garbage");
}

/* milter_rspamd_finish - the calling thread's handle (at exit; the
 * worker threads' go with them) */
void
milter_rspamd_finish(void)
{
	CURL *h;

	pthread_once(&rs_once, rs_key_make);
	if ((h = pthread_getspecific(rs_key)) != NULL) {
		pthread_setspecific(rs_key, NULL);
		curl_easy_cleanup(h);
	}
}

/* rs_handle - this thread's curl handle (its connections kept) */
static CURL *
rs_handle(void)
{
	CURL *h;

	pthread_once(&rs_once, rs_key_make);
	if ((h = pthread_getspecific(rs_key)) != NULL)
		return h;
	if ((h = curl_easy_init()) == NULL)
		return NULL;
	pthread_setspecific(rs_key, h);
	return h;
}

/* milter_rspamd_wanted - see milter-rspamd.h */
int
milter_rspamd_wanted(const struct milter_conf *mc)
{
	return mc->rspamd_url != NULL;
}

/* rs_state - the message's stage state, made on first use */
static struct milter_rspamd *
rs_state(struct milter_msg *m)
{
	if (m->rspamd == NULL)
		m->rspamd = x_calloc(1, sizeof(*m->rspamd));
	return m->rspamd;
}

/* milter_rspamd_free - the stage's state of a message */
void
milter_rspamd_free(struct milter_msg *m)
{
	struct milter_rspamd *s = m->rspamd;

	if (s == NULL)
		return;
	rspamd_reply_free(&s->reply);
	x_free(&m->rspamd);
}

/* rs_metric - count one result */
static void
rs_metric(const char *result)
{
	if (m_rspamd != NULL)
		metric_inc(m_rspamd, result);
}

/* rs_safe - 1 if v can be a request header's value (no control
 * characters: nothing a sender sends may split the request) */
static int
rs_safe(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < ' ' || *v == 0x7F)
			return 0;
	return 1;
}

/* rs_header - append "Name: value" to the request's headers (values
 * with control characters are left out) */
static struct curl_slist *
rs_header(struct curl_slist *l, const char *name, const char *value)
{
	struct curl_slist *n;
	char *h;

	if (value == NULL || *value == '\0' || !rs_safe(value))
		return l;
	h = x_asprintf("%s: %s", name, value);
	n = curl_slist_append(l, h);
	free(h);
	if (n == NULL)
		msg_fatal("rspamd: out of memory");
	return n;
}

/* rs_headers - the envelope and the connection, as rspamd reads them */
static struct curl_slist *
rs_headers(const struct milter_msg *m)
{
	const struct milter_conn *c = m->conn;
	struct curl_slist *l = NULL;
	size_t i;

	/* no "Expect: 100-continue" round trip before the message */
	if ((l = curl_slist_append(l, "Expect:")) == NULL)
		msg_fatal("rspamd: out of memory");
	l = rs_header(l, "IP", c->client_addr);
	l = rs_header(l, "Helo", c->helo);
	/* "<>": rspamd's null sender */
	l = rs_header(l, "From", *m->sender != '\0' ? m->sender : "<>");
	for (i = 0; i < m->nrcpts; i++)
		l = rs_header(l, "Rcpt", m->rcpts[i]);
	if (strcmp(m->qid, "NOQUEUE") != 0)
		l = rs_header(l, "Queue-Id", m->qid);
	if (m->auth_type != NULL)
		l = rs_header(l, "User", m->auth_authen != NULL
				  ? m->auth_authen : "unknown");
	/* Postfix's "[192.0.2.1]" or "unknown": no name */
	if (c->client_name != NULL && c->client_name[0] != '['
	    && strcmp(c->client_name, "unknown") != 0)
		l = rs_header(l, "Hostname", c->client_name);
	l = rs_header(l, "MTA-Name", c->mc->authserv_id);
	l = rs_header(l, "Settings-ID", c->mc->rspamd_settings_id);
	return l;
}

/* What the reply's body collects. */
struct rs_buf {
	char *data;
	size_t len;
	int over;			/* more than RSPAMD_REPLY_MAX */
};

/* rs_write - curl's write callback: the reply, up to the cap */
static size_t
rs_write(char *p, size_t size, size_t n, void *ctx)
{
	struct rs_buf *b = ctx;
	size_t len = size * n;

	if (b->len + len > RSPAMD_REPLY_MAX) {
		b->over = 1;
		return 0;		/* stops the transfer */
	}
	b->data = x_realloc(b->data, b->len + len + 1);
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* rs_fail_kind - the metric's word for a curl failure */
static const char *
rs_fail_kind(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_WRITE_ERROR:		/* the reply was too large */
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return "garbage";
	default:
		return "unreachable";
	}
}

/* rs_status - err for an HTTP status other than 200: the status, and
 * rspamd's reason when the body is its error object ({"error": ...}) */
static void
rs_status(long status, const char *body, size_t len, char *err,
	  size_t errlen)
{
	struct rspamd_reply r;
	char why[256];

	if (rspamd_reply_parse(body != NULL ? body : "", len, &r, why,
			       sizeof(why)) == 0) {
		rspamd_reply_free(&r);
		why[0] = '\0';
	}
	if (strncmp(why, "rspamd error", 12) == 0)
		x_err(err, errlen, "HTTP status %ld: %s", status, why);
	else
		x_err(err, errlen, "HTTP status %ld", status);
}

/* rs_setopts - the request on h: POST msg to url with hdrs, the reply
 * into b */
static void
rs_setopts(CURL *h, const struct milter_msg *m, const char *url,
	   struct curl_slist *hdrs, const unsigned char *msg, size_t len,
	   struct rs_buf *b)
{
	const struct milter_conf *mc = m->conn->mc;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);	/* threads */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)msg);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rs_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, mc->rspamd_timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 mc->rspamd_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85 */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

/* rs_outcome - what the transfer (rc) brought: NULL with the reply
 * parsed into s->reply, or the failure's kind with err */
static const char *
rs_outcome(CURL *h, CURLcode rc, const struct rs_buf *b,
	   struct milter_rspamd *s, char *err, size_t errlen)
{
	const char *kind = NULL;
	long status = 0;

	if (rc == CURLE_WRITE_ERROR && b->over) {
		x_err(err, errlen, "reply larger than %d bytes",
		      RSPAMD_REPLY_MAX);
		kind = "garbage";
	} else if (rc != CURLE_OK) {
		x_err(err, errlen, "%s", curl_easy_strerror(rc));
		kind = rs_fail_kind(rc);
	} else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status),
		   status != 200) {
		rs_status(status, b->data, b->len, err, errlen);
		kind = "garbage";
	} else if (rspamd_reply_parse(b->data ? b->data : "", b->len,
				      &s->reply, err, errlen) < 0) {
		kind = "garbage";
	} else {
		s->replied = 1;
	}
	return kind;
}

/* rs_ask - POST the message, parse the reply into s->reply; NULL, or
 * the failure's kind (the metric's word) with err */
static const char *
rs_ask(struct milter_msg *m, const unsigned char *msg, size_t len,
       struct milter_rspamd *s, char *err, size_t errlen)
{
	const struct milter_conf *mc = m->conn->mc;
	char *url = x_asprintf("%s/checkv2", mc->rspamd_url);
	struct rs_buf b = { NULL, 0, 0 };
	struct curl_slist *hdrs;
	const char *kind;
	CURL *h;

	if ((h = rs_handle()) == NULL) {
		x_err(err, errlen, "curl_easy_init failed");
		free(url);
		return "unreachable";
	}
	hdrs = rs_headers(m);
	rs_setopts(h, m, url, hdrs, msg, len, &b);
	kind = rs_outcome(h, curl_easy_perform(h), &b, s, err, errlen);
	/* the handle keeps its connection, not our pointers */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_slist_free_all(hdrs);
	free(b.data);
	free(url);
	return kind;
}

/* rs_fail - Rspamd could not judge the message: rspamd_fail_action */
static void
rs_fail(struct milter_msg *m, const char *kind, const char *err)
{
	int a = m->conn->mc->rspamd_fail_action;

	rs_metric(kind);
	qid_warn(m->qid, "rspamd error=%s reason=\"%s\" action=%s", kind, err,
		 milter_action_name((enum milter_action)a));
	milter_msg_summary(m, "rspamd=error(%s)", kind);
	milter_msg_enforce(m, MILTER_REPLY_RSPAMD, a,
			   "Spam filter temporarily unavailable, please try "
			   "again later");
}

/* rs_act - rspamd's action as the milter's */
static void
rs_act(struct milter_msg *m, const struct rspamd_reply *r)
{
	const char *text = r->smtp_message;

	switch (r->action) {
	case RSPAMD_REJECT:
		milter_msg_enforce(m, MILTER_REPLY_RSPAMD, MILTER_REJECT,
				   text != NULL ? text
				   : "Spam message rejected");
		break;
	case RSPAMD_SOFT_REJECT:
		milter_msg_enforce(m, MILTER_REPLY_RSPAMD, MILTER_TEMPFAIL,
				   text != NULL ? text : "Try again later");
		break;
	case RSPAMD_DISCARD:
		milter_msg_action(m, "rspamd", MILTER_DISCARD, NULL, NULL,
				  text);
		break;
	case RSPAMD_QUARANTINE:
		milter_msg_action(m, "rspamd", MILTER_QUARANTINE, NULL, NULL,
				  text != NULL ? text
				  : "quarantined by rspamd");
		break;
	case RSPAMD_GREYLIST:
		milter_greylist_rspamd(m);
		break;
	default:
		break;
	}
}

/* rs_word - an action as one word, for a metric label and the summary
 * line's key=value ("add header": "add_header"), in word (len bytes) */
static const char *
rs_word(enum rspamd_action a, char *word, size_t len)
{
	size_t i;

	snprintf(word, len, "%s", rspamd_action_name(a));
	for (i = 0; word[i] != '\0'; i++)
		if (word[i] == ' ')
			word[i] = '_';
	return word;
}

/* milter_rspamd_eom - the stage */
void
milter_rspamd_eom(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	const unsigned char *msg;
	struct milter_rspamd *s;
	const char *kind, *why;
	char err[512], word[32];
	size_t len;
	int64_t t0;

	if (mc->rspamd_url == NULL)
		return;
	s = rs_state(m);
	/* refused already, by a stage whose verdict rspamd's would not
	 * beat (a greylisted message is still asked: its reject wins) */
	if (milter_msg_outranks(m, "rspamd", MILTER_REJECT)) {
		rs_metric("refused");
		milter_msg_summary(m, "rspamd=skipped(refused)");
		return;
	}
	if (milter_body_map(m, &msg, &len) < 0) {
		why = milter_body_error(m);
		if (why != NULL && strcmp(why, "oversize") == 0) {
			rs_metric("skipped");
			milter_msg_summary(m, "rspamd=skipped(oversize)");
			return;
		}
		rs_fail(m, "unreachable", why != NULL ? why : "no message");
		return;
	}
	t0 = clock_mono_ms();
	if ((kind = rs_ask(m, msg, len, s, err, sizeof(err))) != NULL) {
		rs_fail(m, kind, err);
		return;
	}
	rs_metric(rs_word(s->reply.action, word, sizeof(word)));
	qid_info(m->qid, "rspamd action=\"%s\" score=%.2f required=%.2f "
		 "time=%lldms symbols=\"%s\"",
		 rspamd_action_name(s->reply.action), s->reply.score,
		 s->reply.required_score, (long long)(clock_mono_ms() - t0),
		 s->reply.symbols);
	milter_msg_summary(m, "rspamd=%s(%.2f/%.2f)",
			   rs_word(s->reply.action, word, sizeof(word)),
			   s->reply.score, s->reply.required_score);
	rs_act(m, &s->reply);
}

/* rs_count - how many fields named name the message has (within the
 * header caps) */
static unsigned
rs_count(const struct milter_msg *m, const char *name)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, name) == 0)
			n++;
	return n;
}

/* rs_remove - the reply's remove_headers, but the claimed ones (gone
 * already), each from the last */
static void
rs_remove(const struct milter_msg *m, const struct rspamd_reply *r,
	  struct milter_outcome *o)
{
	const struct rspamd_remove *x;
	unsigned n, i;
	size_t k;

	for (k = 0; k < r->nremove; k++) {
		x = &r->remove[k];
		if (milter_claims_name(m->conn->mc, x->name)
		    || (n = rs_count(m, x->name)) == 0)
			continue;
		if (x->index == 0) {
			for (i = n; i > 0; i--)
				milter_outcome_edit(o, MILTER_EDIT_DELETE,
						    x->name, i, NULL);
		} else if (x->index > 0 && (unsigned long)x->index <= n) {
			milter_outcome_edit(o, MILTER_EDIT_DELETE, x->name,
					    (unsigned)x->index, NULL);
		} else if (x->index < 0 && (unsigned long)-x->index <= n) {
			milter_outcome_edit(o, MILTER_EDIT_DELETE, x->name,
					    n + 1 - (unsigned)-x->index, NULL);
		}
	}
}

/* rs_adds - 1 if the reply adds a field of that name itself */
static int
rs_adds(const struct rspamd_reply *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nadd; i++)
		if (strcasecmp(r->add[i].name, name) == 0)
			return 1;
	return 0;
}

/* rs_score_line - "default: True [6.20 / 15.00];" and the symbols,
 * one a line, as rspamd's milter_headers writes X-Spamd-Result */
static char *
rs_score_line(const struct rspamd_reply *r)
{
	char *v = x_asprintf("default: True [%.2f / %.2f]", r->score,
			     r->required_score), *t;
	const char *p = r->symbols, *e;

	while (p != NULL && *p != '\0') {
		e = strchr(p, ' ');
		t = x_asprintf("%s;\n\t%.*s", v,
			       (int)(e != NULL ? e - p : (long)strlen(p)), p);
		free(v);
		v = t;
		p = e != NULL ? e + 1 : NULL;
	}
	return v;
}

/* rs_spam_headers - the verdict's headers and the Subject rspamd
 * rewrote, unless the reply adds them itself */
static void
rs_spam_headers(const struct milter_msg *m, const struct rspamd_reply *r,
		struct milter_outcome *o)
{
	char *v;

	if (r->action != RSPAMD_ADD_HEADER
	    && r->action != RSPAMD_REWRITE_SUBJECT)
		return;
	if (!rs_adds(r, RSPAMD_SPAM_HEADER))
		milter_outcome_edit(o, MILTER_EDIT_ADD, RSPAMD_SPAM_HEADER, 0,
				    "Yes");
	if (!rs_adds(r, RSPAMD_SCORE_HEADER)) {
		v = rs_score_line(r);
		milter_outcome_edit(o, MILTER_EDIT_ADD, RSPAMD_SCORE_HEADER, 0,
				    v);
		free(v);
	}
	if (r->action == RSPAMD_REWRITE_SUBJECT && r->subject != NULL
	    && !rs_adds(r, "Subject"))
		milter_outcome_edit(o, rs_count(m, "Subject") > 0
				    ? MILTER_EDIT_CHANGE : MILTER_EDIT_ADD,
				    "Subject", 1, r->subject);
}

/* milter_rspamd_edits - the reply's removals (the claimed headers are
 * gone already: milter-claims.c), then the headers added */
void
milter_rspamd_edits(const struct milter_msg *m, struct milter_outcome *o)
{
	const struct milter_rspamd *s = m->rspamd;
	const struct rspamd_add *a;
	size_t i;

	if (s == NULL || !s->replied)
		return;
	rs_remove(m, &s->reply, o);
	for (i = 0; i < s->reply.nadd; i++) {
		a = &s->reply.add[i];
		milter_outcome_edit(o, a->order < 0 ? MILTER_EDIT_ADD
				    : MILTER_EDIT_INSERT, a->name,
				    a->order < 0 ? 0 : (unsigned)a->order,
				    a->value);
	}
	rs_spam_headers(m, &s->reply, o);
}
