## milter/ - elemta-milter (SPF, DKIM, ARC, DMARC, greylisting, ClamAV,
## Rspamd: the stages of one pass).  Its configuration section
## (milter/milter-options.c) is in the daemon's library, which every
## program parsing the whole file links (ELEMTA_SECTIONS_LIBS, Makefile.am).

## The daemon's modules (everything but main()), shared by the daemon
## and its unit tests.
noinst_LIBRARIES += milter/libelemta-milter.a
milter_libelemta_milter_a_SOURCES = \
	milter/milter.h \
	milter/milter-options.c milter/milter-options.h \
	milter/milter-relay.c milter/milter-relay.h \
	milter/milter-authres.c milter/milter-authres.h \
	milter/milter-conn.c milter/milter-gen.c \
	milter/milter-pipeline.c milter/milter-outcome.c \
	milter/milter-claims.c \
	milter/milter-body.c milter/milter-body.h \
	milter/milter-clamav.c milter/milter-clamd.c milter/milter-clamav.h \
	milter/milter-spf.c \
	milter/milter-dkim.c milter/milter-dkim.h \
	milter/milter-dkim-sign.c milter/milter-dkim-sign.h \
	milter/milter-dkim-canon.c milter/milter-dkim-canon.h \
	milter/milter-dkim-verify.c milter/milter-dkim-verify.h \
	milter/milter-dkim-tags.c milter/milter-dkim-vkey.c \
	milter/milter-arc.c milter/milter-arc.h milter/milter-arc-verify.c \
	milter/milter-arc-seal.c milter/milter-arc-seal.h \
	milter/milter-arc-sealer.c \
	milter/milter-keys.c milter/milter-keys.h \
	milter/milter-dmarc.c milter/milter-dmarc-util.c milter/milter-dmarc.h \
	milter/milter-dmarc-history.c \
	milter/milter-greylist.c milter/milter-greylist-util.c \
	milter/milter-greylist-sqlite.c milter/milter-greylist-redis.c \
	milter/milter-greylist.h \
	milter/milter-rspamd.c milter/milter-rspamd-reply.c \
	milter/milter-rspamd.h \
	milter/milter-callbacks.c \
	milter/milter-test.c
milter_libelemta_milter_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) \
	$(OPENSSL_CFLAGS) $(CURL_CFLAGS) $(JSON_CFLAGS) $(CLAMAV_CFLAGS)

MILTER_LDADD = milter/libelemta-milter.a $(ELEMTA_SECTIONS_LIBS) \
	$(ELEMTA_LIBS) $(SPF2_LIBS) \
	$(OPENDMARC_LIBS) $(MILTER_LIBS) $(OPENSSL_LIBS) $(CURL_LIBS) \
	$(JSON_LIBS) $(CLAMAV_LIBS) $(PTHREAD_LIBS)

sbin_PROGRAMS += milter/elemta-milter
milter_elemta_milter_SOURCES = milter/milter.c milter/milter-ctl.c
milter_elemta_milter_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(OPENSSL_CFLAGS)
milter_elemta_milter_LDADD = $(MILTER_LDADD)

## Man page
man_MANS += man/elemta-milter.8
EXTRA_DIST += man/elemta-milter.8.in contrib/postfix/main.cf.milter
CLEANFILES += man/elemta-milter.8
man/elemta-milter.8: man/elemta-milter.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit) $(srcdir)/man/elemta-milter.8.in > $@.tmp && mv $@.tmp $@

## Tests (t/04xx).  The unit tests and the fuzz target's driver run our
## code, and so do the shell tests (they start the daemon built here):
## all of them run again under the sanitizers (SANITIZE_TESTS).
T_MILTER_UNIT = \
	t/0400-milter-authres.t \
	t/0401-milter-state.t \
	t/0402-milter-outcome.t \
	t/0403-milter-spf-liberror.t \
	t/0404-milter-generation.t \
	t/0405-milter-greylist.t \
	t/0406-milter-arc.t \
	t/0426-milter-arc-seal.t \
	t/0407-milter-fuzz-arc.t \
	t/0408-milter-fuzz-dns.t \
	t/0409-milter-fuzz-authres.t \
	t/0419-milter-fuzz-greylist.t \
	t/0416-milter-body.t \
	t/0418-milter-clamd-version.t \
	t/0420-milter-dkim.t \
	t/0424-milter-dkim-verify.t \
	t/0425-milter-fuzz-dkim-verify.t
