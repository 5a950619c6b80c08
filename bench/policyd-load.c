/*++
 * NAME
 *	policyd-load 1
 * SUMMARY
 *	load generator for Postfix policy servers (bench/policyd)
 * SYNOPSIS
 *	bench/policyd-load HOST PORT [CONNECTIONS [SECONDS [WARMUP [RATE]]]]
 *	bench/policyd-load unix:PATH - [CONNECTIONS [SECONDS [WARMUP [RATE]]]]
 * DESCRIPTION
 *	HOST PORT: over TCP; unix:PATH (or an absolute PATH): over the
 *	unix socket PATH, PORT ignored (Postfix's way to a local policy
 *	service, and elemta-policyd's default listener).
 *
 *	Keeps CONNECTIONS (default 100) persistent connections busy the
 *	way Postfix's smtpd processes use a policy service: one request
 *	at a time per connection, each connection a stream of SMTP
 *	transactions -- one to three RCPT requests, then END-OF-MESSAGE
 *	with the size -- from many client addresses (IPv4 and IPv6; one
 *	transaction in twenty from ten hot clients that run into their
 *	limits) and, for one transaction in four, a SASL user.  Every transaction has
 *	its own instance attribute, as Postfix's have.
 *
 *	After WARMUP seconds (default 1) it measures for SECONDS (default
 *	5) and prints one line:
 *
 *	  requests=N req_per_s=R p50_us=A p99_us=B dunno=D other=O errors=E
 *
 *	Without RATE (or RATE 0) the load is a closed loop: each
 *	connection sends its next request as soon as the answer to the
 *	last one is in, so req_per_s is the server's throughput and the
 *	latency is mostly queueing (Little's law: CONNECTIONS / req_per_s
 *	on average).  With RATE (requests per second, all connections
 *	together) the load is paced: each connection sends on a fixed
 *	schedule, RATE / CONNECTIONS a second, out of phase with the
 *	others, as many independent smtpd processes would; a latency is
 *	then from when the request was due, so an answer that comes late
 *	also makes late the requests that had to wait behind it.  That is
 *	the latency a Postfix sees at that load.
 *
 *	A latency is from the first byte written (closed loop) or from
 *	when the request was due (paced) to the reply's empty line.  "other" counts replies that are not DUNNO (DEFER, REJECT,
 *	PREPEND ...), so a run shows that limits really were evaluated.
 *	Exit status 1 when a connection failed or a reply was malformed.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOAD_MAX_CONNS	1000
#define LOAD_REQ_MAX	1024
#define LOAD_IPS	20000		/* distinct client addresses */
#define LOAD_USERS	2000		/* distinct SASL users */

struct load_conn {
	int	fd;
	char	req[LOAD_REQ_MAX];	/* the request in flight */
	size_t	req_len, req_off;
	char	rep[512];		/* the reply so far */
	size_t	rep_len;
	double	t0;			/* when the request started */
	double	due;			/* paced: when the next one is due */
	int	waiting;		/* paced: idle until due */
	int	watched;		/* added to the epoll set */
	/* The transaction in progress. */
	unsigned long instance;
	unsigned rcpts, rcpt_done;
	unsigned ip, user;		/* user 0: unauthenticated */
};

static uint64_t load_rng = 0x9e3779b97f4a7c15ULL;

