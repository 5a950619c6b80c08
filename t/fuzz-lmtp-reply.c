/*++
 * NAME
 *	fuzz-lmtp-reply 1
 * SUMMARY
 *	fuzz target for the bridge's backend reply and LHLO capability
 *	parsers (lmtp-wire.c)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() reads the input as a backend's output:
 *	replies assembled byte by byte, each taken as the reply to a
 *	command that the input's first byte picks, then handed to the
 *	capability parser as a LHLO reply would be.  It checks what the
 *	client relies on: a reply taken is a well-formed reply (three
 *	digits 2xx-5xx, an enhanced code of the same class, no control
 *	character but the "\n" between lines, which all repeat the code),
 *	never a 3xx other than 354 to DATA; a refusal always says why.
 *
 *	Built with -DFUZZ_LIBFUZZER for libFuzzer (t/local.mk,
 *	t/libfuzzer/lmtp-reply; run by t/0030).  Without it, main() runs
 *	it under gcc as a TAP test through t/fuzz-driver.c.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lmtp-bridge/lmtp-wire.h"
#include "fuzz-driver.h"
#include "xalloc.h"

static const char *const cmds[] = {
	NULL, "greeting", "LHLO", "MAIL", "RCPT", "DATA", "end of data",
};

/* fuzz_check - the invariants of a reply taken for cmd */
static void
fuzz_check(const char *r, const char *cmd)
{
	const char *line = r, *p;

	if (r[0] < '2' || r[0] > '5' || r[1] < '0' || r[1] > '9'
	    || r[2] < '0' || r[2] > '9' || r[3] != ' ' || r[4] != r[0]
	    || r[5] != '.')
		abort();
	if (cmd != NULL && r[0] == '3'
	    && !(strcmp(cmd, "DATA") == 0 && strncmp(r, "354", 3) == 0))
		abort();		/* an intermediate reply taken as final */
	for (p = r; *p; p++)
		if (((unsigned char)*p < 32 && *p != '\n') || *p == 127)
			abort();	/* a control character for the logs */
	while ((line = strchr(line, '\n')) != NULL) {
		line++;
		if (strncmp(line, r, 3) != 0 || line[3] != ' ')
			abort();	/* every line carries the code */
	}
}

/* LLVMFuzzerTestOneInput - the input as a backend's replies */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtp_reply_reader rr;
	struct lmtp_caps caps;
	const char *cmd;
	char err[256], *r;
	size_t i;

	if (size == 0)
		return 0;
	cmd = cmds[data[0] % (sizeof(cmds) / sizeof(cmds[0]))];
	memset(&rr, 0, sizeof(rr));
	for (i = 1; i < size; i++) {
		if (!lmtp_reply_reader_byte(&rr, data[i]))
			continue;
		err[0] = '\0';
		r = lmtp_reply_reader_take(&rr, cmd, err, sizeof(err));
		if (r == NULL) {
			if (err[0] == '\0')
				abort();	/* a refusal says why */
			continue;
		}
		fuzz_check(r, cmd);
		lmtp_caps_parse(r, &caps);
		x_free(&r);
	}
	lmtp_reply_reader_clear(&rr);
	return 0;
}

#ifndef FUZZ_LIBFUZZER

static const char *const seeds[] = {
	"\002250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n"
	"250-DSN\r\n250 SMTPUTF8\r\n",
	"\005354 go ahead\r\n352 3.0.0 no\r\n250 2.0.0 ok\r\n",
	"\004350 3.0.0 think\r\n550 5.1.1 <a@b> User doesn't exist\r\n",
	"\006250 2.0.0 <a@b> Saved\r\n452-4.2.2 a\r\n452 4.2.2 b\r\n399 x\r\n",
	"\001220 hi\n421\n250\r\n600 no\r\n1xx\r\n\r\n",
	"\007250-a\r\n\001\377\r\n250 2.0.0\r\n",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\r\n-. 0123459");
}

#endif
