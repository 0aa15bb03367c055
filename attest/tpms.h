/*
 * TPM structures from the wire, for the verifier side (agentd-ca). Everything
 * here uses tss2-mu's bounds-checked unmarshalling and never ESYS. Each
 * decoder takes the whole buffer and refuses trailing bytes, so a structure
 * is either fully checked or refused (AD_ERR_FORMAT / AD_ERR_TRAILING).
 */
#ifndef AGENTD_ATTEST_TPMS_H
#define AGENTD_ATTEST_TPMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "err.h"

/* Largest TPM name: 2-byte nameAlg plus a SHA-512 digest. */
#define TPMS_NAME_MAX (2 + 64)

/* Unmarshal a TPM2B_PUBLIC (size-prefixed, as tpm2_createak -u writes it). */
AD_MUST_CHECK int tpms_public_decode(const uint8_t *buf, size_t len, TPM2B_PUBLIC *ret);

/* Unmarshal a TPMS_ATTEST (the contents of a TPM2B_ATTEST, without its size). */
AD_MUST_CHECK int tpms_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret);

/* Unmarshal a TPMT_SIGNATURE. */
AD_MUST_CHECK int tpms_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret);

/*
 * TPM 2.0 Part 1 §16 "Names": nameAlg (big-endian u16) || H_nameAlg(TPMT_PUBLIC).
 * ret_name holds at least TPMS_NAME_MAX bytes. AD_ERR_UNSUPPORTED for a
 * nameAlg other than SHA-1/256/384/512.
 */
AD_MUST_CHECK int tpms_public_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_len);

/* The OpenSSL digest for a TPM hash algorithm, NULL if unsupported. */
const EVP_MD *tpms_md(TPMI_ALG_HASH alg);

/*
 * The public key of an RSA or ECC (P-256/P-384/P-521) TPMT_PUBLIC as an
 * EVP_PKEY (caller frees). AD_ERR_UNSUPPORTED for other types or curves.
 */
AD_MUST_CHECK int tpms_public_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret);

/*
 * Verify sig (ECDSA or RSASSA/RSAPSS) by key over msg, hashed with the
 * signature's hash. AD_ERR_DENIED when the signature does not verify.
 */
AD_MUST_CHECK int tpms_verify_signature(const TPMT_PUBLIC *key, const uint8_t *msg, size_t msg_len,
                                        const TPMT_SIGNATURE *sig);

/*
 * An attestation key must be a restricted signing key bound to its TPM:
 * fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign, not decrypt.
 * AD_ERR_DENIED otherwise.
 */
AD_MUST_CHECK int tpms_check_ak(const TPMT_PUBLIC *ak);

/*
 * A workload or host identity key: fixedTPM, fixedParent,
 * sensitiveDataOrigin, sign, not decrypt, not restricted. AD_ERR_DENIED
 * otherwise, with a static reason in *ret_reason when ret_reason is not NULL.
 */
AD_MUST_CHECK int tpms_check_identity_key(const TPMT_PUBLIC *key, const char **ret_reason);

#endif
