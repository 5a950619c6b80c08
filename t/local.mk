## t/ - TAP tests: C unit tests and shell tests that drive the real peers.
## Names follow NNNN-area-what.t: 00xx unit, 01xx harness and peer
## self-tests (NNNN-peer-selftest-PEER.t where the peer is for a stage
## Elemta does not have yet), 02xx+ daemons end to end.

TEST_EXTENSIONS = .t
T_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
T_LOG_DRIVER_FLAGS = --merge --comments
AM_TESTS_ENVIRONMENT = \
	top_srcdir=$$(cd '$(top_srcdir)' && pwd); export top_srcdir; \
	top_builddir=$$(cd '$(top_builddir)' && pwd); export top_builddir; \
	ELEMTA_TESTD=$$top_builddir/t/elemta-testd; export ELEMTA_TESTD; \
	FUZZ_CC='$(FUZZ_CC)'; export FUZZ_CC;

check_LIBRARIES += t/libtap.a
t_libtap_a_SOURCES = t/tap.c t/tap.h t/tap-conf.c t/tap-conf.h
t_libtap_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)

## with the whole schema (sections-all.c): tests load whole files
T_UNIT_LDADD = t/libtap.a $(ELEMTA_SECTIONS_LIBS) $(ELEMTA_LIBS) \
	$(CURL_LIBS) $(PTHREAD_LIBS)
T_UNIT_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) -I$(top_srcdir)/t

## C unit tests
T_UNIT = \
	t/0010-log.t \
	t/0011-conf.t \
	t/0012-clock.t \
	t/0013-listen.t \
	t/0014-daemon.t \
	t/0015-metrics.t \
	t/0016-db.t \
	t/0017-cidr.t \
	t/0018-snapshot.t \
	t/0019-htable.t \
	t/0023-control.t \
	t/0026-str.t
check_PROGRAMS += $(T_UNIT)
t_0010_log_t_SOURCES = t/0010-log.c
t_0010_log_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0010_log_t_LDADD = $(T_UNIT_LDADD)
t_0011_conf_t_SOURCES = t/0011-conf.c
t_0011_conf_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0011_conf_t_LDADD = $(T_UNIT_LDADD)
t_0012_clock_t_SOURCES = t/0012-clock.c
t_0012_clock_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0012_clock_t_LDADD = $(T_UNIT_LDADD)
t_0013_listen_t_SOURCES = t/0013-listen.c
t_0013_listen_t_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/milter
t_0013_listen_t_LDADD = $(T_UNIT_LDADD)
t_0014_daemon_t_SOURCES = t/0014-daemon.c
t_0014_daemon_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0014_daemon_t_LDADD = $(T_UNIT_LDADD)
t_0015_metrics_t_SOURCES = t/0015-metrics.c
t_0015_metrics_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0015_metrics_t_LDADD = $(T_UNIT_LDADD)
t_0016_db_t_SOURCES = t/0016-db.c
t_0016_db_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0016_db_t_LDADD = $(T_UNIT_LDADD)
t_0017_cidr_t_SOURCES = t/0017-cidr.c
t_0017_cidr_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0017_cidr_t_LDADD = $(T_UNIT_LDADD)
t_0018_snapshot_t_SOURCES = t/0018-snapshot.c
t_0018_snapshot_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0018_snapshot_t_LDADD = $(T_UNIT_LDADD)
t_0019_htable_t_SOURCES = t/0019-htable.c
t_0019_htable_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0019_htable_t_LDADD = $(T_UNIT_LDADD)
t_0023_control_t_SOURCES = t/0023-control.c
t_0023_control_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0023_control_t_LDADD = $(T_UNIT_LDADD)
t_0026_str_t_SOURCES = t/0026-str.c
t_0026_str_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0026_str_t_LDADD = $(T_UNIT_LDADD)

