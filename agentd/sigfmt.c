/* Signature format conversions and OpenSSL verification helpers (no TPM). */
#include "sigfmt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define SIGFMT_FIELD_MAX 66 /* P-521 */

int sigfmt_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t **ret_der, size_t *ret_len)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    uint8_t *der = NULL;
    size_t half = raw_len / 2;
    int len, err = AD_ERR_NOMEM;

    if (raw_len == 0 || raw_len % 2 != 0 || half > SIGFMT_FIELD_MAX) {
        return AD_ERR_INVALID;
    }
    if ((sig = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(raw, (int)half, NULL)) == NULL ||
        (s = BN_bin2bn(raw + half, (int)half, NULL)) == NULL) {
        goto out;
    }
    if (!ECDSA_SIG_set0(sig, r, s)) {
        goto out;
    }
    r = s = NULL; /* sig owns them */
    if ((len = i2d_ECDSA_SIG(sig, &der)) <= 0) {
        goto out;
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    der = NULL;
    err = AD_OK;
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return err;
}

int sigfmt_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field_len, uint8_t *ret_raw)
{
    ECDSA_SIG *sig = NULL;
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    uint8_t *again = NULL;
    int n, err = AD_ERR_FORMAT;

    if (field_len == 0 || field_len > SIGFMT_FIELD_MAX) {
        return AD_ERR_INVALID;
    }
    if (der_len == 0 || der_len > SIGFMT_ECDSA_DER_MAX) {
        return der_len == 0 ? AD_ERR_SHORT : AD_ERR_TOO_LARGE;
    }
    if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL) {
        goto out;
    }
    if (p != der + der_len) {
        err = AD_ERR_TRAILING;
        goto out;
    }
    /* Only the DER encoding: re-encode and compare. */
    if ((n = i2d_ECDSA_SIG(sig, &again)) <= 0 || (size_t)n != der_len ||
        memcmp(again, der, der_len) != 0) {
        goto out;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_is_negative(r) || BN_is_negative(s)) {
        goto out;
    }
    if ((size_t)BN_num_bytes(r) > field_len || (size_t)BN_num_bytes(s) > field_len) {
        err = AD_ERR_TOO_LARGE;
        goto out;
    }
    if (BN_bn2binpad(r, ret_raw, (int)field_len) < 0 ||
        BN_bn2binpad(s, ret_raw + field_len, (int)field_len) < 0) {
        err = AD_ERR_INTERNAL;
        goto out;
    }
    err = AD_OK;
out:
    OPENSSL_free(again);
    ECDSA_SIG_free(sig);
    return err;
}

static const EVP_MD *hash_md(enum sigfmt_hash hash)
{
    switch (hash) {
    case SIGFMT_SHA1:
        return EVP_sha1();
    case SIGFMT_SHA256:
        return EVP_sha256();
    case SIGFMT_SHA384:
        return EVP_sha384();
    case SIGFMT_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static int set_padding(EVP_PKEY_CTX *ctx, const EVP_MD *md, enum sigfmt_pad pad)
{
    if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
        return AD_ERR_INTERNAL;
    }
    switch (pad) {
    case SIGFMT_PAD_PKCS1:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 ? AD_OK : AD_ERR_INTERNAL;
    case SIGFMT_PAD_PSS:
        /* The TPM's PSS salt is the digest length (see tpm.h). */
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
                       EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0
                   ? AD_OK
                   : AD_ERR_INTERNAL;
    default:
        return AD_ERR_INVALID;
    }
}

int sigfmt_verify(const uint8_t *spki, size_t spki_len, enum sigfmt_hash hash, enum sigfmt_pad pad,
                  const uint8_t *digest, size_t digest_len, const uint8_t *sig, size_t sig_len)
{
    const unsigned char *p = spki;
    const EVP_MD *md = hash_md(hash);
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    int r = AD_ERR_FORMAT;

    if (md == NULL || digest_len != (size_t)EVP_MD_get_size(md)) {
        return AD_ERR_INVALID;
    }
    if ((pkey = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL || p != spki + spki_len) {
        goto out;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        if ((r = sigfmt_ecdsa_raw_to_der(sig, sig_len, &der, &der_len)) != 0) {
            r = AD_ERR_FORMAT;
            goto out;
        }
        sig = der;
        sig_len = der_len;
    }
    if ((ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL || EVP_PKEY_verify_init(ctx) <= 0) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        if ((r = set_padding(ctx, md, pad)) != 0) {
            goto out;
        }
    } else if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
        r = AD_ERR_INTERNAL;
        goto out;
    }
    r = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1 ? AD_OK : AD_ERR_DENIED;
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return r;
}

int sigfmt_spki_to_pem(const uint8_t *spki, size_t spki_len, char **ret_pem, size_t *ret_len)
{
    const unsigned char *p = spki;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *mem = NULL, *pem = NULL;
    long n;
    int r = AD_ERR_FORMAT;

    if ((pkey = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL || p != spki + spki_len) {
        goto out;
    }
    r = AD_ERR_NOMEM;
    if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pkey) <= 0 ||
        (n = BIO_get_mem_data(bio, &mem)) <= 0 || (pem = malloc((size_t)n + 1)) == NULL) {
        goto out;
    }
    memcpy(pem, mem, (size_t)n);
    pem[n] = '\0';
    *ret_pem = pem;
    *ret_len = (size_t)n;
    pem = NULL;
    r = AD_OK;
out:
    free(pem);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return r;
}
