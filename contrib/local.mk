## contrib/ - what installs and runs Elemta as a system service: the
## command that prints the Postfix wiring, the systemd units, and the
## packaging tests (make check-packaging, t/07xx).

sbin_SCRIPTS = contrib/postfix/elemta-postfix-config
EXTRA_DIST += contrib/postfix/elemta-postfix-config.in
CLEANFILES += contrib/postfix/elemta-postfix-config
contrib/postfix/elemta-postfix-config: \
		contrib/postfix/elemta-postfix-config.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib/postfix && \
	$(edit) $(srcdir)/contrib/postfix/elemta-postfix-config.in > $@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

## what it prints and applies, against a real postconf (fast: make check)
dist_check_SCRIPTS += t/0703-postfix-config.t
TESTS += t/0703-postfix-config.t
EXTRA_DIST += t/lib/pfconfig.sh

man_MANS += man/elemta-postfix-config.8
EXTRA_DIST += man/elemta-postfix-config.8.in
CLEANFILES += man/elemta-postfix-config.8
man/elemta-postfix-config.8: man/elemta-postfix-config.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && \
	$(edit) $(srcdir)/man/elemta-postfix-config.8.in > $@.tmp && mv $@.tmp $@

## Monitoring: the Prometheus scrape configuration, the alert rules and
## their unit tests (promtool test rules), the Grafana dashboard, and
## the test that puts them to a real Prometheus scraping the three
## daemons under real mail (with every peer: about 30 s).
monitoringdir = $(docdir)/examples
dist_monitoring_DATA = contrib/prometheus/prometheus.yml \
	contrib/prometheus/elemta.rules.yml \
	contrib/prometheus/elemta.rules.test.yml contrib/grafana/elemta.json
EXTRA_DIST += t/lib/prom-exprs.py
dist_check_SCRIPTS += t/0610-prometheus.t
TESTS += t/0610-prometheus.t

## Installation (FHS with --prefix=/usr --sysconfdir=/etc
## --localstatedir=/var): the sample configuration as
## $(sysconfdir)/elemta/elemta.conf, never over an administrator's copy,
## and the state directory $(localstatedir)/lib/elemta, the default of
## database.directory (lib/db.c).  The socket directory lives in
## Postfix's queue directory (lib/runtime.h), outside the prefix: the
## packages (debian/) or the daemon at its first start make it.
## Uninstall removes the configuration only when it is still the sample.
elemtaconfdir = $(sysconfdir)/elemta
elemtastatedir = $(localstatedir)/lib/elemta
install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(elemtaconfdir)' '$(DESTDIR)$(elemtastatedir)'
	@if test -f '$(DESTDIR)$(elemtaconfdir)/elemta.conf'; then \
	  echo "$(DESTDIR)$(elemtaconfdir)/elemta.conf exists: kept"; \
	else \
	  echo " $(INSTALL_DATA) conf/elemta.conf '$(DESTDIR)$(elemtaconfdir)/elemta.conf'"; \
	  $(INSTALL_DATA) $(srcdir)/conf/elemta.conf \
	    '$(DESTDIR)$(elemtaconfdir)/elemta.conf'; \
	fi
uninstall-local:
	@if cmp -s $(srcdir)/conf/elemta.conf \
	    '$(DESTDIR)$(elemtaconfdir)/elemta.conf'; then \
	  echo " rm -f '$(DESTDIR)$(elemtaconfdir)/elemta.conf'"; \
	  rm -f '$(DESTDIR)$(elemtaconfdir)/elemta.conf'; \
	fi
	rmdir '$(DESTDIR)$(elemtastatedir)' '$(DESTDIR)$(elemtaconfdir)' \
	  2>/dev/null || :

## systemd units (installed by the Debian packages: debian/*.service
## link to them) and the Debian packaging itself.
EXTRA_DIST += contrib/systemd/elemta-milter.service \
	contrib/systemd/elemta-policyd.service \
	contrib/systemd/elemta-lmtp-bridge.service \
	debian \
	contrib/docker/Dockerfile contrib/docker/docker-entrypoint \
	contrib/docker/healthcheck contrib/docker/elemta.conf \
	contrib/docker/docker-mailserver/README \
	contrib/docker/docker-mailserver/Dockerfile \
	contrib/docker/docker-mailserver/docker-compose.yml \
	contrib/docker/docker-mailserver/elemta-dms-run \
	contrib/docker/docker-mailserver/mailserver.env \
	contrib/docker/docker-mailserver/supervisor-elemta.conf \
	contrib/docker/docker-mailserver/user-patches.sh

## The packaging tests: slow (they build the Debian packages and install
## them into a debootstrapped Debian 12), so not part of make check;
## tools/run-tests runs them once, after check-faults, never under the
## sanitizers.  About 75 s on 2 cores with t/0720's chroot cached, under
## 2 min when it must be made (/var/cache/elemta-test/bookworm, 250 MB).
## t/0730 adds about 80 s (its build stage fetches the Build-Depends
## from the mirror): podman imports that tree once as a base image
## (localhost/elemta-test/bookworm, kept in /var/lib/containers).
## t/0740 (the docker-mailserver add-on) needs no package: user-patches.sh
## on DMS-like main.cf files, docker-compose config, a message through a
## Postfix it configured to this build's daemons; about 30 s.
PACKAGING_TESTS = t/0700-install-layout.t t/0701-deb-build.t \
	t/0702-deb-contents.t t/0710-systemd-units.t t/0720-deb-chroot.t \
	t/0730-container.t t/0740-docker-mailserver.t
dist_check_SCRIPTS += $(PACKAGING_TESTS)
## 0701 builds the packages (in t/deb/) that the others look into.
t/0702-deb-contents.log t/0710-systemd-units.log t/0720-deb-chroot.log \
		t/0730-container.log: \
	t/0701-deb-build.log
clean-local: clean-packaging
clean-packaging:
	rm -rf t/deb
.PHONY: clean-packaging
check-packaging:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(PACKAGING_TESTS)'
.PHONY: check-packaging
