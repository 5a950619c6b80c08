## policyd/ - elemta-policyd (Postfix policy service, rate limits).
## Its configuration section (policyd/policyd-options.c) is in the
## daemon's library, which every program parsing the whole file links
## (ELEMTA_SECTIONS_LIBS, Makefile.am).

## The daemon's modules, shared by the daemon and its unit tests.
noinst_LIBRARIES += policyd/libpolicyd.a
policyd_libpolicyd_a_SOURCES = \
	policyd/policyd-options.c policyd/policyd-options.h \
	policyd/policyd-proto.c policyd/policyd-proto.h \
	policyd/policyd-limit.c policyd/policyd-limit.h \
	policyd/policyd-calendar.c policyd/policyd-calendar.h \
	policyd/policyd-store.h policyd/policyd-store-sqlite.c \
	policyd/policyd-store-redis.c policyd/policyd-store-redis.h \
	policyd/policyd-keys.c policyd/policyd-keys.h \
	policyd/policyd-ldap.c policyd/policyd-ldap.h \
	policyd/policyd-policy.c policyd/policyd-policy.h \
	policyd/policyd-policy-run.c policyd/policyd-policy-private.h \
	policyd/policyd-policy-conf.c policyd/policyd-policy-batch.c \
	policyd/policyd-policy-key.c \
	policyd/policyd-txn.c policyd/policyd-txn.h
policyd_libpolicyd_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS) \
	$(HIREDIS_CFLAGS)

sbin_PROGRAMS += policyd/elemta-policyd
policyd_elemta_policyd_SOURCES = policyd/policyd.c policyd/policyd-conn.c \
	policyd/policyd-ctl.c \
	policyd/policyd-server.h
policyd_elemta_policyd_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS)
policyd_elemta_policyd_LDADD = policyd/libpolicyd.a $(ELEMTA_SECTIONS_LIBS) \
	$(ELEMTA_LIBS) $(PTHREAD_LIBS)

## Man page
man_MANS += man/elemta-policyd.8
EXTRA_DIST += man/elemta-policyd.8.in contrib/postfix/main.cf.policyd
CLEANFILES += man/elemta-policyd.8
man/elemta-policyd.8: man/elemta-policyd.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit) $(srcdir)/man/elemta-policyd.8.in > $@.tmp && mv $@.tmp $@

## Tests (t/03xx).  Unit tests and the fuzz target's driver run our code:
## they run again under the sanitizers (SANITIZE_TESTS), and so do the
## shell tests, which start the daemon built here.
T_POLICYD_UNIT = \
	t/0300-policyd-proto.t \
	t/0301-policyd-limit.t \
	t/0302-policyd-policy.t \
	t/0303-policyd-fuzz-proto.t \
	t/0304-policyd-ladder.t \
	t/0305-policyd-calendar.t \
	t/0306-policyd-ldap.t \
	t/0307-policyd-limit-fuzz.t \
	t/0308-policyd-policy-fuzz.t \
	t/0309-policyd-store-sqlite.t \
	t/0320-policyd-redis.t \
	t/0328-redis-redirect-fuzz.t
check_PROGRAMS += $(T_POLICYD_UNIT)
T_POLICYD_LDADD = policyd/libpolicyd.a $(T_UNIT_LDADD)
t_0300_policyd_proto_t_SOURCES = t/0300-policyd-proto.c
t_0300_policyd_proto_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0300_policyd_proto_t_LDADD = $(T_POLICYD_LDADD)
t_0301_policyd_limit_t_SOURCES = t/0301-policyd-limit.c \
	t/test-limit.c t/test-limit.h
t_0301_policyd_limit_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0301_policyd_limit_t_LDADD = $(T_POLICYD_LDADD)
t_0302_policyd_policy_t_SOURCES = t/0302-policyd-policy.c
t_0302_policyd_policy_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0302_policyd_policy_t_LDADD = $(T_POLICYD_LDADD)
## The request parser's fuzz target, run by the shared gcc driver
## (t/fuzz-driver.c) on its corpus, t/data/policyd-proto.
t_0303_policyd_fuzz_proto_t_SOURCES = t/fuzz-policyd-proto.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0303_policyd_fuzz_proto_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0303_policyd_fuzz_proto_t_LDADD = $(T_POLICYD_LDADD)

