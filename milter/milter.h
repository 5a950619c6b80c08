/*++
 * NAME
 *	milter 3h
 * SUMMARY
 *	elemta-milter: connection and message state, the stage interface
 * SYNOPSIS
 *	#include "milter.h"
 * DESCRIPTION
 *	A struct milter_conn lives from connect to close and holds a
 *	reference to the generation current when the client connected
 *	(milter-gen.c): the configuration, the resolver and the DKIM
 *	signing keys, built together and published as one, so that a
 *	reload never changes the rules, the resolver or the keys under a
 *	connection in flight, nor one of them without the others.  A
 *	struct milter_msg lives from MAIL FROM to end of message (or
 *	abort): the envelope, the headers (within the caps), the
 *	Authentication-Results headers that claim our authserv-id (to be
 *	removed), the results of the checks and the verdict.
 *
 *	The message pipeline (milter-pipeline.c) runs STAGES, one per file
 *	(SPF, DKIM signing and verification, ARC verification, DMARC,
 *	greylisting, ClamAV, Rspamd), in a fixed order, each reading the
 *	message and the results of the stages before it and contributing
 *	results of its own (milter_msg_result) and possibly an action
 *	(milter_msg_action; the highest precedence wins, whatever the
 *	order).  The content stages read one copy of the message
 *	(milter-body.c).  Then one outcome comes out (milter-outcome.c):
 *	the header edits, our Authentication-Results among them, and one
 *	verdict.
 *	The same pipeline serves libmilter (milter-callbacks.c) and the
 *	offline test mode (milter-test.c).
 *
 *	Nothing here is shared between threads but the generation: the
 *	configuration snapshot and the keys (immutable) and the resolver
 *	(thread-safe).  A reload (SIGUSR1) builds a whole new generation
 *	(a new resolver only if the [dns] section changed) and publishes
 *	it for new connections; if any part of it cannot be built, the old
 *	one stays whole.
 *--*/
#ifndef ELEMTA_MILTER_H
#define ELEMTA_MILTER_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "dns.h"
#include "milter-arc.h"
#include "milter-authres.h"
#include "milter-dkim.h"
#include "milter-dkim-sign.h"
#include "milter-dmarc.h"
#include "milter-options.h"
#include "milter-rspamd.h"
#include "snapshot.h"
#include "xalloc.h"

#define MILTER_MAX_RESULTS	32
#define MILTER_MAX_RCPTS	1000

/* Actions, weakest first: the verdict is the strongest one asked for.
 * Discard is a verdict no option names yet (milter_action_parse and
 * the configuration stop at reject). */
enum milter_action {
	MILTER_ACCEPT,
	MILTER_QUARANTINE,
	MILTER_TEMPFAIL,
	MILTER_REJECT,
	MILTER_DISCARD,
};

/* DKIM: sign or verify, decided once per message at end of headers
 * (milter_pipeline_eoh), read by the stages.  Before, headers go to
 * the verifier, which stops if the message is to be signed. */
enum milter_mode {
	MILTER_MODE_UNDECIDED,
	MILTER_MODE_VERIFY,
	MILTER_MODE_SIGN,
};

struct milter_header {
	char *name;
	char *value;		/* as received, leading space included */
};

/* SPF's result, typed, for the later stages (DMARC reads it, ARC will);
 * zeroed when the message starts, set when the stage reaches a result
 * (not when it skips the message). */
enum milter_spf_result {
	MILTER_SPF_NONE,
	MILTER_SPF_NEUTRAL,
	MILTER_SPF_PASS,
	MILTER_SPF_FAIL,
	MILTER_SPF_SOFTFAIL,
	MILTER_SPF_TEMPERROR,
	MILTER_SPF_PERMERROR,
};

enum milter_spf_scope {
	MILTER_SPF_MAILFROM,		/* MAIL FROM's address */
	MILTER_SPF_HELO,		/* null sender: postmaster@HELO */
};

struct milter_spf_results {
	int done;			/* a result was reached */
	enum milter_spf_result result;
	enum milter_spf_scope scope;
	/* the checked identity's domain as DMARC takes it (MAIL FROM's
	 * lower-cased, dmarc_addr_domain; the HELO name as given), or
	 * "" when it is not a valid host name */
	char domain[DMARC_DOMAIN_MAX];
};

struct milter_keys;
struct milter_body;

/*
 * One generation of what connections work with, built at start and by
 * each reload, published as one (lib/snapshot); its destructor drops
 * its references to its parts.
 */
