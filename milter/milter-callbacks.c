/*++
 * NAME
 *	milter-callbacks 3
 * SUMMARY
 *	libmilter glue: callbacks in, pipeline, actions out
 * DESCRIPTION
 *	Each callback is short: it records what the MTA said into the
 *	connection or message state (milter-conn.c); end of message runs
 *	the pipeline and applies its outcome (milter-outcome.c): the header
 *	edits in their order (smfi_chgheader, smfi_insheader,
 *	smfi_addheader), then the verdict (reply code, quarantine).
 *
 *	connect, helo, eoh and body are implemented even where they do
 *	little, since a NULL callback makes libmilter negotiate the stage
 *	away (miltertest then aborts on it), and DKIM needs the body.
 *
 *	The queue id ("i") is read at MAIL FROM and again at EOH and EOM:
 *	Postfix assigns it only after the first accepted RCPT.
 *
 *	Every stage before end of message only records, and always goes
 *	on, so the MTA is asked not to wait for a reply to any of them
 *	(the SMFIP_NR_* flags of milter protocol 6, which Postfix offers):
 *	a reply per header and per command is a round trip, two context
 *	switches and two small TCP segments each; end of message is then
 *	the only exchange that waits.  An MTA that does not offer them
 *	gets replies as before.
 *--*/
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "log.h"
#include "milter.h"
#include "xalloc.h"

#define MILTER_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE \
			| SMFIF_SETSYMLIST)
#define MILTER_NOREPLY (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL \
			| SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH \
			| SMFIP_NR_BODY)

/* milter_conn_of - our state of a libmilter context */
static struct milter_conn *
milter_conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* milter_go_on - what a stage that only records returns: no reply at
 * all when the MTA agreed to that (flag: the stage's SMFIP_NR_*) */
static sfsistat
milter_go_on(const struct milter_conn *c, unsigned long flag)
{
	return c != NULL && (c->noreply & flag) ? SMFIS_NOREPLY
						: SMFIS_CONTINUE;
}

/* milter_read_qid - (re)read the queue id macro */
static void
milter_read_qid(SMFICTX *ctx, struct milter_msg *m)
{
	milter_msg_set_qid(m, smfi_getsymval(ctx, "i"));
}

/* milter_negotiate - ask for the actions, protocol and macros we need */
static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
		 unsigned long f2, unsigned long f3, unsigned long *pf0,
		 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct milter_conn *c = milter_conn_of(ctx);

	*pf0 = f0 & MILTER_ACTIONS;
	if ((f0 & MILTER_ACTIONS) != MILTER_ACTIONS)
		msg_warn("the MTA does not offer every action needed "
			 "(offered 0x%lx, wanted 0x%lx): some results may not "
			 "be applied", f0, (unsigned long)MILTER_ACTIONS);
	/* Header values exactly as sent (DKIM needs the leading space). */
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | MILTER_NOREPLY);
	*pf2 = 0;
	*pf3 = 0;
	/* The connection's state is made here, to note the agreement. */
	if (c == NULL) {
		c = milter_conn_open(milter_gen_current());
		smfi_setpriv(ctx, c);
	}
	/* greylisting at RCPT answers RCPT */
	if (c->mc->greylist.on && c->mc->greylist.when == GREYLIST_WHEN_RCPT)
		*pf1 &= ~(unsigned long)SMFIP_NR_RCPT;
	c->noreply = *pf1 & MILTER_NOREPLY;
	if (f0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT,
				"j {daemon_name} {client_addr} {client_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
				"i {auth_type} {auth_authen} {mail_addr}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i {rcpt_addr}");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* milter_addr_text - a socket address as text, or NULL */
static char *
milter_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa == NULL)
		return NULL;
	if (sa->sa_family == AF_INET)
		return (char *)inet_ntop(AF_INET,
			&((const struct sockaddr_in *)(const void *)sa)
				 ->sin_addr, buf, (socklen_t)len);
	if (sa->sa_family == AF_INET6)
		return (char *)inet_ntop(AF_INET6,
			&((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr, buf, (socklen_t)len);
	return NULL;
}

/* milter_connect - a new SMTP client: take the current generation */
static sfsistat
milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct milter_conn *c = milter_conn_of(ctx);
	char buf[INET6_ADDRSTRLEN];
	const char *addr;

	if (c == NULL) {
		c = milter_conn_open(milter_gen_current());
		smfi_setpriv(ctx, c);
	}
	addr = smfi_getsymval(ctx, "{client_addr}");
	if (addr == NULL || *addr == '\0')
		addr = milter_addr_text((const struct sockaddr *)hostaddr,
					buf, sizeof(buf));
	milter_conn_set_client(c, addr, hostname);
	return milter_go_on(c, SMFIP_NR_CONN);
}

/* milter_helo - the HELO/EHLO name */
static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL)
		milter_conn_set_helo(c, helo);
	return milter_go_on(c, SMFIP_NR_HELO);
}

/* milter_envfrom - MAIL FROM: a new message */
static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = milter_conn_of(ctx);
	struct milter_msg *m;

	if (c == NULL) {	/* no connect stage (should not happen) */
		c = milter_conn_open(milter_gen_current());
		smfi_setpriv(ctx, c);
	}
	m = milter_msg_new(c, argv && argv[0] ? argv[0] : "");
	milter_read_qid(ctx, m);
	milter_msg_set_auth(m, smfi_getsymval(ctx, "{auth_type}"),
			    smfi_getsymval(ctx, "{auth_authen}"));
	return milter_go_on(c, SMFIP_NR_MAIL);
}

