#include "mech.h"

#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Row i is bit i of mech_mask: append only (README "Mechanisms and key types").
 * The order matches conf/conf_mech.c and pkcs11/mech.c's mask_bit column.
 * Multi-part is allowed where agentd hashes the input; the raw mechanisms take
 * one digest or DigestInfo and have no Update step (PKCS#11 3.0 §2.1.6, §2.3.1).
 */
static const struct mech mechs[] = {
    {"RSA_PKCS", PROTO_CKM_RSA_PKCS, PROTO_CKK_RSA, MECH_DIGEST_NONE, false, false, true},
    {"RSA_PKCS_PSS", PROTO_CKM_RSA_PKCS_PSS, PROTO_CKK_RSA, MECH_DIGEST_NONE, true, false, true},
    {"SHA256_RSA_PKCS", PROTO_CKM_SHA256_RSA_PKCS, PROTO_CKK_RSA, MECH_DIGEST_SHA256, false, true,
     true},
    {"SHA384_RSA_PKCS", PROTO_CKM_SHA384_RSA_PKCS, PROTO_CKK_RSA, MECH_DIGEST_SHA384, false, true,
     true},
    {"SHA512_RSA_PKCS", PROTO_CKM_SHA512_RSA_PKCS, PROTO_CKK_RSA, MECH_DIGEST_SHA512, false, true,
     true},
    {"SHA256_RSA_PKCS_PSS", PROTO_CKM_SHA256_RSA_PKCS_PSS, PROTO_CKK_RSA, MECH_DIGEST_SHA256, true,
     true, true},
    {"SHA384_RSA_PKCS_PSS", PROTO_CKM_SHA384_RSA_PKCS_PSS, PROTO_CKK_RSA, MECH_DIGEST_SHA384, true,
     true, true},
    {"SHA512_RSA_PKCS_PSS", PROTO_CKM_SHA512_RSA_PKCS_PSS, PROTO_CKK_RSA, MECH_DIGEST_SHA512, true,
     true, true},
    {"ECDSA", PROTO_CKM_ECDSA, PROTO_CKK_EC, MECH_DIGEST_NONE, false, false, true},
    {"ECDSA_SHA256", PROTO_CKM_ECDSA_SHA256, PROTO_CKK_EC, MECH_DIGEST_SHA256, false, true, true},
    {"ECDSA_SHA384", PROTO_CKM_ECDSA_SHA384, PROTO_CKK_EC, MECH_DIGEST_SHA384, false, true, true},
    {"ECDSA_SHA512", PROTO_CKM_ECDSA_SHA512, PROTO_CKK_EC, MECH_DIGEST_SHA512, false, true, true},
    {"SHA256", PROTO_CKM_SHA256, MECH_NO_KEY, MECH_DIGEST_SHA256, false, true, false},
    {"SHA384", PROTO_CKM_SHA384, MECH_NO_KEY, MECH_DIGEST_SHA384, false, true, false},
    {"SHA512", PROTO_CKM_SHA512, MECH_NO_KEY, MECH_DIGEST_SHA512, false, true, false},
};

_Static_assert(ARRAY_LEN(mechs) <= 64, "mech_mask is a u64");

static const struct mech_key_type key_types[] = {
    {"ec-p256", PROTO_CKK_EC, 256},
    {"ec-p384", PROTO_CKK_EC, 384},
    {"rsa-2048", PROTO_CKK_RSA, 2048},
    {"rsa-3072", PROTO_CKK_RSA, 3072},
};

size_t mech_count(void)
{
    return ARRAY_LEN(mechs);
}

const struct mech *mech_at(size_t i)
{
    return i < ARRAY_LEN(mechs) ? &mechs[i] : NULL;
}

const struct mech *mech_by_ckm(uint64_t ckm)
{
    for (size_t i = 0; i < ARRAY_LEN(mechs); i++) {
        if (mechs[i].ckm == ckm) {
            return &mechs[i];
        }
    }
    return NULL;
}

const struct mech *mech_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(mechs); i++) {
        if (strcmp(mechs[i].name, name) == 0) {
            return &mechs[i];
        }
    }
    return NULL;
}

