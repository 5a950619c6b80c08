/*++
 * NAME
 *	milter-body 3h
 * SUMMARY
 *	the one copy of a message that content scanners read
 * SYNOPSIS
 *	#include "milter-body.h"
 * DESCRIPTION
 *	ClamAV and Rspamd need the whole message: the header block as
 *	received, the empty line, the body, as an RFC 5322 message with
 *	CRLF line ends (a bare LF, as -t may read from a file, becomes
 *	CRLF; the MTA's CRLF is kept).  It is kept once per message, and
 *	only when a stage of the pass asks for it (the stage table's
 *	body_wanted hooks): with ClamAV and Rspamd off, nothing is copied.
 *
 *	The copy is in memory up to body_memory_max bytes, then in a
 *	private temporary file of body_spool_dir (relative to
 *	database.directory): opened with O_TMPFILE, or created and
 *	unlinked at once where the file system has no O_TMPFILE, mode
 *	0600, in a directory that must be the daemon's own (mode 0700,
 *	created so when missing).  The file has no name, so it goes with
 *	its descriptor on every path: end of message, abort, a dropped
 *	connection, a crash of the process.
 *
 *	A message larger than scan_max_size is not kept (what was kept is
 *	dropped as the limit is crossed, the size still counted): the
 *	content stages skip it (milter_body_map fails, milter_body_oversize
 *	says why), the log says so, and scan_oversize_action decides:
 *	skip (a header says the message was not scanned) or tempfail.
 *
 *	Filled by the milter's header, end-of-header and body hooks
 *	(milter-conn.c, milter-pipeline.c), every header included (also
 *	those beyond the header caps): a scanner sees what the MTA queues.
 *	Read by the stages at end of message only.
 *--*/
#ifndef ELEMTA_MILTER_BODY_H
#define ELEMTA_MILTER_BODY_H

#include <stddef.h>

/* the header a message over scan_max_size gets (scan_oversize_action =
 * skip) */
#define MILTER_BODY_SCAN_HEADER	"X-Elemta-Scan"

/* scan_oversize_action */
#define MILTER_BODY_OVERSIZE_SKIP	0
#define MILTER_BODY_OVERSIZE_TEMPFAIL	1

struct milter_msg;
struct milter_body;

/* milter_body_start - keep this message's copy from now on (idempotent;
 * the pipeline calls it when a stage wants the body; before the first
 * header) */
void milter_body_start(struct milter_msg *m);
/* milter_body_header - one header as received ("Name:" value CRLF) */
void milter_body_header(struct milter_msg *m, const char *name,
			const char *value);
/* milter_body_eoh - the empty line after the headers */
void milter_body_eoh(struct milter_msg *m);
/* milter_body_chunk - a piece of the body */
void milter_body_chunk(struct milter_msg *m, const unsigned char *chunk,
		       size_t len);
/* milter_body_eom - end of message: the log line and the metrics, and
 * scan_oversize_action for a message over scan_max_size (before the
 * stages) */
void milter_body_eom(struct milter_msg *m);
/* milter_body_free - the copy, memory or file (milter_msg_free) */
void milter_body_free(struct milter_msg *m);

/*
 * What the content stages use, at end of message.
 */
/* milter_body_kept - 1 if a copy is being kept for this message (a
 * stage wants it), even if oversize or broken */
int milter_body_kept(const struct milter_msg *m);
/* milter_body_size - the message's size in bytes, CRLF line ends (also
 * when oversize: the size seen); 0 if not kept */
size_t milter_body_size(const struct milter_msg *m);
/* milter_body_oversize - 1 if the message is over scan_max_size (its
 * copy was dropped: the content stages skip it) */
int milter_body_oversize(const struct milter_msg *m);
/* milter_body_map - the whole message at *ptr, *len bytes, in memory
 * or mapped from the file; owned by the message, valid until it is
 * freed (map once all of it has arrived).  0, or -1 when there is no
 * copy: not kept, oversize, or the spool failed (milter_body_error) */
int milter_body_map(struct milter_msg *m, const unsigned char **ptr,
		    size_t *len);
/* milter_body_fd - a descriptor of a file holding the whole message
 * (a copy in memory is written to a spool file first); owned by the
 * message: read it with pread(), do not close it.  -1 as for
 * milter_body_map */
int milter_body_fd(struct milter_msg *m);
/* milter_body_error - why there is no copy ("oversize", "spool: ...",
 * "off"), or NULL when there is one */
const char *milter_body_error(const struct milter_msg *m);

struct conf;
/* milter_body_spool_dir - the spool directory of conf (body_spool_dir,
 * relative to database.directory), made 0700 if missing and checked to
 * be the daemon's own; malloc'ed, or NULL with err.  libclamav keeps its
 * temporary files there too. */
char *milter_body_spool_dir(const struct conf *conf, char *err,
			    size_t errlen);

/* milter_body_init - the metrics (once, before threads) */
void milter_body_init(void);

#endif