check_PROGRAMS += $(T_MILTER_UNIT)
T_MILTER_CFLAGS = $(T_UNIT_CFLAGS) -I$(top_srcdir)/milter
T_MILTER_LDADD = milter/libelemta-milter.a $(T_UNIT_LDADD) $(SPF2_LIBS) \
	$(OPENDMARC_LIBS) $(MILTER_LIBS) $(OPENSSL_LIBS) $(JSON_LIBS) \
	$(CLAMAV_LIBS)
t_0400_milter_authres_t_SOURCES = t/0400-milter-authres.c
t_0400_milter_authres_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0400_milter_authres_t_LDADD = $(T_MILTER_LDADD)
t_0401_milter_state_t_SOURCES = t/0401-milter-state.c
t_0401_milter_state_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0401_milter_state_t_LDADD = $(T_MILTER_LDADD)
## the outcome: header edits in order, one verdict
t_0402_milter_outcome_t_SOURCES = t/0402-milter-outcome.c
t_0402_milter_outcome_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0402_milter_outcome_t_LDADD = $(T_MILTER_LDADD)
## libspf2's internal error: a temperror, not a crash (libspf2's
## SPF_dns_rr_new_init wrapped in the test, -ldl for dlsym)
t_0403_milter_spf_liberror_t_SOURCES = t/0403-milter-spf-liberror.c
t_0403_milter_spf_liberror_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0403_milter_spf_liberror_t_LDADD = $(T_MILTER_LDADD) -ldl
## one generation (configuration, resolver, keys) per connection
t_0404_milter_generation_t_SOURCES = t/0404-milter-generation.c
t_0404_milter_generation_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0404_milter_generation_t_LDADD = $(T_MILTER_LDADD)
## greylisting: normalisation, a triplet's state, the store, the stage
t_0405_milter_greylist_t_SOURCES = t/0405-milter-greylist.c
t_0405_milter_greylist_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0405_milter_greylist_t_LDADD = $(T_MILTER_LDADD)
## ARC: the chain's structure (RFC 8617 section 5.2)
t_0406_milter_arc_t_SOURCES = t/0406-milter-arc.c \
	t/test-msg.c t/test-msg.h
t_0406_milter_arc_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0406_milter_arc_t_LDADD = $(T_MILTER_LDADD)
## ARC sealing: the plan, the AMS's headers, the seal's header data
t_0426_milter_arc_seal_t_SOURCES = t/0426-milter-arc-seal.c \
	t/test-msg.c t/test-msg.h
t_0426_milter_arc_seal_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0426_milter_arc_seal_t_LDADD = $(T_MILTER_LDADD)
## the libFuzzer target of the ARC chain's structure, with its plain driver
t_0407_milter_fuzz_arc_t_SOURCES = t/fuzz-milter-arc.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0407_milter_fuzz_arc_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0407_milter_fuzz_arc_t_LDADD = $(T_MILTER_LDADD)
## The libFuzzer target, with a plain main() inside the same file (off
## when FUZZ_LIBFUZZER is defined), so that gcc and "make check" run it.
## DNS data (TXT, names), DKIM key records and tags, Received-SPF.
t_0408_milter_fuzz_dns_t_SOURCES = t/fuzz-milter-dns.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0408_milter_fuzz_dns_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0408_milter_fuzz_dns_t_LDADD = $(T_MILTER_LDADD)
t_0409_milter_fuzz_authres_t_SOURCES = t/fuzz-milter-authres.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0409_milter_fuzz_authres_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0409_milter_fuzz_authres_t_LDADD = $(T_MILTER_LDADD)
## greylisting's keys from a client's addresses (its libFuzzer target
## with the plain driver)
t_0419_milter_fuzz_greylist_t_SOURCES = t/fuzz-milter-greylist.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0419_milter_fuzz_greylist_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0419_milter_fuzz_greylist_t_LDADD = $(T_MILTER_LDADD)
## clamd's VERSION reply: the database's version and build time
t_0418_milter_clamd_version_t_SOURCES = t/0418-milter-clamd-version.c
t_0418_milter_clamd_version_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0418_milter_clamd_version_t_LDADD = $(T_MILTER_LDADD)
## the message's copy for the content stages: memory, spool file, limit
t_0416_milter_body_t_SOURCES = t/0416-milter-body.c
t_0416_milter_body_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0416_milter_body_t_LDADD = $(T_MILTER_LDADD)

