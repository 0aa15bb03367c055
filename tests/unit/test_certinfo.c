/*
 * certinfo: the fields LIST_OBJECTS sends (DER Names, DER INTEGER serial),
 * validity and URI SAN from a real certificate; every malformed input
 * (empty, truncated, trailing bytes, oversized, not a certificate) is
 * refused. Also worker_run_sync, which the identity thread uses to reach the
 * TPM worker.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "worker.h"

static EVP_PKEY *key_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

/* A certificate for key, signed by itself, with serial and (optionally) a URI SAN. */
static X509 *cert_new(EVP_PKEY *key, long serial, const char *uri)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    char san[256];
    X509_EXTENSION *ext;
    X509V3_CTX ctx;

    assert_non_null(x);
    assert_non_null(n);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"certinfo test", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_subject_name(x, n), 1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    if (uri != NULL) {
        snprintf(san, sizeof(san), "URI:%s", uri);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return x;
}

static size_t der_of(X509 *x, uint8_t **ret)
{
    int n;

    *ret = NULL;
    n = i2d_X509(x, ret);
    assert_true(n > 0);
    return (size_t)n;
}

static char *pem_of(X509 *const *xs, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *out;
    long len;

    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(PEM_write_bio_X509(b, xs[i]), 1);
    }
    len = BIO_get_mem_data(b, &p);
    out = calloc(1, (size_t)len + 1);
    assert_non_null(out);
    memcpy(out, p, (size_t)len);
    BIO_free(b);
    return out;
}

