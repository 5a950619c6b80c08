/*++
 * NAME
 *	policyd-keys 3
 * SUMMARY
 *	what a limit counts: its key in a request, and exemptions
 * DESCRIPTION
 *	See policyd-keys.h.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "policyd-keys.h"
#include "str.h"
#include "xalloc.h"

struct policyd_exempt {
	struct cidr *nets;		/* exempt_networks */
	char (*texts)[64];		/* as written, for the log */
	size_t nnets;
	char **users;
	size_t nusers;
};

/* keys_clean - at most 256 bytes of s, with every control character
 * written \xNN: a key goes into log lines and, through
 * policyd_keys_who(), into the answer Postfix hands the client, so no
 * byte of a request may break a line there */
static void
keys_clean(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && i < 256; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			if (o + 5 > outlen)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			continue;
		}
		if (o + 2 > outlen)
			break;
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* keys_lower - keys_clean, lower-cased (the escapes are lower case
 * already) */
static void
keys_lower(const char *s, char *out, size_t outlen)
{
	keys_clean(s, out, outlen);
	str_lower(out);
}

/* keys_domain - the domain of an address, or NULL */
static const char *
keys_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* keys_val - an attribute, "" when not sent */
static const char *
keys_val(const struct policyd_req *req, enum policyd_attr a)
{
	return req->v[a] != NULL ? req->v[a] : "";
}

/* policyd_keys_client - the key text of a client address */
void
policyd_keys_client(const char *addr, int v4prefix, int v6prefix,
		    char *out, size_t outlen)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	int family = cidr_addr_text(addr, a);

	if (family == 0) {
		snprintf(out, outlen, "%.64s", addr);
		return;
	}
	cidr_mask(a, family, (unsigned)(family == AF_INET ? v4prefix
					: v6prefix));
	inet_ntop(family, a, text, sizeof(text));
	if (family == AF_INET6)
		snprintf(out, outlen, "%s/%d", text, v6prefix);
	else if (v4prefix == 32)
		snprintf(out, outlen, "%s", text);
	else
		snprintf(out, outlen, "%s/%d", text, v4prefix);
}

/* policyd_keys_value - the key of a limit in a request */
int
policyd_keys_value(const struct policyd_limit_conf *lc,
		   const struct policyd_req *req, const char *rcpt,
		   char *out, size_t outlen)
{
	const char *user = keys_val(req, POLICYD_A_SASL_USERNAME);
	const char *v, *d;
	char low[1040], ip[80];

	if ((lc->clients == POLICYD_CLIENTS_UNAUTHENTICATED && *user)
	    || (lc->clients == POLICYD_CLIENTS_AUTHENTICATED && !*user))
		return -1;
	switch (lc->key) {
	case POLICYD_KEY_CLIENT_IP:
		policyd_keys_client(keys_val(req, POLICYD_A_CLIENT_ADDRESS),
				    lc->prefix_v4, lc->prefix_v6, ip,
				    sizeof(ip));
		keys_clean(ip, low, sizeof(low));
		snprintf(out, outlen, "ip:%s", low);
		return 0;
	case POLICYD_KEY_SASL_USER:
		if (!*user)
			return -1;
		keys_clean(user, low, sizeof(low));
		snprintf(out, outlen, "user:%s", low);
		return 0;
	case POLICYD_KEY_SENDER:
		keys_lower(keys_val(req, POLICYD_A_SENDER), low, sizeof(low));
		snprintf(out, outlen, "sender:%s", *low ? low : "<>");
		return 0;
	case POLICYD_KEY_SENDER_DOMAIN:
		if ((d = keys_domain(keys_val(req, POLICYD_A_SENDER))) == NULL)
			return -1;
		keys_lower(d, low, sizeof(low));
		snprintf(out, outlen, "sdom:%s", low);
		return 0;
	case POLICYD_KEY_RECIPIENT_DOMAIN:
		v = rcpt != NULL ? rcpt : keys_val(req, POLICYD_A_RECIPIENT);
		if ((d = keys_domain(v)) == NULL)
			return -1;
		keys_lower(d, low, sizeof(low));
		snprintf(out, outlen, "rdom:%s", low);
		return 0;
	case POLICYD_KEY_LISTENER:
		v = keys_val(req, POLICYD_A_POLICY_CONTEXT);
		if (!*v)
			v = keys_val(req, POLICYD_A_SERVER_PORT);
		if (!*v)
			return -1;
		keys_clean(v, low, sizeof(low));
		snprintf(out, outlen, "listener:%s", low);
		return 0;
	case POLICYD_KEY_GLOBAL:
		snprintf(out, outlen, "global:");
		return 0;
	}
	return -1;
}

