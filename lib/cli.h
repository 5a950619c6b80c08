/*++
 * NAME
 *	cli 3h
 * SUMMARY
 *	the command line every Elemta daemon shares
 * SYNOPSIS
 *	#include "cli.h"
 * DESCRIPTION
 *	-c FILE		configuration file (default SYSCONFDIR/elemta/elemta.conf)
 *	-n		check the configuration, print problems, exit non-zero
 *	-f		foreground, log to stderr
 *	-o S.KEY=VALUE	override an option (repeatable), checked like the file
 *	-p		print the effective configuration (every option) and exit
 *	-V		print the version and exit
 *	-h		usage
 *
 *	A daemon may add options of its own (struct cli_extra): their
 *	short letters and long options are merged into the getopt table
 *	and handed to its callback.
 *--*/
#ifndef ELEMTA_CLI_H
#define ELEMTA_CLI_H

#include <stddef.h>
#include <getopt.h>

struct cli {
	const char *conf_path;	/* NULL: default (and optional) */
	int conf_given;		/* -c was used: the file must exist */
	int check_only;		/* -n */
	int foreground;		/* -f */
	int print;		/* -p */
	int version;		/* -V */
	int help;		/* -h */
	const char **overrides;	/* -o values, in order */
	size_t noverrides;
};

struct cli_extra {
	const char *shortopts;		/* e.g. "t:" */
	const struct option *longopts;	/* terminated by {0}; may be NULL */
	const char *usage;		/* extra usage lines */
	/* return 0, or -1 to fail with a usage message */
	int (*handle)(int opt, const char *arg, void *ctx);
	void *ctx;
};

/* cli_parse - 0, or -1 with a message in err (bad option, missing
 * argument, malformed -o).  Remaining arguments start at *optindp. */
int cli_parse(struct cli *cli, int argc, char **argv,
	      const struct cli_extra *extra, int *optindp,
	      char *err, size_t errlen);
void cli_usage(const char *progname, const struct cli_extra *extra);
void cli_free(struct cli *cli);

#define CLI_DEFAULT_CONF SYSCONFDIR "/elemta/elemta.conf"

#endif
