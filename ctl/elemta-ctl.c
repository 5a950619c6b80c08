/*++
 * NAME
 *	elemta-ctl 8
 * SUMMARY
 *	look at and change the running Elemta daemons
 * SYNOPSIS
 *	elemta-ctl [-j] [-c FILE] [-o SECTION.KEY=VALUE]... COMMAND [ARGS]
 * DESCRIPTION
 *	Each daemon serves a control socket (lib/control.h), found from
 *	the same elemta.conf the daemons read (its control_socket
 *	options).  What a command shows or changes is the daemon's live
 *	state.  The commands that need no daemon (config) run here.
 *	See elemta-ctl(8) for the commands and the exit statuses.
 *--*/
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"
#include "ldapc.h"
#include "log.h"
#include "xalloc.h"
#include "../milter/milter-options.h"
#include "../policyd/policyd-options.h"
#include "../lmtp-bridge/lmtp-options.h"
#include "../sections-all.h"

/* the daemons, in the order "all" lists them */
static const struct ctl_daemon {
	const char *name;		/* as the user names it */
	const char *alias;		/* its section's name */
	const struct conf_section *section;
	size_t daemon_offset;		/* its struct daemon_conf */
} ctl_daemons[] = {
	{ "milter", "milter", &milter_conf_section,
	  offsetof(struct milter_conf, daemon) },
	{ "policyd", "policyd", &policyd_conf_section,
	  offsetof(struct policyd_conf, daemon) },
	{ "lmtp-bridge", "lmtp_bridge", &lmtp_conf_section,
	  offsetof(struct lmtp_conf, daemon) },
};
#define CTL_NDAEMONS (sizeof(ctl_daemons) / sizeof(ctl_daemons[0]))

/* the command line's configuration */
static const char *ctl_conf_path;
static int ctl_conf_given;
static const char **ctl_overrides;
static size_t ctl_noverrides;

static const char ctl_usage_text[] =
	"usage: elemta-ctl [-j|--json] [-c FILE] [-o SECTION.KEY=VALUE]... "
	"COMMAND [ARGS]\n"
	"commands:\n"
	"  status [DAEMON|all]          up, pid, version, generation, uptime\n"
	"  stats [DAEMON|all] [PREFIX]  the daemons' counters\n"
	"  reload [DAEMON|all]          reload the configuration\n"
	"  config check [-c FILE]       parse and validate the configuration\n"
	"  config dump [-n]             effective values (-n: only those set)\n"
	"  ratelimit show|reset KEY     policyd's live state of a key\n"
	"                               (ip:192.0.2.1, LIMIT:user:alice...)\n"
	"  dkim testkey DOMAIN SELECTOR the published key matches the milter's\n"
	"  dkim keygen -d DOMAIN -s SELECTOR [-t rsa|ed25519] [-b BITS] [-D DIR]\n"
	"  route ADDRESS                what the LMTP bridge does with a recipient\n"
	"  ldap check                   bind and search with the [ldap] settings\n"
	"  postfix [--apply] [DAEMON...] the main.cf lines (elemta-postfix-config)\n"
	"  dmarc report [--date D] [--domain D] [--dry-run] [--output DIR]\n"
	"                               aggregate reports (elemta-dmarc-report)\n"
	"  greylist list [CLIENT [SENDER [RCPT]]] | delete CLIENT [SENDER [RCPT]]\n"
	"           | allow CLIENT SENDER RCPT   the milter's greylist triplets\n"
	"DAEMON: milter, policyd, lmtp-bridge\n";

/* ctl_usage - the usage message; the usage exit status */
static int
ctl_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "elemta-ctl: %s\n", why);
	fputs(ctl_usage_text, stderr);
	return CTL_EXIT_USAGE;
}

/* ctl_conf_file - the file to read: NULL for the embedded defaults when
 * the default file is missing (as the daemons do) */
static const char *
ctl_conf_file(void)
{
	if (!ctl_conf_given && access(ctl_conf_path, F_OK) != 0
	    && errno == ENOENT)
		return NULL;
	return ctl_conf_path;
}

