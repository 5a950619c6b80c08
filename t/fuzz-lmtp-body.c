/*++
 * NAME
 *	fuzz-lmtp-body 1
 * SUMMARY
 *	fuzz target for the bridge's body writer (dot-stuffing,
 *	lmtp-wire.c), as a round trip
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() takes the input (after its first byte,
 *	which picks the chunk sizes) as a message body, stuffs it in
 *	chunks as lmtp-client.c does, and reads the result back two ways:
 *
 *	- as Dovecot does (lib-mail's istream-dot: a line ends at any LF):
 *	  the end of data must be exactly at the end, and the body read
 *	  must be the input (plus the CRLF the writer adds when the input
 *	  does not end with one) -- nothing lost, nothing smuggled;
 *
 *	- through our own body parser (lmtp-proto.c, the server side),
 *	  in an LMTP session: one message, whose body is the input with
 *	  the same CRLF added, except that a "." after a bare LF stays
 *	  doubled (our parser, like RFC 5321, begins lines after CRLF
 *	  only, while the writer stuffs for Dovecot after any LF), then
 *	  QUIT -- the data ended where the writer ended it.
 *
 *	Built with -DFUZZ_LIBFUZZER for libFuzzer (t/local.mk,
 *	t/libfuzzer/lmtp-body; run by t/0030).  Without it, main() runs
 *	it under gcc as a TAP test through t/fuzz-driver.c.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lmtp-bridge/lmtp-proto.h"
#include "../lmtp-bridge/lmtp-wire.h"
#include "fuzz-driver.h"
#include "xalloc.h"

struct fbuf {
	char *p;
	size_t len, alloc;
};

/* fbuf_add - append bytes */
static int
fbuf_add(void *ctx, const char *p, size_t n)
{
	struct fbuf *b = ctx;

	if (b->len + n + 1 > b->alloc) {
		b->alloc = 2 * (b->len + n + 1);
		b->p = x_realloc(b->p, b->alloc);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* fuzz_dovecot - read wire as Dovecot's istream-dot does: lines end at
 * LF; ".\r\n" or ".\n" alone ends the data, a leading "." is dropped.
 * The body into out; the bytes used, or -1 when no end was found */
static long
fuzz_dovecot(const char *w, size_t n, struct fbuf *out)
{
	size_t i = 0, eol;

	while (i < n) {
		if (w[i] == '.' && ((i + 1 < n && w[i + 1] == '\n')
				    || (i + 2 < n && w[i + 1] == '\r'
					&& w[i + 2] == '\n')))
			return (long)(i + (w[i + 1] == '\n' ? 2 : 3));
		if (w[i] == '.')
			i++;
		for (eol = i; eol < n && w[eol] != '\n'; eol++)
			;
		if (eol < n)
			eol++;
		fbuf_add(out, w + i, eol - i);
		i = eol;
	}
	return -1;
}

/* fuzz_sink - our parser's body */
static int
fuzz_sink(void *ctx, const char *p, size_t n)
{
	return fbuf_add(ctx, p, n);
}

/* LLVMFuzzerTestOneInput - stuff the body, read it back twice */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pre[] = "LHLO f\r\nMAIL FROM:<>\r\n"
		"RCPT TO:<a@b.test>\r\nDATA\r\n";
	struct lmtp_limits lim = { 512, 0, 0, 20 };
	struct fbuf wire = { 0 }, want = { 0 }, ours = { 0 }, dov = { 0 };
	struct fbuf mine = { 0 };
	struct lmtp_stuff st;
	struct lmtp_proto *s;
	const char *body;
	size_t n, off, step, i;
	uint32_t r;
	int messages = 0, quit = 0;
	enum lmtp_event ev;

	if (size == 0)
		return 0;
	r = data[0];
	body = (const char *)data + 1;
	n = size - 1;

	/* write, in chunks whose sizes come from the first byte */
	lmtp_stuff_init(&st);
	for (off = 0; off < n; off += step) {
		r = r * 1103515245u + 12345u;
		step = 1 + (r >> 16) % 64;
		if (step > n - off)
			step = n - off;
		lmtp_stuff_put(&st, body + off, step, fbuf_add, &wire);
	}
	lmtp_stuff_end(&st, fbuf_add, &wire);

	/* what Dovecot must read: the body, CRLF added if missing */
	fbuf_add(&want, "", 0);
	fbuf_add(&want, body, n);
	if (n > 0 && !(n >= 2 && body[n - 2] == '\r' && body[n - 1] == '\n'))
		fbuf_add(&want, "\r\n", 2);
	fbuf_add(&dov, "", 0);
	if (fuzz_dovecot(wire.p, wire.len, &dov) != (long)wire.len
	    || dov.len != want.len || memcmp(dov.p, want.p, want.len) != 0)
		abort();	/* Dovecot would lose or smuggle something */

	/* what our own parser must read: the same, but a "." after a bare
	 * LF stays doubled */
	fbuf_add(&mine, "", 0);
	for (i = 0; i < want.len; i++) {
		fbuf_add(&mine, want.p + i, 1);
		if (want.p[i] == '.' && i > 0 && want.p[i - 1] == '\n'
		    && !(i > 1 && want.p[i - 2] == '\r'))
			fbuf_add(&mine, ".", 1);
	}
	fbuf_add(&ours, "", 0);
	s = lmtp_proto_new(&lim, "fuzz.test", fuzz_sink, &ours);
	lmtp_proto_input(s, pre, sizeof(pre) - 1);
	lmtp_proto_input(s, wire.p, wire.len);
	lmtp_proto_input(s, "QUIT\r\n", 6);
	while (!quit && (ev = lmtp_proto_next(s)) != LMTP_EV_INPUT) {
		switch (ev) {
		case LMTP_EV_RCPT:
			lmtp_proto_rcpt_result(s, "250 2.1.5 Ok", NULL);
			break;
		case LMTP_EV_DATA:
			lmtp_proto_data_start(s, NULL);
			break;
		case LMTP_EV_MESSAGE:
			messages++;
			lmtp_proto_set_reply(s, 0, "250 2.0.0 ok");
			lmtp_proto_message_done(s);
			break;
		case LMTP_EV_QUIT:
			quit = 1;
			break;
		case LMTP_EV_INPUT:
			break;
		}
	}
	if (messages != 1 || !quit || ours.len != mine.len
	    || memcmp(ours.p, mine.p, mine.len) != 0)
		abort();	/* our parser ended the data elsewhere */
	lmtp_proto_free(&s);
	x_free(&wire.p);
	x_free(&want.p);
	x_free(&ours.p);
	x_free(&dov.p);
	x_free(&mine.p);
	return 0;
}

#ifndef FUZZ_LIBFUZZER

static const char *const seeds[] = {
	"\001Subject: x\r\n\r\n.\r\n..\r\n.x\r\nend\r\n",
	"\002a\n.\nb\n.hidden\r\n.\r\n",
	"\003no newline at the end.",
	"\004\r\n.\r\n\r\n.\n.\r.\r\n",
	"\005.",
	"\006line\r",
	"\007\n\n.\r\n",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\r\n.\r\n.");
}

#endif
