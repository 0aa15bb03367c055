/*
 * Public facts about a key from its blob alone (no TPM): SPKI, PKCS#11 EC
 * and RSA attributes, and the TPM name.
 */
#include "tpm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "tpm_internal.h"

static int dup_bytes(const uint8_t *src, size_t len, uint8_t **ret, size_t *ret_len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);

    if (p == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(p, src, len);
    *ret = p;
    *ret_len = len;
    return AD_OK;
}

/* i2d into a malloc'd buffer (OpenSSL allocates with OPENSSL_malloc; we copy). */
static int obj_der(int nid, uint8_t **ret, size_t *ret_len)
{
    ASN1_OBJECT *o = OBJ_nid2obj(nid);
    uint8_t *der = NULL;
    int n, r;

    if (o == NULL || (n = i2d_ASN1_OBJECT(o, &der)) <= 0) {
        return AD_ERR_NOMEM;
    }
    r = dup_bytes(der, (size_t)n, ret, ret_len);
    OPENSSL_free(der);
    return r;
}

static int octet_der(const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    uint8_t *der = NULL;
    int n, r = AD_ERR_NOMEM;

    if (os != NULL && ASN1_OCTET_STRING_set(os, data, (int)len) &&
        (n = i2d_ASN1_OCTET_STRING(os, &der)) > 0) {
        r = dup_bytes(der, (size_t)n, ret, ret_len);
    }
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(os);
    return r;
}

static int spki_from_params(const char *keytype, OSSL_PARAM_BLD *bld, struct tpm_pubinfo *info)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t *der = NULL;
    int n, r = AD_ERR_FORMAT;

    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
        (n = i2d_PUBKEY(pkey, &der)) <= 0) {
        goto out;
    }
    r = dup_bytes(der, (size_t)n, &info->spki, &info->spki_len);
out:
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return r;
}

static int ec_info(const TPMT_PUBLIC *p, struct tpm_pubinfo *info)
{
    const TPMS_ECC_POINT *pt = &p->unique.ecc;
    size_t field = info->bits / 8;
    uint8_t point[1 + 2 * 48];
    OSSL_PARAM_BLD *bld = NULL;
    int r;

    if (pt->x.size == 0 || pt->x.size > field || pt->y.size == 0 || pt->y.size > field) {
        return AD_ERR_FORMAT;
    }
    /* SEC 1 §2.3.3 uncompressed point, coordinates left-padded to the field size. */
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + field - pt->x.size, pt->x.buffer, pt->x.size);
    memcpy(point + 1 + 2 * field - pt->y.size, pt->y.buffer, pt->y.size);
    if ((r = obj_der(info->bits == 256 ? NID_X9_62_prime256v1 : NID_secp384r1, &info->ec_params,
                     &info->ec_params_len)) != 0 ||
        (r = octet_der(point, 1 + 2 * field, &info->ec_point, &info->ec_point_len)) != 0) {
        return r;
    }
    r = AD_ERR_NOMEM;
    if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        info->bits == 256 ? "P-256" : "P-384", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field)) {
        r = spki_from_params("EC", bld, info);
    }
    OSSL_PARAM_BLD_free(bld);
    return r;
}

static int rsa_info(const TPMT_PUBLIC *p, struct tpm_pubinfo *info)
{
    const TPM2B_PUBLIC_KEY_RSA *n = &p->unique.rsa;
    uint32_t e = p->parameters.rsaDetail.exponent != 0 ? p->parameters.rsaDetail.exponent : 65537;
    uint8_t ebuf[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
    size_t eoff = 0, noff = 0;
    OSSL_PARAM_BLD *bld = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    int r;

    if (n->size != info->bits / 8 || n->buffer[0] == 0) {
        return AD_ERR_FORMAT;
    }
    while (eoff < 3 && ebuf[eoff] == 0) {
        eoff++;
    }
    while (noff < n->size && n->buffer[noff] == 0) {
        noff++;
    }
    if ((r = dup_bytes(n->buffer + noff, n->size - noff, &info->rsa_n, &info->rsa_n_len)) != 0 ||
        (r = dup_bytes(ebuf + eoff, 4 - eoff, &info->rsa_e, &info->rsa_e_len)) != 0) {
        return r;
    }
    r = AD_ERR_NOMEM;
    if ((bn_n = BN_bin2bn(n->buffer, n->size, NULL)) != NULL &&
        (bn_e = BN_bin2bn(ebuf, 4, NULL)) != NULL && (bld = OSSL_PARAM_BLD_new()) != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        r = spki_from_params("RSA", bld, info);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return r;
}

/* TPM 2.0 Part 1 §16: Name = nameAlg || H_nameAlg(marshalled TPMT_PUBLIC). */
static int name_of(const TPMT_PUBLIC *p, struct tpm_pubinfo *info)
{
    uint8_t buf[sizeof(TPMT_PUBLIC)], name[2 + EVP_MAX_MD_SIZE];
    size_t len = 0;
    unsigned int dlen = 0;
    const EVP_MD *md;

    switch (p->nameAlg) {
    case TPM2_ALG_SHA1:
        md = EVP_sha1();
        break;
    case TPM2_ALG_SHA256:
        md = EVP_sha256();
        break;
    case TPM2_ALG_SHA384:
        md = EVP_sha384();
        break;
    case TPM2_ALG_SHA512:
        md = EVP_sha512();
        break;
    default:
        return AD_ERR_UNSUPPORTED;
    }
    if (Tss2_MU_TPMT_PUBLIC_Marshal(p, buf, sizeof(buf), &len) != 0 ||
        !EVP_Digest(buf, len, name + 2, &dlen, md, NULL)) {
        return AD_ERR_FORMAT;
    }
    name[0] = (uint8_t)(p->nameAlg >> 8);
    name[1] = (uint8_t)p->nameAlg;
    return dup_bytes(name, 2 + dlen, &info->name, &info->name_len);
}

int tpm_key_info(const struct keyblob *kb, struct tpm_pubinfo *ret)
{
    struct tpm_pubinfo info = {0};
    TPM2B_PUBLIC pub = {0};
    const TPMT_PUBLIC *p = &pub.publicArea;
    size_t off = 0;
    int r = AD_ERR_FORMAT;

    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(kb->pub, kb->pub_len, &off, &pub) != 0 ||
        off != kb->pub_len) {
        return AD_ERR_FORMAT;
    }
    if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256) {
        info.type = TPM_KEY_EC_P256;
        info.bits = 256;
        r = ec_info(p, &info);
    } else if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384) {
        info.type = TPM_KEY_EC_P384;
        info.bits = 384;
        r = ec_info(p, &info);
    } else if (p->type == TPM2_ALG_RSA && (p->parameters.rsaDetail.keyBits == 2048 ||
                                           p->parameters.rsaDetail.keyBits == 3072)) {
        info.type = p->parameters.rsaDetail.keyBits == 2048 ? TPM_KEY_RSA_2048 : TPM_KEY_RSA_3072;
        info.bits = p->parameters.rsaDetail.keyBits;
        r = rsa_info(p, &info);
    }
    if (r == 0) {
        r = name_of(p, &info);
    }
    if (r != 0) {
        tpm_pubinfo_clear(&info);
        return r;
    }
    *ret = info;
    return AD_OK;
}

void tpm_pubinfo_clear(struct tpm_pubinfo *info)
{
    if (info == NULL) {
        return;
    }
    free(info->spki);
    free(info->ec_params);
    free(info->ec_point);
    free(info->rsa_n);
    free(info->rsa_e);
    free(info->name);
    memset(info, 0, sizeof(*info));
}
