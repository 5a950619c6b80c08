/*++
 * NAME
 *	0320-policyd-redis 1
 * SUMMARY
 *	unit tests for lib/redis.c and policyd/policyd-store-redis.c
 * DESCRIPTION
 *	Without a server: the server syntax, the key form, the [redis]
 *	section and the policyd store options, a client whose server is
 *	down (fails, then fails fast during the back-off).
 *
 *	The check of a one-integer answer (redis_check_int).
 *	Redis Cluster's hash slots, against the values of CLUSTER KEYSLOT;
 *	MOVED and ASK texts parsed (and malformed ones refused).
 *	With ELEMTA_TEST_REDIS_CLUSTER=HOST:PORT, one node of a cluster
 *	(t/0325-policyd-redis-cluster.t): keys over all the nodes, MOVED
 *	followed and learnt.
 *
 *	With ELEMTA_TEST_REDIS=HOST:PORT (t/0321-policyd-redis-script.t
 *	starts a private redis-server): the Lua script and
 *	policyd_limit_take() run the same random traffic (bursts, the same
 *	millisecond, clock steps backwards, weights, peeks, the log full
 *	and merging) with an injected clock, and every answer, the stored
 *	log and its TTL must agree; the same for calendar quotas (days and
 *	months, refunds included), whose period Redis's clock picks; and
 *	for 1000 checks, then their refunds, each in one pipelined batch.
 *	Deadlines: a script called with one past (on Redis's clock) takes
 *	nothing and says so, with one to come it takes; a take that timed
 *	out behind a script holding Redis runs after it, late, and takes
 *	nothing.  An answer of the wrong type (a string where the caller
 *	checks for an integer) fails the call and leaves the client's
 *	back-off as it was (white box: redis-private.h), pipelined or run
 *	alone after NOSCRIPT; a right one resets it.
 *--*/
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "conf.h"
#include "policyd-calendar.h"
#include "policyd-limit.h"
#include "policyd-options.h"
#include "policyd-store-redis.h"
#include "redis.h"
#include "redis-private.h"
#include "../sections-all.h"
#include "tap.h"

