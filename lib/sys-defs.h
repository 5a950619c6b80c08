/*++
 * NAME
 *	sys-defs 3h
 * SUMMARY
 *	compiler attributes every header may use
 * SYNOPSIS
 *	#include "sys-defs.h"
 * DESCRIPTION
 *	The ATTR_* macros, as Postfix's sys_defs.h has them: printf format
 *	checks, noreturn and malloc, empty where the compiler does not
 *	know them.  Macros only, and it includes nothing, so that the
 *	bottom of lib/ (log, xalloc) can share them without depending on
 *	each other.
 *--*/
#ifndef ELEMTA_SYS_DEFS_H
#define ELEMTA_SYS_DEFS_H

#if defined(__GNUC__)
#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ATTR_MALLOC __attribute__((malloc))
#else
#define ATTR_PRINTF(f, a)
#define ATTR_NORETURN
#define ATTR_MALLOC
#endif

#endif
