/*
 * clamav-scan-bench - ClamAV's scan rate in the process, as
 * elemta-milter scans (bench/milter-full compares it with clamdscan)
 *
 * SYNOPSIS
 *	clamav-scan-bench DATABASE ROUNDS FILE...
 *
 * DESCRIPTION
 *	Loads and compiles the signatures of DATABASE once, then scans
 *	every FILE ROUNDS times from memory, the way milter-clamav.c does
 *	(cl_fmap_open_memory, cl_scanmap_callback, every parser on,
 *	heuristics on).  Prints
 *
 *	    sigs=S load_ms=L files=F bytes=B scan_s=T files_per_s=R mb_per_s=M viruses=V
 *
 *	and exits 0, or 1 with a message on standard error.
 */
#include <clamav.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* csb_now - the monotonic clock, seconds */
static double
csb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* csb_slurp - FILE's content in a new buffer, its length in *len */
static unsigned char *
csb_slurp(const char *path, size_t *len)
{
	unsigned char *p;
	FILE *fp;
	long n;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0
	    || fseek(fp, 0, SEEK_SET) != 0
	    || (p = malloc(n ? n : 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	if (fread(p, 1, n, fp) != (size_t) n) {
		free(p);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = n;
	return p;
}

int
main(int argc, char **argv)
{
	struct cl_scan_options opts;
	struct cl_engine *engine;
	unsigned char **buf;
	size_t *len, bytes = 0;
	unsigned int sigs = 0;
	unsigned long scanned;
	const char *virname;
	int rounds, nfiles, r, i, viruses = 0;
	double t0, t1, t2;
	cl_error_t rc;
	cl_fmap_t *map;

	if (argc < 4 || (rounds = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: clamav-scan-bench DATABASE ROUNDS FILE...\n");
		return 1;
	}
	nfiles = argc - 3;
	buf = calloc(nfiles, sizeof(*buf));
	len = calloc(nfiles, sizeof(*len));
	if (buf == NULL || len == NULL)
		return 1;
	for (i = 0; i < nfiles; i++)
		if ((buf[i] = csb_slurp(argv[i + 3], &len[i])) == NULL) {
			fprintf(stderr, "clamav-scan-bench: cannot read %s\n",
				argv[i + 3]);
			return 1;
		}
	t0 = csb_now();
	if ((rc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS
	    || (engine = cl_engine_new()) == NULL
	    || (rc = cl_load(argv[1], engine, &sigs, CL_DB_STDOPT)) != CL_SUCCESS
	    || (rc = cl_engine_compile(engine)) != CL_SUCCESS) {
		fprintf(stderr, "clamav-scan-bench: %s: %s\n", argv[1],
			cl_strerror(rc));
		return 1;
	}
	t1 = csb_now();
	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0u;
	opts.general = CL_SCAN_GENERAL_HEURISTICS;
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nfiles; i++) {
			if ((map = cl_fmap_open_memory(buf[i], len[i])) == NULL) {
				fprintf(stderr, "clamav-scan-bench: "
					"cl_fmap_open_memory failed\n");
				return 1;
			}
			virname = NULL;
			scanned = 0;
			rc = cl_scanmap_callback(map, NULL, &virname, &scanned,
						 engine, &opts, NULL);
			cl_fmap_close(map);
			if (rc == CL_VIRUS)
				viruses++;
			else if (rc != CL_CLEAN) {
				fprintf(stderr, "clamav-scan-bench: %s: %s\n",
					argv[i + 3], cl_strerror(rc));
				return 1;
			}
			bytes += len[i];
		}
	t2 = csb_now();
	printf("sigs=%u load_ms=%.0f files=%d bytes=%zu scan_s=%.3f "
	       "files_per_s=%.0f mb_per_s=%.1f viruses=%d\n", sigs,
	       (t1 - t0) * 1000, nfiles * rounds, bytes, t2 - t1,
	       nfiles * rounds / (t2 - t1), bytes / 1048576.0 / (t2 - t1),
	       viruses);
	cl_engine_free(engine);
	return 0;
}
