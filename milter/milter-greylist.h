/*++
 * NAME
 *	milter-greylist 3h
 * SUMMARY
 *	greylisting: triplets, their state, the SQLite store
 * SYNOPSIS
 *	#include "milter-greylist.h"
 * DESCRIPTION
 *	A triplet is (client, sender, recipient).  The client is the
 *	client's network (greylist_prefix_v4/v6 bits of its address), or,
 *	at end of message, the domain that SPF or an aligned DKIM
 *	signature authenticated: big senders retry from another address
 *	of a pool, and the domain stays the same.  The sender is
 *	normalised (greylist_sender) so that per-message tags (SRS, BATV,
 *	+detail) do not make every retry a new triplet.
 *
 *	greylist_step() is the whole state machine of one triplet, pure
 *	(now passed in): first seen, too early, passed (once, then known),
 *	the retry window missed, the record expired.  The store
 *	(greylist_db_*) keeps the records and the clients' count of
 *	passed retries (auto-allow); it returns errors, never logs.
 *
 *	milter-greylist-util.c holds the pure parts and the allow-lists
 *	(no I/O but reading the allow file at configuration load);
 *	milter-greylist.c the stage; milter-greylist-sqlite.c and
 *	milter-greylist-redis.c the two stores.
 *--*/
#ifndef ELEMTA_MILTER_GREYLIST_H
#define ELEMTA_MILTER_GREYLIST_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

/* greylist_when */
#define GREYLIST_WHEN_EOM	0	/* the default: identity known */
#define GREYLIST_WHEN_RCPT	1

/* greylist_mode */
#define GREYLIST_MODE_ALWAYS	0	/* the default: every message */
#define GREYLIST_MODE_RSPAMD	1	/* when rspamd's action says so */

#define GREYLIST_KEY_MAX	1100	/* client \t sender \t recipient */
/* a sender or a recipient as a triplet holds it: the stage and the
 * control command key with buffers of this size, so that a hashed key
 * (its length is the buffer's) names the same triplet in both */
#define GREYLIST_ADDR_MAX	(GREYLIST_KEY_MAX / 2)
#define GREYLIST_ADDR_KEY_MIN	80	/* greylist_addr_key's out */

struct greylist_params {
	long delay;			/* seconds before a retry passes */
	long window;			/* seconds a retry may take at most */
	long max_age;			/* seconds a record lives unused */
	int auto_allow;			/* passed retries; 0: off */
};

/* One triplet's record (seconds since the epoch; passed 0: not yet). */
struct greylist_rec {
	int64_t first;
	int64_t passed;
	int64_t last;
};

enum greylist_state {
	GREYLIST_NEW,			/* first seen (or seen again too
					 * late): defer */
	GREYLIST_EARLY,			/* retried before the delay: defer */
	GREYLIST_PASSED,		/* the retry that passes: accept */
	GREYLIST_KNOWN,			/* passed before: accept */
};

/* greylist_step - the state of a triplet seen at now, its record (found:
 * it existed) updated for the store */
enum greylist_state greylist_step(struct greylist_rec *r, int found,
				  int64_t now,
				  const struct greylist_params *p);
/* greylist_wait - seconds until a deferred triplet may pass (at least 1) */
long greylist_wait(const struct greylist_rec *r, int64_t now,
		   const struct greylist_params *p);
const char *greylist_state_name(enum greylist_state s);

/* greylist_sender - MAIL FROM normalised into out: lower case; SRS0/SRS1
 * rewriting undone; BATV (prvs=, msprvs1=) tags and +detail removed;
 * "<>" for the null sender.  0, or -1 if out is too short. */
int greylist_sender(const char *sender, char *out, size_t len);
/* greylist_addr_key - a recipient as a triplet holds it, into
 * out[len]: lower case.  One that does not fit keeps its first bytes
 * and ends in "~SHA256:" and the SHA-256 of the whole lower-cased
 * address in upper-case hex, len - 1 bytes in all: two long addresses
 * never share a triplet, and no address that fits (lower case) can
 * spell it.  0 (as it is), 1 (hashed), or -1 (len under
 * GREYLIST_ADDR_KEY_MIN, or no SHA-256).
 * greylist_sender_key - a sender as a triplet holds it: greylist_sender,
 * or for one too long for it greylist_addr_key; its result.  The stage
 * and the control command both key by these two. */
