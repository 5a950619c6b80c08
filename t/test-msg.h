/*++
 * NAME
 *	test-msg 3h
 * SUMMARY
 *	a message's header list, as the milter keeps it, for unit tests
 * SYNOPSIS
 *	#include "test-msg.h"
 *
 *	struct test_msg m = { 0 };
 *	test_msg_line(&m, "From: a@example.test");
 *	test_msg_free(&m);
 * DESCRIPTION
 *	The DKIM, ARC and sealing unit tests build header lists the way
 *	libmilter hands them to the milter: a name, and a value that keeps
 *	its leading space, folded lines joined with LF.
 *
 *	test_msg_insert() copies a header in at index at (test_msg_add at
 *	the end); test_msg_line() adds a "Name: value" line, split at its
 *	first colon; test_msg_lines() a NULL-terminated list of them.
 *	test_msg_parse() reads a whole CRLF message: the headers, and
 *	body/blen pointing into text, which it changes (-1: no empty line
 *	after the headers, m emptied).  test_msg_free() frees every header
 *	and leaves m empty, ready to be filled again.
 *--*/
#ifndef ELEMTA_TEST_MSG_H
#define ELEMTA_TEST_MSG_H

#include <stddef.h>

#include "milter.h"

struct test_msg {
	struct milter_header *h;
	size_t n;
	size_t a;		/* allocated */
	char *body;		/* test_msg_parse: into its text */
	size_t blen;
};

void test_msg_insert(struct test_msg *m, size_t at, const char *name,
		     const char *value);
void test_msg_add(struct test_msg *m, const char *name, const char *value);
void test_msg_line(struct test_msg *m, const char *line);
void test_msg_lines(struct test_msg *m, const char *const *lines);
int test_msg_parse(char *text, struct test_msg *m);
void test_msg_free(struct test_msg *m);

#endif
