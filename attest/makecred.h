/*
 * TPM2_MakeCredential in software (TPM 2.0 Part 1 §24 "Credential
 * Protection", Part 3 §12.6, Part 1 Annex B.10/C.6 for the seed): the CA
 * wraps a secret so that only the TPM holding the EK private key, and only
 * for the object named name (the AK), can recover it with
 * TPM2_ActivateCredential.
 */
#ifndef AGENTD_ATTEST_MAKECRED_H
#define AGENTD_ATTEST_MAKECRED_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "err.h"

/*
 * Wrap secret (1..digest size of ek's nameAlg bytes) for the object named
 * name under the EK ek (RSA: seed encrypted with OAEP, label "IDENTITY";
 * ECC: ephemeral ECDH on the EK's curve and KDFe). Outputs, owned by the
 * caller (free()): ret_blob, a marshalled TPM2B_ID_OBJECT; ret_secret, a
 * marshalled TPM2B_ENCRYPTED_SECRET. AD_ERR_UNSUPPORTED for EKs without an
 * AES-CFB symmetric definition.
 */
AD_MUST_CHECK int makecred_make(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
                                const uint8_t *secret, size_t secret_len, uint8_t **ret_blob,
                                size_t *ret_blob_len, uint8_t **ret_secret, size_t *ret_secret_len);

/*
 * Part 1 §11.4.10.2 KDFa: HMAC_hash(key, [i] || label || 0x00 || contextU ||
 * contextV || [bits]) for i = 1, 2, ... truncated to bits/8 bytes of ret.
 * bits must be a multiple of 8.
 */
AD_MUST_CHECK int makecred_kdfa(TPMI_ALG_HASH hash, const uint8_t *key, size_t key_len,
                                const char *label, const uint8_t *ctx_u, size_t ctx_u_len,
                                const uint8_t *ctx_v, size_t ctx_v_len, uint32_t bits,
                                uint8_t *ret);

/*
 * Part 1 §11.4.10.3 KDFe: hash([i] || Z || label || 0x00 || partyU || partyV),
 * truncated to bits/8 bytes.
 */
AD_MUST_CHECK int makecred_kdfe(TPMI_ALG_HASH hash, const uint8_t *z, size_t z_len,
                                const char *label, const uint8_t *party_u, size_t party_u_len,
                                const uint8_t *party_v, size_t party_v_len, uint32_t bits,
                                uint8_t *ret);

#endif
