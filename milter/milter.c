/*++
 * NAME
 *	elemta-milter 8
 * SUMMARY
 *	SPF, DKIM, DMARC... in one milter pass, one Authentication-Results
 * SYNOPSIS
 *	elemta-milter [-fnpV] [-c FILE] [-o SECTION.KEY=VALUE]...
 *	elemta-milter -t FILE [--client-ip ADDR] [--helo NAME]
 *		[--sender ADDR] [--rcpt ADDR]... [--auth TYPE] [-o ...]
 *	elemta-milter genkey -d DOMAIN -s SELECTOR [-t rsa|ed25519]
 *		[-b BITS] [-D DIR]
 * DESCRIPTION
 *	main(): the shared runtime (command line, configuration, logging),
 *	then libmilter.  libmilter binds its own socket: a unix
 *	milter.listen spec is converted to libmilter's spelling and opened
 *	with smfi_opensocket() while still root, before runtime_start()
 *	detaches and drops privileges.  A TCP one is bound by us and
 *	relayed to a private unix socket libmilter listens on, so that
 *	milter.listen_allow applies at accept (milter-relay.c).
 *
 *	Signals.  smfi_main() starts a thread that sigwait()s for SIGHUP,
 *	SIGTERM and SIGINT and treats all three as "stop" (SIGHUP
 *	included), blocking them in the thread that called smfi_main() and
 *	in every thread created after.  So smfi_main() runs in a thread of
 *	its own, and the main thread keeps the signals unblocked, with
 *	lib/daemon's handlers (self-pipe).  That is not enough to reload
 *	on SIGHUP: the kernel hands a process-directed signal to any
 *	thread that does not block it when the main thread does (it blocks
 *	the three while in a handler, glibc blocks all while it creates a
 *	thread), and a thread in sigwait() does not block what it waits
 *	for: a burst of SIGHUPs stopped the daemon (t/0415).  So the
 *	milter reloads on SIGUSR1, which libmilter leaves alone (OpenDKIM
 *	does the same), and ignores SIGHUP once libmilter may run: an
 *	ignored signal that the main thread does not block is dropped
 *	when it is sent, before any thread can take it.  SIGTERM/SIGINT
 *	make the main thread call smfi_stop() and wait for smfi_main() to
 *	return, which waits for the sessions in progress (libmilter
 *	taking one of them first stops it the same way).  Should
 *	smfi_main() return by itself, the main thread notices, stops too,
 *	and exits with status 1.
 *
 *	The generation.  The configuration, the resolver and the DKIM
 *	keys are built together, at start and on SIGUSR1, and published as
 *	one generation (milter-gen.c); each connection takes a reference
 *	to the current one and reads all three from it until it closes.
 *	A reload builds the whole new generation first (a new resolver
 *	only if the [dns] section changed, the key tables read again) and
 *	publishes it once; if any part cannot be built, the running
 *	generation stays whole (configuration included), and the log
 *	says why.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "dns.h"
#include "listen.h"
#include "log.h"
#include "milter.h"
#include "milter-clamav.h"
#include "milter-dmarc.h"
#include "milter-keys.h"
#include "milter-relay.h"
#include "runtime.h"
#include "../sections-all.h"
#include "xalloc.h"

static volatile int milter_main_done;

/* milter_main_thread - libmilter's accept loop and workers */
static void *
milter_main_thread(void *arg)
{
	int *rc = arg;

	*rc = smfi_main();
	milter_main_done = 1;
	return NULL;
}

/*
 * milter_open - register with libmilter and bind its socket (as root).
 * A unix listener is bound by libmilter under the umask that gives it
 * the spec's mode, in a directory not writable by others, and gets its
 * owner and group before anyone but root could connect (see listen.h).
 * A TCP listener is ours, with milter.listen_allow, in front of a
 * private unix socket for libmilter (milter-relay.c).
 */
