/*++
 * NAME
 *	lmtp-spool 3
 * SUMMARY
 *	one message body: in memory, or in a temporary file above a size
 * DESCRIPTION
 *	See lmtp-spool.h.
 *--*/
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmtp-spool.h"
#include "xalloc.h"

struct lmtp_spool {
	size_t threshold;
	char *dir;
	char *mem;
	size_t mem_len, mem_alloc;
	int fd;			/* -1: in memory */
	long long size;
	char error[256];
};

/* lmtp_spool_new - an empty spool */
struct lmtp_spool *
lmtp_spool_new(size_t threshold, const char *dir)
{
	struct lmtp_spool *sp = x_calloc(1, sizeof(*sp));

	sp->threshold = threshold;
	sp->dir = x_strdup(dir);
	sp->fd = -1;
	return sp;
}

/* lmtp_spool_reset - forget the message (the file is closed) */
void
lmtp_spool_reset(struct lmtp_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->mem_len = 0;
	sp->size = 0;
	sp->error[0] = '\0';
	/* do not keep a huge buffer for the next message */
	if (sp->mem_alloc > 4 * 65536) {
		x_free(&sp->mem);
		sp->mem_alloc = 0;
	}
}

/* lmtp_spool_free - destroy */
void
lmtp_spool_free(struct lmtp_spool **spp)
{
	struct lmtp_spool *sp = *spp;

	if (sp == NULL)
		return;
	lmtp_spool_reset(sp);
	x_free(&sp->mem);
	x_free(&sp->dir);
	x_free(spp);
}

/* lmtp_spool_write_all - write everything to the file */
static int
lmtp_spool_write_all(struct lmtp_spool *sp, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(sp->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			x_err(sp->error, sizeof(sp->error), "write %s: %s",
			      sp->dir, n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* lmtp_spool_to_file - move the body from memory to a new file */
static int
lmtp_spool_to_file(struct lmtp_spool *sp)
{
	char *path = x_asprintf("%s/elemta-lmtp.XXXXXX", sp->dir);

	sp->fd = mkstemp(path);
	if (sp->fd < 0) {
		x_err(sp->error, sizeof(sp->error), "mkstemp %s: %s", path,
		      strerror(errno));
		x_free(&path);
		return -1;
	}
	(void)unlink(path);
	x_free(&path);
	if (lmtp_spool_write_all(sp, sp->mem, sp->mem_len) < 0)
		return -1;
	sp->mem_len = 0;
	return 0;
}

/* lmtp_spool_write - append body bytes */
int
lmtp_spool_write(void *ctx, const char *buf, size_t len)
{
	struct lmtp_spool *sp = ctx;
	size_t n;

	if (sp->error[0] != '\0')
		return -1;
	if (sp->fd < 0 && sp->mem_len + len > sp->threshold
	    && lmtp_spool_to_file(sp) < 0)
		return -1;
	if (sp->fd >= 0) {
		if (lmtp_spool_write_all(sp, buf, len) < 0)
			return -1;
	} else {
		if (sp->mem_len + len > sp->mem_alloc) {
			n = sp->mem_alloc ? sp->mem_alloc : 65536;
			while (n < sp->mem_len + len)
				n *= 2;
			sp->mem = x_realloc(sp->mem, n);
			sp->mem_alloc = n;
		}
		memcpy(sp->mem + sp->mem_len, buf, len);
		sp->mem_len += len;
	}
	sp->size += (long long)len;
	return 0;
}

/* lmtp_spool_read - read back (the spool is not changed: readers run
 * in several delivery threads) */
ssize_t
lmtp_spool_read(const struct lmtp_spool *sp, long long off, char *buf,
		size_t len, char *err, size_t errlen)
{
	ssize_t n;

	if (off >= sp->size)
		return 0;
	if ((long long)len > sp->size - off)
		len = (size_t)(sp->size - off);
	if (sp->fd < 0) {
		memcpy(buf, sp->mem + off, len);
		return (ssize_t)len;
	}
	do
		n = pread(sp->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		x_err(err, errlen, "read spool: %s", strerror(errno));
	return n;
}

/* lmtp_spool_size - bytes written */
long long
lmtp_spool_size(const struct lmtp_spool *sp)
{
	return sp->size;
}

/* lmtp_spool_in_file - true when the body is in a file */
int
lmtp_spool_in_file(const struct lmtp_spool *sp)
{
	return sp->fd >= 0;
}

/* lmtp_spool_error - the first error, or "" */
const char *
lmtp_spool_error(const struct lmtp_spool *sp)
{
	return sp->error;
}
