/*++
 * NAME
 *	0480-milter-rspamd-reply 1
 * SUMMARY
 *	unit tests for rspamd_reply_parse() (milter/milter-rspamd-reply.c)
 * DESCRIPTION
 *	A table of rspamd /checkv2 replies (as rspamd 3.4 writes them, and
 *	variations: every action, add_headers as a string, an object or an
 *	array, remove_headers, a rewritten subject, messages.smtp_message)
 *	and of things that are not replies (empty, not JSON, truncated,
 *	an array, no action, an unknown action, rspamd's own error object,
 *	garbage after the object, nesting beyond the bound).  Each is
 *	rendered as one line and compared whole with the expected one.
 *	Values that would reach a header or a reply text are checked for
 *	what must never pass: CR, LF that is not folding, control
 *	characters, '%', invalid field names.  Then rspamd_header_clean()'s
 *	cut on a UTF-8 boundary.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-rspamd.h"
#include "tap.h"
#include "xalloc.h"

struct pcase {
	const char *name;
	const char *json;
	const char *want;
};

static const struct pcase pcases[] = {
	{ "rspamd 3.4's reply: add header, symbols, milter headers",
	  "{\"is_skipped\":false,\"score\":6.5,\"required_score\":15.0,"
	  "\"action\":\"add header\",\"symbols\":{\"GTUBE_ADD\":{\"name\":"
	  "\"GTUBE_ADD\",\"score\":6.0,\"metric_score\":6.0},\"R_SPF_ALLOW\":"
	  "{\"name\":\"R_SPF_ALLOW\",\"score\":-0.2,\"options\":[\"+ip4\"]}},"
	  "\"messages\":{},\"message-id\":\"x@y\",\"time_real\":0.1,"
	  "\"milter\":{\"add_headers\":{\"X-Spamd-Bar\":{\"value\":\"++++++\","
	  "\"order\":0}},\"remove_headers\":{\"X-Spamd-Bar\":0}}}",
	  "action=add header score=6.50 req=15.00 skipped=0 "
	  "symbols=[GTUBE_ADD(6.00) R_SPF_ALLOW(-0.20)] smtp=[] subject=[] "
	  "add=[X-Spamd-Bar:++++++:0;] rm=[X-Spamd-Bar:0;]" },
	{ "reject with rspamd's SMTP message, integer scores",
	  "{\"action\":\"reject\",\"score\":1000,\"required_score\":15,"
	  "\"symbols\":{\"GTUBE\":{\"score\":0}},\"messages\":"
	  "{\"smtp_message\":\"Gtube pattern\"}}",
	  "action=reject score=1000.00 req=15.00 skipped=0 "
	  "symbols=[GTUBE(0.00)] smtp=[Gtube pattern] subject=[] add=[] "
	  "rm=[]" },
	{ "rewrite subject", "{\"action\":\"rewrite subject\",\"score\":7,"
	  "\"subject\":\"*** SPAM *** Hello\"}",
	  "action=rewrite subject score=7.00 req=0.00 skipped=0 symbols=[] "
	  "smtp=[] subject=[*** SPAM *** Hello] add=[] rm=[]" },
	{ "every other action", "{\"action\":\"soft reject\"}",
	  "action=soft reject score=0.00 req=0.00 skipped=0 symbols=[] "
	  "smtp=[] subject=[] add=[] rm=[]" },
	{ "greylist", "{\"action\":\"greylist\",\"score\":4.5}",
	  "action=greylist score=4.50 req=0.00 skipped=0 symbols=[] smtp=[] "
	  "subject=[] add=[] rm=[]" },
	{ "no action, skipped", "{\"action\":\"no action\",\"is_skipped\":"
	  "true}",
	  "action=no action score=0.00 req=0.00 skipped=1 symbols=[] smtp=[] "
	  "subject=[] add=[] rm=[]" },
	{ "discard and quarantine", "{\"action\":\"discard\"}",
	  "action=discard score=0.00 req=0.00 skipped=0 symbols=[] smtp=[] "
	  "subject=[] add=[] rm=[]" },
	{ "add_headers as a string, an array; remove from the end",
	  "{\"action\":\"no action\",\"milter\":{\"add_headers\":{\"X-A\":"
	  "\"one\",\"X-B\":[{\"value\":\"b1\"},\"b2\",{\"value\":\"b3\","
	  "\"order\":2},{\"order\":1},7]},\"remove_headers\":{\"X-C\":-1,"
	  "\"X-D\":2,\"X-E\":\"x\",\"X-F\":99999}}}",
	  "action=no action score=0.00 req=0.00 skipped=0 symbols=[] smtp=[] "
	  "subject=[] add=[X-A:one:-1;X-B:b1:-1;X-B:b2:-1;X-B:b3:2;] "
	  "rm=[X-C:-1;X-D:2;X-F:0;]" },
	{ "header injection: CR LF made a space, folding kept",
	  "{\"action\":\"add header\",\"milter\":{\"add_headers\":{\"X-I\":"
	  "\"a\\r\\nBcc: victim@example.test\",\"X-F\":\"one;\\r\\n\\ttwo\","
	  "\"X-N\":\"\\n\\t lead\\u0007bell\\n\",\"X-W\":"
	  "\"a\\n \\n b\"}}}",
	  "action=add header score=0.00 req=0.00 skipped=0 symbols=[] "
	  "smtp=[] subject=[] add=[X-I:a Bcc\\: victim@example.test:-1;"
	  "X-F:one;\\n\\ttwo:-1;X-N:lead bell:-1;X-W:a\\n   b:-1;] rm=[]" },
	{ "invalid header names dropped",
	  "{\"action\":\"no action\",\"milter\":{\"add_headers\":{"
	  "\"Bad Name\":\"x\",\"X:Y\":\"x\",\"\":\"x\",\"X-\\u00e9\":\"x\","
	  "\"X-Ok\":\"x\"},\"remove_headers\":{\"Bad\\nName\":0}}}",
	  "action=no action score=0.00 req=0.00 skipped=0 symbols=[] smtp=[] "
	  "subject=[] add=[X-Ok:x:-1;] rm=[]" },
	{ "SMTP text: control characters and % made '?'",
	  "{\"action\":\"reject\",\"messages\":{\"smtp_message\":"
	  "\"100% spam\\r\\n550 fake\"}}",
	  "action=reject score=0.00 req=0.00 skipped=0 symbols=[] "
	  "smtp=[100? spam??550 fake] subject=[] add=[] rm=[]" },
	{ "symbol names reduced to a safe set",
	  "{\"action\":\"no action\",\"symbols\":{\"A B\\n\":{\"score\":1},"
	  "\"C\":3}}",
	  "action=no action score=0.00 req=0.00 skipped=0 "
	  "symbols=[A?B?(1.00) C(0.00)] smtp=[] subject=[] add=[] rm=[]" },
	{ "trailing white space after the object",
	  "{\"action\":\"no action\"}\r\n",
	  "action=no action score=0.00 req=0.00 skipped=0 symbols=[] smtp=[] "
	  "subject=[] add=[] rm=[]" },
	/* not replies */
	{ "empty", "", "error: empty reply" },
	{ "not JSON", "<html>502 Bad Gateway</html>", "error: not JSON: "
	  "unexpected character" },
	{ "truncated", "{\"action\":\"rej", "error: not JSON: truncated" },
	{ "an array", "[\"reject\"]", "error: the reply is not a JSON object" },
	{ "no action", "{\"score\":3}", "error: no action in the reply" },
	{ "an action that is not a string", "{\"action\":5}",
	  "error: no action in the reply" },
	{ "unknown action", "{\"action\":\"explode\\n\"}",
	  "error: unknown action 'explode?'" },
	{ "rspamd's error object", "{\"error\":\"Message has no body\"}",
	  "error: rspamd error: Message has no body" },
	{ "garbage after the object", "{\"action\":\"reject\"} trailing",
	  "error: garbage after the JSON reply" },
	{ "NUL after the object", "{\"action\":\"reject\"}\0x",
	  "error: garbage after the JSON reply" },
	{ "nested beyond the bound",
	  "{\"action\":\"reject\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]"
	  "]]]]]]]]]]]]]]]]]]]]]]]]]}",
	  "error: not JSON: nesting too deep" },
};