## The libFuzzer target of the DKIM verifier, with its plain driver.
t_0425_milter_fuzz_dkim_verify_t_SOURCES = t/fuzz-milter-dkim-verify.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0425_milter_fuzz_dkim_verify_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0425_milter_fuzz_dkim_verify_t_LDADD = $(T_MILTER_LDADD)

t_0420_milter_dkim_t_SOURCES = t/0420-milter-dkim.c
t_0420_milter_dkim_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0420_milter_dkim_t_LDADD = $(T_MILTER_LDADD)
## our DKIM verifier: parsers, python3-dkim fixtures, the key cache
t_0424_milter_dkim_verify_t_SOURCES = t/0424-milter-dkim-verify.c \
	t/test-msg.c t/test-msg.h
t_0424_milter_dkim_verify_t_CFLAGS = $(T_MILTER_CFLAGS) $(OPENSSL_CFLAGS)
t_0424_milter_dkim_verify_t_LDADD = $(T_MILTER_LDADD)

T_MILTER_SHELL = \
	t/0410-milter-spf.t \
	t/0411-milter-miltertest.t \
	t/0412-milter-dns-reload.t \
	t/0413-milter-socket.t \
	t/0414-milter-hup-storm.t \
	t/0415-milter-hup-race.t \
	t/0417-milter-clamav.t \
	t/0421-milter-dkim.t \
	t/0422-milter-dkim-miltertest.t \
	t/0423-milter-arc.t \
	t/0427-milter-arc-seal.t
dist_check_SCRIPTS += $(T_MILTER_SHELL)
EXTRA_DIST += t/data/milter

TESTS += $(T_MILTER_UNIT) $(T_MILTER_SHELL)
SANITIZE_TESTS += $(T_MILTER_UNIT) $(T_MILTER_SHELL)

## DMARC (t/043x): the pure parts, then -t against the harness' unbound.
T_DMARC_UNIT = t/0430-milter-dmarc.t t/0433-milter-fuzz-dmarc-from.t
check_PROGRAMS += $(T_DMARC_UNIT)
t_0430_milter_dmarc_t_SOURCES = t/0430-milter-dmarc.c
t_0430_milter_dmarc_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0430_milter_dmarc_t_LDADD = $(T_MILTER_LDADD)
## the From parser's libFuzzer target, with its plain driver
t_0433_milter_fuzz_dmarc_from_t_SOURCES = t/fuzz-milter-dmarc-from.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0433_milter_fuzz_dmarc_from_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0433_milter_fuzz_dmarc_from_t_LDADD = $(T_MILTER_LDADD)
T_DMARC_SHELL = t/0431-milter-dmarc.t t/0432-milter-dmarc-miltertest.t
dist_check_SCRIPTS += $(T_DMARC_SHELL)
TESTS += $(T_DMARC_UNIT) $(T_DMARC_SHELL)
SANITIZE_TESTS += $(T_DMARC_UNIT) $(T_DMARC_SHELL)

## DKIM signing and genkey (t/044x): the signing table and From parsing
## (unit), -t signing verified by python3-dkim, Mail::DKIM and our own
## verifier against the harness' unbound (shell), miltertest.
T_SIGN_UNIT = t/0440-milter-dkim-sign.t t/0444-milter-dkim-canon.t \
	t/0448-milter-fuzz-dkim-canon.t t/0449-milter-fuzz-dkim-sign.t
check_PROGRAMS += $(T_SIGN_UNIT)
t_0440_milter_dkim_sign_t_SOURCES = t/0440-milter-dkim-sign.c
t_0440_milter_dkim_sign_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0440_milter_dkim_sign_t_LDADD = $(T_MILTER_LDADD)
## The canonicalization table (RFC 6376 3.4), every chunking.
t_0444_milter_dkim_canon_t_SOURCES = t/0444-milter-dkim-canon.c
t_0444_milter_dkim_canon_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0444_milter_dkim_canon_t_LDADD = $(T_MILTER_LDADD)
## The libFuzzer target of the canonicalization, with the plain driver.
t_0448_milter_fuzz_dkim_canon_t_SOURCES = t/fuzz-milter-dkim-canon.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0448_milter_fuzz_dkim_canon_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0448_milter_fuzz_dkim_canon_t_LDADD = $(T_MILTER_LDADD)
## The libFuzzer target of the From parser, with its plain main().
t_0449_milter_fuzz_dkim_sign_t_SOURCES = t/fuzz-milter-dkim-sign.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0449_milter_fuzz_dkim_sign_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0449_milter_fuzz_dkim_sign_t_LDADD = $(T_MILTER_LDADD)
T_SIGN_SHELL = t/0441-milter-dkim-sign.t t/0442-milter-dkim-sign-miltertest.t \
	t/0443-milter-dkim-sign-postfix.t
