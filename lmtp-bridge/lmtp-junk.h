/*++
 * NAME
 *	lmtp-junk 3h
 * SUMMARY
 *	spam to Junk: the verdict header, and the Junk address
 * SYNOPSIS
 *	#include "lmtp-junk.h"
 *
 *	i = lmtp_junk_match(rules, nrules, head, len);
 *	addr = lmtp_junk_address("alice+x@example.test", '+', "Junk");
 * DESCRIPTION
 *	A pure module (bytes in, answers out) so that it can be tested and
 *	fuzzed.
 *
 *	lmtp_junk_match looks at the header section of a message (head:
 *	its first len bytes, CRLF or LF line ends; what follows the empty
 *	line is ignored) for the rules, each "Name: value".  A rule
 *	matches when the FIRST field of that name (the topmost: the one
 *	the gateway added last) has a value that starts with the rule's
 *	value, case-insensitively, after unfolding and leading white
 *	space, followed by the end, white space, ';' or ','.  So
 *	"X-Spam: Yes" matches "X-Spam: yes" and "X-Spam: Yes, score=7",
 *	not "X-Spam: Yesterday".  Returns the index of the first rule
 *	that matches, or -1.
 *
 *	lmtp_junk_address returns (malloc'ed) the address with its detail
 *	set to folder: "alice@x" and "alice+work@x" both give
 *	"alice+Junk@x" -- what Dovecot's lmtp_save_to_detail_mailbox
 *	delivers into the folder Junk.
 *--*/
#ifndef ELEMTA_LMTP_JUNK_H
#define ELEMTA_LMTP_JUNK_H

#include <stddef.h>

int lmtp_junk_match(char *const *rules, size_t nrules, const char *head,
		    size_t len);
char *lmtp_junk_address(const char *addr, char delim, const char *folder);

#endif
