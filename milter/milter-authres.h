/*++
 * NAME
 *	milter-authres 3h
 * SUMMARY
 *	Authentication-Results (RFC 8601): format ours, parse others'
 * SYNOPSIS
 *	#include "milter-authres.h"
 *
 *	struct authres_result r = { "spf", "pass" };
 *	authres_prop_add(&r, "smtp", "mailfrom", "user@example.com");
 *	char *v = authres_format("mx.example.net", &r, 1);
 *		-> "mx.example.net;\n\tspf=pass smtp.mailfrom=user@example.com"
 *
 *	struct authres *ar = authres_parse(value);
 *	authres_free(&ar);
 * DESCRIPTION
 *	A pure module: strings in, strings or structs out, no I/O.
 *
 *	authres_format() builds the value of our one header: the
 *	authserv-id, then one resinfo per result ("method=result
 *	(comment) reason=... ptype.property=value"), folded one per line
 *	with "\n\t" (libmilter and Postfix take LF line ends).  With no
 *	results it is "authserv-id; none".  Values are written bare when
 *	they are a token, a domain or a plain address, and as a
 *	quoted-string otherwise; control characters (CR and LF
 *	included) never reach the header.  The authserv-id itself is
 *	quoted if needed.
 *
 *	authres_parse() reads anyone's header tolerantly: CFWS anywhere,
 *	quoted strings, an optional version after the authserv-id
 *	("mx.microsoft.com 1;"), a missing authserv-id (Microsoft's
 *	"spf=pass (sender IP is ...) smtp.mailfrom=..."), "none", a
 *	method version ("dkim/1=pass"), and resinfo without ";" between
 *	them.  Unparseable resinfo is skipped up to the next ";".  It
 *	returns NULL only when nothing at all could be read.  At most
 *	AUTHRES_MAX_RESULTS results and AUTHRES_MAX_PROPS properties per
 *	result are kept.
 *--*/
#ifndef ELEMTA_MILTER_AUTHRES_H
#define ELEMTA_MILTER_AUTHRES_H

#include <stddef.h>

#define AUTHRES_MAX_PROPS	16
#define AUTHRES_MAX_RESULTS	64
#define AUTHRES_HEADER		"Authentication-Results"

struct authres_prop {
	char *ptype;		/* "smtp", "header", "body", "policy" */
	char *property;		/* "mailfrom", "d", ... */
	char *value;		/* unquoted */
};

/*
 * One resinfo.  For formatting, method and result point to strings the
 * caller keeps; authres_prop_add() copies.  From authres_parse() every
 * string is owned by the struct authres.
 */
struct authres_result {
	const char *method;	/* "spf", "dkim", "dmarc", ... */
	const char *result;	/* "pass", "fail", "temperror", ... */
	char *comment;		/* text of the comment after the result */
	char *reason;		/* reason= value, or NULL */
	int version;		/* method version ("dkim/1"), 0 if none */
	size_t nprops;
	struct authres_prop props[AUTHRES_MAX_PROPS];
};

struct authres {
	char *authserv_id;	/* NULL when the header has none */
	int version;		/* 0 when absent */
	int none;		/* "; none" */
	size_t nresults;
	struct authres_result results[AUTHRES_MAX_RESULTS];
};

/* authres_prop_add - append ptype.property=value (copied); -1 if full */
int authres_prop_add(struct authres_result *r, const char *ptype,
		     const char *property, const char *value);
/* authres_set_comment / authres_set_reason - set (copied) */
void authres_set_comment(struct authres_result *r, const char *text);
void authres_set_reason(struct authres_result *r, const char *text);
/* authres_result_clear - free what the setters copied */
void authres_result_clear(struct authres_result *r);

/* authres_format - our header's value; malloc'ed, the caller frees */
char *authres_format(const char *authserv_id,
		     const struct authres_result *results, size_t n);

/* authres_parse - someone's header value; NULL if nothing readable */
struct authres *authres_parse(const char *value);
void authres_free(struct authres **arp);

/* authres_id_is - does this header value claim authserv_id?  Compares
 * case-insensitively; a header without an authserv-id claims none. */
int authres_id_is(const char *value, const char *authserv_id);

#endif
