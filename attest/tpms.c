#include "tpms.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

/*
 * Every decoder must consume the whole buffer: a trailing byte is an error.
 * (off is read after the unmarshal call, never as a sibling argument.)
 */
static int check_end(TSS2_RC rc, const size_t *off, size_t len)
{
    if (rc != TSS2_RC_SUCCESS) {
        return AD_ERR_FORMAT;
    }
    return *off == len ? AD_OK : AD_ERR_TRAILING;
}

int tpms_public_decode(const uint8_t *buf, size_t len, TPM2B_PUBLIC *ret)
{
    TPM2B_PUBLIC pub = {0};
    size_t off = 0;
    TSS2_RC rc;
    int r;

    if (buf == NULL || len == 0) {
        return AD_ERR_SHORT;
    }
    rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub);
    r = check_end(rc, &off, len);
    if (r != AD_OK) {
        return r;
    }
    /* The size prefix must match the marshalled TPMT_PUBLIC exactly. */
    if (pub.size != len - 2) {
        return AD_ERR_FORMAT;
    }
    *ret = pub;
    return AD_OK;
}

int tpms_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret)
{
    TPMS_ATTEST a = {0};
    size_t off = 0;
    TSS2_RC rc;
    int r;

    if (buf == NULL || len == 0) {
        return AD_ERR_SHORT;
    }
    rc = Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, &off, &a);
    r = check_end(rc, &off, len);
    if (r != AD_OK) {
        return r;
    }
    /* Part 2 §10.12.8: every attestation structure starts with TPM_GENERATED_VALUE. */
    if (a.magic != TPM2_GENERATED_VALUE) {
        return AD_ERR_FORMAT;
    }
    *ret = a;
    return AD_OK;
}

int tpms_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret)
{
    TPMT_SIGNATURE s = {0};
    size_t off = 0;
    TSS2_RC rc;
    int r;

    if (buf == NULL || len == 0) {
        return AD_ERR_SHORT;
    }
    rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, &off, &s);
    r = check_end(rc, &off, len);
    if (r != AD_OK) {
        return r;
    }
    *ret = s;
    return AD_OK;
}

const EVP_MD *tpms_md(TPMI_ALG_HASH alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return EVP_sha1();
    case TPM2_ALG_SHA256:
        return EVP_sha256();
    case TPM2_ALG_SHA384:
        return EVP_sha384();
    case TPM2_ALG_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

int tpms_public_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_len)
{
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    const EVP_MD *md = tpms_md(pub->nameAlg);
    unsigned int dlen = 0;
    size_t off = 0;

    if (md == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS) {
        return AD_ERR_FORMAT;
    }
    ret_name[0] = (uint8_t)(pub->nameAlg >> 8);
    ret_name[1] = (uint8_t)pub->nameAlg;
    if (EVP_Digest(buf, off, ret_name + 2, &dlen, md, NULL) != 1) {
        return AD_ERR_INTERNAL;
    }
    *ret_len = 2 + (size_t)dlen;
    return AD_OK;
}

static int curve_info(TPMI_ECC_CURVE curve, const char **ret_group, size_t *ret_size)
{
    switch (curve) {
    case TPM2_ECC_NIST_P256:
        *ret_group = "prime256v1";
        *ret_size = 32;
        return AD_OK;
    case TPM2_ECC_NIST_P384:
        *ret_group = "secp384r1";
        *ret_size = 48;
        return AD_OK;
    case TPM2_ECC_NIST_P521:
        *ret_group = "secp521r1";
        *ret_size = 66;
        return AD_OK;
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    int r = AD_ERR_FORMAT;

    if (params == NULL || ctx == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        goto out;
    }
    *ret = pkey;
    r = AD_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return r;
}

static int rsa_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = NULL, *e = NULL;
    uint32_t exp = pub->parameters.rsaDetail.exponent;
    int r = AD_ERR_NOMEM;

    /* Part 2 §12.2.3.5: an exponent of zero means the default 2^16 + 1. */
    n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
    e = BN_new();
    if (bld == NULL || n == NULL || e == NULL || BN_set_word(e, exp ? exp : 65537) != 1) {
        goto out;
    }
    if (pub->unique.rsa.size == 0 ||
        pub->unique.rsa.size * 8u != pub->parameters.rsaDetail.keyBits) {
        r = AD_ERR_FORMAT;
        goto out;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
        goto out;
    }
    r = pkey_from_params("RSA", bld, ret);
out:
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

static int ecc_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
    const TPMS_ECC_POINT *pt = &pub->unique.ecc;
    uint8_t point[1 + 2 * 66];
    OSSL_PARAM_BLD *bld = NULL;
    const char *group = NULL;
    size_t csize = 0;
    int r;

    if ((r = curve_info(pub->parameters.eccDetail.curveID, &group, &csize)) != AD_OK) {
        return r;
    }
    if (pt->x.size == 0 || pt->y.size == 0 || pt->x.size > csize || pt->y.size > csize) {
        return AD_ERR_FORMAT;
    }
    /* Uncompressed SEC1 point, coordinates left-padded to the field size. */
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + csize - pt->x.size, pt->x.buffer, pt->x.size);
    memcpy(point + 1 + 2 * csize - pt->y.size, pt->y.buffer, pt->y.size);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * csize) != 1) {
        OSSL_PARAM_BLD_free(bld);
        return AD_ERR_NOMEM;
    }
    r = pkey_from_params("EC", bld, ret);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

