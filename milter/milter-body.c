/*++
 * NAME
 *	milter-body 3
 * SUMMARY
 *	the one copy of a message: memory, then a private spool file
 * DESCRIPTION
 *	See milter-body.h.  One struct milter_body per message, reached
 *	only from the thread serving its connection: no locks.
 *
 *	Line ends: the copy is the message with CRLF line ends.  A LF not
 *	preceded by CR (in the same write or the one before it) is
 *	written as CRLF; nothing else is changed.
 *
 *	Metrics: elemta_milter_body_total{where} at end of message:
 *	memory, file, oversize, error.
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "milter-body.h"
#include "xalloc.h"

struct milter_body {
	unsigned char *mem;		/* the copy while in memory */
	size_t cap;
	int fd;				/* the spool file, or -1 */
	size_t size;			/* bytes of the message so far */
	int oversize;			/* over scan_max_size: dropped */
	char *error;			/* the spool failed: dropped */
	int last_cr;			/* the last byte written was CR */
	int eoh;			/* the empty line is written */
	void *map;			/* the file mapped (milter_body_map) */
	size_t map_len;
};

static struct metric *m_body;

/* milter_body_init - the metrics (once, before threads) */
void
milter_body_init(void)
{
	m_body = metrics_counter("elemta_milter_body_total",
				 "Messages kept for the content stages, by "
				 "where (memory, file) or why not (oversize, "
				 "error)", "where");
}

/* body_unmap - drop a mapping of the file */
static void
body_unmap(struct milter_body *b)
{
	if (b->map != NULL && b->map != MAP_FAILED)
		(void)munmap(b->map, b->map_len);
	b->map = NULL;
	b->map_len = 0;
}

/* body_drop - give up the copy (memory and file); the size stays */
static void
body_drop(struct milter_body *b)
{
	body_unmap(b);
	x_free(&b->mem);
	b->cap = 0;
	if (b->fd >= 0)
		(void)close(b->fd);
	b->fd = -1;
}

/* milter_body_start - keep this message's copy */
void
milter_body_start(struct milter_msg *m)
{
	if (m->body != NULL)
		return;
	m->body = x_calloc(1, sizeof(*m->body));
	m->body->fd = -1;
}

/* milter_body_free - the copy and its file */
void
milter_body_free(struct milter_msg *m)
{
	struct milter_body *b = m->body;

	if (b == NULL)
		return;
	body_drop(b);
	free(b->error);
	x_free(&m->body);
}

/* milter_body_spool_dir - body_spool_dir of conf, relative to
 * database.directory, made 0700 if missing and checked to be the
 * daemon's own; malloc'ed, or NULL with err */
char *
milter_body_spool_dir(const struct conf *conf, char *err, size_t errlen)
{
	const struct db_conf *dbc = conf_get(conf, &db_conf_section);
	const struct milter_conf *mc = conf_get(conf, &milter_conf_section);
	const char *p = mc->body_spool_dir;
	struct stat st;
	char *dir = p[0] == '/' || dbc->directory == NULL
		    ? x_strdup(p) : x_asprintf("%s/%s", dbc->directory, p);

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		x_err(err, errlen, "mkdir %s: %s", dir, strerror(errno));
	else if (lstat(dir, &st) < 0)
		x_err(err, errlen, "%s: %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		x_err(err, errlen, "%s: not a directory", dir);
	else if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		x_err(err, errlen, "%s: must be the daemon's own (uid %ld, "
		      "mode 0700), is uid %ld mode %04o", dir,
		      (long)geteuid(), (long)st.st_uid,
		      (unsigned)(st.st_mode & 07777));
	else
		return dir;
	free(dir);
	return NULL;
}

/* body_spool_open - a private file with no name in dir; the descriptor,
 * or -1 with err */
static int
body_spool_open(const char *dir, char *err, size_t errlen)
{
	char *tmpl;
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		x_err(err, errlen, "open %s (O_TMPFILE): %s", dir,
		      strerror(errno));
		return -1;
	}
#endif
	/* no O_TMPFILE here: a name for an instant, in a directory no one
	 * else can enter */
	tmpl = x_asprintf("%s/body.XXXXXX", dir);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0) {
		x_err(err, errlen, "mkostemp %s: %s", tmpl, strerror(errno));
	} else if (unlink(tmpl) < 0) {
		x_err(err, errlen, "unlink %s: %s", tmpl, strerror(errno));
		(void)close(fd);
		fd = -1;
	}
	free(tmpl);
	return fd;
}