/* ctl_load - the configuration, or NULL with the problems on stderr */
static struct conf *
ctl_load(void)
{
	struct conf *c;
	char *errors = NULL;

	c = conf_load(elemta_sections, ctl_conf_file(), ctl_overrides,
		      ctl_noverrides, &errors);
	if (c == NULL) {
		fprintf(stderr, "%s", errors);
		free(errors);
	}
	return c;
}

/* ctl_socket - a daemon's control socket in c, or NULL (off) */
static const char *
ctl_socket(const struct conf *c, const struct ctl_daemon *d)
{
	const char *base = conf_get(c, d->section);

	return ((const struct daemon_conf *)(base + d->daemon_offset))
		->control_socket;
}

/* ctl_find_daemon - a daemon by name, or NULL */
static const struct ctl_daemon *
ctl_find_daemon(const char *name)
{
	size_t i;

	for (i = 0; i < CTL_NDAEMONS; i++)
		if (strcmp(name, ctl_daemons[i].name) == 0
		    || strcmp(name, ctl_daemons[i].alias) == 0)
			return &ctl_daemons[i];
	return NULL;
}

/* ctl_ask - one request to one daemon, into r (named) */
static void
ctl_ask(const struct conf *c, const struct ctl_daemon *d, const char *line,
	struct ctl_reply *r)
{
	const char *path = ctl_socket(c, d);

	memset(r, 0, sizeof(*r));
	r->name = (char *)d->name;
	if (path == NULL)
		ctl_reply_end(r, CTL_EXIT_USAGE, "unreachable",
			      "%s.control_socket is empty (off)", d->alias);
	else
		ctl_talk(path, line, r);
}

/* ctl_each - COMMAND [DAEMON|all] [ARGS]: ask one daemon or all of
 * them the same line; print; the worst status */
static int
ctl_each(int argc, char **argv)
{
	struct ctl_reply r[CTL_NDAEMONS];
	const struct ctl_daemon *one = NULL;
	struct conf *c;
	char line[1024];
	size_t n = 0, i;
	int a = 1, rc;

	if (argc > 1 && strcmp(argv[1], "all") != 0) {
		if ((one = ctl_find_daemon(argv[1])) == NULL
		    && strcmp(argv[0], "stats") != 0)
			return ctl_usage("unknown daemon");
		a = one != NULL ? 2 : 1;
	} else if (argc > 1) {
		a = 2;
	}
	if (argc - a > (strcmp(argv[0], "stats") == 0 ? 1 : 0))
		return ctl_usage("too many arguments");
	snprintf(line, sizeof(line), "%s%s%s", argv[0], a < argc ? " " : "",
		 a < argc ? argv[a] : "");
	if ((c = ctl_load()) == NULL)
		return CTL_EXIT_USAGE;
	for (i = 0; i < CTL_NDAEMONS; i++)
		if (one == NULL || one == &ctl_daemons[i])
			ctl_ask(c, &ctl_daemons[i], line, &r[n++]);
	conf_unref(&c);
	ctl_print(stdout, r, n, 1);
	rc = ctl_worst(r, n);
	for (i = 0; i < n; i++)
		ctl_reply_free(&r[i]);
	return rc;
}

/* ctl_one - ask one daemon the line argv[0..argc-1] joined (at least
 * min words, at most max); print the answer flat; its status */
static int
ctl_one(const char *daemon, int argc, char **argv, int min, int max)
{
	struct ctl_reply r;
	struct conf *c;
	char line[1024];
	size_t n = 0;
	int i, rc;

	if (argc < min || argc > max)
		return ctl_usage("wrong number of arguments");
	for (i = 0; i < argc; i++) {
		if (strchr(argv[i], ' ') != NULL || *argv[i] == '\0')
			return ctl_usage("an argument is empty or has a space");
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s",
				      i ? " " : "", argv[i]);
		if (n >= sizeof(line))
			return ctl_usage("arguments too long");
	}
	if ((c = ctl_load()) == NULL)
		return CTL_EXIT_USAGE;
	ctl_ask(c, ctl_find_daemon(daemon), line, &r);
	conf_unref(&c);
	r.name = NULL;
	ctl_print(stdout, &r, 1, 0);
	rc = r.status;
	ctl_reply_free(&r);
	return rc;
}