struct milter_gen {
	struct snapshot snap;		/* references, publication */
	struct conf *conf;		/* a reference */
	struct dns_resolver *dns;	/* a reference; NULL: no lookups */
	struct milter_keys *keys;	/* a reference; NULL: no signing */
	struct greylist_allow gl_clients;	/* greylist_client_allow_file */
};

struct milter_conn {
	struct milter_gen *gen;		/* reference held until close */
	/* the generation's parts, for the stages (no references) */
	struct conf *conf;
	const struct milter_conf *mc;	/* inside conf */
	struct dns_resolver *dns;	/* NULL: no lookups */
	struct milter_keys *keys;	/* NULL: no signing */
	char *client_addr;		/* "192.0.2.1", NULL if unknown */
	char *client_name;		/* "mail.example.com" or "[192.0.2.1]" */
	char *helo;
	int internal;			/* client_addr in internal_networks */
	unsigned long noreply;		/* SMFIP_NR_* the MTA agreed to */
	struct milter_msg *msg;		/* the message in progress */
};

struct milter_msg {
	struct milter_conn *conn;
	char qid[32];			/* "NOQUEUE" until known */
	char *auth_type;		/* {auth_type}: NULL if not authenticated */
	char *auth_authen;		/* {auth_authen} */
	char *sender;			/* MAIL FROM without <>, "" for null */
	char **rcpts;
	size_t nrcpts;

	struct milter_header *headers;
	size_t nheaders;
	size_t aheaders;
	size_t header_bytes;		/* kept headers' bytes */
	size_t headers_dropped;		/* beyond max_headers/max_header_size */
	unsigned ar_seen;		/* A-R headers so far (their index) */
	unsigned *ar_ours;		/* 1-based indexes claiming our id */
	size_t nar_ours;
	size_t body_bytes;
	/* the whole message for the content stages (milter-body.c), or
	 * NULL when no stage wants it */
	struct milter_body *body;

	/* DNS lookups: one counter per check, so that what one check
	 * spends (SPF's record is the sender's) never starves another
	 * (their total goes to the log and the metrics).  SPF and DKIM
	 * share one budget of time (max_check_time, the time spent
	 * waiting on DNS); DMARC has none, its few lookups bounded by
	 * count and by [dns] timeout. */
	struct dns_counter spf_dns;
	struct dns_counter dkim_dns;
	struct dns_counter dmarc_dns;
	struct dns_budget dns_budget;	/* SPF's and DKIM's */
	/* From header fields, kept whatever the header caps (as the
	 * A-R ones are): DMARC reads them, a mail client shows them */
	char **from_values;
	size_t nfrom;

	enum milter_mode mode;		/* sign or verify (DKIM) */
	struct milter_spf_results spf_results;	/* for DMARC, ARC */
	struct milter_dkim *dkim;	/* the DKIM verifier in progress */
	struct milter_dkim_results dkim_results;	/* for DMARC, ARC */
	struct milter_dkim_sign *dkim_sign;	/* the DKIM signer, if signing */
	struct milter_arc *arc;		/* the ARC verifier in progress */
	struct milter_arc_results arc_results;	/* for DMARC, the seal */
	struct milter_arc_sealer *arc_seal;	/* the seal, if sealing */

	struct authres_result results[MILTER_MAX_RESULTS];
	size_t nresults;
	char *summary;			/* "spf=pass dkim=..." for the log */

	enum milter_action action;
	const char *action_stage;	/* which stage asked for it */
	char reply_code[4];		/* "550" */
	char reply_xcode[10];		/* "5.7.23" */
	char *reply_text;
	char *quarantine_reason;
	char *received_spf;		/* Received-SPF value, or NULL */
	/* headers the stages add at the end (milter_msg_add_header) */
	struct milter_header *add_headers;
	size_t nadd_headers;
	struct milter_rspamd *rspamd;	/* the Rspamd stage's state */
	/* the sender's headers that claim a verdict (milter-claims.c) */
	struct milter_claim *claimed;
	size_t nclaimed;
};

/*
 * A stage of the pipeline.  Only eom is required; a stage that reads
 * the message as it arrives (DKIM) has header/eoh/body hooks too, and
 * a free hook for its per-message state (called on end and on abort).
 */