/* esc - v with LF, TAB and ':' escaped, appended to out */
static void
esc(char *out, size_t len, const char *v)
{
	size_t o = strlen(out);

	for (; v != NULL && *v != '\0' && o + 3 < len; v++) {
		if (*v == '\n' || *v == '\t' || *v == ':') {
			out[o++] = '\\';
			out[o++] = *v == '\n' ? 'n' : *v == '\t' ? 't' : ':';
		} else {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
}

/* render - a parsed reply as one line */
static void
render(const struct rspamd_reply *r, char *out, size_t len)
{
	size_t i;
	char n[64];

	snprintf(out, len, "action=%s score=%.2f req=%.2f skipped=%d "
		 "symbols=[%s] smtp=[", rspamd_action_name(r->action),
		 r->score, r->required_score, r->skipped, r->symbols);
	esc(out, len, r->smtp_message);
	strncat(out, "] subject=[", len - strlen(out) - 1);
	esc(out, len, r->subject);
	strncat(out, "] add=[", len - strlen(out) - 1);
	for (i = 0; i < r->nadd; i++) {
		esc(out, len, r->add[i].name);
		strncat(out, ":", len - strlen(out) - 1);
		esc(out, len, r->add[i].value);
		snprintf(n, sizeof(n), ":%d;", r->add[i].order);
		strncat(out, n, len - strlen(out) - 1);
	}
	strncat(out, "] rm=[", len - strlen(out) - 1);
	for (i = 0; i < r->nremove; i++) {
		esc(out, len, r->remove[i].name);
		snprintf(n, sizeof(n), ":%ld;", r->remove[i].index);
		strncat(out, n, len - strlen(out) - 1);
	}
	strncat(out, "]", len - strlen(out) - 1);
}

/* json_len - a case's length: the NUL case keeps what follows its NUL */
static size_t
json_len(const struct pcase *c)
{
	size_t n = strlen(c->json);

	return strstr(c->name, "NUL") != NULL ? n + 2 : n;
}

static void
test_parse(void)
{
	struct rspamd_reply r;
	char got[2048], err[256];
	size_t i;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		if (rspamd_reply_parse(pcases[i].json, json_len(&pcases[i]),
				       &r, err, sizeof(err)) < 0) {
			snprintf(got, sizeof(got), "error: %s", err);
			ok(r.symbols == NULL && r.add == NULL,
			   "%s: nothing left to free", pcases[i].name);
		} else {
			render(&r, got, sizeof(got));
			ok(strchr(got, '\r') == NULL, "%s: no CR anywhere",
			   pcases[i].name);
			rspamd_reply_free(&r);
		}
		is_str(got, pcases[i].want, "%s", pcases[i].name);
	}
}

/* test_clean - the cut keeps whole UTF-8 sequences and drops trailing
 * white space and folding */
static void
test_clean(void)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} cases[] = {
		{ "abc\xc3\xa9xyz", 4, "abc" },	/* é cut: dropped */
		{ "abc\xc3\xa9xyz", 5, "abc\xc3\xa9" },
		{ "ab\xe2\x82\xac", 4, "ab" },		/* € cut */
		{ "one\n\ttwo", 5, "one" },		/* fold at the cut */
		{ "  spaced  ", 100, "spaced" },
		{ "\x7f" "del", 100, "del" },
		{ "", 10, "" },
	};
	size_t i;
	char *v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = rspamd_header_clean(cases[i].in, cases[i].max);
		is_str(v, cases[i].want, "header_clean #%zu", i + 1);
		free(v);
	}
	ok(rspamd_header_name_ok("X-Spam"), "X-Spam is a field name");
	ok(!rspamd_header_name_ok("X-Spam "), "a space is not");
	ok(!rspamd_header_name_ok(
		   "X-12345678901234567890123456789012345678901234567890"
		   "12345678901234567890123456"), "77 characters are too many");
}

int
main(void)
{
	plan_lazy();
	test_parse();
	test_clean();
	done_testing();
	return exit_status();
}
