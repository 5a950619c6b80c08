/*++
 * NAME
 *	metrics-http 3
 * SUMMARY
 *	the metrics endpoint (libmicrohttpd) and the [metrics] section
 * DESCRIPTION
 *	See metrics.h.  metrics_serve() runs libmicrohttpd's own polling
 *	thread on a socket the daemon bound before dropping privileges;
 *	each scrape renders the registry (metrics.c) anew.  Apart from the
 *	registry so that the registry links without an HTTP server or the
 *	configuration.
 *--*/
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <microhttpd.h>

#include "conf.h"
#include "metrics.h"
#include "xalloc.h"

/*
 * The HTTP endpoint.
 */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result metrics_mhd_result;
#else
typedef int metrics_mhd_result;
#endif

struct metrics_server {
	struct MHD_Daemon *daemon;
	char *path;
	metrics_allow_fn allow;		/* NULL: every client */
	pthread_mutex_t lock;		/* protects mhd_err */
	char mhd_err[256];		/* libmicrohttpd's last message */
};

static pthread_mutex_t metrics_server_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_server *metrics_server;

/* metrics_mhd_log - keep libmicrohttpd's last message for our errors */
static void
metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_server *srv = cls;
	size_t len;

	pthread_mutex_lock(&srv->lock);
	vsnprintf(srv->mhd_err, sizeof(srv->mhd_err), fmt, ap);
	len = strlen(srv->mhd_err);
	while (len > 0 && (srv->mhd_err[len - 1] == '\n'
			   || srv->mhd_err[len - 1] == '\r'))
		srv->mhd_err[--len] = '\0';
	pthread_mutex_unlock(&srv->lock);
}

/* metrics_reply - queue a response of a given status and body */
static metrics_mhd_result
metrics_reply(struct MHD_Connection *conn, unsigned status, char *body,
	      size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	metrics_mhd_result ret;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ?
				"text/plain; version=0.0.4; charset=utf-8" :
				"text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* metrics_handler - answer one request */
static metrics_mhd_result
metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
		const char *method, const char *version,
		const char *upload_data, size_t *upload_data_size,
		void **req_cls)
{
	static const char not_found[] = "Not Found\n";
	static const char not_allowed[] = "Method Not Allowed\n";
	const struct metrics_server *srv = cls;
	char *body;
	size_t len;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
	    && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     (char *) not_allowed,
				     sizeof(not_allowed) - 1,
				     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, srv->path) != 0)
		return metrics_reply(conn, MHD_HTTP_NOT_FOUND,
				     (char *) not_found, sizeof(not_found) - 1,
				     MHD_RESPMEM_PERSISTENT);
	body = metrics_render(&len);
	return metrics_reply(conn, MHD_HTTP_OK, body, len,
			     MHD_RESPMEM_MUST_FREE);
}

/* metrics_accept - libmicrohttpd's accept policy: the caller's */
static metrics_mhd_result
metrics_accept(void *cls, const struct sockaddr *sa, socklen_t salen)
{
	const struct metrics_server *srv = cls;

	if (srv->allow == NULL || srv->allow(sa, (unsigned) salen))
		return MHD_YES;
	return MHD_NO;
}

/* metrics_server_free - free a server's memory (not its daemon) */
static void
metrics_server_free(struct metrics_server *srv)
{
	pthread_mutex_destroy(&srv->lock);
	free(srv->path);
	free(srv);
}

/* metrics_mhd_start - libmicrohttpd serving srv on listen_fd, its own
 * thread polling; NULL with srv->mhd_err */