dist_check_SCRIPTS += $(T_SIGN_SHELL)
TESTS += $(T_SIGN_UNIT) $(T_SIGN_SHELL)
SANITIZE_TESTS += $(T_SIGN_UNIT) $(T_SIGN_SHELL)

## End to end through a real private Postfix (t/045x): SPF, DKIM, DMARC,
## Received-SPF, quarantine (hold or header) and bad input; the shared
## set-up is t/lib/milter.sh.
T_E2E_SHELL = t/0450-milter-postfix-spf.t t/0451-milter-postfix-dkim.t \
	t/0452-milter-postfix-dmarc.t t/0453-milter-postfix-badinput.t \
	t/0455-milter-postfix-sendmail.t t/0456-milter-postfix-greylist.t \
	t/0457-milter-greylist-redis.t t/0458-milter-postfix-greylist-relay.t \
	t/0459-milter-postfix-greylist-nodes.t \
	t/0460-milter-steering.t t/0461-milter-postfix-arc.t \
	t/0464-milter-postfix-clamav.t t/0462-milter-clamav-reload.t \
	t/0463-milter-postfix-clamd.t \
	t/0465-milter-postfix-arc-seal.t t/0466-milter-arc-seal-rspamd.t \
	t/0467-milter-dmarc-history.t t/0468-milter-clamav-reload-unchanged.t \
	t/0469-milter-clamd-dbage.t t/0471-milter-greylist-redis-pool.t
dist_check_SCRIPTS += $(T_E2E_SHELL)
EXTRA_DIST += t/lib/milter.sh t/lib/pydkim.py
## Faults (make check-faults): SIGHUP storm under load, DNS SIGSTOPped.
FAULT_TESTS += t/0470-milter-faults.t
EXTRA_DIST += t/lib/dns-garbage.py
## the Received-SPF formatter (unit)
T_E2E_UNIT = t/0454-milter-received-spf.t
check_PROGRAMS += $(T_E2E_UNIT)
t_0454_milter_received_spf_t_SOURCES = t/0454-milter-received-spf.c
t_0454_milter_received_spf_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0454_milter_received_spf_t_LDADD = $(T_MILTER_LDADD)
TESTS += $(T_E2E_UNIT) $(T_E2E_SHELL)
SANITIZE_TESTS += $(T_E2E_UNIT) $(T_E2E_SHELL)

## Rspamd (t/048x): the reply parser (unit), its libFuzzer target with
## the plain driver, then the stage against the harness' rspamd, through
## a real Postfix.
T_RSPAMD_UNIT = t/0480-milter-rspamd-reply.t t/0481-milter-fuzz-rspamd.t
check_PROGRAMS += $(T_RSPAMD_UNIT)
t_0480_milter_rspamd_reply_t_SOURCES = t/0480-milter-rspamd-reply.c
t_0480_milter_rspamd_reply_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0480_milter_rspamd_reply_t_LDADD = $(T_MILTER_LDADD)
t_0481_milter_fuzz_rspamd_t_SOURCES = t/fuzz-milter-rspamd.c \
	t/fuzz-driver.c t/fuzz-driver.h
t_0481_milter_fuzz_rspamd_t_CFLAGS = $(T_MILTER_CFLAGS)
t_0481_milter_fuzz_rspamd_t_LDADD = $(T_MILTER_LDADD)
## tb-rspamd-scan: one thread scanning message after message (t/0482
## counts rspamd's connections: one, kept alive)
check_PROGRAMS += t/tb-rspamd-scan
t_tb_rspamd_scan_SOURCES = t/tb-rspamd-scan.c
t_tb_rspamd_scan_CFLAGS = $(T_MILTER_CFLAGS)
t_tb_rspamd_scan_LDADD = $(T_MILTER_LDADD)
T_RSPAMD_SHELL = t/0482-milter-rspamd-postfix.t t/0483-milter-rspamd-junk.t
dist_check_SCRIPTS += $(T_RSPAMD_SHELL)
EXTRA_DIST += t/lib/http-junk.py
TESTS += $(T_RSPAMD_UNIT) $(T_RSPAMD_SHELL)
SANITIZE_TESTS += $(T_RSPAMD_UNIT) $(T_RSPAMD_SHELL)
