/*++
 * NAME
 *	xalloc 3
 * SUMMARY
 *	allocate or die
 * DESCRIPTION
 *	See xalloc.h.  Failure to allocate is fatal: there is no sensible
 *	recovery in a mail filter that has run out of memory, and a NULL
 *	check forgotten at one call site is worse than a clean exit.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* x_malloc - allocate or die */
void *
x_malloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu bytes", len);
	return p;
}

/* x_calloc - allocate zeroed memory or die */
void *
x_calloc(size_t n, size_t len)
{
	void *p = calloc(n ? n : 1, len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu x %zu bytes", n, len);
	return p;
}

/* x_realloc - resize or die */
void *
x_realloc(void *ptr, size_t len)
{
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory reallocating %zu bytes", len);
	return p;
}

/* x_strdup - copy a string or die */
char *
x_strdup(const char *s)
{
	size_t len = strlen(s);
	char *p = x_malloc(len + 1);

	memcpy(p, s, len + 1);
	return p;
}

/* x_strndup - copy at most n bytes of a string, NUL-terminated */
char *
x_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = x_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* x_vasprintf - format into a new string or die */
char *
x_vasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		msg_fatal("out of memory formatting a string");
	return p;
}

/* x_asprintf - format into a new string or die */
char *
x_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = x_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* x_free_ - free and clear a pointer; see the x_free() macro */
void
x_free_(void **pp)
{
	if (pp != NULL) {
		free(*pp);
		*pp = NULL;
	}
}

/* x_err - format an error message into a caller's buffer */
void
x_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* x_strerror - strerror_r into buf, first letter in lower case (for
 * messages like "bind: address already in use"); returns buf */
const char *
x_strerror(int errnum, char *buf, size_t len)
{
	const char *s;

#if defined(STRERROR_R_CHAR_P) \
    || (defined(__GLIBC__) && defined(_GNU_SOURCE))
	s = strerror_r(errnum, buf, len);
#else
	if (strerror_r(errnum, buf, len) != 0)
		snprintf(buf, len, "error %d", errnum);
	s = buf;
#endif
	if (s != buf) {
		snprintf(buf, len, "%s", s);
		s = buf;
	}
	if (isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return s;
}
