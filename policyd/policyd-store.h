/*++
 * NAME
 *	policyd-store 3h
 * SUMMARY
 *	where rate limit state lives between requests and restarts
 * SYNOPSIS
 *	#include "policyd-store.h"
 *
 *	struct policyd_store *s = policyd_store_sqlite_open(path, 5000,
 *						1000, err, sizeof err);
 *	if (policyd_store_take(s, "msg:ip:192.0.2.10", &lim, now, 1, 0,
 *			       &r, err, sizeof err) < 0)
 *		... store failure: the configured action ...
 *	policyd_store_tick(s, now, err, sizeof err);	   once a second
 *	policyd_store_close(&s);			   flushes
 * DESCRIPTION
 *	A store applies policyd_limit_take() to the state of one key as one
 *	atomic step (for SQLite: in the one thread that owns the store; for
 *	a shared store later: server-side).  Keys are short strings built
 *	by the daemon ("msg:ip:192.0.2.0/24", "msg:user:alice").
 *
 *	policyd-store-sqlite.c: the state of the keys in use is kept in
 *	memory and written behind to SQLite (WAL, synchronous=NORMAL):
 *	policyd_store_tick() hands a snapshot of the dirty keys to a
 *	writer thread once per flush interval, which writes them in one
 *	transaction, so the protocol loop never waits for the disk, on a
 *	request or on a tick: only a key not seen since the start (or
 *	evicted after some idle minutes) costs an indexed read.  A flush interval of 0
 *	writes every change at once (write-through).  What a crash can lose
 *	is the last flush interval of counting; a clean stop flushes.  One
 *	process owns a database file: several nodes share limits through
 *	a shared store, not through one SQLite file.
 *
 *	Expired keys go incrementally: each flush deletes at most a batch
 *	of rows whose last entry has stopped counting (in the writer
 *	thread; a row's expiry is stored rounded up to the minute), and
 *	each tick sweeps a slice of the memory cache.
 *
 *	Nothing here logs: errors go into the caller's buffer, and the
 *	daemon applies its store_fail_action.
 *--*/
#ifndef ELEMTA_POLICYD_STORE_H
#define ELEMTA_POLICYD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "policyd-limit.h"

struct policyd_store;

struct policyd_store_stats {
	unsigned long loads;		/* keys read from the database */
	unsigned long flushes;		/* write transactions committed */
	unsigned long written;		/* rows written or deleted by flushes */
	unsigned long cleaned;		/* expired rows deleted */
	unsigned long errors;		/* operations that failed */
	size_t cached;			/* keys in memory */
	size_t dirty;			/* keys waiting for a flush */
};

/* policyd_store_sqlite_open - open (creating, migrating) the database;
 * flush_ms: how often tick writes (0: write-through).  NULL + err. */
struct policyd_store *policyd_store_sqlite_open(const char *path,
						int busy_timeout_ms,
						int64_t flush_ms,
						char *err, size_t errlen);

/* policyd_store_take - policyd_limit_take (or _peek when peek is set)
 * on key's state; 0 with r filled, -1 with a message (and nothing
 * taken) */
int policyd_store_take(struct policyd_store *s, const char *key,
		       const struct policyd_limit *lim, int64_t now,
		       uint64_t weight, int peek,
		       struct policyd_limit_result *r,
		       char *err, size_t errlen);

/* policyd_store_refund - policyd_limit_refund on key's state; the
 * weight given back, or -1 with a message */
int64_t policyd_store_refund(struct policyd_store *s, const char *key,
			     const struct policyd_limit *lim, int64_t at,
			     uint64_t weight, char *err, size_t errlen);

/* policyd_store_reset - forget key's state (elemta-ctl ratelimit
 * reset): the next take starts from nothing at once, the row goes at
 * the next flush; 0, or -1 with a message */
int policyd_store_reset(struct policyd_store *s, const char *key,
			char *err, size_t errlen);

/* policyd_store_tick - periodic work: flush when due, delete a batch of
 * expired rows, sweep part of the cache; 0, or -1 with a message (the
 * unwritten changes are kept for the next tick) */
int policyd_store_tick(struct policyd_store *s, int64_t now,
		       char *err, size_t errlen);

/* policyd_store_flush - write every dirty key now (waiting for the
 * writer thread's batch first); 0 or -1 */
int policyd_store_flush(struct policyd_store *s, char *err, size_t errlen);

/* policyd_store_step - a little of the write-behind work (a slice of
 * the dirty keys snapshotted for the writer thread): the daemon calls it
 * on every turn of its loop, so that no tick pays for a busy second's
 * keys at once; tick does the same, for callers that do not */
void policyd_store_step(struct policyd_store *s, int64_t now);

/* policyd_store_sync - wait until the writer thread has written what
 * the last tick handed it, and take the outcome (as the next tick
 * would); 0 or -1 with err.  For tests and shutdown. */
int policyd_store_sync(struct policyd_store *s, char *err, size_t errlen);

void policyd_store_stats(const struct policyd_store *s,
			 struct policyd_store_stats *out);

/* policyd_store_close - flush (errors ignored: call flush first to see
 * them), close, set *sp to NULL */
void policyd_store_close(struct policyd_store **sp);

#endif
