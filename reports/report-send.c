/*++
 * NAME
 *	report-send 3
 * SUMMARY
 *	a report as RFC 7489 7.2 mail, submitted with sendmail(1)
 * DESCRIPTION
 *	multipart/mixed: a short text part, then the report as
 *	application/gzip, base64, named receiver!domain!begin!end.xml.gz.
 *	Subject: "Report Domain: D Submitter: R Report-ID: <ID>".  Every
 *	value here was checked before (report_addr_ok, domain names): no
 *	header can be forged from DNS or a message.
 *
 *	sendmail(1) gets "-i -f FROM -- TO" after the configured command's
 *	words, the message on its standard input; its exit status 75
 *	(EX_TEMPFAIL, also Postfix's for a queue it cannot reach) means
 *	try again later.
 *--*/
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "report.h"
#include "xalloc.h"

/* report_base64 - data in base64 lines of 76 */
static void
report_base64(FILE *fp, const unsigned char *d, size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	size_t i, col = 0;
	unsigned v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)d[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < len)
			v |= d[i + 2];
		fputc(b64[(v >> 18) & 63], fp);
		fputc(b64[(v >> 12) & 63], fp);
		fputc(i + 1 < len ? b64[(v >> 6) & 63] : '=', fp);
		fputc(i + 2 < len ? b64[v & 63] : '=', fp);
		if ((col += 4) == 76) {
			fputc('\n', fp);
			col = 0;
		}
	}
	if (col > 0)
		fputc('\n', fp);
}

/* report_mail_build - the whole message (LF line ends, as sendmail
 * takes them) */
char *
report_mail_build(const struct report_meta *meta, const char *domain,
		  const char *to, const char *fname, const char *gz,
		  size_t gzlen, size_t *msglen)
{
	char *msg = NULL, date[64], boundary[64];
	struct tm tm;
	time_t now = time(NULL);
	FILE *fp;

	if ((fp = open_memstream(&msg, msglen)) == NULL)
		msg_fatal("open_memstream: %m");
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "=_dmarc_%lld_%u",
		 (long long)now, arc4random());
	fprintf(fp, "From: %s\n", meta->email);
	fprintf(fp, "To: %s\n", to);
	fprintf(fp, "Date: %s\n", date);
	fprintf(fp, "Subject: Report Domain: %s Submitter: %s\n"
		" Report-ID: <%s>\n", domain, meta->receiver,
		meta->report_id);
	fprintf(fp, "Message-ID: <dmarc.%lld.%u.%s>\n", (long long)now,
		arc4random(), meta->report_id);
	fprintf(fp, "MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
		"This is a DMARC aggregate report (RFC 9990).\n\n", boundary);
	fprintf(fp, "--%s\nContent-Type: text/plain; charset=us-ascii\n"
		"Content-Transfer-Encoding: 7bit\n\n"
		"DMARC aggregate report for %s from %s,\n"
		"%lld to %lld (seconds since the epoch, UTC).\n\n",
		boundary, domain, meta->receiver, (long long)meta->begin,
		(long long)meta->end);
	fprintf(fp, "--%s\nContent-Type: application/gzip; name=\"%s\"\n"
		"Content-Transfer-Encoding: base64\n"
		"Content-Disposition: attachment; filename=\"%s\"\n\n",
		boundary, fname, fname);
	report_base64(fp, (const unsigned char *)gz, gzlen);
	fprintf(fp, "\n--%s--\n", boundary);
	if (fclose(fp) != 0)
		msg_fatal("report message: %m");
	return msg;
}

/* report_sendmail_argv - the command's words, then "-i -f FROM -- TO";
 * words point into copy (the caller frees both); NULL: no command */
static const char **
report_sendmail_argv(char *copy, const char *from, const char *to)
{
	const char **argv = NULL;
	char *w, *save = NULL;
	size_t n = 0;

	for (w = strtok_r(copy, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		argv = x_realloc(argv, (n + 7) * sizeof(*argv));
		argv[n++] = w;
	}
	if (n == 0)
		return NULL;
	argv[n++] = "-i";
	argv[n++] = "-f";
	argv[n++] = from;
	argv[n++] = "--";
	argv[n++] = to;
	argv[n] = NULL;
	return argv;
}

/* report_pipe_write - msg into fd, SIGPIPE ignored; how much went */
static size_t
report_pipe_write(int fd, const char *msg, size_t len)
{
	size_t off = 0;
	ssize_t k;
	void (*old)(int);

	old = signal(SIGPIPE, SIG_IGN);
	while (off < len) {
		k = write(fd, msg + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	signal(SIGPIPE, old);
	return off;
}

/* report_sendmail_status - 0 sent (all written), 1 temporary, -1 failed
 * (err says why) */
static int
report_sendmail_status(const char *cmd, int status, int all_written,
		       char *err, size_t errlen)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && all_written)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL) {
		x_err(err, errlen, "%s: exit status %d (temporary)", cmd,
		      EX_TEMPFAIL);
		return 1;
	}
	if (WIFEXITED(status)) {
		x_err(err, errlen, "%s: exit status %d%s", cmd,
		      WEXITSTATUS(status),
		      WEXITSTATUS(status) == EX_OSERR ? " (cannot run it?)"
						      : "");
	} else {
		x_err(err, errlen, "%s: killed by signal %d", cmd,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	return -1;
}

/* report_mail_submit - sendmail(1) */
int
report_mail_submit(const char *sendmail, const char *from, const char *to,
		   const char *msg, size_t len, char *err, size_t errlen)
{
	char *copy = x_strdup(sendmail);
	const char **argv;
	size_t off;
	int fd[2], status, rc = -1;
	pid_t pid;

	if ((argv = report_sendmail_argv(copy, from, to)) == NULL) {
		x_err(err, errlen, "dmarc_report_sendmail is empty");
		free(copy);
		return -1;
	}
	if (pipe(fd) < 0) {
		x_err(err, errlen, "pipe: %m");
		goto out;
	}
	if ((pid = fork()) < 0) {
		x_err(err, errlen, "fork: %m");
		close(fd[0]);
		close(fd[1]);
		goto out;
	}
	if (pid == 0) {
		dup2(fd[0], 0);
		close(fd[0]);
		close(fd[1]);
		execv(argv[0], (char *const *)argv);
		_exit(EX_OSERR);
	}
	close(fd[0]);
	off = report_pipe_write(fd[1], msg, len);
	close(fd[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = report_sendmail_status(argv[0], status, off == len, err,
				    errlen);
out:
	free(argv);
	free(copy);
	return rc;
}