size_t mech_index(const struct mech *m)
{
    return (size_t)(m - mechs);
}

uint64_t mech_bit(const struct mech *m)
{
    return UINT64_C(1) << mech_index(m);
}

bool mech_allows_key(const struct mech *m, uint64_t key_type)
{
    return m != NULL && m->is_sign && m->key_type == key_type;
}

size_t mech_digest_len(enum mech_digest d)
{
    switch (d) {
    case MECH_DIGEST_SHA256:
        return 32;
    case MECH_DIGEST_SHA384:
        return 48;
    case MECH_DIGEST_SHA512:
        return 64;
    case MECH_DIGEST_NONE:
    default:
        return 0;
    }
}

uint64_t mech_digest_ckm(enum mech_digest d)
{
    switch (d) {
    case MECH_DIGEST_SHA256:
        return PROTO_CKM_SHA256;
    case MECH_DIGEST_SHA384:
        return PROTO_CKM_SHA384;
    case MECH_DIGEST_SHA512:
        return PROTO_CKM_SHA512;
    case MECH_DIGEST_NONE:
    default:
        return 0;
    }
}

uint64_t mech_digest_mgf(enum mech_digest d)
{
    switch (d) {
    case MECH_DIGEST_SHA256:
        return PROTO_CKG_MGF1_SHA256;
    case MECH_DIGEST_SHA384:
        return PROTO_CKG_MGF1_SHA384;
    case MECH_DIGEST_SHA512:
        return PROTO_CKG_MGF1_SHA512;
    case MECH_DIGEST_NONE:
    default:
        return 0;
    }
}

int mech_digest_from_ckm(uint64_t ckm, enum mech_digest *ret)
{
    switch (ckm) {
    case PROTO_CKM_SHA256:
        *ret = MECH_DIGEST_SHA256;
        return AD_OK;
    case PROTO_CKM_SHA384:
        *ret = MECH_DIGEST_SHA384;
        return AD_OK;
    case PROTO_CKM_SHA512:
        *ret = MECH_DIGEST_SHA512;
        return AD_OK;
    default:
        return AD_ERR_NOT_FOUND;
    }
}

int mech_check_pss(const struct mech *m, uint64_t hash_mech, uint64_t mgf, uint64_t salt_len)
{
    enum mech_digest d;

    if (!m->has_pss_params) {
        return (hash_mech == 0 && mgf == 0 && salt_len == 0) ? AD_OK : AD_ERR_INVALID;
    }
    if (mech_digest_from_ckm(hash_mech, &d) != 0) {
        return AD_ERR_INVALID;
    }
    /* PKCS#11 3.0 §2.1.15: for the SHAx_RSA_PKCS_PSS mechanisms hashAlg must match. */
    if (m->digest != MECH_DIGEST_NONE && m->digest != d) {
        return AD_ERR_INVALID;
    }
    if (mgf != mech_digest_mgf(d) || salt_len > mech_digest_len(d)) {
        return AD_ERR_INVALID;
    }
    return AD_OK;
}

size_t mech_key_type_count(void)
{
    return ARRAY_LEN(key_types);
}

const struct mech_key_type *mech_key_type_at(size_t i)
{
    return i < ARRAY_LEN(key_types) ? &key_types[i] : NULL;
}

const struct mech_key_type *mech_key_type_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(key_types); i++) {
        if (strcmp(key_types[i].name, name) == 0) {
            return &key_types[i];
        }
    }
    return NULL;
}

const struct mech_key_type *mech_key_type_find(uint64_t key_type, uint32_t bits)
{
    for (size_t i = 0; i < ARRAY_LEN(key_types); i++) {
        if (key_types[i].key_type == key_type && key_types[i].bits == bits) {
            return &key_types[i];
        }
    }
    return NULL;
}
