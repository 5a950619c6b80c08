/*++
 * NAME
 *	lmtp-syntax 3h
 * SUMMARY
 *	LMTP's words: command arguments and printable values
 * SYNOPSIS
 *	#include "lmtp-syntax.h"
 * DESCRIPTION
 *	The pieces the session (lmtp-proto.c) reads commands with, and
 *	the control-character checks every value on its way to a header,
 *	a log line or a backend's command goes through.  The reply
 *	functions the client side shares are declared in lmtp-proto.h.
 *--*/
#ifndef ELEMTA_LMTP_SYNTAX_H
#define ELEMTA_LMTP_SYNTAX_H

#include <stddef.h>

/* lmtp_word - does cmd start with keyword kw (case-insensitive), then a
 * space or the end?  The rest (spaces skipped), or NULL */
const char *lmtp_word(const char *cmd, const char *kw);

/* lmtp_path - "<addr>" at *pp (quotes and backslashes honoured, a
 * source route dropped): the address (malloc'ed) or NULL; *pp moves
 * past the '>' */
char *lmtp_path(const char **pp);

/* lmtp_param - the next "KEY[=VALUE]" at *pp: key into key (truncated
 * to klen), *val and *vlen the value (NULL, 0 without '='); 0 at the end */
int lmtp_param(const char **pp, char *key, size_t klen, const char **val,
	       size_t *vlen);

/* lmtp_printable_ok - no control character (< 32, DEL) in a */
int lmtp_printable_ok(const char *a);

/* lmtp_printable - control characters become '?', in place */
void lmtp_printable(char *s);

/* lmtp_addr_ok - a usable address: local part, '@', domain, printable */
int lmtp_addr_ok(const char *a);

/* lmtp_xtext_ok, lmtp_notify_ok, lmtp_orcpt_ok - RFC 3461's xtext,
 * NOTIFY= and ORCPT= values of vlen bytes */
int lmtp_xtext_ok(const char *v, size_t vlen);
int lmtp_notify_ok(const char *v, size_t vlen);
int lmtp_orcpt_ok(const char *v, size_t vlen);

#endif
