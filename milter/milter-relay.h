/*++
 * NAME
 *	milter-relay 3h
 * SUMMARY
 *	a TCP milter listener with a client allow-list, in front of libmilter
 * SYNOPSIS
 *	#include "milter-relay.h"
 * DESCRIPTION
 *	milter_relay_open() binds the TCP listener (as root, before
 *	runtime_start) and fills inner with the unix socket libmilter is
 *	to listen on instead: a private directory, mode 0600, owned by
 *	user when we are root.  milter_relay_start() starts accepting,
 *	once privileges are dropped; milter_relay_stop() stops it and
 *	removes the private socket and directory.  See milter-relay.c.
 *--*/
#ifndef ELEMTA_MILTER_RELAY_H
#define ELEMTA_MILTER_RELAY_H

#include <stddef.h>

#include "listen.h"

struct runtime;

int milter_relay_open(const struct listen_spec *tcp, const char *user,
		      struct listen_spec *inner, char *err, size_t errlen);
void milter_relay_start(struct runtime *rt);
void milter_relay_stop(void);

/* milter_relay_conn - the listener libmilter binds (the spec itself, or
 * the inner socket milter_relay_open filled) in libmilter's
 * smfi_setconn() spelling ("inet:10025@127.0.0.1", "inet6:10025@::1",
 * "local:/path"); returns buf, truncated to fit len */
char *milter_relay_conn(const struct listen_spec *ls, char *buf, size_t len);

#endif