t_0309_policyd_store_sqlite_t_SOURCES = t/0309-policyd-store-sqlite.c \
	t/test-limit.c t/test-limit.h
t_0309_policyd_store_sqlite_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0309_policyd_store_sqlite_t_LDADD = $(T_POLICYD_LDADD)

t_0304_policyd_ladder_t_SOURCES = t/0304-policyd-ladder.c
t_0304_policyd_ladder_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0304_policyd_ladder_t_LDADD = $(T_POLICYD_LDADD)

t_0305_policyd_calendar_t_SOURCES = t/0305-policyd-calendar.c
t_0305_policyd_calendar_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0305_policyd_calendar_t_LDADD = $(T_POLICYD_LDADD)

t_0306_policyd_ldap_t_SOURCES = t/0306-policyd-ldap.c
t_0306_policyd_ldap_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/policyd
t_0306_policyd_ldap_t_LDADD = $(T_POLICYD_LDADD)

## Fuzz targets run by the shared gcc driver (t/fuzz-driver.c); t/0030
## runs them with libFuzzer: the limiter's stored form, the decisions
## and keys, Redis's MOVED/ASK texts.
t_0307_policyd_limit_fuzz_t_SOURCES = t/fuzz-policyd-limit.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0307_policyd_limit_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS) \
	-I$(top_srcdir)/policyd
t_0307_policyd_limit_fuzz_t_LDADD = $(T_POLICYD_LDADD)
t_0308_policyd_policy_fuzz_t_SOURCES = t/fuzz-policyd-policy.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0308_policyd_policy_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS) \
	-I$(top_srcdir)/policyd
t_0308_policyd_policy_fuzz_t_LDADD = $(T_POLICYD_LDADD)
t_0328_redis_redirect_fuzz_t_SOURCES = t/fuzz-redis-redirect.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0328_redis_redirect_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0328_redis_redirect_fuzz_t_LDADD = $(T_POLICYD_LDADD)

t_0320_policyd_redis_t_SOURCES = t/0320-policyd-redis.c
t_0320_policyd_redis_t_CFLAGS = $(T_UNIT_CFLAGS) $(HIREDIS_CFLAGS) \
	-I$(top_srcdir)/policyd
t_0320_policyd_redis_t_LDADD = $(T_POLICYD_LDADD)

## 0321 runs 0320 again against a private redis-server (the Lua script
## against the C limiter); 0322 runs two nodes on one Redis, 0323 a real
## Postfix in front of one of them, 0324 a calendar quota shared by two,
## 0325 a real Redis Cluster (MOVED, ASK, a slot migrated).
T_POLICYD_SHELL = \
	t/0310-policyd-postfix.t \
	t/0311-policyd-badinput.t \
	t/0312-policyd-ladder-postfix.t \
	t/0313-policyd-quota.t \
	t/0314-policyd-ldap.t \
	t/0315-policyd-rdom-postfix.t \
	t/0321-policyd-redis-script.t \
	t/0322-policyd-redis-nodes.t \
	t/0323-policyd-redis-postfix.t \
	t/0324-policyd-redis-quota.t \
	t/0325-policyd-redis-cluster.t \
	t/0326-policyd-redis-pipeline.t \
	t/0327-policyd-redis-redirect.t
dist_check_SCRIPTS += $(T_POLICYD_SHELL)
EXTRA_DIST += t/data/policyd-proto t/lib/policyd.sh t/lib/redis-fake.py

TESTS += $(T_POLICYD_UNIT) $(T_POLICYD_SHELL)
SANITIZE_TESTS += $(T_POLICYD_UNIT) $(T_POLICYD_SHELL)

## The fault campaign (make check-faults): a SIGHUP storm, Redis stopped,
## SQLite on a full or read-only file system; Redis answering garbage,
## clients vanishing mid-request, slapd stopped; all under load through
## Postfix.
FAULT_TESTS += t/0380-policyd-faults.t t/0381-policyd-faults-peers.t
