/*++
 * NAME
 *	policyd-ldap 3h
 * SUMMARY
 *	per-user rates from the directory, without stalling the loop
 * SYNOPSIS
 *	#include "policyd-ldap.h"
 *
 *	struct policyd_ldap *ld = policyd_ldap_new(ldapc_conf, err, len);
 *	policyd_ldap_start(ld, 4, err, len);	   after detaching
 *	policyd_ldap_configure(ld, policyd_conf);  and on every reload
 *
 *	switch (policyd_ldap_get(ld, "alice@example.test", now, &ans)) {
 *	case POLICYD_LDAP_READY:   ans (may be NULL: no entry) is the answer
 *	case POLICYD_LDAP_WAIT:	   ask again once policyd_ldap_fd() is
 *				   readable (call policyd_ldap_drain()), and
 *				   at the latest ldap_wait_ms later
 *	case POLICYD_LDAP_DEFAULT: the directory failed or is too slow: the
 *				   limits' own rates apply
 *	}
 *	r = policyd_ldap_rate(ans, "mailRateLimit");
 * DESCRIPTION
 *	elemta-policyd is one thread polling every Postfix connection, and
 *	every smtpd of the server waits on it: a search done in that
 *	thread would stall them all for as long as the directory takes
 *	(seconds when slapd hangs: ldap.network_timeout and
 *	search_timeout).  So the searches run in worker threads on
 *	lib/ldapc (synchronous, thread-safe, pooled), and the loop only
 *	ever looks at a cache: a user not in it is queued for a worker,
 *	the request that needed it waits (its connection only: the others
 *	go on being served), and the worker's answer comes back through a
 *	pipe the loop polls.  A request waits at most ldap_wait_ms from the
 *	moment the search was queued; then, and at once while the
 *	directory is failing, the limits' own rates apply.  The search
 *	itself goes on and fills the cache for later requests.  Worker
 *	threads rather than libldap's asynchronous API: the bind and
 *	StartTLS of a (re)connection are synchronous in libldap, and
 *	lib/ldapc's pool, reconnection and timeouts are already those of
 *	the LMTP bridge.
 *
 *	The cache, by SASL user name (only the loop thread touches it):
 *	an entry found for ldap_cache_ttl, no entry for
 *	ldap_negative_cache_ttl (several entries count as none, and are
 *	logged), a failure for POLICYD_LDAP_RETRY_MS (no search meanwhile).
 *	At ldap_cache_size users the answers are forgotten (searches in
 *	flight are kept).  A reload forgets them too: the filter or the
 *	attributes may have changed (a search of the old configuration is
 *	then not used).
 *
 *	A value is "N" or "N/PERIOD" (policyd_conf_parse_override); one
 *	that is neither is logged with the user and ignored.  Failures and
 *	slow answers are logged at most once per POLICYD_LDAP_LOG_MS with
 *	how many more there were, and the recovery once; everything is
 *	counted in the metrics (lookups by outcome, cache hits and misses,
 *	requests that got the defaults by reason, search latency).
 *--*/
#ifndef ELEMTA_POLICYD_LDAP_H
#define ELEMTA_POLICYD_LDAP_H

#include <stddef.h>
#include <stdint.h>

#include "ldapc.h"
#include "policyd-options.h"

#define POLICYD_LDAP_RETRY_MS	5000	/* after a failure, no new search */
#define POLICYD_LDAP_LOG_MS	60000	/* a failure report at most this often */
#define POLICYD_LDAP_QUEUE_MAX	1000	/* searches waiting for a worker */
#define POLICYD_LDAP_WORKERS	16	/* at most */

enum {
	POLICYD_LDAP_READY,	/* *ans is the answer (NULL: nothing there) */
	POLICYD_LDAP_WAIT,	/* the search is on its way */
	POLICYD_LDAP_DEFAULT,	/* no answer to be had: the defaults apply */
};

struct policyd_ldap;
struct policyd_ldap_answer;

/* policyd_ldap_new - a client of the [ldap] section (reads its password
 * file: call before dropping privileges); NULL + err */
struct policyd_ldap *policyd_ldap_new(const struct ldapc_conf *c, char *err,
				      size_t errlen);

/* policyd_ldap_start - start n worker threads (after detaching: fork
 * keeps no thread); 0 or -1 + err */
int policyd_ldap_start(struct policyd_ldap *ld, int n, char *err,
		       size_t errlen);

/* policyd_ldap_configure - base, scope, filter, cache and the attributes
 * of c's limits; forgets every answer */
void policyd_ldap_configure(struct policyd_ldap *ld,
			    const struct policyd_conf *c);

/* policyd_ldap_get - the answer for user at now (wall ms); see above.
 * *ans points into the cache: valid until the next drain, configure or
 * get */
int policyd_ldap_get(struct policyd_ldap *ld, const char *user, int64_t now,
		     const struct policyd_ldap_answer **ans);

/* A user's own rate, from one attribute. */
struct policyd_ldap_rate {
	struct policyd_rate rate;
	int has_period;		/* 0: "N", the limit's own period */
};

/* policyd_ldap_rate - the user's rate in attribute attr, or NULL */
const struct policyd_ldap_rate *policyd_ldap_rate(
	const struct policyd_ldap_answer *ans, const char *attr);

/* policyd_ldap_fd - readable when answers are back */
int policyd_ldap_fd(const struct policyd_ldap *ld);

/* policyd_ldap_drain - take the answers that are back into the cache;
 * how many */
size_t policyd_ldap_drain(struct policyd_ldap *ld, int64_t now);

/* policyd_ldap_tick - forget expired answers (a slice per call) */
void policyd_ldap_tick(struct policyd_ldap *ld, int64_t now);

/* policyd_ldap_free - stop the workers (waiting for searches in flight),
 * free everything, set *ldp to NULL */
void policyd_ldap_free(struct policyd_ldap **ldp);

#endif
