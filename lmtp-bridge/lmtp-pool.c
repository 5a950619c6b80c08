/*++
 * NAME
 *	lmtp-pool 3
 * SUMMARY
 *	LMTP client side: the pool of idle backend connections
 * DESCRIPTION
 *	See lmtp-pool.h.  One array, oldest first, under one mutex: the
 *	delivery threads of every backend share it.  What has been idle
 *	for idle_timeout seconds is closed whenever the pool is used.
 *--*/
#include "config.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "lmtp-pool.h"
#include "xalloc.h"

struct lmtp_pool_entry {
	char *addr;
	int fd;
	struct lmtp_caps caps;
	double since;		/* idle since (clock_mono_s) */
};

struct lmtp_pool {
	pthread_mutex_t lock;
	struct lmtp_pool_entry *e;	/* oldest first */
	size_t n, max;
	int idle_timeout;
};

/* lmtp_pool_new - an empty pool */
struct lmtp_pool *
lmtp_pool_new(size_t max_idle, int idle_timeout)
{
	struct lmtp_pool *p = x_calloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->max = max_idle;
	p->idle_timeout = idle_timeout;
	p->e = x_calloc(max_idle ? max_idle : 1, sizeof(*p->e));
	return p;
}

/* lmtp_pool_drop - close and forget entry i (lock held) */
static void
lmtp_pool_drop(struct lmtp_pool *p, size_t i)
{
	close(p->e[i].fd);
	x_free(&p->e[i].addr);
	memmove(p->e + i, p->e + i + 1, (p->n - i - 1) * sizeof(*p->e));
	p->n--;
}

/* lmtp_pool_expire - close what has been idle too long (lock held) */
static void
lmtp_pool_expire(struct lmtp_pool *p)
{
	double now = clock_mono_s();

	while (p->n > 0 && now - p->e[0].since >= p->idle_timeout)
		lmtp_pool_drop(p, 0);
}

/* lmtp_pool_keeps - true when p can keep a connection */
int
lmtp_pool_keeps(const struct lmtp_pool *p)
{
	return p != NULL && p->max > 0;
}

/* lmtp_pool_take - the newest idle connection to addr; fd or -1 */
int
lmtp_pool_take(struct lmtp_pool *p, const char *addr,
	       struct lmtp_caps *caps)
{
	size_t i;
	int fd = -1;

	if (p == NULL)
		return -1;
	pthread_mutex_lock(&p->lock);
	lmtp_pool_expire(p);
	for (i = p->n; i-- > 0;) {
		if (strcmp(p->e[i].addr, addr) == 0) {
			fd = p->e[i].fd;
			*caps = p->e[i].caps;
			x_free(&p->e[i].addr);
			memmove(p->e + i, p->e + i + 1,
				(p->n - i - 1) * sizeof(*p->e));
			p->n--;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return fd;
}

/* lmtp_pool_put - keep an idle connection (the oldest goes if full) */
void
lmtp_pool_put(struct lmtp_pool *p, const char *addr, int fd,
	      const struct lmtp_caps *caps)
{
	pthread_mutex_lock(&p->lock);
	lmtp_pool_expire(p);
	if (p->n == p->max)
		lmtp_pool_drop(p, 0);
	p->e[p->n].addr = x_strdup(addr);
	p->e[p->n].fd = fd;
	p->e[p->n].caps = *caps;
	p->e[p->n].since = clock_mono_s();
	p->n++;
	pthread_mutex_unlock(&p->lock);
}

/* lmtp_pool_idle - the number of idle connections */
size_t
lmtp_pool_idle(struct lmtp_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	lmtp_pool_expire(p);
	n = p->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* lmtp_pool_free - close everything */
void
lmtp_pool_free(struct lmtp_pool **pp)
{
	struct lmtp_pool *p = *pp;

	if (p == NULL)
		return;
	while (p->n > 0)
		lmtp_pool_drop(p, 0);
	pthread_mutex_destroy(&p->lock);
	x_free(&p->e);
	x_free(pp);
}
