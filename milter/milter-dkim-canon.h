/*++
 * NAME
 *	milter-dkim-canon 3h
 * SUMMARY
 *	DKIM canonicalization (RFC 6376 section 3.4): headers, body hash
 * SYNOPSIS
 *	#include "milter-dkim-canon.h"
 * DESCRIPTION
 *	A pure module: bytes in, canonical bytes and a SHA-256 hash out,
 *	no I/O, no shared state but a byte counter (a thread owns each body
 *	context).
 *
 *	milter_dkim_canon_header() appends the canonical form of one
 *	header field ("Name:value", value as received, leading space and
 *	folding included, line ends LF or CRLF) to a growing buffer:
 *	simple keeps it byte for byte with CRLF line ends (section
 *	3.4.1); relaxed lowercases the name, unfolds, turns runs of
 *	white space into one space and drops the white space at the end
 *	of the value and around the colon (section 3.4.2).  With crlf 0
 *	the final CRLF is left off (the DKIM-Signature header itself,
 *	section 3.7).
 *
 *	A body context takes the body in chunks of any size (a CRLF may
 *	be split between two chunks; a bare LF ends a line too, as the
 *	test mode and some MTAs hand LF line ends) and yields the SHA-256
 *	of its canonical form: simple drops the empty lines at the end
 *	and makes an empty body one CRLF (section 3.4.3); relaxed also
 *	turns runs of white space into one space, drops white space at
 *	the end of lines, and leaves an empty body empty (section 3.4.4).
 *	A body that does not end with a line end gets one.  An optional
 *	tap sees the canonical bytes as they are hashed (for the tests).
 *	A verifier may ask for another hash (SHA-1) and for a limit (l=):
 *	the bytes past it are counted, not hashed.
 *
 *	milter_dkim_body_fed() counts the body bytes fed to every context
 *	of the process (the one shared state, an atomic counter): the
 *	tests read it to check that a message's body is hashed once per
 *	kind of hash, however many stages want that hash.
 *--*/
#ifndef ELEMTA_MILTER_DKIM_CANON_H
#define ELEMTA_MILTER_DKIM_CANON_H

#include <stddef.h>

#include <openssl/evp.h>

#define MILTER_DKIM_SIMPLE	0
#define MILTER_DKIM_RELAXED	1
#define MILTER_DKIM_HASH_LEN	32	/* SHA-256 */

/* A growing byte buffer (the header data to sign). */
struct milter_dkim_buf {
	char *data;
	size_t len;
	size_t size;
};

/* milter_dkim_buf_add - append len bytes */
void milter_dkim_buf_add(struct milter_dkim_buf *b, const void *p,
			 size_t len);
/* milter_dkim_buf_free - release the data (the struct is the caller's) */
void milter_dkim_buf_free(struct milter_dkim_buf *b);

/* milter_dkim_canon_header - append header name:value in canonical
 * form (MILTER_DKIM_SIMPLE or MILTER_DKIM_RELAXED), with a final CRLF
 * when crlf is non-zero */
void milter_dkim_canon_header(struct milter_dkim_buf *b, int relaxed,
			      const char *name, const char *value, int crlf);

/* milter_dkim_canon_sha256 - SHA-256, fetched from OpenSSL once */
const EVP_MD *milter_dkim_canon_sha256(void);

struct milter_dkim_body;

/* milter_dkim_body_new - a body context; NULL if OpenSSL has no
 * SHA-256 (logged by the caller) */
struct milter_dkim_body *milter_dkim_body_new(int relaxed);
/* milter_dkim_body_new_md - the same with another hash (SHA-1 for
 * rsa-sha1 signatures, verified only), hashing only the first limit
 * canonical bytes (a signature's l=; -1: all) */
struct milter_dkim_body *milter_dkim_body_new_md(int relaxed,
						 const EVP_MD *mdtype,
						 long long limit);
/* milter_dkim_body_tap - also pass the canonical bytes to fn */
void milter_dkim_body_tap(struct milter_dkim_body *b,
			  void (*fn)(void *arg, const unsigned char *p,
				     size_t len), void *arg);
/* milter_dkim_body_update - a body chunk */
void milter_dkim_body_update(struct milter_dkim_body *b,
			     const unsigned char *p, size_t len);
/* milter_dkim_body_final - the hash of the canonical body; 0, or -1 if
 * OpenSSL failed.  Once only: the context is spent. */
int milter_dkim_body_final(struct milter_dkim_body *b,
			   unsigned char hash[MILTER_DKIM_HASH_LEN]);
/* milter_dkim_body_final_md - the same for any hash: its length in
 * *lenp */
int milter_dkim_body_final_md(struct milter_dkim_body *b,
			      unsigned char hash[EVP_MAX_MD_SIZE],
			      size_t *lenp);
/* milter_dkim_body_length - canonical bytes seen (hashed or not: l=
 * stops the hash, not the count); the whole body after final */
unsigned long long milter_dkim_body_length(const struct milter_dkim_body *b);
/* milter_dkim_body_fed - body bytes fed to all contexts of the process
 * so far (raw bytes, as given to milter_dkim_body_update) */
unsigned long long milter_dkim_body_fed(void);
/* milter_dkim_body_free - free; *bp set to NULL */
void milter_dkim_body_free(struct milter_dkim_body **bp);

#endif
