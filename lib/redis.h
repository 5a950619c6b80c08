/*++
 * NAME
 *	redis 3h
 * SUMMARY
 *	a small, synchronous Redis client with short timeouts (hiredis)
 * SYNOPSIS
 *	#include "redis.h"
 *
 *	struct redis_client *rc = redis_client_new(conf_get(c,
 *						&redis_conf_section));
 *	const char *argv[] = { "100", "3600000" };
 *	struct redisReply *reply;
 *	char key[512], err[256];
 *
 *	redis_client_key(rc, "policyd:", "msg:ip:192.0.2.10", key,
 *			 sizeof(key));	   elemta:policyd:{msg:ip:...}
 *	if (redis_client_eval(rc, script, key, 2, argv, NULL, &reply, err,
 *			      sizeof(err)) < 0)
 *		... err: down, timed out, or an error reply ...
 *	redis_reply_free(&reply);
 *	redis_client_free(&rc);
 * DESCRIPTION
 *	The shared [redis] section names the server(s), each "HOST:PORT",
 *	"[IPV6]:PORT" or an absolute path of a unix socket; the first that
 *	answers is used, the next ones are tried in turn when it fails
 *	(a fail-over list, not sharding).  Optional password (AUTH) and
 *	database (SELECT, 0 against Redis Cluster), the key prefix.
 *
 *	Blocking model: synchronous.  Connecting waits at most
 *	connect_timeout_ms, and each command at most command_timeout_ms
 *	(socket timeouts), so a slow or dead server stalls the caller at
 *	most that long.  A timed-out or broken connection is dropped, and
 *	after a failure no new connection is tried before a back-off
 *	(250 ms, doubled up to 5 s, reset by a success): meanwhile calls
 *	fail at once with "unavailable", costing nothing.
 *	redis_client_eval_many() sends many calls before reading their
 *	replies (one round trip per node); a server that stops answering
 *	in the middle fails the calls not answered yet.
 *
 *	redis_client_eval() runs a Lua script on exactly one key (so it
 *	works against Redis Cluster, where every script must name its
 *	keys and they must share a slot): EVALSHA with the script's SHA1
 *	(learnt from SCRIPT LOAD once per connection) and EVAL when the
 *	server answers NOSCRIPT.  redis_client_key() builds prefix + ns +
 *	"{" + name + "}", a hash tag, so a key's slot does not depend on
 *	the prefix.
 *
 *	A deadline for a script (redis_eval.deadline): the call gets one
 *	more argument, the moment (us since the epoch, on the clock of the
 *	node that runs it: its TIME) after which the client has given up
 *	on it, now + command_timeout_ms when it is sent, so that a script
 *	that a stopped or overloaded server runs late, after the client
 *	timed out and went on without its answer, can refuse to change
 *	anything.  No clock is assumed in sync: each node's TIME is asked
 *	(a round trip) when a deadline is first needed on a connection and
 *	again after a second, and the offset is taken at its lowest (the
 *	round trip's time is on the safe side), less 1 ms for the drift of
 *	the clocks meanwhile.  What is left: a script that ran in time and
 *	whose answer was lost (the server stopped between running it and
 *	writing its answer, the connection broke), and a server's clock
 *	stepped between two TIMEs.
 *
 *	Redis Cluster: the servers are where the client starts (any node
 *	of the cluster will do).  A "MOVED slot host:port" answer sends
 *	the call to that node, and every later call for that slot (the
 *	slot map, learnt from these answers); "ASK slot host:port" sends
 *	that one call there, after ASKING (a slot being migrated).  Only
 *	to a known node: one of the servers, or a node that CLUSTER SLOTS
 *	on the server in use names (asked when a redirection names an
 *	unknown address, at most once a second); a redirection elsewhere
 *	is refused (the call fails with a message saying so, and is
 *	counted): the connection, and the password with it, never go to
 *	an address a server's answer made up.  At most
 *	REDIS_REDIRECTS (5) per call; a connection per node, at most 16.
 *	A node of the cluster that fails is forgotten (its slots are asked
 *	of the configured server again) and the client backs off as for
 *	any failure.  redis_client_command() takes argv[1] as the key.
 *
 *	Not thread-safe: one client per thread.  Nothing here logs: errors
 *	go into the caller's buffer; redis_client_stats() counts them.
 *--*/
#ifndef ELEMTA_REDIS_H
#define ELEMTA_REDIS_H

#include <stddef.h>

#include "conf.h"

struct redis_conf {
	char **servers;		/* "host:port", "[v6]:port", "/path" */
	size_t nservers;
	char *password;		/* NULL: no AUTH */
	int database;		/* SELECT n (0: none sent) */
	int connect_timeout_ms;
	int command_timeout_ms;
	char *key_prefix;	/* "" allowed */
};