/* milter_envrcpt - one recipient (greylisted here with greylist_when
 * = rcpt: then the MTA waits for this reply, see milter_negotiate) */
static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = milter_conn_of(ctx);
	struct milter_verdict v;

	if (c == NULL || c->msg == NULL || argv == NULL || argv[0] == NULL)
		return milter_go_on(c, SMFIP_NR_RCPT);
	milter_read_qid(ctx, c->msg);
	if (milter_greylist_rcpt(c->msg, argv[0], &v)) {
		if (smfi_setreply(ctx, v.code, v.xcode, v.text) != MI_SUCCESS)
			qid_warn(c->msg->qid, "cannot set reply %s %s", v.code,
				 v.xcode);
		free(v.text);
		return SMFIS_TEMPFAIL;
	}
	milter_msg_rcpt(c->msg, argv[0]);
	return milter_go_on(c, SMFIP_NR_RCPT);
}

/* milter_header - one header */
static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL && c->msg != NULL && name != NULL)
		milter_msg_header(c->msg, name, value);
	return milter_go_on(c, SMFIP_NR_HDR);
}

/* milter_eoh - end of headers: the queue id is known by now */
static sfsistat
milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL && c->msg != NULL) {
		milter_read_qid(ctx, c->msg);
		milter_pipeline_eoh(c->msg);
	}
	return milter_go_on(c, SMFIP_NR_EOH);
}

/* milter_body - a body chunk: counted, and to the stages (DKIM) */
static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL && c->msg != NULL) {
		c->msg->body_bytes += len;
		milter_pipeline_body(c->msg, chunk, len);
	}
	return milter_go_on(c, SMFIP_NR_BODY);
}

/* milter_apply_edit - one header edit to the MTA.  With
 * SMFIP_HDR_LEADSPC negotiated, the MTA adds no space after the colon
 * of headers we add either: the value carries it. */
static void
milter_apply_edit(SMFICTX *ctx, const char *qid, const struct milter_edit *e)
{
	char *v = e->value != NULL ? x_asprintf(" %s", e->value) : NULL;
	int rc = MI_FAILURE;

	switch (e->op) {
	case MILTER_EDIT_DELETE:
	case MILTER_EDIT_CHANGE:
		rc = smfi_chgheader(ctx, e->name, (int)e->index, v);
		break;
	case MILTER_EDIT_INSERT:
		rc = smfi_insheader(ctx, (int)e->index, e->name, v);
		break;
	case MILTER_EDIT_ADD:
		rc = smfi_addheader(ctx, e->name, v);
		break;
	}
	if (rc != MI_SUCCESS) {
		if (e->op == MILTER_EDIT_DELETE)
			qid_warn(qid, "cannot remove %s #%u", e->name,
				 e->index);
		else if (e->op == MILTER_EDIT_CHANGE)
			qid_warn(qid, "cannot change %s #%u", e->name,
				 e->index);
		else
			qid_warn(qid, "cannot add %s", e->name);
	}
	free(v);
}

/* milter_apply - send the outcome to the MTA: its edits in order, then
 * the verdict; the sfsistat to return */
static sfsistat
milter_apply(SMFICTX *ctx, const char *qid, const struct milter_outcome *o)
{
	const struct milter_verdict *v = &o->verdict;
	size_t i;

	for (i = 0; i < o->nedits; i++)
		milter_apply_edit(ctx, qid, &o->edits[i]);
	switch (v->action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		if (smfi_setreply(ctx, (char *)v->code, (char *)v->xcode,
				  v->text) != MI_SUCCESS)
			qid_warn(qid, "cannot set reply %s %s", v->code,
				 v->xcode);
		return v->action == MILTER_REJECT ? SMFIS_REJECT
						  : SMFIS_TEMPFAIL;
	case MILTER_DISCARD:
		return SMFIS_DISCARD;
	case MILTER_QUARANTINE:
		if (v->hold && smfi_quarantine(ctx, v->text) != MI_SUCCESS)
			qid_warn(qid, "cannot quarantine");
		break;
	default:
		break;
	}
	return SMFIS_CONTINUE;
}

/* milter_eom - end of message: the whole pipeline, then the verdict */
static sfsistat
milter_eom(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_of(ctx);
	struct milter_outcome o;
	sfsistat rc;

	if (c == NULL || c->msg == NULL)
		return SMFIS_CONTINUE;
	milter_read_qid(ctx, c->msg);
	milter_pipeline_run(c->msg, &o);
	rc = milter_apply(ctx, c->msg->qid, &o);
	milter_outcome_free(&o);
	milter_msg_free(&c->msg);
	return rc;
}

/* milter_abort - the message was aborted (RSET, QUIT mid-message) */
static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL)
		milter_msg_free(&c->msg);
	return SMFIS_CONTINUE;
}

/* milter_close - the connection ends: drop its configuration reference */
static sfsistat
milter_close(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_of(ctx);

	if (c != NULL) {
		smfi_setpriv(ctx, NULL);
		milter_conn_free(&c);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
	"elemta-milter",	/* filter name */
	SMFI_VERSION,		/* version code */
	MILTER_ACTIONS,		/* flags */
	milter_connect,		/* connection info filter */
	milter_helo,		/* SMTP HELO command filter */
	milter_envfrom,		/* envelope sender filter */
	milter_envrcpt,		/* envelope recipient filter */
	milter_header,		/* header filter */
	milter_eoh,		/* end of header */
	milter_body,		/* body block filter */
	milter_eom,		/* end of message */
	milter_abort,		/* message aborted */
	milter_close,		/* connection cleanup */
	NULL,			/* unknown SMTP commands */
	NULL,			/* DATA command */
	milter_negotiate,	/* option negotiation */
};
