/*
 * The one table of mechanisms and key types the protocol knows
 * (proto/README.md "Mechanisms and key types"). Row i of the mechanism table
 * is bit i of a key's mech_mask: the order is part of the protocol version,
 * so rows are only ever appended. proto/ cannot include pkcs11.h, so the spec
 * values are repeated here with a PROTO_ prefix (PKCS#11 3.0, verbatim).
 */
#ifndef AGENTD_PROTO_MECH_H
#define AGENTD_PROTO_MECH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PROTO_CKK_RSA 0x0u
#define PROTO_CKK_EC 0x3u

#define PROTO_CKM_RSA_PKCS 0x1u
#define PROTO_CKM_RSA_PKCS_PSS 0xdu
#define PROTO_CKM_SHA256_RSA_PKCS 0x40u
#define PROTO_CKM_SHA384_RSA_PKCS 0x41u
#define PROTO_CKM_SHA512_RSA_PKCS 0x42u
#define PROTO_CKM_SHA256_RSA_PKCS_PSS 0x43u
#define PROTO_CKM_SHA384_RSA_PKCS_PSS 0x44u
#define PROTO_CKM_SHA512_RSA_PKCS_PSS 0x45u
#define PROTO_CKM_ECDSA 0x1041u
#define PROTO_CKM_ECDSA_SHA256 0x1044u
#define PROTO_CKM_ECDSA_SHA384 0x1045u
#define PROTO_CKM_ECDSA_SHA512 0x1046u
#define PROTO_CKM_SHA256 0x250u
#define PROTO_CKM_SHA384 0x260u
#define PROTO_CKM_SHA512 0x270u

#define PROTO_CKG_MGF1_SHA256 0x2u
#define PROTO_CKG_MGF1_SHA384 0x3u
#define PROTO_CKG_MGF1_SHA512 0x4u

/* key_type of the digest-only rows (SHA256, ...): no key. */
#define MECH_NO_KEY UINT64_MAX

enum mech_digest {
    MECH_DIGEST_NONE = 0, /* caller hashes (ECDSA, RSA_PKCS, RSA_PKCS_PSS) */
    MECH_DIGEST_SHA256,
    MECH_DIGEST_SHA384,
    MECH_DIGEST_SHA512,
};

struct mech {
    const char *name;        /* spec name without CKM_ ("ECDSA_SHA256") */
    uint64_t ckm;            /* CKM_* value */
    uint64_t key_type;       /* CKK_* it signs with, MECH_NO_KEY for digests */
    enum mech_digest digest; /* hash agentd applies to the input */
    bool has_pss_params;     /* takes CK_RSA_PKCS_PSS_PARAMS */
    bool is_multipart;       /* C_SignUpdate / C_DigestUpdate allowed */
    bool is_sign;            /* false: digest-only row */
};

struct mech_key_type {
    const char *name;  /* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072" */
    uint64_t key_type; /* CKK_* */
    uint32_t bits;     /* curve size or modulus bits */
};

/* Number of rows; always <= 64 (bits of mech_mask). */
size_t mech_count(void);
/* Row i, or NULL when i >= mech_count(). */
const struct mech *mech_at(size_t i);
/* Row by CKM value / by spec name without CKM_ (exact match), or NULL. */
const struct mech *mech_by_ckm(uint64_t ckm);
const struct mech *mech_by_name(const char *name);
/* Row index of m (its mech_mask bit number). m must come from this table. */
size_t mech_index(const struct mech *m);
/* 1 << mech_index(m). */
uint64_t mech_bit(const struct mech *m);
/* True when m signs with keys of key_type. */
bool mech_allows_key(const struct mech *m, uint64_t key_type);

/* Output length of a digest (0 for NONE); its CKM_SHA* and CKG_MGF1_* values (0 for NONE). */
size_t mech_digest_len(enum mech_digest d);
uint64_t mech_digest_ckm(enum mech_digest d);
uint64_t mech_digest_mgf(enum mech_digest d);
/* Digest for a CKM_SHA* value, AD_ERR_NOT_FOUND otherwise. */
AD_MUST_CHECK int mech_digest_from_ckm(uint64_t ckm, enum mech_digest *ret);

/*
 * Check the wire's pss params for m: all zero when m takes none; else
 * hash_mech one of CKM_SHA256/384/512 (equal to m's digest when m hashes),
 * mgf the matching CKG_MGF1_*, salt_len <= the hash length.
 * Returns 0 or AD_ERR_INVALID (wire status MECHANISM_PARAM).
 */
AD_MUST_CHECK int mech_check_pss(const struct mech *m, uint64_t hash_mech, uint64_t mgf,
                                 uint64_t salt_len);

/* Key types: count, row i (NULL past the end), by name, by (CKK, bits); NULL when unknown. */
size_t mech_key_type_count(void);
const struct mech_key_type *mech_key_type_at(size_t i);
const struct mech_key_type *mech_key_type_by_name(const char *name);
const struct mech_key_type *mech_key_type_find(uint64_t key_type, uint32_t bits);

#endif
