/*++
 * NAME
 *	report-rua 3
 * SUMMARY
 *	where a domain wants its reports: rua=, !size, external destinations
 * DESCRIPTION
 *	The rua= list is read from the domain's DMARC record when the
 *	report is made (not stored per message): it is the destination
 *	the domain asks for now, one lookup per domain and day instead of
 *	a copy per message.
 *
 *	rua= is a comma-separated list of URIs; mailto: ones are used,
 *	each with an optional "!size" (k, m, g, t: powers of 1024; RFC
 *	7489 6.4), percent-encoding decoded; others are skipped with a
 *	reason.  A mailbox is used only if it is plain (no white space,
 *	control characters, quotes, angle brackets, commas or
 *	semicolons): it goes into a header and sendmail's argv.
 *
 *	External destinations (RFC 7489 7.1, RFC 9990): a mailbox whose
 *	organisational domain differs from the policy domain's receives
 *	reports only if POLICYDOMAIN._report._dmarc.DESTDOMAIN has a TXT
 *	record starting with v=DMARC1.  (The rua= such a record may hold,
 *	which could replace the destination, is not used.)
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "milter-dmarc.h"
#include "report.h"
#include "xalloc.h"

/* report_addr_ok - a mailbox we will put in a header and argv */
int
report_addr_ok(const char *addr)
{
	const unsigned char *p = (const unsigned char *)addr;
	const char *at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0' || *addr == '-'
	    || strchr(addr, '@') != at || strlen(addr) > 320)
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7F || strchr("\"<>(),;:\\[]", *p))
			return 0;
	return dmarc_domain_valid(at + 1, strlen(at + 1));
}

/* report_unpct - %XX decoded in place; -1 on a bad escape */
static int
report_unpct(char *s)
{
	char *o = s;
	unsigned v;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1])
		    || !isxdigit((unsigned char)s[2])
		    || sscanf(s + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		*o++ = (char)v;
		s += 2;
	}
	*o = '\0';
	return 0;
}

/* report_skip - one more "reason" line for the caller */
static void
report_skip(char **skipped, const char *uri, const char *why)
{
	char *t;

	if (skipped == NULL)
		return;
	t = x_asprintf("%s%s%s: %s", *skipped ? *skipped : "",
		       *skipped ? "\n" : "", uri, why);
	free(*skipped);
	*skipped = t;
}

/* report_size - "!size" as bytes; 0 on a bad one */
static unsigned long long
report_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s)
		return 0;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		return 0;
	}
	if (*end != '\0' && end[1] != '\0')
		return 0;
	return v << shift;
}

/* report_rua_one - one URI of the list */
static void
report_rua_one(char *uri, struct report_dest **dests, size_t *n,
	       char **skipped)
{
	char *bang, *addr, *at, *orig;
	unsigned long long size = 0;
	size_t i;

	if (strncasecmp(uri, "mailto:", 7) != 0) {
		report_skip(skipped, uri, "not a mailto: URI");
		return;
	}
	orig = x_strdup(uri);		/* for messages: not decoded */
	addr = uri + 7;
	if ((bang = strrchr(addr, '!')) != NULL) {
		*bang = '\0';
		if ((size = report_size(bang + 1)) == 0) {
			report_skip(skipped, orig, "malformed !size");
			free(orig);
			return;
		}
	}
	if (strchr(addr, '?') != NULL)
		*strchr(addr, '?') = '\0';	/* mailto: headers: ignored */
	if (report_unpct(addr) < 0 || !report_addr_ok(addr)) {
		report_skip(skipped, orig, "not a usable mailbox");
		free(orig);
		return;
	}
	free(orig);
	for (i = 0; i < *n; i++)
		if (strcasecmp((*dests)[i].addr, addr) == 0)
			return;		/* listed twice */
	*dests = x_realloc(*dests, (*n + 1) * sizeof(**dests));
	(*dests)[*n].addr = x_strdup(addr);
	(*dests)[*n].domain = x_strdup(strrchr(addr, '@') + 1);
	for (at = (*dests)[*n].domain; *at; at++)
		*at = (char)tolower((unsigned char)*at);
	(*dests)[*n].max_size = size;
	(*n)++;
}

