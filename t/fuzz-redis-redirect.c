/*++
 * NAME
 *	fuzz-redis-redirect 1
 * SUMMARY
 *	fuzz target for lib/redis.c's MOVED/ASK parser, with a gcc driver
 * SYNOPSIS
 *	t/0328-redis-redirect-fuzz.t [FILE | DIR]...
 * DESCRIPTION
 *	The input is an error text a Redis node sent, then a newline, then
 *	the address of that node ("host:port", as redis.servers holds it).
 *	redis_redirect_parse() must never read or write out of bounds, and
 *	when it accepts the text: the slot is one of the 16384, and the
 *	address it gives is a valid redis.servers entry
 *	(redis_server_check) whenever the node's own address is one: no
 *	text of a server can make up an address the client would dial
 *	differently than it is compared (the known-node check).
 *
 *	Without -DFUZZ_LIBFUZZER, main() is the shared gcc driver
 *	(t/fuzz-driver.c) over the seeds below and their mutations.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-driver.h"
#include "redis.h"
#include "xalloc.h"

/* LLVMFuzzerTestOneInput - parse one redirection */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = x_malloc(size + 1), *from, addr[300], err[256];
	unsigned slot = 0;
	int ask = -1;

	memcpy(text, data, size);
	text[size] = '\0';
	if ((from = strchr(text, '\n')) != NULL)
		*from++ = '\0';
	else
		from = (char *)"127.0.0.1:6379";
	if (redis_redirect_parse(text, from, &ask, &slot, addr,
				 sizeof(addr)) == 0) {
		if (slot >= 16384 || (ask != 0 && ask != 1)) {
			fprintf(stderr, "bad slot %u or kind %d\n", slot, ask);
			abort();
		}
		if (*from != '/' && redis_server_check(from, err,
						       sizeof(err)) == 0
		    && redis_server_check(addr, err, sizeof(err)) < 0) {
			fprintf(stderr, "'%s' from %s gave '%s': %s\n", text,
				from, addr, err);
			abort();
		}
	}
	free(text);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
static const char *const fuzz_corpus[] = {
	"MOVED 3999 127.0.0.1:6381\n127.0.0.1:6379",
	"ASK 3999 10.0.0.2:7000\n10.0.0.1:7000",
	"MOVED 1 ::1:6381\n[::1]:6379",
	"MOVED 1 [2001:db8::5]:6381\n[2001:db8::1]:6379",
	"MOVED 16383 :7001\n192.0.2.1:7000",
	"MOVED 5 ?:7001\n[::1]:7000",
	"MOVED 12 redis-2.example.test:6379\nredis-1.example.test:6379",
	"MOVED 16384 h:1\nh:1",
	"ASK 0 [:5\nh:1",
	"NOSCRIPT No matching script\nh:1",
	"MOVED 1 h:65535\n/run/redis.sock",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, fuzz_corpus,
				sizeof(fuzz_corpus) / sizeof(fuzz_corpus[0]),
				"[]:?% \n0123456789");
}
#endif
