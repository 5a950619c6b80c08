## bench/ - benchmarks print figures and ratios; `make bench` runs them.
## Never part of `make check`.
BENCHES +=
EXTRA_DIST += bench/README

## DKIM signing (elemta-milter) against OpenSSL's own speed: the driver
## signs through the milter's signing stage, bench/dkim-sign compares.
BENCHES += bench/dkim-sign
EXTRA_DIST += bench/dkim-sign
noinst_PROGRAMS += bench/dkim-sign-bench
bench_dkim_sign_bench_SOURCES = bench/dkim-sign-bench.c
bench_dkim_sign_bench_CFLAGS = $(T_MILTER_CFLAGS)
bench_dkim_sign_bench_LDADD = $(T_MILTER_LDADD)

## elemta-milter against bare Postfix and opendkim + opendmarc, behind
## a real private Postfix in a network namespace (root), on a DKIM-signed
## and on an ARC-sealed message, in a tuned and a plain set-up
## (bench/README); the harness' unbound needs t/tb-dnsq for its
## readiness probe, the ARC case t/data/milter/arc-chain.py.
BENCHES += bench/milter
EXTRA_DIST += bench/milter bench/milter-lib.sh
bench: t/tb-dnsq$(EXEEXT)

## The fuzzing campaign: every libFuzzer target of t/data/fuzz-targets
## for a fixed budget (10 million executions by default), run once per
## campaign with "make fuzz" (hours: not part of make bench); make check
## runs the same targets for seconds (t/0030).
EXTRA_DIST += bench/fuzz
fuzz: all
	$(MAKE) $(AM_MAKEFLAGS) $(check_PROGRAMS) $(check_DATA)
	ELEMTA_BUILD_DIR=$(abs_top_builddir) $(SHELL) $(srcdir)/bench/fuzz
.PHONY: fuzz

## elemta-policyd against postfwd: bench/policyd-load is the load
## generator (100 persistent connections, Postfix's request mix).
BENCHES += bench/policyd
EXTRA_DIST += bench/policyd
noinst_PROGRAMS += bench/policyd-load
bench_policyd_load_SOURCES = bench/policyd-load.c
## Two builds of elemta-policyd, round by round (bench/README): run by
## hand with the other binary, not by make bench.
EXTRA_DIST += bench/policyd-ab

## elemta-lmtp-bridge against Postfix delivering to Dovecot directly:
## the same messages through both paths in one run (root: a private
## Postfix and Dovecot, the peers of t/).
BENCHES += bench/lmtp
EXTRA_DIST += bench/lmtp

## elemta-dmarc-report on a day of a million history rows, against
## sqlite3 running the same GROUP BY (the floor).
BENCHES += bench/dmarc-report
EXTRA_DIST += bench/dmarc-report

## Rspamd with its SPF/DKIM/DMARC/ARC modules on and off (a settings
## id): what it spends repeating the milter's checks (elemta-milter(8)
## gives the figure and the choice).
BENCHES += bench/rspamd-settings
EXTRA_DIST += bench/rspamd-settings bench/rspamd-auth-off.conf

## elemta-milter's whole pipeline (SPF, DKIM, DMARC, ARC, greylisting,
## ClamAV, Rspamd) against opendkim + opendmarc + clamav-milter (clamd)
## + postgrey + rspamd's milter proxy behind the same private Postfix
## (root); bench/clamav-scan-bench is libclamav's scan rate in the
## process, set against clamdscan.
noinst_PROGRAMS += bench/clamav-scan-bench
bench_clamav_scan_bench_SOURCES = bench/clamav-scan-bench.c
bench_clamav_scan_bench_CFLAGS = $(CLAMAV_CFLAGS)
bench_clamav_scan_bench_LDADD = $(CLAMAV_LIBS)
BENCHES += bench/milter-full
EXTRA_DIST += bench/milter-full
## Its set-up works: one small round of bench/milter-full --check (no
## figure judged).
dist_check_SCRIPTS += t/0495-bench-milter-full.t
TESTS += t/0495-bench-milter-full.t
