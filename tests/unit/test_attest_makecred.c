/*
 * MakeCredential: the output structure, its limits, and a software
 * ActivateCredential (Part 1 §24) with the EK private key, for RSA and ECC
 * EKs. Interoperability with a real TPM is proven by
 * tests/integration/enroll_makecred.sh (tpm2_activatecredential on swtpm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "makecred.h"
#include "tpms.h"

static const uint8_t name[34] = {0x00, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9};

static void ek_template(TPMT_PUBLIC *pub, TPMI_ALG_PUBLIC type)
{
    memset(pub, 0, sizeof(*pub));
    pub->type = type;
    pub->nameAlg = TPM2_ALG_SHA256;
    pub->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    pub->parameters.asymDetail.symmetric.algorithm = TPM2_ALG_AES;
    pub->parameters.asymDetail.symmetric.keyBits.aes = 128;
    pub->parameters.asymDetail.symmetric.mode.aes = TPM2_ALG_CFB;
}

static EVP_PKEY *rsa_ek(TPMT_PUBLIC *pub)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIGNUM *n = NULL;

    assert_non_null(k);
    ek_template(pub, TPM2_ALG_RSA);
    pub->parameters.rsaDetail.keyBits = 2048;
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    pub->unique.rsa.size = 256;
    assert_int_equal(BN_bn2binpad(n, pub->unique.rsa.buffer, 256), 256);
    BN_free(n);
    return k;
}

static EVP_PKEY *ecc_ek(TPMT_PUBLIC *pub)
{
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    uint8_t pt[65];
    size_t len = 0;

    assert_non_null(k);
    ek_template(pub, TPM2_ALG_ECC);
    pub->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len), 1);
    assert_int_equal(len, 65);
    pub->unique.ecc.x.size = 32;
    memcpy(pub->unique.ecc.x.buffer, pt + 1, 32);
    pub->unique.ecc.y.size = 32;
    memcpy(pub->unique.ecc.y.buffer, pt + 33, 32);
    return k;
}

static void rsa_unseal(EVP_PKEY *k, const uint8_t *enc, size_t enc_len, uint8_t *seed)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    void *label = OPENSSL_memdup("IDENTITY", 9);
    uint8_t out[256];
    size_t len = sizeof(out);

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, out, &len, enc, enc_len), 1);
    assert_int_equal(len, 32);
    memcpy(seed, out, 32);
    EVP_PKEY_CTX_free(ctx);
}

/* The ephemeral point arrives as a TPMS_ECC_POINT; Z = x(d_ek * Q_e). */
static void ecc_unseal(EVP_PKEY *k, const TPMT_PUBLIC *ek, const uint8_t *enc, size_t enc_len,
                       uint8_t *seed)
{
    uint8_t pt[65], z[32];
    size_t zlen = sizeof(z);
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *ctx = NULL, *dctx = NULL;
    OSSL_PARAM params[3];

    assert_int_equal(enc_len, 2 + 32 + 2 + 32);
    pt[0] = 4;
    memcpy(pt + 1, enc + 2, 32);
    memcpy(pt + 33, enc + 36, 32);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &eph, EVP_PKEY_PUBLIC_KEY, params), 1);
    dctx = EVP_PKEY_CTX_new(k, NULL);
    assert_int_equal(EVP_PKEY_derive_init(dctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(dctx, eph), 1);
    assert_int_equal(EVP_PKEY_derive(dctx, z, &zlen), 1);
    assert_int_equal(makecred_kdfe(TPM2_ALG_SHA256, z, zlen, "IDENTITY", pt + 1, 32,
                                   ek->unique.ecc.x.buffer, 32, 256, seed),
                     AD_OK);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(eph);
}

/* Part 1 §24.5/§24.6 on the TPM side: check the HMAC, then decrypt. */
static int activate(const uint8_t *seed, const uint8_t *blob, size_t blob_len, const uint8_t *nm,
                    size_t nm_len, uint8_t *ret_secret, size_t *ret_len)
{
    uint8_t hkey[32], sym[16], mac[32], plain[64];
    size_t enc_len = blob_len - 4 - 32, mlen = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mc = EVP_MAC_CTX_new(m);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    OSSL_PARAM params[2];
    static const uint8_t iv[16];
    int n = 0, ok;

    assert_int_equal((blob[0] << 8) | blob[1], blob_len - 2);
    assert_int_equal((blob[2] << 8) | blob[3], 32);
    assert_int_equal(
        makecred_kdfa(TPM2_ALG_SHA256, seed, 32, "INTEGRITY", NULL, 0, NULL, 0, 256, hkey), AD_OK);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_MAC_init(mc, hkey, 32, params), 1);
    assert_int_equal(EVP_MAC_update(mc, blob + 36, enc_len), 1);
    assert_int_equal(EVP_MAC_update(mc, nm, nm_len), 1);
    assert_int_equal(EVP_MAC_final(mc, mac, &mlen, sizeof(mac)), 1);
    ok = memcmp(mac, blob + 4, 32) == 0;
    if (ok) {
        assert_int_equal(
            makecred_kdfa(TPM2_ALG_SHA256, seed, 32, "STORAGE", nm, nm_len, NULL, 0, 128, sym),
            AD_OK);
        assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), NULL, sym, iv), 1);
        assert_int_equal(EVP_DecryptUpdate(c, plain, &n, blob + 36, (int)enc_len), 1);
        assert_int_equal(n, enc_len);
        assert_int_equal((plain[0] << 8) | plain[1], enc_len - 2);
        memcpy(ret_secret, plain + 2, enc_len - 2);
        *ret_len = enc_len - 2;
    }
    EVP_CIPHER_CTX_free(c);
    EVP_MAC_CTX_free(mc);
    EVP_MAC_free(m);
    return ok;
}

