/*++
 * NAME
 *	milter-greylist-util 3
 * SUMMARY
 *	greylisting's pure parts: a triplet's state, normalisation, lists
 * DESCRIPTION
 *	See milter-greylist.h.  Nothing here logs or keeps state; the
 *	allow file is read only when the configuration is loaded.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf.h"
#include "milter.h"
#include "milter-greylist.h"
#include "str.h"
#include "xalloc.h"

/* greylist_step - see milter-greylist.h */
enum greylist_state
greylist_step(struct greylist_rec *r, int found, int64_t now,
	      const struct greylist_params *p)
{
	/* unknown, unused for too long, or a retry that came too late:
	 * the triplet starts again */
	if (!found || now - r->last > p->max_age
	    || (r->passed == 0 && now - r->first > p->window)) {
		r->first = now;
		r->passed = 0;
		r->last = now;
		return GREYLIST_NEW;
	}
	r->last = now;
	if (r->passed != 0)
		return GREYLIST_KNOWN;
	if (now - r->first < p->delay)
		return GREYLIST_EARLY;
	r->passed = now;
	return GREYLIST_PASSED;
}

/* greylist_wait - seconds until the triplet may pass */
long
greylist_wait(const struct greylist_rec *r, int64_t now,
	      const struct greylist_params *p)
{
	int64_t w = r->first + p->delay - now;

	return w < 1 ? 1 : (long)w;
}

/* greylist_state_name - for the log */
const char *
greylist_state_name(enum greylist_state s)
{
	switch (s) {
	case GREYLIST_NEW:
		return "new";
	case GREYLIST_EARLY:
		return "early";
	case GREYLIST_PASSED:
		return "passed";
	case GREYLIST_KNOWN:
		return "known";
	}
	return "?";
}

/* greylist_field - the n-th '='-separated field of s (0-based), its
 * length in *len; NULL if there are fewer */
static const char *
greylist_field(const char *s, int n, size_t *len)
{
	const char *e;

	for (; n > 0; n--) {
		if ((s = strchr(s, '=')) == NULL)
			return NULL;
		s++;
	}
	e = strchr(s, '=');
	*len = e != NULL ? (size_t)(e - s) : strlen(s);
	return s;
}

/* greylist_srs - "srs0=hash=tt=domain=local" (an SRS local part, lower
 * case) as "local@domain" into out; 1 if it was SRS */
static int
greylist_srs(const char *local, char *out, size_t len)
{
	const char *dom, *loc;
	size_t dlen, llen;

	if (strncmp(local, "srs1=", 5) == 0) {
		/* SRS1=hash=first-forwarder==hash=tt=domain=local */
		if ((local = strstr(local + 5, "==")) == NULL)
			return 0;
		local += 2;
	} else if (strncmp(local, "srs0=", 5) == 0) {
		local += 5;
	} else {
		return 0;
	}
	/* hash=tt=domain=local: the local part may hold '=' itself */
	if ((dom = greylist_field(local, 2, &dlen)) == NULL || dlen == 0
	    || (loc = greylist_field(local, 3, &llen)) == NULL)
		return 0;
	llen = strlen(loc);
	if (llen == 0 || llen + dlen + 2 > len)
		return 0;
	snprintf(out, len, "%.*s@%.*s", (int)llen, loc, (int)dlen, dom);
	return 1;
}

/* greylist_sender - see milter-greylist.h */
int
greylist_sender(const char *sender, char *out, size_t len)
{
	char buf[GREYLIST_KEY_MAX], srs[GREYLIST_KEY_MAX], *at, *local, *p;

	if (sender[0] == '\0' || strcmp(sender, "<>") == 0) {
		snprintf(out, len, "<>");
		return len > 2 ? 0 : -1;
	}
	if (str_lower_buf(buf, sizeof(buf), sender) < 0)
		return -1;
	if ((at = strrchr(buf, '@')) != NULL) {
		*at = '\0';
		if (greylist_srs(buf, srs, sizeof(srs))) {
			snprintf(buf, sizeof(buf), "%s", srs);
			at = strrchr(buf, '@');
			*at = '\0';
		}
	}
	local = buf;
	/* BATV: prvs=tag=local, msprvs1=tag=local */
	if (strncmp(local, "prvs=", 5) == 0
	    || strncmp(local, "msprvs1=", 8) == 0) {
		if ((p = strchr(strchr(local, '=') + 1, '=')) != NULL
		    && p[1] != '\0')
			local = p + 1;
	}
	if ((p = strchr(local, '+')) != NULL && p != local)
		*p = '\0';
	if (at != NULL) {
		if (strlen(local) + strlen(at + 1) + 2 > len)
			return -1;
		snprintf(out, len, "%s@%s", local, at + 1);
	} else {
		if (strlen(local) + 1 > len)
			return -1;
		snprintf(out, len, "%s", local);
	}
	return 0;
}

