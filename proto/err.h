/*
 * One error model for all of agentd: every fallible function returns int,
 * 0 on success or a negative enum ad_err. Translation to other codes happens
 * only at the edges: TSS2_RC -> ad_err in agentd/tpm*, ad_err -> wire status
 * in proto/, wire status -> CK_RV in pkcs11/.
 */
#ifndef AGENTD_PROTO_ERR_H
#define AGENTD_PROTO_ERR_H

#define AD_MUST_CHECK __attribute__((warn_unused_result))

enum ad_err {
    AD_OK = 0,
    AD_ERR_INTERNAL = -1,     /* a bug: invariant broken */
    AD_ERR_NOMEM = -2,        /* allocation failed */
    AD_ERR_SHORT = -3,        /* more bytes needed */
    AD_ERR_FORMAT = -4,       /* bytes present but malformed */
    AD_ERR_TOO_LARGE = -5,    /* over a declared maximum */
    AD_ERR_TRAILING = -6,     /* bytes left after a complete message */
    AD_ERR_DENIED = -7,       /* policy said no; reason goes to the audit log */
    AD_ERR_TPM = -8,          /* TSS2_RC was logged in agentd/tpm */
    AD_ERR_SYSTEM = -9,       /* errno was logged where it happened */
    AD_ERR_NOT_FOUND = -10,   /* no such key, object, entry or file */
    AD_ERR_UNSUPPORTED = -11, /* valid request we do not offer (mechanism, key type) */
    AD_ERR_CLOSED = -12,      /* peer closed the connection */
    AD_ERR_INVALID = -13,     /* argument out of range or inconsistent */
    AD_ERR_EXISTS = -14,      /* object already exists */
    AD_ERR_RATE = -15,        /* rate limit hit; retry later */
    AD_ERR_TPM_RETRY = -16,   /* TPM busy, retries exhausted; transient */
    AD_ERR_TPM_LOST = -17,    /* TCTI connection lost; reopen and restore */
    AD_ERR_CORRUPT = -18,     /* stored state failed its integrity check */
    AD_ERR_CONFIG = -19,      /* configuration invalid; message was logged */
};
#define AD_ERR_MIN AD_ERR_CONFIG

/* Static human text for err (never NULL; unknown values give "unknown error"). */
const char *ad_strerror(int err);

#endif
