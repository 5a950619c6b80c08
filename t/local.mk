## t/ - TAP tests: C unit tests and shell tests that drive the real peers.
## Names follow NNNN-area-what.t: 00xx unit, 01xx harness and peer
## self-tests, 02xx+ daemons end to end.

TEST_EXTENSIONS = .t
T_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
T_LOG_DRIVER_FLAGS = --merge --comments
AM_TESTS_ENVIRONMENT = \
	top_srcdir=$$(cd '$(top_srcdir)' && pwd); export top_srcdir; \
	top_builddir=$$(cd '$(top_builddir)' && pwd); export top_builddir; \
	ELEMTA_TESTD=$$top_builddir/t/elemta-testd; export ELEMTA_TESTD;

check_LIBRARIES += t/libtap.a
t_libtap_a_SOURCES = t/tap.c t/tap.h

T_UNIT_LDADD = t/libtap.a $(ELEMTA_LIBS) $(CURL_LIBS) $(PTHREAD_LIBS)
T_UNIT_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) -I$(top_srcdir)/t

## C unit tests
T_UNIT = \
	t/0010-log.t \
	t/0011-conf.t \
	t/0013-listen.t \
	t/0014-daemon.t \
	t/0015-metrics.t \
	t/0016-db.t
check_PROGRAMS += $(T_UNIT)
t_0010_log_t_SOURCES = t/0010-log.c
t_0010_log_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0010_log_t_LDADD = $(T_UNIT_LDADD)
t_0011_conf_t_SOURCES = t/0011-conf.c
t_0011_conf_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0011_conf_t_LDADD = $(T_UNIT_LDADD)
t_0013_listen_t_SOURCES = t/0013-listen.c
t_0013_listen_t_CFLAGS = $(T_UNIT_CFLAGS)
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

## Helper programs the shell tests run.
##   elemta-testd: a minimal daemon on the shared runtime (config, CLI,
##                 listeners, pidfile, privileges, signals, metrics).
##   tb-dnsq:      a DNS query through libunbound, "@PORT" forwarders.
##   tb-clamscan:  scan files with libclamav and a given signature dir.
##   tb-resolver:  lookups through lib/dns, with its cache counters.
check_PROGRAMS += t/elemta-testd t/tb-dnsq t/tb-clamscan t/tb-resolver
t_elemta_testd_SOURCES = t/elemta-testd.c
t_elemta_testd_CFLAGS = $(T_UNIT_CFLAGS)
t_elemta_testd_LDADD = $(ELEMTA_LIBS) $(PTHREAD_LIBS)
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
	t/0100-harness-cleanup.t \
	t/0101-peer-postfix-dovecot.t \
	t/0102-peer-slapd.t \
	t/0103-peer-unbound.t \
	t/0104-peer-redis.t \
	t/0105-peer-rspamd.t \
	t/0106-peer-clamav.t \
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
	t/0107-dns-cache.t
check-sanitize:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SANITIZE_TESTS)'
.PHONY: check-sanitize
