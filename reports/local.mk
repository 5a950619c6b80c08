## reports/ - elemta-dmarc-report: DMARC aggregate reports (RFC 9990)
## from the milter's history (milter.dmarc_history), sent with sendmail(1).
## It reads the milter's section and shares its PSL and domain helpers
## (milter/libelemta-milter.a); zlib for the gzip attachment.

sbin_PROGRAMS += reports/elemta-dmarc-report
reports_elemta_dmarc_report_SOURCES = reports/elemta-dmarc-report.c \
	reports/report.h reports/report-history.c reports/report-xml.c \
	reports/report-rua.c reports/report-send.c
reports_elemta_dmarc_report_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) \
	$(SQLITE_CFLAGS) $(ZLIB_CFLAGS) -I$(top_srcdir)/milter
reports_elemta_dmarc_report_LDADD = $(MILTER_LDADD) $(ZLIB_LIBS)

## Tests (t/048x): a history the real milter wrote, the XSD of RFC 9990
## (t/data/dmarc-report, IETF Trust BSD), unbound, Postfix and Dovecot.
T_REPORT_SHELL = t/0480-dmarc-report.t
dist_check_SCRIPTS += $(T_REPORT_SHELL)
EXTRA_DIST += t/data/dmarc-report
TESTS += $(T_REPORT_SHELL)
SANITIZE_TESTS += $(T_REPORT_SHELL)

## Man page and the systemd units (daily timer)
man_MANS += man/elemta-dmarc-report.8
EXTRA_DIST += man/elemta-dmarc-report.8.in \
	contrib/systemd/elemta-dmarc-report.service \
	contrib/systemd/elemta-dmarc-report.timer
CLEANFILES += man/elemta-dmarc-report.8
man/elemta-dmarc-report.8: man/elemta-dmarc-report.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit) $(srcdir)/man/elemta-dmarc-report.8.in > $@.tmp && mv $@.tmp $@
