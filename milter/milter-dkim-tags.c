/*++
 * NAME
 *	milter-dkim-tags 3
 * SUMMARY
 *	DKIM tag lists (RFC 6376 section 3.2) and their values
 * DESCRIPTION
 *	See milter-dkim-verify.h.  The grammar every DKIM and ARC header
 *	and every key record is written in: tag names are ALPHA *(ALPHA /
 *	DIGIT / "_"), values printable ASCII without ";" with folding
 *	white space inside; a tag named twice makes the whole list
 *	invalid; unknown tags are the reader's to ignore.  Then the value
 *	helpers the readers share: lookup by name, comparison, decimal
 *	numbers, colon lists, base64.  Pure: no I/O, no shared state.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter-dkim-verify.h"
#include "xalloc.h"

/* milter_dkim_tags_parse - a tag list (RFC 6376 section 3.2) */
enum milter_dkim_err
milter_dkim_tags_parse(const char *text, struct milter_dkim_tags *tl)
{
	const unsigned char *p = (const unsigned char *)text, *v, *last;
	struct milter_dkim_tag *t;
	size_t i;

	tl->n = 0;
	for (;;) {
		while (MILTER_DKIM_FWS(*p))
			p++;
		if (*p == '\0')
			return MILTER_DKIM_E_OK;	/* ";" may end it */
		if (!isalpha(*p) || tl->n == MILTER_DKIM_MAX_TAGS)
			return MILTER_DKIM_E_SYNTAX;
		t = &tl->t[tl->n];
		t->name = (const char *)p;
		while (isalnum(*p) || *p == '_')
			p++;
		t->nlen = (size_t)((const char *)p - t->name);
		while (MILTER_DKIM_FWS(*p))
			p++;
		if (*p++ != '=')
			return MILTER_DKIM_E_SYNTAX;
		t->vstart = (size_t)((const char *)p - text);
		while (MILTER_DKIM_FWS(*p))
			p++;
		v = last = p;
		for (; *p != '\0' && *p != ';'; p++) {
			if (*p > 0x20 && *p < 0x7f)
				last = p + 1;
			else if (!MILTER_DKIM_FWS(*p))
				return MILTER_DKIM_E_SYNTAX;
		}
		t->val = (const char *)v;
		t->vlen = (size_t)(last - v);
		t->vend = (size_t)((const char *)p - text);
		for (i = 0; i < tl->n; i++)
			if (tl->t[i].nlen == t->nlen
			    && memcmp(tl->t[i].name, t->name, t->nlen) == 0)
				return MILTER_DKIM_E_DUPTAG;
		tl->n++;
		if (*p == ';')
			p++;
	}
}

/* milter_dkim_tag_find - the tag called name, or NULL */
const struct milter_dkim_tag *
milter_dkim_tag_find(const struct milter_dkim_tags *tl, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < tl->n; i++)
		if (tl->t[i].nlen == len
		    && memcmp(tl->t[i].name, name, len) == 0)
			return &tl->t[i];
	return NULL;
}

/* milter_dkim_tag_is - is the value of tag t val (case-insensitive)? */
int
milter_dkim_tag_is(const struct milter_dkim_tag *t, const char *val)
{
	return t->vlen == strlen(val) && strncasecmp(t->val, val, t->vlen)
					  == 0;
}

/* milter_dkim_tag_dup - the value without white space; malloc'ed */
char *
milter_dkim_tag_dup(const struct milter_dkim_tag *t)
{
	char *s = x_malloc(t->vlen + 1), *o = s;
	size_t i;

	for (i = 0; i < t->vlen; i++)
		if (!MILTER_DKIM_FWS(t->val[i]))
			*o++ = t->val[i];
	*o = '\0';
	return s;
}

/* milter_dkim_tag_num - a decimal value of at most maxdigits digits
 * (a longer one is taken as the largest number); -1 if not decimal */
long long
milter_dkim_tag_num(const struct milter_dkim_tag *t, size_t maxdigits)
{
	long long n = 0;
	size_t i;

	if (t->vlen == 0 || t->vlen > maxdigits)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (!isdigit((unsigned char)t->val[i]))
			return -1;
		if (n > (INT64_MAX - 9) / 10)
			n = INT64_MAX;
		else
			n = n * 10 + (t->val[i] - '0');
	}
	return n;
}

/* milter_dkim_tag_list_has - does the colon list (white space allowed)
 * name word?  -1 if the list has an empty element */
int
milter_dkim_tag_list_has(const struct milter_dkim_tag *t, const char *word)
{
	char *s = milter_dkim_tag_dup(t), *e, *p = s;
	int found = 0;

	for (;;) {
		e = strchr(p, ':');
		if (e != NULL)
			*e = '\0';
		if (*p == '\0') {
			found = -1;
			break;
		}
		if (strcasecmp(p, word) == 0)
			found = 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	free(s);
	return found;
}

static const signed char b64_val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

/* milter_dkim_tag_b64 - base64 with white space skipped (the value of a
 * tag); malloc'ed, its length in *lenp; NULL if malformed.  Like
 * libopendkim, the first "=" ends the data: what follows it is
 * ignored (opendkim-testmsg writes signatures with bytes after the
 * padding), and the padding is not required. */
unsigned char *
milter_dkim_tag_b64(const char *p, size_t len, size_t *lenp)
{
	unsigned char *out = x_malloc(len / 4 * 3 + 3);
	unsigned acc = 0;
	size_t i, n = 0, bits = 0;
	int v;

	for (i = 0; i < len && p[i] != '='; i++) {
		if (MILTER_DKIM_FWS(p[i]))
			continue;
		if ((v = b64_val[(unsigned char)p[i]]) == 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(v - 1);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6) {		/* 6 bits alone are no byte */
		free(out);
		return NULL;
	}
	*lenp = n;
	return out;
}