struct milter_stage {
	const char *name;		/* "spf" */
	/* each header kept within the caps, value as received */
	void (*header)(struct milter_msg *m, const char *name,
		       const char *value);
	void (*eoh)(struct milter_msg *m);
	void (*body)(struct milter_msg *m, const unsigned char *chunk,
		     size_t len);
	/* run at end of message, after the stages before it */
	void (*eom)(struct milter_msg *m);
	void (*free)(struct milter_msg *m);
	/* 1 if the stage reads the whole message (milter-body.h) under
	 * this configuration: the pipeline keeps a copy only then */
	int (*body_wanted)(const struct milter_conf *mc);
	/* 1: nothing in the summary line when the stage said nothing
	 * (dkim-sign on a message it does not sign); else "NAME=off" */
	int quiet;
};

/*
 * What the pipeline produces for the MTA (or the test mode): header
 * edits, to be applied in their order, and one verdict.  The daemon
 * (milter-callbacks.c) and -t (milter-test.c) both read only this, so
 * that -t shows exactly what the MTA is told (milter-outcome.c).
 */
enum milter_edit_op {
	MILTER_EDIT_DELETE,		/* name's index-th field (1-based) */
	MILTER_EDIT_INSERT,		/* a new field at position index */
	MILTER_EDIT_ADD,		/* a new field at the end */
	MILTER_EDIT_CHANGE,		/* name's index-th field's value */
};

struct milter_edit {
	enum milter_edit_op op;
	char *name;
	unsigned index;
	char *value;			/* no leading space; NULL: delete */
};

struct milter_verdict {
	enum milter_action action;
	int hold;			/* quarantine: the MTA holds it */
	char code[4];			/* reject, tempfail: "550" */
	char xcode[10];			/* "5.7.23" */
	char *text;			/* reply text, quarantine reason */
};

struct milter_outcome {
	struct milter_edit *edits;
	size_t nedits;
	struct milter_verdict verdict;
};

/* milter-gen.c */
/* milter_gen_new - a generation of conf, dns and keys (dns, keys may be
 * NULL), taking over the caller's references to them; one reference,
 * the caller's */
struct milter_gen *milter_gen_new(struct conf *conf,
				  struct dns_resolver *dns,
				  struct milter_keys *keys);
/* milter_gen_build - the generation of conf (the caller's reference is
 * taken over): old's resolver if the [dns] section is the same as
 * old's (old may be NULL), else a new one, and the key tables and the
 * greylist's client allow file conf names, read now.  NULL with err
 * ("dns: ...", "dkim signing: ...", "greylist_client_allow_file: ...")
 * if a part cannot be built; nothing is published. */
struct milter_gen *milter_gen_build(struct conf *conf,
				    const struct milter_gen *old, char *err,
				    size_t errlen);
/* milter_gen_greylist - read the greylist's client allow file into g
 * (done by milter_gen_build); 0, or -1 with err naming file:line */
int milter_gen_greylist(struct milter_gen *g, char *err, size_t errlen);
/* milter_gen_publish - make g (NULL: none) the one new connections
 * take, taking over the caller's reference */
void milter_gen_publish(struct milter_gen *g);
/* milter-ctl.c: milter_ctl_register - the control socket's commands */
void milter_ctl_register(void);

/* milter_gen_current - a reference to the published one, or NULL */
struct milter_gen *milter_gen_current(void);
struct milter_gen *milter_gen_ref(struct milter_gen *g);
/* milter_gen_unref - drop a reference; *gp set to NULL */
void milter_gen_unref(struct milter_gen **gp);

/* milter-conn.c */
/* milter_conn_open - a connection on generation g (not NULL), taking
 * over the caller's reference */
struct milter_conn *milter_conn_open(struct milter_gen *g);
/* milter_conn_new - a connection on a generation of conf and dns only
 * (no signing keys; dns may be NULL: no lookups), taking over the
 * caller's references (tests, benchmarks) */
struct milter_conn *milter_conn_new(struct conf *conf,
				    struct dns_resolver *dns);
void milter_conn_set_client(struct milter_conn *c, const char *addr,
			    const char *name);
void milter_conn_set_helo(struct milter_conn *c, const char *helo);
void milter_conn_free(struct milter_conn **cp);

struct milter_msg *milter_msg_new(struct milter_conn *c, const char *sender);
void milter_msg_free(struct milter_msg **mp);
void milter_msg_set_qid(struct milter_msg *m, const char *qid);
void milter_msg_set_auth(struct milter_msg *m, const char *type,
			 const char *authen);
void milter_msg_rcpt(struct milter_msg *m, const char *rcpt);
void milter_msg_header(struct milter_msg *m, const char *name,
		       const char *value);
/* milter_msg_result - add a result (the struct is copied, its copied
 * strings are taken over); method and result must be static strings */
struct authres_result *milter_msg_result(struct milter_msg *m,
					 const char *method,
					 const char *result);
