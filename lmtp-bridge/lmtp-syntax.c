/*++
 * NAME
 *	lmtp-syntax 3
 * SUMMARY
 *	LMTP's words: replies and command arguments, no session
 * DESCRIPTION
 *	See lmtp-syntax.h (and lmtp-proto.h for the reply functions the
 *	client side shares).  Pure functions: no I/O, no state.
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp-proto.h"
#include "lmtp-syntax.h"
#include "xalloc.h"

/*
 * Replies
 */

/* lmtp_reply_wire_len - bytes lmtp_reply_format will write */
size_t
lmtp_reply_wire_len(const char *reply)
{
	size_t n = 0;
	const char *p;

	for (p = reply; *p; p++)
		n += *p == '\n' ? 2 : 1;
	return n + 2;
}

/* lmtp_reply_format - "250 a\n250 b" -> "250-a\r\n250 b\r\n" */
void
lmtp_reply_format(const char *reply, char *out)
{
	const char *line = reply, *nl;
	size_t len;

	for (;;) {
		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		memcpy(out, line, len);
		if (nl != NULL && len >= 4 && out[3] == ' ')
			out[3] = '-';
		out += len;
		*out++ = '\r';
		*out++ = '\n';
		if (nl == NULL)
			break;
		line = nl + 1;
	}
}

/* lmtp_enh_ok - true if p starts "C.N.N" (class c) followed by a space
 * or the end; *lenp gets its length */
static int
lmtp_enh_ok(const char *p, char c, size_t *lenp)
{
	const char *q = p;
	int part;

	if (*q != c || q[1] != '.')
		return 0;
	q += 2;
	for (part = 0; part < 2; part++) {
		if (!isdigit((unsigned char)*q))
			return 0;
		while (isdigit((unsigned char)*q))
			q++;
		if (part == 0 && *q++ != '.')
			return 0;
	}
	if (*q != '\0' && *q != ' ')
		return 0;
	*lenp = (size_t)(q - p);
	return 1;
}

/* lmtp_reply_fix - a clean, complete reply from a peer's text */
char *
lmtp_reply_fix(const char *text)
{
	char code[4], enh[16], *res = NULL, *tmp;
	const char *line = text, *end, *t;
	size_t len, elen, rlen = 0;

	if (text == NULL || strlen(text) < 3)
		return NULL;
	memcpy(code, text, 3);
	code[3] = '\0';
	if (code[0] < '2' || code[0] > '5' || !isdigit((unsigned char)code[1])
	    || !isdigit((unsigned char)code[2]))
		return NULL;
	snprintf(enh, sizeof(enh), "%c.0.0", code[0]);
	/* The enhanced code of the first line applies to every line. */
	t = text + 3;
	if ((*t == ' ' || *t == '-') && lmtp_enh_ok(t + 1, code[0], &elen)
	    && elen < sizeof(enh)) {
		memcpy(enh, t + 1, elen);
		enh[elen] = '\0';
	}
	for (;;) {
		end = line + strcspn(line, "\r\n");
		t = line;
		if ((size_t)(end - t) >= 3 && memcmp(t, code, 3) == 0) {
			t += 3;
			if (t < end && (*t == ' ' || *t == '-'))
				t++;
		}
		if (lmtp_enh_ok(t, code[0], &elen) && t + elen <= end) {
			t += elen;
			while (t < end && *t == ' ')
				t++;
		}
		len = (size_t)(end - t);
		tmp = x_realloc(res, rlen + 3 + 1 + strlen(enh) + 1 + len + 2);
		res = tmp;
		rlen += (size_t)sprintf(res + rlen, "%s%s %s%s", rlen ? "\n" : "",
				       code, enh, len ? " " : "");
		memcpy(res + rlen, t, len);
		for (; len > 0; len--, rlen++)
			if ((unsigned char)res[rlen] < 32 || res[rlen] == 127)
				res[rlen] = '?';
		res[rlen] = '\0';
		while (*end == '\r' || *end == '\n')
			end++;
		if (*end == '\0')
			break;
		line = end;
	}
	return res;
}

/* lmtp_xtext_decode - RFC 3461 xtext */
char *
lmtp_xtext_decode(const char *in)
{
	char *out = x_malloc(strlen(in) + 1), *o = out;
	unsigned v;
	int i;

	for (; *in; in++) {
		if ((unsigned char)*in < 33 || (unsigned char)*in > 126
		    || *in == '=') {
			x_free(&out);
			return NULL;
		}
		if (*in != '+') {
			*o++ = *in;
			continue;
		}
		for (v = 0, i = 1; i <= 2; i++) {
			char c = in[i];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned)(c - 'A' + 10);
			else {
				x_free(&out);
				return NULL;
			}
		}
		*o++ = (char)v;
		in += 2;
	}
	*o = '\0';
	return out;
}