/* ctl_tool_path - a program of ours: beside us (installed: the same
 * sbindir), in the build tree (../DIR/NAME), else in SBINDIR; malloc'ed */
static char *
ctl_tool_path(const char *dir, const char *name)
{
	char self[4096], *slash, *p;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			p = x_asprintf("%s/%s", self, name);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
			p = x_asprintf("%s/../%s/%s", self, dir, name);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return x_asprintf("%s/%s", SBINDIR, name);
}

/* ctl_exec - run prog with first, then argv[from..argc-1]; returns only
 * when it cannot be run */
static int
ctl_exec(char *prog, const char *const *first, size_t nfirst, int argc,
	 char **argv, int from)
{
	char **av;
	size_t n = 0, i;
	int k;

	av = x_calloc(nfirst + (size_t)argc + 2, sizeof(*av));
	av[n++] = prog;
	for (i = 0; i < nfirst; i++)
		av[n++] = (char *)first[i];
	for (k = from; k < argc; k++)
		av[n++] = argv[k];
	execv(prog, av);
	fprintf(stderr, "elemta-ctl: %s: %s\n", prog, strerror(errno));
	return CTL_EXIT_USAGE;
}

/* ctl_dkim - "dkim testkey DOMAIN SELECTOR" (asks the milter, whose key
 * table it is) and "dkim keygen ..." (elemta-milter genkey) */
static int
ctl_dkim(int argc, char **argv)
{
	static const char *const genkey[] = { "genkey" };

	if (argc >= 2 && strcmp(argv[1], "testkey") == 0)
		return ctl_one("milter", argc, argv, 4, 4);
	if (argc < 2 || strcmp(argv[1], "keygen") != 0)
		return ctl_usage("dkim testkey DOMAIN SELECTOR | dkim keygen "
				 "-d DOMAIN -s SELECTOR [-t rsa|ed25519] "
				 "[-b BITS] [-D DIR]");
	return ctl_exec(ctl_tool_path("milter", "elemta-milter"), genkey, 1,
			argc, argv, 2);
}

/* ctl_run_tool - a program that reads our configuration file itself:
 * dir/name run with elemta-ctl's -c, then argv[from..]; an -o is
 * refused (what says the usage) */
static int
ctl_run_tool(const char *dir, const char *name, const char *why, int argc,
	     char **argv, int from)
{
	const char *first[2];
	size_t n = 0;

	if (ctl_noverrides > 0)
		return ctl_usage(why);
	if (ctl_conf_given) {
		first[n++] = "-c";
		first[n++] = ctl_conf_path;
	}
	return ctl_exec(ctl_tool_path(dir, name), first, n, argc, argv, from);
}

/* ctl_postfix - "postfix [--apply] [DAEMON...]": elemta-postfix-config
 * on our configuration file (its logic is there, not repeated here) */
static int
ctl_postfix(int argc, char **argv)
{
	return ctl_run_tool("contrib/postfix", "elemta-postfix-config",
			    "postfix: -o is not taken here (the lines come "
			    "from the file)", argc, argv, 1);
}

/* ctl_dmarc - "dmarc report [ARGS]": elemta-dmarc-report on our
 * configuration file, its options passed on */
static int
ctl_dmarc(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "report") != 0)
		return ctl_usage("dmarc report [--date D] [--domain D] "
				 "[--dry-run] [--output DIR]");
	return ctl_run_tool("reports", "elemta-dmarc-report",
			    "dmarc report: -o is not taken here (the report "
			    "reads the file)", argc, argv, 2);
}

/* ctl_ldap_base - a search of base itself (scope base), under label */
static int
ctl_ldap_base(struct ldapc *cl, const char *label, const char *base,
	      struct ctl_reply *r)
{
	static const char *const attrs[] = { "objectClass", NULL };
	struct ldapc_result res;
	char err[512], key[128];

