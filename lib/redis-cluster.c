/*++
 * NAME
 *	redis-cluster 3
 * SUMMARY
 *	Redis Cluster for lib/redis.c: hash slots and redirections
 * DESCRIPTION
 *	See redis.h.  Which node serves a key (its hash slot, and the
 *	slot map learnt from MOVED answers only: no CLUSTER SLOTS for
 *	that, so a standalone server never sees a cluster command), and
 *	where a MOVED or ASK answer sends a call: only to a configured
 *	server or to a node the configured server named (CLUSTER SLOTS),
 *	since the password goes with the call.
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "redis.h"
#include "redis-private.h"
#include "xalloc.h"

#define REDIS_LEARN_MS		1000	/* CLUSTER SLOTS at most that often */

/* redis_crc16 - CRC-16/XMODEM (polynomial 0x1021, initial 0), which
 * Redis Cluster hashes keys with */
static unsigned
redis_crc16(const char *s, size_t len)
{
	unsigned crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

/* redis_key_slot - the hash slot of a key: of what is between the first
 * "{" and the next "}" when that is not empty, else of the whole key */
unsigned
redis_key_slot(const char *key)
{
	const char *open = strchr(key, '{'), *close;

	if (open != NULL && (close = strchr(open + 1, '}')) != NULL
	    && close > open + 1)
		return redis_crc16(open + 1, (size_t)(close - open - 1))
			% REDIS_SLOTS;
	return redis_crc16(key, strlen(key)) % REDIS_SLOTS;
}

/* redis_node_of - the node that serves a slot, as far as we know */
size_t
redis_node_of(const struct redis_client *rc, unsigned slot)
{
	if (rc->slots == NULL || rc->slots[slot] == REDIS_NO_NODE)
		return 0;
	return rc->slots[slot];
}

/* redis_node_at - the node of an address (added, or taking the place of
 * the last one when there are REDIS_NODES) */
static size_t
redis_node_at(struct redis_client *rc, const char *addr)
{
	size_t n;

	for (n = 0; n < rc->nnodes; n++)
		if (strcmp(rc->nodes[n].addr, addr) == 0)
			return n;
	if (rc->nnodes < REDIS_NODES)
		n = rc->nnodes++;
	else
		redis_drop(rc, n = REDIS_NODES - 1);
	snprintf(rc->nodes[n].addr, sizeof(rc->nodes[n].addr), "%s", addr);
	return n;
}

/* redis_addr_of - "host:port" of a host and a port ("[host]:port" for
 * an IPv6 address); an empty host (or "?", an unknown endpoint) is that
 * of the address from: the node that answered */
static void
redis_addr_of(const char *host, size_t hostlen, const char *port,
	      const char *from, char *out, size_t outlen)
{
	const char *colon;

	if (hostlen == 0 || (hostlen == 1 && *host == '?')) {
		colon = strrchr(from, ':');
		snprintf(out, outlen, "%.*s:%s", colon != NULL
			 ? (int)(colon - from) : 0, from, port);
	} else if (memchr(host, ':', hostlen) != NULL)
		snprintf(out, outlen, "[%.*s]:%s", (int)hostlen, host, port);
	else
		snprintf(out, outlen, "%.*s:%s", (int)hostlen, host, port);
}

/* redis_redirect_parse - the parts of a redirection error ("MOVED 3999
 * 127.0.0.1:6381", "ASK 3999 [::1]:6381", "MOVED 3999 :6381"): *ask 1
 * for an ASK, the slot, and the address it names (the host of from when
 * it names none); 0, or -1 when text is no redirection or a bad one */
int
redis_redirect_parse(const char *text, const char *from, int *ask,
		     unsigned *slot, char *addr, size_t addrlen)
{
	char kind[8], where[270], *end;
	const char *colon, *h;
	unsigned long port;

	if (sscanf(text, "%7s %u %269s", kind, slot, where) != 3
	    || *slot >= REDIS_SLOTS
	    || (strcmp(kind, "MOVED") != 0 && strcmp(kind, "ASK") != 0)
	    || (colon = strrchr(where, ':')) == NULL)
		return -1;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno
	    || port < 1 || port > 65535)
		return -1;
	/* a host name or address: nothing a server spec could not hold */
	if (colon - where > 255)
		return -1;
	for (h = where; h < colon; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-_:%?", *h) == NULL
		    && !((*h == '[' && h == where)
			 || (*h == ']' && h == colon - 1 && *where == '[')))
			return -1;
	if (*where == '[' && (colon < where + 2 || colon[-1] != ']'))
		return -1;
	if (where[0] == '[' && colon > where + 1 && colon[-1] == ']')
		redis_addr_of(where + 1, (size_t)(colon - where - 2), colon + 1,
			      from, addr, addrlen);
	else
		redis_addr_of(where, (size_t)(colon - where), colon + 1, from,
			      addr, addrlen);
	*ask = kind[0] == 'A';
	return 0;
}

