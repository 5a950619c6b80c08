/*++
 * NAME
 *	listen 3h
 * SUMMARY
 *	parse and open listening sockets
 * SYNOPSIS
 *	#include "listen.h"
 * DESCRIPTION
 *	Listener specs use the spellings of Postfix and of milters:
 *
 *	inet:HOST:PORT, inet:PORT@HOST, inet:PORT (all IPv4 addresses)
 *	inet6:[ADDR]:PORT, inet6:PORT@[ADDR], inet6:PORT@ADDR
 *	unix:PATH, local:PATH   optionally followed by comma-separated
 *	                        options: mode=0660, owner=USER, group=GROUP
 *
 *	HOST may be a name (resolved once, first address), "*" or empty
 *	for all addresses.  PORT is 1..65535 (numeric or a service name).
 *	inet6:PORT (all IPv6 addresses) is accepted too; an inet6 listener
 *	is IPv6-only (IPV6_V6ONLY).  IPv6 scope ids (fe80::1%eth0) are not
 *	supported.  owner and group may be numeric ids.
 *
 *	The parser is pure (no I/O but /etc/services for a service name;
 *	host names are looked up by listen_open), so it is unit-tested on
 *	a table.  listen_open()
 *	returns a non-blocking, close-on-exec listening socket; for unix
 *	sockets it removes a stale socket file (never a regular file) and
 *	applies mode/owner/group (the mode's permission bits, 0777), makes
 *	a missing directory (one level, searchable as the mode allows, with
 *	the socket's owner and group) and refuses a directory that others
 *	may write to.  Errors go into the caller's buffer and
 *	say what failed: "address in use", "permission denied", "bad
 *	syntax".  Nothing here logs.
 *--*/
#ifndef ELEMTA_LISTEN_H
#define ELEMTA_LISTEN_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "cidr.h"

enum listen_family {
	LISTEN_INET,
	LISTEN_INET6,
	LISTEN_UNIX,
};

struct listen_spec {
	enum listen_family family;
	char host[256];		/* inet/inet6: "" = any address */
	unsigned port;		/* inet/inet6 */
	char path[108];		/* unix: sizeof(sun_path) */
	int mode;		/* unix: -1 = leave as umask made it */
	char owner[64];		/* unix: "" = leave */
	char group[64];		/* unix: "" = leave */
};

/* listen_parse - parse a spec; 0, or -1 with a message in err */
int listen_parse(const char *spec, struct listen_spec *out,
		 char *err, size_t errlen);

/* listen_open - bind and listen; the fd, or -1 with a message in err.
 * backlog <= 0 means SOMAXCONN. */
int listen_open(const struct listen_spec *ls, int backlog,
		char *err, size_t errlen);

/* For a library that binds its unix socket itself (libmilter):
 * listen_unix_prepare() looks the owner and group up, makes or checks
 * the directory (not writable by others) and removes a stale socket;
 * bind with umask(listen_unix_umask(ls, old)) in force, then
 * listen_unix_own() sets the owner and group without following links.
 * 0, or -1 with a message in err. */
struct listen_ids {
	unsigned uid;		/* (unsigned)-1: leave */
	unsigned gid;
};
int listen_unix_prepare(const struct listen_spec *ls, struct listen_ids *ids,
			char *err, size_t errlen);
mode_t listen_unix_umask(const struct listen_spec *ls, mode_t cur);
int listen_unix_own(const struct listen_spec *ls, const struct listen_ids *ids,
		    char *err, size_t errlen);

/* listen_format - canonical Postfix spelling ("inet:127.0.0.1:10025",
 * "inet6:[::1]:10025", "unix:/path"); returns buf.  The address only:
 * unix options are left out; all addresses are "inet:*:PORT" and
 * "inet6:[::]:PORT".  Truncated to fit len. */
char *listen_format(const struct listen_spec *ls, char *buf, size_t len);

/*
 * Client allow-lists of TCP listeners: lib/cidr's nets.
 * listen_net_match() says whether a peer address (as accept() or
 * getpeername() filled it) is inside one of the nets; an IPv4-mapped
 * IPv6 address (::ffff:192.0.2.1) is matched as the IPv4 address it
 * is.  Unix-domain peers always match: the socket's mode and owner
 * guard those.  listen_peer_check() looks at a connected socket: 1
 * allowed, 0 not allowed, -1 getpeername failed (errno); peer gets the
 * address in text ("192.0.2.1", "2001:db8::1", "unix") for the log
 * line either way.
 */
int listen_net_match(const struct cidr *nets, size_t n,
		     const struct sockaddr *sa, socklen_t salen);
int listen_peer_check(int fd, const struct cidr *nets, size_t n,
		      char *peer, size_t peerlen);

/* listen_peer_name - a connected socket's peer for the logs:
 * "192.0.2.1:4711", "[2001:db8::1]:4711", "unix", or "unknown" when
 * getpeername() fails or the family is another.  Truncated to fit len. */
void listen_peer_name(int fd, char *out, size_t len);

#endif
