/*++
 * NAME
 *	conf 3
 * SUMMARY
 *	elemta.conf: schema from per-section tables, reference-counted snapshots
 * DESCRIPTION
 *	See conf.h.  The root libconfuse table is assembled at load time
 *	from the sections' tables.  Checks are installed as libconfuse
 *	validation callbacks so that they run while the file is parsed and
 *	their errors carry the file name and line.  An override
 *	"-o section.key=value" is parsed by a one-option libconfuse
 *	instance holding a copy of that option's definition (same type,
 *	same parse callback, same checks) and then copied into the main
 *	instance, so a value means the same on the command line as in the
 *	file.  libconfuse has no user pointer for callbacks; the loader in
 *	progress is found through a thread-local pointer.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "snapshot.h"
#include "xalloc.h"

struct conf_item {
	const struct conf_section *section;
	void *data;
};

struct conf {
	struct snapshot snap;
	char *path;
	size_t nitems;
	struct conf_item *items;
};

/* What the libconfuse callbacks need to know about the load in progress. */
struct conf_loader {
	const struct conf_section *const *sections;
	char *errors;			/* accumulated, one per line */
	size_t errlen;
	const char *override;		/* the -o argument being applied */
	cfg_t *root;			/* where libconfuse keeps file:line */
};

static _Thread_local struct conf_loader *conf_active;

static struct snapshot_slot conf_slot = SNAPSHOT_SLOT_INIT;

/* conf_adderr - append one line to the loader's error text */
static void
conf_adderr(struct conf_loader *ld, const char *line)
{
	size_t len = strlen(line);

	ld->errors = x_realloc(ld->errors, ld->errlen + len + 2);
	memcpy(ld->errors + ld->errlen, line, len);
	ld->errlen += len;
	ld->errors[ld->errlen++] = '\n';
	ld->errors[ld->errlen] = '\0';
}

/* conf_errfunc - libconfuse error callback: "file:line: message" */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct conf_loader *ld = conf_active;
	char msg[1024], line[1400], *p;
	const char *fname;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';	/* one problem, one line */
	if (ld == NULL) {
		/* not from conf_load or conf_dump: no caller to return it to */
		msg_error("configuration: %s", msg);
		return;
	}
	/* The lexer counts lines in the instance it is parsing (a section's
	 * own cfg_t), but only the root one knows the file name. */
	if (ld->override != NULL)
		snprintf(line, sizeof(line), "-o %s: %s", ld->override, msg);
	else if (cfg != NULL && (fname = cfg->filename ? cfg->filename
				 : ld->root ? ld->root->filename : NULL))
		snprintf(line, sizeof(line), "%s:%d: %s", fname, cfg->line,
			 msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	conf_adderr(ld, line);
}

/* conf_find_section - a section of the loader's schema by name */
static const struct conf_section *
conf_find_section(const struct conf_section *const *sections,
		  const char *name)
{
	for (; *sections != NULL; sections++)
		if (strcmp((*sections)->name, name) == 0)
			return *sections;
	return NULL;
}

/* conf_find_check - the check for section/key, or NULL */
static const struct conf_check *
conf_find_check(const struct conf_section *s, const char *key)
{
	const struct conf_check *ck;

	if (s == NULL || s->checks == NULL)
		return NULL;
	for (ck = s->checks; ck->key != NULL; ck++)
		if (strcmp(ck->key, key) == 0)
			return ck;
	return NULL;
}

