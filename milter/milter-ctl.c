/*++
 * NAME
 *	milter-ctl 3
 * SUMMARY
 *	elemta-milter's commands on its control socket
 * DESCRIPTION
 *	"dkim testkey DOMAIN SELECTOR" (elemta-ctl(8)): does the key record
 *	published at SELECTOR._domainkey.DOMAIN hold the public half of the
 *	private key the running milter signs with (its key table, the one
 *	DKIM signing and ARC sealing share), as opendkim-testkey checks?
 *	The record is fetched through the generation's own resolver (the
 *	[dns] nameservers), parsed as a verifier parses it
 *	(milter_dkim_key_parse), and the two public keys compared.
 *
 *	"greylist list [CLIENT [SENDER [RCPT]]]", "greylist delete CLIENT
 *	[SENDER [RCPT]]" and "greylist allow CLIENT SENDER RCPT": the
 *	triplets of the configured store (SQLite or Redis), under the
 *	greylist stage's own lock (milter_greylist_admin).  CLIENT is an
 *	address (cut to the network greylist_prefix_v4/v6 keep, as the
 *	stage does) or the domain a triplet was keyed by; SENDER is
 *	keyed as the stage keys it (greylist_sender_key: normalised, or
 *	hashed when too long); RCPT likewise (greylist_addr_key:
 *	lower-cased, one too long for the key hashed).
 *	allow marks the triplet passed, so its next message is accepted.
 *	Changes are logged with the peer's uid (lib/control.c).
 *
 *	They run in the control thread: the generation is reference-counted
 *	and read-only, the resolver and the store's lock thread-safe.
 *--*/
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "control.h"
#include "clock.h"
#include "dns.h"
#include "log.h"
#include "milter.h"
#include "milter-dkim.h"
#include "milter-dkim-verify.h"
#include "milter-greylist.h"
#include "milter-keys.h"
#include "str.h"
#include "xalloc.h"

/* milter_ctl_key - the key table's key for domain/selector, or NULL */
static const struct milter_key *
milter_ctl_key(const struct milter_keys *k, const char *domain,
	       const char *selector)
{
	size_t i;

	for (i = 0; k != NULL && i < k->nkeys; i++)
		if (strcasecmp(k->keys[i].selector, selector) == 0
		    && (strcasecmp(k->keys[i].domain, domain) == 0
			|| strcmp(k->keys[i].domain, "%") == 0))
			return &k->keys[i];
	return NULL;
}

/* milter_ctl_testkey - compare key with the record at name */
static int
milter_ctl_testkey(struct milter_gen *g, const struct milter_key *key,
		   const char *name, struct control_out *out)
{
	struct milter_dkim_vkey vk;
	struct dns_answer *a = NULL;
	char *txt = NULL;
	int ttl, e, match;

	if (g->dns == NULL) {
		control_message(out, "no resolver in this configuration");
		return CONTROL_FAILED;
	}
	(void)dns_query(g->dns, name, DNS_T_TXT, NULL, &a);
	control_put(out, "dns", "%s", dns_status_str(a->status));
	e = milter_dkim_record(a, &txt, &ttl);
	dns_answer_free(&a);
	if (e != MILTER_DKIM_E_OK) {
		control_message(out, "%s: %s", name,
				milter_dkim_err_str((enum milter_dkim_err)e));
		return e == MILTER_DKIM_E_NOKEY ? CONTROL_NOTFOUND
						: CONTROL_FAILED;
	}
	control_put(out, "record", "%s", txt);
	memset(&vk, 0, sizeof(vk));
	milter_dkim_key_parse(txt, &vk);
	free(txt);
	if (vk.err != MILTER_DKIM_E_OK || vk.pkey == NULL) {
		control_message(out, "%s: %s", name,
				milter_dkim_err_str(vk.err));
		milter_dkim_key_free(&vk);
		return CONTROL_FAILED;
	}
	match = EVP_PKEY_eq(vk.pkey, key->pkey) == 1;
	if (vk.testing)
		control_put(out, "testing", "yes");
	milter_dkim_key_free(&vk);
	control_put(out, "match", "%s", match ? "yes" : "no");
	if (!match) {
		control_message(out, "%s: the published key is not the public "
				"half of %s", name, key->path);
		return CONTROL_FAILED;
	}
	control_message(out, "key OK");
	return CONTROL_OK;
}

