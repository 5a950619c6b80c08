/*++
 * NAME
 *	lmtp-junk 3
 * SUMMARY
 *	spam to Junk: the verdict header, and the Junk address
 * DESCRIPTION
 *	See lmtp-junk.h.
 *--*/
#include "config.h"

#include <string.h>
#include <strings.h>

#include "lmtp-junk.h"
#include "xalloc.h"

/* lmtp_junk_field - the unfolded value of the first field called name
 * (namelen bytes) in head; malloc'ed, or NULL */
static char *
lmtp_junk_field(const char *head, size_t len, const char *name,
		size_t namelen)
{
	const char *p = head, *end = head + len, *eol, *v;
	char *out = NULL;
	size_t olen = 0, n;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (out != NULL) {	/* collecting: continuation lines */
			if (n == 0 || (p[0] != ' ' && p[0] != '\t'))
				break;
			out = x_realloc(out, olen + n + 1);
			memcpy(out + olen, p, n);
			olen += n;
			out[olen] = '\0';
		} else if (n == 0) {
			break;		/* end of the header section */
		} else if (n > namelen && p[namelen] == ':'
			   && strncasecmp(p, name, namelen) == 0) {
			v = p + namelen + 1;
			olen = n - namelen - 1;
			out = x_malloc(olen + 1);
			memcpy(out, v, olen);
			out[olen] = '\0';
		}
		p = eol + 1;
	}
	return out;
}

/* lmtp_junk_match - the first rule whose verdict is in head, or -1 */
int
lmtp_junk_match(char *const *rules, size_t nrules, const char *head,
		size_t len)
{
	const char *colon, *want, *v;
	char *field;
	size_t i, namelen, wlen;
	int hit;

	for (i = 0; i < nrules; i++) {
		if ((colon = strchr(rules[i], ':')) == NULL)
			continue;
		namelen = (size_t)(colon - rules[i]);
		want = colon + 1 + strspn(colon + 1, " \t");
		wlen = strlen(want);
		while (wlen > 0 && (want[wlen - 1] == ' '
				    || want[wlen - 1] == '\t'))
			wlen--;
		field = lmtp_junk_field(head, len, rules[i], namelen);
		if (field == NULL)
			continue;
		v = field + strspn(field, " \t");
		hit = wlen > 0 && strncasecmp(v, want, wlen) == 0
			&& (v[wlen] == '\0' || strchr(" \t;,", v[wlen]));
		x_free(&field);
		if (hit)
			return (int)i;
	}
	return -1;
}

/* lmtp_junk_address - addr with folder as its detail */
char *
lmtp_junk_address(const char *addr, char delim, const char *folder)
{
	const char *at = strrchr(addr, '@'), *d;
	size_t llen;

	if (at == NULL)
		at = addr + strlen(addr);
	llen = (size_t)(at - addr);
	if ((d = memchr(addr, delim, llen)) != NULL && d > addr)
		llen = (size_t)(d - addr);
	return x_asprintf("%.*s%c%s%s", (int)llen, addr, delim, folder, at);
}
