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
 *	its own, and the main thread keeps the three signals unblocked,
 *	with lib/daemon's handlers (self-pipe): Linux delivers a
 *	process-directed signal to the main thread first when it does not
 *	block it (kernel/signal.c, complete_signal), so libmilter's thread
 *	never sees them.  The main thread reloads on SIGHUP
 *	(runtime_reload) and on SIGTERM/SIGINT calls smfi_stop() and waits
 *	for smfi_main() to return, which waits for the sessions in
 *	progress.  Should smfi_main() return by itself, the main thread
 *	notices and stops too.
 *
 *	The resolver.  One is published at start (lib/dns: dns_publish);
 *	each connection takes a reference to the current one.  A reload
 *	that changes the [dns] section builds a new one and publishes it:
 *	new connections use it, those in progress finish on theirs, and
 *	the old one goes with its last connection.  If the new one cannot
 *	be built, the old one stays, and the log says so.
 *--*/
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "daemon.h"
#include "dns.h"
#include "listen.h"
#include "log.h"
#include "milter.h"
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

/* milter_dns_reload - a new resolver for new connections if the
 * [dns] section changed from old to now */
static void
milter_dns_reload(const struct conf *old, const struct conf *now)
{
	const struct dns_conf *dc = conf_get(now, &dns_conf_section);
	struct dns_resolver *r;
	char err[512], list[400] = "";
	size_t i, n = 0;

	if (dns_conf_equal(conf_get(old, &dns_conf_section), dc))
		return;
	if ((r = dns_resolver_new(dc, err, sizeof(err))) == NULL) {
		msg_error("dns: %s: keeping the resolver of before", err);
		return;
	}
	dns_publish(r);
	for (i = 0; i < dc->nnameservers && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      i ? "," : "", dc->nameservers[i]);
	msg_info("dns: new resolver for new connections: nameservers=%s "
		 "timeout=%d retries=%d", n ? list : "resolv.conf",
		 dc->timeout, dc->retries);
}

/* milter_reload - SIGHUP: a new snapshot for new connections */
static void
milter_reload(struct runtime *rt)
{
	struct conf *old = conf_current(), *now;
	char err[512];

	if (runtime_reload(rt) == 0) {
		now = conf_current();
		milter_dns_reload(old, now);
		if (milter_dkim_sign_reload(conf_get(now,
					&milter_conf_section), err,
					sizeof(err)) < 0)
			msg_error("dkim signing: %s: keeping the keys loaded "
				  "before", err);
		conf_unref(&now);
	}
	conf_unref(&old);
}

/* milter_serve - run libmilter until a stop signal */
static void
milter_serve(struct runtime *rt)
{
	struct pollfd pfd;
	pthread_t tid;
	int ev, rc = MI_SUCCESS, running = 1;

	if ((errno = pthread_create(&tid, NULL, milter_main_thread, &rc)) != 0)
		msg_fatal("pthread_create: %m");
	milter_relay_start(rt);
	pfd.fd = daemon_signal_fd();
	pfd.events = POLLIN;
	while (running && !milter_main_done) {
		if (poll(&pfd, 1, 500) < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (!(pfd.revents & POLLIN))
			continue;
		ev = daemon_signal_take();
		if (ev & DAEMON_EV_RELOAD)
			milter_reload(rt);
		if (ev & DAEMON_EV_STOP)
			running = 0;
	}
	if (!milter_main_done)
		msg_info("stopping: waiting for sessions in progress");
	milter_relay_stop();
	(void)smfi_stop();
	pthread_join(tid, NULL);
	if (rc != MI_SUCCESS)
		msg_error("smfi_main failed");
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
	struct dns_resolver *dns;
	struct conf *c;
	const struct milter_conf *mc;
	char err[512];
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

	c = conf_current();
	mc = conf_get(c, &milter_conf_section);
	if ((dns = dns_resolver_new(conf_get(c, &dns_conf_section), err,
				    sizeof(err))) == NULL)
		msg_fatal_stderr("dns: %s", err);
	dns_publish(dns);		/* the reference is published now */
	if (milter_spf_init(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (milter_dkim_init(err, sizeof(err)) < 0)
		msg_fatal("%s", err);
	if (milter_dkim_sign_init(mc, err, sizeof(err)) < 0)
		msg_fatal_stderr("dkim signing: %s", err);
	if (milter_dmarc_init(c, err, sizeof(err)) < 0)
		msg_fatal_stderr("dmarc: %s", err);
	milter_pipeline_init();

	if (t.file != NULL) {
		/* Offline: log to stderr, whatever -f says. */
		log_open("elemta-milter", LOG_DEST_STDERR, LOG_MAIL);
		conf_unref(&c);
		status = milter_test_run(&t, dns);
		milter_dkim_sign_finish();
		milter_dkim_finish();
		milter_dmarc_finish();
		milter_greylist_finish();
		dns_publish(NULL);
		free(t.rcpts);
		runtime_finish(&rt);
		return status;
	}
	milter_open(mc);
	conf_unref(&c);
	runtime_start(&rt);
	milter_serve(&rt);
	milter_dkim_sign_finish();
	milter_dkim_finish();
	milter_dmarc_finish();
	milter_greylist_finish();
	dns_publish(NULL);
	free(t.rcpts);
	runtime_finish(&rt);
	return 0;
}
