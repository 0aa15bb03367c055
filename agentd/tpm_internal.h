/*
 * Internals shared by agentd/tpm*.c only: the layer's state, the retry and
 * recovery step, and logging. Nothing outside agentd/tpm*.c includes this.
 */
#ifndef AGENTD_TPM_INTERNAL_H
#define AGENTD_TPM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "tpm.h"

struct tpm_key {
    struct keyblob *kb;
    TPM2B_PUBLIC pub; /* kb->pub unmarshalled */
    TPM2B_PRIVATE priv;
    enum tpm_key_type type;
    ESYS_TR handle;    /* ESYS_TR_NONE when not loaded */
    uint64_t last_use; /* LRU stamp */
    struct tpm_key *prev, *next;
};

struct tpm {
    char *tcti; /* tctildr configuration string */
    uint32_t srk_handle;
    unsigned max_loaded;
    unsigned retries;
    TSS2_TCTI_CONTEXT *tcti_ctx;
    ESYS_CONTEXT *esys; /* NULL after a failed recovery: the next call reconnects */
    ESYS_TR srk;
    unsigned n_loaded;
    uint64_t clock;
    uint32_t nv_buffer_max; /* TPM_PT_NV_BUFFER_MAX, 0 until queried */
    struct tpm_key *keys;   /* every key of this tpm */
};

/* Per-call retry state for tpm_step. */
struct tpm_try {
    unsigned retries;
    unsigned recoveries;
};

/* Outcome of classifying a TSS2_RC. */
enum tpm_rc_class {
    TPM_RC_CLASS_OK,
    TPM_RC_CLASS_RETRY, /* TPM_RC_RETRY / YIELDED / TESTING: send again */
    TPM_RC_CLASS_LOST,  /* TCTI broke, TPM restarted, handles gone: recover */
    TPM_RC_CLASS_FAIL,
};

enum tpm_rc_class tpm_rc_classify(TSS2_RC rc);

/* ad_err for rc (AD_ERR_TPM, AD_ERR_TPM_RETRY, AD_ERR_TPM_LOST, ...). */
int tpm_rc_to_err(TSS2_RC rc);

/*
 * After an ESYS call: returns 0 on success, 1 if the caller should issue the
 * command again (after a bounded retry, or after a successful recovery that
 * unloaded every key: the caller reloads), or a negative ad_err (logged).
 */
int tpm_step(struct tpm *t, const char *verb, TSS2_RC rc, struct tpm_try *tr);

/* Make sure t has a working ESYS context and SRK (reconnects after a failed recovery). */
int tpm_ready(struct tpm *t);

/* Load k if needed (evicting the least recently used key) and stamp it. */
int tpm_key_load(struct tpm *t, struct tpm_key *k);

/* Create an object under the SRK from template; marshals it into a new keyblob. */
int tpm_create_child(struct tpm *t, const TPM2B_PUBLIC *template, struct keyblob **ret);

/* Log "agentd: tpm: <verb>: <text>" at level (tpm_logf, tpm_log_rc: TPM_LOG_ERROR). */
void tpm_logl(enum tpm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tpm_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tpm_log_rc(const char *verb, TSS2_RC rc);

/* Map enum tpm_hash to TPM2_ALG_ID (TPM2_ALG_ERROR if unknown). */
TPM2_ALG_ID tpm_hash_alg(enum tpm_hash hash);

#endif
