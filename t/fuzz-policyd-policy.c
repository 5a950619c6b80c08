/*++
 * NAME
 *	fuzz-policyd-policy 1
 * SUMMARY
 *	fuzz target for policyd's key building and decisions
 * SYNOPSIS
 *	t/0308-policyd-policy-fuzz.t [FILE | DIR]...
 * DESCRIPTION
 *	The input is what a client sends on one connection (policy
 *	requests, as t/0303's); every request the parser completes is
 *	decided, on a session (refunds included), by a policy with a
 *	limit of every key kind and unit (recipient domains at DATA and
 *	END-OF-MESSAGE, bytes, recipients, a calendar quota, exemptions)
 *	on a real SQLite store in a temporary directory; the clock moves a
 *	second per input, so windows fill and expire.  Every reply must be
 *	one "action=..." line and the empty line, with no other line
 *	break or control character (nothing a request holds may split or
 *	forge the answer), and every key a limit builds must be one line
 *	too.  Without -DFUZZ_LIBFUZZER, main() is the shared gcc driver.
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz-driver.h"
#include "log.h"
#include "policyd-keys.h"
#include "policyd-options.h"
#include "policyd-policy.h"
#include "policyd-proto.h"
#include "policyd-store.h"
#include "../sections-all.h"
#include "xalloc.h"

static const char fuzz_conf[] =
	"policyd {\n"
	" client_message_limit = \"5/1m\"\n"
	" sasl_user_message_limit = \"7/1h\"\n"
	" exempt_networks = {\"10.0.0.0/8\", \"2001:db8:ffff::/48\"}\n"
	" exempt_sasl_users = {\"relay\"}\n"
	" limit rd { key = recipient_domain\nunit = bytes\nrate = 5000\n"
	"action = reject }\n"
	" limit rc { key = sender\nunit = recipients\nrate = 9\n"
	"period = 10m\naction = hold }\n"
	" limit sd { key = sender_domain\nrate = 3\nperiod = day\n"
	"action = warn\nprepend = \"X-Fuzz\" }\n"
	" limit ls { key = listener\nunit = bytes\nrate = 100000\n"
	"dry_run = true }\n"
	" limit gl { key = global\nrate = 50\nperiod = 1m }\n"
	" limit ip { key = client_ip\nprefix_v4 = 24\nprefix_v6 = 48\n"
	"rate = 4\nclients = authenticated }\n"
	"}\n";

static struct policyd_policy *fuzz_pol;
static struct policyd_limit_conf *fuzz_limits;	/* the effective limits */
static size_t fuzz_nlimits;
static struct policyd_store *fuzz_store;
static struct conf *fuzz_c;
static int64_t fuzz_now = 1700000000000LL;
static char fuzz_dir[] = "/tmp/elemta-fuzz-policy.XXXXXX";

/* fuzz_cleanup - remove the temporary directory */
static void
fuzz_cleanup(void)
{
	char path[300];

	policyd_policy_free(&fuzz_pol);
	policyd_conf_limits_free(&fuzz_limits, fuzz_nlimits);
	policyd_store_close(&fuzz_store);
	conf_unref(&fuzz_c);
	snprintf(path, sizeof(path), "%s/policyd.db", fuzz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policyd.db-journal", fuzz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policyd.db-wal", fuzz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policyd.db-shm", fuzz_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/elemta.conf", fuzz_dir);
	unlink(path);
	rmdir(fuzz_dir);
}

