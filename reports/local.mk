## reports/ - elemta-dmarc-report: DMARC aggregate reports (RFC 9990)
## from the milter's history (milter.dmarc_history), sent with sendmail(1).
## It reads the milter's section and shares its PSL and domain helpers
## (milter/libelemta-milter.a); zlib for the gzip attachment.

## Everything but main(), shared with the unit test.
noinst_LIBRARIES += reports/libreport.a
reports_libreport_a_SOURCES = reports/report.h \
	reports/report-history.c reports/report-xml.c \
	reports/report-rua.c reports/report-send.c
reports_libreport_a_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(ZLIB_CFLAGS) \
	$(UNBOUND_CFLAGS) -I$(top_srcdir)/milter

sbin_PROGRAMS += reports/elemta-dmarc-report
reports_elemta_dmarc_report_SOURCES = reports/elemta-dmarc-report.c
reports_elemta_dmarc_report_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) \
	$(SQLITE_CFLAGS) $(ZLIB_CFLAGS) -I$(top_srcdir)/milter
reports_elemta_dmarc_report_LDADD = reports/libreport.a $(MILTER_LDADD) \
	$(ZLIB_LIBS)

## Tests (t/048x): a history the real milter wrote, the XSD of RFC 9990
## (t/data/dmarc-report, IETF Trust BSD), unbound, Postfix and Dovecot.
T_REPORT_UNIT = t/0491-dmarc-report-unit.t
check_PROGRAMS += $(T_REPORT_UNIT)
t_0491_dmarc_report_unit_t_SOURCES = t/0491-dmarc-report-unit.c
t_0491_dmarc_report_unit_t_CFLAGS = $(T_MILTER_CFLAGS) -I$(top_srcdir)/reports
t_0491_dmarc_report_unit_t_LDADD = reports/libreport.a $(T_MILTER_LDADD) \
	$(ZLIB_LIBS)
TESTS += $(T_REPORT_UNIT)
SANITIZE_TESTS += $(T_REPORT_UNIT)
T_REPORT_SHELL = t/0490-dmarc-report.t
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
