/*++
 * NAME
 *	lmtp-spool 3h
 * SUMMARY
 *	one message body: in memory, or in a temporary file above a size
 * SYNOPSIS
 *	#include "lmtp-spool.h"
 *
 *	sp = lmtp_spool_new(1048576, "/var/tmp");
 *	lmtp_spool_write(sp, buf, len);	   an lmtp_sink_fn
 *	n = lmtp_spool_read(sp, offset, buf, sizeof(buf), err, errlen);
 *	lmtp_spool_reset(sp);		   next message
 *	lmtp_spool_free(&sp);
 * DESCRIPTION
 *	The body stays in memory up to the threshold; past it, what was
 *	written so far and the rest go to a file created with mkstemp()
 *	in the spool directory and unlinked at once, so that nothing is
 *	left behind when the process dies.  A write error is kept
 *	(lmtp_spool_error) and later writes fail too.
 *
 *	Threads: one thread writes (the connection's); once the body is
 *	complete, several delivery threads read it at once.  Reading
 *	changes nothing in the spool: a read error goes into the reader's
 *	own buffer (its delivery's), never into the spool's error.
 *--*/
#ifndef ELEMTA_LMTP_SPOOL_H
#define ELEMTA_LMTP_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

struct lmtp_spool;

struct lmtp_spool *lmtp_spool_new(size_t threshold, const char *dir);
void lmtp_spool_free(struct lmtp_spool **spp);
/* lmtp_spool_write - append; 0, or -1 (see lmtp_spool_error) */
int lmtp_spool_write(void *sp, const char *buf, size_t len);
/* lmtp_spool_read - up to len bytes at offset; 0 at the end, -1 with
 * err on error.  Safe in several threads at once. */
ssize_t lmtp_spool_read(const struct lmtp_spool *sp, long long off,
			char *buf, size_t len, char *err, size_t errlen);
void lmtp_spool_reset(struct lmtp_spool *sp);
long long lmtp_spool_size(const struct lmtp_spool *sp);
int lmtp_spool_in_file(const struct lmtp_spool *sp);
const char *lmtp_spool_error(const struct lmtp_spool *sp);

#endif
