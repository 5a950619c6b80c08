/*++
 * NAME
 *	str 3
 * SUMMARY
 *	small string helpers the daemons share
 * DESCRIPTION
 *	See str.h.  The case mapping is ASCII and does not ask the locale
 *	(no daemon calls setlocale(), so tolower() was ASCII already).
 *--*/
#include "config.h"

#include <limits.h>
#include <string.h>

#include "str.h"
#include "xalloc.h"

/* str_lower - lower-case s in place (ASCII); s */
char *
str_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* str_lower_dup - a lower-cased copy of s; the caller frees it */
char *
str_lower_dup(const char *s)
{
	return str_lower(x_strdup(s));
}

/* str_domain - a domain lower-cased, without a final dot, in place; s */
char *
str_domain(char *s)
{
	size_t len = strlen(str_lower(s));

	if (len > 0 && s[len - 1] == '.')
		s[len - 1] = '\0';
	return s;
}

/* str_domain_dup - str_domain of a copy; the caller frees it */
char *
str_domain_dup(const char *s)
{
	return str_domain(x_strdup(s));
}

/* str_lower_buf - a lower-cased copy of in into out[outlen]; its
 * length, or -1 (out empty) when it does not fit */
int
str_lower_buf(char *out, size_t outlen, const char *in)
{
	size_t len = strlen(in);

	if (len >= outlen || len > INT_MAX) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	memcpy(out, in, len + 1);
	str_lower(out);
	return (int)len;
}
