/*++
 * NAME
 *	cli 3
 * SUMMARY
 *	the command line every Elemta daemon shares
 * DESCRIPTION
 *	See cli.h.  The common options come first in the getopt table; a
 *	daemon's extra short letters are appended and its long options
 *	merged, so that `-t FILE` of the milter and `-c FILE` are parsed
 *	in one pass, in order.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xalloc.h"

#define CLI_COMMON_SHORT "+c:nfo:pVh"

static const struct option cli_common_long[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check", no_argument, NULL, 'n' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "option", required_argument, NULL, 'o' },
	{ "print", no_argument, NULL, 'p' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
};
#define CLI_NCOMMON (sizeof(cli_common_long) / sizeof(cli_common_long[0]))

/* cli_check_override - a -o argument must look like SECTION.KEY=VALUE */
static int
cli_check_override(const char *arg)
{
	const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');

	return eq != NULL && dot != NULL && dot < eq && dot > arg
	       && dot + 1 < eq ? 0 : -1;
}

/* cli_build_options - the getopt tables: common options plus a daemon's extra ones */
static void
cli_build_options(const struct cli_extra *extra, struct option **longoptsp,
		  char **shortoptsp)
{
	struct option *longopts;
	size_t nextra = 0, i;

	if (extra != NULL && extra->longopts != NULL)
		while (extra->longopts[nextra].name != NULL)
			nextra++;
	longopts = x_calloc(CLI_NCOMMON + nextra + 1, sizeof(*longopts));
	memcpy(longopts, cli_common_long, sizeof(cli_common_long));
	for (i = 0; i < nextra; i++)
		longopts[CLI_NCOMMON + i] = extra->longopts[i];
	*longoptsp = longopts;
	*shortoptsp = x_asprintf("%s%s", CLI_COMMON_SHORT,
				 extra && extra->shortopts ? extra->shortopts
							   : "");
}

/* cli_add_override - record one -o SECTION.KEY=VALUE argument */
static int
cli_add_override(struct cli *cli, char *arg, char *err, size_t errlen)
{
	if (cli_check_override(arg) < 0) {
		x_err(err, errlen, "-o %s: expected SECTION.KEY=VALUE", arg);
		return -1;
	}
	cli->overrides = x_realloc(cli->overrides,
				   (cli->noverrides + 1) * sizeof(char *));
	cli->overrides[cli->noverrides++] = arg;
	return 0;
}

/* cli_report_bad - describe an unknown option or a missing argument */
static void
cli_report_bad(char **argv, const char *shortopts, char *err, size_t errlen)
{
	if (optopt != 0 && strchr(shortopts, optopt) && optopt != '?')
		x_err(err, errlen, "option -%c needs an argument", optopt);
	else if (optopt != 0)
		x_err(err, errlen, "unknown option -%c", optopt);
	else
		x_err(err, errlen, "unknown option %s", argv[optind - 1]);
}

/* cli_handle_option - apply one option getopt returned */
static int
cli_handle_option(struct cli *cli, int c, char **argv,
		  const char *shortopts, const struct cli_extra *extra,
		  char *err, size_t errlen)
{
	switch (c) {
	case 'c':
		cli->conf_path = optarg;
		cli->conf_given = 1;
		break;
	case 'n':
		cli->check_only = 1;
		break;
	case 'f':
		cli->foreground = 1;
		break;
	case 'o':
		return cli_add_override(cli, optarg, err, errlen);
	case 'p':
		cli->print = 1;
		break;
	case 'V':
		cli->version = 1;
		break;
	case 'h':
		cli->help = 1;
		break;
	case '?':
	case ':':
		cli_report_bad(argv, shortopts, err, errlen);
		return -1;
	default:
		if (extra == NULL || extra->handle == NULL
		    || extra->handle(c, optarg, extra->ctx) < 0) {
			x_err(err, errlen, "bad use of option -%c", c);
			return -1;
		}
		break;
	}
	return 0;
}

/* cli_parse - parse the common options and a daemon's extra ones */
int
cli_parse(struct cli *cli, int argc, char **argv,
	  const struct cli_extra *extra, int *optindp, char *err,
	  size_t errlen)
{
	struct option *longopts;
	char *shortopts;
	int c, rc = 0;

	memset(cli, 0, sizeof(*cli));
	cli_build_options(extra, &longopts, &shortopts);
	optind = 1;
	opterr = 0;
	while (rc == 0
	       && (c = getopt_long(argc, argv, shortopts, longopts, NULL))
		      != -1)
		rc = cli_handle_option(cli, c, argv, shortopts, extra, err,
				       errlen);
	if (optindp != NULL)
		*optindp = optind;
	if (cli->conf_path == NULL)
		cli->conf_path = CLI_DEFAULT_CONF;
	free(shortopts);
	free(longopts);
	return rc;
}

/* cli_usage - print the usage on stderr */
void
cli_usage(const char *progname, const struct cli_extra *extra)
{
	fprintf(stderr,
		"usage: %s [-fnpVh] [-c FILE] [-o SECTION.KEY=VALUE]...\n"
		"  -c FILE   configuration file (default %s)\n"
		"  -n        check the configuration and exit\n"
		"  -f        stay in the foreground, log to stderr\n"
		"  -o S.K=V  override an option (repeatable)\n"
		"  -p        print the effective configuration and exit\n"
		"  -V        print the version and exit\n"
		"  -h        this help\n",
		progname, CLI_DEFAULT_CONF);
	if (extra != NULL && extra->usage != NULL)
		fputs(extra->usage, stderr);
}

/* cli_free - release what cli_parse allocated */
void
cli_free(struct cli *cli)
{
	x_free(&cli->overrides);
	cli->noverrides = 0;
}