static void roundtrip(TPMI_ALG_PUBLIC type)
{
    static const uint8_t secret[32] = "credential-secret-0123456789abc";
    uint8_t *blob = NULL, *enc = NULL, seed[32], got[64];
    size_t blob_len = 0, enc_len = 0, got_len = 0;
    uint8_t other[34];
    TPMT_PUBLIC ek;
    EVP_PKEY *k = type == TPM2_ALG_RSA ? rsa_ek(&ek) : ecc_ek(&ek);

    assert_int_equal(makecred_make(&ek, name, sizeof(name), secret, sizeof(secret), &blob,
                                   &blob_len, &enc, &enc_len),
                     AD_OK);
    assert_int_equal((enc[0] << 8) | enc[1], enc_len - 2);
    if (type == TPM2_ALG_RSA) {
        assert_int_equal(enc_len, 2 + 256);
        rsa_unseal(k, enc + 2, enc_len - 2, seed);
    } else {
        ecc_unseal(k, &ek, enc + 2, enc_len - 2, seed);
    }
    assert_true(activate(seed, blob, blob_len, name, sizeof(name), got, &got_len));
    assert_int_equal(got_len, sizeof(secret));
    assert_memory_equal(got, secret, sizeof(secret));
    /* The integrity HMAC binds the credential to the AK's name. */
    memcpy(other, name, sizeof(other));
    other[5] ^= 1;
    assert_false(activate(seed, blob, blob_len, other, sizeof(other), got, &got_len));
    free(blob);
    free(enc);
    EVP_PKEY_free(k);
}

static void test_rsa_roundtrip(void **state)
{
    (void)state;
    roundtrip(TPM2_ALG_RSA);
}

static void test_ecc_roundtrip(void **state)
{
    (void)state;
    roundtrip(TPM2_ALG_ECC);
}

static void test_limits(void **state)
{
    uint8_t secret[33] = {0}, *blob = NULL, *enc = NULL;
    size_t blob_len = 0, enc_len = 0;
    TPMT_PUBLIC ek;
    EVP_PKEY *k = ecc_ek(&ek);

    (void)state;
    /* Part 3 §12.6: no larger than the nameAlg digest; never empty. */
    assert_int_equal(
        makecred_make(&ek, name, sizeof(name), secret, 33, &blob, &blob_len, &enc, &enc_len),
        AD_ERR_INVALID);
    assert_int_equal(
        makecred_make(&ek, name, sizeof(name), secret, 0, &blob, &blob_len, &enc, &enc_len),
        AD_ERR_INVALID);
    assert_int_equal(makecred_make(&ek, name, 1, secret, 16, &blob, &blob_len, &enc, &enc_len),
                     AD_ERR_INVALID);
    ek.parameters.asymDetail.symmetric.algorithm = TPM2_ALG_NULL;
    assert_int_equal(
        makecred_make(&ek, name, sizeof(name), secret, 16, &blob, &blob_len, &enc, &enc_len),
        AD_ERR_UNSUPPORTED);
    assert_null(blob);
    assert_null(enc);
    EVP_PKEY_free(k);
}

/* KDFa output is a prefix-stable stream: 40 bytes start with the 32-byte output. */
static void test_kdfa_prefix(void **state)
{
    static const uint8_t key[32] = {1};
    uint8_t a[32], b[40];

    (void)state;
    assert_int_equal(makecred_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", name, 34, NULL, 0, 256, a),
                     AD_OK);
    assert_int_equal(makecred_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", name, 34, NULL, 0, 320, b),
                     AD_OK);
    /* [bits] is part of the input, so the streams differ. */
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(makecred_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", NULL, 0, NULL, 0, 12, a),
                     AD_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_roundtrip),
        cmocka_unit_test(test_ecc_roundtrip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_kdfa_prefix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