/* test_servers - the server syntax */
static void
test_servers(void)
{
	static const struct {
		const char *s;
		int ok;
	} t[] = {
		{ "127.0.0.1:6379", 1 }, { "redis.example:6380", 1 },
		{ "[::1]:6379", 1 }, { "/run/redis/redis.sock", 1 },
		{ "127.0.0.1", 0 }, { "127.0.0.1:", 0 },
		{ "127.0.0.1:0", 0 }, { "127.0.0.1:65536", 0 },
		{ ":6379", 0 }, { "::1:6379", 0 }, { "host:63x", 0 },
		{ "relative.sock", 0 },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(redis_server_check(t[i].s, err, sizeof(err)) == 0,
		       t[i].ok, "server '%s' %s", t[i].s,
		       t[i].ok ? "accepted" : "refused");
}

/* test_slots - Redis Cluster hash slots (the values CLUSTER KEYSLOT of
 * redis-server 7.0 gives) */
static void
test_slots(void)
{
	static const struct {
		const char *key;
		unsigned slot;
	} t[] = {
		{ "123456789", 12739 },		/* CRC16/XMODEM 0x31C3 */
		{ "foo", 12182 }, { "bar", 5061 }, { "", 0 }, { "{", 4092 },
		{ "{user1000}.following", 3443 },
		{ "{user1000}.followers", 3443 },
		{ "foo{}{bar}", 8363 },		/* empty tag: the whole key */
		{ "foo{{bar}}zap", 4015 },	/* the tag is "{bar" */
		{ "foo{bar}{zap}", 5061 },	/* the first tag: "bar" */
		{ "elemta:policyd:{msg:ip:192.0.2.10}", 3442 },
		{ "msg:ip:192.0.2.10", 3442 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(redis_key_slot(t[i].key), t[i].slot, "slot of '%s'",
		       t[i].key);
}

/* test_check_int - the check of a script answering one integer (the
 * greylist client count, a refund's weight) */
static void
test_check_int(void)
{
	struct redisReply r;
	char err[128];

	memset(&r, 0, sizeof(r));
	r.type = REDIS_REPLY_INTEGER;
	snprintf(err, sizeof(err), "untouched");
	is_int(redis_check_int(&r, err, sizeof(err)), 0, "check_int: integer");
	is_str(err, "untouched", "check_int: no error for an integer");
	r.type = REDIS_REPLY_STRING;
	is_int(redis_check_int(&r, err, sizeof(err)), -1,
	       "check_int: a string refused");
	is_str(err, "redis: the script's answer is not an integer (reply "
	       "type 1)", "check_int: the error says so");
	r.type = REDIS_REPLY_ARRAY;
	is_int(redis_check_int(&r, err, sizeof(err)), -1,
	       "check_int: an array refused");
}

/* test_conf_equal - a copy equals its original; each setting counts
 * (what the greylist pool compares at a reload) */
static void
test_conf_equal(void)
{
	char *servers[] = { "127.0.0.1:6379", "/run/redis.sock" };
	struct redis_conf a = { servers, 2, NULL, 0, 1000, 2000, "p:" };
	struct redis_conf b;

	redis_conf_copy(&b, &a);
	ok(b.servers != a.servers && redis_conf_equal(&a, &b),
	   "conf_copy: a deep copy, equal");
	b.command_timeout_ms++;
	ok(!redis_conf_equal(&a, &b), "conf_equal: a timeout differs");
	b.command_timeout_ms--;
	b.nservers = 1;
	ok(!redis_conf_equal(&a, &b), "conf_equal: fewer servers");
	b.nservers = 2;
	free(b.servers[1]);
	b.servers[1] = x_strdup("/run/other.sock");
	ok(!redis_conf_equal(&a, &b), "conf_equal: another server");
	redis_conf_free(&b);
	redis_conf_copy(&b, &a);
	b.password = x_strdup("secret");
	ok(!redis_conf_equal(&a, &b), "conf_equal: a password");
	x_free(&b.password);
	ok(redis_conf_equal(&a, &b), "conf_equal: none again");
	redis_conf_free(&b);
	ok(b.servers == NULL && b.nservers == 0, "conf_free: emptied");
}

/* test_redirect_parse - MOVED and ASK texts, good and bad */
static void
test_redirect_parse(void)
{
	static const struct {
		const char *text, *from;
		int rc, ask;
		unsigned slot;
		const char *addr;
	} t[] = {
		{ "MOVED 3999 127.0.0.1:6381", "h:1", 0, 0, 3999,
		  "127.0.0.1:6381" },
		{ "ASK 3999 10.0.0.2:7000", "h:1", 0, 1, 3999,
		  "10.0.0.2:7000" },
		{ "MOVED 1 ::1:6381", "h:1", 0, 0, 1, "[::1]:6381" },
		{ "MOVED 1 [2001:db8::5]:6381", "h:1", 0, 0, 1,
		  "[2001:db8::5]:6381" },
		{ "MOVED 16383 :7001", "192.0.2.1:7000", 0, 0, 16383,
		  "192.0.2.1:7001" },
		{ "MOVED 5 ?:7001", "[::1]:7000", 0, 0, 5, "[::1]:7001" },
		{ "MOVED 16384 h:1", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 h:0", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 h:65536", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 h:12x", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 h:", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 nocolon", "h:1", -1, 0, 0, "" },
		{ "MOVED x h:1", "h:1", -1, 0, 0, "" },
		{ "MOVED 1", "h:1", -1, 0, 0, "" },
		{ "ERR something", "h:1", -1, 0, 0, "" },
		{ "MOVEDX 1 h:1", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 [:5", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 a]:5", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 a/b:5", "h:1", -1, 0, 0, "" },
		{ "MOVED 1 a\x01b:5", "h:1", -1, 0, 0, "" },
	};
	char addr[300];
	unsigned slot;
	size_t i;
	int ask, rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		addr[0] = '\0';
		ask = -1;
		slot = 99999;
		rc = redis_redirect_parse(t[i].text, t[i].from, &ask, &slot,
					  addr, sizeof(addr));
		is_int(rc, t[i].rc, "'%s': %s", t[i].text,
		       t[i].rc ? "refused" : "parsed");
		if (rc != 0 || t[i].rc != 0)
			continue;
		ok(ask == t[i].ask && slot == t[i].slot
		   && strcmp(addr, t[i].addr) == 0, "'%s' from %s: ask=%d"
		   " slot=%u %s (want %d %u %s)", t[i].text, t[i].from, ask,
		   slot, addr, t[i].ask, t[i].slot, t[i].addr);
	}
}

/* test_cluster - a real cluster, started at one node: MOVED is followed
 * and learnt (ASK and resharding: t/0325-policyd-redis-cluster.t) */
static void
test_cluster(const char *server)
{
	char *servers[] = { (char *)server, NULL };
	struct redis_conf c = { servers, 1, NULL, 0, 1000, 2000,
				(char *)"t0320c:" };
	struct policyd_limit lim = { 1, 3600000 };
	struct policyd_limit_result r;
	struct policyd_redis *rs = policyd_redis_new(&c);
	struct redis_stats st;
	unsigned long moved;
	char key[64], err[256];
	int i, pass = 0, refused = 0, bad = 0;

	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "msg:ip:198.51.100.%d:%d", i % 256,
			 i);
		if (policyd_redis_take(rs, key, &lim, 0, 1, 0, &r, err,
				       sizeof(err)) < 0) {
			if (bad++ == 0)
				diag("%s: %s", key, err);
		} else if (r.allowed) {
			pass++;
		}
	}
	is_int(pass, 200, "200 keys over the cluster, 1 each: all pass");
	is_int(bad, 0, "no call failed");
	policyd_redis_stats(rs, &st);
	ok(st.moved > 100 && st.moved <= 200, "MOVED followed (%lu: the"
	   " keys on the other nodes)", st.moved);
	moved = st.moved;
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "msg:ip:198.51.100.%d:%d", i % 256,
			 i);
		if (policyd_redis_take(rs, key, &lim, 0, 1, 0, &r, err,
				       sizeof(err)) == 0 && !r.allowed)
			refused++;
	}
	is_int(refused, 200, "again: all 200 refused (each key was read back"
	       " where it was written)");
	policyd_redis_stats(rs, &st);
	is_int((long long)(st.moved - moved), 0, "with no MOVED: the slots"
	       " were learnt");
	ok(st.connects >= 3, "a connection per node (%lu)", st.connects);
	policyd_redis_free(&rs);
}

/* load - a snapshot of the whole schema with overrides; NULL + diag */
static struct conf *
load(const char *const *ov, size_t n, char **errors)
{
	*errors = NULL;
	return conf_load(elemta_sections, NULL, ov, n, errors);
}

/* test_conf - the [redis] section and the policyd store options */
static void
test_conf(void)
{
	static const char *const ov[] = {
		"redis.servers={\"10.0.0.1:6379\",\"/run/r.sock\"}",
		"redis.password=s3cret", "redis.database=2",
		"redis.command_timeout_ms=50", "redis.key_prefix=mx1:",
		"policyd.store=redis", "policyd.store_fallback=local",
	};
	static const char *const bad[] = {
		"redis.servers={\"nohost\"}", "redis.command_timeout_ms=0",
		"policyd.store=memcached", "policyd.store_fallback=maybe",
	};
	const struct redis_conf *rc;
	const struct policyd_conf *pc;
	struct conf *c;
	char *errors;
	size_t i;

	c = load(NULL, 0, &errors);
	ok(c != NULL, "the defaults load");
	if (c == NULL) {
		diag("%s", errors);
		free(errors);
		return;
	}
	rc = conf_get(c, &redis_conf_section);
	pc = conf_get(c, &policyd_conf_section);
	is_int((long long)rc->nservers, 1, "one server by default");
	is_str(rc->servers[0], "127.0.0.1:6379", "it is 127.0.0.1:6379");
	ok(rc->password == NULL, "no password");
	is_int(rc->database, 0, "database 0");
	is_int(rc->connect_timeout_ms, 200, "connect_timeout_ms 200");
	is_int(rc->command_timeout_ms, 100, "command_timeout_ms 100");
	is_str(rc->key_prefix, "elemta:", "key_prefix elemta:");
	is_int(pc->store, POLICYD_STORE_SQLITE, "store = sqlite by default");
	is_int(pc->store_fallback, POLICYD_FALLBACK_ACTION,
	       "store_fallback = fail_action by default");
	conf_unref(&c);

	c = load(ov, sizeof(ov) / sizeof(ov[0]), &errors);
	ok(c != NULL, "overrides load");
	if (c == NULL) {
		diag("%s", errors);
		free(errors);
		return;
	}
	rc = conf_get(c, &redis_conf_section);
	pc = conf_get(c, &policyd_conf_section);
	is_int((long long)rc->nservers, 2, "two servers");
	is_str(rc->servers[1], "/run/r.sock", "the second is a unix socket");
	is_str(rc->password, "s3cret", "password");
	is_int(rc->database, 2, "database 2");
	is_int(rc->command_timeout_ms, 50, "command_timeout_ms 50");
	is_str(rc->key_prefix, "mx1:", "key_prefix");
	is_int(pc->store, POLICYD_STORE_REDIS, "store = redis");
	is_int(pc->store_fallback, POLICYD_FALLBACK_LOCAL,
	       "store_fallback = local");
	conf_unref(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load(bad + i, 1, &errors);
		ok(c == NULL && errors != NULL, "%s is refused", bad[i]);
		if (errors != NULL)
			diag("error: %s", errors);
		free(errors);
		conf_unref(&c);
	}
}

/* test_down - a server that is not there */
static void
test_down(void)
{
	static char *servers[] = { (char *)"127.0.0.1:1", NULL };
	struct redis_conf c = { servers, 1, NULL, 0, 200, 100,
				(char *)"elemta:" };
	struct policyd_limit lim = { 10, 3600000 };
	struct policyd_limit_result r;
	struct policyd_redis *rs = policyd_redis_new(&c);
	struct redis_stats st;
	char err[256], key[256];
	long long t0;

	policyd_redis_key(rs, "msg:ip:192.0.2.1", key, sizeof(key));
	is_str(key, "elemta:policyd:{msg:ip:192.0.2.1}",
	       "keys are prefix + policyd: + a hash tag");
	ok(policyd_redis_take(rs, "msg:ip:192.0.2.1", &lim, 0, 1, 0, &r, err,
			      sizeof(err)) < 0, "server down: the take fails");
	like_str(err, "redis 127.0.0.1:1 connect: ",
		 "with the server and the reason");
	t0 = clock_mono_ms();
	ok(policyd_redis_take(rs, "msg:ip:192.0.2.1", &lim, 0, 1, 0, &r, err,
			      sizeof(err)) < 0, "at once again: fails");
	like_str(err, "unavailable (next attempt in ",
		 "without trying, during the back-off");
	ok(clock_mono_ms() - t0 < 50, "and fast (%lld ms)",
	   (long long)(clock_mono_ms() - t0));
	policyd_redis_stats(rs, &st);
	is_int((long long)st.failures, 2, "2 failures counted");
	is_int(st.up, 0, "not up");
	policyd_redis_free(&rs);
	ok(rs == NULL, "freed");
}

/* state_text - the log as the script stores it */
static void
state_text(const struct policyd_limit_state *st, char *out, size_t len)
{
	size_t off = 0;
	uint32_t i;

	out[0] = '\0';
	for (i = 0; i < st->n && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%" PRId64
					":%" PRIu64, i ? " " : "",
					st->e[i].t, st->e[i].w);
}

/* agree - do the C and Lua answers of op i agree?  (at is compared
 * when admitted, or always with all_at) */
static int
agree(const struct policyd_limit_result *a, const struct policyd_limit_result *b,
      int all_at, unsigned seed, int i, int64_t now, uint64_t w, int peek)
{
	if (a->allowed == b->allowed && a->used == b->used
	    && ((!a->allowed && !all_at) || a->at == b->at)
	    && (a->allowed || a->retry_ms == b->retry_ms))
		return 1;
	diag("seed %u op %d now %" PRId64 " w %" PRIu64 " peek %d: C"
	     " allowed=%d used=%" PRIu64 " at=%" PRId64 " retry=%" PRId64
	     ", Lua allowed=%d used=%" PRIu64 " at=%" PRId64 " retry=%"
	     PRId64, seed, i, now, w, peek, a->allowed, a->used, a->at,
	     a->retry_ms, b->allowed, b->used, b->at, b->retry_ms);
	return 0;
}

/* stored_agree - does Redis hold st at rkey?  0 yes, 1 no, -1 error */
static int
stored_agree(struct redis_client *cl, const char *rkey,
	     const struct policyd_limit_state *st, unsigned seed, int i)
{
	struct redisReply *rep;
	char want[2048], err[256];
	int bad = 0;

	state_text(st, want, sizeof(want));
	/* stored as MessagePack: the dump script gives it as text */
	if (redis_client_eval(cl, policyd_redis_dump_script, rkey, 0, NULL,
			      NULL, &rep, err, sizeof(err)) < 0) {
		diag("dump: %s", err);
		return -1;
	}
	if (strcmp(rep->type == REDIS_REPLY_STRING ? rep->str : "",
		   want) != 0) {
		diag("seed %u op %d: C log \"%s\", Redis \"%s\"", seed, i,
		     want, rep->type == REDIS_REPLY_STRING ? rep->str
		     : "(nil)");
		bad = 1;
	}
	redis_reply_free(&rep);
	return bad;
}

/* compare_run - one random run of n ops; 0 if all agreed */
static int
compare_run(struct policyd_redis *rs, struct redis_client *cl,
	    const struct policyd_limit *lim, unsigned seed, int n,
	    int maxstep, int maxw)
{
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result a, b;
	char key[64], rkey[256], err[256];
	int64_t now = 1000000;
	int i, peek, rc, bad = 0;
	uint64_t w;

	snprintf(key, sizeof(key), "cmp:%u", seed);
	policyd_redis_key(rs, key, rkey, sizeof(rkey));
	srand(seed);
	for (i = 0; i < n && !bad; i++) {
		int step = rand() % (maxstep + 1);

		if (rand() % 20 == 0)
			now -= rand() % (maxstep + 1);	/* step back */
		else if (rand() % 4 != 0)
			now += step;			/* else: same ms */
		w = (uint64_t)(rand() % maxw) + (rand() % 50 == 0 ? 0 : 1);
		peek = rand() % 10 == 0;
		if (peek)
			policyd_limit_peek(lim, &st, now, w, &a);
		else
			policyd_limit_take(lim, &st, now, w, &a);
		if (policyd_redis_take(rs, key, lim, now, w, peek, &b, err,
				       sizeof(err)) < 0) {
			diag("op %d: %s", i, err);
			return -1;
		}
		if (!agree(&a, &b, 0, seed, i, now, w, peek)) {
			bad = 1;
			break;
		}
		if (peek)
			continue;
		/* after a take both hold the same log (expired entries
		 * dropped by both) */
		policyd_limit_expire(lim, &st, a.at);
		if ((rc = stored_agree(cl, rkey, &st, seed, i)) < 0)
			return -1;
		bad = rc;
	}
	return bad ? -1 : 0;
}

/* compare_quota - one random run of n quota ops (takes, peeks,
 * refunds) across day or month boundaries; 0 if all agreed */
static int
compare_quota(struct policyd_redis *rs, struct redis_client *cl,
	      enum policyd_calendar cal, uint64_t max, unsigned seed, int n,
	      int64_t maxstep, int maxw)
{
	struct policyd_limit_state st = { 0 };
	struct policyd_limit_result a, b;
	struct policyd_limit lim = { max, 0, { 0 } };
	char key[64], rkey[256], err[256];
	int64_t now = 1706745600000LL;	/* 2024-02-01 00:00 UTC */
	int64_t tat[16], back_c, back_r;
	uint64_t w, tw[16];
	int i, j, peek, rc, ntakes = 0, bad = 0;

	snprintf(key, sizeof(key), "quota:%u", seed);
	policyd_redis_key(rs, key, rkey, sizeof(rkey));
	srand(seed);
	for (i = 0; i < n && !bad; i++) {
		if (rand() % 20 == 0)
			now -= rand() % (maxstep + 1);	/* step back */
		else if (rand() % 4 != 0)
			now += (int64_t)(((double)rand() / RAND_MAX)
					 * (double)maxstep);
		if (ntakes > 0 && rand() % 8 == 0) {
			j = rand() % ntakes;
			back_c = (int64_t)policyd_limit_refund_quota(
				&st, tat[j], tw[j]);
			back_r = policyd_redis_refund(rs, key, &lim, tat[j],
						      tw[j], err, sizeof(err));
			if (back_c != back_r) {
				diag("seed %u op %d: refund of %" PRIu64 " at %"
				     PRId64 ": C %" PRId64 ", Lua %" PRId64,
				     seed, i, tw[j], tat[j], back_c, back_r);
				bad = 1;
			}
			continue;
		}
		policyd_calendar_bounds(cal, 1, now, lim.q);
		w = (uint64_t)(rand() % maxw) + 1;
		peek = rand() % 10 == 0;
		if (peek)
			policyd_limit_peek(&lim, &st, now, w, &a);
		else
			policyd_limit_take(&lim, &st, now, w, &a);
		if (policyd_redis_take(rs, key, &lim, now, w, peek, &b, err,
				       sizeof(err)) < 0) {
			diag("op %d: %s", i, err);
			return -1;
		}
		if (!agree(&a, &b, 1, seed, i, now, w, peek)) {
			bad = 1;
			break;
		}
		if (peek)
			continue;
		if (a.allowed) {
			tat[ntakes % 16] = a.at;
			tw[ntakes % 16] = w;
			if (ntakes < 16)
				ntakes++;
		}
		if ((rc = stored_agree(cl, rkey, &st, seed, i)) < 0)
			return -1;
		bad = rc;
	}
	return bad ? -1 : 0;
}

/* test_quota_script - calendar quotas in Redis: the script against the
 * C limiter, Redis's clock picking the period, the TTL */
static void
test_quota_script(struct policyd_redis *rs, struct redis_client *cl)
{
	static const struct {
		enum policyd_calendar cal;
		uint64_t max;
		int64_t maxstep;
		int maxw;
	} cfg[] = {
		{ POLICYD_CAL_DAY, 10, 3 * 3600 * 1000LL, 1 },
		{ POLICYD_CAL_DAY, 50, 2 * 3600 * 1000LL, 9 },
		{ POLICYD_CAL_MONTH, 30, 5 * 86400 * 1000LL, 4 },
	};
	const int64_t day = 86400 * 1000LL;
	const int64_t d0 = 1709251200000LL;	/* 2024-03-01 00:00 UTC */
	struct policyd_limit lim = { 2, 0, { 0 } };
	struct policyd_limit_result r;
	struct redisReply *rep;
	const char *av[2];
	char err[256], rkey[256];
	int64_t now;
	unsigned seed;
	size_t k;
	int fails, good;

	for (k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++) {
		fails = 0;
		for (seed = 1; seed <= 20 && !fails; seed++)
			fails += compare_quota(rs, cl, cfg[k].cal, cfg[k].max,
					       (unsigned)(k * 100 + seed), 300,
					       cfg[k].maxstep,
					       cfg[k].maxw) < 0;
		ok(!fails, "quota %" PRIu64 " per %s, weights up to %d: the Lua"
		   " script and policyd_limit_take agree on 20 random runs"
		   " (takes, peeks, refunds)", cfg[k].max,
		   policyd_calendar_name(cfg[k].cal), cfg[k].maxw);
	}

	/* the node thinks it is 23:59:59.500, Redis says 00:00:00.200 */
	policyd_calendar_bounds(POLICYD_CAL_DAY, 1, d0 - 500, lim.q);
	good = policyd_redis_take(rs, "clockpick", &lim, d0 + 200, 2, 0, &r,
				  err, sizeof(err)) == 0 && r.allowed;
	ok(good && r.at == d0, "a node behind Redis counts in Redis's day"
	   " (at %" PRId64 ")", r.at);
	good = policyd_redis_take(rs, "clockpick", &lim, d0 + 300, 1, 0, &r,
				  err, sizeof(err)) == 0;
	ok(good && !r.allowed && r.retry_ms == day - 300,
	   "and its retry is until Redis's next midnight (%" PRId64 " ms)",
	   r.retry_ms);

	/* Redis's TIME, and the TTL of the key: the end of the day */
	now = clock_wall_ms();
	policyd_calendar_bounds(POLICYD_CAL_DAY, 1, now, lim.q);
	policyd_redis_take(rs, "qttl", &lim, 0, 2, 0, &r, err, sizeof(err));
	good = policyd_redis_take(rs, "qttl", &lim, 0, 1, 0, &r, err,
				  sizeof(err)) == 0 && !r.allowed;
	ok(good && r.retry_ms > lim.q[2] - now - 5000
	   && r.retry_ms <= lim.q[2] - now + 5000,
	   "with Redis's clock: retry until midnight UTC (%" PRId64 " ms)",
	   r.retry_ms);
	policyd_redis_key(rs, "qttl", rkey, sizeof(rkey));
	av[0] = "PTTL";
	av[1] = rkey;
	rep = NULL;
	good = redis_client_command(cl, 2, av, &rep, err, sizeof(err)) == 0
		&& rep->type == REDIS_REPLY_INTEGER
		&& rep->integer > lim.q[2] - now - 5000
		&& rep->integer <= lim.q[2] - now + 5000;
	ok(good, "the key expires at midnight (PTTL %lld)",
	   rep ? (long long)rep->integer : -1LL);
	redis_reply_free(&rep);
}

/* test_text_form - a log left in the text form of earlier versions
 * ("T:W T:W") still counts, is rewritten as MessagePack by the next
 * take, and a refund reads it too */
static void
test_text_form(struct policyd_redis *rs, struct redis_client *cl)
{
	struct policyd_limit lim = { 5, 3600000 };
	struct policyd_limit_result r;
	struct redisReply *rep;
	const char *av[3];
	char err[256], rkey[256];
	int64_t t0 = 1800000000000LL;
	int64_t back;
	int rc;

	policyd_redis_key(rs, "old", rkey, sizeof(rkey));
	av[0] = "SET";
	av[1] = rkey;
	av[2] = "1800000000000:2 1800000001000:2";
	if (redis_client_command(cl, 3, av, &rep, err, sizeof(err)) < 0)
		bail_out("SET: %s", err);
	redis_reply_free(&rep);
	rc = policyd_redis_take(rs, "old", &lim, t0 + 2000, 1, 0, &r, err,
				sizeof(err));
	ok(rc == 0 && r.allowed && r.used == 4,
	   "a text-form log counts: 4 used, the 5th of 5 admitted (used %"
	   PRIu64 ")", r.used);
	ok(policyd_redis_take(rs, "old", &lim, t0 + 3000, 1, 0, &r, err,
			      sizeof(err)) == 0 && !r.allowed,
	   "and the 6th is refused");
	av[0] = "GET";
	if (redis_client_command(cl, 2, av, &rep, err, sizeof(err)) < 0)
		bail_out("GET: %s", err);
	ok(rep->type == REDIS_REPLY_STRING && rep->len > 0
	   && (unsigned char)rep->str[0] >= 0x80,
	   "the take rewrote it as MessagePack");
	redis_reply_free(&rep);
	if (redis_client_eval(cl, policyd_redis_dump_script, rkey, 0, NULL,
			      NULL, &rep, err, sizeof(err)) < 0)
		bail_out("dump: %s", err);
	is_str(rep->type == REDIS_REPLY_STRING ? rep->str : "(nil)",
	       "1800000000000:2 1800000001000:2 1800000002000:1",
	       "the dump script shows the same log as text");
	redis_reply_free(&rep);
	av[2] = "1800000000000:2 1800000001000:2";
	av[0] = "SET";
	if (redis_client_command(cl, 3, av, &rep, err, sizeof(err)) < 0)
		bail_out("SET: %s", err);
	redis_reply_free(&rep);
	back = policyd_redis_refund(rs, "old", &lim, t0 + 1000, 1, err,
				    sizeof(err));
	is_int((long long)back, 1, "a refund reads the text form too");
	rc = policyd_redis_take(rs, "old", &lim, t0 + 2000, 0, 1, &r, err,
				sizeof(err));
	ok(rc == 0 && r.used == 3, "3 left after the refund (used %" PRIu64
	   ")", r.used);
}

/* test_pipeline - policyd_redis_run_many: 1000 checks on 200 keys (each
 * key 5 times, interleaved) in one batch, then their refunds in
 * another, must give exactly what policyd_limit_take and _refund give
 * one at a time; a batch after SCRIPT FLUSH (every call NOSCRIPT) still
 * works */
#define PIPE_OPS	1000
#define PIPE_KEYS	200
static void
test_pipeline(struct policyd_redis *rs, struct redis_client *cl)
{
	static struct policyd_limit_state st[PIPE_KEYS];
	static struct policyd_limit lims[PIPE_KEYS];
	static struct policyd_limit_result want[PIPE_OPS];
	static struct policyd_redis_op ops[PIPE_OPS];
	static char keys[PIPE_KEYS][32];
	struct redisReply *rep;
	const char *av[2];
	char rkey[256], err[256];
	int64_t now = 5000000;
	size_t i, k, nref, failed;
	int bad = 0;
	uint64_t back;

	memset(st, 0, sizeof(st));
	srand(4242);
	for (k = 0; k < PIPE_KEYS; k++) {
		snprintf(keys[k], sizeof(keys[k]), "pipe:%zu", k);
		lims[k].max = 1 + (uint64_t)(rand() % 8);
		lims[k].period_ms = 1000 + rand() % 60000;
	}
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < PIPE_OPS; i++) {
		k = i % PIPE_KEYS;
		now += rand() % 3;
		ops[i].key = keys[k];
		ops[i].lim = &lims[k];
		ops[i].clock = now;
		ops[i].weight = 1 + (uint64_t)(rand() % 3);
		ops[i].peek = rand() % 8 == 0;
		if (ops[i].peek)
			policyd_limit_peek(&lims[k], &st[k], now,
					   ops[i].weight, &want[i]);
		else
			policyd_limit_take(&lims[k], &st[k], now,
					   ops[i].weight, &want[i]);
		policyd_limit_expire(&lims[k], &st[k], want[i].at);
	}
	failed = policyd_redis_run_many(rs, ops, PIPE_OPS);
	is_int((long long)failed, 0, "1000 checks on 200 keys in one batch:"
	       " none failed (%s)", ops[0].err);
	for (i = 0; i < PIPE_OPS && !bad; i++)
		bad = !agree(&want[i], &ops[i].r, 0, 4242, (int)i,
			     ops[i].clock, ops[i].weight, ops[i].peek);
	ok(!bad, "each answer is policyd_limit_take's, in order (keys"
	   " repeated within the batch included)");
	for (k = 0, bad = 0; k < PIPE_KEYS && !bad; k++) {
		policyd_redis_key(rs, keys[k], rkey, sizeof(rkey));
		bad = stored_agree(cl, rkey, &st[k], 4242, (int)k) != 0;
	}
	ok(!bad, "the 200 stored logs are the C limiter's");

	/* the refunds of every admitted take, in one batch */
	for (i = 0, nref = 0; i < PIPE_OPS; i++) {
		if (!ops[i].r.allowed || ops[i].peek)
			continue;
		ops[nref] = ops[i];
		ops[nref].refund = 1;
		ops[nref].at = ops[i].r.at;
		nref++;
	}
	failed = policyd_redis_run_many(rs, ops, nref);
	is_int((long long)failed, 0, "%zu refunds in one batch: none failed",
	       nref);
	for (i = 0, bad = 0; i < nref; i++) {
		k = (size_t)(ops[i].key - keys[0]) / sizeof(keys[0]);
		back = policyd_limit_refund(&st[k], ops[i].at, ops[i].weight);
		if ((uint64_t)ops[i].back != back && !bad) {
			diag("refund %zu of %s: Redis %lld, C %llu", i,
			     ops[i].key, (long long)ops[i].back,
			     (unsigned long long)back);
			bad = 1;
		}
	}
	ok(!bad, "each gave back what policyd_limit_refund gives back");
	for (k = 0, bad = 0; k < PIPE_KEYS && !bad; k++) {
		policyd_redis_key(rs, keys[k], rkey, sizeof(rkey));
		bad = stored_agree(cl, rkey, &st[k], 4243, (int)k) != 0;
	}
	ok(!bad, "and the logs are the C limiter's again");

	/* NOSCRIPT inside a batch: each call goes again alone, with EVAL */
	av[0] = "SCRIPT";
	av[1] = "FLUSH";
	if (redis_client_command(cl, 2, av, &rep, err, sizeof(err)) == 0)
		redis_reply_free(&rep);
	for (i = 0; i < 10; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].key = keys[i];
		ops[i].lim = &lims[i];
		ops[i].weight = 1;
	}
	failed = policyd_redis_run_many(rs, ops, 10);
	for (i = 0, bad = 0; i < 10; i++)
		bad |= ops[i].rc != 0 || ops[i].r.at < 1700000000000LL;
	ok(failed == 0 && !bad, "a batch after SCRIPT FLUSH works (%zu"
	   " failed: %s)", failed, ops[0].err);
}

