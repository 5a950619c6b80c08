/*++
 * NAME
 *	fuzz-policyd-proto 1
 * SUMMARY
 *	fuzz target for policyd/policyd-proto.c, with a driver for make check
 * SYNOPSIS
 *	t/0303-policyd-fuzz-proto.t [FILE | DIR]...
 *
 *	(in a build dir B, sources in S)
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -DFUZZ_LIBFUZZER \
 *	    -IB -IS/lib -IS/policyd S/t/fuzz-policyd-proto.c \
 *	    S/policyd/policyd-proto.c B/lib/libelemta.a \
 *	    $(pkg-config --libs libconfuse sqlite3 libmicrohttpd) -o fuzz-pp
 *	cp -r S/t/data/policyd-proto corpus
 *	./fuzz-pp -max_total_time=60 corpus
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() parses the input three ways, whole, one
 *	byte at a time, and in pieces whose sizes come from the input
 *	itself, and aborts unless all three give the same requests (each
 *	request's attributes compared) and the same error or none: how
 *	bytes arrive must never change what is parsed.
 *
 *	Without -DFUZZ_LIBFUZZER a main() runs the same check, as TAP,
 *	over the corpus (t/data/policyd-proto, or the files and
 *	directories given) and over deterministic mutations of each file
 *	(bytes flipped, cut, duplicated, lines swapped), so that make check
 *	runs the target with gcc.
 *--*/
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd-proto.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	char *text;		/* every request and the end, serialized */
	size_t len, cap;
};

/* out_add - append to an outcome */
static void
out_add(struct outcome *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->text = x_realloc(o->text, o->cap);
	}
	memcpy(o->text + o->len, s, n);
	o->len += n;
	o->text[o->len] = '\0';
}

/* out_req - serialize one request */
static void
out_req(struct outcome *o, const struct policyd_req *rq)
{
	char num[32];
	int i;

	for (i = 0; i < POLICYD_A_COUNT; i++) {
		if (rq->v[i] == NULL)
			continue;
		out_add(o, policyd_proto_attr_name(i),
			strlen(policyd_proto_attr_name(i)));
		out_add(o, "=", 1);
		out_add(o, rq->v[i], strlen(rq->v[i]));
		out_add(o, "\n", 1);
	}
	snprintf(num, sizeof(num), "#%u/%u\n", rq->nlines, rq->nunknown);
	out_add(o, num, strlen(num));
}

/* parse - feed data in pieces; sizes cycle through piece[] */
static void
parse(const uint8_t *data, size_t size, const size_t *piece, size_t npiece,
      struct outcome *o)
{
	struct policyd_proto *p = policyd_proto_new();
	const struct policyd_req *rq;
	size_t off = 0, k = 0, n, used, fed;
	char err[256];
	int rc = POLICYD_PROTO_MORE;

	while (off < size) {
		n = piece[k++ % npiece];
		if (n > size - off)
			n = size - off;
		fed = 0;
		while (fed < n) {
			rc = policyd_proto_feed(p, (const char *)data + off
						+ fed, n - fed, &used, &rq,
						err, sizeof(err));
			if (rc == POLICYD_PROTO_ERROR)
				break;
			fed += used;
			if (rc == POLICYD_PROTO_DONE)
				out_req(o, rq);
		}
		if (rc == POLICYD_PROTO_ERROR) {
			/* the line number is part of the message */
			out_add(o, "ERROR ", 6);
			out_add(o, err, strlen(err));
			break;
		}
		off += n;
	}
	if (rc != POLICYD_PROTO_ERROR) {
		snprintf(err, sizeof(err), "END pending=%zu",
			 policyd_proto_pending(p));
		out_add(o, err, strlen(err));
	}
	policyd_proto_free(&p);
}

