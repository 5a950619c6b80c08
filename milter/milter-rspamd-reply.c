/*++
 * NAME
 *	milter-rspamd-reply 3
 * SUMMARY
 *	rspamd's /checkv2 reply: JSON in, struct rspamd_reply out
 * DESCRIPTION
 *	See milter-rspamd.h.  A pure module (no I/O, no logging) on
 *	json-c, so that it can be unit-tested and fuzzed: whatever rspamd
 *	(or something in its place) answers, the result is either an error
 *	or a reply whose strings are safe for a header, a reply text or a
 *	log line.  The nesting depth is bounded (RSPAMD_JSON_DEPTH), and so
 *	are the number of header edits kept (RSPAMD_MAX_EDITS) and the
 *	length of the symbol list.
 *--*/
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-rspamd.h"
#include "xalloc.h"

#define RSPAMD_JSON_DEPTH	16	/* rspamd's replies nest 4 deep */
#define RSPAMD_VALUE_MAX	4096	/* a header value from the reply */
#define RSPAMD_TEXT_MAX		256	/* the SMTP reply text */

static const char *const rspamd_actions[] = {
	[RSPAMD_NO_ACTION] = "no action",
	[RSPAMD_GREYLIST] = "greylist",
	[RSPAMD_ADD_HEADER] = "add header",
	[RSPAMD_REWRITE_SUBJECT] = "rewrite subject",
	[RSPAMD_SOFT_REJECT] = "soft reject",
	[RSPAMD_REJECT] = "reject",
	[RSPAMD_DISCARD] = "discard",
	[RSPAMD_QUARANTINE] = "quarantine",
};
#define RSPAMD_NACTIONS (sizeof(rspamd_actions) / sizeof(rspamd_actions[0]))

/* rspamd_action_name - rspamd's word for an action */
const char *
rspamd_action_name(enum rspamd_action a)
{
	return (size_t)a < RSPAMD_NACTIONS ? rspamd_actions[a] : "no action";
}

/* rspamd_header_name_ok - printable US-ASCII but the colon, 1-76 */
int
rspamd_header_name_ok(const char *name)
{
	const char *p;

	for (p = name; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == ':')
			return 0;
	return p > name && p - name <= 76;
}

/* rspamd_utf8_cut - where to cut s (longer than len) at most len bytes
 * in without cutting a UTF-8 sequence short */
static size_t
rspamd_utf8_cut(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/* rspamd_header_clean - see milter-rspamd.h */
char *
rspamd_header_clean(const char *v, size_t max)
{
	size_t n = strlen(v), o = 0, i;
	char *out = x_malloc(n + 1);
	int text = 0;			/* the current line has text */
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)v[i];
		if (c == '\r' && v[i + 1] == '\n')
			continue;
		if (c == '\n' && (v[i + 1] == ' ' || v[i + 1] == '\t')
		    && text) {
			out[o++] = '\n';	/* folding, kept */
			text = 0;
			continue;
		}
		if (c < ' ' && c != '\t')
			c = ' ';
		else if (c == 0x7F)
			c = ' ';
		if (c != ' ' && c != '\t')
			text = 1;
		if (o == 0 && (c == ' ' || c == '\t'))
			continue;		/* leading white space */
		out[o++] = (char)c;
	}
	if (o > max)
		o = rspamd_utf8_cut(out, max);
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'
			 || out[o - 1] == '\n'))
		o--;
	out[o] = '\0';
	return out;
}

/* rspamd_text_clean - a reply text: printable US-ASCII, no '%' (the
 * milter library's escape), at most RSPAMD_TEXT_MAX bytes */
static char *
rspamd_text_clean(const char *v)
{
	size_t n = strlen(v), i;
	char *out;

	if (n > RSPAMD_TEXT_MAX)
		n = RSPAMD_TEXT_MAX;
	out = x_malloc(n + 1);
	for (i = 0; i < n; i++)
		out[i] = v[i] >= ' ' && v[i] <= '~' && v[i] != '%' ? v[i]
								  : '?';
	out[n] = '\0';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	return out;
}

/* rspamd_get - member key of object o of type t, or NULL */
static json_object *
rspamd_get(json_object *o, const char *key, json_type t)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v)
	    || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* rspamd_number - a number member (int or double), 0 if absent */
