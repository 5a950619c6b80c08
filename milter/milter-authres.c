/*++
 * NAME
 *	milter-authres 3
 * SUMMARY
 *	Authentication-Results (RFC 8601): format ours, parse others'
 * DESCRIPTION
 *	See milter-authres.h.  The parser is a hand-written scanner over
 *	the bytes (no regex, no recursion but for nested comments, which
 *	are bounded), so that it can be fuzzed and never reads past the
 *	end.  Real-world headers break the grammar in known ways; each
 *	tolerance is named where it is handled.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter-authres.h"
#include "xalloc.h"

/* Methods of the IANA registry (and a few seen in the wild): a key
 * without a ptype that is one of these starts a new resinfo even when
 * the ";" before it is missing. */
static const char *const authres_methods[] = {
	"arc", "auth", "bimi", "compauth", "dkim", "dkim-adsp", "dkim-atps",
	"dmarc", "dnswl", "domainkeys", "iprev", "rrvs", "sender-id",
	"smime", "spf", "vbr", NULL,
};

#define AUTHRES_MAX_COMMENT_DEPTH 8

/* authres_prop_add - append ptype.property=value */
int
authres_prop_add(struct authres_result *r, const char *ptype,
		 const char *property, const char *value)
{
	struct authres_prop *p;

	if (r->nprops >= AUTHRES_MAX_PROPS)
		return -1;
	p = &r->props[r->nprops++];
	p->ptype = x_strdup(ptype ? ptype : "");
	p->property = x_strdup(property ? property : "");
	p->value = x_strdup(value ? value : "");
	return 0;
}

/* authres_set_comment - the comment after the result */
void
authres_set_comment(struct authres_result *r, const char *text)
{
	x_free(&r->comment);
	if (text != NULL)
		r->comment = x_strdup(text);
}

/* authres_set_reason - the reason= value */
void
authres_set_reason(struct authres_result *r, const char *text)
{
	x_free(&r->reason);
	if (text != NULL)
		r->reason = x_strdup(text);
}

/* authres_result_clear - free what the setters copied */
void
authres_result_clear(struct authres_result *r)
{
	size_t i;

	for (i = 0; i < r->nprops; i++) {
		x_free(&r->props[i].ptype);
		x_free(&r->props[i].property);
		x_free(&r->props[i].value);
	}
	r->nprops = 0;
	x_free(&r->comment);
	x_free(&r->reason);
}

/*
 * Formatting
 */
struct authres_buf {
	char *s;
	size_t len, size;
};

