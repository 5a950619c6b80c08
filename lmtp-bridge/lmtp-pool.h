/*++
 * NAME
 *	lmtp-pool 3h
 * SUMMARY
 *	LMTP client side: the pool of idle backend connections
 * SYNOPSIS
 *	#include "lmtp-pool.h"
 *
 *	struct lmtp_pool *p = lmtp_pool_new(max_idle, idle_timeout);
 *	fd = lmtp_pool_take(p, addr, &caps);	   -1: none, connect
 *	lmtp_pool_put(p, addr, fd, &caps);	   after a clean RSET
 *	lmtp_pool_free(&p);
 * DESCRIPTION
 *	The pool keeps at most max_idle connections (all backends
 *	together), each for at most idle_timeout seconds; the oldest goes
 *	first when it is full.  Safe to use from several threads.
 *--*/
#ifndef ELEMTA_LMTP_POOL_H
#define ELEMTA_LMTP_POOL_H

#include <stddef.h>

#include "lmtp-wire.h"

struct lmtp_pool;

/* lmtp_pool_new - a pool of idle backend connections */
struct lmtp_pool *lmtp_pool_new(size_t max_idle, int idle_timeout);
/* lmtp_pool_free - close every idle connection, free the pool */
void lmtp_pool_free(struct lmtp_pool **pp);
/* lmtp_pool_idle - how many idle connections it holds now */
size_t lmtp_pool_idle(struct lmtp_pool *p);
/* lmtp_pool_keeps - true when p can keep a connection (not NULL, and
 * max_idle above 0) */
int lmtp_pool_keeps(const struct lmtp_pool *p);
/* lmtp_pool_take - the newest idle connection to addr (its LHLO
 * capabilities in *caps), taken out of the pool; fd, or -1 (also
 * when p is NULL) */
int lmtp_pool_take(struct lmtp_pool *p, const char *addr,
		   struct lmtp_caps *caps);
/* lmtp_pool_put - keep an idle connection, the pool's from now on (the
 * oldest is closed when the pool is full) */
void lmtp_pool_put(struct lmtp_pool *p, const char *addr, int fd,
		   const struct lmtp_caps *caps);

#endif
