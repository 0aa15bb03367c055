#include "digest.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* RFC 8017 9.2 note 1: DER DigestInfo prefixes (hash follows). */
static const uint8_t di_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                  0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

static const struct {
    enum digest_alg alg;
    size_t size;
    const uint8_t *prefix;
    size_t prefix_len;
} algs[] = {
    {DIGEST_SHA1, 20, di_sha1, sizeof(di_sha1)},
    {DIGEST_SHA256, 32, di_sha256, sizeof(di_sha256)},
    {DIGEST_SHA384, 48, di_sha384, sizeof(di_sha384)},
    {DIGEST_SHA512, 64, di_sha512, sizeof(di_sha512)},
};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

static const EVP_MD *md_of(enum digest_alg alg)
{
    switch (alg) {
    case DIGEST_SHA1:
        return EVP_sha1();
    case DIGEST_SHA256:
        return EVP_sha256();
    case DIGEST_SHA384:
        return EVP_sha384();
    case DIGEST_SHA512:
        return EVP_sha512();
    case DIGEST_NONE:
        break;
    }
    return NULL;
}

size_t digest_size(enum digest_alg alg)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (algs[i].alg == alg) {
            return algs[i].size;
        }
    }
    return 0;
}

enum digest_alg digest_from_size(size_t len)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (algs[i].size == len) {
            return algs[i].alg;
        }
    }
    return DIGEST_NONE;
}

enum digest_alg digest_of_ckm(uint64_t ckm)
{
    switch (ckm) {
    case 0x220u: /* CKM_SHA_1 */
        return DIGEST_SHA1;
    case 0x250u: /* CKM_SHA256 */
        return DIGEST_SHA256;
    case 0x260u: /* CKM_SHA384 */
        return DIGEST_SHA384;
    case 0x270u: /* CKM_SHA512 */
        return DIGEST_SHA512;
    default:
        return DIGEST_NONE;
    }
}

int digest_compute(enum digest_alg alg, const uint8_t *data, size_t len, uint8_t *out,
                   size_t *ret_len)
{
    const EVP_MD *md = md_of(alg);
    unsigned int n = 0;

    if (md == NULL) {
        return AD_ERR_UNSUPPORTED;
    }
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1) {
        return AD_ERR_INTERNAL;
    }
    *ret_len = n;
    return AD_OK;
}

int digest_info_parse(const uint8_t *di, size_t len, enum digest_alg *ret_alg,
                      const uint8_t **ret_hash)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (len == algs[i].prefix_len + algs[i].size &&
            memcmp(di, algs[i].prefix, algs[i].prefix_len) == 0) {
            *ret_alg = algs[i].alg;
            *ret_hash = di + algs[i].prefix_len;
            return AD_OK;
        }
    }
    return AD_ERR_FORMAT;
}

int digest_info_encode(enum digest_alg alg, const uint8_t *hash, uint8_t *out, size_t *ret_len)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (algs[i].alg == alg) {
            memcpy(out, algs[i].prefix, algs[i].prefix_len);
            memcpy(out + algs[i].prefix_len, hash, algs[i].size);
            *ret_len = algs[i].prefix_len + algs[i].size;
            return AD_OK;
        }
    }
    return AD_ERR_UNSUPPORTED;
}

/* PKCS#11 r || s to a DER ECDSA-Sig-Value; *ret_der is OPENSSL_malloc'd. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t sig_len, uint8_t **ret_der, size_t *ret_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    uint8_t *der = NULL;
    int der_len;
    int ret = AD_ERR_NOMEM;

    if ((es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(sig, (int)(sig_len / 2), NULL)) == NULL ||
        (s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL)) == NULL) {
        goto out;
    }
    if (ECDSA_SIG_set0(es, r, s) != 1) {
        goto out;
    }
    r = NULL; /* es owns them now */
    s = NULL;
    if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0) {
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)der_len;
    der = NULL;
    ret = AD_OK;
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ret;
}

static size_t ec_field_bytes(EVP_PKEY *pkey)
{
    int bits = EVP_PKEY_get_bits(pkey);

    return bits > 0 ? ((size_t)bits + 7) / 8 : 0;
}

int digest_verify(const uint8_t *spki, size_t spki_len, enum digest_scheme scheme,
                  enum digest_alg hash, size_t salt_len, const uint8_t *tbs, size_t tbs_len,
                  const uint8_t *sig, size_t sig_len, bool *ret_valid)
{
    const uint8_t *p = spki;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    const uint8_t *vsig = sig;
    size_t vsig_len = sig_len;
    int id;
    int r;

    if ((pkey = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL) {
        r = AD_ERR_FORMAT;
        goto out;
    }
    id = EVP_PKEY_get_base_id(pkey);
    if ((scheme == DIGEST_SCHEME_ECDSA) != (id == EVP_PKEY_EC) ||
        (scheme != DIGEST_SCHEME_ECDSA && id != EVP_PKEY_RSA)) {
        r = AD_ERR_UNSUPPORTED;
        goto out;
    }
    if (scheme == DIGEST_SCHEME_ECDSA) {
        if (sig_len != 2 * ec_field_bytes(pkey)) {
            *ret_valid = false;
            r = AD_OK;
            goto out;
        }
        if ((r = ecdsa_raw_to_der(sig, sig_len, &der, &der_len)) != 0) {
            goto out;
        }
        vsig = der;
        vsig_len = der_len;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(pkey)) {
        *ret_valid = false;
        r = AD_OK;
        goto out;
    }
    r = AD_ERR_NOMEM;
    if ((pctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL || EVP_PKEY_verify_init(pctx) != 1) {
        goto out;
    }
    if (scheme == DIGEST_SCHEME_RSA_PKCS1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        goto out;
    }
    if (scheme == DIGEST_SCHEME_RSA_PSS &&
        (md_of(hash) == NULL || tbs_len != digest_size(hash) ||
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_signature_md(pctx, md_of(hash)) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_of(hash)) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt_len) != 1)) {
        r = AD_ERR_UNSUPPORTED;
        goto out;
    }
    /* 1 valid, 0 invalid, < 0 malformed signature: all a "no" to the caller. */
    *ret_valid = EVP_PKEY_verify(pctx, vsig, vsig_len, tbs, tbs_len) == 1;
    ERR_clear_error();
    r = AD_OK;
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    return r;
}

int digest_spki_key_id(const uint8_t *spki, size_t spki_len, uint8_t out[20])
{
    const uint8_t *p = spki;
    const unsigned char *pk = NULL;
    X509_PUBKEY *xpk = NULL;
    int pk_len = 0;
    int r = AD_ERR_FORMAT;

    if ((xpk = d2i_X509_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
        X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, xpk) != 1 || pk_len <= 0) {
        ERR_clear_error();
        goto out;
    }
    if (EVP_Digest(pk, (size_t)pk_len, out, NULL, EVP_sha1(), NULL) != 1) {
        r = AD_ERR_INTERNAL;
        goto out;
    }
    r = AD_OK;
out:
    X509_PUBKEY_free(xpk);
    return r;
}
