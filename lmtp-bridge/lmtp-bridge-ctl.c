/*++
 * NAME
 *	lmtp-bridge-ctl 3
 * SUMMARY
 *	elemta-lmtp-bridge's commands on its control socket
 * DESCRIPTION
 *	"route ADDRESS" (elemta-ctl(8)): what the bridge would do with a
 *	recipient, asked of the running bridge's own router (the current
 *	configuration's sources and caches), so the answer is the one a
 *	RCPT TO would get now: the source that answered, the backend, the
 *	mailbox address and the reply.  An unknown user is "not found";
 *	a temporary failure (a directory down) says why.  Runs in the
 *	control thread: the router is read-only and thread-safe.
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "lmtp-bridge.h"
#include "lmtp-router.h"

static const char *const bridge_ctl_status[] = {
	"ok", "unknown", "disabled", "tempfail",
};

/* bridge_ctl_route - "route ADDRESS" */
static int
bridge_ctl_route(const struct control_req *req, struct control_out *out,
		 void *ctx)
{
	struct bridge_state *st;
	struct lmtp_route route;
	char err[512] = "", *reply;
	int rc;

	(void)ctx;
	if (req->argc != 2) {
		control_message(out, "usage: route ADDRESS");
		return CONTROL_USAGE;
	}
	if ((st = bridge_state_current()) == NULL) {
		control_message(out, "not ready");
		return CONTROL_FAILED;
	}
	memset(&route, 0, sizeof(route));
	lmtp_router_route(st->router, req->argv[1], &route, err, sizeof(err));
	control_put(out, "recipient", "%s", req->argv[1]);
	control_put(out, "status", "%s", bridge_ctl_status[route.status]);
	control_put(out, "source", "%s", route.source ? route.source : "");
	if (route.status == LMTP_ROUTE_OK) {
		control_put(out, "backend", "%s", route.backend);
		control_put(out, "address", "%s", route.address);
		control_put(out, "junk", "%s", route.junk_optout ? "inbox"
			    : "junk folder");
	}
	reply = lmtp_route_reply(&route, req->argv[1]);
	control_put(out, "reply", "%s", reply);
	free(reply);
	switch (route.status) {
	case LMTP_ROUTE_OK:
	case LMTP_ROUTE_DISABLED:
		rc = CONTROL_OK;
		break;
	case LMTP_ROUTE_UNKNOWN:
		control_message(out, "unknown recipient");
		rc = CONTROL_NOTFOUND;
		break;
	default:
		control_message(out, "temporary failure: %s", err);
		rc = CONTROL_FAILED;
		break;
	}
	lmtp_route_clear(&route);
	bridge_state_unref(&st);
	return rc;
}

/* bridge_ctl_register - the bridge's commands */
void
bridge_ctl_register(void)
{
	control_register("route", bridge_ctl_route, NULL, 0, "ADDRESS");
}
