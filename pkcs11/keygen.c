#include "keygen.h"

#include <string.h>

#include "attr.h"
#include "client.h"
#include "module.h"
#include "object.h"

/* DER OIDs of the named curves (RFC 5480 §2.1.1.1). */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t f4[] = {0x01, 0x00, 0x01};

static CK_RV ec_bits(const CK_ATTRIBUTE *pub, CK_ULONG n, uint32_t *ret)
{
    const CK_ATTRIBUTE *a = attr_find(pub, n, CKA_EC_PARAMS);

    if (a == NULL) {
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (a->pValue == NULL) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (a->ulValueLen == sizeof(oid_p256) && memcmp(a->pValue, oid_p256, sizeof(oid_p256)) == 0) {
        *ret = 256;
        return CKR_OK;
    }
    if (a->ulValueLen == sizeof(oid_p384) && memcmp(a->pValue, oid_p384, sizeof(oid_p384)) == 0) {
        *ret = 384;
        return CKR_OK;
    }
    return CKR_CURVE_NOT_SUPPORTED;
}

static CK_RV rsa_bits(const CK_ATTRIBUTE *pub, CK_ULONG n, uint32_t *ret)
{
    const CK_ATTRIBUTE *e = attr_find(pub, n, CKA_PUBLIC_EXPONENT);
    CK_ULONG bits;
    CK_RV rv;

    if ((rv = attr_find_ulong(pub, n, CKA_MODULUS_BITS, &bits)) != CKR_OK) {
        return rv;
    }
    if (bits != 2048 && bits != 3072) {
        return CKR_KEY_SIZE_RANGE;
    }
    /* The TPM makes keys with e = 65537 only. */
    if (e != NULL && (e->pValue == NULL || e->ulValueLen != sizeof(f4) ||
                      memcmp(e->pValue, f4, sizeof(f4)) != 0)) {
        return CKR_TEMPLATE_INCONSISTENT;
    }
    *ret = (uint32_t)bits;
    return CKR_OK;
}

/* A boolean the key cannot have: the template is inconsistent with a TPM key. */
static bool asks(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_BBOOL bad)
{
    CK_BBOOL v;

    return attr_find_bool(t, n, type, &v) == CKR_OK && v == bad;
}

static CK_RV label_of(const CK_ATTRIBUTE *priv, CK_ULONG n_priv, const CK_ATTRIBUTE *pub,
                      CK_ULONG n_pub, char *out)
{
    const CK_ATTRIBUTE *a = attr_find(priv, n_priv, CKA_LABEL);

    if (a == NULL) {
        a = attr_find(pub, n_pub, CKA_LABEL);
    }
    out[0] = '\0';
    if (a == NULL) {
        return CKR_OK;
    }
    if (a->ulValueLen > KEY_NAME_MAX || (a->ulValueLen > 0 && a->pValue == NULL)) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (a->ulValueLen > 0) {
        memcpy(out, a->pValue, a->ulValueLen);
    }
    out[a->ulValueLen] = '\0';
    return strlen(out) == a->ulValueLen ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

CK_RV keygen_pair(const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub, CK_ULONG n_pub,
                  const CK_ATTRIBUTE *priv, CK_ULONG n_priv, CK_OBJECT_HANDLE_PTR ret_pub,
                  CK_OBJECT_HANDLE_PTR ret_priv)
{
    char name[KEY_NAME_MAX + 1];
    struct client_key key = {0};
    uint64_t key_type;
    uint32_t bits = 0;
    CK_RV rv;

    if (mech->mechanism == CKM_EC_KEY_PAIR_GEN) {
        key_type = CKK_EC;
        rv = ec_bits(pub, n_pub, &bits);
    } else if (mech->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        key_type = CKK_RSA;
        rv = rsa_bits(pub, n_pub, &bits);
    } else {
        return CKR_MECHANISM_INVALID;
    }
    if (rv != CKR_OK) {
        return rv;
    }
    if (asks(priv, n_priv, CKA_SENSITIVE, CK_FALSE) ||
        asks(priv, n_priv, CKA_EXTRACTABLE, CK_TRUE)) {
        return CKR_TEMPLATE_INCONSISTENT;
    }
    if ((rv = label_of(priv, n_priv, pub, n_pub, name)) != CKR_OK) {
        return rv;
    }
    if ((rv = client_generate(name, key_type, bits, &key)) != CKR_OK) {
        return rv;
    }
    rv = object_add_key(&key, ret_pub, ret_priv);
    client_key_clear(&key);
    return rv;
}
