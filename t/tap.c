/*++
 * NAME
 *	tap 3
 * SUMMARY
 *	a small TAP producer for C unit tests
 * DESCRIPTION
 *	See tap.h.  Output is flushed after each line so that a crash
 *	still shows which case was running.
 *--*/
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int tap_planned = -1;
static int tap_run;
static int tap_failed;

/* plan - announce the number of tests */
void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* plan_lazy - the plan comes at done_testing() */
void
plan_lazy(void)
{
	tap_planned = -1;
}

static void
tap_vresult(int cond, const char *fmt, va_list ap)
{
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

/* ok - one test result */
int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	return cond;
}

/* is_int - compare integers, print got/want on failure */
int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;

	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  got: %lld\n  want: %lld", got, want);
	return cond;
}

/* is_str - compare strings (NULL allowed), print got/want on failure */
int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond = (got == NULL || want == NULL) ? got == want
						 : strcmp(got, want) == 0;

	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  got: %s%s%s\n  want: %s%s%s", got ? "'" : "",
		     got ? got : "(null)", got ? "'" : "", want ? "'" : "",
		     want ? want : "(null)", want ? "'" : "");
	return cond;
}

/* like_str - got contains want */
int
like_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond = got != NULL && want != NULL && strstr(got, want) != NULL;

	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  got: '%s'\n  want substring: '%s'",
		     got ? got : "(null)", want ? want : "(null)");
	return cond;
}

/* diag - a diagnostic; each line is prefixed with "# " */
void
diag(const char *fmt, ...)
{
	va_list ap;
	char *text, *line, *save = NULL;

	va_start(ap, fmt);
	text = x_vasprintf(fmt, ap);
	va_end(ap);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	free(text);
	fflush(stdout);
}

/* skip - report n tests as skipped */
void
skip(int n, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	why = x_vasprintf(fmt, ap);
	va_end(ap);
	while (n-- > 0) {
		tap_run++;
		printf("ok %d # SKIP %s\n", tap_run, why);
	}
	free(why);
	fflush(stdout);
}

/* missing - skip n tests for a missing peer; bail out if peers are required */
void
missing(int n, const char *fmt, ...)
{
	va_list ap;
	const char *req = getenv("ELEMTA_REQUIRE_PEERS");
	char *why;

	va_start(ap, fmt);
	why = x_vasprintf(fmt, ap);
	va_end(ap);
	if (req != NULL && strcmp(req, "1") == 0)
		bail_out("%s (ELEMTA_REQUIRE_PEERS=1)", why);
	skip(n, "%s", why);
	free(why);
}

/* skip_all - skip the whole test file */
void
skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

/* bail_out - stop the whole run */
void
bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}

/* done_testing - print the plan if it was lazy */
void
done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_run);
		tap_planned = tap_run;
	}
	fflush(stdout);
}

/* exit_status - 0 when every planned test ran and passed */
int
exit_status(void)
{
	if (tap_planned >= 0 && tap_planned != tap_run) {
		diag("planned %d tests but ran %d", tap_planned, tap_run);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

/* tap_rmtree - remove a test's temporary directory, saying so if not */
void
tap_rmtree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

/* tap_put - write text to the file name under dir; its path, malloc'ed */
char *
tap_put(const char *dir, const char *name, const char *text)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = malloc(len);
	FILE *fp;

	if (path == NULL)
		bail_out("out of memory");
	snprintf(path, len, "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL)
		bail_out("cannot write %s", path);
	fputs(text, fp);
	if (fclose(fp) != 0)
		bail_out("cannot write %s", path);
	return path;
}

/* tap_popen - the standard output of cmd; NULL if it failed */
char *
tap_popen(const char *cmd)
{
	char *out = calloc(1, 1), *more, buf[4096];
	size_t len = 0, n;
	FILE *f = popen(cmd, "r");

	if (out == NULL)
		bail_out("out of memory");
	if (f == NULL) {
		free(out);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if ((more = realloc(out, len + n + 1)) == NULL)
			bail_out("out of memory");
		out = more;
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	if (pclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