static void
milter_open(const struct milter_conf *mc)
{
	struct listen_spec ls, lib;
	struct listen_ids ids;
	char err[512], conn[400];
	mode_t old;
	int rc;

	if (listen_parse(mc->daemon.listen, &ls, err, sizeof(err)) < 0)
		msg_fatal_stderr("listen %s", err);
	lib = ls;
	if (ls.family != LISTEN_UNIX
	    && milter_relay_open(&ls, mc->daemon.user, &lib, err,
				 sizeof(err)) < 0)
		msg_fatal_stderr("listen %s", err);
	if (listen_unix_prepare(&lib, &ids, err, sizeof(err)) < 0)
		msg_fatal_stderr("listen %s", err);
	milter_relay_conn(&lib, conn, sizeof(conn));
	if (smfi_register(milter_desc) != MI_SUCCESS)
		msg_fatal("smfi_register failed");
	if (smfi_setconn(conn) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", conn);
	(void)smfi_settimeout((int)mc->milter_timeout);
	(void)smfi_setbacklog(256);
	/* no thread yet: the process-wide umask is ours to set */
	old = umask(0);
	umask(listen_unix_umask(&lib, old));
	rc = smfi_opensocket(0);
	umask(old);
	if (rc != MI_SUCCESS)
		msg_fatal_stderr("cannot listen on %s (%s)", mc->daemon.listen,
				 conn);
	if (listen_unix_own(&lib, &ids, err, sizeof(err)) < 0)
		msg_fatal_stderr("listen %s", err);
}

/* milter_gen_log - what a new generation brought (old: NULL at start) */
static void
milter_gen_log(const struct milter_gen *g, const struct milter_gen *old)
{
	const struct dns_conf *dc = conf_get(g->conf, &dns_conf_section);
	char list[400] = "";
	size_t i, n = 0;

	if (old != NULL && g->dns != old->dns) {
		for (i = 0; i < dc->nnameservers && n < sizeof(list); i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      "%s%s", i ? "," : "",
					      dc->nameservers[i]);
		msg_info("dns: new resolver for new connections: "
			 "nameservers=%s timeout=%d retries=%d",
			 n ? list : "resolv.conf", dc->timeout, dc->retries);
	}
	if (g->keys != NULL)
		msg_info("dkim signing: %s%zu keys, %zu signing-table entries",
			 old != NULL ? "reloaded " : "", g->keys->nkeys,
			 g->keys->nrules);
}

/* milter_reload - SIGUSR1 and elemta-ctl reload: a whole new
 * generation for new connections, or the running one kept whole */
static int
milter_reload(struct runtime *rt)
{
	struct milter_gen *old = milter_gen_current(), *g;
	struct conf *c;
	char err[512];

	if ((c = runtime_reload_build(rt)) == NULL) {
		milter_gen_unref(&old);
		return -1;
	}
	if ((g = milter_gen_build(conf_ref(c), old, err, sizeof(err)))
	    == NULL) {
		msg_error("%s: reload refused: keeping the configuration, "
			  "resolver and keys loaded before", err);
		snprintf(rt->reload_error, sizeof(rt->reload_error), "%s", err);
		conf_unref(&c);
		milter_gen_unref(&old);
		return -1;
	}
	/* the generation first: once "reloaded" is logged, a new
	 * connection gets the new one */
	milter_gen_publish(milter_gen_ref(g));
	runtime_reload_commit(rt, c);
	milter_gen_log(g, old);
	milter_clamav_reload();		/* its thread compiles the engine */
	milter_gen_unref(&g);
	milter_gen_unref(&old);
	/* the rows of the old configuration's messages written (its
	 * dmarc_history file may be another), bounded */
	(void)dmarc_history_flush(DMARC_HISTORY_RELOAD_MS);
	return 0;
}

/* milter_ignore_sighup - SIGHUP dropped when sent (see above) */
static void
milter_ignore_sighup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		msg_fatal("sigaction SIGHUP: %m");
}

