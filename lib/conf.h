/*++
 * NAME
 *	conf 3h
 * SUMMARY
 *	elemta.conf: schema from per-section tables, reference-counted snapshots
 * SYNOPSIS
 *	#include "conf.h"
 * DESCRIPTION
 *	One file, one libconfuse section per daemon plus shared sections.
 *	Each section is declared, next to the code that uses it, as a
 *	struct conf_section: its libconfuse option table, range/enum checks
 *	for options, and a load() that copies values into a typed struct.
 *	conf_load() assembles the schema from a list of sections, parses
 *	the file, applies "-o section.key=value" overrides (parsed and
 *	checked exactly like the file) and returns an immutable snapshot.
 *
 *	Errors name file:line ("elemta.conf:12: ...") or the override
 *	("-o milter.listen=bogus: ...").  Unknown sections and keys, wrong
 *	types and out-of-range values are all errors.
 *
 *	A snapshot is reference-counted: conf_current() hands out a new
 *	reference to the published snapshot; a reload builds a new one and
 *	conf_publish()es it, and work in progress keeps the one it holds
 *	until it calls conf_unref().  All of this is thread-safe
 *	(lib/snapshot does the counting and the publication).
 *--*/
#ifndef ELEMTA_CONF_H
#define ELEMTA_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <confuse.h>

/* Checks run while parsing (so that errors carry the line number). */
enum conf_check_kind {
	CONF_CHECK_RANGE,	/* integer in [min, max] */
	CONF_CHECK_ENUM,	/* string is one of values[] (NULL-terminated) */
	CONF_CHECK_LISTEN,	/* a listener spec (lib/listen.h); "" allowed */
	CONF_CHECK_FUNC,	/* fn(value-as-string) returns 0 or fills err */
	CONF_CHECK_PATH,	/* an absolute path; "" allowed unless min > 0 */
};

struct conf_check {
	const char *key;
	enum conf_check_kind kind;
	long min, max;
	const char *const *values;
	int (*fn)(const char *value, char *err, size_t errlen);
};
#define CONF_CHECK_END { NULL, 0, 0, 0, NULL, NULL }

struct conf_section {
	const char *name;		/* "log", "milter", ... */
	cfg_opt_t *opts;		/* terminated by CFG_END() */
	const struct conf_check *checks;/* terminated by CONF_CHECK_END, or NULL */
	size_t size;			/* sizeof the typed struct */
	/* Copy (and cross-check) values into out, which is zeroed and
	 * `size` bytes.  Return 0, or -1 with a message in err. */
	int (*load)(cfg_t *sec, void *out, char *err, size_t errlen);
	/* Free what load() allocated inside out (not out itself). */
	void (*release)(void *out);
};

struct conf;

/*
 * conf_load - parse a configuration into a new snapshot (refcount 1)
 *
 * sections: NULL-terminated list (the full schema is assembled above lib/,
 * in sections-all.c).
 * path: the file; NULL means the embedded defaults (no file).
 * overrides: "section.key=value" strings, applied after the file.
 * On error returns NULL and sets *errors to a malloc'ed text, one
 * problem per line; the caller frees it.
 */
struct conf *conf_load(const struct conf_section *const *sections,
		       const char *path, const char *const *overrides,
		       size_t noverrides, char **errors);

/* conf_dump - parse like conf_load() and print every option of every
 * section with its effective value (doveconf/postconf style); 0, or -1
 * with *errors set */
int conf_dump(const struct conf_section *const *sections, const char *path,
	      const char *const *overrides, size_t noverrides, FILE *out,
	      char **errors);

/* conf_dump_set - conf_dump(); with set_only, only the options the file
 * or an override set, and the sections holding them (postconf -n) */
int conf_dump_set(const struct conf_section *const *sections,
		  const char *path, const char *const *overrides,
		  size_t noverrides, int set_only, FILE *out, char **errors);

/* conf_get - the typed struct of one section (never NULL for a
 * section that was in the schema; panics otherwise) */
const void *conf_get(const struct conf *c, const struct conf_section *s);

/* conf_path - the file this snapshot came from, or NULL (defaults) */
const char *conf_path(const struct conf *c);
/* conf_generation - 1 for the first snapshot published, then 2, 3... */
unsigned long conf_generation(const struct conf *c);

struct conf *conf_ref(struct conf *c);
void conf_unref(struct conf **cp);

/* The published snapshot: conf_current() returns a new reference (or
 * NULL before the first conf_publish); conf_publish() takes over the
 * caller's reference and drops the one it replaces. */
struct conf *conf_current(void);
void conf_publish(struct conf *c);

/* libconfuse parse callbacks for human-friendly values; use with
 * CFG_INT_CB.  Durations: "30", "30s", "5m", "2h", "1d", "1w" (stored
 * in seconds).  Sizes: "512", "64k", "10M", "1G" (stored in bytes). */
int conf_cb_duration(cfg_t *cfg, cfg_opt_t *opt, const char *value,
		     void *result);
int conf_cb_size(cfg_t *cfg, cfg_opt_t *opt, const char *value,
		 void *result);

/* Helpers for load(): copy a string option (NULL for "") */
char *conf_strdup_opt(cfg_t *sec, const char *key);

#endif
