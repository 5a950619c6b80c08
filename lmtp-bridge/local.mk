## lmtp-bridge/ - elemta-lmtp-bridge: Postfix delivers to it over LMTP, it
## routes each recipient (static map, SQLite, LDAP) and delivers into Dovecot
## over LMTP, one reply per recipient.  Its configuration section
## (lmtp-bridge/lmtp-options.c) is in the daemon's library, which every
## program parsing the whole file links (ELEMTA_SECTIONS_LIBS, Makefile.am).

## Everything but main(), so that the tests link the same code.
noinst_LIBRARIES += lmtp-bridge/liblmtp.a
lmtp_bridge_liblmtp_a_SOURCES = \
	lmtp-bridge/lmtp-options.c lmtp-bridge/lmtp-options.h \
	lmtp-bridge/lmtp-proto.c lmtp-bridge/lmtp-proto.h \
	lmtp-bridge/lmtp-syntax.c lmtp-bridge/lmtp-syntax.h \
	lmtp-bridge/lmtp-router.c lmtp-bridge/lmtp-router.h \
	lmtp-bridge/lmtp-router-ldap.c lmtp-bridge/lmtp-router-sqlite.c \
	lmtp-bridge/lmtp-cache.c lmtp-bridge/lmtp-cache.h \
	lmtp-bridge/lmtp-spool.c lmtp-bridge/lmtp-spool.h \
	lmtp-bridge/lmtp-client.c lmtp-bridge/lmtp-client.h \
	lmtp-bridge/lmtp-wire.c lmtp-bridge/lmtp-wire.h \
	lmtp-bridge/lmtp-junk.c lmtp-bridge/lmtp-junk.h
lmtp_bridge_liblmtp_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(LDAP_CFLAGS) \
	$(SQLITE_CFLAGS)
LMTP_LIBS = lmtp-bridge/liblmtp.a

sbin_PROGRAMS += lmtp-bridge/elemta-lmtp-bridge
lmtp_bridge_elemta_lmtp_bridge_SOURCES = lmtp-bridge/lmtp-bridge.c \
	lmtp-bridge/lmtp-bridge.h lmtp-bridge/lmtp-bridge-session.c \
	lmtp-bridge/lmtp-bridge-deliver.c lmtp-bridge/lmtp-bridge-ctl.c
lmtp_bridge_elemta_lmtp_bridge_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) \
	$(SQLITE_CFLAGS)
lmtp_bridge_elemta_lmtp_bridge_LDADD = $(LMTP_LIBS) $(ELEMTA_SECTIONS_LIBS) \
	$(ELEMTA_LIBS) $(PTHREAD_LIBS)

## Man page and Postfix snippets
man_MANS += man/elemta-lmtp-bridge.8
EXTRA_DIST += man/elemta-lmtp-bridge.8.in \
	contrib/postfix/main.cf.lmtp-bridge \
	contrib/postfix/master.cf.lmtp-bridge
CLEANFILES += man/elemta-lmtp-bridge.8
man/elemta-lmtp-bridge.8: man/elemta-lmtp-bridge.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit) $(srcdir)/man/elemta-lmtp-bridge.8.in > $@.tmp && mv $@.tmp $@

## Tests (t/05xx).  The fuzz targets run under gcc with the shared
## driver (t/fuzz-driver.c: their seeds plus deterministic mutations);
## t/local.mk builds them with clang and libFuzzer for t/0030.
T_LMTP_UNIT = t/0500-lmtp-proto.t t/0501-lmtp-router.t \
	t/0502-lmtp-proto-fuzz.t t/0503-lmtp-junk.t t/0504-lmtp-cache.t \
	t/0505-lmtp-spool.t t/0506-lmtp-reply-fuzz.t t/0507-lmtp-body-fuzz.t \
	t/0508-lmtp-route-fuzz.t
