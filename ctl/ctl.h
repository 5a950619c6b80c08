/*++
 * NAME
 *	ctl 3h
 * SUMMARY
 *	elemta-ctl: talking to a daemon's control socket, printing answers
 * SYNOPSIS
 *	#include "ctl.h"
 * DESCRIPTION
 *	ctl_talk() sends one request line to a control socket
 *	(lib/control.h) and collects the answer: its KEY<TAB>VALUE lines
 *	and its end line.  ctl_print() prints answers as text ("key: value"
 *	lines) or as one JSON object (ctl_json); a value that is a number
 *	is a JSON number, a key that repeats a JSON array.
 *
 *	Exit statuses (elemta-ctl(8)): CTL_EXIT_OK, CTL_EXIT_NO (not found,
 *	refused, failed), CTL_EXIT_USAGE (usage, unreachable).
 *--*/
#ifndef ELEMTA_CTL_H
#define ELEMTA_CTL_H

#include <stddef.h>
#include <stdio.h>

#define CTL_EXIT_OK	0
#define CTL_EXIT_NO	1
#define CTL_EXIT_USAGE	2

struct ctl_reply {
	char *name;		/* the daemon ("policyd"), or NULL */
	int reached;		/* 1: the daemon answered (even an error) */
	int status;		/* the exit status this answer means */
	char *kind;		/* "ok", "notfound", ..., "unreachable" */
	char *message;		/* end line's message, or why unreachable */
	size_t n;
	char **keys, **vals;	/* vals unescaped */
};

extern int ctl_json;		/* --json */

/* ctl_talk - one request to the socket at path; fills r (its name is
 * the caller's).  Returns r->status. */
int ctl_talk(const char *path, const char *line, struct ctl_reply *r);

/* ctl_reply_add - add a field (copied) to an answer built locally */
void ctl_reply_add(struct ctl_reply *r, const char *key, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));
/* ctl_reply_end - set the end of an answer built locally */
void ctl_reply_end(struct ctl_reply *r, int status, const char *kind,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* ctl_reply_get - the first value of key, or NULL */
const char *ctl_reply_get(const struct ctl_reply *r, const char *key);
void ctl_reply_free(struct ctl_reply *r);

/* ctl_print - print answers: one (named or not) as a flat object, or
 * several, each under its name */
void ctl_print(FILE *out, const struct ctl_reply *r, size_t n, int named);

/* ctl_worst - the exit status of several answers: the highest */
int ctl_worst(const struct ctl_reply *r, size_t n);

#endif