/* conf_check_value - run one check on value index i of opt */
static int
conf_check_value(cfg_t *cfg, cfg_opt_t *opt, const struct conf_check *ck,
		 unsigned i)
{
	struct listen_spec ls;
	char err[512];
	const char *s;
	const char *const *v;
	long n;

	switch (ck->kind) {
	case CONF_CHECK_RANGE:
		n = cfg_opt_getnint(opt, i);
		if (n < ck->min || n > ck->max) {
			cfg_error(cfg, "option '%s': value %ld out of range "
				  "(%ld-%ld)", opt->name, n, ck->min, ck->max);
			return -1;
		}
		return 0;
	case CONF_CHECK_ENUM:
		s = cfg_opt_getnstr(opt, i);
		for (v = ck->values; *v != NULL; v++)
			if (s != NULL && strcmp(s, *v) == 0)
				return 0;
		cfg_error(cfg, "option '%s': unknown value '%s'", opt->name,
			  s ? s : "");
		return -1;
	case CONF_CHECK_LISTEN:
		s = cfg_opt_getnstr(opt, i);
		if (s == NULL || *s == '\0')
			return 0;
		if (listen_parse(s, &ls, err, sizeof(err)) < 0) {
			cfg_error(cfg, "option '%s': %s", opt->name, err);
			return -1;
		}
		return 0;
	case CONF_CHECK_PATH:
		s = cfg_opt_getnstr(opt, i);
		if (s == NULL || *s == '\0') {
			if (ck->min <= 0)
				return 0;
			cfg_error(cfg, "option '%s': must be an absolute path",
				  opt->name);
			return -1;
		}
		if (*s != '/') {
			cfg_error(cfg, "option '%s': must be an absolute path%s,"
				  " not '%s'", opt->name,
				  ck->min <= 0 ? " (or empty)" : "", s);
			return -1;
		}
		return 0;
	case CONF_CHECK_FUNC:
		s = cfg_opt_getnstr(opt, i);
		err[0] = '\0';
		if (ck->fn(s ? s : "", err, sizeof(err)) < 0) {
			cfg_error(cfg, "option '%s': %s", opt->name,
				  err[0] ? err : "bad value");
			return -1;
		}
		return 0;
	}
	msg_panic("conf_check_value: bad check kind %d", (int)ck->kind);
}

/* conf_validate - libconfuse validation callback for checked options */
static int
conf_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_section *s;
	const struct conf_check *ck;
	unsigned i;

	if (conf_active == NULL)
		return 0;
	s = conf_find_section(conf_active->sections, cfg_name(cfg));
	if ((ck = conf_find_check(s, opt->name)) == NULL)
		return 0;
	for (i = 0; i < cfg_opt_size(opt); i++)
		if (conf_check_value(cfg, opt, ck, i) < 0)
			return -1;
	return 0;
}

/* conf_init_cfg - a libconfuse instance for the given sections */
static cfg_t *
conf_init_cfg(const struct conf_section *const *sections, cfg_opt_t **rootp,
	      cfg_opt_t *only_opts)
{
	const struct conf_section *const *sp;
	const struct conf_check *ck;
	cfg_opt_t *root, end = CFG_END();
	size_t n = 0, i = 0;
	char path[256];
	cfg_t *cfg;

	for (sp = sections; *sp != NULL; sp++)
		n++;
	root = x_calloc(n + 1, sizeof(*root));
	for (sp = sections; *sp != NULL; sp++) {
		cfg_opt_t sec = CFG_SEC((*sp)->name,
					only_opts ? only_opts : (*sp)->opts,
					CFGF_NONE);

		root[i++] = sec;
	}
	root[i] = end;
	cfg = cfg_init(root, CFGF_NONE);
	if (cfg == NULL)
		msg_fatal("cfg_init: %m");
	cfg_set_error_function(cfg, conf_errfunc);
	for (sp = sections; *sp != NULL; sp++) {
		if ((*sp)->checks == NULL)
			continue;
		for (ck = (*sp)->checks; ck->key != NULL; ck++) {
			snprintf(path, sizeof(path), "%s|%s", (*sp)->name,
				 ck->key);
			if (only_opts != NULL
			    && strcmp(only_opts[0].name, ck->key) != 0)
				continue;
			cfg_set_validate_func(cfg, path, conf_validate);
		}
	}
	*rootp = root;
	return cfg;
}