/* authres_putc - append one byte */
static void
authres_putc(struct authres_buf *b, char c)
{
	if (b->len + 2 > b->size) {
		b->size = b->size ? b->size * 2 : 256;
		b->s = x_realloc(b->s, b->size);
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

/* authres_puts - append a string */
static void
authres_puts(struct authres_buf *b, const char *s)
{
	while (*s)
		authres_putc(b, *s++);
}

/* authres_bare_ok - can v be written without quotes? */
static int
authres_bare_ok(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (*p == '\0')
		return 0;
	for (; *p; p++)
		if (!isalnum(*p) && strchr("!#$%&'*+-^_`{|}~.@", *p) == NULL)
			return 0;
	return 1;
}

/* authres_put_value - a value, bare or as a quoted-string */
static void
authres_put_value(struct authres_buf *b, const char *v)
{
	const unsigned char *p;

	if (authres_bare_ok(v)) {
		authres_puts(b, v);
		return;
	}
	authres_putc(b, '"');
	for (p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;	/* never CR, LF or other controls */
		if (*p == '"' || *p == '\\')
			authres_putc(b, '\\');
		authres_putc(b, (char)*p);
	}
	authres_putc(b, '"');
}

/* authres_put_comment - " (text)" with parentheses escaped */
static void
authres_put_comment(struct authres_buf *b, const char *text)
{
	const unsigned char *p;

	authres_puts(b, " (");
	for (p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;
		if (*p == '(' || *p == ')' || *p == '\\')
			authres_putc(b, '\\');
		authres_putc(b, (char)*p);
	}
	authres_putc(b, ')');
}

/* authres_format - our header's value */
char *
authres_format(const char *authserv_id, const struct authres_result *res,
	       size_t n)
{
	struct authres_buf b = { NULL, 0, 0 };
	const struct authres_result *r;
	size_t i, j;

	authres_put_value(&b, authserv_id && *authserv_id ? authserv_id
			  : "localhost");
	if (n == 0) {
		authres_puts(&b, "; none");
		return b.s;
	}
	for (i = 0; i < n; i++) {
		r = &res[i];
		authres_puts(&b, ";\n\t");
		authres_puts(&b, r->method);
		authres_putc(&b, '=');
		authres_puts(&b, r->result);
		if (r->comment != NULL && *r->comment)
			authres_put_comment(&b, r->comment);
		if (r->reason != NULL) {
			authres_puts(&b, " reason=");
			authres_put_value(&b, r->reason);
		}
		for (j = 0; j < r->nprops; j++) {
			authres_putc(&b, ' ');
			authres_puts(&b, r->props[j].ptype);
			authres_putc(&b, '.');
			authres_puts(&b, r->props[j].property);
			authres_putc(&b, '=');
			authres_put_value(&b, r->props[j].value);
		}
	}
	return b.s;
}

/*
 * Parsing
 */
struct authres_scan {
	const char *p;
	const char *end;
	char *comment;		/* first comment seen by a capturing skip */
};

/* authres_skip_comment - skip one (nested) comment at s->p; if want
 * and no comment was captured yet, keep its text */
static void
authres_skip_comment(struct authres_scan *s, int want)
{
	struct authres_buf b = { NULL, 0, 0 };
	int depth = 0;

	while (s->p < s->end) {
		char c = *s->p++;

		if (c == '\\' && s->p < s->end) {
			c = *s->p++;
		} else if (c == '(') {
			if (depth++ == 0)
				continue;
		} else if (c == ')') {
			if (--depth == 0)
				break;
		}
		if (want && depth <= AUTHRES_MAX_COMMENT_DEPTH
		    && (unsigned char)c >= 0x20)
			authres_putc(&b, c);
	}
	if (want && s->comment == NULL)
		s->comment = b.s ? b.s : x_strdup("");
	else
		free(b.s);
}

/* authres_cfws - skip white space and comments */
static void
authres_cfws(struct authres_scan *s, int want_comment)
{
	while (s->p < s->end) {
		if (*s->p == '(')
			authres_skip_comment(s, want_comment);
		else if (isspace((unsigned char)*s->p))
			s->p++;
		else
			break;
	}
}

/* authres_key - a key: up to white space ; ( " = ; NULL if empty */
static char *
authres_key(struct authres_scan *s)
{
	const char *start = s->p;

	while (s->p < s->end && !isspace((unsigned char)*s->p)
	       && strchr(";()\"=", *s->p) == NULL)
		s->p++;
	if (s->p == start)
		return NULL;
	return x_strndup(start, (size_t)(s->p - start));
}

/* authres_quoted - a quoted-string at s->p (after the quote) */
static char *
authres_quoted(struct authres_scan *s)
{
	struct authres_buf b = { NULL, 0, 0 };

	s->p++;			/* the opening quote */
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p++;

		if (c == '\\' && s->p < s->end)
			c = *s->p++;
		if (c == '\r' || c == '\n')
			continue;	/* folded quoted-string */
		authres_putc(&b, c);
	}
	if (s->p < s->end)
		s->p++;		/* the closing quote (tolerated missing) */
	return b.s ? b.s : x_strdup("");
}

/* authres_value - a value: quoted-string or up to white space ; ( " */
static char *
authres_value(struct authres_scan *s)
{
	const char *start = s->p;
	char *q, *rest, *joined;

	if (s->p < s->end && *s->p == '"') {
		q = authres_quoted(s);
		/* An addr-spec with a quoted local-part: "j d"@example.com */
		if (s->p >= s->end || *s->p != '@')
			return q;
		rest = authres_value(s);
		joined = x_asprintf("\"%s\"%s", q, rest ? rest : "");
		free(q);
		free(rest);
		return joined;
	}
	while (s->p < s->end && !isspace((unsigned char)*s->p)
	       && strchr(";()\"", *s->p) == NULL)
		s->p++;
	if (s->p == start)
		return NULL;
	return x_strndup(start, (size_t)(s->p - start));
}

/* authres_skip_resinfo - skip to the next ";" outside quotes/comments */
static void
authres_skip_resinfo(struct authres_scan *s)
{
	char *junk;

	while (s->p < s->end && *s->p != ';') {
		if (*s->p == '(') {
			authres_skip_comment(s, 0);
		} else if (*s->p == '"') {
			junk = authres_quoted(s);
			free(junk);
		} else {
			s->p++;
		}
	}
}

/* authres_is_method - a registered method name?  (Not "x-...":
 * Fastmail writes "x-bits=2048" as a property.) */
static int
authres_is_method(const char *key)
{
	const char *const *m;

	for (m = authres_methods; *m != NULL; m++)
		if (strcasecmp(key, *m) == 0)
			return 1;
	return 0;
}

/* authres_props - the reason and properties after a result */
static void
authres_props(struct authres_scan *s, struct authres_result *r)
{
	const char *save;
	char *key, *val, *dot;

	for (;;) {
		authres_cfws(s, 0);
		if (s->p >= s->end || *s->p == ';')
			return;
		save = s->p;
		if ((key = authres_key(s)) == NULL) {
			authres_skip_resinfo(s);
			return;
		}
		dot = strchr(key, '.');
		/* Tolerance: a missing ";" before the next resinfo. */
		if (dot == NULL && strcasecmp(key, "reason") != 0
		    && authres_is_method(key)) {
			free(key);
			s->p = save;
			return;
		}
		authres_cfws(s, 0);
		if (s->p >= s->end || *s->p != '=') {
			free(key);
			authres_skip_resinfo(s);
			return;
		}
		s->p++;
		authres_cfws(s, 0);
		if ((val = authres_value(s)) == NULL)
			val = x_strdup("");
		if (dot == NULL && strcasecmp(key, "reason") == 0) {
			if (r->reason == NULL)
				r->reason = val, val = NULL;
		} else if (r->nprops < AUTHRES_MAX_PROPS) {
			struct authres_prop *p = &r->props[r->nprops++];

			/* Tolerance: Microsoft's "action=none" has no ptype. */
			if (dot != NULL) {
				*dot = '\0';
				p->property = x_strdup(dot + 1);
			} else {
				p->property = x_strdup(key);
				key[0] = '\0';
			}
			p->ptype = x_strdup(key);
			p->value = val, val = NULL;
		}
		free(val);
		free(key);
	}
}

/* authres_resinfo - one "method[/version]=result ..." at s->p;
 * 0 when one was read, -1 when the input was skipped */
static int
authres_resinfo(struct authres_scan *s, struct authres *ar, char *key)
{
	struct authres_result *r;
	char *slash, *val;

	s->p++;			/* '=' */
	authres_cfws(s, 0);
	if ((val = authres_value(s)) == NULL) {
		free(key);
		authres_skip_resinfo(s);
		return -1;
	}
	if (ar->nresults >= AUTHRES_MAX_RESULTS) {
		free(key);
		free(val);
		authres_skip_resinfo(s);
		return -1;
	}
	r = &ar->results[ar->nresults++];
	if ((slash = strchr(key, '/')) != NULL) {
		*slash = '\0';
		r->version = atoi(slash + 1);
	}
	r->method = key;
	r->result = val;
	x_free(&s->comment);
	authres_cfws(s, 1);
	r->comment = s->comment;
	s->comment = NULL;
	authres_props(s, r);
	return 0;
}

/* authres_head - the authserv-id and version, if the header has them */
static void
authres_head(struct authres_scan *s, struct authres *ar)
{
	const char *save;
	char *id;

	authres_cfws(s, 0);
	save = s->p;
	if (s->p < s->end && *s->p == '"') {
		id = authres_quoted(s);
	} else if ((id = authres_key(s)) == NULL) {
		return;
	}
	authres_cfws(s, 0);
	/* Tolerance: no authserv-id, the header starts with a resinfo. */
	if (s->p < s->end && *s->p == '=') {
		free(id);
		s->p = save;
		return;
	}
	ar->authserv_id = id;
	/* Tolerance: "mx.microsoft.com 1;" and "example.org 1 ;" */
	if (s->p < s->end && isdigit((unsigned char)*s->p)) {
		while (s->p < s->end && isdigit((unsigned char)*s->p)) {
			if (ar->version < 100000)
				ar->version = ar->version * 10 + (*s->p - '0');
			s->p++;
		}
		authres_cfws(s, 0);
	}
}

/* authres_parse - someone's header value */
struct authres *
authres_parse(const char *value)
{
	struct authres_scan s;
	struct authres *ar = x_calloc(1, sizeof(*ar));
	char *key;

	s.p = value;
	s.end = value + strlen(value);
	s.comment = NULL;
	authres_head(&s, ar);
	while (s.p < s.end) {
		authres_cfws(&s, 0);
		if (s.p >= s.end)
			break;
		if (*s.p == ';') {
			s.p++;
			continue;
		}
		if ((key = authres_key(&s)) == NULL) {
			s.p++;		/* a stray = ( " */
			authres_skip_resinfo(&s);
			continue;
		}
		authres_cfws(&s, 0);
		if (s.p < s.end && *s.p == '=') {
			(void)authres_resinfo(&s, ar, key);
			continue;
		}
		if (strcasecmp(key, "none") == 0)
			ar->none = 1;
		free(key);
		authres_skip_resinfo(&s);
	}
	free(s.comment);
	if (ar->authserv_id == NULL && ar->nresults == 0 && !ar->none) {
		authres_free(&ar);
		return NULL;
	}
	return ar;
}

/* authres_free - free a parsed header and set *arp to NULL */
void
authres_free(struct authres **arp)
{
	struct authres *ar = *arp;
	size_t i;

	if (ar == NULL)
		return;
	for (i = 0; i < ar->nresults; i++) {
		free((char *)ar->results[i].method);
		free((char *)ar->results[i].result);
		authres_result_clear(&ar->results[i]);
	}
	free(ar->authserv_id);
	x_free(arp);
}

/* authres_id_is - does this header claim authserv_id? */
int
authres_id_is(const char *value, const char *authserv_id)
{
	struct authres_scan s;
	struct authres ar;
	int yes;

	memset(&ar, 0, sizeof(ar));
	s.p = value;
	s.end = value + strlen(value);
	s.comment = NULL;
	authres_head(&s, &ar);
	yes = ar.authserv_id != NULL && authserv_id != NULL
	      && strcasecmp(ar.authserv_id, authserv_id) == 0;
	free(ar.authserv_id);
	return yes;
}