/* body_write_all - write len bytes to fd; 0, or -1 with errno */
static int
body_write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* body_fail - the spool failed: log, drop the copy, remember why */
static void
body_fail(struct milter_msg *m, const char *why)
{
	struct milter_body *b = m->body;

	qid_warn(m->qid, "body: %s: the content stages cannot scan this "
		 "message", why);
	body_drop(b);
	free(b->error);
	b->error = x_asprintf("spool: %s", why);
}

/* body_spill - move the copy from memory to a spool file; 0 or -1 */
static int
body_spill(struct milter_msg *m)
{
	struct milter_body *b = m->body;
	char err[512], *dir = milter_body_spool_dir(m->conn->conf, err,
						    sizeof(err));
	int fd = -1;

	if (dir != NULL)
		fd = body_spool_open(dir, err, sizeof(err));
	free(dir);
	if (fd >= 0 && body_write_all(fd, b->mem, b->size) < 0) {
		x_err(err, sizeof(err), "write: %s", strerror(errno));
		(void)close(fd);
		fd = -1;
	}
	if (fd < 0) {
		body_fail(m, err);
		return -1;
	}
	x_free(&b->mem);
	b->cap = 0;
	b->fd = fd;
	return 0;
}

/* body_append - len bytes, as they are, to the copy */
static void
body_append(struct milter_msg *m, const unsigned char *p, size_t len)
{
	const struct milter_conf *mc = m->conn->mc;
	struct milter_body *b = m->body;
	char err[300];
	size_t want;

	if (len == 0)
		return;
	b->last_cr = p[len - 1] == '\r';
	if (b->oversize || b->error != NULL) {
		b->size += len;
		return;
	}
	if (b->size + len > (size_t)mc->scan_max_size) {
		b->oversize = 1;
		body_drop(b);
		b->size += len;
		return;
	}
	body_unmap(b);
	if (b->fd < 0 && b->size + len > (size_t)mc->body_memory_max
	    && body_spill(m) < 0) {
		b->size += len;
		return;
	}
	if (b->fd >= 0) {
		if (body_write_all(b->fd, p, len) < 0) {
			x_err(err, sizeof(err), "write: %s", strerror(errno));
			body_fail(m, err);
		}
		b->size += len;
		return;
	}
	if (b->size + len > b->cap) {
		want = b->cap ? b->cap : 4096;
		while (want < b->size + len)
			want *= 2;
		if (want > (size_t)mc->body_memory_max)
			want = (size_t)mc->body_memory_max;
		b->mem = x_realloc(b->mem, want);
		b->cap = want;
	}
	memcpy(b->mem + b->size, p, len);
	b->size += len;
}

/* body_put - len bytes to the copy, a bare LF written as CRLF */
static void
body_put(struct milter_msg *m, const unsigned char *p, size_t len)
{
	static const unsigned char crlf[] = "\r\n";
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i > 0 ? p[i - 1] == '\r' : m->body->last_cr)
			continue;
		body_append(m, p + start, i - start);
		body_append(m, crlf, 2);
		start = i + 1;
	}
	body_append(m, p + start, len - start);
}

/* milter_body_header - "Name:value" CRLF */
void
milter_body_header(struct milter_msg *m, const char *name,
		   const char *value)
{
	static const unsigned char crlf[] = "\r\n";

	if (m->body == NULL)
		return;
	body_put(m, (const unsigned char *)name, strlen(name));
	body_append(m, (const unsigned char *)":", 1);
	if (value != NULL)
		body_put(m, (const unsigned char *)value, strlen(value));
	body_append(m, crlf, 2);
}

