## lib/ - the internal library every daemon links.  It depends on
## nothing above it: no daemon's header or section is compiled here (the
## whole schema is assembled in sections-all.c, see Makefile.am).

noinst_LIBRARIES += lib/libelemta.a
lib_libelemta_a_SOURCES = \
	lib/xalloc.c lib/xalloc.h \
	lib/str.c lib/str.h \
	lib/clock.c lib/clock.h \
	lib/sys-defs.h \
	lib/log.c lib/log.h lib/log-conf.c lib/log-conf.h \
	lib/conf.c lib/conf-value.c lib/conf.h \
	lib/snapshot.c lib/snapshot.h \
	lib/cli.c lib/cli.h \
	lib/cidr.c lib/cidr.h \
	lib/listen.c lib/listen-open.c lib/listen.h \
	lib/daemon.c lib/daemon.h lib/daemon-conf.c \
	lib/metrics.c lib/metrics-http.c lib/metrics.h \
	lib/db.c lib/db.h \
	lib/dns.c lib/dns-cache.c lib/dns-answer.c lib/dns-conf.c \
	lib/dns.h lib/dns-private.h \
	lib/htable.c lib/htable.h \
	lib/ldapc.c lib/ldapc.h \
	lib/redis.c lib/redis-cluster.c lib/redis-pipe.c lib/redis.h \
	lib/redis-private.h \
	lib/control.c lib/control.h \
	lib/runtime.c lib/runtime.h
lib_libelemta_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(SQLITE_CFLAGS) $(MHD_CFLAGS) \
	$(UNBOUND_CFLAGS) $(HIREDIS_CFLAGS) $(LDAP_CFLAGS)

## What a program linking libelemta.a needs.
ELEMTA_LIBS = lib/libelemta.a $(CONFUSE_LIBS) $(SQLITE_LIBS) $(MHD_LIBS) \
	$(UNBOUND_LIBS) $(HIREDIS_LIBS) $(LDAP_LIBS)