/* fuzz_check - 0 when the three ways agree, else -1 */
static int
fuzz_check(const uint8_t *data, size_t size, char **why)
{
	static const size_t whole[] = { SIZE_MAX }, bytes[] = { 1 };
	size_t pieces[8];
	struct outcome a = { 0 }, b = { 0 }, c = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < 8; i++)	/* piece sizes from the data itself */
		pieces[i] = 1 + (size > i ? data[i] % 97 : i * 13);
	out_add(&a, "", 0);
	out_add(&b, "", 0);
	out_add(&c, "", 0);
	parse(data, size, whole, 1, &a);
	parse(data, size, bytes, 1, &b);
	parse(data, size, pieces, 8, &c);
	if (strcmp(a.text, b.text) != 0 || strcmp(a.text, c.text) != 0) {
		rc = -1;
		if (why != NULL)
			*why = x_asprintf("whole:\n%s\nbytes:\n%s\npieces:\n%s",
					  a.text, b.text, c.text);
	}
	x_free(&a.text);
	x_free(&b.text);
	x_free(&c.text);
	return rc;
}

/* LLVMFuzzerTestOneInput - the libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_check(data, size, NULL) < 0)
		abort();
	return 0;
}

#ifndef FUZZ_LIBFUZZER

#include "tap.h"

/* mutate - a deterministic variant of buf (malloc'ed, length in *outlen) */
static uint8_t *
mutate(const uint8_t *buf, size_t len, unsigned *seed, size_t *outlen)
{
	uint8_t *out = x_malloc(len * 2 + 16);
	size_t n = len, i, a, b;
	unsigned kind;

	memcpy(out, buf, len);
	*seed = *seed * 1103515245 + 12345;
	kind = (*seed >> 16) % 6;
	a = len ? (*seed >> 8) % len : 0;
	b = len ? (*seed >> 3) % len : 0;
	switch (kind) {
	case 0:			/* flip bytes */
		for (i = 0; i < 4 && len; i++)
			out[(a + i * 7) % len] ^= (uint8_t)(1u << (i + kind));
		break;
	case 1:			/* cut */
		n = a;
		break;
	case 2:			/* duplicate a stretch */
		if (a > b) {
			i = a, a = b, b = i;
		}
		memcpy(out + len, buf + a, b - a);
		n = len + (b - a);
		break;
	case 3:			/* special bytes */
		if (len)
			out[a] = (uint8_t)"\n\r=\0\xff"[(*seed >> 20) % 5];
		break;
	case 4:			/* drop the empty lines */
		for (i = n = 0; i < len; i++)
			if (!(buf[i] == '\n' && i > 0 && buf[i - 1] == '\n'))
				out[n++] = buf[i];
		break;
	default:		/* the whole thing twice */
		memcpy(out + len, buf, len);
		n = len * 2;
		break;
	}
	*outlen = n;
	return out;
}

/* run_file - check a corpus file and its mutations */
static void
run_file(const char *path)
{
	uint8_t *buf, *m;
	size_t len, mlen;
	unsigned seed = 42;
	char *why = NULL;
	int i, bad = 0;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		ok(0, "%s: cannot open", path);
		return;
	}
	buf = x_malloc(1 << 20);
	len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	if (!ok(fuzz_check(buf, len, &why) == 0, "%s: same outcome however"
		" it is split", path))
		diag("%s", why);
	x_free(&why);
	for (i = 0; i < 500; i++) {
		m = mutate(buf, len, &seed, &mlen);
		if (fuzz_check(m, mlen, &why) < 0 && bad++ == 0)
			diag("mutation %d of %s:\n%s", i, path, why);
		x_free(&why);
		x_free(&m);
	}
	is_int(bad, 0, "%s: 500 mutations agree too", path);
	x_free(&buf);
}

/* run_path - a file, or every regular file of a directory */
static void
run_path(const char *path)
{
	struct dirent **ents;
	char *file;
	int n, i;

	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		run_file(path);
		return;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			file = x_asprintf("%s/%s", path, ents[i]->d_name);
			run_file(file);
			x_free(&file);
		}
		free(ents[i]);
	}
	free(ents);
}

/* main - the corpus, as TAP */
int
main(int argc, char **argv)
{
	const char *src = getenv("top_srcdir");
	char *dir;
	int i;

	plan_lazy();
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_path(argv[i]);
	} else {
		dir = x_asprintf("%s/t/data/policyd-proto", src ? src : ".");
		run_path(dir);
		x_free(&dir);
	}
	/* an empty input and a lone newline */
	ok(LLVMFuzzerTestOneInput((const uint8_t *)"", 0) == 0, "empty input");
	ok(LLVMFuzzerTestOneInput((const uint8_t *)"\n", 1) == 0, "a newline");
	done_testing();
	return exit_status();
}

#endif