/* redis_known - is addr a configured server, or a node CLUSTER SLOTS
 * named? */
static int
redis_known(const struct redis_client *rc, const char *addr)
{
	size_t i;

	for (i = 0; i < rc->conf.nservers; i++)
		if (strcmp(rc->conf.servers[i], addr) == 0)
			return 1;
	for (i = 0; i < rc->nlearnt; i++)
		if (strcmp(rc->learnt[i], addr) == 0)
			return 1;
	return 0;
}

/* redis_learn_node - one node entry of CLUSTER SLOTS ([host, port, id,
 * ...]) into the nodes learnt */
static void
redis_learn_node(struct redis_client *rc, const redisReply *e)
{
	char port[16], addr[REDIS_ADDR];

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
	    || e->element[0]->type != REDIS_REPLY_STRING
	    || e->element[1]->type != REDIS_REPLY_INTEGER
	    || e->element[1]->integer < 1 || e->element[1]->integer > 65535)
		return;
	snprintf(port, sizeof(port), "%lld", e->element[1]->integer);
	redis_addr_of(e->element[0]->str, e->element[0]->len, port,
		      rc->nodes[0].addr, addr, sizeof(addr));
	if (redis_known(rc, addr))
		return;
	if ((rc->nlearnt & (rc->nlearnt - 1)) == 0)
		rc->learnt = x_realloc(rc->learnt, (rc->nlearnt ? 2 * rc->nlearnt
						    : 1) * sizeof(*rc->learnt));
	snprintf(rc->learnt[rc->nlearnt++], REDIS_ADDR, "%s", addr);
}

/* redis_learn - ask the configured server (node 0) for the cluster's
 * nodes (CLUSTER SLOTS), at most every REDIS_LEARN_MS: only a server we
 * were given may name the nodes the password goes to */
static void
redis_learn(struct redis_client *rc)
{
	const char *argv[2] = { "CLUSTER", "SLOTS" };
	char err[256];
	redisReply *r;
	size_t i, j;

	if (rc->learnt_at != 0 && clock_mono_ms() - rc->learnt_at < REDIS_LEARN_MS)
		return;
	rc->learnt_at = clock_mono_ms();
	if (redis_connect(rc, 0, err, sizeof(err)) < 0
	    || redis_call(rc, 0, "CLUSTER SLOTS", 2, argv, &r, err,
			  sizeof(err)) < 0)
		return;
	if (r->type == REDIS_REPLY_ARRAY) {
		rc->nlearnt = 0;
		for (i = 0; i < r->elements; i++) {
			const redisReply *range = r->element[i];

			for (j = 2; range->type == REDIS_REPLY_ARRAY
			     && j < range->elements; j++)
				redis_learn_node(rc, range->element[j]);
		}
	}
	freeReplyObject(r);
}

/* redis_redirected - a MOVED or ASK error reply of node n: *n becomes the
 * node it names (a MOVED also goes into the slot map), *asking is set
 * for an ASK; 1, 0 when r is no redirection, -1 with err when it names
 * a node that is neither a configured server nor one of the cluster's
 * (CLUSTER SLOTS of the configured server): the call, and the password,
 * do not go there */
int
redis_redirected(struct redis_client *rc, const redisReply *r, size_t *n,
		 int *asking, char *err, size_t errlen)
{
	char addr[REDIS_ADDR];
	unsigned slot;
	size_t to;
	int ask;

	if (r->type != REDIS_REPLY_ERROR
	    || redis_redirect_parse(r->str, rc->nodes[*n].addr, &ask, &slot,
				    addr, sizeof(addr)) < 0)
		return 0;
	if (!redis_known(rc, addr)) {
		redis_learn(rc);
		if (!redis_known(rc, addr)) {
			x_err(err, errlen, "redis %s: redirection to %s"
			      " refused: not a configured server, nor a node"
			      " of its cluster (CLUSTER SLOTS)",
			      rc->nodes[*n].addr, addr);
			rc->stats.refused++;
			rc->stats.failures++;
			return -1;
		}
	}
	to = redis_node_at(rc, addr);
	*asking = ask;
	if (ask) {
		rc->stats.asks++;
	} else {
		if (rc->slots == NULL) {
			rc->slots = x_malloc(REDIS_SLOTS);
			memset(rc->slots, REDIS_NO_NODE, REDIS_SLOTS);
		}
		rc->slots[slot] = (unsigned char)to;
		rc->stats.moved++;
	}
	*n = to;
	return 1;
}
