/*
 * sigfmt: ECDSA raw <-> DER with OpenSSL-made signatures as known vectors,
 * and sigfmt_verify for EC, RSA PKCS#1 v1.5 and RSA-PSS (salt = digest length).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "sigfmt.h"

static EVP_PKEY *keygen(const char *alg, const char *param)
{
    EVP_PKEY *k = param == NULL ? EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)2048)
                                : EVP_PKEY_Q_keygen(NULL, NULL, alg, param);
    assert_non_null(k);
    return k;
}

static size_t spki_of(EVP_PKEY *k, uint8_t **ret)
{
    int n = i2d_PUBKEY(k, ret);
    assert_true(n > 0);
    return (size_t)n;
}

/* OpenSSL signs the digest; returns its DER (EC) or raw (RSA) signature. */
static size_t ossl_sign(EVP_PKEY *k, int pad, const uint8_t *dg, size_t dlen, const EVP_MD *md,
                        uint8_t *sig, size_t cap)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    size_t len = cap;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_true(EVP_PKEY_CTX_set_signature_md(ctx, md) > 0);
    if (pad != 0) {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, pad) > 0);
    }
    if (pad == RSA_PKCS1_PSS_PADDING) {
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) > 0);
    }
    assert_int_equal(EVP_PKEY_sign(ctx, sig, &len, dg, dlen), 1);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

static void ec_case(const char *curve, size_t field, const EVP_MD *md, enum sigfmt_hash h)
{
    EVP_PKEY *k = keygen("EC", curve);
    uint8_t dg[64], der[160], raw[132], *der2 = NULL, *spki = NULL;
    size_t dlen = (size_t)EVP_MD_get_size(md), der_len, der2_len = 0, spki_len;

    memset(dg, 0x5a, sizeof(dg));
    spki_len = spki_of(k, &spki);
    for (int round = 0; round < 20; round++) { /* short r/s (leading zeros) show up too */
        dg[0] = (uint8_t)round;
        der_len = ossl_sign(k, 0, dg, dlen, md, der, sizeof(der));
        assert_int_equal(sigfmt_ecdsa_der_to_raw(der, der_len, field, raw), 0);
        assert_int_equal(
            sigfmt_verify(spki, spki_len, h, SIGFMT_PAD_NONE, dg, dlen, raw, 2 * field), 0);
        assert_int_equal(sigfmt_ecdsa_raw_to_der(raw, 2 * field, &der2, &der2_len), 0);
        assert_int_equal(der2_len, der_len); /* the same DER back */
        assert_memory_equal(der2, der, der_len);
        free(der2);
        der2 = NULL;
        raw[field + 3] ^= 1; /* tampered s */
        assert_int_equal(
            sigfmt_verify(spki, spki_len, h, SIGFMT_PAD_NONE, dg, dlen, raw, 2 * field),
            AD_ERR_DENIED);
    }
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

static void test_ecdsa_p256(void **state)
{
    (void)state;
    ec_case("P-256", 32, EVP_sha256(), SIGFMT_SHA256);
}

static void test_ecdsa_p384(void **state)
{
    (void)state;
    ec_case("P-384", 48, EVP_sha384(), SIGFMT_SHA384);
}

static void test_der_errors(void **state)
{
    static const uint8_t good[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
    uint8_t raw[64], buf[16], *der = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(sigfmt_ecdsa_der_to_raw(good, sizeof(good), 32, raw), 0);
    assert_int_equal(raw[31], 1);
    assert_int_equal(raw[63], 2);
    assert_int_equal(sigfmt_ecdsa_der_to_raw(good, 0, 32, raw), AD_ERR_SHORT);
    for (size_t n = 1; n < sizeof(good); n++) {
        assert_int_equal(sigfmt_ecdsa_der_to_raw(good, n, 32, raw), AD_ERR_FORMAT);
    }
    memcpy(buf, good, sizeof(good));
    buf[sizeof(good)] = 0;
    assert_int_equal(sigfmt_ecdsa_der_to_raw(buf, sizeof(good) + 1, 32, raw), AD_ERR_TRAILING);
    /* Non-minimal integer (BER, not DER): 02 02 00 01. */
    static const uint8_t ber[] = {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02};
    assert_int_equal(sigfmt_ecdsa_der_to_raw(ber, sizeof(ber), 32, raw), AD_ERR_FORMAT);
    /* r bigger than the field. */
    static const uint8_t wide[] = {0x30, 0x07, 0x02, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
    assert_int_equal(sigfmt_ecdsa_der_to_raw(wide, sizeof(wide), 1, raw), AD_ERR_TOO_LARGE);
    assert_int_equal(sigfmt_ecdsa_raw_to_der(raw, 63, &der, &len), AD_ERR_INVALID);
    assert_int_equal(sigfmt_ecdsa_raw_to_der(raw, 0, &der, &len), AD_ERR_INVALID);
    assert_null(der);
}

static void test_rsa(void **state)
{
    EVP_PKEY *k = keygen("RSA", NULL);
    uint8_t dg[32], sig[256], *spki = NULL;
    size_t len, spki_len = spki_of(k, &spki);

    (void)state;
    memset(dg, 0x33, sizeof(dg));
    len = ossl_sign(k, RSA_PKCS1_PADDING, dg, 32, EVP_sha256(), sig, sizeof(sig));
    assert_int_equal(len, 256);
    assert_int_equal(
        sigfmt_verify(spki, spki_len, SIGFMT_SHA256, SIGFMT_PAD_PKCS1, dg, 32, sig, len), 0);
    assert_int_equal(sigfmt_verify(spki, spki_len, SIGFMT_SHA256, SIGFMT_PAD_PSS, dg, 32, sig, len),
                     AD_ERR_DENIED);
    len = ossl_sign(k, RSA_PKCS1_PSS_PADDING, dg, 32, EVP_sha256(), sig, sizeof(sig));
    assert_int_equal(sigfmt_verify(spki, spki_len, SIGFMT_SHA256, SIGFMT_PAD_PSS, dg, 32, sig, len),
                     0);
    assert_int_equal(
        sigfmt_verify(spki, spki_len, SIGFMT_SHA256, SIGFMT_PAD_PKCS1, dg, 32, sig, len),
        AD_ERR_DENIED);
    /* Wrong digest length for the hash. */
    assert_int_equal(sigfmt_verify(spki, spki_len, SIGFMT_SHA384, SIGFMT_PAD_PSS, dg, 32, sig, len),
                     AD_ERR_INVALID);
    /* Broken SPKI. */
    assert_int_equal(
        sigfmt_verify(spki, spki_len - 1, SIGFMT_SHA256, SIGFMT_PAD_PSS, dg, 32, sig, len),
        AD_ERR_FORMAT);
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

static void test_spki_pem(void **state)
{
    EVP_PKEY *k = keygen("EC", "P-256");
    uint8_t *spki = NULL;
    size_t spki_len = spki_of(k, &spki), len = 0;
    char *pem = NULL;

    (void)state;
    assert_int_equal(sigfmt_spki_to_pem(spki, spki_len, &pem, &len), 0);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(strlen(pem), len);
    free(pem);
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdsa_p256), cmocka_unit_test(test_ecdsa_p384),
        cmocka_unit_test(test_der_errors), cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_spki_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
