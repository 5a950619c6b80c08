## man/ - hand-written pages; *.in get paths substituted at build time.
man_MANS += man/elemta.conf.5
EXTRA_DIST += man/elemta.conf.5.in
CLEANFILES += man/elemta.conf.5

man/elemta.conf.5: man/elemta.conf.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit) $(srcdir)/man/elemta.conf.5.in > $@.tmp && mv $@.tmp $@

## elemta-ctl(8)
man_MANS += man/elemta-ctl.8
EXTRA_DIST += man/elemta-ctl.8.in
CLEANFILES += man/elemta-ctl.8
man/elemta-ctl.8: man/elemta-ctl.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(edit) $(srcdir)/man/elemta-ctl.8.in > $@.tmp && mv $@.tmp $@
