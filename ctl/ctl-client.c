/*++
 * NAME
 *	ctl-client 3
 * SUMMARY
 *	elemta-ctl: one request to a control socket, answers printed
 * DESCRIPTION
 *	See ctl.h.  Unreachable (no socket file, nobody listening, no
 *	answer in CTL_TIMEOUT seconds) is one status, 2; a socket that
 *	refuses us (its mode: EACCES, or the daemon: ".ERR refused") is
 *	another, 1, since trying again will not help.
 *--*/
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "xalloc.h"

#define CTL_TIMEOUT	60	/* a reload may load many keys */

int ctl_json;

/* ctl_unescape - a value back from \xHH */
static char *
ctl_unescape(const char *s)
{
	char *res = x_malloc(strlen(s) + 1), *q = res;
	unsigned v;

	while (*s) {
		if (s[0] == '\\' && s[1] == 'x' && sscanf(s + 2, "%2x", &v) == 1
		    && s[2] && s[3]) {
			*q++ = (char)v;
			s += 4;
		} else {
			*q++ = *s++;
		}
	}
	*q = '\0';
	return res;
}

/* ctl_reply_addv - one field */
static void
ctl_reply_addv(struct ctl_reply *r, const char *key, char *val)
{
	r->keys = x_realloc(r->keys, (r->n + 1) * sizeof(*r->keys));
	r->vals = x_realloc(r->vals, (r->n + 1) * sizeof(*r->vals));
	r->keys[r->n] = x_strdup(key);
	r->vals[r->n] = val;
	r->n++;
}

/* ctl_reply_add - a field of an answer built here */
void
ctl_reply_add(struct ctl_reply *r, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_reply_addv(r, key, x_vasprintf(fmt, ap));
	va_end(ap);
}

/* ctl_reply_end - the end of an answer built here */
void
ctl_reply_end(struct ctl_reply *r, int status, const char *kind,
	      const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	free(r->kind);
	r->kind = x_strdup(kind);
	free(r->message);
	va_start(ap, fmt);
	r->message = x_vasprintf(fmt, ap);
	va_end(ap);
}

/* ctl_reply_get - the first value of key */
const char *
ctl_reply_get(const struct ctl_reply *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->keys[i], key) == 0)
			return r->vals[i];
	return NULL;
}

/* ctl_reply_free - release an answer (not its name) */
void
ctl_reply_free(struct ctl_reply *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->keys[i]);
		free(r->vals[i]);
	}
	x_free(&r->keys);
	x_free(&r->vals);
	x_free(&r->kind);
	x_free(&r->message);
	r->n = 0;
}

/* ctl_end_line - parse ".OK [msg]" or ".ERR KIND msg" into r */
static void
ctl_end_line(struct ctl_reply *r, const char *line)
{
	const char *sp;
	char *msg, *kind;
	int status;

	r->reached = 1;
	if (strncmp(line, ".OK", 3) == 0) {
		msg = ctl_unescape(line[3] == ' ' ? line + 4 : line + 3);
		ctl_reply_end(r, CTL_EXIT_OK, "ok", "%s", msg);
		free(msg);
		return;
	}
	line += strncmp(line, ".ERR ", 5) == 0 ? 5 : 0;
	sp = strchr(line, ' ');
	kind = sp ? x_strndup(line, (size_t)(sp - line)) : x_strdup(line);
	msg = ctl_unescape(sp ? sp + 1 : "");
	status = strcmp(kind, "usage") == 0 ? CTL_EXIT_USAGE : CTL_EXIT_NO;
	ctl_reply_end(r, status, kind, "%s", msg);
	free(kind);
	free(msg);
}

/* ctl_read_answer - the lines up to the end line; 0, or -1 */
static int
ctl_read_answer(FILE *fp, struct ctl_reply *r)
{
	char *line = NULL, *tab;
	size_t cap = 0;
	ssize_t len;
	int rc = -1;

	while ((len = getline(&line, &cap, fp)) > 0) {
		while (len > 0 && (line[len - 1] == '\n'
				   || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[0] == '.') {
			ctl_end_line(r, line);
			rc = 0;
			break;
		}
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		ctl_reply_addv(r, line, ctl_unescape(tab + 1));
	}
	free(line);
	return rc;
}

/* ctl_talk - connect, send the line, read the answer */
int
ctl_talk(const char *path, const char *line, struct ctl_reply *r)
{
	struct sockaddr_un sun;
	struct timeval tv = { CTL_TIMEOUT, 0 };
	FILE *fp;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable",
			      "%s: path too long", path);
		return r->status;
	}
	strcpy(sun.sun_path, path);
	(void)signal(SIGPIPE, SIG_IGN);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable", "socket: %s",
			      strerror(errno));
		return r->status;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(fd);
		if (e == EACCES || e == EPERM)
			ctl_reply_end(r, CTL_EXIT_NO, "refused", "%s: %s", path,
				      strerror(e));
		else
			ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable",
				      "%s: %s", path, strerror(e));
		return r->status;
	}
	if ((fp = fdopen(fd, "r+")) == NULL) {
		close(fd);
		ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable", "fdopen: %s",
			      strerror(errno));
		return r->status;
	}
	/* A daemon that refuses us answers before it reads: the write may
	 * fail (EPIPE; SIGPIPE is ignored), the answer is there to read. */
	(void)fprintf(fp, "%s\n", line);
	(void)fflush(fp);
	if (ctl_read_answer(fp, r) < 0 && !r->reached)
		ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable",
			      "%s: no answer", path);
	fclose(fp);
	return r->status;
}

