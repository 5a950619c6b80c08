/*++
 * NAME
 *	dns-answer 3
 * SUMMARY
 *	the records of an answer: kept in one allocation, read as text
 * DESCRIPTION
 *	See dns.h.  What the resolver (dns.c) and its cache (dns-cache.c)
 *	hand out: the records of an answer in one allocation, a status as
 *	a word for logs, TXT strings joined, a wire name as text.  Pure:
 *	no resolver, no I/O.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns-private.h"
#include "xalloc.h"

/* dns_status_str - a status as a word for logs */
const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_TIMEOUT:
		return "timeout";
	case DNS_LIMIT:
		return "limit";
	}
	return "unknown";
}

/* dns_rdata_new - count records copied into one allocation */
struct dns_rdata *
dns_rdata_new(size_t count, const unsigned char *const *data,
	      const size_t *len)
{
	struct dns_rdata *rd;
	unsigned char *p;
	size_t i, total = 0;

	for (i = 0; i < count; i++)
		total += len[i];
	rd = x_malloc(sizeof(*rd) + count * (sizeof(size_t)
		      + sizeof(unsigned char *)) + total);
	rd->count = count;
	rd->len = (size_t *)(void *)(rd + 1);
	rd->data = (const unsigned char **)(void *)(rd->len + count);
	p = (unsigned char *)(rd->data + count);
	for (i = 0; i < count; i++) {
		rd->len[i] = len[i];
		memcpy(p, data[i], len[i]);
		rd->data[i] = p;
		p += len[i];
	}
	return rd;
}

/* dns_rdata_size - what dns_rdata_new allocates for these records */
size_t
dns_rdata_size(size_t count, const size_t *len)
{
	size_t i, total = 0;

	for (i = 0; i < count; i++)
		total += len[i];
	return sizeof(struct dns_rdata) + count * (sizeof(size_t)
	       + sizeof(unsigned char *)) + total;
}

/* dns_counter_add - totals of several counters */
void
dns_counter_add(struct dns_counter *dst, const struct dns_counter *src)
{
	dst->lookups += src->lookups;
	dst->hits += src->hits;
}

/* dns_answer_free - free an answer and set *ap to NULL */
void
dns_answer_free(struct dns_answer **ap)
{
	struct dns_answer *a = *ap;

	if (a == NULL)
		return;
	free(a->priv);
	x_free(ap);
}

/* dns_txt_join - TXT character-strings joined */
char *
dns_txt_join(const unsigned char *rdata, size_t len)
{
	char *out = x_malloc(len + 1), *p = out;
	size_t pos = 0, slen;

	while (pos < len) {
		slen = rdata[pos++];
		if (pos + slen > len) {
			free(out);
			return NULL;
		}
		memcpy(p, rdata + pos, slen);
		p += slen;
		pos += slen;
	}
	*p = '\0';
	return out;
}

/* dns_name_text - an uncompressed wire name as text */
int
dns_name_text(const unsigned char *rdata, size_t len, char *out,
	      size_t outlen)
{
	size_t pos = 0, o = 0, lab;

	if (outlen == 0)
		return -1;
	while (pos < len && rdata[pos] != 0) {
		lab = rdata[pos++];
		if ((lab & 0xc0) != 0 || pos + lab > len
		    || o + lab + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, rdata + pos, lab);
		o += lab;
		pos += lab;
	}
	if (pos >= len)
		return -1;
	out[o] = '\0';
	return (int)(pos + 1);
}
