/*
 * Verification of TPM2_Quote and TPM2_Certify results against an AK public
 * area (already checked with tpms_check_ak). The attest and signature bytes
 * come from the wire and are unmarshalled here with bounds checks.
 */
#ifndef AGENTD_ATTEST_QUOTE_H
#define AGENTD_ATTEST_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "err.h"

#define QUOTE_PCR_COUNT 24
#define QUOTE_NONCE_MAX 64

/* Expected PCR values: the PCRs in mask (bit i = PCR i) of bank must equal values[i]. */
struct quote_policy {
    TPMI_ALG_HASH bank;
    uint32_t mask;
    uint8_t values[QUOTE_PCR_COUNT][64];
};

/* A TPM name: nameAlg and digest (TPM2B_NAME contents, sizeof(TPMU_NAME)). */
#define QUOTE_SIGNER_MAX (2 + 64)

/*
 * The TPM's clock and boot counters at signing time (Part 2 §10.11.1
 * TPMS_CLOCK_INFO), and the quote's qualifiedSigner: the signing AK's
 * qualified name, which the counters' obfuscation depends on (quote.c).
 */
struct quote_clock {
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    uint8_t signer[QUOTE_SIGNER_MAX];
    size_t signer_len; /* 0: unknown signer (a record from before it was kept) */
};

/*
 * Verify a quote: attest is the TPMS_ATTEST bytes (the TPM2B_ATTEST
 * contents), sig a marshalled TPMT_SIGNATURE by ak. Checks, in order: it
 * parses, it is a quote, extraData equals nonce, the signature verifies, the
 * PCR selection is exactly policy's, and the PCR digest equals the digest of
 * policy's values. AD_ERR_DENIED with a static reason on a failed check.
 * *ret_clock is set on success.
 */
AD_MUST_CHECK int quote_verify(const TPMT_PUBLIC *ak, const uint8_t *attest, size_t attest_len,
                               const uint8_t *sig, size_t sig_len, const uint8_t *nonce,
                               size_t nonce_len, const struct quote_policy *policy,
                               struct quote_clock *ret_clock, const char **ret_reason);

/*
 * A quote must be newer than the last one accepted from the same TPM (prev,
 * may be NULL) when both were signed by the same AK (equal signer): a reset
 * or restart count that went back, or the same boot and a clock not after
 * prev's, is a replay or a rollback. Quotes by different AKs, or with an
 * unknown signer, are not compared (their counters are obfuscated with
 * different values); their freshness is the CA nonce that quote_verify
 * checked. AD_ERR_DENIED with a reason.
 */
AD_MUST_CHECK int quote_check_clock(const struct quote_clock *prev, const struct quote_clock *cur,
                                    const char **ret_reason);

/*
 * Verify a certification: attest/sig as for quote_verify; key_pub is the
 * marshalled TPM2B_PUBLIC of the certified key. Checks it is a certify by
 * ak with extraData == nonce, that the certified name is key_pub's name, and
 * that the key is a TPM-bound signing key (tpms_check_identity_key). On
 * success *ret_key holds the key's public area.
 */
AD_MUST_CHECK int quote_verify_certify(const TPMT_PUBLIC *ak, const uint8_t *attest,
                                       size_t attest_len, const uint8_t *sig, size_t sig_len,
                                       const uint8_t *nonce, size_t nonce_len,
                                       const uint8_t *key_pub, size_t key_pub_len,
                                       TPMT_PUBLIC *ret_key, const char **ret_reason);

#endif