extern const struct conf_section redis_conf_section;

/* redis_conf_copy - a deep copy of src into dst (free it with
 * redis_conf_free); redis_conf_equal - do a and b ask for the same
 * clients (servers, credentials, database, timeouts, key prefix)? */
void redis_conf_copy(struct redis_conf *dst, const struct redis_conf *src);
void redis_conf_free(struct redis_conf *c);
int redis_conf_equal(const struct redis_conf *a, const struct redis_conf *b);

struct redis_client;
struct redisReply;

struct redis_stats {
	unsigned long connects;	/* connections established */
	unsigned long failures;	/* calls that failed (any reason) */
	unsigned long noscript;	/* EVALSHA answered NOSCRIPT */
	unsigned long moved;	/* MOVED redirections followed */
	unsigned long asks;	/* ASK redirections followed */
	unsigned long refused;	/* redirections to unknown nodes refused */
	int up;			/* 1: connected to the configured server */
};

/* redis_server_check - 0 if s is a server spec, or -1 + err */
int redis_server_check(const char *s, char *err, size_t errlen);

/* redis_key_slot - the Redis Cluster hash slot (0-16383) of a key: CRC16
 * of its hash tag ({...}), or of the whole key */
unsigned redis_key_slot(const char *key);

/* redis_redirect_parse - the parts of a MOVED or ASK error's text: *ask
 * (1 for ASK), the slot, the address it names as "host:port" or
 * "[v6]:port" (the host of from, "host:port", when it names none); 0, or
 * -1 when text is no redirection or a malformed one */
int redis_redirect_parse(const char *text, const char *from, int *ask,
			 unsigned *slot, char *addr, size_t addrlen);

/* redis_client_new - a client for c (copied); never connects here */
struct redis_client *redis_client_new(const struct redis_conf *c);
void redis_client_free(struct redis_client **rcp);

/* redis_client_key - prefix + ns + "{" + name + "}" into out
 * (truncated to outlen) */
void redis_client_key(const struct redis_client *rc, const char *ns,
		      const char *name, char *out, size_t outlen);

/* redis_client_eval - run script on key with argc string arguments;
 * 0 with *reply set (free it with redis_reply_free), or -1 with err
 * (unavailable, timeout, I/O error, error reply, or a reply that check,
 * when not NULL, refuses: see redis_eval.check) */
int redis_client_eval(struct redis_client *rc, const char *script,
		      const char *key, int argc, const char *const *argv,
		      int (*check)(const struct redisReply *r, char *err,
				   size_t errlen),
		      struct redisReply **reply, char *err, size_t errlen);

/* redis_reply_ints - 1 if r is an array of exactly n integers (for a
 * redis_eval.check), else 0 */
int redis_reply_ints(const struct redisReply *r, size_t n);

/* redis_check_int - a redis_eval.check for a script whose answer is one
 * integer: 0, or -1 with err */
int redis_check_int(const struct redisReply *r, char *err, size_t errlen);

/* One script call of a pipeline (redis_client_eval_many). */
struct redis_eval {
	const char *script;		/* in: as for redis_client_eval */
	const char *key;
	int argc;
	const char *const *argv;
	int deadline;			/* in: 1, one more argument: the
					 * call's deadline (see above) */
	int (*check)(const struct redisReply *r, char *err,
		     size_t errlen);	/* in: NULL, or whether the reply
					 * has the type and shape the
					 * caller expects: -1 (with err)
					 * fails the call, which counts
					 * as a failure, as an error reply
					 * does (the back-off is not reset) */
	struct redisReply *reply;	/* out: the caller frees it */
	int rc;				/* out: 0, or -1 with err */
	char err[256];
};

/* redis_client_eval_many - redis_client_eval for each of ev, pipelined:
 * the calls for one node are all sent, then all their replies read (one
 * round trip per node, not one per call); a call redirected (MOVED,
 * ASK) or whose script was flushed (NOSCRIPT) is then run again alone.
 * Each ev[i] says how its call went; returns how many failed. */
size_t redis_client_eval_many(struct redis_client *rc, struct redis_eval *ev,
			      size_t n);

/* redis_client_command - one plain command (argv[0] is its name); same
 * results as redis_client_eval */
int redis_client_command(struct redis_client *rc, int argc,
			 const char *const *argv, struct redisReply **reply,
			 char *err, size_t errlen);

void redis_client_stats(const struct redis_client *rc,
			struct redis_stats *out);

/* redis_reply_free - free a reply, set *rp to NULL */
void redis_reply_free(struct redisReply **rp);

#endif
