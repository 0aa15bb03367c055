/*
 * agentd-ca's view of a TLS client certificate (attest/peercert.c): the one
 * URI SAN of a verified certificate, and the match against the host a
 * request names, exact to the byte: no prefix, suffix, case or trust-domain
 * slack, no embedded NUL, exactly one SAN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "peercert.h"

#define TD "test.example"
#define HOST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static EVP_PKEY *key;

static int setup(void **state)
{
    (void)state;
    return (key = EVP_EC_gen("prime256v1")) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    return 0;
}

/* A self-signed certificate whose subjectAltName is san (X509V3 syntax), or none if NULL. */
static X509 *cert_with(const char *san)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *e;

    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    if (san != NULL) {
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

/* A certificate whose one URI SAN is the len raw bytes uri (NULs included). */
static X509 *cert_raw_uri(const char *uri, int len)
{
    X509 *x = cert_with(NULL);
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    assert_non_null(names);
    assert_non_null(gn);
    assert_non_null(s);
    assert_int_equal(ASN1_STRING_set(s, uri, len), 1);
    GENERAL_NAME_set0_value(gn, GEN_URI, s);
    assert_true(sk_GENERAL_NAME_push(names, gn) > 0);
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT), 1);
    GENERAL_NAMES_free(names);
    return x;
}

static enum peercert_verdict check(X509 *x, long verify, const char *host_id)
{
    struct peercert p;
    char why[256];
    enum peercert_verdict v;

    peercert_from_x509(x, verify, &p);
    why[0] = '\0';
    v = peercert_check_host(&p, TD, host_id, why, sizeof(why));
    if (v != PEERCERT_IS_HOST) {
        assert_true(strlen(why) > 0); /* every refusal says why */
    }
    X509_free(x);
    return v;
}

static void test_none_and_unverified(void **state)
{
    struct peercert p;
    char why[256];

    (void)state;
    peercert_from_x509(NULL, X509_V_OK, &p);
    assert_int_equal(p.state, PEERCERT_NONE);
    assert_int_equal(peercert_check_host(&p, TD, HOST, why, sizeof(why)), PEERCERT_UNAUTHENTICATED);
    assert_non_null(strstr(why, "client certificate"));
    /* The right name does not help a certificate that did not verify. */
    assert_int_equal(check(cert_with("URI:spiffe://" TD "/host/" HOST),
                           X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, HOST),
                     PEERCERT_UNAUTHENTICATED);
    assert_int_equal(
        check(cert_with("URI:spiffe://" TD "/host/" HOST), X509_V_ERR_CERT_HAS_EXPIRED, HOST),
        PEERCERT_UNAUTHENTICATED);
}

static void test_exact_host(void **state)
{
    (void)state;
    assert_int_equal(check(cert_with("URI:spiffe://" TD "/host/" HOST), X509_V_OK, HOST),
                     PEERCERT_IS_HOST);
}

static void test_other_identities(void **state)
{
    static const char *const sans[] = {
        "URI:spiffe://" TD "/host/" OTHER,       /* another host */
        "URI:spiffe://other.example/host/" HOST, /* another trust domain */
        "URI:spiffe://" TD "/workload/web",      /* a workload */
        "URI:spiffe://" TD "/host/" HOST "/x",   /* suffix */
        "URI:spiffe://" TD "/host/" HOST "0",    /* longer id */
        "URI:spiffe://" TD "/host/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "URI:SPIFFE://" TD "/host/" HOST, /* scheme case */
        "URI:spiffe://" TD "/host/",      /* no id */
        "URI:spiffe://" TD "."
        "/host/" HOST, /* trailing dot */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sans) / sizeof(sans[0]); i++) {
        assert_int_equal(check(cert_with(sans[i]), X509_V_OK, HOST), PEERCERT_OTHER_HOST);
    }
}

static void test_not_one_uri(void **state)
{
    (void)state;
    assert_int_equal(check(cert_with(NULL), X509_V_OK, HOST), PEERCERT_UNAUTHENTICATED);
    assert_int_equal(check(cert_with("DNS:host.test.example"), X509_V_OK, HOST),
                     PEERCERT_UNAUTHENTICATED);
    assert_int_equal(
        check(cert_with("URI:spiffe://" TD "/host/" HOST ",DNS:a.example"), X509_V_OK, HOST),
        PEERCERT_UNAUTHENTICATED);
    assert_int_equal(
        check(cert_with("URI:spiffe://" TD "/host/" HOST ",URI:spiffe://" TD "/host/" OTHER),
              X509_V_OK, HOST),
        PEERCERT_UNAUTHENTICATED);
}

static void test_embedded_nul_and_sizes(void **state)
{
    static const char nul[] = "spiffe://" TD "/host/" HOST "\0/evil";
    static char big[SVID_ID_MAX + 2];

    (void)state;
    assert_int_equal(check(cert_raw_uri(nul, (int)sizeof(nul) - 1), X509_V_OK, HOST),
                     PEERCERT_UNAUTHENTICATED);
    assert_int_equal(check(cert_raw_uri("", 0), X509_V_OK, HOST), PEERCERT_UNAUTHENTICATED);
    memset(big, 'a', sizeof(big) - 1);
    assert_int_equal(check(cert_raw_uri(big, SVID_ID_MAX + 1), X509_V_OK, HOST),
                     PEERCERT_UNAUTHENTICATED);
    /* SVID_ID_MAX itself fits, and is then just another identity. */
    assert_int_equal(check(cert_raw_uri(big, SVID_ID_MAX), X509_V_OK, HOST), PEERCERT_OTHER_HOST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_and_unverified),    cmocka_unit_test(test_exact_host),
        cmocka_unit_test(test_other_identities),       cmocka_unit_test(test_not_one_uri),
        cmocka_unit_test(test_embedded_nul_and_sizes),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
