/*++
 * NAME
 *	policyd-proto 3h
 * SUMMARY
 *	Postfix policy delegation protocol: an incremental request parser
 * SYNOPSIS
 *	#include "policyd-proto.h"
 *
 *	struct policyd_proto *p = policyd_proto_new();
 *	const struct policyd_req *req;
 *	size_t used;
 *	int rc;
 *
 *	while (len > 0) {
 *		rc = policyd_proto_feed(p, buf, len, &used, &req, err, sizeof err);
 *		if (rc < 0)
 *			... log err, close this connection ...
 *		buf += used, len -= used;
 *		if (rc == POLICYD_PROTO_DONE)
 *			... answer req; req is valid until the next feed ...
 *	}
 *	policyd_proto_free(&p);
 * DESCRIPTION
 *	A request (SMTPD_POLICY_README) is a sequence of "name=value" lines
 *	ended by an empty line.  The parser is pure: bytes in, a struct out,
 *	no I/O and no logging.  Bytes may arrive in pieces of any size (a
 *	request split anywhere, several requests in one piece).
 *
 *	Every attribute Postfix sends up to 3.8 has a slot in req->v[],
 *	indexed by enum policyd_attr; a NULL slot was not sent.  Unknown
 *	attribute names are ignored (a newer Postfix may add some), but
 *	still count against the line limit.  A line ends with LF; a CR
 *	before it is dropped.
 *
 *	Malformed input is an error that names the problem and the line;
 *	the caller closes that connection.  Errors: a line without '=',
 *	an empty or over-long name or a name with characters other than
 *	[a-z0-9_] (any case), a value over POLICYD_PROTO_MAX_VALUE bytes,
 *	more than POLICYD_PROTO_MAX_LINES lines in one request, a NUL byte,
 *	a known attribute sent twice, a request without "request=" or with
 *	a request type other than smtpd_access_policy.  After an error the
 *	parser stays in error: every later feed fails.
 *--*/
#ifndef ELEMTA_POLICYD_PROTO_H
#define ELEMTA_POLICYD_PROTO_H

#include <stddef.h>

#define POLICYD_PROTO_MAX_VALUE	8192	/* bytes in one value */
#define POLICYD_PROTO_MAX_NAME	64	/* bytes in one attribute name */
#define POLICYD_PROTO_MAX_LINES	100	/* attribute lines per request */

/* Every attribute of Postfix <= 3.8, in the order of SMTPD_POLICY_README */
enum policyd_attr {
	POLICYD_A_REQUEST,
	POLICYD_A_PROTOCOL_STATE,
	POLICYD_A_PROTOCOL_NAME,
	POLICYD_A_HELO_NAME,
	POLICYD_A_QUEUE_ID,
	POLICYD_A_SENDER,
	POLICYD_A_RECIPIENT,
	POLICYD_A_RECIPIENT_COUNT,
	POLICYD_A_CLIENT_ADDRESS,
	POLICYD_A_CLIENT_NAME,
	POLICYD_A_REVERSE_CLIENT_NAME,
	POLICYD_A_INSTANCE,
	POLICYD_A_SASL_METHOD,
	POLICYD_A_SASL_USERNAME,
	POLICYD_A_SASL_SENDER,
	POLICYD_A_SIZE,
	POLICYD_A_CCERT_SUBJECT,
	POLICYD_A_CCERT_ISSUER,
	POLICYD_A_CCERT_FINGERPRINT,
	POLICYD_A_CCERT_PUBKEY_FINGERPRINT,
	POLICYD_A_ENCRYPTION_PROTOCOL,
	POLICYD_A_ENCRYPTION_CIPHER,
	POLICYD_A_ENCRYPTION_KEYSIZE,
	POLICYD_A_ETRN_DOMAIN,
	POLICYD_A_STRESS,
	POLICYD_A_CLIENT_PORT,
	POLICYD_A_POLICY_CONTEXT,
	POLICYD_A_SERVER_ADDRESS,
	POLICYD_A_SERVER_PORT,
	POLICYD_A_COMPATIBILITY_LEVEL,
	POLICYD_A_MAIL_VERSION,
	POLICYD_A_COUNT		/* not an attribute */
};

struct policyd_req {
	/* NUL-terminated values, NULL when not sent; owned by the parser
	 * and valid until the next policyd_proto_feed() */
	const char *v[POLICYD_A_COUNT];
	unsigned nlines;	/* attribute lines, unknown ones included */
	unsigned nunknown;	/* of which unknown names */
};

enum {
	POLICYD_PROTO_ERROR = -1,
	POLICYD_PROTO_MORE = 0,	/* every byte used, the request goes on */
	POLICYD_PROTO_DONE = 1,	/* a request is complete */
};

struct policyd_proto;

struct policyd_proto *policyd_proto_new(void);
void policyd_proto_free(struct policyd_proto **pp);

/*
 * policyd_proto_feed - parse len bytes of buf
 *
 * Returns POLICYD_PROTO_MORE when every byte was used and the request is
 * not complete, POLICYD_PROTO_DONE with *reqp set when a request ended
 * (*used says how many bytes it took: feed the rest afterwards), or
 * POLICYD_PROTO_ERROR with a message in err.  The feed after a DONE
 * starts the next request.
 */
int policyd_proto_feed(struct policyd_proto *p, const char *buf, size_t len,
		       size_t *used, const struct policyd_req **reqp,
		       char *err, size_t errlen);

/* policyd_proto_pending - bytes of an unfinished request held (0: the
 * parser is between requests) */
size_t policyd_proto_pending(const struct policyd_proto *p);

/* policyd_proto_attr_name - "client_address" for POLICYD_A_CLIENT_ADDRESS */
const char *policyd_proto_attr_name(enum policyd_attr a);
/* policyd_proto_attr_lookup - the index of a name, or -1 if unknown */
int policyd_proto_attr_lookup(const char *name, size_t len);

#endif
