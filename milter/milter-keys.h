/*++
 * NAME
 *	milter-keys 3h
 * SUMMARY
 *	DKIM signing keys: the key table, the signing table, genkey
 * SYNOPSIS
 *	#include "milter-keys.h"
 * DESCRIPTION
 *	The key table (milter.dkim_key_table) names the private keys, one
 *	per line, as OpenDKIM's KeyTable does:
 *
 *		NAME DOMAIN:SELECTOR:/path/to/key.private
 *
 *	DOMAIN "%" means the From domain of the message.  The signing
 *	table (milter.dkim_signing_table) says which keys sign which
 *	mail, as OpenDKIM's SigningTable (refile:) does:
 *
 *		PATTERN KEYNAME [KEYNAME...]
 *
 *	A PATTERN with an "@" is matched against the whole From address
 *	(local@domain), one without against its domain; "*" matches any
 *	characters (none included), case is ignored.  So "*@example.test"
 *	and "example.test" both mean the domain example.test,
 *	"*.example.test" its subdomains only.  The first matching line
 *	wins; its keys all sign (an RSA and an Ed25519 key: dual signing,
 *	RFC 8463 section 4).  Lines starting with "#" and empty lines are
 *	skipped.
 *
 *	Keys are read once, when the tables are loaded (at start and on
 *	SIGUSR1), never per message.  A key file that its group or others
 *	can read or write is refused, as OpenDKIM does.  Each key is
 *	parsed by OpenSSL once, there (RSA of 1024 bits at least, or
 *	Ed25519), and kept as an EVP_PKEY that the signing threads share
 *	read-only (OpenSSL 3 allows that; each signature has its own
 *	EVP_MD_CTX).  The PEM text is wiped (OPENSSL_cleanse) and freed
 *	as soon as it is parsed: only the parsed key stays in memory.
 *
 *	The loaded tables are shared, immutable and reference-counted
 *	(lib/snapshot).  They are not published on their own: they are
 *	part of the milter's generation (milter-gen.c), with the
 *	configuration they were loaded from and the resolver, so that a
 *	message is signed with the keys of the rules it was judged by.
 *
 *	milter_keys_glob() and milter_keys_match() are pure.
 *--*/
#ifndef ELEMTA_MILTER_KEYS_H
#define ELEMTA_MILTER_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>

#include "snapshot.h"

#define MILTER_KEYS_PER_RULE	4
/* the largest RSA key a DKIM signature or an ARC seal is made with (the
 * size of their signature buffers); a larger one loads, is warned about
 * (milter-gen.c), and signs nothing */
#define MILTER_KEY_SIGN_MAX_BITS	8192

enum milter_key_type {
	MILTER_KEY_RSA,
	MILTER_KEY_ED25519,
};

struct milter_key {
	char *name;
	char *domain;		/* "%": the From domain */
	char *selector;
	char *path;
	enum milter_key_type type;
	int bits;
	EVP_PKEY *pkey;		/* parsed once; read-only while shared */
	EVP_MD_CTX *sign_tmpl;	/* EVP_DigestSignInit'ed once (RSA: with
				 * SHA-256), copied per signature */
};

struct milter_sign_rule {
	char *pattern;
	size_t nkeys;
	const struct milter_key *keys[MILTER_KEYS_PER_RULE];
};

struct milter_keys {
	struct snapshot snap;	/* references, publication */
	struct milter_key *keys;
	size_t nkeys;
	struct milter_sign_rule *rules;
	size_t nrules;
};

/* milter_keys_load - read both tables and every key; NULL and err set
 * on any error (file:line) */
struct milter_keys *milter_keys_load(const char *key_table,
				     const char *signing_table, char *err,
				     size_t errlen);
/* milter_keys_free - free tables that nobody references */
void milter_keys_free(struct milter_keys **kp);

/* milter_keys_ref - one more reference to k (NULL stays NULL) */
struct milter_keys *milter_keys_ref(struct milter_keys *k);
/* milter_keys_unref - drop a reference; *kp set to NULL */
void milter_keys_unref(struct milter_keys **kp);

/* milter_keys_glob - does s match pattern ("*" wildcards, no case)? */
int milter_keys_glob(const char *pattern, const char *s);
/* milter_keys_match - the rule for From address addr (local@domain),
 * or NULL */
const struct milter_sign_rule *milter_keys_match(const struct milter_keys *k,
						 const char *addr);
/* milter_keys_pem_check - the type of the PEM private key and its
 * bits; -1 with err if it is not an RSA (>= 1024 bits) or Ed25519 key */
int milter_keys_pem_check(const char *pem, size_t len, int *bits, char *err,
			  size_t errlen);
/* milter_keys_pem_load - the same, and the key into *pkp (the caller's,
 * EVP_PKEY_free) when the type is one we sign with */
int milter_keys_pem_load(const char *pem, size_t len, int *bits,
			 EVP_PKEY **pkp, char *err, size_t errlen);

/* milter_keys_genkey - "elemta-milter genkey ...": the exit status */
int milter_keys_genkey(int argc, char **argv);

#endif