int greylist_addr_key(const char *addr, char *out, size_t len);
int greylist_sender_key(const char *sender, char *out, size_t len);
/* greylist_client_net - "192.0.2.0/24" for the address' network;
 * 0, or -1 when addr is no address */
int greylist_client_net(const char *addr, unsigned v4, unsigned v6,
			char *out, size_t len);
/* greylist_addr_domain - the domain of an address (after the last @),
 * "" if none */
const char *greylist_addr_domain(const char *addr);

/* The client allow-list (greylist_client_allow_file): addresses and
 * nets, and names (a name matches itself and its subdomains). */
struct greylist_allow {
	struct cidr *nets;
	size_t nnets;
	char **names;
	size_t nnames;
};

/* greylist_allow_load - read a file: one entry a line, '#' comments;
 * 0, or -1 with err naming the file and line */
int greylist_allow_load(const char *path, struct greylist_allow *a,
			char *err, size_t errlen);
void greylist_allow_free(struct greylist_allow *a);
/* greylist_allow_client - 1 if the client's address or name is listed */
int greylist_allow_client(const struct greylist_allow *a, const char *addr,
			  const char *name);
/* greylist_name_listed - 1 if name is one of list's names or a subdomain
 * of one (list NULL-terminated; case-insensitive) */
int greylist_name_listed(char *const *list, const char *name);
/* greylist_rcpt_allowed - postmaster@ and abuse@ (any domain), then the
 * list: "user@domain", "user@" (any domain), "domain" or "@domain" */
int greylist_rcpt_allowed(char *const *list, const char *rcpt);

/* The greylist_* options of the [milter] section (milter-options.c
 * declares them, greylist_conf_load copies them). */
#define GREYLIST_STORE_SQLITE	0
#define GREYLIST_STORE_REDIS	1
struct greylist_conf {
	int on;				/* greylist */
	int when;			/* GREYLIST_WHEN_* */
	struct greylist_params params;
	int store;			/* GREYLIST_STORE_* */
	char *path;			/* SQLite file */
	char *client_allow_file;	/* NULL: none (read by milter-gen.c) */
	char **recipients;		/* NULL-terminated */
	char **senders;			/* sender domains, NULL-terminated */
	unsigned prefix_v4;
	unsigned prefix_v6;
	int fail_action;		/* enum milter_action */
	int mode;			/* GREYLIST_MODE_* */
};

struct cfg_t;
/* greylist_conf_load - the options from the section; 0, or -1 with err */
int greylist_conf_load(struct cfg_t *sec, struct greylist_conf *c, char *err,
		       size_t errlen);
void greylist_conf_release(struct greylist_conf *c);

/* The SQLite store (milter-greylist.c). */
struct db;
/* greylist_db_open - open (creating) and migrate; NULL with err */
struct db *greylist_db_open(const char *path, char *err, size_t errlen);
/* greylist_db_check - one triplet seen at now: its state (and the record
 * after the step); 0, or -1 on a database error */
int greylist_db_check(struct db *db, const char *key, int64_t now,
		      const struct greylist_params *p,
		      enum greylist_state *state, struct greylist_rec *rec);
/* greylist_db_client_pass - count one passed retry of client */
int greylist_db_client_pass(struct db *db, const char *client, int64_t now);
/* greylist_db_client_allowed - 1 if client has auto_allow passed retries
 * (not expired), 0 if not, -1 on error */
int greylist_db_client_allowed(struct db *db, const char *client,
			       int64_t now, const struct greylist_params *p);
/* greylist_db_expire - remove what has expired at now; rows removed, or
 * -1 on error */
long greylist_db_expire(struct db *db, int64_t now,
			const struct greylist_params *p);

