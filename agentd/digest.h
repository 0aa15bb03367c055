/*
 * Hashing and public-key verification in the daemon (OpenSSL): the *_SHA*
 * mechanisms hash here, CKM_RSA_PKCS DigestInfo inputs are recognised here,
 * and VERIFY checks PKCS#11-form signatures against a key's SPKI. Holds no
 * TPM handle and no secret.
 */
#ifndef AGENTD_DIGEST_H
#define AGENTD_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DIGEST_MAX 64

enum digest_alg {
    DIGEST_NONE = 0,
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
};

/* Signature schemes VERIFY knows, in PKCS#11 signature form. */
enum digest_scheme {
    DIGEST_SCHEME_ECDSA,     /* raw r || s, each the curve size */
    DIGEST_SCHEME_RSA_PKCS1, /* RSASSA-PKCS1-v1_5 over an encoded DigestInfo (or raw data) */
    DIGEST_SCHEME_RSA_PSS,   /* RSASSA-PSS, MGF1 with the same hash */
};

/* Output size of alg in bytes; 0 for DIGEST_NONE or an unknown value. */
size_t digest_size(enum digest_alg alg);

/* The digest alg whose output is len bytes (20, 32, 48, 64), else DIGEST_NONE. */
enum digest_alg digest_from_size(size_t len);

/* The hash a PKCS#11 digest mechanism (CKM_SHA_1, CKM_SHA256/384/512) names, else DIGEST_NONE. */
enum digest_alg digest_of_ckm(uint64_t ckm);

/*
 * Hash data with alg into out (at least DIGEST_MAX bytes); *ret_len = size.
 * Returns 0, AD_ERR_UNSUPPORTED (alg), AD_ERR_INTERNAL (OpenSSL failure).
 */
AD_MUST_CHECK int digest_compute(enum digest_alg alg, const uint8_t *data, size_t len, uint8_t *out,
                                 size_t *ret_len);

/*
 * Recognise a DER DigestInfo for SHA-1/256/384/512 (the exact encodings of
 * RFC 8017 section 9.2 note 1). *ret_hash points into di.
 * Returns 0 or AD_ERR_FORMAT (anything else).
 */
AD_MUST_CHECK int digest_info_parse(const uint8_t *di, size_t len, enum digest_alg *ret_alg,
                                    const uint8_t **ret_hash);

/*
 * Write the DER DigestInfo for (alg, hash) into out (at least
 * DIGEST_INFO_MAX bytes). Returns 0 or AD_ERR_UNSUPPORTED.
 */
#define DIGEST_INFO_MAX (19 + DIGEST_MAX)
AD_MUST_CHECK int digest_info_encode(enum digest_alg alg, const uint8_t *hash, uint8_t *out,
                                     size_t *ret_len);

/*
 * Verify sig over tbs with the DER SubjectPublicKeyInfo spki.
 * ECDSA: tbs is the digest. RSA_PKCS1: tbs is the DigestInfo (or raw data)
 * that was padded. RSA_PSS: tbs is the digest of hash alg, salt_len bytes of
 * salt. *ret_valid is false for a well-formed request whose signature does
 * not verify (including a wrong-length signature).
 * Returns 0, AD_ERR_FORMAT (spki unparsable), AD_ERR_UNSUPPORTED (scheme
 * does not fit the key), AD_ERR_NOMEM.
 */
AD_MUST_CHECK int digest_verify(const uint8_t *spki, size_t spki_len, enum digest_scheme scheme,
                                enum digest_alg hash, size_t salt_len, const uint8_t *tbs,
                                size_t tbs_len, const uint8_t *sig, size_t sig_len,
                                bool *ret_valid);

/*
 * CKA_ID of a key: SHA-1 of the subjectPublicKey BIT STRING contents of the
 * DER SubjectPublicKeyInfo (X.509 subjectKeyIdentifier method 1) into
 * out[20]. Returns 0 or AD_ERR_FORMAT.
 */
AD_MUST_CHECK int digest_spki_key_id(const uint8_t *spki, size_t spki_len, uint8_t out[20]);

#endif