## Helper programs the shell tests run.
##   elemta-testd: a minimal daemon on the shared runtime (config, CLI,
##                 listeners, pidfile, privileges, signals, metrics).
##   tb-dnsq:      a DNS query through libunbound, "@PORT" forwarders.
##   tb-clamscan:  scan files with libclamav and a given signature dir.
##   tb-resolver:  lookups through lib/dns, with its cache counters.
check_PROGRAMS += t/elemta-testd t/tb-dnsq t/tb-clamscan t/tb-resolver
t_elemta_testd_SOURCES = t/elemta-testd.c
t_elemta_testd_CFLAGS = $(T_UNIT_CFLAGS)
t_elemta_testd_LDADD = $(ELEMTA_SECTIONS_LIBS) $(ELEMTA_LIBS) $(PTHREAD_LIBS)
t_tb_dnsq_SOURCES = t/tb-dnsq.c
t_tb_dnsq_CFLAGS = $(AM_CFLAGS) $(UNBOUND_CFLAGS)
t_tb_dnsq_LDADD = $(UNBOUND_LIBS)
t_tb_resolver_SOURCES = t/tb-resolver.c
t_tb_resolver_CFLAGS = $(T_UNIT_CFLAGS) $(UNBOUND_CFLAGS)
t_tb_resolver_LDADD = $(ELEMTA_LIBS) $(PTHREAD_LIBS)
t_tb_clamscan_SOURCES = t/tb-clamscan.c
t_tb_clamscan_CFLAGS = $(AM_CFLAGS) $(CLAMAV_CFLAGS)
t_tb_clamscan_LDADD = $(CLAMAV_LIBS)

## Shell tests
T_SHELL = \
	t/0020-testd.t \
	t/0021-conf-sample.t \
	t/0022-listen-defaults.t \
	t/0024-quickstart.t \
	t/0025-man-lint.t \
	t/0100-harness-cleanup.t \
	t/0101-peer-postfix-dovecot.t \
	t/0102-peer-slapd.t \
	t/0103-peer-unbound.t \
	t/0104-peer-redis.t \
	t/0105-peer-selftest-rspamd.t \
	t/0106-peer-selftest-clamav.t \
	t/0107-dns-cache.t
dist_check_SCRIPTS += $(T_SHELL)

TESTS += $(T_UNIT) $(T_SHELL)

EXTRA_DIST += \
	t/lib/harness.sh \
	t/lib/peers.sh \
	t/data

## The tests that run Elemta's own C code, run again by tools/run-tests in
## a build configured with --enable-sanitizers.
SANITIZE_TESTS += $(T_UNIT) t/0020-testd.t t/0021-conf-sample.t \
	t/0022-listen-defaults.t \
	t/0107-dns-cache.t
check-sanitize:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SANITIZE_TESTS)'
.PHONY: check-sanitize

## The fault campaigns (FAULT_TESTS, from each folder's local.mk): real
## peers stopped, SIGSTOPped or failing under load, signal storms.  Slow,
## so not part of make check; tools/run-tests runs them once (.ci/run),
## never again under the sanitizers.
dist_check_SCRIPTS += $(FAULT_TESTS)
check-faults:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(FAULT_TESTS)'
.PHONY: check-faults

## libFuzzer (t/0030): each fuzz target built with clang
## -fsanitize=fuzzer,address,undefined when configure found one that can
## (FUZZ_CC), its parser compiled by clang too so that libFuzzer sees its
## coverage, the rest linked from our (gcc-built) archives.  The test runs
## each for FUZZ_SECONDS (default 5) from its seeds (the gcc driver's,
## written out with FUZZ_WRITE_SEEDS) and fails on a crash or a report.
## The same t/fuzz-NAME.c is the gcc test (with t/fuzz-driver.c, in each
## daemon's local.mk) and, here, t/libfuzzer/NAME: one rule builds every
## target from the .c files and archives of its line below, in that
## order, and the libraries of them all.  A new target: its line here,
## its name in FUZZ_TARGETS and in t/data/fuzz-targets.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -DFUZZ_LIBFUZZER $(AM_CPPFLAGS) \
	-I$(top_srcdir)/t -I$(top_srcdir)/milter -I$(top_srcdir)/policyd \
	-I$(top_srcdir)/lmtp-bridge $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS) \
	$(MHD_CFLAGS) $(LDAP_CFLAGS) $(OPENSSL_CFLAGS) $(HIREDIS_CFLAGS) \
	$(UNBOUND_CFLAGS) $(JSON_CFLAGS)
FUZZ_LIBS = $(ELEMTA_LIBS) $(SPF2_LIBS) \
	$(OPENDMARC_LIBS) $(MILTER_LIBS) $(OPENSSL_LIBS) $(CURL_LIBS) \
	$(CLAMAV_LIBS) $(JSON_LIBS) $(PTHREAD_LIBS) -lresolv
FUZZ_TARGETS = t/libfuzzer/policyd-proto t/libfuzzer/lmtp-proto \
	t/libfuzzer/ldap-filter t/libfuzzer/milter-authres \
	t/libfuzzer/milter-dmarc-from t/libfuzzer/milter-dkim-canon \
	t/libfuzzer/milter-dkim-sign t/libfuzzer/milter-dns \
	t/libfuzzer/milter-dkim-verify t/libfuzzer/milter-arc \
	t/libfuzzer/lmtp-reply t/libfuzzer/lmtp-body t/libfuzzer/lmtp-route \
	t/libfuzzer/policyd-limit t/libfuzzer/policyd-policy \
	t/libfuzzer/redis-redirect t/libfuzzer/milter-rspamd \
	t/libfuzzer/milter-greylist