/* greylist_client_net - see milter-greylist.h */
int
greylist_client_net(const char *addr, unsigned v4, unsigned v6, char *out,
		    size_t len)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int family;
	unsigned bits;

	if (addr == NULL || (family = cidr_addr_text(addr, a)) == 0)
		return -1;
	bits = family == AF_INET ? v4 : v6;
	cidr_mask(a, family, bits);
	if (inet_ntop(family, a, text, sizeof(text)) == NULL)
		return -1;
	if ((size_t)snprintf(out, len, "%s/%u", text, bits) >= len)
		return -1;
	return 0;
}

/* greylist_addr_domain - the part after the last @ */
const char *
greylist_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* greylist_name_match - name is entry or a subdomain of it */
static int
greylist_name_match(const char *entry, const char *name)
{
	size_t el, nl;

	if (*entry == '.' || *entry == '@')
		entry++;
	el = strlen(entry);
	nl = strlen(name);
	if (el == 0 || nl < el)
		return 0;
	if (strcasecmp(name + nl - el, entry) != 0)
		return 0;
	return nl == el || name[nl - el - 1] == '.';
}

/* greylist_name_listed - see milter-greylist.h */
int
greylist_name_listed(char *const *list, const char *name)
{
	size_t i;

	if (list == NULL || name == NULL || *name == '\0')
		return 0;
	for (i = 0; list[i] != NULL; i++)
		if (greylist_name_match(list[i], name))
			return 1;
	return 0;
}

/* greylist_rcpt_entry - one recipient list entry against rcpt */
static int
greylist_rcpt_entry(const char *e, const char *rcpt)
{
	const char *at = strrchr(rcpt, '@'), *eat = strrchr(e, '@');
	size_t ll;

	if (eat == NULL || eat == e)	/* "domain", "@domain" */
		return at != NULL
		       && strcasecmp(at + 1, eat ? eat + 1 : e) == 0;
	ll = (size_t)(eat - e);
	if (at == NULL || (size_t)(at - rcpt) != ll
	    || strncasecmp(rcpt, e, ll) != 0)
		return 0;
	return eat[1] == '\0' || strcasecmp(at + 1, eat + 1) == 0;
}

/* greylist_rcpt_allowed - see milter-greylist.h */
int
greylist_rcpt_allowed(char *const *list, const char *rcpt)
{
	static const char *const always[] = { "postmaster@", "abuse@" };
	size_t i;

	/* RFC 5321 4.5.1: postmaster must always get through */
	if (strcasecmp(rcpt, "postmaster") == 0)
		return 1;
	for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (greylist_rcpt_entry(always[i], rcpt))
			return 1;
	for (i = 0; list != NULL && list[i] != NULL; i++)
		if (greylist_rcpt_entry(list[i], rcpt))
			return 1;
	return 0;
}

/* greylist_allow_line - one entry of the allow file */
static int
greylist_allow_line(struct greylist_allow *a, char *s, char *err,
		    size_t errlen)
{
	struct cidr net;
	const char *p;

	if (cidr_parse(s, &net, err, errlen) == 0) {
		a->nets = x_realloc(a->nets, (a->nnets + 1) * sizeof(net));
		a->nets[a->nnets++] = net;
		return 0;
	}
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-'
		    && *p != '_') {
			x_err(err, errlen, "'%s': neither an address, a net "
			      "nor a host name", s);
			return -1;
		}
	a->names = x_realloc(a->names, (a->nnames + 2) * sizeof(char *));
	a->names[a->nnames++] = x_strdup(s);
	a->names[a->nnames] = NULL;
	return 0;
}

