/*++
 * NAME
 *	0418-milter-clamd-version 1
 * SUMMARY
 *	unit tests for clamd_version_parse (milter/milter-clamd.c)
 * DESCRIPTION
 *	A table of clamd VERSION replies: with a daily database (its
 *	version and build time, in the local time zone as clamd prints
 *	it), without one, and replies that are not VERSION replies
 *	(refused, never a crash).  TZ is set to UTC, so that the times
 *	are fixed.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter-clamav.h"
#include "tap.h"

struct vcase {
	const char *reply;
	int rc;				/* 0, or -1 */
	const char *engine;		/* with rc 0 */
	unsigned long dbver;
	long long dbtime;
};

static const struct vcase vcases[] = {
	{ "ClamAV 1.4.6/27123/Sat Dec  5 04:42:57 2026", 0, "1.4.6",
	  27123, 1796445777 },
	{ "ClamAV 1.0.7/27500/Tue Jan 13 09:05:01 2026", 0, "1.0.7",
	  27500, 1768295101 },
	{ "ClamAV 1.4.6", 0, "1.4.6", 0, 0 },
	{ "ClamAV 1.4.6/", -1, NULL, 0, 0 },
	{ "ClamAV 1.4.6/27123", -1, NULL, 0, 0 },
	{ "ClamAV 1.4.6/x/Sat Dec  5 04:42:57 2026", -1, NULL, 0, 0 },
	{ "ClamAV 1.4.6/27123/yesterday", -1, NULL, 0, 0 },
	{ "ClamAV 1.4.6/27123/Sat Dec  5 04:42:57 2026 extra", -1, NULL,
	  0, 0 },
	{ "UNKNOWN COMMAND", -1, NULL, 0, 0 },
	{ "", -1, NULL, 0, 0 },
};

int
main(void)
{
	char engine[64];
	unsigned long ver;
	time_t t;
	size_t i;
	int rc;

	setenv("TZ", "UTC", 1);
	tzset();
	plan_lazy();
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];

		strcpy(engine, "-");
		rc = clamd_version_parse(c->reply, engine, sizeof(engine),
					 &ver, &t);
		is_int(rc, c->rc, "\"%s\": %s", c->reply,
		       c->rc == 0 ? "parsed" : "refused");
		if (c->rc != 0)
			continue;
		is_str(engine, c->engine, "\"%s\": the engine", c->reply);
		is_int((long long)ver, (long long)c->dbver,
		       "\"%s\": the database's version", c->reply);
		is_int((long long)t, c->dbtime,
		       "\"%s\": the database's build time", c->reply);
	}
	done_testing();
	return exit_status();
}
