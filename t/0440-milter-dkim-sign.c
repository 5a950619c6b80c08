/*++
 * NAME
 *	0440-milter-dkim-sign 1
 * SUMMARY
 *	unit tests for milter/milter-keys.c and the From parser of
 *	milter/milter-dkim-sign.c
 * DESCRIPTION
 *	milter_keys_glob(): a table of patterns and strings.
 *	milter_keys_match(): a signing table with exact, "*@domain",
 *	"*.domain", per-address and catch-all lines, and which key names
 *	each From address gets (first match wins, dual keys on one line).
 *	milter_keys_load(): keys made by milter_keys_genkey() (RSA and
 *	Ed25519) load; a key of mode 0644 or 0640 is refused with a clear
 *	error; malformed lines and unknown key names are refused with
 *	file:line.  The author address signing matches (the one From
 *	parser, dmarc_from_parse and dmarc_from_author): a table of From
 *	values.
 *	Golden signatures: a message signed by the stage with the fixed
 *	test keys of t/data/milter (RSA-1024, Ed25519, never used
 *	elsewhere) and t= fixed by milter_dkim_sign_test_time() is
 *	compared byte for byte with the signatures python3-dkim verified
 *	when they were recorded; without a fixed time, t= is the clock's.
 *	The sign-or-verify decision: taken once at end of headers
 *	(authenticated and in the signing table: sign) and kept.
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "milter.h"
#include "milter-options.h"
#include "milter-dkim-sign.h"
#include "milter-keys.h"
#include "../sections-all.h"
#include "tap.h"
#include "xalloc.h"

static char dir[] = "/tmp/elemta-0440-XXXXXX";

/* genkey - milter_keys_genkey into dir */
static int
genkey(const char *sel, const char *type)
{
	char *argv[] = { "genkey", "-d", "example.test", "-s", (char *)sel,
			 "-t", (char *)type, "-b", "1024", "-D", dir, NULL };

	return milter_keys_genkey(11, argv);
}

