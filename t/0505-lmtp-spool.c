/*++
 * NAME
 *	0505-lmtp-spool 1
 * SUMMARY
 *	unit test of the message spool (lmtp-spool.c)
 * DESCRIPTION
 *	A body in memory and one past the threshold (in an unlinked
 *	file) read back whole, in pieces, and past the end.  Then the
 *	file made unreadable under the spool (a pipe dup2()'ed over its
 *	descriptor: pread fails with ESPIPE) while several threads read
 *	it at once, as the delivery threads of one message do: each
 *	reader gets the error in its own buffer, and the spool's own
 *	error (the writer's) is not touched -- reading writes nothing
 *	that another thread reads.
 *--*/
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "../lmtp-bridge/lmtp-spool.h"

#define NREADERS 8

struct reader {
	const struct lmtp_spool *sp;
	pthread_t tid;
	ssize_t n;
	char err[256];
};

/* reader_run - read the spool over and over, keep the last outcome */
static void *
reader_run(void *arg)
{
	struct reader *r = arg;
	char buf[512];
	int i;

	for (i = 0; i < 1000; i++)
		r->n = lmtp_spool_read(r->sp, 0, buf, sizeof(buf), r->err,
				       sizeof(r->err));
	return NULL;
}

/* spool_fd - the descriptor of the spool's unlinked file, or -1 */
static int
spool_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[64], link[PATH_MAX];
	ssize_t n;
	int fd = -1;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strstr(link, "elemta-lmtp.") != NULL
		    && strstr(link, "(deleted)") != NULL)
			fd = atoi(de->d_name);
	}
	closedir(d);
	return fd;
}

/* main - the cases */
int
main(void)
{
	char tmpl[] = "/tmp/elemta-0505.XXXXXX", *dir;
	char body[3000], buf[4096], err[256];
	struct reader rd[NREADERS];
	struct lmtp_spool *sp;
	int pfd[2], fd, i, same;
	ssize_t n;

	plan_lazy();
	if ((dir = mkdtemp(tmpl)) == NULL)
		bail_out("mkdtemp: cannot create a directory");
	for (i = 0; i < (int)sizeof(body); i++)
		body[i] = (char)('a' + i % 26);

	/* in memory */
	sp = lmtp_spool_new(4096, dir);
	is_int(lmtp_spool_write(sp, body, 100), 0, "memory: write");
	is_int(lmtp_spool_in_file(sp), 0, "memory: not in a file");
	n = lmtp_spool_read(sp, 10, buf, 20, err, sizeof(err));
	ok(n == 20 && memcmp(buf, body + 10, 20) == 0,
	   "memory: 20 bytes read back at offset 10");
	is_int(lmtp_spool_read(sp, 100, buf, 20, err, sizeof(err)), 0,
	       "memory: 0 at the end");

	/* past the threshold: a file */
	lmtp_spool_reset(sp);
	lmtp_spool_free(&sp);
	sp = lmtp_spool_new(1000, dir);
	is_int(lmtp_spool_write(sp, body, 800) == 0
	       && lmtp_spool_write(sp, body + 800, 2200) == 0, 1,
	       "file: written past the threshold");
	is_int(lmtp_spool_in_file(sp), 1, "file: in a file");
	is_int(lmtp_spool_size(sp), 3000, "file: 3000 bytes");
	n = lmtp_spool_read(sp, 0, buf, sizeof(buf), err, sizeof(err));
	ok(n == 3000 && memcmp(buf, body, 3000) == 0, "file: read back whole");

	/* the file made unreadable while several threads read it */
	fd = spool_fd();
	ok(fd >= 0, "the spool's unlinked file is open (fd %d)", fd);
	if (fd >= 0 && pipe(pfd) == 0) {
		dup2(pfd[1], fd);
		for (i = 0; i < NREADERS; i++) {
			rd[i].sp = sp;
			rd[i].err[0] = '\0';
			pthread_create(&rd[i].tid, NULL, reader_run, &rd[i]);
		}
		for (i = 0, same = 0; i < NREADERS; i++) {
			pthread_join(rd[i].tid, NULL);
			same += rd[i].n == -1 && strcmp(rd[i].err,
				"read spool: Illegal seek") == 0;
		}
		is_int(same, NREADERS, "%d threads reading a broken spool: "
		       "each gets -1 and the error in its own buffer",
		       NREADERS);
		is_str(lmtp_spool_error(sp), "",
		       "the spool's own error is untouched by the readers");
		close(pfd[0]);
		close(pfd[1]);
	}
	lmtp_spool_free(&sp);
	rmdir(dir);
	done_testing();
	return exit_status();
}
