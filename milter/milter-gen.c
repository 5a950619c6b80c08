/*++
 * NAME
 *	milter-gen 3
 * SUMMARY
 *	elemta-milter: one generation (configuration, resolver, keys)
 * DESCRIPTION
 *	See milter.h.  The configuration, the resolver and the DKIM key
 *	tables used to be published one after another, each in a slot of
 *	its own, so that a connection could take the rules of one reload
 *	and the keys of the next.  Now a reload builds all three first
 *	(milter_gen_build), then publishes them as one object: a
 *	connection takes one reference at its start and reads all three
 *	from it until it closes.  If a part cannot be built, nothing is
 *	published and the running generation stays whole.
 *
 *	The resolver is the only part that is kept across generations
 *	when it need not change (its cache with it): a new one is made
 *	only when the [dns] section differs from the old generation's.
 *--*/
#include "config.h"

#include <stddef.h>
#include <stdlib.h>

#include "conf.h"
#include "dns.h"
#include "log.h"
#include "milter.h"
#include "milter-arc-seal.h"
#include "milter-greylist.h"
#include "milter-keys.h"
#include "snapshot.h"
#include "xalloc.h"

static struct snapshot_slot gen_slot = SNAPSHOT_SLOT_INIT;

/* milter_gen_destroy - the snapshot's destructor: drop the parts */
static void
milter_gen_destroy(void *obj)
{
	struct milter_gen *g = obj;

	conf_unref(&g->conf);
	dns_resolver_unref(&g->dns);
	milter_keys_unref(&g->keys);
	greylist_allow_free(&g->gl_clients);
	free(g);
}

/* milter_gen_new - a generation taking over the references given */
struct milter_gen *
milter_gen_new(struct conf *conf, struct dns_resolver *dns,
	       struct milter_keys *keys)
{
	struct milter_gen *g = x_calloc(1, sizeof(*g));

	g->conf = conf;
	g->dns = dns;
	g->keys = keys;
	snapshot_init(&g->snap, g, milter_gen_destroy);
	return g;
}

/* milter_gen_greylist - read the greylist's client allow file, if one
 * is configured; 0, or -1 with err naming the file (and line) */
int
milter_gen_greylist(struct milter_gen *g, char *err, size_t errlen)
{
	const struct milter_conf *mc = conf_get(g->conf, &milter_conf_section);

	if (mc->greylist.client_allow_file == NULL)
		return 0;
	return greylist_allow_load(mc->greylist.client_allow_file,
				   &g->gl_clients, err, errlen);
}

/* milter_gen_key_sizes - warn about RSA keys that load but cannot serve:
 * too large for a signature at all, or larger than dkim_max_key_bits,
 * which verifiers set as this one refuse (said at each load: start and
 * SIGUSR1, as the table is read again) */
static void
milter_gen_key_sizes(const struct milter_conf *mc,
		     const struct milter_keys *keys)
{
	const struct milter_key *k;
	size_t i;

	for (i = 0; keys != NULL && i < keys->nkeys; i++) {
		k = &keys->keys[i];
		if (k->type != MILTER_KEY_RSA)
			continue;
		if (k->bits > MILTER_KEY_SIGN_MAX_BITS)
			msg_warn("dkim signing: key %s: %s: RSA key of %d "
				 "bits: more than a signature or a seal takes "
				 "(%d): what it should sign goes out unsigned",
				 k->name, k->path, k->bits,
				 MILTER_KEY_SIGN_MAX_BITS);
		else if (k->bits > mc->dkim_max_key_bits)
			msg_warn("dkim signing: key %s: %s: RSA key of %d "
				 "bits: over dkim_max_key_bits (%d): verifiers "
				 "set as this one refuse its signatures",
				 k->name, k->path, k->bits,
				 mc->dkim_max_key_bits);
	}
}

/* milter_gen_build - the resolver and keys of conf, with conf */
struct milter_gen *
milter_gen_build(struct conf *conf, const struct milter_gen *old,
		 char *err, size_t errlen)
{
	const struct milter_conf *mc = conf_get(conf, &milter_conf_section);
	const struct dns_conf *dc = conf_get(conf, &dns_conf_section);
	struct dns_resolver *dns;
	struct milter_keys *keys = NULL;
	struct milter_gen *g;
	char why[400];

	if (old != NULL && old->dns != NULL
	    && dns_conf_equal(conf_get(old->conf, &dns_conf_section), dc)) {
		dns = dns_resolver_ref(old->dns);
	} else if ((dns = dns_resolver_new(dc, why, sizeof(why))) == NULL) {
		x_err(err, errlen, "dns: %s", why);
		conf_unref(&conf);
		return NULL;
	}
	if (mc->dkim_key_table != NULL
	    && (keys = milter_keys_load(mc->dkim_key_table,
					mc->dkim_signing_table, why,
					sizeof(why))) == NULL) {
		x_err(err, errlen, "dkim signing: %s", why);
		dns_resolver_unref(&dns);
		conf_unref(&conf);
		return NULL;
	}
	milter_gen_key_sizes(mc, keys);
	if (mc->arc_seal_domain != NULL
	    && milter_arc_seal_key(keys, mc->arc_seal_domain) == NULL) {
		x_err(err, errlen, "arc seal: arc_seal_domain %s has no key "
		      "in dkim_key_table", mc->arc_seal_domain);
		milter_keys_unref(&keys);
		dns_resolver_unref(&dns);
		conf_unref(&conf);
		return NULL;
	}
	g = milter_gen_new(conf, dns, keys);
	if (milter_gen_greylist(g, why, sizeof(why)) < 0) {
		x_err(err, errlen, "greylist_client_allow_file: %s", why);
		milter_gen_unref(&g);
		return NULL;
	}
	return g;
}

/* milter_gen_publish - the generation for new connections */
void
milter_gen_publish(struct milter_gen *g)
{
	snapshot_publish(&gen_slot, g != NULL ? &g->snap : NULL);
}

/* milter_gen_current - a reference to the published generation */
struct milter_gen *
milter_gen_current(void)
{
	return snapshot_current(&gen_slot);
}

/* milter_gen_ref - one more reference */
struct milter_gen *
milter_gen_ref(struct milter_gen *g)
{
	return g != NULL ? snapshot_ref(&g->snap) : NULL;
}

/* milter_gen_unref - drop a reference */
void
milter_gen_unref(struct milter_gen **gp)
{
	snapshot_unref(*gp != NULL ? &(*gp)->snap : NULL);
	*gp = NULL;
}
