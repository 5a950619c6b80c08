/*++
 * NAME
 *	str 3h
 * SUMMARY
 *	small string helpers the daemons share
 * SYNOPSIS
 *	#include "str.h"
 * DESCRIPTION
 *	Lower-casing of names (domains, addresses, keys), written once.
 *	ASCII only, whatever the locale: a byte outside A-Z is kept, so
 *	UTF-8 and escapes pass unchanged.
 *
 *	str_lower() lower-cases s in place and returns it.
 *	str_lower_dup() returns a lower-cased copy (malloc'ed, allocate
 *	or die: the caller frees it).
 *	str_domain() lower-cases s in place and drops a final dot, for a
 *	domain name written fully qualified ("Example.COM." is
 *	"example.com"); str_domain_dup() does so on a copy.
 *	str_lower_buf() writes a lower-cased copy of in into out, a buffer
 *	of outlen bytes; it returns the length written, or -1 when in (and
 *	its terminating null) does not fit: out is then the empty string,
 *	never a truncated name that could pass for another.
 *--*/
#ifndef ELEMTA_STR_H
#define ELEMTA_STR_H

#include <stddef.h>

#include "sys-defs.h"

char *str_lower(char *s);
char *str_lower_dup(const char *s) ATTR_MALLOC;
char *str_domain(char *s);
char *str_domain_dup(const char *s) ATTR_MALLOC;
int str_lower_buf(char *out, size_t outlen, const char *in);

#endif
