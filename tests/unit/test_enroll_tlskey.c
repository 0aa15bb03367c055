/*
 * agentd/tlskey.c: an EVP_PKEY whose ECDSA signatures come from a callback
 * (the TPM in agentd). A software key stands in for the TPM here: what the
 * EVP layer signs through the foreign key verifies with the certificate's
 * public key, for the digest TLS 1.3 uses with P-256 (SHA-256) and for
 * SHA-384; the callback sees the digest, not the message; a failing
 * callback fails the signature; RSA certificates are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tlskey.h"

struct fake_tpm {
    EVP_PKEY *key; /* the "TPM" key */
    size_t calls;
    size_t last_len;
    int is_broken;
};

/* Sign the digest as the TPM would (raw r||s, 32 bytes each for P-256). */
static int fake_sign(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                     size_t *ret_sig_len)
{
    struct fake_tpm *t = ctx;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(t->key, NULL);
    unsigned char der[80];
    const unsigned char *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *sig = NULL;

    t->calls++;
    t->last_len = digest_len;
    if (t->is_broken) {
        EVP_PKEY_CTX_free(pc);
        return AD_ERR_TPM;
    }
    assert_non_null(pc);
    assert_int_equal(EVP_PKEY_sign_init(pc), 1);
    assert_int_equal(EVP_PKEY_sign(pc, der, &der_len, digest, digest_len), 1);
    assert_non_null(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len));
    assert_true(*ret_sig_len >= 64);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), ret_sig, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), ret_sig + 32, 32), 32);
    *ret_sig_len = 64;
    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(pc);
    return AD_OK;
}

static X509 *cert_for(EVP_PKEY *k)
{
    X509 *x = X509_new();

    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    return x;
}

/* Sign msg with pkey through EVP (the path TLS takes); 1 if it verified with cert's key. */
static int sign_verify(EVP_PKEY *pkey, X509 *cert, const EVP_MD *md, int *ret_signed)
{
    static const unsigned char msg[] = "TLS 1.3, client CertificateVerify";
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char sig[160];
    size_t len = sizeof(sig);
    int ok;

    assert_non_null(m);
    *ret_signed = EVP_DigestSignInit(m, NULL, md, NULL, pkey) == 1 &&
                  EVP_DigestSign(m, sig, &len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(m);
    if (!*ret_signed) {
        return 0;
    }
    assert_non_null(m = EVP_MD_CTX_new());
    ok = EVP_DigestVerifyInit(m, NULL, md, NULL, X509_get0_pubkey(cert)) == 1 &&
         EVP_DigestVerify(m, sig, len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static void test_signs_through_callback(void **state)
{
    struct fake_tpm t = {0};
    EVP_PKEY *pkey = NULL;
    X509 *cert;
    int is_signed;

    (void)state;
    assert_non_null(t.key = EVP_EC_gen("prime256v1"));
    cert = cert_for(t.key);
    assert_int_equal(tlskey_new(cert, fake_sign, &t, &pkey), AD_OK);
    assert_int_equal(X509_check_private_key(cert, pkey), 1); /* SSL_CTX_use_PrivateKey's check */
    assert_true(sign_verify(pkey, cert, EVP_sha256(), &is_signed));
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.last_len, 32);
    assert_true(sign_verify(pkey, cert, EVP_sha384(), &is_signed));
    assert_int_equal(t.calls, 2);
    assert_int_equal(t.last_len, 48);
    /* The TPM fails: no signature. */
    t.is_broken = 1;
    assert_false(sign_verify(pkey, cert, EVP_sha256(), &is_signed));
    assert_false(is_signed);
    EVP_PKEY_free(pkey);
    X509_free(cert);
    EVP_PKEY_free(t.key);
}

static void test_rsa_refused(void **state)
{
    struct fake_tpm t = {0};
    EVP_PKEY *pkey = NULL;
    X509 *cert;

    (void)state;
    assert_non_null(t.key = EVP_RSA_gen(2048));
    cert = cert_for(t.key);
    assert_int_equal(tlskey_new(cert, fake_sign, &t, &pkey), AD_ERR_UNSUPPORTED);
    assert_null(pkey);
    X509_free(cert);
    EVP_PKEY_free(t.key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signs_through_callback),
        cmocka_unit_test(test_rsa_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