/* milter_ctl_dkim - "dkim testkey DOMAIN SELECTOR" */
static int
milter_ctl_dkim(const struct control_req *req, struct control_out *out,
		void *ctx)
{
	struct milter_gen *g;
	const struct milter_key *key;
	char name[600];
	int rc;

	(void)ctx;
	if (req->argc != 4 || strcmp(req->argv[1], "testkey") != 0) {
		control_message(out, "usage: dkim testkey DOMAIN SELECTOR");
		return CONTROL_USAGE;
	}
	if ((g = milter_gen_current()) == NULL) {
		control_message(out, "not ready");
		return CONTROL_FAILED;
	}
	if ((key = milter_ctl_key(g->keys, req->argv[2], req->argv[3]))
	    == NULL) {
		control_message(out, "no key for %s selector %s in "
				"milter.dkim_key_table%s", req->argv[2],
				req->argv[3], g->keys == NULL
				? " (no key table configured)" : "");
		milter_gen_unref(&g);
		return CONTROL_NOTFOUND;
	}
	snprintf(name, sizeof(name), "%s._domainkey.%s", req->argv[3],
		 req->argv[2]);
	control_put(out, "key", "%s", key->name);
	control_put(out, "path", "%s", key->path);
	control_put(out, "type", "%s",
		    key->type == MILTER_KEY_ED25519 ? "ed25519" : "rsa");
	if (key->type == MILTER_KEY_RSA)
		control_put(out, "bits", "%d", key->bits);
	control_put(out, "name", "%s", name);
	rc = milter_ctl_testkey(g, key, name, out);
	milter_gen_unref(&g);
	return rc;
}

#define MILTER_CTL_LIST_MAX	1000

/* What a greylist command asks of the store. */
struct milter_ctl_gl {
	const char *op;			/* "list", "delete", "allow" */
	char key[2 * GREYLIST_KEY_MAX];	/* the selection */
	int exact;			/* key is a whole triplet */
	struct control_out *out;
};

/* milter_ctl_gl_put - one triplet of a listing */
static void
milter_ctl_gl_put(const char *key, const struct greylist_rec *r, void *ctx)
{
	struct milter_ctl_gl *q = ctx;
	char k[2 * GREYLIST_KEY_MAX], *t;

	snprintf(k, sizeof(k), "%s", key);
	for (t = k; (t = strchr(t, '\t')) != NULL; t++)
		*t = ' ';
	control_put(q->out, "triplet", "%s first=%" PRId64 " passed=%" PRId64
		    " last=%" PRId64, k, r->first, r->passed, r->last);
}

/* milter_ctl_gl_run - the operation on the store (its lock held) */
static long
milter_ctl_gl_run(struct db *db, struct redis_client *rc,
		  const struct greylist_conf *g, void *ctx, char *err,
		  size_t errlen)
{
	struct milter_ctl_gl *q = ctx;
	int64_t now = clock_wall_ms() / 1000;

	if (strcmp(q->op, "list") == 0)
		return rc != NULL
			? greylist_redis_list(rc, q->key, q->exact,
					      MILTER_CTL_LIST_MAX,
					      milter_ctl_gl_put, q, err, errlen)
			: greylist_db_list(db, q->key, q->exact,
					   MILTER_CTL_LIST_MAX,
					   milter_ctl_gl_put, q);
	if (strcmp(q->op, "delete") == 0)
		return rc != NULL
			? greylist_redis_delete(rc, q->key, q->exact, err,
						errlen)
			: greylist_db_delete(db, q->key, q->exact);
	if (rc != NULL)
		return greylist_redis_allow(rc, q->key, &g->params, err,
					    errlen) < 0 ? -1 : 1;
	return greylist_db_allow(db, q->key, now) < 0 ? -1 : 1;
}

/* milter_ctl_gl_key - the selection from CLIENT [SENDER [RCPT]], as
 * the stage spells the triplets; 0, or -1 with a message */
