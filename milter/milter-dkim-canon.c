/*++
 * NAME
 *	milter-dkim-canon 3
 * SUMMARY
 *	DKIM canonicalization (RFC 6376 section 3.4): headers, body hash
 * DESCRIPTION
 *	See milter-dkim-canon.h.  The body is a small state machine fed a
 *	byte class table: runs of ordinary bytes (for relaxed, single
 *	spaces between ordinary bytes included, which it leaves alone)
 *	are copied whole into a buffer that is hashed when full, so the
 *	cost per byte is one table look-up.  What cannot be decided yet
 *	is kept as state, never as bytes: a CR that may start a CRLF
 *	(cr), white space that may turn out to end its line (wsp), and
 *	the empty lines that may turn out to end the body (empties).
 *--*/
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "milter-dkim-canon.h"
#include "xalloc.h"

#define CANON_BUF	4096

/* Byte classes: 0 ordinary, else special in that canonicalization. */
enum { C_ORD, C_WSP, C_CR, C_LF };

struct milter_dkim_body {
	int relaxed;
	EVP_MD_CTX *md;
	const unsigned char *special;	/* class table */
	int cr;				/* a CR seen, its LF not yet */
	int wsp;			/* relaxed: white space pending */
	int inl;			/* the line has content */
	int any;			/* some line had content */
	size_t empties;			/* empty lines not yet emitted */
	long long limit;		/* l=: bytes to hash, -1 all */
	unsigned long long total;	/* canonical bytes so far */
	void (*tap)(void *, const unsigned char *, size_t);
	void *tap_arg;
	size_t len;
	unsigned char buf[CANON_BUF];
};

static const unsigned char canon_simple[256] = {
	['\r'] = C_CR, ['\n'] = C_LF,
};
static const unsigned char canon_relaxed[256] = {
	[' '] = C_WSP, ['\t'] = C_WSP, ['\r'] = C_CR, ['\n'] = C_LF,
};

/* SHA-256 fetched once: EVP_sha256() would look it up in the
 * provider's tables (locks included) at every EVP_DigestInit. */
static pthread_once_t canon_once = PTHREAD_ONCE_INIT;
static EVP_MD *canon_sha256;

/* Body bytes fed to every context of the process (relaxed atomic: a
 * count for the tests, which check that a body is hashed once per
 * kind; one add per chunk, not per byte). */
static unsigned long long canon_fed;

