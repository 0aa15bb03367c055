/*
 * Signature formats, pure (OpenSSL), no TPM: the PKCS#11 forms tpm_sign
 * returns and the forms X.509/TLS/OpenSSL use, plus verification helpers the
 * daemon and tests use to check a signature against a DER SubjectPublicKeyInfo.
 */
#ifndef AGENTD_SIGFMT_H
#define AGENTD_SIGFMT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SIGFMT_ECDSA_DER_MAX 139 /* P-521 worst case: 30 81 88 02 42 .. 02 42 .. */

/*
 * Raw r||s (PKCS#11 CKM_ECDSA form; len even, each half the curve size) to a
 * DER ECDSA-Sig-Value (RFC 3279). *ret_der malloc'd, caller frees.
 * AD_ERR_INVALID on odd/zero/oversized lengths.
 */
AD_MUST_CHECK int sigfmt_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t **ret_der,
                                          size_t *ret_len);

/*
 * DER ECDSA-Sig-Value to raw r||s with each half left-padded to field_len
 * bytes (32 for P-256, 48 for P-384, 66 for P-521). ret_raw must hold
 * 2 * field_len. AD_ERR_FORMAT on bad DER or trailing bytes, AD_ERR_TOO_LARGE
 * if r or s does not fit field_len.
 */
AD_MUST_CHECK int sigfmt_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field_len,
                                          uint8_t *ret_raw);

/* Digest algorithms known to the verifiers (match enum tpm_hash order). */
enum sigfmt_hash {
    SIGFMT_SHA1,
    SIGFMT_SHA256,
    SIGFMT_SHA384,
    SIGFMT_SHA512,
};

/* Verification padding for RSA; ignored for EC keys. */
enum sigfmt_pad {
    SIGFMT_PAD_NONE,  /* EC keys */
    SIGFMT_PAD_PKCS1, /* RSASSA-PKCS1-v1_5 */
    SIGFMT_PAD_PSS,   /* RSASSA-PSS, MGF1 with the same hash, salt = digest length */
};

/*
 * Verify sig over digest with the public key in spki (DER SubjectPublicKeyInfo).
 * sig is in PKCS#11 form (EC raw r||s, RSA modulus-sized). Returns 0 if valid,
 * AD_ERR_DENIED if the signature does not verify, AD_ERR_FORMAT if spki or sig
 * is malformed, AD_ERR_INVALID on a bad digest length.
 */
AD_MUST_CHECK int sigfmt_verify(const uint8_t *spki, size_t spki_len, enum sigfmt_hash hash,
                                enum sigfmt_pad pad, const uint8_t *digest, size_t digest_len,
                                const uint8_t *sig, size_t sig_len);

/* Public key PEM ("-----BEGIN PUBLIC KEY-----") from DER SPKI; caller frees, NUL-terminated. */
AD_MUST_CHECK int sigfmt_spki_to_pem(const uint8_t *spki, size_t spki_len, char **ret_pem,
                                     size_t *ret_len);

#endif
