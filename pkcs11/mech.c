#include "mech.h"

#include <string.h>

#include "../proto/mech.h" /* the protocol's table; pkcs11/mech.h shadows the name */

/*
 * The PKCS#11 side of each mechanism (flags, key sizes, digest length). Which
 * bit of mech_mask a mechanism is comes from proto/mech.h's table (the
 * protocol's), looked up by CKM value; a row proto does not know (key-pair
 * generation) has no bit and is not subject to policy masks.
 */
#define SIGN_VERIFY (CKF_SIGN | CKF_VERIFY)
#define NO_KEY ((CK_KEY_TYPE)CK_UNAVAILABLE_INFORMATION)

static const struct mech_desc mechs[] = {
    {CKM_RSA_PKCS, CKK_RSA, 2048, 3072, SIGN_VERIFY, 0, 0, false},
    {CKM_RSA_PKCS_PSS, CKK_RSA, 2048, 3072, SIGN_VERIFY, 0, 0, true},
    {CKM_SHA256_RSA_PKCS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA256, 32, false},
    {CKM_SHA384_RSA_PKCS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA384, 48, false},
    {CKM_SHA512_RSA_PKCS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA512, 64, false},
    {CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA256, 32, true},
    {CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA384, 48, true},
    {CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, 2048, 3072, SIGN_VERIFY, CKM_SHA512, 64, true},
    {CKM_ECDSA, CKK_EC, 256, 384, SIGN_VERIFY, 0, 0, false},
    {CKM_ECDSA_SHA256, CKK_EC, 256, 384, SIGN_VERIFY, CKM_SHA256, 32, false},
    {CKM_ECDSA_SHA384, CKK_EC, 256, 384, SIGN_VERIFY, CKM_SHA384, 48, false},
    {CKM_ECDSA_SHA512, CKK_EC, 256, 384, SIGN_VERIFY, CKM_SHA512, 64, false},
    {CKM_SHA256, NO_KEY, 0, 0, CKF_DIGEST, CKM_SHA256, 32, false},
    {CKM_SHA384, NO_KEY, 0, 0, CKF_DIGEST, CKM_SHA384, 48, false},
    {CKM_SHA512, NO_KEY, 0, 0, CKF_DIGEST, CKM_SHA512, 64, false},
    {CKM_EC_KEY_PAIR_GEN, CKK_EC, 256, 384, CKF_GENERATE_KEY_PAIR, 0, 0, false},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048, 3072, CKF_GENERATE_KEY_PAIR, 0, 0, false},
};

#define N_MECHS (sizeof(mechs) / sizeof(mechs[0]))

const struct mech_desc *mech_find(CK_MECHANISM_TYPE type)
{
    size_t i;

    for (i = 0; i < N_MECHS; i++) {
        if (mechs[i].type == type) {
            return &mechs[i];
        }
    }
    return NULL;
}

int mech_mask_bit(const struct mech_desc *m)
{
    const struct mech *pm = mech_by_ckm(m->type);

    return pm != NULL ? (int)mech_index(pm) : -1;
}

bool mech_is_allowed(const struct mech_desc *m, uint64_t mech_mask)
{
    int bit = mech_mask_bit(m);

    /* Digests need no key and key generation is the daemon's call: always listed. */
    if (bit < 0 || m->key_type == NO_KEY) {
        return true;
    }
    return (mech_mask >> bit) & 1;
}

static CK_RSA_PKCS_MGF_TYPE mgf_for(CK_MECHANISM_TYPE hash)
{
    switch (hash) {
    case CKM_SHA256:
        return CKG_MGF1_SHA256;
    case CKM_SHA384:
        return CKG_MGF1_SHA384;
    case CKM_SHA512:
        return CKG_MGF1_SHA512;
    default:
        return 0;
    }
}

static size_t hash_len(CK_MECHANISM_TYPE hash)
{
    const struct mech_desc *d = mech_find(hash);

    return d != NULL && d->flags == CKF_DIGEST ? d->hash_len : 0;
}

CK_RV mech_params(const struct mech_desc *m, const CK_MECHANISM *mech, struct client_pss *ret_pss)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;

    memset(ret_pss, 0, sizeof(*ret_pss));
    if (!m->has_pss_params) {
        return mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
    }
    /* PKCS#11 3.0 §2.1.10/2.1.11: PSS takes CK_RSA_PKCS_PSS_PARAMS, whose hashAlg
     * must match the mechanism's own hash when it has one. */
    if (p == NULL || mech->ulParameterLen != sizeof(*p)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (hash_len(p->hashAlg) == 0 || mgf_for(p->hashAlg) != p->mgf ||
        (m->hash != 0 && m->hash != p->hashAlg) || p->sLen > 512) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    ret_pss->hash = p->hashAlg;
    ret_pss->mgf = p->mgf;
    ret_pss->salt_len = p->sLen;
    return CKR_OK;
}

CK_ULONG mech_sig_len(CK_KEY_TYPE key_type, CK_ULONG bits)
{
    CK_ULONG bytes = (bits + 7) / 8;

    return key_type == CKK_EC ? 2 * bytes : bytes;
}

CK_RV mech_list(uint64_t union_mask, CK_MECHANISM_TYPE_PTR out, CK_ULONG_PTR count)
{
    CK_ULONG n = 0;
    size_t i;

    for (i = 0; i < N_MECHS; i++) {
        if (!mech_is_allowed(&mechs[i], union_mask)) {
            continue;
        }
        if (out != NULL && n < *count) {
            out[n] = mechs[i].type;
        }
        n++;
    }
    /* PKCS#11 §5.2: NULL list is a length query; a short one gets CKR_BUFFER_TOO_SMALL. */
    if (out != NULL && n > *count) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    *count = n;
    return CKR_OK;
}

CK_RV mech_info(uint64_t union_mask, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    const struct mech_desc *m = mech_find(type);

    if (m == NULL || !mech_is_allowed(m, union_mask)) {
        return CKR_MECHANISM_INVALID;
    }
    info->ulMinKeySize = m->min_bits;
    info->ulMaxKeySize = m->max_bits;
    info->flags = m->flags | CKF_HW;
    if (m->type == CKM_EC_KEY_PAIR_GEN || m->key_type == CKK_EC) {
        info->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    }
    return CKR_OK;
}

size_t mech_allowed(uint64_t mech_mask, CK_KEY_TYPE key_type, CK_MECHANISM_TYPE *out, size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < N_MECHS; i++) {
        if (mechs[i].key_type != key_type || mech_mask_bit(&mechs[i]) < 0 ||
            !mech_is_allowed(&mechs[i], mech_mask)) {
            continue;
        }
        if (n < max) {
            out[n] = mechs[i].type;
        }
        n++;
    }
    return n;
}