/*
 * Command arguments
 */

/* lmtp_word - does cmd start with keyword kw (case-insensitive), followed
 * by a space or the end?  Returns the rest (spaces skipped) or NULL */
const char *
lmtp_word(const char *cmd, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(cmd, kw, n) != 0)
		return NULL;
	if (cmd[n] != '\0' && cmd[n] != ' ')
		return NULL;
	cmd += n;
	while (*cmd == ' ')
		cmd++;
	return cmd;
}

/* lmtp_path - parse "<addr>" (quotes and backslashes honoured) at *pp;
 * the address (malloc'ed) or NULL; *pp moves past the '>' */
char *
lmtp_path(const char **pp)
{
	const char *p = *pp, *start;
	int quoted = 0;
	char *addr;

	if (*p != '<')
		return NULL;
	start = ++p;
	for (; *p; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			break;
		else if (!quoted && (*p == ' ' || *p == '<'))
			return NULL;
	}
	if (*p != '>')
		return NULL;
	addr = x_strndup(start, (size_t)(p - start));
	/* Source routes (@a,@b:user@dom) are allowed and ignored. */
	if (addr[0] == '@' && strchr(addr, ':') != NULL) {
		char *t = x_strdup(strchr(addr, ':') + 1);

		x_free(&addr);
		addr = t;
	}
	*pp = p + 1;
	return addr;
}

/* lmtp_param - split the next "KEY[=VALUE]" at *pp; 0 at the end */
int
lmtp_param(const char **pp, char *key, size_t klen, const char **val,
	   size_t *vlen)
{
	const char *p = *pp, *eq, *end;
	size_t n;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	end = p + strcspn(p, " ");
	eq = memchr(p, '=', (size_t)(end - p));
	n = (size_t)((eq ? eq : end) - p);
	if (n >= klen)
		n = klen - 1;
	memcpy(key, p, n);
	key[n] = '\0';
	*val = eq ? eq + 1 : NULL;
	*vlen = eq ? (size_t)(end - eq - 1) : 0;
	*pp = end;
	return 1;
}

/* lmtp_printable_ok - no control character (a bare CR, ESC, DEL...):
 * the value reaches a header, a log line or a backend's command */
int
lmtp_printable_ok(const char *a)
{
	for (; *a; a++)
		if ((unsigned char)*a < 32 || *a == 127)
			return 0;
	return 1;
}

/* lmtp_printable - control characters become '?', in place (what
 * Postfix's smtpd does to XFORWARD's HELO and IDENT) */
void
lmtp_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			*s = '?';
}

/* lmtp_addr_ok - a usable recipient: non-empty, with a printable
 * local part and domain */
int
lmtp_addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');

	if (*a == '\0' || at == NULL || at == a || at[1] == '\0')
		return 0;
	return lmtp_printable_ok(a);
}

/* lmtp_hex_ok - an upper-case hex digit, as xtext wants */
static int
lmtp_hex_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* lmtp_xtext_ok - RFC 3461 xtext of vlen bytes (non-empty) */
int
lmtp_xtext_ok(const char *v, size_t vlen)
{
	size_t i;

	if (vlen == 0)
		return 0;
	for (i = 0; i < vlen; i++) {
		if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126
		    || v[i] == '=')
			return 0;
		if (v[i] == '+') {
			if (i + 2 >= vlen || !lmtp_hex_ok(v[i + 1])
			    || !lmtp_hex_ok(v[i + 2]))
				return 0;
			i += 2;
		}
	}
	return 1;
}

/* lmtp_notify_ok - NEVER, or a list of SUCCESS, FAILURE, DELAY */
int
lmtp_notify_ok(const char *v, size_t vlen)
{
	static const char *const kw[] = { "SUCCESS", "FAILURE", "DELAY" };
	const char *end = v + vlen, *comma;
	size_t n, k;

	if (vlen == 5 && strncasecmp(v, "NEVER", 5) == 0)
		return 1;
	for (;;) {
		comma = memchr(v, ',', (size_t)(end - v));
		n = (size_t)((comma ? comma : end) - v);
		for (k = 0; k < 3; k++)
			if (n == strlen(kw[k]) && strncasecmp(v, kw[k], n) == 0)
				break;
		if (k == 3)
			return 0;
		if (comma == NULL)
			return 1;
		v = comma + 1;
	}
}

/* lmtp_orcpt_ok - addr-type ";" xtext (RFC 3461 section 4.2) */
int
lmtp_orcpt_ok(const char *v, size_t vlen)
{
	size_t i;

	for (i = 0; i < vlen && v[i] != ';'; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-')
			return 0;
	return i > 0 && i < vlen && lmtp_xtext_ok(v + i + 1, vlen - i - 1);
}