	snprintf(key, sizeof(key), "%s.ldap_base", label);
	if (ldapc_search(cl, base, LDAPC_SCOPE_BASE, "(objectClass=*)",
			 attrs, 1, &res, err, sizeof(err)) < 0) {
		ctl_reply_add(r, key, "%s: %s", base, err);
		return -1;
	}
	ctl_reply_add(r, key, "%s: %s", base, res.nentries ? "found"
		      : "not found");
	ldapc_result_clear(&res);
	return 0;
}

/* ctl_ldap_root - search the root DSE, into r its naming context */
static int
ctl_ldap_root(struct ldapc *cl, struct ctl_reply *r, char *err,
	      size_t errlen)
{
	static const char *const attrs[] = { "namingContexts", NULL };
	struct ldapc_result res;
	size_t i;

	if (ldapc_search(cl, "", LDAPC_SCOPE_BASE, "(objectClass=*)", attrs,
			 1, &res, err, errlen) < 0)
		return -1;
	for (i = 0; i < res.nentries && i < 1; i++)
		if (ldapc_entry_value(&res.entries[i], "namingContexts"))
			ctl_reply_add(r, "naming_context", "%s",
				      ldapc_entry_value(&res.entries[i],
							"namingContexts"));
	ldapc_result_clear(&res);
	return 0;
}

/* ctl_ldap_check - connect and bind with lc, then the root DSE and each
 * daemon's ldap_base, into r */
static void
ctl_ldap_check(struct conf *c, const struct ldapc_conf *lc,
	       struct ctl_reply *r)
{
	const struct policyd_conf *pc = conf_get(c, &policyd_conf_section);
	const struct lmtp_conf *bc = conf_get(c, &lmtp_conf_section);
	struct ldapc *cl;
	char err[512];
	int bad = 0;

	if ((cl = ldapc_new(lc, err, sizeof(err))) == NULL) {
		ctl_reply_end(r, CTL_EXIT_NO, "failed", "%s", err);
		return;
	}
	if (ctl_ldap_root(cl, r, err, sizeof(err)) < 0) {
		ctl_reply_end(r, CTL_EXIT_NO, "failed", "%s", err);
		ldapc_free(&cl);
		return;
	}
	if (pc->ldap_base != NULL)
		bad |= ctl_ldap_base(cl, "policyd", pc->ldap_base, r) < 0;
	if (bc->ldap_lookup && bc->ldap_base != NULL)
		bad |= ctl_ldap_base(cl, "lmtp_bridge", bc->ldap_base, r) < 0;
	ldapc_free(&cl);
	if (bad)
		ctl_reply_end(r, CTL_EXIT_NO, "failed",
			      "bound, but a search base failed");
	else
		ctl_reply_end(r, CTL_EXIT_OK, "ok", "connected and bound");
}

/* ctl_ldap - "ldap check": connect, StartTLS, bind and search the root
 * DSE with the [ldap] settings, then each daemon's ldap_base */
static int
ctl_ldap(int argc, char **argv)
{
	const struct ldapc_conf *lc;
	struct ctl_reply r;
	struct conf *c;

	if (argc != 2 || strcmp(argv[1], "check") != 0)
		return ctl_usage("ldap check");
	if ((c = ctl_load()) == NULL)
		return CTL_EXIT_USAGE;
	memset(&r, 0, sizeof(r));
	lc = conf_get(c, &ldapc_conf_section);
	if (lc->uri == NULL) {
		ctl_reply_end(&r, CTL_EXIT_NO, "notfound",
			      "ldap.uri is not set: no directory configured");
	} else {
		ctl_reply_add(&r, "uri", "%s", lc->uri);
		ctl_reply_add(&r, "bind", "%s", lc->bind_dn ? lc->bind_dn
			      : "anonymous");
		ctl_reply_add(&r, "start_tls", "%s",
			      lc->start_tls ? "yes" : "no");
		ctl_ldap_check(c, lc, &r);
	}
	conf_unref(&c);
	r.reached = 1;
	ctl_print(stdout, &r, 1, 0);
	ctl_reply_free(&r);
	return r.status;
}