static struct MHD_Daemon *
metrics_mhd_start(struct metrics_server *srv, int listen_fd)
{
	unsigned flags;

	/* Messages go to our buffer, never to stderr: lib/ does not log. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
#if MHD_VERSION >= 0x00095300
	flags |= MHD_USE_AUTO;
#endif
	return MHD_start_daemon(flags, 0, metrics_accept, srv,
				metrics_handler, srv,
				MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, srv,
				MHD_OPTION_LISTEN_SOCKET, listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned) 32,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
				MHD_OPTION_END);
}

/* metrics_serve - start the HTTP endpoint on a listening socket */
int
metrics_serve(int listen_fd, const char *path, metrics_allow_fn allow,
	      char *err, size_t errlen)
{
	struct metrics_server *srv;
	struct stat st, st2;
	int have_st;

	if (listen_fd < 0) {
		x_err(err, errlen, "metrics: no listening socket");
		return -1;
	}
	if (path == NULL || *path != '/') {
		x_err(err, errlen, "metrics: path \"%s\" does not start "
		      "with \"/\"", path ? path : "");
		close(listen_fd);
		return -1;
	}
	pthread_mutex_lock(&metrics_server_lock);
	if (metrics_server != NULL) {
		pthread_mutex_unlock(&metrics_server_lock);
		x_err(err, errlen, "metrics: already serving");
		close(listen_fd);
		return -1;
	}
	have_st = fstat(listen_fd, &st) == 0;
	srv = x_calloc(1, sizeof(*srv));
	srv->path = x_strdup(path);
	srv->allow = allow;
	pthread_mutex_init(&srv->lock, NULL);
	srv->daemon = metrics_mhd_start(srv, listen_fd);
	if (srv->daemon == NULL) {
		x_err(err, errlen, "metrics: cannot start the HTTP server: %s",
		      *srv->mhd_err ? srv->mhd_err : "unknown error");
		metrics_server_free(srv);
		pthread_mutex_unlock(&metrics_server_lock);
		/* Whether libmicrohttpd closed a socket it was given depends
		 * on where it failed (option errors leave it open); close it
		 * only if the descriptor still is that socket, as another
		 * thread may since have been given the same number. */
		if (have_st && fstat(listen_fd, &st2) == 0
		    && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
			close(listen_fd);
		return -1;
	}
	metrics_server = srv;
	pthread_mutex_unlock(&metrics_server_lock);
	return 0;
}

/* metrics_stop - stop the HTTP endpoint and close its socket */
void
metrics_stop(void)
{
	struct metrics_server *srv;

	pthread_mutex_lock(&metrics_server_lock);
	srv = metrics_server;
	metrics_server = NULL;
	pthread_mutex_unlock(&metrics_server_lock);
	if (srv == NULL)
		return;
	/* Closes the listening socket too. */
	MHD_stop_daemon(srv->daemon);
	metrics_server_free(srv);
}

/*
 * The [metrics] section.
 */
static cfg_opt_t metrics_opts[] = {
	CFG_STR("path", "/metrics", CFGF_NONE),
	CFG_END()
};

/* metrics_check_path - an absolute URL path, no query, no spaces */
static int
metrics_check_path(const char *value, char *err, size_t errlen)
{
	const char *p;

	if (value == NULL || *value != '/') {
		x_err(err, errlen, "must start with \"/\"");
		return -1;
	}
	for (p = value; *p != '\0'; p++) {
		if ((unsigned char) *p <= ' ' || *p == 0x7f) {
			x_err(err, errlen, "must not contain spaces or "
			      "control characters");
			return -1;
		}
		if (*p == '?' || *p == '#') {
			x_err(err, errlen, "must not contain \"%c\"", *p);
			return -1;
		}
	}
	return 0;
}

static const struct conf_check metrics_checks[] = {
	{ "path", CONF_CHECK_FUNC, 0, 0, NULL, metrics_check_path },
	CONF_CHECK_END
};

/* metrics_conf_load - copy the [metrics] section into struct metrics_conf */
static int
metrics_conf_load(cfg_t *sec, void *out, char *err, size_t errlen)
{
	struct metrics_conf *mc = out;

	/* The check above has run; this only catches an empty value. */
	mc->path = conf_strdup_opt(sec, "path");
	if (mc->path == NULL) {
		x_err(err, errlen, "path: must start with \"/\"");
		return -1;
	}
	return 0;
}

/* metrics_conf_release - free what metrics_conf_load allocated */
static void
metrics_conf_release(void *out)
{
	struct metrics_conf *mc = out;

	x_free(&mc->path);
}

const struct conf_section metrics_conf_section = {
	"metrics", metrics_opts, metrics_checks, sizeof(struct metrics_conf),
	metrics_conf_load, metrics_conf_release,
};
