/*++
 * NAME
 *	conf-value 3
 * SUMMARY
 *	option values the sections share: durations, sizes, optional strings
 * DESCRIPTION
 *	See conf.h.  libconfuse parse callbacks for a duration ("30s",
 *	"5m", "2h", "1d", "1w" in seconds) and a size ("64k", "10M", "1G"
 *	in bytes), each refusing what it cannot read with the option's
 *	name (libconfuse adds the file and line), and a copy of a string
 *	option that is NULL when the option is empty.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "xalloc.h"

/* conf_parse_scaled - number with an optional unit suffix */
static int
conf_parse_scaled(const char *value, const char *units, const long *mult,
		  long *out)
{
	char *end;
	long n;
	const char *u;

	errno = 0;
	while (isspace((unsigned char)*value))
		value++;
	if (!isdigit((unsigned char)*value))
		return -1;
	n = strtol(value, &end, 10);
	if (errno == ERANGE)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
			return -1;
		if (n > LONG_MAX / mult[u - units])
			return -1;
		n *= mult[u - units];
	}
	*out = n;
	return 0;
}

/* conf_cb_duration - "30s" "5m" "2h" "1d" "1w" -> seconds */
int
conf_cb_duration(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const long mult[] = { 1, 60, 3600, 86400, 604800 };

	if (conf_parse_scaled(value, "smhdw", mult, result) < 0) {
		cfg_error(cfg, "option '%s': bad duration '%s' (examples: 30s,"
			  " 5m, 2h, 1d)", opt->name, value);
		return -1;
	}
	return 0;
}

/* conf_cb_size - "512" "64k" "10M" "1G" -> bytes */
int
conf_cb_size(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const long mult[] = { 1024, 1024, 1048576, 1048576,
				     1073741824, 1073741824 };

	if (conf_parse_scaled(value, "kKmMgG", mult, result) < 0) {
		cfg_error(cfg, "option '%s': bad size '%s' (examples: 512, "
			  "64k, 10M, 1G)", opt->name, value);
		return -1;
	}
	return 0;
}

/* conf_strdup_opt - copy of a string option, NULL when empty */
char *
conf_strdup_opt(cfg_t *sec, const char *key)
{
	const char *s = cfg_getstr(sec, key);

	return s != NULL && *s != '\0' ? x_strdup(s) : NULL;
}
