/*
 * What dispatch.c's handlers share with dispatch_sign.c and
 * dispatch_admin.c: the decision, the worker job every TPM-bound request
 * becomes, the audit record of a decision, and the reply helpers. Internal
 * to the daemon's dispatch.
 */
#ifndef AGENTD_DISPATCH_JOB_H
#define AGENTD_DISPATCH_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "digest.h"
#include "keystore.h"
#include "policy.h"
#include "server.h"
#include "spans.h"
#include "tpm.h"
#include "worker.h"

/* A request that goes to the worker. One allocation per request. */
struct djob {
    struct worker_job wj;
    struct daemon *d;
    struct conn *c;
    struct conf_ref *conf; /* keeps entry alive */
    const struct workload_entry *e;
    uint8_t type;
    uint32_t id;
    int r; /* result of the worker part */
    /* inputs */
    char key[CONF_KEY_NAME_MAX + 1];
    enum keystore_scheme scheme;
    enum digest_alg hash;
    uint8_t digest[DIGEST_INFO_MAX];
    size_t digest_len;
    uint64_t key_type;
    uint32_t bits;
    bool is_admin;
    enum digest_scheme vscheme; /* VERIFY */
    /* outputs */
    bool is_valid;
    uint8_t sig[1024];
    size_t sig_len;
    uint64_t sent_ns;   /* SIGN: TPM2_Sign went out (0: it did not; dispatch_sign.c: sign_clock) */
    uint64_t signed_ns; /* SIGN: the TPM answered */
    bool is_unaudited;  /* SIGN/VERIFY: the allow record could not be written: deny */
    const struct tpm_meanwhile *meanwhile; /* SIGN run inline: the audit append */
    struct spans spans;                    /* AGENTD_SPANS builds only */
    uint8_t *bytes;                        /* RANDOM output */
    size_t bytes_len;
    struct keystore_pub *pubs;
    size_t n_pubs;
    char *json;
};

struct decided {
    const struct workload_entry *e; /* NULL: no entry */
    const char *op;
    const char *key;
    const char *mech;
    const uint8_t *data_sha256;
    const char *verdict;
    const char *reason;
};

/* Queue an ERROR reply (status, msg) for request id. */
void dispatch_reply_error(struct conn *c, uint8_t type, uint32_t id, uint32_t status,
                          const char *msg);

/* Append x to the audit log: AD_OK, or the error that makes the caller deny (fail closed). */
int dispatch_audit(struct daemon *d, struct conn *c, const struct decided *x);

/*
 * Resolve the caller's entry and run policy for rq. A deny is audited and
 * answered here (false). An allow returns true with *ret_entry and
 * *ret_allow, the record to append with dispatch_audit() before any result
 * of the request goes out.
 */
bool dispatch_decide(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                     const struct policy_request *rq, const char *mech, const uint8_t *data_sha256,
                     const struct workload_entry **ret_entry, struct decided *ret_allow);

/* A zeroed job for request id of type; NULL when out of memory. */
struct djob *djob_new(struct daemon *d, struct conn *c, const struct workload_entry *e,
                      uint8_t type, uint32_t id, void (*run)(struct worker_job *, void *),
                      void (*done)(struct worker_job *));

/* Hand j to the TPM worker; it holds the config and the connection until djob_finish(). */
void djob_submit(struct djob *j);

/* Common tail of done(): release everything the job held, then j itself. */
void djob_finish(struct djob *j);

/* Free j and what it owns (a job that was never submitted). */
void djob_free(struct djob *j);

/* Reply with the error the worker part ended in (j->r). */
void djob_reply_error(struct djob *j);

/* SIGN and VERIFY requests (dispatch_sign.c). */
int dispatch_sign(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, const uint8_t *body,
                  size_t len);

/* ADMIN_* requests (dispatch_admin.c): admin-only, changes audited. */
int dispatch_admin(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, const uint8_t *body,
                   size_t len);

#endif