/* report_rua_parse - the mailto: destinations of record's rua= */
size_t
report_rua_parse(const char *record, struct report_dest **dests,
		 char **skipped)
{
	char *copy = x_strdup(record), *tag, *save = NULL, *v, *uri, *us;
	size_t n = 0;

	*dests = NULL;
	for (tag = strtok_r(copy, ";", &save); tag != NULL;
	     tag = strtok_r(NULL, ";", &save)) {
		while (*tag == ' ' || *tag == '\t')
			tag++;
		if (strncasecmp(tag, "rua", 3) != 0)
			continue;
		v = tag + 3;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v++ != '=')
			continue;
		for (uri = strtok_r(v, ",", &us); uri != NULL;
		     uri = strtok_r(NULL, ",", &us)) {
			char *e;

			while (*uri == ' ' || *uri == '\t')
				uri++;
			e = uri + strlen(uri);
			while (e > uri && (e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			if (*uri != '\0')
				report_rua_one(uri, dests, &n, skipped);
		}
		break;			/* the first rua= only */
	}
	free(copy);
	return n;
}

/* report_rua_free - the list of report_rua_parse */
void
report_rua_free(struct report_dest **dests, size_t n)
{
	size_t i;

	for (i = 0; *dests != NULL && i < n; i++) {
		free((*dests)[i].addr);
		free((*dests)[i].domain);
	}
	x_free(dests);
}

/* report_txt_dmarc1 - TXT name: 1 a record starting v=DMARC1 (the
 * first in *rec when rec is not NULL), 0 none, -1 temporary */
static int
report_txt_dmarc1(struct dns_resolver *r, const char *name, char **rec,
		  char *err, size_t errlen)
{
	struct dns_answer *a = NULL;
	enum dns_status st;
	char *txt;
	size_t i;
	int found = 0;

	st = dns_query(r, name, DNS_T_TXT, NULL, &a);
	if (st == DNS_NXDOMAIN || st == DNS_NODATA) {
		dns_answer_free(&a);
		return 0;
	}
	if (st != DNS_OK) {
		x_err(err, errlen, "TXT %s: %s", name, dns_status_str(st));
		dns_answer_free(&a);
		return -1;
	}
	for (i = 0; i < a->count && !found; i++) {
		if ((txt = dns_txt_join(a->data[i], a->len[i])) == NULL)
			continue;
		if (strncmp(txt, "v=DMARC1", 8) == 0
		    && strchr("; \t", txt[8]) != NULL) {
			found = 1;
			if (rec != NULL) {
				*rec = txt;
				continue;
			}
		}
		free(txt);
	}
	dns_answer_free(&a);
	return found;
}

/* report_dmarc_record - the policy domain's DMARC record */
int
report_dmarc_record(struct dns_resolver *r, const char *domain, char **rec,
		    char *err, size_t errlen)
{
	char name[300];

	*rec = NULL;
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	return report_txt_dmarc1(r, name, rec, err, errlen);
}

/* report_dest_verify - may dest_domain receive domain's reports? */
int
report_dest_verify(struct dns_resolver *r, const struct dmarc_psl *psl,
		   const char *domain, const char *dest_domain, char *err,
		   size_t errlen)
{
	char org1[256], org2[256], name[600];

	if (dmarc_psl_orgdomain(psl, domain, org1, sizeof(org1)) < 0)
		snprintf(org1, sizeof(org1), "%s", domain);
	if (dmarc_psl_orgdomain(psl, dest_domain, org2, sizeof(org2)) < 0)
		snprintf(org2, sizeof(org2), "%s", dest_domain);
	if (strcasecmp(org1, org2) == 0)
		return 1;
	if (snprintf(name, sizeof(name), "%s._report._dmarc.%s", domain,
		     dest_domain) >= 254) {
		x_err(err, errlen, "%s._report._dmarc.%s: name too long",
		      domain, dest_domain);
		return 0;
	}
	return report_txt_dmarc1(r, name, NULL, err, errlen);
}
