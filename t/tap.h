/*++
 * NAME
 *	tap 3h
 * SUMMARY
 *	a small TAP producer for C unit tests
 * SYNOPSIS
 *	#include "tap.h"
 *
 *	plan(3);			   or plan_lazy() + done_testing()
 *	ok(x == 1, "x is one");
 *	is_int(got, want, "%s: status", c->name);
 *	is_str(got, want, "%s: text", c->name);
 *	return exit_status();
 * DESCRIPTION
 *	Failures print got/want as TAP diagnostics ("# got: ...").
 *	skip_all() prints "1..0 # SKIP reason" and exits 0.
 *	missing() skips n tests whose peer (a package, root) is missing,
 *	or bails out under ELEMTA_REQUIRE_PEERS=1, like the shell tests.
 *--*/
#ifndef ELEMTA_TAP_H
#define ELEMTA_TAP_H

#include "xalloc.h"

void plan(int n);
void plan_lazy(void);
int ok(int cond, const char *fmt, ...) ATTR_PRINTF(2, 3);
int is_int(long long got, long long want, const char *fmt, ...) ATTR_PRINTF(3, 4);
int is_str(const char *got, const char *want, const char *fmt, ...) ATTR_PRINTF(3, 4);
/* like_str - got contains want as a substring */
int like_str(const char *got, const char *want, const char *fmt, ...) ATTR_PRINTF(3, 4);
void diag(const char *fmt, ...) ATTR_PRINTF(1, 2);
void skip(int n, const char *fmt, ...) ATTR_PRINTF(2, 3);
void missing(int n, const char *fmt, ...) ATTR_PRINTF(2, 3);
void skip_all(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
void bail_out(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;
void done_testing(void);
int exit_status(void);
/* tap_rmtree - rm -rf a test's temporary directory (a diag if it fails) */
void tap_rmtree(const char *dir);
/* tap_put - write text to the file name under dir (bails out if it
 * cannot); the file's path, malloc'ed */
char *tap_put(const char *dir, const char *name, const char *text);
/* tap_popen - the standard output of the shell command cmd, malloc'ed
 * ("" if none); NULL if it could not run or did not exit 0 */
char *tap_popen(const char *cmd);

#endif
