/*
 * The daemon's identity: enrollment with agentd-ca and the certificates of
 * its workload keys. One thread of its own runs every CA exchange (libcurl,
 * blocking), so the event loop never waits on HTTP; its TPM verbs are jobs
 * on the TPM worker (identity_tpm.h). The loop thread hands it admin
 * requests and gets them back through an eventfd (identity_fd,
 * identity_complete), like the TPM worker's jobs.
 *
 * State under state_dir/identity (0700): ak.tss2, host.tss2 (key blobs),
 * host.pem, bundle.pem, status.json (last CA contact, last error); each
 * workload key's certificate next to its blob (keystore.h). Everything is
 * written atomically and only after the CA issued it, and read back at start.
 *
 * Renewal: each certificate is renewed at half the lifetime it had when it
 * was stored; a failed CA contact is logged as a warning and retried after
 * a jittered exponential backoff (conf retry_min_s..retry_max_s) while the
 * still-valid certificate keeps being served.
 */
#ifndef AGENTD_IDENTITY_H
#define AGENTD_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certinfo.h"
#include "err.h"

struct conf_ref;
struct identity;
struct worker;

/* Request flag: keep the host enrollment, (re)issue workload certificates (proto's
 * MSG_ENROLL_CERTS_ONLY: dispatch checks they agree). */
#define IDENTITY_CERTS_ONLY 0x1u

/* Pending ADMIN_ENROLL requests at most (more: AD_ERR_RATE). */
#define IDENTITY_REQUESTS_MAX 4
/* Largest step report. */
#define IDENTITY_REPORT_MAX 65536

/* An admin enrollment request, owned by the caller (embed it). */
struct identity_request {
    struct identity_request *next; /* owned by the identity while queued */
    uint32_t flags;                /* IDENTITY_* */
    /* Loop thread, once finished: text is the step report, one line each. */
    void (*done)(struct identity_request *rq, const char *text, bool is_ok);
    char *text; /* filled by the identity thread; freed after done() */
    size_t len;
    bool is_ok;
};

/*
 * Start the identity thread for conf (its agentd.enroll group must be
 * enabled); w must run until identity_free. Reads the saved state back and
 * registers the AK. Takes a reference on conf. Returns 0, AD_ERR_SYSTEM,
 * AD_ERR_NOMEM.
 */
AD_MUST_CHECK int identity_new(struct worker *w, struct conf_ref *conf, struct identity **ret);

/* Loop thread: the eventfd that becomes readable when requests finish. */
int identity_fd(const struct identity *id);

/* Loop thread: call done() of every finished request. */
void identity_complete(struct identity *id);

/* Loop thread (reload): the entries to certify from now on; takes a reference. */
void identity_set_conf(struct identity *id, struct conf_ref *conf);

/*
 * Loop thread: a key was created; certify it soon (a pass right away when
 * renewal is on and the CA is not being retried after a failure).
 */
void identity_poke(struct identity *id);

/* Loop thread: queue rq. AD_ERR_RATE when IDENTITY_REQUESTS_MAX are pending. */
AD_MUST_CHECK int identity_enroll(struct identity *id, struct identity_request *rq);

/* Any thread: a copy of the trust bundle (*ret_n may be 0); free with certinfo_list_free. */
AD_MUST_CHECK int identity_bundle(struct identity *id, struct certinfo **ret, size_t *ret_n);

/*
 * Loop thread: host identity, certificate expiries, last CA contact and
 * error as a JSON object text (malloc'd, caller frees).
 */
AD_MUST_CHECK int identity_status_json(struct identity *id, char **ret);

/*
 * Stop the thread (a CA request in flight is cancelled), finish pending
 * requests (their done() runs here, on the calling loop thread), release the
 * AK. NULL is fine.
 */
void identity_free(struct identity *id);

#endif
