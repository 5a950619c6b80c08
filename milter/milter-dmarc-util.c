/*++
 * NAME
 *	milter-dmarc-util 3
 * SUMMARY
 *	DMARC's pure parts: Public Suffix List, alignment, From parsing
 * DESCRIPTION
 *	See milter-dmarc.h.  No I/O but dmarc_psl_load() reading its file.
 *	The PSL rules are kept sorted (bsearch); the list is immutable
 *	once loaded, so threads share it.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter-dmarc.h"
#include "str.h"
#include "xalloc.h"

struct dmarc_psl {
	char **rules;		/* lower case, "*.x" and "!x" as written */
	size_t n;
};

/* dmarc_psl_cmp - qsort/bsearch on strings */
static int
dmarc_psl_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dmarc_psl_from_text - parse the PSL format */
struct dmarc_psl *
dmarc_psl_from_text(const char *text)
{
	struct dmarc_psl *p = x_calloc(1, sizeof(*p));
	size_t alloc = 0, len, i;
	const char *s = text, *e;

	while (*s != '\0') {
		e = strchr(s, '\n');
		len = e ? (size_t)(e - s) : strlen(s);
		/* a rule is the line's first word */
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		for (i = 0; i < len && !isspace((unsigned char)s[i]); i++)
			;
		if (i > 0 && !(i >= 2 && s[0] == '/' && s[1] == '/')) {
			if (p->n == alloc) {
				alloc = alloc ? 2 * alloc : 1024;
				p->rules = x_realloc(p->rules,
						     alloc * sizeof(*p->rules));
			}
			p->rules[p->n++] = str_domain(x_strndup(s, i));
		}
		s = e ? e + 1 : s + strlen(s);
	}
	if (p->n > 0)
		qsort(p->rules, p->n, sizeof(*p->rules), dmarc_psl_cmp);
	return p;
}

/* dmarc_psl_load - read a PSL file */
struct dmarc_psl *
dmarc_psl_load(const char *path, char *err, size_t errlen)
{
	struct dmarc_psl *p;
	FILE *fp;
	char *buf = NULL;
	size_t len = 0, got;
	char chunk[65536];

	if ((fp = fopen(path, "r")) == NULL) {
		x_err(err, errlen, "public suffix list %s: %s", path,
		      strerror(errno));
		return NULL;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		buf = x_realloc(buf, len + got + 1);
		memcpy(buf + len, chunk, got);
		len += got;
	}
	if (ferror(fp)) {
		x_err(err, errlen, "public suffix list %s: read error", path);
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	if (buf == NULL)
		buf = x_strdup("");
	else
		buf[len] = '\0';
	p = dmarc_psl_from_text(buf);
	free(buf);
	if (p->n == 0) {
		x_err(err, errlen, "public suffix list %s: no rules", path);
		dmarc_psl_free(&p);
		return NULL;
	}
	return p;
}

/* dmarc_psl_free - free a list */
void
dmarc_psl_free(struct dmarc_psl **pp)
{
	struct dmarc_psl *p = *pp;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->rules[i]);
	free(p->rules);
	free(p);
	*pp = NULL;
}

/* dmarc_psl_count - number of rules */
size_t
dmarc_psl_count(const struct dmarc_psl *p)
{
	return p ? p->n : 0;
}

/* dmarc_psl_has - is this exact rule (prefix + name) listed? */
static int
dmarc_psl_has(const struct dmarc_psl *p, const char *prefix, const char *name)
{
	char key[DMARC_DOMAIN_MAX + 4];
	const char *k = key;

	if (p == NULL || p->n == 0)
		return 0;
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	return bsearch(&k, p->rules, p->n, sizeof(*p->rules),
		       dmarc_psl_cmp) != NULL;
}