/* milter_msg_summary - append "key=value" to the summary log line */
void milter_msg_summary(struct milter_msg *m, const char *fmt, ...)
	ATTR_PRINTF(2, 3);
/* milter_verdict_rank - the precedence of action a asked by stage
 * (milter-conn.c has the table): the highest wins */
int milter_verdict_rank(const char *stage, enum milter_action a);
/* milter_msg_refused - 1 if m's verdict so far refuses it for good
 * (reject or discard): no stage can have it delivered any more */
int milter_msg_refused(const struct milter_msg *m);
/* milter_msg_outranks - 1 if m's verdict so far wins over a of stage */
int milter_msg_outranks(const struct milter_msg *m, const char *stage,
			enum milter_action a);
/* milter_msg_action - ask for an action; the highest precedence wins
 * (milter_verdict_rank), whatever the order of the stages */
void milter_msg_action(struct milter_msg *m, const char *stage,
		       enum milter_action a, const char *code,
		       const char *xcode, const char *text);
/* milter_msg_add_header - a header to add at the end of the message's
 * header (name, value copied; value without leading space), if it is
 * accepted or quarantined: in the order asked */
void milter_msg_add_header(struct milter_msg *m, const char *name,
			   const char *value);
/*
 * The replies of each kind of check, RFC 7372's enhanced codes where
 * there is one (milter_msg_enforce): one table, one path from a
 * configured action to what the MTA is told.
 */
enum milter_reply_kind {
	MILTER_REPLY_SPF,		/* 550 5.7.23, 451 4.7.24 */
	MILTER_REPLY_SPF_PERMERROR,	/* 550 5.7.24, 451 4.7.24 */
	MILTER_REPLY_DKIM,		/* 550 5.7.20, 451 4.7.20 */
	MILTER_REPLY_DMARC,		/* 550 5.7.1, 451 4.7.1 */
	MILTER_REPLY_HEADER_CAP,	/* 552 5.3.4, 452 4.3.4 */
	MILTER_REPLY_GREYLIST,		/* 450 4.7.1 (tempfail only) */
	MILTER_REPLY_SCAN_SIZE,		/* 452 4.3.4: over scan_max_size */
	MILTER_REPLY_CLAMAV,		/* 550 5.7.1, 451 4.7.1 */
	MILTER_REPLY_RSPAMD,		/* 550 5.7.1, 451 4.7.1 */
};
/* milter_msg_enforce - ask for the configured action a (enum
 * milter_action; accept asks nothing) with the replies of kind k, the
 * stage named by the table */
void milter_msg_enforce(struct milter_msg *m, enum milter_reply_kind k,
			int a, const char *text);
const char *milter_action_name(enum milter_action a);
/* milter_action_parse - "accept", "quarantine", "tempfail", "reject" */
int milter_action_parse(const char *s);

/* milter-pipeline.c */
void milter_pipeline_init(void);
void milter_pipeline_run(struct milter_msg *m, struct milter_outcome *o);
/* the streaming hooks: every stage that has one, in order */
void milter_pipeline_header(struct milter_msg *m, const char *name,
			    const char *value);
/* milter_pipeline_eoh - the sign-or-verify decision, then the stages */
void milter_pipeline_eoh(struct milter_msg *m);
void milter_pipeline_body(struct milter_msg *m, const unsigned char *chunk,
			  size_t len);
void milter_pipeline_free(struct milter_msg *m);
/* milter_pipeline_body_wanted - 1 if a stage reads the whole message
 * under mc (the message's copy is kept, milter-body.h) */
int milter_pipeline_body_wanted(const struct milter_conf *mc);

/* milter-claims.c: the sender's headers that claim a verdict of ours */
struct milter_claim {
	char *name;
	unsigned index;			/* among its name's fields, 1-based */
};
/* milter_claims_name - 1 if such a header claims a verdict of a stage
 * that is on (X-Spam*, X-Rspamd*, X-Virus-Scanned, X-Virus-Status,
 * X-Elemta-Scan) */
int milter_claims_name(const struct milter_conf *mc, const char *name);
/* milter_claims_header - note one of the sender's headers (every one,
 * the caps notwithstanding) */
void milter_claims_header(struct milter_msg *m, const char *name);
/* milter_claims_edits - the noted headers removed, each from its last */
void milter_claims_edits(const struct milter_msg *m,
			 struct milter_outcome *o);
void milter_claims_free(struct milter_msg *m);

/* milter-outcome.c */
/* milter_outcome_build - the edits and verdict of a message whose
 * stages have run; free with milter_outcome_free */