/* policyd_keys_tag - what policyd_keys_value puts before the colon */
const char *
policyd_keys_tag(enum policyd_key key)
{
	switch (key) {
	case POLICYD_KEY_CLIENT_IP:
		return "ip";
	case POLICYD_KEY_SASL_USER:
		return "user";
	case POLICYD_KEY_SENDER:
		return "sender";
	case POLICYD_KEY_SENDER_DOMAIN:
		return "sdom";
	case POLICYD_KEY_RECIPIENT_DOMAIN:
		return "rdom";
	case POLICYD_KEY_LISTENER:
		return "listener";
	case POLICYD_KEY_GLOBAL:
		return "global";
	}
	return "?";
}

/* policyd_keys_who - a key for people */
void
policyd_keys_who(const struct policyd_limit_conf *lc, const char *key,
		 char *out, size_t outlen)
{
	const char *v = strchr(key, ':');

	v = v != NULL ? v + 1 : key;
	switch (lc->key) {
	case POLICYD_KEY_CLIENT_IP:
		snprintf(out, outlen, "client %.150s", v);
		break;
	case POLICYD_KEY_SASL_USER:
		snprintf(out, outlen, "user %.150s", v);
		break;
	case POLICYD_KEY_SENDER:
		snprintf(out, outlen, "sender <%.150s>",
			 strcmp(v, "<>") == 0 ? "" : v);
		break;
	case POLICYD_KEY_SENDER_DOMAIN:
		snprintf(out, outlen, "sender domain %.150s", v);
		break;
	case POLICYD_KEY_RECIPIENT_DOMAIN:
		snprintf(out, outlen, "recipient domain %.150s", v);
		break;
	case POLICYD_KEY_LISTENER:
		snprintf(out, outlen, "listener %.150s", v);
		break;
	case POLICYD_KEY_GLOBAL:
		snprintf(out, outlen, "this server");
		break;
	}
}

/* policyd_exempt_new - exemptions from a configuration */
struct policyd_exempt *
policyd_exempt_new(const struct policyd_conf *c)
{
	struct policyd_exempt *ex = x_calloc(1, sizeof(*ex));
	char err[128];
	size_t i;

	ex->nets = x_calloc(c->nexempt_networks + 1, sizeof(*ex->nets));
	ex->texts = x_calloc(c->nexempt_networks + 1, sizeof(*ex->texts));
	for (i = 0; i < c->nexempt_networks; i++) {
		/* checked when the file was read: a failure is impossible */
		if (cidr_parse(c->exempt_networks[i], &ex->nets[ex->nnets],
			       err, sizeof(err)) == 0) {
			snprintf(ex->texts[ex->nnets], sizeof(*ex->texts),
				 "%s", c->exempt_networks[i]);
			ex->nnets++;
		}
	}
	ex->users = x_calloc(c->nexempt_sasl_users + 1, sizeof(*ex->users));
	for (i = 0; i < c->nexempt_sasl_users; i++)
		ex->users[ex->nusers++] = x_strdup(c->exempt_sasl_users[i]);
	return ex;
}

/* policyd_exempt_free - destroy */
void
policyd_exempt_free(struct policyd_exempt **exp)
{
	struct policyd_exempt *ex = *exp;
	size_t i;

	if (ex == NULL)
		return;
	for (i = 0; i < ex->nusers; i++)
		x_free(&ex->users[i]);
	x_free(&ex->users);
	x_free(&ex->nets);
	x_free(&ex->texts);
	x_free(exp);
}

/* policyd_exempt_match - is the request exempt? */
int
policyd_exempt_match(const struct policyd_exempt *ex,
		     const struct policyd_req *req, char *why, size_t whylen)
{
	const char *addr = keys_val(req, POLICYD_A_CLIENT_ADDRESS);
	const char *user = keys_val(req, POLICYD_A_SASL_USERNAME);
	unsigned char a[16];
	int net;
	size_t i;

	net = cidr_find(ex->nets, ex->nnets, cidr_addr_text(addr, a), a);
	if (net >= 0) {
		snprintf(why, whylen, "network %s", ex->texts[net]);
		return 1;
	}
	for (i = 0; *user && i < ex->nusers; i++) {
		if (strcmp(ex->users[i], user) == 0) {
			snprintf(why, whylen, "sasl_user %.150s", user);
			return 1;
		}
	}
	return 0;
}