/* fuzz_init - the policy, once */
static void
fuzz_init(void)
{
	char path[300], err[256], *errors = NULL;
	FILE *fp;

	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(fuzz_cleanup);
	log_set_level(LOG_CRIT);	/* decisions log; not wanted here */
	snprintf(path, sizeof(path), "%s/elemta.conf", fuzz_dir);
	if ((fp = fopen(path, "w")) == NULL || fputs(fuzz_conf, fp) < 0
	    || fclose(fp) != 0)
		abort();
	if ((fuzz_c = conf_load(elemta_sections, path, NULL, 0, &errors))
	    == NULL) {
		fprintf(stderr, "fuzz conf: %s\n", errors);
		abort();
	}
	snprintf(path, sizeof(path), "%s/policyd.db", fuzz_dir);
	if ((fuzz_store = policyd_store_sqlite_open(path, 1000, 60000, err,
						    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz store: %s\n", err);
		abort();
	}
	fuzz_pol = policyd_policy_new(fuzz_store);
	policyd_policy_configure(fuzz_pol, conf_get(fuzz_c,
						    &policyd_conf_section));
	fuzz_limits = policyd_conf_limits(conf_get(fuzz_c,
						   &policyd_conf_section),
					  &fuzz_nlimits);
}

/* fuzz_one_line - abort unless s (n bytes) is one line of text */
static void
fuzz_one_line(const char *what, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
			fprintf(stderr, "%s has a control character at %zu:"
				" %.*s\n", what, i, (int)n, s);
			abort();
		}
}

/* fuzz_keys - every limit's key of req is one line */
static void
fuzz_keys(const struct policyd_req *req)
{
	char key[300], who[200];
	size_t i;

	for (i = 0; i < fuzz_nlimits; i++) {
		if (policyd_keys_value(&fuzz_limits[i], req, NULL, key,
				       sizeof(key)) < 0)
			continue;
		fuzz_one_line("a key", key, strlen(key));
		policyd_keys_who(&fuzz_limits[i], key, who, sizeof(who));
		fuzz_one_line("a key's text", who, strlen(who));
	}
}

/* LLVMFuzzerTestOneInput - one connection's bytes, decided */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policyd_proto *p;
	struct policyd_session *sess;
	const struct policyd_req *req;
	char reply[1024], err[256];
	size_t off = 0, used, n;
	int rc;

	if (fuzz_pol == NULL)
		fuzz_init();
	fuzz_now += 1000;
	p = policyd_proto_new();
	sess = policyd_policy_session_new();
	while (off < size) {
		rc = policyd_proto_feed(p, (const char *)data + off,
					size - off, &used, &req, err,
					sizeof(err));
		if (rc == POLICYD_PROTO_ERROR)
			break;
		off += used;
		if (rc != POLICYD_PROTO_DONE)
			continue;
		fuzz_keys(req);
		n = policyd_policy_decide_session(fuzz_pol, sess, req, fuzz_now,
						  reply, sizeof(reply));
		if (n == 0)
			continue;	/* (no directory here: not reached) */
		if (n < 9 || n >= sizeof(reply)
		    || strncmp(reply, "action=", 7) != 0
		    || strcmp(reply + n - 2, "\n\n") != 0) {
			fprintf(stderr, "bad reply: %.*s\n", (int)n, reply);
			abort();
		}
		fuzz_one_line("a reply", reply, n - 2);
	}
	policyd_policy_session_end(fuzz_pol, &sess, fuzz_now);
	policyd_proto_free(&p);
	policyd_policy_tick(fuzz_pol, fuzz_now);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
#define R	"request=smtpd_access_policy\n"
static const char *const fuzz_corpus[] = {
	R "protocol_state=RCPT\nclient_address=192.0.2.10\n"
	"sender=a@example.test\nrecipient=b@example.net\ninstance=i1\n\n"
	R "protocol_state=RCPT\nclient_address=192.0.2.10\n"
	"sender=a@example.test\nrecipient=c@Example.NET\ninstance=i1\n\n"
	R "protocol_state=END-OF-MESSAGE\nclient_address=192.0.2.10\n"
	"sender=a@example.test\nsize=4000\ninstance=i1\n"
	"recipient_count=2\n\n",
	R "protocol_state=RCPT\nclient_address=2001:db8:1::5\n"
	"sasl_username=alice\nsender=<>\nrecipient=x@y\ninstance=i2\n"
	"policy_context=submission\nserver_port=587\n\n"
	R "protocol_state=DATA\nclient_address=2001:db8:1::5\n"
	"sasl_username=alice\nrecipient_count=1\ninstance=i2\n\n",
	R "protocol_state=RCPT\nclient_address=10.1.2.3\n"
	"sasl_username=relay\nrecipient=a@b\ninstance=i3\n\n",
	R "protocol_state=END-OF-MESSAGE\nclient_address=::ffff:192.0.2.7\n"
	"sender=\"odd local\"@d.test\nsize=99999999999999999999\n"
	"instance=i4\n\n",
	R "protocol_state=CONNECT\nclient_address=unknown\n\n",
	R "protocol_state=RCPT\nrecipient=@\nsender=@@\ninstance=\n\n",
};

/* main - the shared gcc driver (t/fuzz-driver.c) */
int
main(int argc, char **argv)
{
	return fuzz_driver_main(argc, argv, fuzz_corpus,
				sizeof(fuzz_corpus) / sizeof(fuzz_corpus[0]),
				"=\n@.:<>\"\r\t ");
}
#endif