/* conf_quote - a libconfuse quoted string for an arbitrary value */
static char *
conf_quote(const char *value)
{
	char *out = x_malloc(strlen(value) * 2 + 3), *p = out;

	*p++ = '"';
	for (; *value; value++) {
		if (*value == '"' || *value == '\\')
			*p++ = '\\';
		*p++ = *value;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

/* conf_override_text - the libconfuse text for one -o assignment */
static char *
conf_override_text(const char *section, const cfg_opt_t *opt,
		   const char *value)
{
	char *v, *text, *item, *save = NULL, *copy;
	size_t len;

	if (opt->type == CFGT_STR && !(opt->flags & CFGF_LIST)) {
		v = conf_quote(value);
	} else if ((opt->flags & CFGF_LIST) && value[0] != '{') {
		/* a,b,c -> {"a","b","c"} (strings) or {a,b,c} */
		copy = x_strdup(value);
		v = x_strdup("{");
		for (item = strtok_r(copy, ",", &save); item != NULL;
		     item = strtok_r(NULL, ",", &save)) {
			char *q = opt->type == CFGT_STR ? conf_quote(item)
							: x_strdup(item);

			len = strlen(v);
			v = x_realloc(v, len + strlen(q) + 2);
			snprintf(v + len, strlen(q) + 2, "%s%s",
				 len > 1 ? "," : "", q);
			free(q);
		}
		len = strlen(v);
		v = x_realloc(v, len + 2);
		strcpy(v + len, "}");
		free(copy);
	} else {
		v = x_strdup(value);
	}
	text = x_asprintf("%s {\n%s = %s\n}\n", section, opt->name, v);
	free(v);
	return text;
}

/* conf_copy_values - copy every value of opt `from` into opt `to` */
static void
conf_copy_values(cfg_opt_t *to, cfg_opt_t *from)
{
	unsigned i, n = cfg_opt_size(from);

	cfg_free_value(to);
	for (i = 0; i < n; i++) {
		switch (from->type) {
		case CFGT_INT:
			cfg_opt_setnint(to, cfg_opt_getnint(from, i), i);
			break;
		case CFGT_FLOAT:
			cfg_opt_setnfloat(to, cfg_opt_getnfloat(from, i), i);
			break;
		case CFGT_BOOL:
			cfg_opt_setnbool(to, cfg_opt_getnbool(from, i), i);
			break;
		case CFGT_STR:
			cfg_opt_setnstr(to, cfg_opt_getnstr(from, i), i);
			break;
		default:
			msg_panic("conf_copy_values: option %s: type %d "
				  "cannot be overridden", from->name,
				  (int)from->type);
		}
	}
}

/* conf_override_err - record a problem with one -o argument */
static void
conf_override_err(struct conf_loader *ld, const char *fmt, ...)
{
	char msg[1024], line[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "-o %s: %s", ld->override, msg);
	conf_adderr(ld, line);
}

/* conf_apply_override - parse, check and apply one "s.key=value" */
static int
conf_apply_override(struct conf_loader *ld, cfg_t *cfg, const char *arg)
{
	const struct conf_section *s = NULL, *one[2];
	cfg_opt_t *tmpl = NULL, *root, only[2] = { CFG_END(), CFG_END() };
	char *name = x_strdup(arg), *dot, *eq, *text;
	cfg_t *tmp;
	int rc = -1;

	ld->override = arg;
	eq = strchr(name, '=');
	dot = strchr(name, '.');
	if (eq == NULL || dot == NULL || dot > eq || dot == name
	    || dot + 1 == eq) {
		conf_override_err(ld, "expected SECTION.KEY=VALUE");
		goto out;
	}
	*dot = *eq = '\0';
	if ((s = conf_find_section(ld->sections, name)) == NULL) {
		conf_override_err(ld, "unknown section '%s'", name);
		goto out;
	}
	for (tmpl = s->opts; tmpl->name != NULL; tmpl++)
		if (strcmp(tmpl->name, dot + 1) == 0)
			break;
	if (tmpl->name == NULL || tmpl->type == CFGT_SEC) {
		conf_override_err(ld, "unknown option '%s' in section '%s'",
				  dot + 1, name);
		goto out;
	}
	/* A one-option instance with the same definition and checks. */
	only[0] = *tmpl;
	one[0] = s;
	one[1] = NULL;
	tmp = conf_init_cfg(one, &root, only);
	text = conf_override_text(s->name, tmpl, eq + 1);
	if (cfg_parse_buf(tmp, text) == CFG_SUCCESS) {
		conf_copy_values(cfg_getopt(cfg_getsec(cfg, s->name),
					    tmpl->name),
				 cfg_getopt(cfg_getsec(tmp, s->name),
					    tmpl->name));
		rc = 0;
	}
	free(text);
	cfg_free(tmp);
	free(root);
out:
	free(name);
	ld->override = NULL;
	return rc;
}

/* conf_snapshot_free - release a snapshot's sections and itself */
static void
conf_snapshot_free(void *obj)
{
	struct conf *c = obj;
	size_t i;

	for (i = 0; i < c->nitems; i++) {
		if (c->items[i].section->release != NULL)
			c->items[i].section->release(c->items[i].data);
		free(c->items[i].data);
	}
	free(c->items);
	free(c->path);
	free(c);
}

/* conf_build - copy every section into typed structs */
static struct conf *
conf_build(struct conf_loader *ld, cfg_t *cfg, const char *path)
{
	const struct conf_section *const *sp;
	struct conf *c = x_calloc(1, sizeof(*c));
	char err[512], line[1200];
	size_t n = 0;
	int failed = 0;

	for (sp = ld->sections; *sp != NULL; sp++)
		n++;
	c->items = x_calloc(n, sizeof(*c->items));
	c->path = path ? x_strdup(path) : NULL;
	snapshot_init(&c->snap, c, conf_snapshot_free);
	for (sp = ld->sections; *sp != NULL; sp++) {
		struct conf_item *it = &c->items[c->nitems++];

		it->section = *sp;
		it->data = x_calloc(1, (*sp)->size ? (*sp)->size : 1);
		err[0] = '\0';
		if ((*sp)->load != NULL
		    && (*sp)->load(cfg_getsec(cfg, (*sp)->name), it->data, err,
				   sizeof(err)) < 0) {
			snprintf(line, sizeof(line), "%s: section %s: %s",
				 path ? path : "(defaults)", (*sp)->name,
				 err[0] ? err : "invalid");
			conf_adderr(ld, line);
			failed = 1;
		}
	}
	if (failed) {
		conf_snapshot_free(c);
		return NULL;
	}
	return c;
}

/* conf_strip_comments - blank out comments, keeping every newline
 *
 * libconfuse 3.3 counts each comment's line more than once, so its
 * line numbers drift after the first comment.  Comments ("#", "//" to
 * the end of the line, and C-style blocks) are replaced by spaces here,
 * outside quoted strings, and libconfuse never sees one. */
static void
conf_strip_comments(char *p)
{
	char quote = 0;

	for (; *p; p++) {
		if (quote) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			for (; *p && *p != '\n'; p++)
				*p = ' ';
			if (*p == '\0')
				break;
		} else if (p[0] == '/' && p[1] == '*') {
			*p++ = ' ';
			*p = ' ';
			for (p++; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p != '\n')
					*p = ' ';
			if (*p == '\0')
				break;
			*p++ = ' ';
			*p = ' ';
		}
	}
}

/* conf_read_file - a whole file in memory, NUL-terminated, or NULL
 * with *errp set */
static char *
conf_read_file(const char *path, int *errp)
{
	char *text = NULL;
	size_t len = 0, n;
	char buf[8192];
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		*errp = errno;
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		text = x_realloc(text, len + n + 1);
		memcpy(text + len, buf, n);
		len += n;
	}
	if (ferror(fp)) {
		*errp = errno ? errno : EIO;
		fclose(fp);
		free(text);
		return NULL;
	}
	fclose(fp);
	if (text == NULL)
		text = x_strdup("");
	else
		text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		*errp = EINVAL;		/* a binary file */
		free(text);
		return NULL;
	}
	return text;
}