/* milter_body_eoh - the empty line */
void
milter_body_eoh(struct milter_msg *m)
{
	static const unsigned char crlf[] = "\r\n";

	if (m->body == NULL || m->body->eoh)
		return;
	m->body->eoh = 1;
	body_append(m, crlf, 2);
}

/* milter_body_chunk - a piece of the body (the empty line first, should
 * end of headers not have been seen) */
void
milter_body_chunk(struct milter_msg *m, const unsigned char *chunk,
		  size_t len)
{
	if (m->body == NULL)
		return;
	milter_body_eoh(m);
	body_put(m, chunk, len);
}

/* milter_body_eom - log, count, and act on a message over the limit */
void
milter_body_eom(struct milter_msg *m)
{
	const struct milter_conf *mc = m->conn->mc;
	struct milter_body *b = m->body;
	const char *where;
	char *note;

	if (b == NULL)
		return;
	milter_body_eoh(m);	/* a message of headers only */
	where = b->oversize ? "oversize" : b->error != NULL ? "error"
		: b->fd >= 0 ? "file" : "memory";
	if (m_body != NULL)
		metric_inc(m_body, where);
	if (!b->oversize)
		return;
	qid_info(m->qid, "body: size=%zu over scan_max_size=%ld: content "
		 "scan %s", b->size, mc->scan_max_size,
		 mc->scan_oversize_action == MILTER_BODY_OVERSIZE_TEMPFAIL
		 ? "refused (tempfail)" : "skipped");
	milter_msg_summary(m, "scan=oversize size=%zu", b->size);
	if (mc->scan_oversize_action == MILTER_BODY_OVERSIZE_TEMPFAIL) {
		milter_msg_enforce(m, MILTER_REPLY_SCAN_SIZE, MILTER_TEMPFAIL,
				   "message too big to be scanned");
		return;
	}
	note = x_asprintf("skipped (size %zu over the limit of %ld)",
			  b->size, mc->scan_max_size);
	milter_msg_add_header(m, MILTER_BODY_SCAN_HEADER, note);
	free(note);
}

/* milter_body_kept - a copy is kept for this message */
int
milter_body_kept(const struct milter_msg *m)
{
	return m->body != NULL;
}

/* milter_body_size - the message's size */
size_t
milter_body_size(const struct milter_msg *m)
{
	return m->body != NULL ? m->body->size : 0;
}

/* milter_body_oversize - over scan_max_size */
int
milter_body_oversize(const struct milter_msg *m)
{
	return m->body != NULL && m->body->oversize;
}

/* milter_body_error - why there is no copy, or NULL */
const char *
milter_body_error(const struct milter_msg *m)
{
	if (m->body == NULL)
		return "off";
	if (m->body->oversize)
		return "oversize";
	return m->body->error;
}

/* milter_body_map - the whole message, in memory or mapped */
int
milter_body_map(struct milter_msg *m, const unsigned char **ptr,
		size_t *len)
{
	static const unsigned char empty[1];
	struct milter_body *b = m->body;
	char err[300];

	if (milter_body_error(m) != NULL)
		return -1;
	if (b->fd < 0 || b->size == 0) {
		*ptr = b->mem != NULL ? b->mem : empty;
		*len = b->size;
		return 0;
	}
	if (b->map == NULL) {
		b->map = mmap(NULL, b->size, PROT_READ, MAP_PRIVATE, b->fd, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			x_err(err, sizeof(err), "mmap: %s", strerror(errno));
			body_fail(m, err);
			return -1;
		}
		b->map_len = b->size;
	}
	*ptr = b->map;
	*len = b->map_len;
	return 0;
}

/* milter_body_fd - the copy as a file (spilled first if in memory) */
int
milter_body_fd(struct milter_msg *m)
{
	struct milter_body *b = m->body;

	if (milter_body_error(m) != NULL)
		return -1;
	if (b->fd < 0 && body_spill(m) < 0)
		return -1;
	return b->fd;
}