/* elemta-ctl greylist (milter-ctl.c): a selection is a key prefix:
 * "CLIENT\t", "CLIENT\tSENDER\t", or a whole triplet key (exact). */
typedef void (*greylist_list_fn)(const char *key,
				 const struct greylist_rec *r, void *ctx);
/* greylist_db_list - the triplets selected (prefix "" is all), most
 * recently seen first, at most max; how many, or -1 */
long greylist_db_list(struct db *db, const char *prefix, int exact,
		      long max, greylist_list_fn fn, void *ctx);
/* greylist_db_delete - remove the triplets selected; how many, or -1 */
long greylist_db_delete(struct db *db, const char *prefix, int exact);
/* greylist_db_allow - the triplet key passed at now (accepted until
 * max_age goes by unused); 0 or -1 */
int greylist_db_allow(struct db *db, const char *key, int64_t now);

/* The Redis store (milter-greylist-redis.c): the same, in one Lua
 * script on the server, on its clock unless now is not 0 (tests). */
struct redis_client;
int greylist_redis_check(struct redis_client *rc, const char *key,
			 int64_t now, const struct greylist_params *p,
			 enum greylist_state *state, long *wait, char *err,
			 size_t errlen);
/* greylist_redis_client - "pass" (count one passed retry: the count) or
 * "check" (1 if auto-allowed) a client; -1 with err */
long greylist_redis_client(struct redis_client *rc, const char *client,
			   const char *op, const struct greylist_params *p,
			   char *err, size_t errlen);

/* The same on Redis (its clock; list and a selection's delete SCAN one
 * server, so with Redis Cluster they see that node's keys only);
 * -1 with err. */
long greylist_redis_list(struct redis_client *rc, const char *prefix,
			 int exact, long max, greylist_list_fn fn, void *ctx,
			 char *err, size_t errlen);
long greylist_redis_delete(struct redis_client *rc, const char *prefix,
			   int exact, char *err, size_t errlen);
int greylist_redis_allow(struct redis_client *rc, const char *key,
			 const struct greylist_params *p, char *err,
			 size_t errlen);

/* The Redis clients (milter-greylist-redis.c): a pool of at most
 * GREYLIST_REDIS_CONNS for the process, one thread on each at a time.
 * greylist_redis_take - a client for conf's [redis] section (waits while
 * all are taken, or while Redis is down and one is in use); *gen is for
 * greylist_redis_give */
#define GREYLIST_REDIS_CONNS	8
struct conf;
struct redis_client *greylist_redis_take(const struct conf *conf,
					 unsigned *gen);
/* greylist_redis_give - give the client back; ok: its calls succeeded */
void greylist_redis_give(struct redis_client **rcp, unsigned gen, int ok);
/* greylist_redis_pool_free - every idle client closed (at exit) */
void greylist_redis_pool_free(void);

/* milter_greylist_admin - fn on the store the current configuration c
 * names (SQLite opened if need be, under the store's lock, or a Redis
 * client taken from the pool); fn's result, or -1 with err when the
 * store cannot be opened */
struct conf;
typedef long (*greylist_admin_fn)(struct db *db, struct redis_client *rc,
				  const struct greylist_conf *g, void *ctx,
				  char *err, size_t errlen);
long milter_greylist_admin(const struct conf *c, greylist_admin_fn fn,
			   void *ctx, char *err, size_t errlen);

/* The stage. */
struct milter_msg;
struct conf;
void milter_greylist_init(void);
void milter_greylist_eom(struct milter_msg *m);
/* milter_greylist_rspamd - rspamd's action is greylist (called by the
 * Rspamd stage): greylist the message now with greylist_mode = rspamd;
 * with always, the greylist stage has decided already; greylisting
 * off: nothing (logged) */
void milter_greylist_rspamd(struct milter_msg *m);
struct milter_verdict;
int milter_greylist_rcpt(struct milter_msg *m, const char *rcpt,
			 struct milter_verdict *v);
void milter_greylist_finish(void);

#endif
