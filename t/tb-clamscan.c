/*++
 * NAME
 *	tb-clamscan 1
 * SUMMARY
 *	scan files with libclamav and a given signature database
 * SYNOPSIS
 *	tb-clamscan -d sigdir file...
 * DESCRIPTION
 *	Loads the signatures in sigdir (a directory or one database file)
 *	the way the milter does (cl_load with CL_DB_STDOPT, every parser on,
 *	heuristic alerts on), then scans each file and prints one line:
 *
 *	    file: Test.EICAR.NDB.UNOFFICIAL FOUND
 *	    file: OK
 *
 *	The test harness builds the database (EICAR and clam.exe, see
 *	t/lib/peers.sh): there are no official signatures offline.
 * DIAGNOSTICS
 *	Exit 1 if anything was found, 0 if every file is clean, 2 on any
 *	error (bad usage, database, unreadable file), with a message on
 *	standard error.  A scan error outranks a detection.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <clamav.h>

static const char *prog = "tb-clamscan";

/* clamscan_usage - print usage and exit with the error status */
static void
clamscan_usage(void)
{
	fprintf(stderr, "usage: %s -d sigdir file...\n", prog);
	exit(2);
}

/* clamscan_engine - load and compile the signatures in dir */
static struct cl_engine *
clamscan_engine(const char *dir)
{
	struct cl_engine *engine;
	unsigned int sigs = 0;
	cl_error_t rc;

	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		fprintf(stderr, "%s: cl_init: %s\n", prog, cl_strerror(rc));
		exit(2);
	}
	if ((engine = cl_engine_new()) == NULL) {
		fprintf(stderr, "%s: cl_engine_new failed\n", prog);
		exit(2);
	}
	if ((rc = cl_load(dir, engine, &sigs, CL_DB_STDOPT)) != CL_SUCCESS) {
		fprintf(stderr, "%s: cl_load %s: %s\n", prog, dir,
		        cl_strerror(rc));
		exit(2);
	}
	if ((rc = cl_engine_compile(engine)) != CL_SUCCESS) {
		fprintf(stderr, "%s: cl_engine_compile: %s\n", prog,
		        cl_strerror(rc));
		exit(2);
	}
	return engine;
}

/* clamscan_file - scan one file and print the verdict; return 0/1/2 */
static int
clamscan_file(const struct cl_engine *engine, const char *path)
{
	struct cl_scan_options opts = {0};
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_error_t rc;

	opts.parse = ~0u;
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	rc = cl_scanfile(path, &virname, &scanned, engine, &opts);
	switch (rc) {
	case CL_CLEAN:
		printf("%s: OK\n", path);
		return 0;
	case CL_VIRUS:
		printf("%s: %s FOUND\n", path, virname);
		return 1;
	default:
		printf("%s: ERROR\n", path);
		fprintf(stderr, "%s: %s: %s\n", prog, path, cl_strerror(rc));
		return 2;
	}
}

/* main - parse the command line, load the database, scan each file */
int
main(int argc, char **argv)
{
	struct cl_engine *engine;
	const char *dir = NULL;
	int ch, i, rc, status = 0;

	while ((ch = getopt(argc, argv, "d:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		default:
			clamscan_usage();
		}
	}
	if (dir == NULL || optind == argc)
		clamscan_usage();
	engine = clamscan_engine(dir);
	for (i = optind; i < argc; i++) {
		rc = clamscan_file(engine, argv[i]);
		if (rc > status)
			status = rc;
	}
	cl_engine_free(engine);
	return status;
}