void milter_outcome_build(const struct milter_msg *m,
			  struct milter_outcome *o);
/* milter_outcome_edit - append an edit (name and value are copied;
 * value NULL for a delete) */
void milter_outcome_edit(struct milter_outcome *o, enum milter_edit_op op,
			 const char *name, unsigned index, const char *value);
/* milter_outcome_view - hdrs (n of them) as the MTA will have them
 * after o's edits: a new array into *out (its count in *nout) of
 * pointers into hdrs and o; free the array only */
void milter_outcome_view(const struct milter_outcome *o,
			 const struct milter_header *hdrs, size_t n,
			 struct milter_header **out, size_t *nout);
/* milter_outcome_print - the outcome as -t prints it */
void milter_outcome_print(const struct milter_outcome *o, FILE *fp);
void milter_outcome_free(struct milter_outcome *o);

/* milter-spf.c */
int milter_spf_init(char *err, size_t errlen);
void milter_spf_eom(struct milter_msg *m);
/* milter_spf_word - the RFC 8601 word for a result */
const char *milter_spf_word(enum milter_spf_result r);
/* milter_spf_received - a Received-SPF value (RFC 7208 9.1), no leading
 * space, folded once; malloc'ed.  identity is "mailfrom" or "helo",
 * ident the checked address (postmaster@HELO for the null sender). */
char *milter_spf_received(const char *result, const char *receiver,
			  const char *client_ip, const char *ident,
			  const char *helo, const char *identity);
#define MILTER_RECEIVED_SPF_HEADER "Received-SPF"

/* milter-dkim.c */
/* milter_dkim_msg_lookup - a key record for the verifiers (a
 * milter_dkim_lookup_fn; ctx the struct milter_msg) through the
 * message's resolver and its DKIM counter, which ARC's lookups share:
 * the cap on lookups and the time budget cover both */
enum milter_dkim_err milter_dkim_msg_lookup(void *ctx, const char *name,
					    char **txt, int *ttl);
/* milter_arc_msg_lookup - the same for ARC's keys (the AMS and the
 * seals), on the same counter, a failed lookup logged as "arc dns=" */
enum milter_dkim_err milter_arc_msg_lookup(void *ctx, const char *name,
					   char **txt, int *ttl);
/* milter_dkim_msg_verifier - the message's DKIM verifier (its headers
 * read), fed every body chunk before the later stages are; NULL when
 * DKIM does not verify the message.  ARC takes its body hashes, and so
 * does the seal. */
struct milter_dkim_verifier *milter_dkim_msg_verifier(struct milter_msg *m);

/* milter-arc-verify.c: the ARC stage (RFC 8617 verification) */
void milter_arc_verify_eoh(struct milter_msg *m);
void milter_arc_verify_body(struct milter_msg *m, const unsigned char *chunk,
			    size_t len);
void milter_arc_verify_eom(struct milter_msg *m);
void milter_arc_verify_free(struct milter_msg *m);
/* milter_arc_msg_verifier - the verifier of the message's AMS (end of
 * headers done), fed every body chunk after DKIM's; NULL when ARC does
 * not verify the message or its chain has no AMS worth verifying.  The
 * seal takes its body hash. */
struct milter_dkim_verifier *milter_arc_msg_verifier(struct milter_msg *m);

/* milter-arc-sealer.c: the seal (RFC 8617 section 5.1), last stage */
void milter_arc_sealer_init(void);
void milter_arc_sealer_eoh(struct milter_msg *m);
void milter_arc_sealer_body(struct milter_msg *m, const unsigned char *chunk,
			    size_t len);
void milter_arc_sealer_eom(struct milter_msg *m);
void milter_arc_sealer_free(struct milter_msg *m);
/* milter_arc_sealer_value - the new set's values to insert, each at
 * index 0 in the order i = 0, 1, 2 (AAR, AMS, AS: the seal ends on
 * top); NULL when not sealed; *name the header's name */
const char *milter_arc_sealer_value(const struct milter_msg *m, size_t i,
				    const char **name);

/* milter-callbacks.c */
struct smfiDesc;
extern struct smfiDesc milter_desc;

/* milter-test.c */
struct milter_test {
	const char *file;
	const char *client_ip;
	const char *helo;
	const char *sender;
	const char *auth_type;		/* --auth: as {auth_type} */
	const char **rcpts;
	size_t nrcpts;
};
extern const struct option milter_test_longopts[];
int milter_test_option(int opt, const char *arg, void *ctx);
/* milter_test_run - -t: one connection on the published generation */
int milter_test_run(const struct milter_test *t);

#endif
