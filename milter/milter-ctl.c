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
 *	It runs in the control thread: the generation is reference-counted
 *	and read-only, the resolver thread-safe.
 *--*/
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "control.h"
#include "dns.h"
#include "milter.h"
#include "milter-dkim.h"
#include "milter-dkim-verify.h"
#include "milter-keys.h"
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

/* milter_ctl_register - the milter's commands (before runtime_start) */
void
milter_ctl_register(void)
{
	control_register("dkim", milter_ctl_dkim, NULL, 0,
			 "testkey DOMAIN SELECTOR");
}
