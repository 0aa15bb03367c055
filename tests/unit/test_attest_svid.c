/*
 * X.509-SVID issuing: SPIFFE ID checks, the certificate profile (one URI
 * SAN, CA:FALSE, digitalSignature only, lifetime), and that the certificate
 * verifies against the CA as a trust bundle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "svid.h"

static char dir[] = "/tmp/attest-svid.XXXXXX";
static char cert_path[600], key_path[600];

static int setup(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *e;
    FILE *f;

    (void)state;
    if (mkdtemp(dir) == NULL || k == NULL || x == NULL) {
        return -1;
    }
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, k, EVP_sha256());
    snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
    f = fopen(cert_path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
    return 0;
}

static void test_id_check(void **state)
{
    (void)state;
    assert_int_equal(svid_id_check("example.org", "spiffe://example.org/host/abc"), AD_OK);
    assert_int_equal(svid_id_check("example.org", "spiffe://example.org/a/b-c_d.e"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org/"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org/a//b"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org/a/../b"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org/a/."), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org/a?x=1"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://evil.org/a"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "spiffe://example.org.evil/a"), AD_OK);
    assert_int_not_equal(svid_id_check("example.org", "https://example.org/a"), AD_OK);
    assert_int_not_equal(svid_id_check("Example.org", "spiffe://Example.org/a"), AD_OK);
    assert_int_not_equal(svid_id_check("", "spiffe:///a"), AD_OK);
}

static void check_profile(X509 *x, const char *id, unsigned lifetime)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    const GENERAL_NAME *gn;
    int day = 0, sec = 0;

    assert_non_null(san);
    assert_int_equal(sk_GENERAL_NAME_num(san), 1);
    gn = sk_GENERAL_NAME_value(san, 0);
    assert_int_equal(gn->type, GEN_URI);
    assert_int_equal(ASN1_STRING_length(gn->d.uniformResourceIdentifier), strlen(id));
    assert_memory_equal(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), id, strlen(id));
    GENERAL_NAMES_free(san);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    assert_int_equal(day * 86400 + sec, (int)lifetime + 60);
}

static void test_issue(void **state)
{
    const char *id = "spiffe://example.org/host/0123abcd";
    struct svid_ca *ca = NULL;
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    uint8_t *der = NULL;
    const uint8_t *p;
    size_t len = 0;
    X509 *x;

    (void)state;
    assert_int_equal(svid_ca_load(cert_path, key_path, NULL, &ca), AD_OK);
    assert_int_equal(svid_issue(ca, "example.org", id, k, 3600, &der, &len), AD_OK);
    p = der;
    x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    check_profile(x, id, 3600);
    assert_int_equal(X509_STORE_add_cert(store, svid_ca_cert(ca)), 1);
    assert_int_equal(X509_STORE_CTX_init(vctx, store, x, NULL), 1);
    assert_int_equal(X509_verify_cert(vctx), 1);
    X509_free(x);
    OPENSSL_free(der);
    der = NULL;
    /* Refusals: a foreign trust domain, zero or overlong lifetimes. */
    assert_int_equal(svid_issue(ca, "example.org", "spiffe://other.org/x", k, 60, &der, &len),
                     AD_ERR_INVALID);
    assert_int_equal(svid_issue(ca, "example.org", id, k, 0, &der, &len), AD_ERR_INVALID);
    assert_int_equal(svid_issue(ca, "example.org", id, k, SVID_LIFETIME_MAX + 1, &der, &len),
                     AD_ERR_INVALID);
    assert_null(der);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    EVP_PKEY_free(k);
    svid_ca_free(ca);
}

/* A certificate never outlives its CA. */
static void test_clamped_to_ca(void **state)
{
    struct svid_ca *ca = NULL;
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    uint8_t *der = NULL;
    const uint8_t *p;
    size_t len = 0;
    X509 *x;

    (void)state;
    assert_int_equal(svid_ca_load(cert_path, key_path, NULL, &ca), AD_OK);
    assert_int_equal(
        svid_issue(ca, "example.org", "spiffe://example.org/w", k, 20 * 86400, &der, &len), AD_OK);
    p = der;
    x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(svid_ca_cert(ca))),
                     0);
    X509_free(x);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    svid_ca_free(ca);
}

static void test_ca_load_errors(void **state)
{
    struct svid_ca *ca = NULL;

    (void)state;
    assert_int_equal(svid_ca_load("/nonexistent.pem", key_path, NULL, &ca), AD_ERR_SYSTEM);
    /* The key file is not a certificate. */
    assert_int_equal(svid_ca_load(key_path, key_path, NULL, &ca), AD_ERR_CONFIG);
    /* A pkcs11: key needs a module. */
    assert_int_equal(svid_ca_load(cert_path, "pkcs11:object=ca", NULL, &ca), AD_ERR_INVALID);
    assert_null(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_check),
        cmocka_unit_test(test_issue),
        cmocka_unit_test(test_clamped_to_ca),
        cmocka_unit_test(test_ca_load_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