/* conf_parse_text - parse a file's text, errors naming the file */
static int
conf_parse_text(cfg_t *cfg, const char *path, char *text)
{
	FILE *fp;
	int rc;

	conf_strip_comments(text);
	if ((fp = fmemopen(text, strlen(text), "r")) == NULL)
		msg_fatal("fmemopen: %m");
	free(cfg->filename);
	cfg->filename = x_strdup(path);
	cfg->line = 1;
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	return rc;
}

/* conf_parse - the libconfuse instance for a file plus overrides, or
 * NULL with the problems in the loader */
static cfg_t *
conf_parse(struct conf_loader *ld, const char *path,
	   const char *const *overrides, size_t noverrides,
	   cfg_opt_t **rootp)
{
	cfg_t *cfg;
	char *text;
	size_t i;
	int rc, err, ok = 1;

	cfg = conf_init_cfg(ld->sections, rootp, NULL);
	ld->root = cfg;
	if (path != NULL) {
		if ((text = conf_read_file(path, &err)) == NULL) {
			char line[1200];

			snprintf(line, sizeof(line), "%s: cannot open: %s",
				 path, strerror(err));
			conf_adderr(ld, line);
			ok = 0;
		} else {
			rc = conf_parse_text(cfg, path, text);
			free(text);
			if (rc != CFG_SUCCESS) {
				if (ld->errors == NULL)
					conf_adderr(ld, "parse error");
				ok = 0;
			}
		}
	} else if (cfg_parse_buf(cfg, "") != CFG_SUCCESS) {
		ok = 0;
	}
	for (i = 0; ok && i < noverrides; i++)
		if (conf_apply_override(ld, cfg, overrides[i]) < 0)
			ok = 0;
	ld->root = NULL;
	if (!ok) {
		cfg_free(cfg);
		free(*rootp);
		*rootp = NULL;
		return NULL;
	}
	return cfg;
}

