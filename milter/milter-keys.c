/*++
 * NAME
 *	milter-keys 3
 * SUMMARY
 *	DKIM signing keys: the key table, the signing table, genkey
 * DESCRIPTION
 *	See milter-keys.h.  genkey writes DIR/SELECTOR.private (PKCS#8
 *	PEM, mode 0600) and DIR/SELECTOR.txt, the record to publish as
 *	one zone-file line with the text split into strings of at most
 *	255 characters (RFC 1035 section 3.3.14, RFC 6376 section
 *	3.6.2.2), preceded by a comment line:
 *
 *		; DKIM key SELECTOR for DOMAIN (rsa, 2048 bits)
 *		SELECTOR._domainkey.DOMAIN. 3600 IN TXT "v=DKIM1; k=rsa; ..."
 *
 *	p= is the DER SubjectPublicKeyInfo for RSA (RFC 6376 section
 *	3.6.1) and the raw 32-byte public key for Ed25519 (RFC 8463
 *	section 4.2).
 *--*/
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "milter-dkim-canon.h"
#include "milter-keys.h"
#include "xalloc.h"

#define MILTER_KEYS_MAX_PEM	65536


/* milter_keys_glob - "*" wildcards, case ignored */
int
milter_keys_glob(const char *p, const char *s)
{
	const char *star = NULL, *back = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			back = s;
		} else if (tolower((unsigned char)*p)
			   == tolower((unsigned char)*s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++back;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* milter_keys_match - the first rule matching the From address */
const struct milter_sign_rule *
milter_keys_match(const struct milter_keys *k, const char *addr)
{
	const char *at;
	size_t i;

	if (k == NULL || addr == NULL || (at = strrchr(addr, '@')) == NULL
	    || at[1] == '\0')
		return NULL;
	for (i = 0; i < k->nrules; i++) {
		if (strchr(k->rules[i].pattern, '@') != NULL
		    ? milter_keys_glob(k->rules[i].pattern, addr)
		    : milter_keys_glob(k->rules[i].pattern, at + 1))
			return &k->rules[i];
	}
	return NULL;
}

/* milter_keys_pem_check - what kind of private key the PEM text holds */
int
milter_keys_pem_check(const char *pem, size_t len, int *bits, char *err,
		      size_t errlen)
{
	return milter_keys_pem_load(pem, len, bits, NULL, err, errlen);
}

/* milter_keys_pem_load - parse the PEM text once; the key if wanted */
int
milter_keys_pem_load(const char *pem, size_t len, int *bits, EVP_PKEY **pkp,
		     char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk;
	int type = -1;

	pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (pk == NULL) {
		x_err(err, errlen, "not a PEM private key (or encrypted)");
		return -1;
	}
	*bits = EVP_PKEY_get_bits(pk);
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		if (*bits < 1024)
			x_err(err, errlen, "RSA key of %d bits: 1024 at "
			      "least (RFC 8301)", *bits);
		else
			type = MILTER_KEY_RSA;
		break;
	case EVP_PKEY_ED25519:
		type = MILTER_KEY_ED25519;
		break;
	default:
		x_err(err, errlen, "neither an RSA nor an Ed25519 key");
		break;
	}
	if (type >= 0 && pkp != NULL)
		*pkp = pk;
	else
		EVP_PKEY_free(pk);
	return type;
}

/* milter_keys_pem_drop - wipe and free the PEM text buffer */
static void
milter_keys_pem_drop(char **pem)
{
	OPENSSL_cleanse(*pem, MILTER_KEYS_MAX_PEM + 2);
	x_free(pem);
}

/* milter_keys_open_key - the key file opened, refused unless a
 * regular file, private and within MILTER_KEYS_MAX_PEM; the
 * descriptor, or -1 with err */
static int
milter_keys_open_key(const struct milter_key *key, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(key->path, O_RDONLY | O_CLOEXEC)) < 0) {
		x_err(err, errlen, "key %s: %s: %s", key->name, key->path,
		      strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		x_err(err, errlen, "key %s: %s: not a regular file",
		      key->name, key->path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		x_err(err, errlen, "key %s: %s: mode %04o: a private key "
		      "must not be accessible by group or others (chmod "
		      "600)", key->name, key->path,
		      (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	/* Refuse a file over the limit before reading it, and a file that
	 * grew past it while read. */
	if (st.st_size > MILTER_KEYS_MAX_PEM) {
		x_err(err, errlen, "key %s: %s: too large (%lld bytes, at most "
		      "%d)", key->name, key->path, (long long)st.st_size,
		      MILTER_KEYS_MAX_PEM);
		close(fd);
		return -1;
	}
	return fd;
}

/* milter_keys_read_pem - the PEM text of the key file (closes fd),
 * *lenp its length; NULL with err */
static char *
milter_keys_read_pem(const struct milter_key *key, int fd, size_t *lenp,
		     char *err, size_t errlen)
{
	char *pem;
	ssize_t n = 0;
	size_t len = 0;

	pem = x_malloc(MILTER_KEYS_MAX_PEM + 2);
	while (len <= MILTER_KEYS_MAX_PEM
	       && (n = read(fd, pem + len, MILTER_KEYS_MAX_PEM + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	pem[len] = '\0';
	if (n < 0 || len > MILTER_KEYS_MAX_PEM) {
		x_err(err, errlen, "key %s: %s: %s", key->name, key->path,
		      n < 0 ? strerror(errno) : "too large (it grew while "
		      "read)");
		milter_keys_pem_drop(&pem);
		return NULL;
	}
	*lenp = len;
	return pem;
}

/* milter_keys_read_key - the key file, refused if not private, parsed;
 * its PEM text is wiped and freed once parsed: only the key is kept */
static int
milter_keys_read_key(struct milter_key *key, char *err, size_t errlen)
{
	char why[256], *pem;
	size_t len;
	int fd, type;

	if ((fd = milter_keys_open_key(key, err, errlen)) < 0
	    || (pem = milter_keys_read_pem(key, fd, &len, err, errlen)) == NULL)
		return -1;
	type = milter_keys_pem_load(pem, len, &key->bits, &key->pkey, why,
				    sizeof(why));
	milter_keys_pem_drop(&pem);
	if (type < 0) {
		x_err(err, errlen, "key %s: %s: %s", key->name, key->path,
		      why);
		return -1;
	}
	key->type = (enum milter_key_type)type;
	/* set up once, copied per signature: EVP_DigestSignInit fetches
	 * the algorithm from OpenSSL's provider tables, under their locks,
	 * each time */
	if ((key->sign_tmpl = EVP_MD_CTX_new()) == NULL
	    || EVP_DigestSignInit(key->sign_tmpl, NULL,
				  key->type == MILTER_KEY_RSA
				  ? milter_dkim_canon_sha256() : NULL,
				  NULL, key->pkey) != 1) {
		x_err(err, errlen, "key %s: %s: OpenSSL cannot sign with it",
		      key->name, key->path);
		return -1;
	}
	return 0;
}

/* milter_keys_words - split a line at white space, up to max words */
static size_t
milter_keys_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		w[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

/* milter_keys_keyline - "NAME DOMAIN:SELECTOR:PATH" */
static int
milter_keys_keyline(struct milter_keys *k, char **w, size_t n,
		    const char *where, char *err, size_t errlen)
{
	struct milter_key *key;
	char *c1, *c2, why[512];

	if (n != 2 || (c1 = strchr(w[1], ':')) == NULL
	    || (c2 = strchr(c1 + 1, ':')) == NULL || c1 == w[1]
	    || c2 == c1 + 1 || c2[1] == '\0') {
		x_err(err, errlen, "%s: expected NAME DOMAIN:SELECTOR:PATH",
		      where);
		return -1;
	}
	k->keys = x_realloc(k->keys, (k->nkeys + 1) * sizeof(*k->keys));
	key = &k->keys[k->nkeys++];
	memset(key, 0, sizeof(*key));
	key->name = x_strdup(w[0]);
	key->domain = x_strndup(w[1], (size_t)(c1 - w[1]));
	key->selector = x_strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	key->path = x_strdup(c2 + 1);
	if (milter_keys_read_key(key, why, sizeof(why)) < 0) {
		x_err(err, errlen, "%s: %s", where, why);
		return -1;
	}
	return 0;
}

/* milter_keys_find - a key by name */
static const struct milter_key *
milter_keys_find(const struct milter_keys *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->nkeys; i++)
		if (strcmp(k->keys[i].name, name) == 0)
			return &k->keys[i];
	return NULL;
}

/* milter_keys_ruleline - "PATTERN KEYNAME [KEYNAME...]" */
static int
milter_keys_ruleline(struct milter_keys *k, char **w, size_t n,
		     const char *where, char *err, size_t errlen)
{
	struct milter_sign_rule *r;
	size_t i;

	if (n < 2 || n > 1 + MILTER_KEYS_PER_RULE) {
		x_err(err, errlen, "%s: expected PATTERN KEYNAME (up to %d "
		      "key names)", where, MILTER_KEYS_PER_RULE);
		return -1;
	}
	k->rules = x_realloc(k->rules, (k->nrules + 1) * sizeof(*k->rules));
	r = &k->rules[k->nrules++];
	memset(r, 0, sizeof(*r));
	r->pattern = x_strdup(w[0]);
	for (i = 1; i < n; i++) {
		if ((r->keys[r->nkeys] = milter_keys_find(k, w[i])) == NULL) {
			x_err(err, errlen, "%s: key %s is not in the key "
			      "table", where, w[i]);
			return -1;
		}
		r->nkeys++;
	}
	return 0;
}

/* milter_keys_table - read one table, a line at a time */
static int
milter_keys_table(struct milter_keys *k, const char *path, int keytable,
		  char *err, size_t errlen)
{
	char line[4096], where[600], *w[2 + MILTER_KEYS_PER_RULE];
	unsigned lineno = 0;
	size_t n, len;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		x_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		len = strlen(line);
		if (len > 0 && line[len - 1] != '\n' && !feof(fp)) {
			x_err(err, errlen, "%s: line too long", where);
			rc = -1;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		n = milter_keys_words(line, w, sizeof(w) / sizeof(w[0]));
		if (n == 0)
			continue;
		if (n == sizeof(w) / sizeof(w[0])) {
			x_err(err, errlen, "%s: too many words", where);
			rc = -1;
		} else if (keytable) {
			rc = milter_keys_keyline(k, w, n, where, err, errlen);
		} else {
			rc = milter_keys_ruleline(k, w, n, where, err, errlen);
		}
	}
	fclose(fp);
	return rc;
}

/* milter_keys_destroy - the snapshot's destructor */
static void
milter_keys_destroy(void *obj)
{
	struct milter_keys *k = obj;

	milter_keys_free(&k);
}

/* milter_keys_load - both tables and the keys */
struct milter_keys *
milter_keys_load(const char *key_table, const char *signing_table,
		 char *err, size_t errlen)
{
	struct milter_keys *k = x_calloc(1, sizeof(*k));

	if (milter_keys_table(k, key_table, 1, err, errlen) < 0
	    || (signing_table != NULL
		&& milter_keys_table(k, signing_table, 0, err, errlen) < 0)) {
		milter_keys_free(&k);
		return NULL;
	}
	snapshot_init(&k->snap, k, milter_keys_destroy);
	return k;
}

/* milter_keys_free - everything; the PEM text wiped first */
void
milter_keys_free(struct milter_keys **kp)
{
	struct milter_keys *k = *kp;
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->nkeys; i++) {
		EVP_MD_CTX_free(k->keys[i].sign_tmpl);
		EVP_PKEY_free(k->keys[i].pkey);
		x_free(&k->keys[i].name);
		x_free(&k->keys[i].domain);
		x_free(&k->keys[i].selector);
		x_free(&k->keys[i].path);
	}
	for (i = 0; i < k->nrules; i++)
		x_free(&k->rules[i].pattern);
	x_free(&k->keys);
	x_free(&k->rules);
	x_free(kp);
}

/* milter_keys_ref - one more reference */
struct milter_keys *
milter_keys_ref(struct milter_keys *k)
{
	return k != NULL ? snapshot_ref(&k->snap) : NULL;
}

/* milter_keys_unref - drop a reference */
void
milter_keys_unref(struct milter_keys **kp)
{
	snapshot_unref(*kp != NULL ? &(*kp)->snap : NULL);
	*kp = NULL;
}

/* milter_keys_public - the p= value (base64); malloc'ed, NULL on error */
static char *
milter_keys_public(EVP_PKEY *pk, int ed25519)
{
	unsigned char raw[32], *der = NULL;
	size_t rawlen = sizeof(raw);
	char *b64;
	int len;

	if (ed25519) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1)
			return NULL;
		b64 = x_malloc(4 * ((rawlen + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
		return b64;
	}
	if ((len = i2d_PUBKEY(pk, &der)) <= 0)
		return NULL;
	b64 = x_malloc(4 * (((size_t)len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	OPENSSL_free(der);
	return b64;
}

/* milter_keys_write_private - DIR/SELECTOR.private, mode 0600 */
static int
milter_keys_write_private(const char *path, EVP_PKEY *pk)
{
	FILE *fp;
	int fd, ok;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    < 0) {
		msg_stderr("%s: %s", path, strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0600);
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
	if (fclose(fp) != 0 || !ok) {
		msg_stderr("cannot write %s", path);
		return -1;
	}
	return 0;
}

/* milter_keys_write_txt - DIR/SELECTOR.txt, the record to publish */
static int
milter_keys_write_txt(const char *path, const char *domain,
		      const char *selector, const char *kind, int bits,
		      const char *pub)
{
	char *rec = x_asprintf("v=DKIM1; k=%s; p=%s", kind, pub);
	size_t len = strlen(rec), i;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "w")) == NULL) {
		msg_stderr("%s: %s", path, strerror(errno));
		free(rec);
		return -1;
	}
	fprintf(fp, "; DKIM key %s for %s (%s, %d bits)\n", selector, domain,
		kind, bits);
	fprintf(fp, "%s._domainkey.%s. 3600 IN TXT", selector, domain);
	for (i = 0; i < len; i += 255)
		fprintf(fp, " \"%.*s\"", (int)(len - i < 255 ? len - i : 255),
			rec + i);
	fprintf(fp, "\n");
	if (fclose(fp) != 0) {
		msg_stderr("cannot write %s", path);
		rc = -1;
	}
	free(rec);
	return rc;
}

/* milter_keys_genkey_args - what "genkey" was asked for */
struct milter_keys_genkey_args {
	const char *domain;
	const char *selector;
	const char *type;		/* rsa, ed25519 */
	const char *dir;
	long	bits;
};

static const char milter_keys_genkey_usage[] = "usage: elemta-milter "
	"genkey -d DOMAIN -s SELECTOR [-t rsa|ed25519] [-b BITS] [-D DIR]\n";

/* milter_keys_genkey_parse - the command line into a; 0, or the exit
 * status (2, said on stderr) */
static int
milter_keys_genkey_parse(int argc, char **argv,
			 struct milter_keys_genkey_args *a)
{
	char *end;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "d:s:t:b:D:h")) != -1) {
		switch (c) {
		case 'd':
			a->domain = optarg;
			break;
		case 's':
			a->selector = optarg;
			break;
		case 't':
			a->type = optarg;
			break;
		case 'b':
			a->bits = strtol(optarg, &end, 10);
			if (*end != '\0' || a->bits < 1024 || a->bits > 8192) {
				msg_stderr("-b: 1024 to 8192 bits");
				return 2;
			}
			break;
		case 'D':
			a->dir = optarg;
			break;
		default:
			fputs(milter_keys_genkey_usage, stderr);
			return 2;
		}
	}
	if (a->domain == NULL || a->selector == NULL || optind != argc
	    || (strcmp(a->type, "rsa") != 0
		&& strcmp(a->type, "ed25519") != 0)
	    || strchr(a->selector, '/') != NULL) {
		fputs(milter_keys_genkey_usage, stderr);
		return 2;
	}
	return 0;
}

/* milter_keys_genkey - generate a key pair and its DNS record */
int
milter_keys_genkey(int argc, char **argv)
{
	struct milter_keys_genkey_args a = {
		NULL, NULL, "rsa", ".", 2048
	};
	char *priv = NULL, *txt = NULL, *pub = NULL;
	EVP_PKEY *pk = NULL;
	int ed, rc = 1;

	log_set_program("elemta-milter genkey");
	if ((rc = milter_keys_genkey_parse(argc, argv, &a)) != 0)
		return rc;
	rc = 1;
	ed = strcmp(a.type, "ed25519") == 0;
	pk = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
		: EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)a.bits);
	if (pk == NULL || (pub = milter_keys_public(pk, ed)) == NULL) {
		msg_stderr("OpenSSL could not generate the %s key", a.type);
		goto out;
	}
	priv = x_asprintf("%s/%s.private", a.dir, a.selector);
	txt = x_asprintf("%s/%s.txt", a.dir, a.selector);
	if (milter_keys_write_private(priv, pk) < 0
	    || milter_keys_write_txt(txt, a.domain, a.selector, a.type,
				     EVP_PKEY_get_bits(pk), pub) < 0)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	free(pub);
	free(priv);
	free(txt);
	return rc;
}