static void
test_glob(void)
{
	static const struct {
		const char *p, *s;
		int want;
	} t[] = {
		{ "example.test", "example.test", 1 },
		{ "example.test", "EXAMPLE.Test", 1 },
		{ "example.test", "sub.example.test", 0 },
		{ "*.example.test", "sub.example.test", 1 },
		{ "*.example.test", "a.b.example.test", 1 },
		{ "*.example.test", "example.test", 0 },
		{ "*.example.test", "badexample.test", 0 },
		{ "*@example.test", "user@example.test", 1 },
		{ "*@example.test", "user@sub.example.test", 0 },
		{ "*@example.test", "@example.test", 1 },
		{ "user@example.test", "user@example.test", 1 },
		{ "user@example.test", "other@example.test", 0 },
		{ "*", "anything", 1 },
		{ "*", "", 1 },
		{ "a*b*c", "aXXbYYc", 1 },
		{ "a*b*c", "aXXbYY", 0 },
		{ "**x", "abx", 1 },
		{ "", "", 1 },
		{ "", "x", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(milter_keys_glob(t[i].p, t[i].s), t[i].want,
		       "glob '%s' on '%s'", t[i].p, t[i].s);
}

static void
test_from(void)
{
	static const struct {
		const char *v, *want;	/* NULL: not signed */
	} t[] = {
		{ " user@example.test", "user@example.test" },
		{ " User <user@Example.TEST>", "user@example.test" },
		{ " \"Doe, John\" <jd@example.test>", "jd@example.test" },
		{ " \"a <b@c>\" <x@example.test>", "x@example.test" },
		{ " (comment) user@example.test (more)", "user@example.test" },
		{ " User (x) <UpperLocal@example.test>",
		  "UpperLocal@example.test" },
		{ " a@example.test, b@example.test", NULL },
		{ " <a@example.test>, <b@example.test>", NULL },
		{ " <a@example.test> <b@example.test>", NULL },
		{ " no address", NULL },
		{ " <>", NULL },
		{ " <user@>", NULL },
		{ "", NULL },
		{ " User <user@example.test", NULL },
		/* where the two parsers of old disagreed with DMARC's */
		{ " \"john doe\"@example.test", NULL },
		{ " \"j.doe\"@Example.Test", "\"j.doe\"@example.test" },
		{ " <user@[192.0.2.1]>", NULL },
		{ " user@exa mple.test", NULL },
		{ " team: user@example.test;", "user@example.test" },
	};
	struct dmarc_from f;
	const char *addr;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dmarc_from_parse(&t[i].v, 1, &f);
		addr = dmarc_from_author(&f);
		if (t[i].want == NULL)
			ok(addr == NULL, "from '%s' refused", t[i].v);
		else if (ok(addr != NULL, "from '%s' parsed", t[i].v))
			is_str(addr, t[i].want, "from '%s'", t[i].v);
		else
			ok(0, "from '%s'", t[i].v);
	}
}

/* names - the key names of the rule matching addr, "-" if none */
static void
names(const struct milter_keys *k, const char *addr, char *buf, size_t len)
{
	const struct milter_sign_rule *r = milter_keys_match(k, addr);
	size_t i;

	snprintf(buf, len, "-");
	if (r == NULL)
		return;
	buf[0] = '\0';
	for (i = 0; i < r->nkeys; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 i ? "," : "", r->keys[i]->name);
}

/* test_decide - sign or verify: decided once, at end of headers, and
 * kept in the message for the stages (connections on a generation
 * holding the tables k) */
static void
test_decide(struct milter_keys *k)
{
	static const struct {
		const char *name;
		const char *auth;
		const char *from;
		enum milter_mode want;
	} t[] = {
		{ "authenticated, From in the signing table", "PLAIN",
		  " User <user@example.test>", MILTER_MODE_SIGN },
		{ "authenticated, From not in it", "PLAIN",
		  " user@nowhere.test", MILTER_MODE_VERIFY },
		{ "not authenticated, not internal", NULL,
		  " user@example.test", MILTER_MODE_VERIFY },
	};
	struct milter_conn *c;
	struct milter_msg *m;
	struct conf *cf;
	char *errors = NULL;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if ((cf = conf_load(elemta_sections, NULL, NULL, 0,
				    &errors)) == NULL)
			bail_out("conf_load: %s", errors ? errors : "?");
		c = milter_conn_open(milter_gen_new(cf, NULL,
						    milter_keys_ref(k)));
		m = milter_msg_new(c, "<user@example.test>");
		if (t[i].auth != NULL)
			milter_msg_set_auth(m, t[i].auth, "user");
		milter_msg_header(m, "From", t[i].from);
		is_int(m->mode, MILTER_MODE_UNDECIDED, "%s: undecided before "
		       "end of headers", t[i].name);
		milter_pipeline_eoh(m);
		is_int(m->mode, t[i].want, "%s: decided", t[i].name);
		is_int(milter_dkim_sign_count(m), 0, "%s: nothing signed "
		       "yet", t[i].name);
		/* asked once: a second end of headers changes nothing */
		milter_pipeline_eoh(m);
		is_int(m->mode, t[i].want, "%s: kept", t[i].name);
		milter_conn_free(&c);
	}
}