/* milter_dkim_canon_fetch - the one fetch (kept for the process) */
static void
milter_dkim_canon_fetch(void)
{
	canon_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* milter_dkim_canon_sha256 - the SHA-256 to hash with */
const EVP_MD *
milter_dkim_canon_sha256(void)
{
	(void)pthread_once(&canon_once, milter_dkim_canon_fetch);
	return canon_sha256 != NULL ? canon_sha256 : EVP_sha256();
}

/* milter_dkim_buf_add - append, growing by doubling */
void
milter_dkim_buf_add(struct milter_dkim_buf *b, const void *p, size_t len)
{
	if (b->len + len + 1 > b->size) {
		b->size = b->size ? b->size : 256;
		while (b->len + len + 1 > b->size)
			b->size *= 2;
		b->data = x_realloc(b->data, b->size);
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* milter_dkim_buf_free - the data */
void
milter_dkim_buf_free(struct milter_dkim_buf *b)
{
	x_free(&b->data);
	b->len = b->size = 0;
}

/* milter_dkim_canon_header - one header field, canonical */
void
milter_dkim_canon_header(struct milter_dkim_buf *b, int relaxed,
			 const char *name, const char *value, int crlf)
{
	size_t nlen = strlen(name), vlen = strlen(value), i;
	int wsp = 0, any = 0;
	char *o, c;

	/* room for the worst case: every LF gets a CR */
	if (b->len + nlen + 2 * vlen + 4 > b->size) {
		milter_dkim_buf_add(b, "", 0);
		while (b->len + nlen + 2 * vlen + 4 > b->size)
			b->size *= 2;
		b->data = x_realloc(b->data, b->size);
	}
	o = b->data + b->len;
	if (!relaxed) {
		memcpy(o, name, nlen);
		o += nlen;
		*o++ = ':';
		for (i = 0; i < vlen; i++) {
			if (value[i] == '\n'
			    && (i == 0 || value[i - 1] != '\r'))
				*o++ = '\r';
			*o++ = value[i];
		}
	} else {
		while (nlen > 0 && (name[nlen - 1] == ' '
				    || name[nlen - 1] == '\t'))
			nlen--;
		for (i = 0; i < nlen; i++)
			*o++ = (char)tolower((unsigned char)name[i]);
		*o++ = ':';
		for (i = 0; i < vlen; i++) {
			c = value[i];
			if (c == '\r' || c == '\n')
				continue;	/* unfold */
			if (c == ' ' || c == '\t') {
				wsp = 1;
				continue;
			}
			if (wsp && any)
				*o++ = ' ';
			*o++ = c;
			wsp = 0;
			any = 1;
		}
	}
	if (crlf) {
		*o++ = '\r';
		*o++ = '\n';
	}
	*o = '\0';
	b->len = (size_t)(o - b->data);
}

/* milter_dkim_body_new - a context hashing with SHA-256 */
struct milter_dkim_body *
milter_dkim_body_new(int relaxed)
{
	return milter_dkim_body_new_md(relaxed, milter_dkim_canon_sha256(),
				       -1);
}

/* milter_dkim_body_new_md - a context hashing with mdtype, the first
 * limit canonical bytes only (-1: all) */
struct milter_dkim_body *
milter_dkim_body_new_md(int relaxed, const EVP_MD *mdtype, long long limit)
{
	struct milter_dkim_body *b;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || mdtype == NULL
	    || EVP_DigestInit_ex(md, mdtype, NULL) != 1) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	/* not calloc: the 4 KB buffer needs no zeroing */
	b = x_malloc(sizeof(*b));
	memset(b, 0, offsetof(struct milter_dkim_body, buf));
	b->relaxed = relaxed;
	b->special = relaxed ? canon_relaxed : canon_simple;
	b->md = md;
	b->limit = limit;
	return b;
}

/* milter_dkim_body_tap - see the canonical bytes too */
void
milter_dkim_body_tap(struct milter_dkim_body *b,
		     void (*fn)(void *, const unsigned char *, size_t),
		     void *arg)
{
	b->tap = fn;
	b->tap_arg = arg;
}

/* milter_dkim_body_flush - hash the buffered canonical bytes */
static void
milter_dkim_body_flush(struct milter_dkim_body *b)
{
	size_t n = b->len;

	if (n == 0)
		return;
	/* l=: only the first limit bytes are hashed, all are counted */
	if (b->limit >= 0)
		n = b->total >= (unsigned long long)b->limit ? 0
		    : (unsigned long long)b->limit - b->total < n
		    ? (size_t)((unsigned long long)b->limit - b->total) : n;
	b->total += b->len;
	/* EVP_DigestUpdate cannot fail on SHA-256 with a valid context */
	if (n > 0) {
		(void)EVP_DigestUpdate(b->md, b->buf, n);
		if (b->tap != NULL)
			b->tap(b->tap_arg, b->buf, n);
	}
	b->len = 0;
}

/* milter_dkim_body_emit - canonical bytes out */
static void
milter_dkim_body_emit(struct milter_dkim_body *b, const unsigned char *p,
		      size_t len)
{
	size_t n;

	while (len > 0) {
		if (b->len == CANON_BUF)
			milter_dkim_body_flush(b);
		n = CANON_BUF - b->len < len ? CANON_BUF - b->len : len;
		memcpy(b->buf + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
	}
}

/* milter_dkim_body_content - a line gets content: what was pending */
static void
milter_dkim_body_content(struct milter_dkim_body *b)
{
	if (!b->inl) {
		for (; b->empties > 0; b->empties--)
			milter_dkim_body_emit(b, (const unsigned char *)"\r\n",
					      2);
		b->inl = b->any = 1;
	}
	if (b->wsp) {
		milter_dkim_body_emit(b, (const unsigned char *)" ", 1);
		b->wsp = 0;
	}
}

/* milter_dkim_body_eol - the end of a line */
static void
milter_dkim_body_eol(struct milter_dkim_body *b)
{
	if (b->inl) {
		milter_dkim_body_emit(b, (const unsigned char *)"\r\n", 2);
		b->inl = 0;
	} else {
		b->empties++;
	}
	b->wsp = 0;
}

#if defined(__GNUC__)
typedef unsigned char canon_v16 __attribute__((vector_size(16)));

/* milter_dkim_body_any - is any byte of the comparison result set? */
static inline int
milter_dkim_body_any(canon_v16 v)
{
	uint64_t w[2];

	memcpy(w, &v, sizeof(w));
	return (w[0] | w[1]) != 0;
}

/* milter_dkim_body_skip - past the 16-byte blocks that need nothing
 * (the compiler's vector extension: SSE2, NEON): for simple no CR or
 * LF, for relaxed no TAB, CR, LF, nor a space followed by white space
 * or a line end; the byte loop of the caller does the rest */
static const unsigned char *
milter_dkim_body_skip(int relaxed, const unsigned char *q,
		      const unsigned char *end)
{
	canon_v16 a, n, brk;

	while (end - q > 16) {
		memcpy(&a, q, 16);
		brk = (canon_v16)((a == '\r') | (a == '\n'));
		if (relaxed) {
			memcpy(&n, q + 1, 16);
			brk |= (canon_v16)((a == '\t') | ((a == ' ')
				& ((n == ' ') | (n == '\t') | (n == '\r')
				   | (n == '\n'))));
		}
		if (milter_dkim_body_any(brk))
			break;
		q += 16;
	}
	return q;
}
#else
/* milter_dkim_body_skip - no vector extension: the byte loop does all */
static const unsigned char *
milter_dkim_body_skip(int relaxed, const unsigned char *q,
		      const unsigned char *end)
{
	(void)relaxed;
	(void)end;
	return q;
}
#endif

/* milter_dkim_body_update - a chunk */
void
milter_dkim_body_update(struct milter_dkim_body *b, const unsigned char *p,
			size_t len)
{
	const unsigned char *end = p + len, *q, *sp = b->special;

	__atomic_add_fetch(&canon_fed, (unsigned long long)len,
			   __ATOMIC_RELAXED);
	while (p < end) {
		if (b->cr) {
			b->cr = 0;
			if (*p == '\n') {
				milter_dkim_body_eol(b);
				p++;
				continue;
			}
			/* a bare CR is content */
			milter_dkim_body_content(b);
			milter_dkim_body_emit(b, (const unsigned char *)"\r",
					      1);
		}
		switch (sp[*p]) {
		case C_ORD:
			/* the run: ordinary bytes, and single spaces that
			 * are followed by one (relaxed keeps those) */
			q = milter_dkim_body_skip(b->relaxed, p + 1, end);
			for (; q < end; q++) {
				if (sp[*q] == C_ORD)
					continue;
				if (*q == ' ' && q + 1 < end
				    && sp[q[1]] == C_ORD) {
					q++;
					continue;
				}
				break;
			}
			milter_dkim_body_content(b);
			milter_dkim_body_emit(b, p, (size_t)(q - p));
			p = q;
			break;
		case C_WSP:
			b->wsp = 1;
			p++;
			break;
		case C_CR:
			b->cr = 1;
			p++;
			break;
		default:	/* a bare LF ends a line too */
			milter_dkim_body_eol(b);
			p++;
			break;
		}
	}
}

/* milter_dkim_body_final - finish the canonical form, the SHA-256 */
int
milter_dkim_body_final(struct milter_dkim_body *b,
		       unsigned char hash[MILTER_DKIM_HASH_LEN])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	size_t len = 0;

	if (milter_dkim_body_final_md(b, h, &len) < 0
	    || len != MILTER_DKIM_HASH_LEN)
		return -1;
	memcpy(hash, h, len);
	return 0;
}

/* milter_dkim_body_final_md - finish, the hash of the context's type */
int
milter_dkim_body_final_md(struct milter_dkim_body *b,
			  unsigned char hash[EVP_MAX_MD_SIZE], size_t *lenp)
{
	unsigned int len = 0;

	if (b->cr) {			/* a CR at the very end: content */
		b->cr = 0;
		milter_dkim_body_content(b);
		milter_dkim_body_emit(b, (const unsigned char *)"\r", 1);
	}
	if (b->inl)			/* no line end at the end: add one */
		milter_dkim_body_eol(b);
	if (!b->any && !b->relaxed)	/* simple: an empty body is CRLF */
		milter_dkim_body_emit(b, (const unsigned char *)"\r\n", 2);
	milter_dkim_body_flush(b);
	if (EVP_DigestFinal_ex(b->md, hash, &len) != 1)
		return -1;
	*lenp = len;
	return 0;
}

/* milter_dkim_body_length - the canonical body's length so far (after
 * final: the whole) */
unsigned long long
milter_dkim_body_length(const struct milter_dkim_body *b)
{
	return b->total + b->len;
}

/* milter_dkim_body_fed - body bytes fed to all contexts so far */
unsigned long long
milter_dkim_body_fed(void)
{
	return __atomic_load_n(&canon_fed, __ATOMIC_RELAXED);
}

/* milter_dkim_body_free - the context */
void
milter_dkim_body_free(struct milter_dkim_body **bp)
{
	if (*bp == NULL)
		return;
	EVP_MD_CTX_free((*bp)->md);
	x_free(bp);
}
