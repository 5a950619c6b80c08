/*++
 * NAME
 *	tap-conf 3
 * SUMMARY
 *	one case of a configuration section's table, as TAP
 * DESCRIPTION
 *	See tap-conf.h.  Shared by the section tests of t/0015 and t/0016.
 *--*/
#include "config.h"

#include <stdlib.h>

#include "tap.h"
#include "tap-conf.h"

/* tap_conf_case - load section with override; check it loads or is
 * refused with want_err; the snapshot when it loaded */
struct conf *
tap_conf_case(const struct conf_section *section, const char *name,
	      const char *override, const char *want_err)
{
	const struct conf_section *sections[2] = { section, NULL };
	struct conf *conf;
	char *errors = NULL;

	conf = conf_load(sections, NULL, &override, override ? 1 : 0,
			 &errors);
	if (want_err == NULL) {
		if (!ok(conf != NULL, "conf: %s: loads", name))
			diag("errors: %s", errors ? errors : "");
	} else {
		ok(conf == NULL, "conf: %s: refused", name);
		like_str(errors, want_err, "conf: %s: error", name);
		conf_unref(&conf);
	}
	free(errors);
	return conf;
}
