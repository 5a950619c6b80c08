/*++
 * NAME
 *	policyd-keys 3h
 * SUMMARY
 *	what a limit counts: its key in a request, and exemptions
 * SYNOPSIS
 *	#include "policyd-keys.h"
 *
 *	if (policyd_keys_value(lc, req, rcpt, v, sizeof v) == 0)
 *		... the limit applies, to key v ("ip:192.0.2.10") ...
 *	policyd_keys_who(lc, v, who, sizeof who);	   "client 192.0.2.10"
 *
 *	struct policyd_exempt *ex = policyd_exempt_new(conf);
 *	if (policyd_exempt_match(ex, req, why, sizeof why))
 *		... no limit applies to this request ...
 *	policyd_exempt_free(&ex);
 * DESCRIPTION
 *	Pure functions of a request (no I/O, no logging).
 *
 *	Keys are "TAG:VALUE", TAG one of ip, user, sender, sdom, rdom,
 *	listener, global.  The client address is cut to the limit's
 *	prefix (policyd_keys_client); addresses and domains are
 *	lower-cased; SASL user names are kept as sent; a value is cut at
 *	256 bytes.  A limit does not apply when its key is missing (no
 *	SASL user for sasl_user, no domain in the null sender <> for
 *	sender_domain, no recipient for recipient_domain) or its clients
 *	setting excludes the request.
 *
 *	Exemptions look only at what the client cannot choose in the
 *	envelope: its address (exempt_networks) and the name it
 *	authenticated as (exempt_sasl_users, exact match).  Sender and
 *	recipient addresses never exempt anything: a "whitelisted
 *	recipient" (postmaster@...) cannot lift a sender's limit.
 *--*/
#ifndef ELEMTA_POLICYD_KEYS_H
#define ELEMTA_POLICYD_KEYS_H

#include <stddef.h>

#include "policyd-options.h"
#include "policyd-proto.h"

/* policyd_keys_value - the key of limit lc for req (rcpt: the recipient
 * for recipient_domain, NULL: req's); 0, or -1 when it does not apply */
int policyd_keys_value(const struct policyd_limit_conf *lc,
		       const struct policyd_req *req, const char *rcpt,
		       char *out, size_t outlen);

/* policyd_keys_tag - the TAG of a key kind ("ip", "user", "sender",
 * "sdom", "rdom", "listener", "global") */
const char *policyd_keys_tag(enum policyd_key key);

/* policyd_keys_who - "client 192.0.2.10", "user alice", "sender <a@b>",
 * "sender domain b", "recipient domain c", "listener 587", "this server"
 * for a key made by policyd_keys_value */
void policyd_keys_who(const struct policyd_limit_conf *lc, const char *key,
		      char *out, size_t outlen);

/* policyd_keys_client - the key text of a client address under the
 * prefixes ("192.0.2.10", "192.0.2.0/24", "2001:db8:1:2::/64"); an
 * IPv4-mapped address is an IPv4 one; an address that does not parse
 * is used as it is (at most 64 bytes) */
void policyd_keys_client(const char *addr, int v4prefix, int v6prefix,
			 char *out, size_t outlen);

struct policyd_exempt;

struct policyd_exempt *policyd_exempt_new(const struct policyd_conf *c);
void policyd_exempt_free(struct policyd_exempt **exp);

/* policyd_exempt_match - 1 (why says "network 10.0.0.0/8" or "sasl user
 * x") if req is exempt from every limit, else 0 */
int policyd_exempt_match(const struct policyd_exempt *ex,
			 const struct policyd_req *req, char *why,
			 size_t whylen);

#endif