int tpms_public_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
    switch (pub->type) {
    case TPM2_ALG_RSA:
        return rsa_pkey(pub, ret);
    case TPM2_ALG_ECC:
        return ecc_pkey(pub, ret);
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

/* TPMS_SIGNATURE_ECDSA (r, s as TPM2B) to the DER ECDSA-Sig-Value OpenSSL verifies. */
static int ecdsa_der(const TPMS_SIGNATURE_ECDSA *e, uint8_t **ret_der, size_t *ret_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
    BIGNUM *bs = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
    uint8_t *der = NULL;
    int len;

    if (sig == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(sig, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(sig);
        return AD_ERR_NOMEM;
    }
    len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0) {
        return AD_ERR_NOMEM;
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    return AD_OK;
}

static int sig_params(const TPMT_PUBLIC *key, const TPMT_SIGNATURE *sig, TPMI_ALG_HASH *ret_hash,
                      int *ret_pad)
{
    switch (sig->sigAlg) {
    case TPM2_ALG_ECDSA:
        *ret_hash = sig->signature.ecdsa.hash;
        *ret_pad = 0;
        return key->type == TPM2_ALG_ECC ? AD_OK : AD_ERR_FORMAT;
    case TPM2_ALG_RSASSA:
        *ret_hash = sig->signature.rsassa.hash;
        *ret_pad = RSA_PKCS1_PADDING;
        return key->type == TPM2_ALG_RSA ? AD_OK : AD_ERR_FORMAT;
    case TPM2_ALG_RSAPSS:
        *ret_hash = sig->signature.rsapss.hash;
        *ret_pad = RSA_PKCS1_PSS_PADDING;
        return key->type == TPM2_ALG_RSA ? AD_OK : AD_ERR_FORMAT;
    default:
        return AD_ERR_UNSUPPORTED;
    }
}

int tpms_verify_signature(const TPMT_PUBLIC *key, const uint8_t *msg, size_t msg_len,
                          const TPMT_SIGNATURE *sig)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t *der = NULL;
    const uint8_t *s;
    size_t slen;
    TPMI_ALG_HASH hash = 0;
    int pad = 0, r;

    if ((r = sig_params(key, sig, &hash, &pad)) != AD_OK) {
        return r;
    }
    if (tpms_md(hash) == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    if ((r = tpms_public_pkey(key, &pkey)) != AD_OK) {
        goto out;
    }
    if (pad == 0) {
        if ((r = ecdsa_der(&sig->signature.ecdsa, &der, &slen)) != AD_OK) {
            goto out;
        }
        s = der;
    } else {
        s = sig->signature.rsassa.sig.buffer;
        slen = sig->signature.rsassa.sig.size;
    }
    r = AD_ERR_NOMEM;
    if ((mctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(mctx, &pctx, tpms_md(hash), NULL, pkey) != 1) {
        goto out;
    }
    if (pad != 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, pad) != 1) {
        goto out;
    }
    /* Part 1 §B.7: the TPM's PSS salt is as long as the digest; accept what the TPM made. */
    if (pad == RSA_PKCS1_PSS_PADDING &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
        goto out;
    }
    r = EVP_DigestVerify(mctx, s, slen, msg, msg_len) == 1 ? AD_OK : AD_ERR_DENIED;
out:
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    return r;
}

int tpms_check_ak(const TPMT_PUBLIC *ak)
{
    const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED |
                             TPMA_OBJECT_SIGN_ENCRYPT;
    TPMA_OBJECT a = ak->objectAttributes;

    if ((a & need) != need || (a & TPMA_OBJECT_DECRYPT) != 0) {
        return AD_ERR_DENIED;
    }
    if (ak->type != TPM2_ALG_RSA && ak->type != TPM2_ALG_ECC) {
        return AD_ERR_UNSUPPORTED;
    }
    return tpms_md(ak->nameAlg) != NULL ? AD_OK : AD_ERR_UNSUPPORTED;
}

int tpms_check_identity_key(const TPMT_PUBLIC *key, const char **ret_reason)
{
    static const struct {
        TPMA_OBJECT bit;
        int is_required;
        const char *reason;
    } rules[] = {
        {TPMA_OBJECT_FIXEDTPM, 1, "key is not fixedTPM (exportable)"},
        {TPMA_OBJECT_FIXEDPARENT, 1, "key is not fixedParent"},
        {TPMA_OBJECT_SENSITIVEDATAORIGIN, 1, "key was imported (no sensitiveDataOrigin)"},
        {TPMA_OBJECT_SIGN_ENCRYPT, 1, "key cannot sign"},
        {TPMA_OBJECT_DECRYPT, 0, "key can decrypt"},
        {TPMA_OBJECT_RESTRICTED, 0, "key is restricted"},
    };
    size_t i;

    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        int is_set = (key->objectAttributes & rules[i].bit) != 0;
        if (is_set != rules[i].is_required) {
            if (ret_reason != NULL) {
                *ret_reason = rules[i].reason;
            }
            return AD_ERR_DENIED;
        }
    }
    if (key->type != TPM2_ALG_RSA && key->type != TPM2_ALG_ECC) {
        if (ret_reason != NULL) {
            *ret_reason = "key type is neither RSA nor ECC";
        }
        return AD_ERR_UNSUPPORTED;
    }
    return AD_OK;
}
