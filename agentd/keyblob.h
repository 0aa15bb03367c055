/*
 * A TPM key blob: what it takes to load a key again (public area, private
 * area, parent) and nothing secret in the clear (the private area is
 * encrypted to the parent by the TPM).
 *
 * On disk a blob is the interoperable "TSS2 PRIVATE KEY" PEM
 * (OID 2.23.133.10.1.3, TPM 2.0 Key File format, as written by
 * openssl_tpm2_engine and tpm2-openssl):
 *
 *   TPMKey ::= SEQUENCE {
 *       type        OBJECT IDENTIFIER,            -- 2.23.133.10.1.3 loadable key
 *       emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,
 *       policy      [1] EXPLICIT SEQUENCE OF ...   OPTIONAL, -- never written, refused
 *       secret      [2] EXPLICIT OCTET STRING OPTIONAL,      -- never written, refused
 *       parent      INTEGER,                       -- 0x40000001 (owner) or a persistent handle
 *       pubkey      OCTET STRING,                  -- marshalled TPM2B_PUBLIC
 *       privkey     OCTET STRING }                 -- marshalled TPM2B_PRIVATE
 *
 * Why this form: the same file loads in tpm2-openssl (`openssl pkey -provider
 * tpm2`) and openssl_tpm2_engine, so a key created by agentd can be inspected
 * or used by standard tools and survives a change of TSS; it carries the
 * parent so a persistent SRK is found again. With a transient SRK (created
 * from the TCG template) the parent is written as TPM_RH_OWNER (0x40000001),
 * the convention of both tools for "the owner-hierarchy SRK from the standard
 * template".
 *
 * keyblob_* functions are pure (OpenSSL ASN.1 + tss2-mu), thread-safe.
 */
#ifndef AGENTD_KEYBLOB_H
#define AGENTD_KEYBLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Caps: TPM2B_PUBLIC and TPM2B_PRIVATE are well under 1 KiB on real TPMs. */
#define KEYBLOB_PUB_MAX 1024
#define KEYBLOB_PRIV_MAX 1024
#define KEYBLOB_DER_MAX 4096
#define KEYBLOB_FILE_MAX 8192 /* PEM file size cap */

/* TPM_RH_OWNER: parent meaning "the standard owner SRK". */
#define KEYBLOB_PARENT_OWNER 0x40000001u

struct keyblob {
    uint8_t *pub; /* marshalled TPM2B_PUBLIC (2-byte size + TPMT_PUBLIC) */
    size_t pub_len;
    uint8_t *priv; /* marshalled TPM2B_PRIVATE */
    size_t priv_len;
    uint32_t parent; /* parent handle, see above */
    bool is_empty_auth;
};

/*
 * New blob holding copies of pub and priv. Both are unmarshalled with tss2-mu
 * to prove they parse (AD_ERR_FORMAT otherwise, AD_ERR_TOO_LARGE over the caps).
 */
AD_MUST_CHECK int keyblob_new(const uint8_t *pub, size_t pub_len, const uint8_t *priv,
                              size_t priv_len, uint32_t parent, bool is_empty_auth,
                              struct keyblob **ret);
AD_MUST_CHECK int keyblob_dup(const struct keyblob *kb, struct keyblob **ret);
void keyblob_free(struct keyblob *kb); /* wipes and frees; NULL-tolerant */

/* Encode as DER TPMKey. *ret_der malloc'd, caller frees. */
AD_MUST_CHECK int keyblob_encode_der(const struct keyblob *kb, uint8_t **ret_der, size_t *ret_len);
/* Encode as PEM ("-----BEGIN TSS2 PRIVATE KEY-----"), NUL-terminated; *ret_len excludes NUL. */
AD_MUST_CHECK int keyblob_encode_pem(const struct keyblob *kb, char **ret_pem, size_t *ret_len);

/*
 * Decode DER TPMKey. Every length is checked; trailing bytes give
 * AD_ERR_TRAILING; policy/secret fields or another OID give
 * AD_ERR_UNSUPPORTED; anything malformed AD_ERR_FORMAT; over the caps
 * AD_ERR_TOO_LARGE; empty input AD_ERR_SHORT.
 */
AD_MUST_CHECK int keyblob_decode_der(const uint8_t *der, size_t len, struct keyblob **ret);
/* Decode PEM (exactly one TSS2 PRIVATE KEY block; trailing non-space is AD_ERR_TRAILING). */
AD_MUST_CHECK int keyblob_decode_pem(const char *pem, size_t len, struct keyblob **ret);

/*
 * Write kb as PEM to path atomically: temp file in the same directory, mode
 * 0600, fsync, rename, fsync the directory. AD_ERR_SYSTEM (errno logged).
 */
AD_MUST_CHECK int keyblob_write_file(const char *path, const struct keyblob *kb);

/*
 * Read a PEM or DER key file (at most KEYBLOB_FILE_MAX bytes). AD_ERR_NOT_FOUND
 * if absent, AD_ERR_TOO_LARGE over the cap, AD_ERR_CORRUPT if the file is not
 * a well-formed blob (truncated, corrupted, trailing bytes), AD_ERR_UNSUPPORTED
 * for a valid key file we do not handle (policy, importable key),
 * AD_ERR_SYSTEM on I/O errors.
 */
AD_MUST_CHECK int keyblob_read_file(const char *path, struct keyblob **ret);

#endif