static void
test_tables(void)
{
	static const struct {
		const char *addr, *want;
	} t[] = {
		{ "user@example.test", "rsa,ed" },
		{ "USER@Example.Test", "rsa,ed" },
		{ "ceo@example.test", "rsa,ed" },
		{ "ceo@exec.example.test", "special" },
		{ "user@sub.example.test", "sub" },
		{ "user@a.b.example.test", "sub" },
		{ "user@other.test", "ed" },
		{ "user@nowhere.test", "-" },
		{ "user@example.test.evil", "-" },
		{ "noatsign", "-" },
	};
	static const struct {
		const char *pre, *file, *sign, *want;	/* pre DIR/file */
	} bad[] = {
		{ "rsa example.test:rsa\n", NULL, "*@example.test rsa\n",
		  "kt:1: expected NAME DOMAIN:SELECTOR:PATH" },
		{ "rsa example.test::", "rsa.private", "x rsa\n",
		  "kt:1: expected NAME" },
		{ "rsa example.test:rsa:", "missing", "x rsa\n",
		  "No such file" },
		{ "rsa example.test:rsa:", "rsa.txt", "x rsa\n",
		  "rsa.txt: mode 0644" },
		{ "rsa example.test:rsa:", "rsa.private", "x nokey\n",
		  "st:1: key nokey is not in the key table" },
		{ "rsa example.test:rsa:", "rsa.private", "x\n",
		  "st:1: expected PATTERN KEYNAME" },
		{ "rsa example.test:rsa:", "rsa.private",
		  "x rsa rsa rsa rsa rsa\n", "st:1: " },
		{ "rsa example.test:rsa:", "notkey", "x rsa\n",
		  "not a PEM private key" },
		/* over 64 KB: refused, and the table freed cleanly */
		{ "rsa example.test:rsa:", "big", "x rsa\n",
		  "big: too large (65537 bytes, at most 65536)" },
		/* 64 KB exactly is not too large (just not a key) */
		{ "rsa example.test:rsa:", "limit", "x rsa\n",
		  "limit: not a PEM private key" },
	};
	struct milter_keys *k, *kr;
	char err[512], got[128], *kt, *st, *text;
	size_t i;

	is_int(genkey("rsa", "rsa"), 0, "genkey rsa 1024");
	is_int(genkey("ed", "ed25519"), 0, "genkey ed25519");
	kt = x_asprintf("# a comment\n\n"
			"rsa example.test:rsa:%s/rsa.private\n"
			"ed   %%:ed:%s/ed.private   # trailing comment\n"
			"special example.test:rsa:%s/rsa.private\n"
			"sub example.test:ed:%s/ed.private\n", dir, dir, dir,
			dir);
	free(tap_put(dir, "kt", kt));
	free(kt);
	free(tap_put(dir, "st", "*@exec.example.test special\n"
		       "*@example.test rsa ed\n"
		       "example.test special\n"
		       "*.example.test sub\n"
		       "other.test ed\n"));
	kt = x_asprintf("%s/kt", dir);
	st = x_asprintf("%s/st", dir);
	k = milter_keys_load(kt, st, err, sizeof(err));
	if (!ok(k != NULL, "tables load")) {
		diag("error: %s", err);
	} else {
		is_int((long long)k->nkeys, 4, "four keys");
		is_int((long long)k->nrules, 5, "five rules");
		is_int(k->keys[0].type, MILTER_KEY_RSA, "rsa key is RSA");
		is_int(k->keys[0].bits, 1024, "1024 bits");
		is_int(k->keys[1].type, MILTER_KEY_ED25519, "ed key Ed25519");
		is_str(k->keys[1].domain, "%", "domain %% kept");
		ok(k->keys[0].pkey != NULL
		   && EVP_PKEY_get_bits(k->keys[0].pkey) == 1024,
		   "the parsed key kept (its PEM text is not)");
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			names(k, t[i].addr, got, sizeof(got));
			is_str(got, t[i].want, "signing table: %s", t[i].addr);
		}
		kr = milter_keys_ref(k);
		ok(kr == k && atomic_load(&k->snap.refs) == 2,
		   "ref: a second reference");
		milter_keys_unref(&kr);
		test_decide(k);
		ok(kr == NULL, "unref clears the pointer");
		ok(atomic_load(&k->snap.refs) == 1,
		   "the connections' references are gone with them");
		milter_keys_unref(&k);
	}
	free(tap_put(dir, "notkey", "hello\n"));
	text = x_asprintf("%s/notkey", dir);
	chmod(text, 0600);
	free(text);
	{
		static const struct {
			const char *name;
			size_t size;
		} big[] = { { "big", 65537 }, { "limit", 65536 } };
		char *fill;

		for (i = 0; i < 2; i++) {
			fill = x_malloc(big[i].size + 1);
			memset(fill, 'A', big[i].size);
			fill[big[i].size] = '\0';
			free(tap_put(dir, big[i].name, fill));
			free(fill);
			text = x_asprintf("%s/%s", dir, big[i].name);
			chmod(text, 0600);
			free(text);
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = bad[i].file == NULL ? x_strdup(bad[i].pre)
		       : x_asprintf("%s%s/%s\n", bad[i].pre, dir,
				    bad[i].file);
		free(tap_put(dir, "kt", text));
		free(text);
		free(tap_put(dir, "st", bad[i].sign));
		err[0] = '\0';
		k = milter_keys_load(kt, st, err, sizeof(err));
		ok(k == NULL, "bad table %zu refused", i);
		like_str(err, bad[i].want, "bad table %zu: error", i);
		milter_keys_free(&k);
	}
	/* the permission check: readable by group, then by others */
	text = x_asprintf("%s/rsa.private", dir);
	free(tap_put(dir, "kt", "rsa example.test:rsa:"));
	free(kt);
	kt = x_asprintf("%s/kt", dir);
	{
		char *line = x_asprintf("rsa example.test:rsa:%s\n", text);

		free(tap_put(dir, "kt", line));
		free(line);
	}
	free(tap_put(dir, "st", "*@example.test rsa\n"));
	chmod(text, 0640);
	ok(milter_keys_load(kt, st, err, sizeof(err)) == NULL,
	   "key of mode 0640 refused");
	like_str(err, "mode 0640: a private key must not be accessible by "
		 "group or others", "mode 0640: error");
	chmod(text, 0644);
	ok(milter_keys_load(kt, st, err, sizeof(err)) == NULL,
	   "key of mode 0644 refused");
	like_str(err, "mode 0644", "mode 0644: error");
	chmod(text, 0600);
	k = milter_keys_load(kt, st, err, sizeof(err));
	ok(k != NULL, "key of mode 0600 loads");
	milter_keys_free(&k);
	free(text);
	free(kt);
	free(st);
}

