/*++
 * NAME
 *	test-msg 3
 * SUMMARY
 *	a message's header list, as the milter keeps it, for unit tests
 * DESCRIPTION
 *	See test-msg.h.  Shared by t/0406, t/0424 and t/0426.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "test-msg.h"
#include "xalloc.h"

/* test_msg_insert - a copy of the header at index at */
void
test_msg_insert(struct test_msg *m, size_t at, const char *name,
		const char *value)
{
	if (m->n == m->a) {
		m->a = m->a ? 2 * m->a : 16;
		m->h = x_realloc(m->h, m->a * sizeof(*m->h));
	}
	memmove(&m->h[at + 1], &m->h[at], (m->n - at) * sizeof(m->h[0]));
	m->h[at].name = x_strdup(name);
	m->h[at].value = x_strdup(value);
	m->n++;
}

/* test_msg_add - a copy of the header, last */
void
test_msg_add(struct test_msg *m, const char *name, const char *value)
{
	test_msg_insert(m, m->n, name, value);
}

/* test_msg_line - add "Name: value" (the value keeps its leading
 * space, as the milter receives it) */
void
test_msg_line(struct test_msg *m, const char *line)
{
	const char *colon = strchr(line, ':');
	char *name = x_strndup(line, (size_t)(colon - line));

	test_msg_add(m, name, colon + 1);
	free(name);
}

/* test_msg_lines - add a NULL-terminated list of lines */
void
test_msg_lines(struct test_msg *m, const char *const *lines)
{
	for (; *lines != NULL; lines++)
		test_msg_line(m, *lines);
}

/* test_msg_parse - headers (values with LF folding, as libmilter gives
 * them) and the body of a CRLF message; text is changed */
int
test_msg_parse(char *text, struct test_msg *m)
{
	char *p = text, *e, *v, *o, *next;

	memset(m, 0, sizeof(*m));
	while (*p != '\0' && !(p[0] == '\r' && p[1] == '\n')) {
		if ((e = strchr(p, ':')) == NULL)
			goto bad;
		*e++ = '\0';
		for (v = e; *e != '\0'; e++)
			if (e[0] == '\r' && e[1] == '\n' && e[2] != ' '
			    && e[2] != '\t')
				break;
		next = *e != '\0' ? e + 2 : e;
		*e = '\0';
		for (o = e = v; *e != '\0'; e++)	/* CRLF -> LF */
			if (!(e[0] == '\r' && e[1] == '\n'))
				*o++ = *e;
		*o = '\0';
		test_msg_add(m, p, v);
		p = next;
	}
	if (*p == '\0')
		goto bad;
	m->body = p + 2;
	m->blen = strlen(m->body);
	return 0;
bad:
	test_msg_free(m);
	return -1;
}

/* test_msg_free - every header; m is left empty */
void
test_msg_free(struct test_msg *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->h[i].name);
		free(m->h[i].value);
	}
	free(m->h);
	memset(m, 0, sizeof(*m));
}
