/*
 * The enrollment client: runs the agentd-ca protocol (attest/msg.h) over
 * HTTPS with libcurl, TLS 1.3, the CA's bundle as the only trust anchor.
 * The TPM side is reached through struct enroll_tpm so that the daemon,
 * agentd-enroll and the tests can each bind it to their TPM access.
 *
 * Mutual TLS: once a host has its certificate, it presents it on every
 * connection (struct enroll_host_key); the host key stays in the TPM and
 * signs the TLS 1.3 CertificateVerify through a callback (tlskey.h).
 */
#ifndef AGENTD_ENROLL_H
#define AGENTD_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

/* Largest response body accepted from the CA. */
#define ENROLL_REPLY_MAX (64 * 1024)

/*
 * TPM operations the protocol needs. Every output msg_bin is malloc'd and
 * owned by the caller; each function returns 0 or a negative enum ad_err.
 */
struct enroll_tpm {
    void *ctx;
    /* EK certificate (DER) and the EK's TPM2B_PUBLIC. */
    int (*ek)(void *ctx, struct msg_bin *ret_cert, struct msg_bin *ret_pub);
    /* Create (or load) the AK and return its TPM2B_PUBLIC. */
    int (*ak)(void *ctx, struct msg_bin *ret_pub);
    /* ActivateCredential: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET in, secret out. */
    int (*activate)(void *ctx, const struct msg_bin *blob, const struct msg_bin *enc,
                    struct msg_bin *ret_secret);
    /* Quote over the PCRs in mask (sha256 bank) with nonce: TPMS_ATTEST and TPMT_SIGNATURE. */
    int (*quote)(void *ctx, const struct msg_bin *nonce, uint32_t mask, struct msg_bin *ret_attest,
                 struct msg_bin *ret_sig);
    /* Create the host identity key and certify it with the AK (qualifying data nonce). */
    int (*certify)(void *ctx, const struct msg_bin *nonce, struct msg_bin *ret_key_pub,
                   struct msg_bin *ret_attest, struct msg_bin *ret_sig);
};

/*
 * The host certificate for TLS client authentication and a signer for its
 * key, which lives in the TPM (ECDSA; tlskey.h has the contract of sign).
 * Borrowed by the client for the duration of a call.
 */
struct enroll_host_key {
    const char *cert_pem; /* the host certificate (PEM) */
    int (*sign)(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                size_t *ret_sig_len);
    void *ctx;
};

struct enroll_options {
    const char *url;        /* "https://127.0.0.1:8443" */
    const char *ca_bundle;  /* PEM file: the CA that signs agentd-ca's TLS certificate */
    const char *host_class; /* NULL = "default" */
    /* Present this client certificate; NULL: none (a first enrollment, or an expired one). */
    const struct enroll_host_key *host_key;
    long timeout_s; /* per request; 0 = 30 */
    /* One line per protocol step (no newline); NULL = stdout. */
    void (*report)(const char *line, void *arg);
    void *report_arg;
    /* Polled during transfers; non-zero aborts the request (daemon shutdown). NULL = never. */
    int (*is_cancelled)(void *arg);
    void *cancel_arg;
};

struct enroll_result {
    char *spiffe_id;
    char *cert_pem;   /* host certificate */
    char *bundle_pem; /* trust bundle */
};
void enroll_result_clear(struct enroll_result *r);

/*
 * Enroll: EK + AK to the CA, credential activation, quote, certify of a new
 * host key; *ret receives the certificate on success. On failure ret_err
 * (cap bytes) holds the step and the reason (the CA's, when it refused):
 * AD_ERR_DENIED when the CA refused, AD_ERR_CLOSED when it could not be
 * reached, AD_ERR_FORMAT for a malformed reply, or the TPM layer's error.
 */
AD_MUST_CHECK int enroll_run(const struct enroll_options *opt, const struct enroll_tpm *tpm,
                             struct enroll_result *ret, char *ret_err, size_t cap);

/*
 * A workload certificate: ask the CA for a nonce for host_id (the hex id in
 * the host's SPIFFE ID), create a key and certify it with the AK
 * (tpm->certify), and receive spiffe://<trust-domain>/<path> for it. The AK
 * must be the one the host enrolled with.
 */
AD_MUST_CHECK int enroll_svid(const struct enroll_options *opt, const struct enroll_tpm *tpm,
                              const char *host_id, const char *path, struct enroll_result *ret,
                              char *ret_err, size_t cap);

/*
 * Test hooks for refusal tests: each bit makes the client misbehave on
 * purpose at one step, to prove the CA refuses it.
 */
#define ENROLL_FAULT_REPLAY_ACTIVATION 0x1u /* send the activation answer twice */
#define ENROLL_FAULT_FOREIGN_NONCE 0x2u     /* quote with a nonce of our own */
#define ENROLL_FAULT_SVID_NO_CERT 0x4u      /* send /v1/svid on a new connection, no client cert */
void enroll_set_faults(unsigned faults);

#endif