/* The golden signatures of the message below, t=1700000000. */
#define GOLDEN_T	1700000000LL
static const char golden_rsa[] =
	"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test;\n"
	"\ts=golden; t=1700000000; "
	"bh=q4xw7GGVdozcfFMnQ3OehstHik4FqRTgQbq9tsUvvWw=;\n"
	"\th=From:To:Subject:Date:From;\n"
	"\tb=YGQXMDVicPSfO4NlbiM0SotYJCc4fsVg9CPP9Xf64ehOa3FlMmFQw7DU/PFOGOzZ\n"
	"\t ykZDX3/qUAinG6FSlnZK4DblXvX8aiqWn+z+kZXpv1Aa+6M8AL2Gc9a4NavyNk9Z\n"
	"\t o+KqlrtJOtKKvt7LTulgD1Frj2pOz8No8Li6zLrEGVc=";
static const char golden_ed[] =
	"v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.test;\n"
	"\ts=golden-ed; t=1700000000; "
	"bh=q4xw7GGVdozcfFMnQ3OehstHik4FqRTgQbq9tsUvvWw=;\n"
	"\th=From:To:Subject:Date:From;\n"
	"\tb=lmk2rNhcX7lX2pQTSY1SnABduTTVTWcEzIfIYBfJvzzKiOiMmPqUwaOMJHHSZQWM\n"
	"\t 4I17bqiJpO+AhfjvRiqMCw==";