static int
milter_ctl_gl_key(const struct greylist_conf *g, char *const *args, int n,
		  struct milter_ctl_gl *q, struct control_out *out)
{
	char client[300], sender[GREYLIST_ADDR_MAX], rcpt[GREYLIST_ADDR_MAX];

	/* a domain longer than the stage's (DMARC_DOMAIN_MAX) keys none */
	if (greylist_client_net(args[0], g->prefix_v4, g->prefix_v6, client,
				sizeof(client)) < 0
	    && str_lower_buf(client, sizeof(client), args[0]) < 0) {
		control_message(out, "client too long");
		return -1;
	}
	snprintf(q->key, sizeof(q->key), "%s\t", client);
	if (n < 2)
		return 0;
	if (greylist_sender_key(args[1], sender, sizeof(sender)) < 0) {
		control_message(out, "sender: no SHA-256");
		return -1;
	}
	snprintf(q->key, sizeof(q->key), "%s\t%s\t", client, sender);
	if (n < 3)
		return 0;
	if (greylist_addr_key(args[2], rcpt, sizeof(rcpt)) < 0) {
		control_message(out, "recipient: no SHA-256");
		return -1;
	}
	snprintf(q->key, sizeof(q->key), "%s\t%s\t%s", client, sender, rcpt);
	q->exact = 1;
	return 0;
}

/* milter_ctl_greylist - "greylist list|delete|allow ..." */
static int
milter_ctl_greylist(const struct control_req *req, struct control_out *out,
		    void *ctx)
{
	const struct milter_conf *mc;
	struct milter_ctl_gl q;
	struct milter_gen *g;
	char err[512] = "", *t;
	long n;
	int rc = CONTROL_OK, nargs = req->argc - 2;

	(void)ctx;
	memset(&q, 0, sizeof(q));
	q.op = req->argc > 1 ? req->argv[1] : "";
	q.out = out;
	if ((strcmp(q.op, "list") != 0 || nargs > 3)
	    && (strcmp(q.op, "delete") != 0 || nargs < 1 || nargs > 3)
	    && (strcmp(q.op, "allow") != 0 || nargs != 3)) {
		control_message(out, "usage: greylist list [CLIENT [SENDER "
				"[RCPT]]] | delete CLIENT [SENDER [RCPT]] | "
				"allow CLIENT SENDER RCPT");
		return CONTROL_USAGE;
	}
	if ((g = milter_gen_current()) == NULL) {
		control_message(out, "not ready");
		return CONTROL_FAILED;
	}
	mc = conf_get(g->conf, &milter_conf_section);
	if (nargs > 0 && milter_ctl_gl_key(&mc->greylist, req->argv + 2,
					   nargs, &q, out) < 0) {
		milter_gen_unref(&g);
		return CONTROL_USAGE;
	}
	n = milter_greylist_admin(g->conf, milter_ctl_gl_run, &q, err,
				  sizeof(err));
	milter_gen_unref(&g);
	if (n < 0) {
		control_message(out, "greylist store: %s", err);
		return CONTROL_FAILED;
	}
	control_put(out, strcmp(q.op, "list") == 0 ? "count"
		    : strcmp(q.op, "delete") == 0 ? "deleted" : "allowed",
		    "%ld", n);
	if (strcmp(q.op, "list") != 0) {
		for (t = q.key; (t = strchr(t, '\t')) != NULL; t++)
			*t = ' ';
		msg_info("control: greylist %s key=\"%s\" triplets=%ld "
			 "uid=%u", q.op, q.key, n, (unsigned)req->uid);
		if (n == 0)
			rc = CONTROL_NOTFOUND;
	} else if (n == 0 && nargs > 0) {
		rc = CONTROL_NOTFOUND;
	}
	if (rc == CONTROL_NOTFOUND)
		control_message(out, "no such triplet");
	return rc;
}

/* milter_ctl_register - the milter's commands (before runtime_start) */
void
milter_ctl_register(void)
{
	control_register("greylist", milter_ctl_greylist, NULL, 0,
			 "list [CLIENT [SENDER [RCPT]]] | delete CLIENT "
			 "[SENDER [RCPT]] | allow CLIENT SENDER RCPT");
	control_register("dkim", milter_ctl_dkim, NULL, 0,
			 "testkey DOMAIN SELECTOR");
}
