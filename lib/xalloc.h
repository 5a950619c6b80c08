/*++
 * NAME
 *	xalloc 3h
 * SUMMARY
 *	allocate or die
 * SYNOPSIS
 *	#include "xalloc.h"
 * DESCRIPTION
 *	Memory allocation that never returns NULL: running out of memory
 *	is a broken environment, so these log and exit (msg_fatal).
 *	x_free() takes the address of a pointer and sets it to NULL.
 *--*/
#ifndef ELEMTA_XALLOC_H
#define ELEMTA_XALLOC_H

#include <stddef.h>
#include <stdarg.h>

#include "sys-defs.h"

void *x_malloc(size_t len) ATTR_MALLOC;
void *x_calloc(size_t n, size_t len) ATTR_MALLOC;
void *x_realloc(void *ptr, size_t len);
char *x_strdup(const char *s) ATTR_MALLOC;
char *x_strndup(const char *s, size_t n) ATTR_MALLOC;
char *x_asprintf(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_MALLOC;
char *x_vasprintf(const char *fmt, va_list ap) ATTR_PRINTF(1, 0) ATTR_MALLOC;
void x_free_(void **pp);

/* x_free - free *pp and set it to NULL (pp is a pointer to a pointer) */
#define x_free(pp) x_free_((void **)(pp))

/* snprintf into an error buffer; a NULL buffer is allowed */
void x_err(char *err, size_t errlen, const char *fmt, ...) ATTR_PRINTF(3, 4);

/* strerror_r into buf, first letter in lower case; thread-safe */
const char *x_strerror(int errnum, char *buf, size_t len);

#endif