/* script_call - the window (or quota) script on rkey, 3 per hour (a
 * quota: per day, q as given), with the deadline dl; the reply's first
 * element (allowed, or -1: too late), or -2 */
static long long
script_call(struct redis_client *cl, const char *rkey, int quota,
	    const char *dl)
{
	const char *win[] = { "3", "3600000", "1", "take", "32", "0", dl };
	const char *q[] = { "3", "1", "take", "0", "1000", "4102444800000",
			    "4102531200000", "0", dl };
	struct redisReply *rep;
	char err[256];
	long long v = -2;

	if (redis_client_eval(cl, quota ? policyd_redis_quota_script
			      : policyd_redis_script, rkey, quota ? 9 : 7,
			      quota ? q : win, NULL, &rep, err,
			      sizeof(err)) < 0) {
		diag("script: %s", err);
		return -2;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4
	    && rep->element[0]->type == REDIS_REPLY_INTEGER)
		v = rep->element[0]->integer;
	redis_reply_free(&rep);
	return v;
}

/* redis_int - an integer answer of a command (-1: none) */
static long long
redis_int(struct redis_client *cl, int argc, const char **av)
{
	struct redisReply *rep;
	char err[256];
	long long v = -1;

	if (redis_client_command(cl, argc, av, &rep, err, sizeof(err)) < 0) {
		diag("%s: %s", av[0], err);
		return -1;
	}
	if (rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	redis_reply_free(&rep);
	return v;
}

/* clients - how many connections Redis has */
static long long
clients(struct redis_client *cl)
{
	const char *av[2] = { "INFO", "clients" };
	struct redisReply *rep;
	char err[256];
	const char *p;
	long long v = -1;

	if (redis_client_command(cl, 2, av, &rep, err, sizeof(err)) < 0)
		return -1;
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		if ((p = strstr(rep->str, "connected_clients:")) != NULL)
			v = atoll(p + 18);
	redis_reply_free(&rep);
	return v;
}

/* late_take - a take of key behind a script that holds Redis 500 ms
 * (sent on a connection of its own, not read): it times out (100 ms);
 * 1 when it did, and once Redis has run it (its connection, closed,
 * is gone) */
static int
late_take(struct policyd_redis *late, struct redis_client *cl,
	  const char *server, const char *key)
{
	static const char busy[] =
		"local function us() local t = redis.call('TIME')"
		" return t[1] * 1000000 + t[2] end"
		" local e = us() + 500000 repeat until us() >= e return 1";
	struct policyd_limit lim = { 3, 3600000 };
	struct policyd_limit_result r;
	struct timeval tv = { 5, 0 };
	redisContext *ctx;
	redisReply *rep;
	char host[64], err[256];
	const char *colon = strrchr(server, ':');
	long long before, t0;
	int done = 0, timedout;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
	ctx = redisConnectWithTimeout(host, atoi(colon + 1), tv);
	if (ctx == NULL || ctx->err)
		bail_out("connect %s", server);
	redisSetTimeout(ctx, tv);
	before = clients(cl);
	redisAppendCommand(ctx, "EVAL %s 0", busy);
	while (!done)
		if (redisBufferWrite(ctx, &done) != REDIS_OK)
			bail_out("write to %s", server);
	usleep(100000);		/* the busy script has started */
	timedout = policyd_redis_take(late, key, &lim, 0, 1, 0, &r, err,
				      sizeof(err)) < 0
		&& strstr(err, "timed out") != NULL;
	if (!timedout)
		diag("the take did not time out: %s", err);
	if (redisGetReply(ctx, (void **)&rep) == REDIS_OK && rep != NULL)
		freeReplyObject(rep);
	redisFree(ctx);
	/* the late take's connection, closed, goes once Redis read it all */
	t0 = clock_mono_ms();
	while (clients(cl) > before - 1 && clock_mono_ms() - t0 < 5000)
		usleep(10000);
	return timedout;
}

/* test_deadline - a script past its deadline takes nothing */
static void
test_deadline(struct policyd_redis *rs, struct redis_client *cl,
	      const char *server)
{
	char *servers[] = { (char *)server, NULL };
	struct redis_conf c = { servers, 1, NULL, 0, 1000, 100,
				(char *)"t0320:" };
	struct policyd_redis *late = policyd_redis_new(&c);
	struct policyd_limit lim = { 3, 3600000 };
	struct policyd_limit_result r;
	struct redisReply *rep;
	const char *av[2];
	char err[256], rkey[256], soon[32], key[32];
	const char *what;
	long long now_us;
	int quota, tries, timedout = 0;

	av[0] = "TIME";
	if (redis_client_command(cl, 1, av, &rep, err, sizeof(err)) < 0
	    || rep->type != REDIS_REPLY_ARRAY)
		bail_out("TIME: %s", err);
	now_us = atoll(rep->element[0]->str) * 1000000
		+ atoll(rep->element[1]->str);
	redis_reply_free(&rep);
	snprintf(soon, sizeof(soon), "%lld", now_us + 60000000);
	av[0] = "EXISTS";
	av[1] = rkey;
	for (quota = 0; quota < 2; quota++) {
		what = quota ? "the quota script" : "the window script";
		policyd_redis_key(rs, quota ? "dl:quota" : "dl:window", rkey,
				  sizeof(rkey));
		is_int(script_call(cl, rkey, quota, "1"), -1, "%s, a deadline"
		       " past on Redis's clock: says too late", what);
		is_int(redis_int(cl, 2, av), 0, "and takes nothing (no key)");
		is_int(script_call(cl, rkey, quota, soon), 1,
		       "%s, a deadline to come: takes", what);
		is_int(redis_int(cl, 2, av), 1, "and the key is written");
	}

	/* a take that times out behind a busy Redis, run later (on a key
	 * of its own each time: if Redis was not busy yet, it counted) */
	ok(policyd_redis_take(late, "dl:warm", &lim, 0, 1, 0, &r, err,
			      sizeof(err)) == 0 && r.allowed,
	   "command_timeout_ms 100: a take");
	for (tries = 0; tries < 3 && !timedout; tries++) {
		snprintf(key, sizeof(key), "dl:late:%d", tries);
		timedout = late_take(late, cl, server, key);
	}
	ok(timedout, "a take behind a script holding Redis 500 ms times out");
	ok(policyd_redis_take(rs, key, &lim, 0, 0, 1, &r, err,
			      sizeof(err)) == 0 && r.used == 0,
	   "run late, it took nothing (%" PRIu64 " counted)", r.used);
	policyd_redis_free(&late);
}

/* want_int - a redis_eval.check: an integer */
static int
want_int(const struct redisReply *r, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return 0;
	snprintf(err, errlen, "want an integer, got type %d", r->type);
	return -1;
}

/* odd_call - script on key with want_int, the client's back-off set to
 * 4000 ms first (as after failures); the call's rc, *backoff after */
static int
odd_call(struct redis_client *cl, const char *script, long long *backoff,
	 unsigned long *failures, char *err, size_t errlen)
{
	struct redis_eval ev;
	struct redis_stats st;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.script = script;
	ev.key = "t0320:{odd}";
	ev.check = want_int;
	redis_client_stats(cl, &st);
	*failures = st.failures;
	cl->backoff = 4000;
	redis_client_eval_many(cl, &ev, 1);
	rc = ev.rc;
	snprintf(err, errlen, "%s", ev.err);
	redis_reply_free(&ev.reply);
	*backoff = cl->backoff;
	redis_client_stats(cl, &st);
	*failures = st.failures - *failures;
	return rc;
}

/* test_odd_reply - an answer of the wrong type is no sign of health */
static void
test_odd_reply(struct redis_client *cl)
{
	static const char odd[] = "return 'not a number'";
	static const char good[] = "return 7";
	const char *av[2] = { "SCRIPT", "FLUSH" };
	struct redisReply *rep;
	unsigned long failures;
	long long backoff;
	char err[256];

	is_int(odd_call(cl, odd, &backoff, &failures, err, sizeof(err)), -1,
	       "a string where the caller checks for an integer: the call"
	       " fails");
	is_str(err, "want an integer, got type 1", "with the check's error");
	is_int(backoff, 4000, "the back-off is not reset (the node did not"
	       " answer as the script does)");
	is_int((long long)failures, 1, "one failure counted");
	is_int(odd_call(cl, good, &backoff, &failures, err, sizeof(err)), 0,
	       "an integer: the call works");
	is_int(backoff, REDIS_BACKOFF_MIN_MS, "and the back-off is reset");
	is_int((long long)failures, 0, "no failure counted");
	/* run alone: after SCRIPT FLUSH the pipelined EVALSHA is answered
	 * NOSCRIPT and the call goes again by itself */
	if (redis_client_command(cl, 2, av, &rep, err, sizeof(err)) == 0)
		redis_reply_free(&rep);
	is_int(odd_call(cl, odd, &backoff, &failures, err, sizeof(err)), -1,
	       "run alone after NOSCRIPT: the wrong type fails the call");
	is_int(backoff, 4000, "... and the back-off is not reset");
	/* one call, not pipelined */
	cl->backoff = 4000;
	is_int(redis_client_eval(cl, odd, "t0320:{odd}", 0, NULL, want_int,
				 &rep, err, sizeof(err)), -1,
	       "redis_client_eval: the wrong type fails the call");
	is_int(cl->backoff, 4000, "... and the back-off is not reset");
}

/* test_script - the script against the C limiter, on a real server */
static void
test_script(const char *server)
{
	char *servers[] = { (char *)server, NULL };
	struct redis_conf c = { servers, 1, NULL, 0, 1000, 2000,
				(char *)"t0320:" };
	static const struct {
		struct policyd_limit lim;
		int ops, maxstep, maxw;
	} cfg[] = {
		{ { 10, 1000 }, 400, 150, 1 },		/* window edges */
		{ { 100, 3600000 }, 600, 20000, 1 },	/* merging, 1/h */
		{ { 5, 500 }, 300, 40, 3 },		/* weights */
		{ { 1000, 60000 }, 500, 500, 200 },	/* big weights */
		{ { 3, 100 }, 300, 60, 4 },		/* weight > max */
	};
	struct redis_client *cl = redis_client_new(&c);
	struct policyd_redis *rs = policyd_redis_new(&c);
	struct policyd_limit lim = { 3, 3600000 };
	struct policyd_limit_result r;
	struct redisReply *rep;
	const char *av[2];
	char err[256], rkey[256];
	unsigned seed;
	size_t k;
	int fails, ttl_ok;

	av[0] = "FLUSHDB";
	if (redis_client_command(cl, 1, av, &rep, err, sizeof(err)) < 0)
		bail_out("cannot talk to redis %s: %s", server, err);
	redis_reply_free(&rep);
	for (k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++) {
		fails = 0;
		for (seed = 1; seed <= 20 && !fails; seed++)
			fails += compare_run(rs, cl, &cfg[k].lim,
					     (unsigned)(k * 100 + seed),
					     cfg[k].ops, cfg[k].maxstep,
					     cfg[k].maxw) < 0;
		ok(!fails, "%" PRIu64 " per %" PRId64 " ms, weights up to %d:"
		   " the Lua script and policyd_limit_take agree on 20 random"
		   " runs of %d ops", cfg[k].lim.max, cfg[k].lim.period_ms,
		   cfg[k].maxw, cfg[k].ops);
	}

	/* Redis's own clock, and the TTL */
	ok(policyd_redis_take(rs, "ttl", &lim, 0, 1, 0, &r, err,
			      sizeof(err)) == 0 && r.allowed,
	   "with Redis's clock: admitted");
	ok(r.at > 1700000000000LL, "at is Redis's time in ms (%" PRId64 ")",
	   r.at);
	policyd_redis_key(rs, "ttl", rkey, sizeof(rkey));
	av[0] = "PTTL";
	av[1] = rkey;
	ttl_ok = redis_client_command(cl, 2, av, &rep, err, sizeof(err)) == 0
		&& rep->type == REDIS_REPLY_INTEGER
		&& rep->integer > 3600000 - 5000 && rep->integer <= 3600000;
	ok(ttl_ok, "the key expires when its entry stops counting (PTTL %lld)",
	   rep ? (long long)rep->integer : -1LL);
	redis_reply_free(&rep);
	policyd_redis_take(rs, "ttl", &lim, 0, 1, 0, &r, err, sizeof(err));
	policyd_redis_take(rs, "ttl", &lim, 0, 1, 0, &r, err, sizeof(err));
	ttl_ok = policyd_redis_take(rs, "ttl", &lim, 0, 1, 0, &r, err,
				    sizeof(err)) == 0;
	ok(ttl_ok && !r.allowed && r.retry_ms > 3590000
	   && r.retry_ms <= 3600000,
	   "the 4th of 3/h is refused, retry about an hour (%" PRId64 " ms)",
	   r.retry_ms);

	/* NOSCRIPT: the script is loaded again by EVAL */
	av[0] = "SCRIPT";
	av[1] = "FLUSH";
	redis_client_command(cl, 2, av, &rep, err,
			     sizeof(err));
	redis_reply_free(&rep);
	ok(policyd_redis_take(rs, "ns", &lim, 0, 1, 0, &r, err,
			      sizeof(err)) == 0 && r.allowed,
	   "after SCRIPT FLUSH the check still works (EVAL on NOSCRIPT)");
	{
		struct redis_stats s;

		policyd_redis_stats(rs, &s);
		is_int((long long)s.noscript, 1, "one NOSCRIPT seen");
		is_int((long long)s.failures, 0, "no failure");
	}
	test_text_form(rs, cl);
	test_quota_script(rs, cl);
	test_pipeline(rs, cl);
	test_deadline(rs, cl, server);
	test_odd_reply(cl);
	policyd_redis_free(&rs);
	redis_client_free(&cl);
}

int
main(void)
{
	const char *server = getenv("ELEMTA_TEST_REDIS");
	const char *cluster = getenv("ELEMTA_TEST_REDIS_CLUSTER");

	plan_lazy();
	if (cluster != NULL && *cluster != '\0') {
		test_cluster(cluster);
	} else if (server != NULL && *server != '\0') {
		test_script(server);
	} else {
		test_servers();
		test_slots();
		test_redirect_parse();
		test_check_int();
		test_conf_equal();
		test_conf();
		test_down();
	}
	done_testing();
	return exit_status();
}
