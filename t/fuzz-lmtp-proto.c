/*++
 * NAME
 *	fuzz-lmtp-proto 1
 * SUMMARY
 *	fuzz target for the LMTP server-side parser (lmtp-proto.c)
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() feeds the input to a session in reads
 *	whose sizes come from the input itself, answering every event
 *	(RCPT accepted or refused by the address, DATA, replies after the
 *	dot), and checks the invariant that matters: after the final dot,
 *	exactly one reply per accepted recipient.  It also runs
 *	lmtp_reply_fix() and lmtp_xtext_decode() on the input.
 *
 *	Built with -DFUZZ_LIBFUZZER for libFuzzer by t/local.mk
 *	(t/libfuzzer/lmtp-proto; run by t/0030).  Without it,
 *	main() runs it under gcc as a TAP test through t/fuzz-driver.c:
 *	the seeds below, files named on the command line, and
 *	deterministic mutations of the seeds.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lmtp-bridge/lmtp-proto.h"
#include "fuzz-driver.h"
#include "xalloc.h"

/* fuzz_sink - accept the body, fail on a marker */
static int
fuzz_sink(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	return len > 0 && buf[0] == '!' ? -1 : 0;
}

/* fuzz_count - replies (final lines) in wire output */
static size_t
fuzz_count(const char *o, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i + 3 < n; i++)
		if ((i == 0 || o[i - 1] == '\n') && o[i + 3] == ' ')
			c++;
	return c;
}

/* fuzz_events - answer events until input is needed */
static void
fuzz_events(struct lmtp_proto *s, int *quit)
{
	enum lmtp_event ev;
	const struct lmtp_envelope *e;
	const char *o;
	size_t i, n, before, after;

	while (!*quit && (ev = lmtp_proto_next(s)) != LMTP_EV_INPUT) {
		switch (ev) {
		case LMTP_EV_RCPT:
			lmtp_proto_rcpt_result(s, strchr(lmtp_proto_pending(s)
				->addr, 'x') ? "550 5.1.1 no" : "250 2.1.5 Ok",
				NULL);
			break;
		case LMTP_EV_DATA:
			lmtp_proto_data_start(s, NULL);
			break;
		case LMTP_EV_MESSAGE:
			e = lmtp_proto_envelope(s);
			n = e->nrcpts;
			for (i = 0; i + 1 < n; i++)	/* one left unset */
				lmtp_proto_set_reply(s, i, "250 2.0.0 ok");
			o = lmtp_proto_output(s, &before);
			before = fuzz_count(o, before);
			lmtp_proto_message_done(s);
			o = lmtp_proto_output(s, &after);
			after = fuzz_count(o, after);
			if (after - before != n)
				abort();	/* the bug class we guard */
			break;
		case LMTP_EV_QUIT:
			*quit = 1;
			break;
		case LMTP_EV_INPUT:
			break;
		}
	}
	o = lmtp_proto_output(s, &n);
	lmtp_proto_output_consumed(s, n);
}

/* LLVMFuzzerTestOneInput - one session over the input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lmtp_limits lim = { 512, 4096, 5, 50 };
	struct lmtp_proto *s;
	size_t off = 0, step;
	char *str, *r;
	int quit = 0;

	s = lmtp_proto_new(&lim, "fuzz.test", fuzz_sink, NULL);
	while (off < size && !quit) {
		step = 1 + (size_t)data[off] % 97;
		if (step > size - off)
			step = size - off;
		lmtp_proto_input(s, (const char *)data + off, step);
		fuzz_events(s, &quit);
		off += step;
	}
	lmtp_proto_free(&s);
	str = x_strndup((const char *)data, size);
	if ((r = lmtp_reply_fix(str)) != NULL)
		x_free(&r);
	if ((r = lmtp_xtext_decode(str)) != NULL)
		x_free(&r);
	x_free(&str);
	return 0;
}

#ifndef FUZZ_LIBFUZZER

static const char *const seeds[] = {
	"LHLO a\r\nMAIL FROM:<s@x> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<a@b>\r\n"
	"RCPT TO:<a@b>\r\nRCPT TO:<x@b>\r\nRCPT TO:<c@b> NOTIFY=NEVER "
	"ORCPT=rfc822;c@b\r\nDATA\r\nH: v\r\n\r\n..x\r\n.\r\nQUIT\r\n",
	"LHLO a\r\nXFORWARD NAME=a+2Eb IDENT=1\r\nMAIL FROM:<>\r\n"
	"RCPT TO:<a@b>\r\nDATA\r\n!fail\r\n.\r\nRSET\r\nNOOP\r\n",
	"MAIL FROM:<a>\r\nLHLO\r\nVRFY x\r\nDATA\r\n\r\n\r\n",
	"LHLO a\nMAIL FROM:<\"q>\"@b>\nRCPT TO:<@r:a@b>\nDATA\n.\r\n.\r\n",
	"250-2.0.0 a\r\n250 b\r\n",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\r\n.<>:@ ");
}

#endif