if LIBFUZZER
check_DATA = $(FUZZ_TARGETS)
endif
CLEANFILES += $(FUZZ_TARGETS)
$(FUZZ_TARGETS):
	$(AM_V_CCLD)$(MKDIR_P) t/libfuzzer && \
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LIBS)
t/libfuzzer/policyd-proto: t/fuzz-policyd-proto.c policyd/policyd-proto.c \
	lib/libelemta.a
t/libfuzzer/policyd-limit: t/fuzz-policyd-limit.c policyd/policyd-limit.c \
	lib/libelemta.a
t/libfuzzer/policyd-policy: t/fuzz-policyd-policy.c \
	policyd/policyd-policy.c policyd/policyd-policy-run.c \
	policyd/policyd-policy-conf.c policyd/policyd-policy-batch.c \
	policyd/policyd-policy-key.c \
	policyd/policyd-txn.c policyd/policyd-keys.c \
	policyd/libpolicyd.a $(ELEMTA_SECTIONS_LIBS) lib/libelemta.a
t/libfuzzer/redis-redirect: t/fuzz-redis-redirect.c lib/redis-cluster.c \
	lib/redis.c lib/libelemta.a
t/libfuzzer/lmtp-proto: t/fuzz-lmtp-proto.c lmtp-bridge/lmtp-proto.c \
	lmtp-bridge/lmtp-proto-cmd.c lmtp-bridge/lmtp-syntax.c lib/libelemta.a
t/libfuzzer/lmtp-reply: t/fuzz-lmtp-reply.c lmtp-bridge/lmtp-wire.c \
	lmtp-bridge/lmtp-proto.c lmtp-bridge/lmtp-proto-cmd.c \
	lmtp-bridge/lmtp-syntax.c lib/libelemta.a
t/libfuzzer/lmtp-route: t/fuzz-lmtp-route.c lmtp-bridge/lmtp-router.c \
	lmtp-bridge/lmtp-junk.c lmtp-bridge/liblmtp.a lib/libelemta.a
t/libfuzzer/lmtp-body: t/fuzz-lmtp-body.c lmtp-bridge/lmtp-wire.c \
	lmtp-bridge/lmtp-proto.c lmtp-bridge/lmtp-proto-cmd.c \
	lmtp-bridge/lmtp-syntax.c lib/libelemta.a
t/libfuzzer/ldap-filter: t/fuzz-ldap-filter.c lib/ldapc.c lib/libelemta.a
t/libfuzzer/milter-authres: t/fuzz-milter-authres.c \
	milter/milter-authres.c milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-rspamd: t/fuzz-milter-rspamd.c \
	milter/milter-rspamd-reply.c lib/libelemta.a
t/libfuzzer/milter-greylist: t/fuzz-milter-greylist.c \
	milter/milter-greylist-util.c milter/milter-greylist.c \
	milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-dmarc-from: t/fuzz-milter-dmarc-from.c \
	milter/milter-dmarc-util.c milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-dkim-canon: t/fuzz-milter-dkim-canon.c \
	milter/milter-dkim-canon.c milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-dkim-sign: t/fuzz-milter-dkim-sign.c \
	milter/milter-dkim-sign.c milter/milter-keys.c \
	milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-dkim-verify: t/fuzz-milter-dkim-verify.c \
	milter/milter-dkim-verify.c milter/milter-dkim-tags.c \
	milter/milter-dkim-vkey.c milter/milter-dkim-canon.c \
	milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-arc: t/fuzz-milter-arc.c milter/milter-arc.c \
	milter/milter-arc-seal.c \
	milter/milter-dkim-tags.c milter/milter-dkim-canon.c \
	milter/libelemta-milter.a lib/libelemta.a
t/libfuzzer/milter-dns: t/fuzz-milter-dns.c lib/dns.c lib/dns-answer.c \
	milter/milter-dkim.c milter/milter-dkim-tags.c \
	milter/milter-dkim-vkey.c milter/milter-dkim-verify.c \
	milter/milter-spf.c milter/libelemta-milter.a lib/libelemta.a
clean-local: clean-libfuzzer
clean-libfuzzer:
	-rm -rf t/libfuzzer
.PHONY: clean-libfuzzer
dist_check_SCRIPTS += t/0030-libfuzzer.t
TESTS += t/0030-libfuzzer.t
