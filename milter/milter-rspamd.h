/*++
 * NAME
 *	milter-rspamd 3h
 * SUMMARY
 *	the Rspamd stage: rspamd's /checkv2 reply, parsed; the stage
 * SYNOPSIS
 *	#include "milter-rspamd.h"
 * DESCRIPTION
 *	rspamd_reply_parse() is the pure part (bytes in, struct out, no
 *	I/O; milter-rspamd-reply.c): the JSON reply of rspamd's /checkv2
 *	(action, score, required_score, the symbols for the log,
 *	messages.smtp_message, the rewritten subject, milter.add_headers
 *	and milter.remove_headers), everything that may reach a header or
 *	a log line already made safe (rspamd_header_clean).  Unit-tested
 *	(t/0480) and fuzzed (t/0481, t/libfuzzer/milter-rspamd).
 *
 *	milter-rspamd.c is the stage: the request over HTTP with libcurl,
 *	the actions, the header edits (milter_rspamd_edits, called by
 *	milter-outcome.c).
 *--*/
#ifndef ELEMTA_MILTER_RSPAMD_H
#define ELEMTA_MILTER_RSPAMD_H

#include <stddef.h>

/* rspamd's actions, in its words ("no action", "soft reject"...) */
enum rspamd_action {
	RSPAMD_NO_ACTION,
	RSPAMD_GREYLIST,
	RSPAMD_ADD_HEADER,
	RSPAMD_REWRITE_SUBJECT,
	RSPAMD_SOFT_REJECT,
	RSPAMD_REJECT,
	RSPAMD_DISCARD,
	RSPAMD_QUARANTINE,
};

/* A header rspamd asks for (milter.add_headers): name checked, value
 * cleaned; order -1: at the end, else inserted at that index. */
struct rspamd_add {
	char *name;
	char *value;
	int order;
};

/* A header rspamd asks to remove (milter.remove_headers): index 0:
 * every one of that name, n > 0: the n-th, n < 0: the n-th from the
 * end. */
struct rspamd_remove {
	char *name;
	long index;
};

#define RSPAMD_MAX_EDITS	64	/* add/remove entries kept */
#define RSPAMD_SYMBOLS_MAX	1024	/* the log's symbol list, bytes */

struct rspamd_reply {
	enum rspamd_action action;
	double score;
	double required_score;
	int skipped;			/* is_skipped: not scanned */
	char *symbols;			/* "NAME(1.50) NAME2(0.00)" */
	char *smtp_message;		/* messages.smtp_message, or NULL */
	char *subject;			/* rewrite subject: the new one */
	struct rspamd_add *add;
	size_t nadd;
	struct rspamd_remove *remove;
	size_t nremove;
};

/* rspamd_reply_parse - rspamd's JSON reply (len bytes, no NUL needed)
 * into r (zeroed first); 0, or -1 with err (r then holds nothing to
 * free) */
int rspamd_reply_parse(const char *buf, size_t len, struct rspamd_reply *r,
		       char *err, size_t errlen);
void rspamd_reply_free(struct rspamd_reply *r);
/* rspamd_action_name - rspamd's word for an action */
const char *rspamd_action_name(enum rspamd_action a);
/* rspamd_header_clean - a header value safe to hand to the MTA
 * (malloc'ed): folding kept as LF + the white space that follows it,
 * any other CR, LF or control character a space, leading and trailing
 * white space dropped, at most max bytes (cut on a UTF-8 boundary) */
char *rspamd_header_clean(const char *v, size_t max);
/* rspamd_header_name_ok - a field name (RFC 5322 2.2), at most 76 */
int rspamd_header_name_ok(const char *name);

/* The stage (milter-rspamd.c). */
struct milter_msg;
struct milter_outcome;
struct milter_conf;
void milter_rspamd_init(void);
/* milter_rspamd_wanted - 1 if Rspamd is on (the stage reads the whole
 * message: milter-body.c keeps it) */
int milter_rspamd_wanted(const struct milter_conf *mc);
void milter_rspamd_eom(struct milter_msg *m);
void milter_rspamd_free(struct milter_msg *m);
/* milter_rspamd_edits - the stage's header edits, in the outcome's
 * order (milter-outcome.c) */
void milter_rspamd_edits(const struct milter_msg *m,
			 struct milter_outcome *o);
/* milter_rspamd_finish - the connections kept alive (at exit) */
void milter_rspamd_finish(void);

#endif
