/*++
 * NAME
 *	fuzz-lmtp-route 1
 * SUMMARY
 *	fuzz target for the bridge's routing, rewriting and Junk matching
 * DESCRIPTION
 *	The first byte of the input picks what is fuzzed (its value
 *	modulo 3; the seeds use '0' to '2'); fields inside the input end
 *	at a 0x1f byte.
 *
 *	0  routing (lmtp-router.c): the recipient address, then what a
 *	   source answers for every key (backend, rewrite, a flags byte:
 *	   disabled, Junk opt-out, strict, allowed backends set) -- a
 *	   hostile directory or table.  Checks: a known status; a route
 *	   that delivers has a backend and an address, neither holding a
 *	   control character nor white space (the address: when the
 *	   recipient had none, as the LMTP parser ensures); with an
 *	   allow-list, each of its backend's addresses is the default or
 *	   the listed one; the RCPT reply has a 2xx, 4xx or 5xx code, on
 *	   one line for a clean recipient.
 *	1  lmtp_junk_match() on the rest as a header section, against
 *	   fixed rules: an index in range or -1.
 *	2  lmtp_junk_address() on the rest as an address: never NULL,
 *	   ends in the domain part of the address when there is one, and
 *	   holds "+Junk" for an address with a local part.
 *
 *	Built with -DFUZZ_LIBFUZZER for libFuzzer (t/local.mk,
 *	t/libfuzzer/lmtp-route; run by t/0030).  Without it, main() runs
 *	it under gcc as a TAP test through t/fuzz-driver.c.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lmtp-bridge/lmtp-junk.h"
#include "../lmtp-bridge/lmtp-router.h"
#include "fuzz-driver.h"
#include "xalloc.h"

#define FUZZ_SEP	0x1f
#define FUZZ_DEFAULT	"inet:127.0.0.1:24"
#define FUZZ_ALLOWED	"unix:/run/dovecot/lmtp"

/* What the fake source answers: the current input's fields. */
struct fuzz_source {
	const char *backend;	/* "" for none (the default) */
	const char *rewrite;	/* "" for none */
	int disabled;
	int optout;
};

/* fuzz_lookup - a source that answers every key the same way */
static int
fuzz_lookup(void *ctx, const char *key, struct lmtp_lookup_result *res,
	    char *err, size_t errlen)
{
	const struct fuzz_source *src = ctx;

	(void)key;
	(void)err;
	(void)errlen;
	memset(res, 0, sizeof(*res));
	res->disabled = src->disabled;
	res->junk_optout = src->optout;
	if (*src->backend != '\0')
		res->backend = x_strdup(src->backend);
	if (*src->rewrite != '\0')
		res->rewrite = x_strdup(src->rewrite);
	return 1;
}

/* fuzz_free_nothing - the source lives on the stack */
static void
fuzz_free_nothing(void *ctx)
{
	(void)ctx;
}

static const struct lmtp_lookup_ops fuzz_ops = {
	"fuzz", fuzz_lookup, fuzz_free_nothing,
};

/* fuzz_is_clean - no control character, no white space? */
static int
fuzz_is_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* fuzz_clean - abort unless s is clean */
static void
fuzz_clean(const char *s)
{
	if (!fuzz_is_clean(s))
		abort();
}

/* fuzz_allowed - each address of a backend ("a;b": fail-over) is the
 * default or the allowed one, and there is at least one */
static void
fuzz_allowed(const char *backend)
{
	const char *p = backend, *e;
	size_t len;

	do {
		e = strchr(p, ';');
		len = e ? (size_t)(e - p) : strlen(p);
		if (!(len == strlen(FUZZ_DEFAULT)
		      && strncmp(p, FUZZ_DEFAULT, len) == 0)
		    && !(len == strlen(FUZZ_ALLOWED)
			 && strncmp(p, FUZZ_ALLOWED, len) == 0))
			abort();
		p = e ? e + 1 : NULL;
	} while (p != NULL);
}

/* fuzz_fields - split s (modified) at FUZZ_SEP into up to n fields */
static void
fuzz_fields(char *s, char **f, size_t n)
{
	size_t i;
	char *p = s;

	for (i = 0; i < n; i++) {
		f[i] = p;
		if ((p = strchr(p, FUZZ_SEP)) == NULL)
			p = f[i] + strlen(f[i]);	/* the rest: empty */
		else
			*p++ = '\0';
	}
}