/* golden_key - a fixed test key of t/data/milter, copied to dir 0600 */
static void
golden_key(const char *file)
{
	const char *src = getenv("top_srcdir");
	char *from = x_asprintf("%s/t/data/milter/%s", src ? src : ".", file);
	char *to = x_asprintf("%s/%s", dir, file), buf[4096];
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	size_t n;

	if (in == NULL || out == NULL)
		bail_out("cannot copy %s to %s", from, to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	if (fclose(out) != 0 || chmod(to, 0600) != 0)
		bail_out("cannot write %s", to);
	free(from);
	free(to);
}

/* golden_sign - sign the golden message; the two values, malloc'ed */
static void
golden_sign(struct milter_keys *k, char **rsa, char **ed)
{
	static const struct conf_section *const sections[] = {
		&milter_conf_section, NULL,
	};
	static const char *const hdr[][2] = {
		{ "From", " User <user@example.test>" },
		{ "To", " alice@remote.test" },
		{ "Subject", " golden" },
		{ "Date", " Mon, 01 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <golden@example.test>" },
	};
	static const char body[] = "Hello, golden.\r\nA second line.\r\n";
	char *errors = NULL;
	struct conf *conf = conf_load(sections, NULL, NULL, 0, &errors);
	struct milter_conn *c;
	struct milter_msg *m;
	size_t i;

	if (conf == NULL)
		bail_out("conf_load: %s", errors ? errors : "?");
	c = milter_conn_open(milter_gen_new(conf, NULL, milter_keys_ref(k)));
	m = milter_msg_new(c, "<user@example.test>");
	milter_msg_set_qid(m, "GOLDEN");
	milter_msg_set_auth(m, "PLAIN", "user");
	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
		milter_msg_header(m, hdr[i][0], hdr[i][1]);
	milter_pipeline_eoh(m);	/* decides: sign */
	milter_dkim_sign_body(m, (const unsigned char *)body,
			      sizeof(body) - 1);
	milter_dkim_sign_eom(m);
	is_int((long long)milter_dkim_sign_count(m), 2, "golden: two "
	       "signatures");
	*rsa = x_strdup(milter_dkim_sign_count(m) > 0
			? milter_dkim_sign_value(m, 0) : "");
	*ed = x_strdup(milter_dkim_sign_count(m) > 1
		       ? milter_dkim_sign_value(m, 1) : "");
	milter_conn_free(&c);
}

/* test_golden - the signatures, byte for byte, at a fixed t= */
static void
test_golden(void)
{
	struct milter_keys *k;
	char err[512], *kt, *rsa, *ed, want[32];
	long long t;
	time_t before;

	golden_key("golden-rsa.pem");
	golden_key("golden-ed25519.pem");
	kt = x_asprintf("rsa example.test:golden:%s/golden-rsa.pem\n"
			"ed example.test:golden-ed:%s/golden-ed25519.pem\n",
			dir, dir);
	free(tap_put(dir, "kt", kt));
	free(kt);
	free(tap_put(dir, "st", "*@example.test rsa ed\n"));
	kt = x_asprintf("%s/kt", dir);
	{
		char *st = x_asprintf("%s/st", dir);

		k = milter_keys_load(kt, st, err, sizeof(err));
		free(st);
	}
	free(kt);
	if (!ok(k != NULL, "golden: the fixed test keys load"))
		bail_out("golden keys: %s", err);
	milter_dkim_sign_test_time(GOLDEN_T);
	golden_sign(k, &rsa, &ed);
	is_str(rsa, golden_rsa, "golden: RSA-SHA256, byte for byte");
	is_str(ed, golden_ed, "golden: Ed25519-SHA256, byte for byte");
	free(rsa);
	free(ed);

	/* the default: the clock's time */
	milter_dkim_sign_test_time(0);
	before = time(NULL);
	golden_sign(k, &rsa, &ed);
	t = strstr(rsa, " t=") ? strtoll(strstr(rsa, " t=") + 3, NULL, 10)
			       : -1;
	ok(t >= (long long)before && t <= (long long)time(NULL),
	   "no fixed time: t= is the clock's (%lld)", t);
	snprintf(want, sizeof(want), "t=%lld;", GOLDEN_T);
	ok(strstr(rsa, want) == NULL, "... not the test's");
	free(rsa);
	free(ed);
	milter_keys_unref(&k);
}

int
main(void)
{
	char *cmd;

	plan_lazy();
	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp failed");
	test_glob();
	test_from();
	test_tables();
	test_golden();
	cmd = x_asprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	free(cmd);
	done_testing();
	return exit_status();
}