static double
rspamd_number(json_object *o, const char *key)
{
	json_object *v;

	if ((v = rspamd_get(o, key, json_type_double)) == NULL
	    && (v = rspamd_get(o, key, json_type_int)) == NULL)
		return 0;
	return json_object_get_double(v);
}

/* rspamd_symbols - "NAME(score) ..." for the log: names reduced to
 * [A-Za-z0-9_.-], the whole at most RSPAMD_SYMBOLS_MAX bytes */
static char *
rspamd_symbols(json_object *syms)
{
	char *out = x_malloc(RSPAMD_SYMBOLS_MAX + 1), item[128];
	size_t o = 0, k, len;
	const char *p;

	out[0] = '\0';
	if (syms == NULL)
		return out;
	json_object_object_foreach(syms, key, val) {
		for (k = 0, p = key; *p != '\0' && k < 64; p++, k++)
			item[k] = (*p >= 'A' && *p <= 'Z')
				  || (*p >= 'a' && *p <= 'z')
				  || (*p >= '0' && *p <= '9') || *p == '_'
				  || *p == '.' || *p == '-' ? *p : '?';
		len = k + (size_t)snprintf(item + k, sizeof(item) - k,
					   "(%.2f)",
					   json_object_is_type(val,
						json_type_object)
					   ? rspamd_number(val, "score") : 0.0);
		if (len >= sizeof(item))
			len = sizeof(item) - 1;
		if (o + len + 1 + 3 > RSPAMD_SYMBOLS_MAX) {
			memcpy(out + o, o > 0 ? " ..." : "...", o > 0 ? 4 : 3);
			o += o > 0 ? 4 : 3;
			break;
		}
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, item, len);
		o += len;
	}
	out[o] = '\0';
	return out;
}

/* rspamd_add_one - one add_headers value (a string, or an object with
 * value and order) under name */
static void
rspamd_add_one(struct rspamd_reply *r, const char *name, json_object *v)
{
	json_object *val, *ord;
	struct rspamd_add *a;
	int order = -1;

	if (json_object_is_type(v, json_type_object)) {
		if ((val = rspamd_get(v, "value", json_type_string)) == NULL)
			return;
		if ((ord = rspamd_get(v, "order", json_type_int)) != NULL
		    && json_object_get_int64(ord) >= 0
		    && json_object_get_int64(ord) <= 1000)
			order = (int)json_object_get_int64(ord);
	} else if (json_object_is_type(v, json_type_string)) {
		val = v;
	} else {
		return;
	}
	if (r->nadd >= RSPAMD_MAX_EDITS)
		return;
	r->add = x_realloc(r->add, (r->nadd + 1) * sizeof(*r->add));
	a = &r->add[r->nadd++];
	a->name = x_strdup(name);
	a->value = rspamd_header_clean(json_object_get_string(val),
				       RSPAMD_VALUE_MAX);
	a->order = order;
}

/* rspamd_milter - milter.add_headers and milter.remove_headers */
static void
rspamd_milter(struct rspamd_reply *r, json_object *mil)
{
	json_object *add, *rm;
	struct rspamd_remove *x;
	size_t i;

	if ((add = rspamd_get(mil, "add_headers", json_type_object)) != NULL) {
		json_object_object_foreach(add, name, v) {
			if (!rspamd_header_name_ok(name))
				continue;
			if (!json_object_is_type(v, json_type_array)) {
				rspamd_add_one(r, name, v);
				continue;
			}
			for (i = 0; i < json_object_array_length(v); i++)
				rspamd_add_one(r, name,
					json_object_array_get_idx(v, i));
		}
	}
	if ((rm = rspamd_get(mil, "remove_headers", json_type_object)) == NULL)
		return;
	json_object_object_foreach(rm, name, v) {
		if (!rspamd_header_name_ok(name)
		    || !json_object_is_type(v, json_type_int)
		    || r->nremove >= RSPAMD_MAX_EDITS)
			continue;
		r->remove = x_realloc(r->remove,
				      (r->nremove + 1) * sizeof(*r->remove));
		x = &r->remove[r->nremove++];
		x->name = x_strdup(name);
		x->index = (long)json_object_get_int64(v);
		if (x->index > 1000 || x->index < -1000)
			x->index = 0;
	}
}