/* fuzz_route - route one address with a source that says anything */
static void
fuzz_route(char *s)
{
	static char *const allowed[] = { FUZZ_ALLOWED };
	struct fuzz_source src;
	struct lmtp_router *rt;
	struct lmtp_route route;
	char *f[4], err[256], *reply;
	int flags;

	fuzz_fields(s, f, 4);
	flags = (unsigned char)f[3][0];
	src.backend = f[1];
	src.rewrite = f[2];
	src.disabled = flags & 1;
	src.optout = (flags >> 1) & 1;
	rt = lmtp_router_new(FUZZ_DEFAULT, (flags & 8) ? NULL : "+",
			     (flags >> 2) & 1);
	lmtp_router_add(rt, &fuzz_ops, &src, NULL);
	if (flags & 16)
		lmtp_router_allow(rt, allowed, 1);
	err[0] = '\0';
	lmtp_router_route(rt, f[0], &route, err, sizeof(err));
	switch (route.status) {
	case LMTP_ROUTE_OK:
		if (route.backend == NULL || route.address == NULL)
			abort();
		fuzz_clean(route.backend);
		/* the LMTP parser refuses such a recipient before routing;
		 * what a source says must not make a clean one dirty */
		if (fuzz_is_clean(f[0]))
			fuzz_clean(route.address);
		if (flags & 16)
			fuzz_allowed(route.backend);
		break;
	case LMTP_ROUTE_UNKNOWN:
	case LMTP_ROUTE_DISABLED:
	case LMTP_ROUTE_TEMPFAIL:
		break;
	default:
		abort();
	}
	/* the reply quotes the recipient: one line when it is clean */
	reply = lmtp_route_reply(&route, f[0]);
	if (reply == NULL
	    || (fuzz_is_clean(f[0]) && (strchr(reply, '\r') != NULL
					|| strchr(reply, '\n') != NULL))
	    || !(reply[0] == '2' || reply[0] == '4' || reply[0] == '5'))
		abort();
	free(reply);
	lmtp_route_clear(&route);
	lmtp_router_free(&rt);
}

/* fuzz_junk_match - the verdict header rules */
static void
fuzz_junk_match(const char *head, size_t len)
{
	static char *const rules[] = {
		"X-Spam: Yes", "X-Spam-Flag: YES", "X-Rspamd-Action: reject",
	};
	int i = lmtp_junk_match(rules, 3, head, len);

	if (i < -1 || i > 2)
		abort();
}

/* fuzz_junk_address - the Junk folder's address */
static void
fuzz_junk_address(const char *addr)
{
	char *j = lmtp_junk_address(addr, '+', "Junk");
	const char *at = strrchr(addr, '@');

	if (j == NULL)
		abort();
	if (at != NULL && at != addr) {
		if (strstr(j, "+Junk@") == NULL
		    || strcmp(j + strlen(j) - strlen(at), at) != 0)
			abort();
	}
	free(j);
}

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	s = x_malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		fuzz_route(s);
		break;
	case 1:
		fuzz_junk_match((const char *)data + 1, size - 1);
		break;
	default:
		fuzz_junk_address(s);
		break;
	}
	free(s);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const seeds[] = {
	"0alice+work@example.test\x1f-\x1f\x1f\x00",
	"0sales@example.test\x1f\x1f" "bob@example.test\x1f\x04",
	"0x+y@old.test\x1f\x1f@example.test\x1f\x10",
	"0carol@example.test\x1finet:10.0.0.2:24\x1f\x1f\x10",
	"0dave@example.test\x1funix:/run/dovecot/lmtp\x1f" "dave@x.test\x1f\x10",
	"0eve@example.test\x1f\x1f\x1f\x01",
	"0evil@example.test\x1finet:127.0.0.1:24 \r\nX\x1f" "a b@c\x1f\x02",
	"0a@b\x1f;;\x1f@\x1f\x18",
	"0\x1f\x1f\x1f",
	"1X-Spam: Yes, score=7\r\nSubject: x\r\n\r\nbody",
	"1X-Spam:\r\n\tyes\nX-Spam: no\n\n",
	"1x-rspamd-action: REJECT;",
	"2alice@example.test",
	"2alice+work@example.test",
	"2@example.test",
	"2nodomain",
	"2",
};

int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, seeds,
				sizeof(seeds) / sizeof(seeds[0]),
				"\x1f@+-:,;.\r\n\t \x01\x10\x04");
}
#endif