check_PROGRAMS += $(T_LMTP_UNIT)
t_0500_lmtp_proto_t_SOURCES = t/0500-lmtp-proto.c
t_0500_lmtp_proto_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0500_lmtp_proto_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0501_lmtp_router_t_SOURCES = t/0501-lmtp-router.c
t_0501_lmtp_router_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0501_lmtp_router_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0502_lmtp_proto_fuzz_t_SOURCES = t/fuzz-lmtp-proto.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0502_lmtp_proto_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0502_lmtp_proto_fuzz_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0503_lmtp_junk_t_SOURCES = t/0503-lmtp-junk.c
t_0503_lmtp_junk_t_CFLAGS = $(T_UNIT_CFLAGS) $(CONFUSE_CFLAGS)
t_0503_lmtp_junk_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0504_lmtp_cache_t_SOURCES = t/0504-lmtp-cache.c
t_0504_lmtp_cache_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0504_lmtp_cache_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0505_lmtp_spool_t_SOURCES = t/0505-lmtp-spool.c
t_0505_lmtp_spool_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0505_lmtp_spool_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD) $(PTHREAD_LIBS)
## routing, rewriting and Junk matching with a source that says anything
t_0508_lmtp_route_fuzz_t_SOURCES = t/fuzz-lmtp-route.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0508_lmtp_route_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0508_lmtp_route_fuzz_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0506_lmtp_reply_fuzz_t_SOURCES = t/fuzz-lmtp-reply.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0506_lmtp_reply_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0506_lmtp_reply_fuzz_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)
t_0507_lmtp_body_fuzz_t_SOURCES = t/fuzz-lmtp-body.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0507_lmtp_body_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS)
t_0507_lmtp_body_fuzz_t_LDADD = $(LMTP_LIBS) $(T_UNIT_LDADD)

T_LMTP_SHELL = t/0510-lmtp-bridge-input.t t/0520-lmtp-bridge-delivery.t \
	t/0521-lmtp-bridge-backends.t t/0522-lmtp-bridge-sqlite.t \
	t/0535-lmtp-bridge-hostile.t t/0536-lmtp-bridge-stop.t
dist_check_SCRIPTS += $(T_LMTP_SHELL)
EXTRA_DIST += t/lib/lmtp.sh t/lib/lmtp-client.py t/lib/lmtp-fake-backend.py \
	t/lib/lmtp-proxy.py
TESTS += $(T_LMTP_UNIT) $(T_LMTP_SHELL)

## Run again under ASan/UBSan by check-sanitize.
LMTP_SANITIZE_TESTS = $(T_LMTP_UNIT) $(T_LMTP_SHELL)
SANITIZE_TESTS += $(LMTP_SANITIZE_TESTS)

## LDAP routing (t/053x): the filter expansion of lib/ldapc.c (pure), and
## real slapd + Postfix -> bridge -> Dovecot.
## The fuzz target: as the LMTP ones above.
T_LDAP_UNIT = t/0530-ldap-filter.t t/0532-ldap-filter-fuzz.t
check_PROGRAMS += $(T_LDAP_UNIT)
t_0530_ldap_filter_t_SOURCES = t/0530-ldap-filter.c
t_0530_ldap_filter_t_CFLAGS = $(T_UNIT_CFLAGS) $(LDAP_CFLAGS)
t_0530_ldap_filter_t_LDADD = $(T_UNIT_LDADD)
t_0532_ldap_filter_fuzz_t_SOURCES = t/fuzz-ldap-filter.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0532_ldap_filter_fuzz_t_CFLAGS = $(T_UNIT_CFLAGS) $(LDAP_CFLAGS)
t_0532_ldap_filter_fuzz_t_LDADD = $(T_UNIT_LDADD)
T_LDAP_SHELL = t/0531-lmtp-bridge-ldap.t t/0533-lmtp-bridge-junk.t \
	t/0534-lmtp-bridge-ldap-tls.t
dist_check_SCRIPTS += $(T_LDAP_SHELL)
EXTRA_DIST += t/data/elemta.schema
TESTS += $(T_LDAP_UNIT) $(T_LDAP_SHELL)
SANITIZE_TESTS += $(T_LDAP_UNIT) $(T_LDAP_SHELL)

## Faults (make check-faults): the backend closing mid-body, sending
## fewer replies than recipients, stalling past delivery_timeout,
## answering garbage; Dovecot stopped and SIGSTOPped, the spool full
## (ENOSPC), under load (t/0570);
## the SQLite table unreadable or garbage, slapd SIGSTOPped or answering
## garbage, a SIGHUP storm, all under load (t/0571).
FAULT_TESTS += t/0570-lmtp-bridge-faults-backend.t \
	t/0571-lmtp-bridge-faults-routing.t