/* load_rand - splitmix64, deterministic */
static uint64_t
load_rand(void)
{
	uint64_t z = (load_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* load_now - monotonic seconds */
static double
load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* load_connect_unix - one connection to the unix socket path */
static int
load_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* load_connect - one TCP connection, Nagle off (Postfix's are local),
 * or one to a unix socket (host "unix:PATH" or "/PATH") */
static int
load_connect(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1;

	if (strncmp(host, "unix:", 5) == 0)
		return load_connect_unix(host + 5);
	if (*host == '/')
		return load_connect_unix(host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	return fd;
}

/* load_client - the client address of ip number i (IPv4 or IPv6) */
static void
load_client(unsigned i, char *buf, size_t len)
{
	if (i % 5 == 0)
		snprintf(buf, len, "2001:db8:%x:%x::%x", i >> 8, i & 0xff,
			 i % 7 + 1);
	else
		snprintf(buf, len, "10.%u.%u.%u", (i >> 16) & 0xff,
			 (i >> 8) & 0xff, i & 0xff);
}

/* load_next - the connection's next request */
static void
load_next(struct load_conn *c)
{
	static unsigned long instances;
	char client[64], sasl[64];
	const char *state;
	int n;

	if (c->rcpt_done > c->rcpts || c->instance == 0) {
		/* A new transaction. */
		c->instance = ++instances;
		c->rcpts = 1 + (unsigned)(load_rand() % 3);
		c->rcpt_done = 0;
		/* One transaction in twenty from ten hot clients, which
		 * run into the limits: the deferral path is measured too. */
		c->ip = load_rand() % 20 == 0 ?
		    (unsigned)(load_rand() % 10) :
		    (unsigned)(load_rand() % LOAD_IPS);
		c->user = load_rand() % 4 == 0 ?
		    1 + (unsigned)(load_rand() % LOAD_USERS) : 0;
	}
	load_client(c->ip, client, sizeof(client));
	if (c->user)
		snprintf(sasl, sizeof(sasl), "user%u@example.test", c->user);
	else
		sasl[0] = '\0';
	state = c->rcpt_done < c->rcpts ? "RCPT" : "END-OF-MESSAGE";
	n = snprintf(c->req, sizeof(c->req),
		     "request=smtpd_access_policy\n"
		     "protocol_state=%s\nprotocol_name=ESMTP\n"
		     "client_address=%s\nclient_name=unknown\n"
		     "reverse_client_name=unknown\nhelo_name=client.test\n"
		     "sender=sender%u@remote.test\n"
		     "recipient=rcpt%u@example.test\n"
		     "recipient_count=%u\nqueue_id=\n"
		     "instance=%lx.%x\nsize=%u\n"
		     "sasl_method=%s\nsasl_username=%s\nsasl_sender=\n"
		     "ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		     "encryption_protocol=\nencryption_cipher=\n"
		     "encryption_keysize=0\netrn_domain=\nstress=\n"
		     "server_address=127.0.0.1\nserver_port=25\n\n",
		     state, client, c->ip, c->rcpt_done,
		     c->rcpt_done < c->rcpts ? 0 : c->rcpts,
		     c->instance, (unsigned)getpid(),
		     c->rcpt_done < c->rcpts ? 0 : 4096,
		     c->user ? "PLAIN" : "", sasl);
	c->req_len = (size_t)n;
	c->req_off = 0;
	c->rep_len = 0;
	c->rcpt_done++;
	c->t0 = load_now();
}

/* load_cmp - qsort order of latencies */
static int
load_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* load_send - write what is left of c's request; -1 on error */
static int
load_send(struct load_conn *c)
{
	ssize_t r;

	while (c->req_off < c->req_len) {
		r = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;	/* the rest when POLLOUT says */
		if (r <= 0)
			return -1;
		c->req_off += (size_t)r;
	}
	return 0;
}

/* load_watch - what epoll watches for connection k */
static void
load_watch(int ep, struct load_conn *c, int k, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u32 = (uint32_t)k;
	if (epoll_ctl(ep, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &ev) < 0)
		perror("epoll_ctl");
	c->watched = 1;
}

/* load_start - c's next request: now (closed loop) or when it is due
 * (paced); the latency counts from then, so a late answer also makes
 * the requests queued behind it late (no coordinated omission) */
static int
load_start(struct load_conn *c, double now, double interval)
{
	load_next(c);
	if (interval > 0) {
		c->due += interval;
		c->t0 = c->due;
		c->waiting = c->due > now;
		if (c->waiting)
			return 0;
	}
	return load_send(c);
}

int
main(int argc, char **argv)
{
	const char *host, *port;
	int nconn = 100, errors = 0, k, n, one = 1;
	double seconds = 5, warmup = 1, rate = 0, interval = 0;
	double t_start, t_measure, t_end, now, next;
	struct load_conn *conns;
	struct epoll_event *evs;
	struct timespec ts;
	int ep, i;
	double *lat = NULL;
	size_t nlat = 0, caplat = 0;
	unsigned long dunno = 0, other = 0;
	ssize_t r;
	char *nl;

	if (argc < 3) {
		fprintf(stderr, "usage: %s HOST PORT|unix:PATH - [CONNECTIONS"
			" [SECONDS [WARMUP [RATE]]]]\n", argv[0]);
		return 2;
	}
	host = argv[1];
	port = argv[2];
	if (argc > 3)
		nconn = atoi(argv[3]);
	if (argc > 4)
		seconds = atof(argv[4]);
	if (argc > 5)
		warmup = atof(argv[5]);
	if (argc > 6)
		rate = atof(argv[6]);
	if (nconn < 1 || nconn > LOAD_MAX_CONNS || seconds <= 0 || rate < 0) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	if (rate > 0)
		interval = (double)nconn / rate;	/* per connection */
	conns = calloc((size_t)nconn, sizeof(*conns));
	evs = calloc(LOAD_MAX_CONNS, sizeof(*evs));
	if (conns == NULL || evs == NULL
	    || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 2;
	for (k = 0; k < nconn; k++) {
		if ((conns[k].fd = load_connect(host, port)) < 0) {
			fprintf(stderr, "%s: connect %s:%s: %s\n", argv[0],
				host, port, strerror(errno));
			return 1;
		}
		(void)ioctl(conns[k].fd, FIONBIO, &one);
		load_watch(ep, &conns[k], k, EPOLLIN);
	}
	t_start = load_now();
	t_measure = t_start + warmup;
	t_end = t_measure + seconds;
	for (k = 0; k < nconn; k++) {
		/* paced: the connections' schedules evenly out of phase */
		conns[k].due = t_start + interval * k / nconn - interval;
		if (load_start(&conns[k], t_start, interval) < 0) {
			errors++;
			goto out;
		}
		if (conns[k].req_off < conns[k].req_len && !conns[k].waiting)
			load_watch(ep, &conns[k], k, EPOLLIN | EPOLLOUT);
	}
	for (now = t_start; now < t_end;) {
		/* send what has come due; the poll timeout: the next due */
		next = t_end;
		for (k = 0; k < nconn; k++) {
			struct load_conn *c = &conns[k];

			if (!c->waiting)
				continue;
			if (c->due > now) {
				if (c->due < next)
					next = c->due;
				continue;
			}
			c->waiting = 0;
			if (load_send(c) < 0) {
				errors++;
				goto out;
			}
			if (c->req_off < c->req_len)
				load_watch(ep, c, k, EPOLLIN | EPOLLOUT);
		}
		next -= now;
		if (next > 0.999)
			next = 0.999;
		ts.tv_sec = 0;
		ts.tv_nsec = next > 0 ? (long)(next * 1e9) : 0;
		n = epoll_pwait2(ep, evs, LOAD_MAX_CONNS, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_pwait2");
			return 1;
		}
		now = load_now();
		for (i = 0; i < n; i++) {
			struct load_conn *c = &conns[evs[i].data.u32];

			if (c->req_off < c->req_len) {
				if (load_send(c) < 0) {
					errors++;
					goto out;
				}
				if (c->req_off == c->req_len)
					load_watch(ep, c, evs[i].data.u32,
						   EPOLLIN);
				continue;
			}
			r = read(c->fd, c->rep + c->rep_len,
				 sizeof(c->rep) - 1 - c->rep_len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				fprintf(stderr, "%s: connection closed by "
					"the server\n", argv[0]);
				errors++;
				goto out;
			}
			c->rep_len += (size_t)r;
			c->rep[c->rep_len] = '\0';
			if (strstr(c->rep, "\n\n") == NULL) {
				if (c->rep_len >= sizeof(c->rep) - 1) {
					errors++;
					goto out;
				}
				continue;
			}
			if (strncmp(c->rep, "action=", 7) != 0 ||
			    (nl = strchr(c->rep, '\n')) == NULL ||
			    nl[1] != '\n') {
				fprintf(stderr, "%s: bad reply: %.80s\n",
					argv[0], c->rep);
				errors++;
				goto out;
			}
			if (now >= t_measure) {
				if (nlat == caplat) {
					caplat = caplat ? 2 * caplat : 65536;
					lat = realloc(lat, caplat * sizeof(*lat));
					if (lat == NULL)
						return 2;
				}
				lat[nlat++] = now - c->t0;
				if (strncasecmp(c->rep + 7, "dunno", 5) == 0)
					dunno++;
				else
					other++;
			}
			if (load_start(c, now, interval) < 0) {
				errors++;
				goto out;
			}
			if (c->req_off < c->req_len && !c->waiting)
				load_watch(ep, c, evs[i].data.u32,
					   EPOLLIN | EPOLLOUT);
		}
	}
out:
	now = load_now();
	if (now > t_end)
		now = t_end;
	if (nlat == 0) {
		printf("requests=0 req_per_s=0 p50_us=0 p99_us=0 dunno=0 "
		       "other=0 errors=%d\n", errors ? errors : 1);
		return 1;
	}
	qsort(lat, nlat, sizeof(*lat), load_cmp);
	printf("requests=%zu req_per_s=%.0f p50_us=%.0f p99_us=%.0f "
	       "dunno=%lu other=%lu errors=%d\n", nlat,
	       (double)nlat / (now - t_measure), lat[nlat / 2] * 1e6,
	       lat[(size_t)((double)nlat * 0.99)] * 1e6, dunno, other,
	       errors);
	for (k = 0; k < nconn; k++)
		close(conns[k].fd);
	free(lat);
	free(conns);
	free(evs);
	close(ep);
	return errors ? 1 : 0;
}