/* dmarc_psl_orgdomain - public suffix plus one label */
int
dmarc_psl_orgdomain(const struct dmarc_psl *p, const char *domain,
		    char *out, size_t outlen)
{
	char d[DMARC_DOMAIN_MAX];
	size_t off[128], n = 0, i, ps, len;

	if ((len = strlen(domain)) >= sizeof(d) || len >= outlen)
		return -1;
	len = strlen(str_domain(memcpy(d, domain, len + 1)));
	off[n++] = 0;
	for (i = 0; i < len && n < 128; i++)
		if (d[i] == '.')
			off[n++] = i + 1;
	ps = n - 1;			/* the default rule "*" */
	for (i = 0; i < n; i++) {
		if (dmarc_psl_has(p, "!", d + off[i])) {
			ps = i + 1 < n ? i + 1 : i;
			break;
		}
		if (dmarc_psl_has(p, "", d + off[i])
		    || (i + 1 < n && dmarc_psl_has(p, "*.", d + off[i + 1]))) {
			ps = i;
			break;
		}
	}
	snprintf(out, outlen, "%s", ps == 0 ? d : d + off[ps - 1]);
	return 0;
}

/* dmarc_aligned - strict or relaxed identifier alignment */
int
dmarc_aligned(const struct dmarc_psl *p, const char *a, const char *b,
	      int strict)
{
	char oa[DMARC_DOMAIN_MAX], ob[DMARC_DOMAIN_MAX];

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return 0;
	if (strcasecmp(a, b) == 0)
		return 1;
	if (strict)
		return 0;
	if (dmarc_psl_orgdomain(p, a, oa, sizeof(oa)) < 0
	    || dmarc_psl_orgdomain(p, b, ob, sizeof(ob)) < 0)
		return 0;
	return strcmp(oa, ob) == 0;
}

