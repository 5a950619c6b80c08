/*++
 * NAME
 *	policyd-ctl 3
 * SUMMARY
 *	elemta-policyd's commands on its control socket
 * DESCRIPTION
 *	"ratelimit show KEY" and "ratelimit reset KEY" (elemta-ctl(8)),
 *	on the live state of the limits (policyd-policy.h says what KEY
 *	is).  Both run in the server loop's thread, between two turns
 *	(CONTROL_MAIN): the store and the policy are that thread's.  A
 *	reset is logged with the peer's uid (lib/control.c) and with what
 *	it did here.
 *--*/
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "control.h"
#include "log.h"
#include "policyd-policy.h"
#include "policyd-server.h"

/* policyd_ctl_put - one limit's state, its fields under its name */
static void
policyd_ctl_put(const struct policyd_policy_keystate *ks, void *ctx)
{
	struct control_out *out = ctx;
	char k[300];

#define PUT(field, ...) \
	(snprintf(k, sizeof(k), "%s.%s", ks->limit, field), \
	 control_put(out, k, __VA_ARGS__))
	PUT("key", "%s", ks->skey);
	PUT("store", "%s", ks->store);
	PUT("used", "%" PRIu64, ks->used);
	PUT("max", "%" PRIu64, ks->max);
	PUT("period", "%s", ks->period);
	PUT("unit", "%s", ks->unit);
	PUT("retry", "%ld", ks->retry_s);
#undef PUT
}

/* policyd_ctl_sum - add up what show found */
static void
policyd_ctl_sum(const struct policyd_policy_keystate *ks, void *ctx)
{
	uint64_t *sum = ctx;

	*sum += ks->used;
}

/* policyd_ctl_ratelimit - "ratelimit show|reset KEY" */
static int
policyd_ctl_ratelimit(const struct control_req *req, struct control_out *out,
		      void *ctx)
{
	struct policyd_server *srv = ctx;
	char err[256];
	uint64_t sum = 0;
	int n;

	if (req->argc != 3 || (strcmp(req->argv[1], "show") != 0
			       && strcmp(req->argv[1], "reset") != 0)) {
		control_message(out, "usage: ratelimit show|reset KEY");
		return CONTROL_USAGE;
	}
	if (strcmp(req->argv[1], "reset") == 0) {
		if ((n = policyd_policy_key_reset(srv->pol, req->argv[2], err,
						  sizeof(err))) < 0) {
			msg_warn("control: ratelimit reset key=%s: %s",
				 req->argv[2], err);
			control_message(out, "reset failed: %s", err);
			return CONTROL_FAILED;
		}
		if (n == 0) {
			control_message(out, "no limit counts keys like %s",
					req->argv[2]);
			return CONTROL_NOTFOUND;
		}
		msg_info("control: ratelimit reset key=%s limits=%d uid=%u",
			 req->argv[2], n, (unsigned)req->uid);
		control_put(out, "limits", "%d", n);
		control_message(out, "reset");
		return CONTROL_OK;
	}
	n = policyd_policy_key_show(srv->pol, req->argv[2], clock_wall_ms(),
				    policyd_ctl_put, out, err, sizeof(err));
	if (n > 0)
		(void)policyd_policy_key_show(srv->pol, req->argv[2],
					      clock_wall_ms(), policyd_ctl_sum,
					      &sum, err, sizeof(err));
	if (n < 0) {
		control_message(out, "store: %s", err);
		return CONTROL_FAILED;
	}
	if (n == 0) {
		control_message(out, "no limit counts keys like %s",
				req->argv[2]);
		return CONTROL_NOTFOUND;
	}
	if (sum == 0) {
		control_message(out, "nothing counted for %s", req->argv[2]);
		return CONTROL_NOTFOUND;
	}
	return CONTROL_OK;
}

/* policyd_ctl_register - policyd's commands (before runtime_start) */
void
policyd_ctl_register(struct policyd_server *srv)
{
	control_register("ratelimit", policyd_ctl_ratelimit, srv,
			 CONTROL_MAIN, "show|reset KEY");
}