/* greylist_allow_load - see milter-greylist.h */
int
greylist_allow_load(const char *path, struct greylist_allow *a, char *err,
		    size_t errlen)
{
	char line[1024], msg[256], *s, *e;
	unsigned lineno = 0;
	FILE *fp;

	memset(a, 0, sizeof(*a));
	if ((fp = fopen(path, "r")) == NULL) {
		x_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if ((s = strchr(line, '#')) != NULL)
			*s = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (*s == '\0')
			continue;
		if (greylist_allow_line(a, s, msg, sizeof(msg)) < 0) {
			x_err(err, errlen, "%s:%u: %s", path, lineno, msg);
			fclose(fp);
			greylist_allow_free(a);
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

/* greylist_allow_free - release what greylist_allow_load read */
void
greylist_allow_free(struct greylist_allow *a)
{
	size_t i;

	for (i = 0; i < a->nnames; i++)
		free(a->names[i]);
	x_free(&a->names);
	x_free(&a->nets);
	a->nnames = a->nnets = 0;
}

/* greylist_allow_client - see milter-greylist.h */
int
greylist_allow_client(const struct greylist_allow *a, const char *addr,
		      const char *name)
{
	if (addr != NULL && a->nnets > 0
	    && cidr_match_text(a->nets, a->nnets, addr))
		return 1;
	/* Postfix's name is "[192.0.2.1]" when it has none (or unverified
	 * "unknown"): only a name that looks like one is compared */
	if (name != NULL && name[0] != '[' && strcmp(name, "unknown") != 0)
		return greylist_name_listed(a->names, name);
	return 0;
}

/* greylist_conf_strv - a list option as a NULL-terminated copy */
static char **
greylist_conf_strv(cfg_t *sec, const char *name)
{
	unsigned i, n = cfg_size(sec, name);
	char **v = x_calloc(n + 1, sizeof(char *));

	for (i = 0; i < n; i++)
		v[i] = x_strdup(cfg_getnstr(sec, name, i));
	return v;
}

/* greylist_conf_load - see milter-greylist.h */
int
greylist_conf_load(struct cfg_t *sec, struct greylist_conf *c, char *err,
		   size_t errlen)
{
	const char *allow = cfg_getstr(sec, "greylist_client_allow_file");

	/* only its name: the file is the milter's generation's to read
	 * (milter-gen.c), not every daemon's that loads this section */
	c->client_allow_file = allow != NULL && allow[0] != '\0'
			       ? x_strdup(allow) : NULL;
	c->on = cfg_getbool(sec, "greylist");
	c->when = strcmp(cfg_getstr(sec, "greylist_when"), "rcpt") == 0
		  ? GREYLIST_WHEN_RCPT : GREYLIST_WHEN_EOM;
	c->params.delay = cfg_getint(sec, "greylist_delay");
	c->params.window = cfg_getint(sec, "greylist_retry_window");
	c->params.max_age = cfg_getint(sec, "greylist_max_age");
	c->params.auto_allow = (int)cfg_getint(sec, "greylist_auto_allow");
	c->store = strcmp(cfg_getstr(sec, "greylist_store"), "redis") == 0
		   ? GREYLIST_STORE_REDIS : GREYLIST_STORE_SQLITE;
	c->path = x_strdup(cfg_getstr(sec, "greylist_path"));
	c->recipients = greylist_conf_strv(sec, "greylist_recipient_allow");
	c->senders = greylist_conf_strv(sec, "greylist_sender_allow");
	c->prefix_v4 = (unsigned)cfg_getint(sec, "greylist_prefix_v4");
	c->prefix_v6 = (unsigned)cfg_getint(sec, "greylist_prefix_v6");
	c->mode = strcmp(cfg_getstr(sec, "greylist_mode"), "rspamd") == 0
		  ? GREYLIST_MODE_RSPAMD : GREYLIST_MODE_ALWAYS;
	c->fail_action = strcmp(cfg_getstr(sec, "greylist_fail_action"),
				"tempfail") == 0 ? MILTER_TEMPFAIL
				: MILTER_ACCEPT;
	if (c->params.delay >= c->params.window) {
		x_err(err, errlen, "milter: greylist_delay (%lds) must be "
		      "shorter than greylist_retry_window (%lds)",
		      c->params.delay, c->params.window);
		return -1;
	}
	return 0;
}

/* greylist_conf_release - free what greylist_conf_load copied */
void
greylist_conf_release(struct greylist_conf *c)
{
	size_t i;

	x_free(&c->path);
	x_free(&c->client_allow_file);
	for (i = 0; c->recipients && c->recipients[i]; i++)
		free(c->recipients[i]);
	x_free(&c->recipients);
	for (i = 0; c->senders && c->senders[i]; i++)
		free(c->senders[i]);
	x_free(&c->senders);
}