/* ctl_is_number - whether a value prints as a JSON number */
static int
ctl_is_number(const char *s)
{
	char *end;

	if (*s == '\0' || strchr("0123456789-", *s) == NULL
	    || strcmp(s, "-") == 0)
		return 0;
	(void)strtod(s, &end);
	return *end == '\0' && strpbrk(s, "xXnN") == NULL;
}

/* ctl_json_string - a JSON string */
static void
ctl_json_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* ctl_json_value - a number or a string */
static void
ctl_json_value(FILE *out, const char *s)
{
	if (ctl_is_number(s))
		fputs(s, out);
	else
		ctl_json_string(out, s);
}

/* ctl_json_object - one answer as an object; repeated keys as arrays */
static void
ctl_json_object(FILE *out, const struct ctl_reply *r, const char *indent)
{
	size_t i, j, k;
	int first;

	fprintf(out, "{\n%s  \"status\": ", indent);
	ctl_json_string(out, r->kind ? r->kind : "ok");
	if (r->name != NULL)
		fprintf(out, ",\n%s  \"up\": %s", indent,
			r->reached ? "true" : "false");
	if (r->message != NULL && *r->message) {
		fprintf(out, ",\n%s  \"message\": ", indent);
		ctl_json_string(out, r->message);
	}
	for (i = 0; i < r->n; i++) {
		for (j = 0; j < i && strcmp(r->keys[j], r->keys[i]) != 0; j++)
			;
		if (j < i)
			continue;	/* printed with its first */
		fprintf(out, ",\n%s  ", indent);
		ctl_json_string(out, r->keys[i]);
		fputs(": ", out);
		for (k = i + 1; k < r->n && strcmp(r->keys[k], r->keys[i]); k++)
			;
		if (k == r->n) {
			ctl_json_value(out, r->vals[i]);
			continue;
		}
		fputc('[', out);
		for (first = 1, k = i; k < r->n; k++) {
			if (strcmp(r->keys[k], r->keys[i]) != 0)
				continue;
			fputs(first ? "" : ", ", out);
			ctl_json_value(out, r->vals[k]);
			first = 0;
		}
		fputc(']', out);
	}
	fprintf(out, "\n%s}", indent);
}

/* ctl_text - one answer as text, fields indented under a name */
static void
ctl_text(FILE *out, const struct ctl_reply *r, int named)
{
	const char *pre = named ? "  " : "";
	size_t i;

	if (named) {
		if (r->status == CTL_EXIT_OK)
			fprintf(out, "%s: up\n", r->name);
		else if (!r->reached)
			fprintf(out, "%s: down (%s)\n", r->name, r->message);
		else
			fprintf(out, "%s: %s: %s\n", r->name, r->kind,
				r->message);
	} else if (r->status != CTL_EXIT_OK) {
		fprintf(stderr, "elemta-ctl: %s%s%s\n",
			r->reached ? r->kind : "", r->reached ? ": " : "",
			r->message ? r->message : "");
	}
	for (i = 0; i < r->n; i++)
		fprintf(out, "%s%s: %s\n", pre, r->keys[i], r->vals[i]);
	if (named && r->status == CTL_EXIT_OK && r->message && *r->message)
		fprintf(out, "%s%s\n", pre, r->message);
	else if (!named && r->status == CTL_EXIT_OK && r->message
		 && *r->message)
		fprintf(out, "%s\n", r->message);
}

/* ctl_print - text or JSON */
void
ctl_print(FILE *out, const struct ctl_reply *r, size_t n, int named)
{
	size_t i;

	if (!ctl_json) {
		for (i = 0; i < n; i++)
			ctl_text(out, &r[i], named);
		return;
	}
	if (!named) {
		ctl_json_object(out, &r[0], "");
		fputc('\n', out);
		return;
	}
	fputs("{", out);
	for (i = 0; i < n; i++) {
		fprintf(out, "%s\n  ", i ? "," : "");
		ctl_json_string(out, r[i].name);
		fputs(": ", out);
		ctl_json_object(out, &r[i], "  ");
	}
	fputs("\n}\n", out);
}

/* ctl_worst - the highest exit status */
int
ctl_worst(const struct ctl_reply *r, size_t n)
{
	size_t i;
	int worst = CTL_EXIT_OK;

	for (i = 0; i < n; i++)
		if (r[i].status > worst)
			worst = r[i].status;
	return worst;
}
