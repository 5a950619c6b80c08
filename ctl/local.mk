## ctl/ - elemta-ctl(8): the operator's control tool.  It talks to each
## daemon's control socket (lib/control.c) and reads the same
## elemta.conf (the whole schema, to find the sockets and for "config").

sbin_PROGRAMS += ctl/elemta-ctl
ctl_elemta_ctl_SOURCES = ctl/elemta-ctl.c ctl/ctl-client.c ctl/ctl.h
ctl_elemta_ctl_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(LDAP_CFLAGS) -DSBINDIR='"$(sbindir)"'
ctl_elemta_ctl_LDADD = $(ELEMTA_SECTIONS_LIBS) $(ELEMTA_LIBS) $(PTHREAD_LIBS)

## Tests: against the three real daemons (make check)
dist_check_SCRIPTS += t/0600-ctl-status.t t/0601-ctl-config.t \
	t/0602-ctl-ratelimit.t t/0603-ctl-dkim.t t/0604-ctl-route-ldap.t \
	t/0605-ctl-postfix.t t/0606-ctl-greylist.t
TESTS += t/0600-ctl-status.t t/0601-ctl-config.t \
	t/0602-ctl-ratelimit.t t/0603-ctl-dkim.t t/0604-ctl-route-ldap.t \
	t/0605-ctl-postfix.t t/0606-ctl-greylist.t
EXTRA_DIST += t/lib/ctl.sh

## bash completion, installed where bash-completion looks for it
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/bash-completion/elemta-ctl