/* dmarc_domain_valid - LDH host name */
int
dmarc_domain_valid(const char *d, size_t len)
{
	size_t i, label = 0;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if ((label == 0 && c == '-') || ++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && d[len - 1] != '-';
}

/* dmarc_addr_domain - the valid domain of an address, lower case */
int
dmarc_addr_domain(const char *addr, char out[DMARC_DOMAIN_MAX])
{
	const char *at = strrchr(addr, '@'), *d = at ? at + 1 : addr;
	size_t len = strlen(d);

	while (len > 0 && isspace((unsigned char)d[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*d))
		d++, len--;
	if (at == NULL || at == addr || !dmarc_domain_valid(d, len))
		return -1;
	if (d[len - 1] == '.')
		len--;
	/* dmarc_domain_valid: len <= 253, it fits */
	snprintf(out, DMARC_DOMAIN_MAX, "%.*s", (int)len, d);
	str_lower(out);
	return 0;
}

/* dmarc_cand_add - one more distinct candidate domain */
static void
dmarc_cand_add(struct dmarc_from *o, const char *dom)
{
	size_t i;

	for (i = 0; i < o->ncand; i++)
		if (strcmp(o->cand[i], dom) == 0)
			return;
	if (o->ncand >= DMARC_FROM_MAX_DOMAINS) {
		o->ncand_lost++;
		return;
	}
	snprintf(o->cand[o->ncand++], DMARC_DOMAIN_MAX, "%s", dom);
}

/* dmarc_cand_salvage - every "@domain" in an unreadable value: the
 * longest run of host name characters after each "@", whatever the
 * comments, quotes and brackets around it */
static void
dmarc_cand_salvage(struct dmarc_from *o, const char *v)
{
	char buf[DMARC_DOMAIN_MAX + 3], dom[DMARC_DOMAIN_MAX];
	const char *p, *e;
	size_t len;

	for (p = strchr(v, '@'); p != NULL; p = strchr(p + 1, '@')) {
		for (e = p + 1; isalnum((unsigned char)*e) || *e == '.'
		     || *e == '-' || *e == '_'; e++)
			;
		len = (size_t)(e - (p + 1));
		while (len > 0 && p[len] == '.')
			len--;		/* "user@example.com." ends a sentence */
		if (len == 0 || len > DMARC_DOMAIN_MAX - 1)
			continue;
		buf[0] = 'x';	/* any local part: the domain is what counts */
		buf[1] = '@';
		memcpy(buf + 2, p + 1, len);
		buf[len + 2] = '\0';
		/* a single label ("a@b") names no domain a reader knows */
		if (dmarc_addr_domain(buf, dom) == 0
		    && strchr(dom, '.') != NULL)
			dmarc_cand_add(o, dom);
	}
}

/* The state of the From parser, one address at a time. */
struct dmarc_fp {
	struct dmarc_from *out;
	char buf[1024];		/* the address being read */
	size_t len;
	char addr[DMARC_ADDR_MAX];	/* the same as written */
	size_t alen;
	int angle;		/* inside <...> */
	int had_angle;		/* this mailbox had an angle-addr */
	int any;		/* this mailbox had a character */
	int bad;		/* too long or broken */
	int gap;		/* white space after a character */
};

/* dmarc_fp_raw - one character of the address as written, quotes
 * and their contents included (what DKIM signing matches) */
static void
dmarc_fp_raw(struct dmarc_fp *fp, char c)
{
	if (fp->had_angle && !fp->angle)
		return;		/* after <...>: display text, ignored */
	if (fp->alen + 1 >= sizeof(fp->addr)) {
		fp->bad = 1;
		return;
	}
	fp->addr[fp->alen++] = c;
}

/* dmarc_fp_put - one character of the current address: c as the
 * parser judges it ('q' for each quoted one), raw as written */
static void
dmarc_fp_put(struct dmarc_fp *fp, char c, char raw)
{
	if (isspace((unsigned char)c)) {
		fp->gap = fp->len > 0;
		return;
	}
	fp->any = 1;
	if (fp->had_angle && !fp->angle)
		return;		/* after <...>: display text, ignored */
	if (fp->len + 1 >= sizeof(fp->buf)) {
		fp->bad = 1;
		return;
	}
	/* "exa mple.test": white space inside a word (obsolete syntax
	 * allows it only around "." and "@") */
	if (fp->gap && fp->len > 0 && c != '.' && c != '@'
	    && fp->buf[fp->len - 1] != '.'
	    && fp->buf[fp->len - 1] != '@')
		fp->bad = 1;
	fp->gap = 0;
	fp->buf[fp->len++] = c;
	dmarc_fp_raw(fp, raw);
}

/* dmarc_fp_first - keep the first valid address, its domain dom (lower
 * case, validated) after the local part as written; none if too long */
static void
dmarc_fp_first(struct dmarc_fp *fp, const char *dom)
{
	const char *at;

	fp->addr[fp->alen] = '\0';
	if ((at = strrchr(fp->addr, '@')) == NULL)
		return;
	if ((size_t)snprintf(fp->out->addr, sizeof(fp->out->addr), "%.*s@%s",
			     (int)(at - fp->addr), fp->addr, dom)
	    >= sizeof(fp->out->addr))
		fp->out->addr[0] = '\0';	/* too long: none */
}

/* dmarc_fp_end - the end of one mailbox */
static void
dmarc_fp_end(struct dmarc_fp *fp)
{
	struct dmarc_from *o = fp->out;
	char dom[DMARC_DOMAIN_MAX];

	fp->buf[fp->len] = '\0';
	if (fp->any || fp->len > 0 || fp->bad) {
		o->naddrs++;
		if (fp->bad || fp->angle
		    || dmarc_addr_domain(fp->buf, dom) < 0) {
			o->status = DMARC_FROM_BAD;
		} else {
			if (o->naddrs == 1)
				dmarc_fp_first(fp, dom);
			if (o->ndomains == 0) {
				snprintf(o->domain, sizeof(o->domain), "%s",
					 dom);
				o->ndomains = 1;
			} else if (strcmp(o->domain, dom) != 0) {
				o->ndomains++;
			}
			dmarc_cand_add(o, dom);
		}
	}
	fp->len = fp->alen = 0;
	fp->angle = fp->had_angle = fp->any = fp->bad = fp->gap = 0;
}

/* dmarc_fp_comment - skip the (nested) comment that opens at v; its
 * last character */
static const char *
dmarc_fp_comment(struct dmarc_fp *fp, const char *v)
{
	int depth;

	for (depth = 1, v++; *v != '\0' && depth > 0; v++) {
		if (*v == '\\' && v[1] != '\0')
			v++;
		else if (*v == '(')
			depth++;
		else if (*v == ')')
			depth--;
	}
	v--;
	if (depth > 0)
		fp->bad = 1;
	return v;
}

/* dmarc_fp_quoted - the quoted string that opens at v; its last
 * character */
static const char *
dmarc_fp_quoted(struct dmarc_fp *fp, const char *v)
{
	dmarc_fp_put(fp, *v, *v);
	for (v++; *v != '\0' && *v != '"'; v++) {
		if (*v == '\\' && v[1] != '\0')
			dmarc_fp_raw(fp, *v++);
		if (fp->angle || !fp->had_angle)
			dmarc_fp_put(fp, 'q', *v);
	}
	if (*v == '\0') {
		fp->bad = 1;
		v--;
	} else {
		dmarc_fp_raw(fp, *v);
	}
	return v;
}

/* dmarc_fp_value - one header value */
static void
dmarc_fp_value(struct dmarc_fp *fp, const char *v)
{
	for (; *v != '\0'; v++) {
		switch (*v) {
		case '(':	/* comment, nested */
			v = dmarc_fp_comment(fp, v);
			break;
		case '"':	/* quoted string: a display name or a
				 * quoted local part */
			v = dmarc_fp_quoted(fp, v);
			break;
		case '<':
			if (fp->angle || fp->had_angle)
				fp->bad = 1;
			fp->len = fp->alen = 0;	/* before: a phrase */
			fp->gap = 0;
			fp->angle = fp->had_angle = fp->any = 1;
			break;
		case '>':
			if (!fp->angle)
				fp->bad = 1;
			fp->angle = 0;
			break;
		case ':':	/* a group name, or an obsolete route */
			fp->len = fp->alen = 0;
			if (!fp->angle)
				fp->any = 0;
			break;
		case ';':	/* end of a group */
		case ',':
			if (fp->angle && *v == ',')
				break;	/* obs-route list */
			dmarc_fp_end(fp);
			break;
		default:
			dmarc_fp_put(fp, *v, *v);
			break;
		}
	}
	dmarc_fp_end(fp);
}

/* dmarc_from_parse - which domain DMARC evaluates */
void
dmarc_from_parse(const char *const *values, size_t n,
		 struct dmarc_from *out)
{
	struct dmarc_fp fp;
	size_t i;

	memset(out, 0, sizeof(*out));
	memset(&fp, 0, sizeof(fp));
	fp.out = out;
	out->nfields = n;
	for (i = 0; i < n; i++)
		dmarc_fp_value(&fp, values[i]);
	if (out->status == DMARC_FROM_BAD) {
		/* what the parser could not read, a reader may */
		for (i = 0; i < n; i++)
			dmarc_cand_salvage(out, values[i]);
		return;
	}
	if (out->naddrs == 0)
		out->status = DMARC_FROM_NONE;
	else if (out->ndomains > 1)
		out->status = DMARC_FROM_MULTI;
	else
		out->status = DMARC_FROM_OK;
}

/* dmarc_from_author - the one author address of a message, as DKIM
 * signing matches it: one From field, one valid mailbox, nothing a
 * signing table could not name (white space, brackets); else NULL */
const char *
dmarc_from_author(const struct dmarc_from *f)
{
	if (f->nfields != 1 || f->status != DMARC_FROM_OK || f->naddrs != 1
	    || f->addr[0] == '\0' || strpbrk(f->addr, " \t\r\n<>()") != NULL)
		return NULL;
	return f->addr;
}