/* milter_serve - run libmilter until a stop signal; the exit status */
static int
milter_serve(struct runtime *rt)
{
	struct pollfd pfd[2];
	pthread_t tid;
	int ev, rc = MI_SUCCESS, running = 1;

	/* SIGHUP ignored: libmilter would take it as "stop" (see the
	 * top of this file); SIGUSR1 reloads.  The relay's thread first:
	 * once libmilter's sigwait() thread exists, the main thread
	 * creates none (glibc blocks every signal in a thread while it
	 * creates one, and a blocked signal is queued, not ignored). */
	milter_ignore_sighup();
	milter_relay_start(rt);
	if ((errno = pthread_create(&tid, NULL, milter_main_thread, &rc)) != 0)
		msg_fatal("pthread_create: %m");
	pfd[0].fd = daemon_signal_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = control_main_fd();	/* -1: none, poll skips it */
	pfd[1].events = POLLIN;
	while (running && !milter_main_done) {
		if (poll(pfd, 2, 500) < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (pfd[1].revents & POLLIN)
			control_main_run();
		if (!(pfd[0].revents & POLLIN))
			continue;
		ev = daemon_signal_take();
		if (ev & DAEMON_EV_RELOAD)
			(void)runtime_do_reload(rt);
		if (ev & DAEMON_EV_STOP)
			running = 0;
	}
	if (!milter_main_done)
		msg_info("stopping: waiting for sessions in progress");
	milter_relay_stop();
	(void)smfi_stop();
	pthread_join(tid, NULL);
	if (rc != MI_SUCCESS) {
		msg_error("smfi_main failed");
		return 1;
	}
	if (running) {
		/* not asked to stop: libmilter stopped by itself (its
		 * sigwait() thread took a signal first): a failure, for
		 * the supervisor to restart us */
		msg_error("libmilter stopped without being asked to: exiting "
			  "with status 1");
		return 1;
	}
	return 0;
}

/* milter_finish - release what main() set up, before exit */
static void
milter_finish(struct milter_test *t, struct runtime *rt)
{
	milter_dkim_finish();
	milter_dmarc_finish();
	milter_greylist_finish();
	milter_clamav_finish();
	milter_rspamd_finish();
	milter_gen_publish(NULL);
	free(t->rcpts);
	runtime_finish(rt);
}

/* milter_init_stages - the first generation published, and each
 * stage's start-up; fatal on error */
static void
milter_init_stages(struct conf *c)
{
	struct milter_gen *g;
	char err[512];

	if ((g = milter_gen_build(conf_ref(c), NULL, err, sizeof(err)))
	    == NULL)
		msg_fatal_stderr("%s", err);
	milter_gen_log(g, NULL);
	milter_gen_publish(g);		/* our reference is the slot's */
	if (milter_spf_init(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (milter_dkim_init(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	milter_dkim_sign_init();
	if (milter_dmarc_init(c, err, sizeof(err)) < 0)
		msg_fatal_stderr("dmarc: %s", err);
	milter_pipeline_init();
	if (milter_clamav_init(c, err, sizeof(err)) < 0)
		msg_fatal_stderr("%s", err);
}

/* main - daemon or offline test */
int
main(int argc, char **argv)
{
	static const char usage[] =
		"  -t FILE          run the checks on a message file and print"
		" the result\n"
		"  --client-ip ADDR --helo NAME --sender ADDR --rcpt ADDR...\n"
		"                   the SMTP envelope for -t\n"
		"  --auth TYPE      -t: the client authenticated (signs)\n"
		"  genkey -d DOMAIN -s SELECTOR [-t rsa|ed25519] [-b BITS]"
		" [-D DIR]\n"
		"                   write a DKIM key pair and its TXT record\n";
	struct milter_test t;
	struct cli_extra extra;
	struct runtime rt;
	struct conf *c;
	const struct milter_conf *mc;
	int status = 0;

	/* "elemta-milter genkey ...": a key pair and its DNS record */
	if (argc > 1 && strcmp(argv[1], "genkey") == 0)
		return milter_keys_genkey(argc - 1, argv + 1);
	memset(&t, 0, sizeof(t));
	memset(&extra, 0, sizeof(extra));
	extra.shortopts = "t:";
	extra.longopts = milter_test_longopts;
	extra.usage = usage;
	extra.handle = milter_test_option;
	extra.ctx = &t;
	runtime_init(&rt, "elemta-milter", argc, argv, elemta_sections,
		     &milter_conf_section, offsetof(struct milter_conf, daemon),
		     &extra);
	rt.reload = milter_reload;

	c = conf_current();
	mc = conf_get(c, &milter_conf_section);
	/* Offline: log to stderr, whatever -f says, from the start: what
	 * loading the configuration warns about (a key too large, ...) is
	 * what -t is run to see */
	if (t.file != NULL)
		log_open("elemta-milter", LOG_DEST_STDERR, LOG_MAIL);
	milter_init_stages(c);

	if (t.file != NULL) {
		conf_unref(&c);
		status = milter_test_run(&t);
		milter_finish(&t, &rt);
		return status;
	}
	milter_open(mc);
	conf_unref(&c);
	milter_ctl_register();
	runtime_start(&rt);
	milter_clamav_start();		/* before libmilter's threads */
	status = milter_serve(&rt);
	milter_finish(&t, &rt);
	return status;
}
