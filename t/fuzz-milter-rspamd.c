/*++
 * NAME
 *	fuzz-milter-rspamd 1
 * SUMMARY
 *	libFuzzer target for milter/milter-rspamd-reply.c, with a plain
 *	driver
 * SYNOPSIS
 *	t/0481-milter-fuzz-rspamd.t [FILE...]
 *
 *	t/libfuzzer/milter-rspamd -max_len=4096 CORPUS
 *	(built with clang by t/local.mk, run by t/0030 and bench/fuzz)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() parses the input as rspamd's /checkv2
 *	reply, as whatever answers on rspamd's port may send it, and
 *	checks what a reply hands on: every header name a field name,
 *	every header value and the subject free of CR, of LF that is not
 *	folding and of control characters, the SMTP text printable with no
 *	'%', the symbol list bounded, no more edits than the bound; then
 *	frees it.  An error must leave nothing to free.
 *
 *	Without FUZZ_LIBFUZZER, main() is a driver that gcc and "make
 *	check" can run: the seed table (and any FILE given), then
 *	deterministic mutations of the seeds, as TAP.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter-rspamd.h"
#include "fuzz-driver.h"

/* fuzz_check_value - a header value: folding only as LF + WSP after
 * text, no CR, no other control character, no trailing white space */
static void
fuzz_check_value(const char *v)
{
	const char *p;
	size_t n = strlen(v);

	for (p = v; *p != '\0'; p++) {
		if (*p == '\n') {
			if (p == v || (p[1] != ' ' && p[1] != '\t'))
				abort();
			continue;
		}
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7F)
			abort();
	}
	if (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'
		      || v[n - 1] == '\n' || v[0] == ' ' || v[0] == '\t'))
		abort();
}

/* fuzz_check_reply - what a parsed reply hands on */
static void
fuzz_check_reply(const struct rspamd_reply *r)
{
	const char *p;
	size_t i;

	if (r->symbols == NULL || strlen(r->symbols) > RSPAMD_SYMBOLS_MAX)
		abort();
	for (p = r->smtp_message; p != NULL && *p != '\0'; p++)
		if (*p < ' ' || *p > '~' || *p == '%')
			abort();
	if (r->subject != NULL)
		fuzz_check_value(r->subject);
	if (r->nadd > RSPAMD_MAX_EDITS || r->nremove > RSPAMD_MAX_EDITS)
		abort();
	for (i = 0; i < r->nadd; i++) {
		if (!rspamd_header_name_ok(r->add[i].name))
			abort();
		fuzz_check_value(r->add[i].value);
	}
	for (i = 0; i < r->nremove; i++)
		if (!rspamd_header_name_ok(r->remove[i].name))
			abort();
	if (strcmp(rspamd_action_name(r->action), "") == 0)
		abort();
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_reply r;
	char err[256];

	if (rspamd_reply_parse((const char *)data, size, &r, err,
			       sizeof(err)) < 0) {
		if (r.symbols != NULL || r.add != NULL || r.remove != NULL
		    || err[0] == '\0')
			abort();
		return 0;
	}
	fuzz_check_reply(&r);
	rspamd_reply_free(&r);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"{\"is_skipped\":false,\"score\":6.5,\"required_score\":15.0,"
	"\"action\":\"add header\",\"symbols\":{\"GTUBE_ADD\":{\"name\":"
	"\"GTUBE_ADD\",\"score\":6.0,\"options\":[\"a\"]}},\"messages\":{},"
	"\"milter\":{\"add_headers\":{\"X-Spamd-Bar\":{\"value\":\"+++\","
	"\"order\":0},\"X-B\":[\"b1\",{\"value\":\"b\\r\\n\\tc\"}]},"
	"\"remove_headers\":{\"X-Spamd-Bar\":0,\"X-C\":-1}}}",
	"{\"action\":\"reject\",\"score\":1000,\"required_score\":15,"
	"\"messages\":{\"smtp_message\":\"Gtube pattern\"}}",
	"{\"action\":\"rewrite subject\",\"subject\":\"*** SPAM *** \\u00e9\"}",
	"{\"action\":\"soft reject\"}", "{\"action\":\"greylist\"}",
	"{\"error\":\"Message has no body\"}",
	"[1,2,{\"a\":null}]", "{\"action\":\"no action\"} x", "{", "",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"{}[]\":,\\\r\n\t u0");
}
#endif
