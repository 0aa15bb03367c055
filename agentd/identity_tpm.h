/*
 * The enrollment client's TPM operations (struct enroll_tpm) bound to the
 * daemon: every verb is a job on the TPM worker thread (worker_run_sync),
 * so the TPM is only ever used from that thread and requests queue behind
 * the workloads' signatures. Called from the enrollment thread only.
 *
 * AK life: the enrolled AK is registered with the TPM layer; an enrollment
 * makes a new AK (and host key) beside it, and identity_tpm_commit makes
 * them current only once the CA has issued the host certificate.
 *
 * The enrolled host key is registered too: it signs the TLS handshakes to
 * agentd-ca (mutual TLS), a job on the worker like every other verb.
 */
#ifndef AGENTD_IDENTITY_TPM_H
#define AGENTD_IDENTITY_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "enroll.h"
#include "err.h"
#include "keyblob.h"

struct worker;
struct tpm_key;

struct identity_tpm {
    struct worker *w;
    enum conf_ek_type ek;
    struct keyblob *ak_blob; /* the enrolled AK, NULL before enrollment */
    struct tpm_key *ak;
    struct tpm_key *host; /* the enrolled host key (TLS client key), NULL before enrollment */
    struct keyblob *new_ak_blob; /* made by the enrollment in progress */
    struct tpm_key *new_ak;
    struct keyblob *new_host_blob;
    const struct workload_entry *e; /* workload certify target */
    const char *key;
};

/* Register an AK read from disk (takes a copy of blob). Returns 0 or the TPM layer's error. */
AD_MUST_CHECK int identity_tpm_load_ak(struct identity_tpm *it, const struct keyblob *blob);

/* Register the host key read from disk (takes a copy of blob). 0 or the TPM layer's error. */
AD_MUST_CHECK int identity_tpm_load_host(struct identity_tpm *it, const struct keyblob *blob);

/*
 * enroll_host_key.sign with ctx = it: the TLS client signature by the
 * enrolled host key, run on the TPM worker. AD_ERR_NOT_FOUND before
 * enrollment, AD_ERR_UNSUPPORTED for a digest size no hash has.
 */
int identity_tpm_host_sign(void *it, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                           size_t *ret_sig_len);

/* Ops for enroll_run: a new AK, and a new host key certified by it. */
void identity_tpm_host_ops(struct identity_tpm *it, struct enroll_tpm *ret);

/* Ops for enroll_svid: the enrolled AK certifies key of entry e (borrowed until the call ends). */
void identity_tpm_workload_ops(struct identity_tpm *it, const struct workload_entry *e,
                               const char *key, struct enroll_tpm *ret);

/* After a successful enroll_run: the new AK and host key become the enrolled ones. */
void identity_tpm_commit(struct identity_tpm *it);

/* Forget what a failed enrollment made (new AK, host key). */
void identity_tpm_abort(struct identity_tpm *it);

/* Release everything (the worker must still run). */
void identity_tpm_clear(struct identity_tpm *it);

#endif