/* rspamd_reply_fill - the members of the top-level object; 0 or -1 */
static int
rspamd_reply_fill(struct rspamd_reply *r, json_object *top, char *err,
		  size_t errlen)
{
	json_object *v, *msgs;
	const char *act;
	char *e;
	size_t i;

	if ((v = rspamd_get(top, "action", json_type_string)) == NULL) {
		if ((v = rspamd_get(top, "error", json_type_string)) != NULL) {
			e = rspamd_text_clean(json_object_get_string(v));
			x_err(err, errlen, "rspamd error: %s", e);
			free(e);
		} else {
			x_err(err, errlen, "no action in the reply");
		}
		return -1;
	}
	act = json_object_get_string(v);
	for (i = 0; i < RSPAMD_NACTIONS; i++)
		if (strcmp(act, rspamd_actions[i]) == 0)
			break;
	if (i == RSPAMD_NACTIONS) {
		e = rspamd_text_clean(act);
		x_err(err, errlen, "unknown action '%.40s'", e);
		free(e);
		return -1;
	}
	r->action = (enum rspamd_action)i;
	r->score = rspamd_number(top, "score");
	r->required_score = rspamd_number(top, "required_score");
	if ((v = rspamd_get(top, "is_skipped", json_type_boolean)) != NULL)
		r->skipped = json_object_get_boolean(v);
	r->symbols = rspamd_symbols(rspamd_get(top, "symbols",
					       json_type_object));
	if ((msgs = rspamd_get(top, "messages", json_type_object)) != NULL
	    && (v = rspamd_get(msgs, "smtp_message", json_type_string))
	       != NULL)
		r->smtp_message = rspamd_text_clean(json_object_get_string(v));
	if ((v = rspamd_get(top, "subject", json_type_string)) != NULL)
		r->subject = rspamd_header_clean(json_object_get_string(v),
						 RSPAMD_VALUE_MAX);
	if ((v = rspamd_get(top, "milter", json_type_object)) != NULL)
		rspamd_milter(r, v);
	return 0;
}

/* rspamd_reply_parse - see milter-rspamd.h */
int
rspamd_reply_parse(const char *buf, size_t len, struct rspamd_reply *r,
		   char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *top;
	size_t end;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len == 0) {
		x_err(err, errlen, "empty reply");
		return -1;
	}
	if (len > 0x7FFFFFFF) {
		x_err(err, errlen, "reply too large");
		return -1;
	}
	tok = json_tokener_new_ex(RSPAMD_JSON_DEPTH);
	if (tok == NULL) {
		x_err(err, errlen, "out of memory");
		return -1;
	}
	top = json_tokener_parse_ex(tok, buf, (int)len);
	if (top == NULL) {
		x_err(err, errlen, "not JSON: %s",
		      json_tokener_get_error(tok) == json_tokener_continue
		      ? "truncated"
		      : json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	/* nothing but white space after the object */
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (strchr(" \t\r\n", buf[end]) == NULL || buf[end] == '\0') {
			x_err(err, errlen, "garbage after the JSON reply");
			goto out;
		}
	if (!json_object_is_type(top, json_type_object)) {
		x_err(err, errlen, "the reply is not a JSON object");
		goto out;
	}
	if ((rc = rspamd_reply_fill(r, top, err, errlen)) < 0)
		rspamd_reply_free(r);
out:
	json_object_put(top);
	json_tokener_free(tok);
	return rc;
}

/* rspamd_reply_free - what rspamd_reply_parse allocated */
void
rspamd_reply_free(struct rspamd_reply *r)
{
	size_t i;

	x_free(&r->symbols);
	x_free(&r->smtp_message);
	x_free(&r->subject);
	for (i = 0; i < r->nadd; i++) {
		free(r->add[i].name);
		free(r->add[i].value);
	}
	x_free(&r->add);
	for (i = 0; i < r->nremove; i++)
		free(r->remove[i].name);
	x_free(&r->remove);
	r->nadd = r->nremove = 0;
}