static void test_fields(void **state)
{
    EVP_PKEY *key = key_new(), *other = key_new();
    X509 *x = cert_new(key, 0x1234, "spiffe://test.example/workload/w1");
    struct certinfo ci, copy;
    uint8_t *der = NULL, *name = NULL, *spki = NULL;
    size_t len = der_of(x, &der);
    int nlen, slen;

    (void)state;
    memset(&ci, 0, sizeof(ci));
    assert_int_equal(certinfo_from_der(der, len, &ci), AD_OK);
    assert_int_equal(ci.der_len, len);
    assert_memory_equal(ci.der, der, len);
    nlen = i2d_X509_NAME(X509_get_subject_name(x), &name);
    assert_int_equal(ci.subject_len, (size_t)nlen);
    assert_memory_equal(ci.subject, name, (size_t)nlen);
    assert_memory_equal(ci.issuer, name, (size_t)nlen);
    /* CKA_SERIAL_NUMBER is the DER INTEGER: 02 02 12 34 */
    assert_int_equal(ci.serial_len, 4);
    assert_memory_equal(ci.serial, "\x02\x02\x12\x34", 4);
    assert_string_equal(ci.serial_hex, "1234");
    assert_true(ci.not_after - ci.not_before == 3600);
    assert_string_equal(ci.uri, "spiffe://test.example/workload/w1");
    slen = i2d_PUBKEY(key, &spki);
    assert_true(certinfo_has_spki(&ci, spki, (size_t)slen));
    OPENSSL_free(spki);
    spki = NULL;
    slen = i2d_PUBKEY(other, &spki);
    assert_false(certinfo_has_spki(&ci, spki, (size_t)slen));
    assert_int_equal(certinfo_copy(&ci, &copy), AD_OK);
    assert_int_equal(copy.der_len, ci.der_len);
    assert_memory_equal(copy.der, ci.der, ci.der_len);
    assert_ptr_not_equal(copy.der, ci.der);
    assert_string_equal(copy.uri, ci.uri);
    certinfo_clear(&copy);
    certinfo_clear(&ci);
    certinfo_clear(&ci); /* a cleared one is fine again */
    assert_null(ci.der);
    OPENSSL_free(spki);
    OPENSSL_free(name);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_bad_der(void **state)
{
    EVP_PKEY *key = key_new();
    X509 *x = cert_new(key, 7, NULL);
    struct certinfo ci;
    uint8_t *der = NULL, *longer;
    size_t len = der_of(x, &der);

    (void)state;
    memset(&ci, 0, sizeof(ci));
    assert_int_equal(certinfo_from_der(der, 0, &ci), AD_ERR_FORMAT);           /* zero-length */
    assert_int_equal(certinfo_from_der(der, len - 1, &ci), AD_ERR_FORMAT);     /* truncated */
    assert_int_equal(certinfo_from_der(der, len / 2, &ci), AD_ERR_FORMAT);     /* truncated */
    assert_int_equal(certinfo_from_der(der + 1, len - 1, &ci), AD_ERR_FORMAT); /* not DER */
    longer = calloc(1, CERTINFO_DER_MAX + 1);
    assert_non_null(longer);
    memcpy(longer, der, len);
    assert_int_equal(certinfo_from_der(longer, len + 1, &ci), AD_ERR_FORMAT); /* trailing */
    assert_int_equal(certinfo_from_der(longer, CERTINFO_DER_MAX + 1, &ci), AD_ERR_TOO_LARGE);
    assert_null(ci.der); /* nothing filled on failure */
    /* no URI SAN: parsed, uri NULL */
    assert_int_equal(certinfo_from_der(der, len, &ci), AD_OK);
    assert_null(ci.uri);
    certinfo_clear(&ci);
    free(longer);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_pem_lists(void **state)
{
    EVP_PKEY *key = key_new();
    X509 *xs[CERTINFO_LIST_MAX + 1];
    struct certinfo *list = NULL, one;
    size_t n = 0;
    char *pem;

    (void)state;
    for (size_t i = 0; i < CERTINFO_LIST_MAX + 1; i++) {
        xs[i] = cert_new(key, (long)i + 1, NULL);
    }
    pem = pem_of(xs, 2);
    assert_int_equal(certinfo_list_from_pem(pem, &list, &n), AD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].serial_hex, "01");
    assert_string_equal(list[1].serial_hex, "02");
    certinfo_list_free(list, n);
    assert_int_equal(certinfo_from_pem(pem, &one), AD_OK); /* the first one */
    assert_string_equal(one.serial_hex, "01");
    certinfo_clear(&one);
    free(pem);
    pem = pem_of(xs, CERTINFO_LIST_MAX + 1); /* over the CA record cap */
    list = NULL;
    assert_int_equal(certinfo_list_from_pem(pem, &list, &n), AD_ERR_TOO_LARGE);
    assert_null(list);
    free(pem);
    assert_int_equal(certinfo_list_from_pem("", &list, &n), AD_ERR_FORMAT);
    assert_int_equal(certinfo_list_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                            "-----END CERTIFICATE-----\n",
                                            &list, &n),
                     AD_ERR_FORMAT);
    assert_int_equal(certinfo_from_pem("not pem at all", &one), AD_ERR_FORMAT);
    for (size_t i = 0; i < CERTINFO_LIST_MAX + 1; i++) {
        X509_free(xs[i]);
    }
    EVP_PKEY_free(key);
}

/* worker_run_sync from other threads, interleaved with nothing on the loop side. */
struct sync_arg {
    int add;
};

static void add_fn(void *ctx, void *arg)
{
    int *total = ctx; /* only the worker thread touches it */

    *total += ((struct sync_arg *)arg)->add;
}

static void *caller(void *arg)
{
    struct worker *w = arg;
    struct sync_arg a = {1};

    for (int i = 0; i < 1000; i++) {
        worker_run_sync(w, add_fn, &a);
    }
    return NULL;
}

static void test_worker_run_sync(void **state)
{
    struct worker *w = NULL;
    pthread_t t[3];
    int total = 0;

    (void)state;
    assert_int_equal(worker_new(&total, NULL, &w), AD_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, caller, w), 0);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_int_equal(worker_pending(w), 0); /* never counted as loop work */
    worker_free(w);
    assert_int_equal(total, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_bad_der),
        cmocka_unit_test(test_pem_lists),
        cmocka_unit_test(test_worker_run_sync),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