/* conf_load - parse a file (or the defaults) plus overrides */
struct conf *
conf_load(const struct conf_section *const *sections, const char *path,
	  const char *const *overrides, size_t noverrides, char **errors)
{
	struct conf_loader ld = { sections, NULL, 0, NULL, NULL };
	struct conf_loader *saved = conf_active;
	struct conf *c = NULL;
	cfg_opt_t *root;
	cfg_t *cfg;

	*errors = NULL;
	conf_active = &ld;
	if ((cfg = conf_parse(&ld, path, overrides, noverrides, &root))
	    != NULL) {
		c = conf_build(&ld, cfg, path);
		cfg_free(cfg);
		free(root);
	}
	conf_active = saved;
	if (c == NULL)
		*errors = ld.errors ? ld.errors
				    : x_strdup("invalid configuration\n");
	else
		free(ld.errors);
	return c;
}

/* conf_sec_set - whether a section (every instance of a titled one)
 * holds an option set by the file or an override */
static int
conf_sec_set(cfg_opt_t *opt)
{
	unsigned i, j;
	cfg_t *sec;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		sec = cfg_opt_getnsec(opt, i);
		for (j = 0; sec->opts[j].name != NULL; j++)
			if (sec->opts[j].type == CFGT_SEC
			    ? conf_sec_set(&sec->opts[j])
			    : (sec->opts[j].flags & CFGF_MODIFIED) != 0)
				return 1;
	}
	return 0;
}

/* conf_print_set_only - libconfuse print filter: non-zero skips what
 * was left at its default */
static int
conf_print_set_only(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)cfg;
	if (opt->type == CFGT_SEC)
		return !conf_sec_set(opt);
	return !(opt->flags & CFGF_MODIFIED);
}

/* conf_dump - print the effective configuration, every option */
int
conf_dump(const struct conf_section *const *sections, const char *path,
	  const char *const *overrides, size_t noverrides, FILE *out,
	  char **errors)
{
	return conf_dump_set(sections, path, overrides, noverrides, 0, out,
			     errors);
}

/* conf_dump_set - conf_dump, or with set_only what the file and the
 * overrides set (postconf -n) */
int
conf_dump_set(const struct conf_section *const *sections, const char *path,
	      const char *const *overrides, size_t noverrides, int set_only,
	      FILE *out, char **errors)
{
	struct conf_loader ld = { sections, NULL, 0, NULL, NULL };
	struct conf_loader *saved = conf_active;
	struct conf *c;
	cfg_opt_t *root;
	cfg_t *cfg;
	int rc = -1;

	*errors = NULL;
	conf_active = &ld;
	if ((cfg = conf_parse(&ld, path, overrides, noverrides, &root))
	    != NULL) {
		/* Cross-checks too: dump only what would load. */
		if ((c = conf_build(&ld, cfg, path)) != NULL) {
			if (set_only)
				cfg_set_print_filter_func(cfg,
							  conf_print_set_only);
			cfg_print(cfg, out);
			conf_unref(&c);
			rc = 0;
		}
		cfg_free(cfg);
		free(root);
	}
	conf_active = saved;
	if (rc < 0)
		*errors = ld.errors ? ld.errors
				    : x_strdup("invalid configuration\n");
	else
		free(ld.errors);
	return rc;
}

/* conf_get - the typed struct of one section */
const void *
conf_get(const struct conf *c, const struct conf_section *s)
{
	size_t i;

	for (i = 0; i < c->nitems; i++)
		if (c->items[i].section == s)
			return c->items[i].data;
	msg_panic("conf_get: section '%s' is not in the schema", s->name);
}

/* conf_path - where the snapshot came from (NULL: defaults) */
const char *
conf_path(const struct conf *c)
{
	return c->path;
}

/* conf_generation - the publication number of this snapshot */
unsigned long
conf_generation(const struct conf *c)
{
	return c->snap.generation;
}

/* conf_ref - one more reference */
struct conf *
conf_ref(struct conf *c)
{
	return c != NULL ? snapshot_ref(&c->snap) : NULL;
}

/* conf_unref - drop a reference, freeing on the last; clears *cp */
void
conf_unref(struct conf **cp)
{
	snapshot_unref(*cp != NULL ? &(*cp)->snap : NULL);
	*cp = NULL;
}

/* conf_current - a new reference to the published snapshot */
struct conf *
conf_current(void)
{
	return snapshot_current(&conf_slot);
}

/* conf_publish - make c current (takes the caller's reference); NULL
 * unpublishes */
void
conf_publish(struct conf *c)
{
	snapshot_publish(&conf_slot, c != NULL ? &c->snap : NULL);
}

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