/* ctl_config - "config check [-c FILE]" and "config dump [-n]" */
static int
ctl_config(int argc, char **argv)
{
	char *errors = NULL;
	struct conf *c;
	int set_only = 0, i;

	if (argc < 2)
		return ctl_usage("config: check or dump?");
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && strcmp(argv[1], "dump") == 0)
			set_only = 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			ctl_conf_path = argv[++i];
			ctl_conf_given = 1;
		} else
			return ctl_usage("config: bad argument");
	}
	if (strcmp(argv[1], "check") == 0) {
		if ((c = ctl_load()) == NULL)
			return CTL_EXIT_NO;
		conf_unref(&c);
		printf("configuration OK (%s)\n", ctl_conf_file()
		       ? ctl_conf_file() : "embedded defaults");
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "dump") != 0)
		return ctl_usage("config: check or dump?");
	if (conf_dump_set(elemta_sections, ctl_conf_file(), ctl_overrides,
			  ctl_noverrides, set_only, stdout, &errors) < 0) {
		fprintf(stderr, "%s", errors);
		free(errors);
		return CTL_EXIT_NO;
	}
	return CTL_EXIT_OK;
}

/* ctl_options - the global options; -1: go on with argv[optind...],
 * else the exit status */
static int
ctl_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+c:hjo:V", longopts, NULL))
	       != -1) {
		switch (opt) {
		case 'c':
			ctl_conf_path = optarg;
			ctl_conf_given = 1;
			break;
		case 'j':
			ctl_json = 1;
			break;
		case 'o':
			if (strchr(optarg, '=') == NULL
			    || strchr(optarg, '.') == NULL)
				return ctl_usage("-o wants SECTION.KEY=VALUE");
			ctl_overrides = x_realloc(ctl_overrides,
						  (ctl_noverrides + 1)
						  * sizeof(*ctl_overrides));
			ctl_overrides[ctl_noverrides++] = optarg;
			break;
		case 'h':
			fputs(ctl_usage_text, stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("elemta-ctl (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			return ctl_usage(NULL);
		}
	}
	return -1;
}

/* ctl_command - run the command argv[0] */
static int
ctl_command(int argc, char **argv)
{
	if (argc < 1)
		return ctl_usage("no command");
	if (strcmp(argv[0], "status") == 0 || strcmp(argv[0], "stats") == 0
	    || strcmp(argv[0], "reload") == 0)
		return ctl_each(argc, argv);
	if (strcmp(argv[0], "config") == 0)
		return ctl_config(argc, argv);
	if (strcmp(argv[0], "dkim") == 0)
		return ctl_dkim(argc, argv);
	if (strcmp(argv[0], "greylist") == 0)
		return ctl_one("milter", argc, argv, 2, 5);
	if (strcmp(argv[0], "postfix") == 0)
		return ctl_postfix(argc, argv);
	if (strcmp(argv[0], "dmarc") == 0)
		return ctl_dmarc(argc, argv);
	if (strcmp(argv[0], "route") == 0)
		return ctl_one("lmtp-bridge", argc, argv, 2, 2);
	if (strcmp(argv[0], "ldap") == 0)
		return ctl_ldap(argc, argv);
	if (strcmp(argv[0], "ratelimit") == 0) {
		if (argc != 3 || (strcmp(argv[1], "show") != 0
				  && strcmp(argv[1], "reset") != 0))
			return ctl_usage("ratelimit show|reset KEY");
		return ctl_one("policyd", argc, argv, 3, 3);
	}
	return ctl_usage("unknown command");
}

/* main - options, then the command */
int
main(int argc, char **argv)
{
	int rc;

	log_open("elemta-ctl", LOG_DEST_STDERR, LOG_MAIL);
	ctl_conf_path = CLI_DEFAULT_CONF;
	if ((rc = ctl_options(argc, argv)) >= 0)
		return rc;
	return ctl_command(argc - optind, argv + optind);
}
