/*
 * keyblob: TSS2 PRIVATE KEY encode/decode round trips, and every malformed
 * input (truncated, corrupted, trailing, oversized, empty) refused with the
 * right error. No TPM: blobs are built with tss2-mu.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <tss2/tss2_mu.h>

#include "keyblob.h"

/*
 * Allocation-failure hook over our own malloc/calloc calls (--wrap): when
 * fail_at > 0, the fail_at-th allocation fails.
 */
static int alloc_count, fail_at;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_malloc(size_t n)
{
    if (fail_at > 0 && ++alloc_count == fail_at) {
        return NULL;
    }
    return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
    if (fail_at > 0 && ++alloc_count == fail_at) {
        return NULL;
    }
    return __real_calloc(a, b);
}

static uint8_t pub[512], priv[512];
static size_t pub_len, priv_len;

/* A plausible EC P-256 public area and a private blob of random-looking bytes. */
static int setup(void **state)
{
    TPM2B_PUBLIC p = {0};
    TPM2B_PRIVATE s = {0};

    (void)state;
    p.publicArea.type = TPM2_ALG_ECC;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM;
    p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.publicArea.unique.ecc.x.size = 32;
    p.publicArea.unique.ecc.y.size = 32;
    memset(p.publicArea.unique.ecc.x.buffer, 0x11, 32);
    memset(p.publicArea.unique.ecc.y.buffer, 0x22, 32);
    s.size = 126;
    for (unsigned i = 0; i < s.size; i++) {
        s.buffer[i] = (uint8_t)(i * 7 + 3);
    }
    pub_len = priv_len = 0;
    assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p, pub, sizeof(pub), &pub_len), 0);
    assert_int_equal(Tss2_MU_TPM2B_PRIVATE_Marshal(&s, priv, sizeof(priv), &priv_len), 0);
    return 0;
}

static struct keyblob *make(void)
{
    struct keyblob *kb = NULL;

    assert_int_equal(keyblob_new(pub, pub_len, priv, priv_len, KEYBLOB_PARENT_OWNER, true, &kb), 0);
    return kb;
}

static void assert_same(const struct keyblob *a, const struct keyblob *b)
{
    assert_int_equal(a->pub_len, b->pub_len);
    assert_memory_equal(a->pub, b->pub, a->pub_len);
    assert_int_equal(a->priv_len, b->priv_len);
    assert_memory_equal(a->priv, b->priv, a->priv_len);
    assert_int_equal(a->parent, b->parent);
    assert_int_equal(a->is_empty_auth, b->is_empty_auth);
}

static void test_der_round_trip(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    uint8_t *der = NULL;
    size_t len = 0;

    (void)state;
    kb->parent = 0x81000001;
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    assert_int_equal(keyblob_decode_der(der, len, &back), 0);
    assert_same(kb, back);
    keyblob_free(back);
    back = NULL;
    kb->is_empty_auth = false; /* emptyAuth absent */
    free(der);
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    assert_int_equal(keyblob_decode_der(der, len, &back), 0);
    assert_same(kb, back);
    free(der);
    keyblob_free(back);
    keyblob_free(kb);
}

static void test_pem_round_trip(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    char *pem = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(keyblob_encode_pem(kb, &pem, &len), 0);
    assert_non_null(strstr(pem, "-----BEGIN TSS2 PRIVATE KEY-----\n"));
    assert_int_equal(strlen(pem), len);
    assert_int_equal(keyblob_decode_pem(pem, len, &back), 0);
    assert_same(kb, back);
    free(pem);
    keyblob_free(back);
    keyblob_free(kb);
}

/* Every proper prefix of a valid DER blob is refused. */
static void test_truncated(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    uint8_t *der = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    assert_int_equal(keyblob_decode_der(der, 0, &back), AD_ERR_SHORT);
    for (size_t n = 1; n < len; n++) {
        int r = keyblob_decode_der(der, n, &back);
        assert_true(r == AD_ERR_FORMAT || r == AD_ERR_SHORT);
        assert_null(back);
    }
    free(der);
    keyblob_free(kb);
}

static void test_trailing(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    uint8_t *der = NULL, *more;
    char *pem = NULL, *pem2;
    size_t len = 0, plen = 0;

    (void)state;
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    more = malloc(len + 1);
    memcpy(more, der, len);
    more[len] = 0;
    assert_int_equal(keyblob_decode_der(more, len + 1, &back), AD_ERR_TRAILING);
    assert_int_equal(keyblob_encode_pem(kb, &pem, &plen), 0);
    pem2 = malloc(plen + 16);
    memcpy(pem2, pem, plen);
    memcpy(pem2 + plen, "\n\n  \n", 5); /* blank lines are fine */
    assert_int_equal(keyblob_decode_pem(pem2, plen + 5, &back), 0);
    keyblob_free(back);
    back = NULL;
    memcpy(pem2 + plen, "junk\n", 5);
    assert_int_equal(keyblob_decode_pem(pem2, plen + 5, &back), AD_ERR_TRAILING);
    /* Text before BEGIN is refused too. */
    memcpy(pem2, "x", 1);
    assert_int_equal(keyblob_decode_pem(pem2, plen, &back), AD_ERR_FORMAT);
    free(more);
    free(pem);
    free(pem2);
    free(der);
    keyblob_free(kb);
}

/* Flip each byte of the DER: never a crash; a structural flip is refused. */
static void test_corrupted(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    unsigned refused = 0;

    (void)state;
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    for (size_t i = 0; i < len; i++) {
        der[i] ^= 0x41;
        if (keyblob_decode_der(der, len, &back) != 0) {
            refused++;
        }
        keyblob_free(back);
        back = NULL;
        der[i] ^= 0x41;
    }
    /* The first bytes are SEQUENCE tag/length, OID: these must all be refused. */
    assert_true(refused >= 12);
    der[0] = 0x31; /* SET, not SEQUENCE */
    assert_int_equal(keyblob_decode_der(der, len, &back), AD_ERR_FORMAT);
    free(der);
    keyblob_free(kb);
}

static void test_oversized(void **state)
{
    struct keyblob *back = NULL, *kb = NULL;
    uint8_t *big = calloc(1, KEYBLOB_DER_MAX + 1);
    char *pem = calloc(1, KEYBLOB_FILE_MAX + 1);

    (void)state;
    assert_int_equal(keyblob_decode_der(big, KEYBLOB_DER_MAX + 1, &back), AD_ERR_TOO_LARGE);
    assert_int_equal(keyblob_decode_pem(pem, KEYBLOB_FILE_MAX + 1, &back), AD_ERR_TOO_LARGE);
    assert_int_equal(keyblob_new(big, KEYBLOB_PUB_MAX + 1, priv, priv_len, 0, true, &kb),
                     AD_ERR_TOO_LARGE);
    free(big);
    free(pem);
}

/* keyblob_new proves both blobs unmarshal exactly. */
static void test_bad_blobs(void **state)
{
    struct keyblob *kb = NULL;

    (void)state;
    assert_int_equal(keyblob_new(pub, pub_len - 1, priv, priv_len, 0, true, &kb), AD_ERR_FORMAT);
    assert_int_equal(keyblob_new(pub, pub_len, priv, priv_len + 1, 0, true, &kb), AD_ERR_FORMAT);
    assert_int_equal(keyblob_new(priv, priv_len, priv, priv_len, 0, true, &kb), AD_ERR_FORMAT);
    assert_null(kb);
}

/* Hand-made DER with a policy [1]: a valid key file we do not handle. */
static void test_policy_unsupported(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    uint8_t *der = NULL, *mod;
    size_t len = 0;

    (void)state;
    assert_int_equal(keyblob_encode_der(kb, &der, &len), 0);
    /* der: 30 81 LL | 06 06 <oid> | a0 03 01 01 ff | rest. Insert a1 02 30 00 after emptyAuth. */
    assert_int_equal(der[0], 0x30);
    assert_int_equal(der[1], 0x81);
    mod = malloc(len + 4);
    memcpy(mod, der, 16);
    memcpy(mod + 16, "\xa1\x02\x30\x00", 4);
    memcpy(mod + 20, der + 16, len - 16);
    mod[2] = (uint8_t)(der[2] + 4);
    assert_int_equal(mod[11], 0xa0);
    assert_int_equal(keyblob_decode_der(mod, len + 4, &back), AD_ERR_UNSUPPORTED);
    free(mod);
    free(der);
    keyblob_free(kb);
}

static void test_files(void **state)
{
    char dir[] = "/tmp/test_keyblob.XXXXXX", path[256];
    struct keyblob *kb = make(), *back = NULL;
    struct stat st;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/k.pem", dir);
    assert_int_equal(keyblob_read_file(path, &back), AD_ERR_NOT_FOUND);
    assert_int_equal(keyblob_write_file(path, kb), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(keyblob_read_file(path, &back), 0);
    assert_same(kb, back);
    keyblob_free(back);
    back = NULL;
    /* Overwrite atomically. */
    assert_int_equal(keyblob_write_file(path, kb), 0);
    /* Truncate the file: corrupt. */
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(keyblob_read_file(path, &back), AD_ERR_CORRUPT);
    /* Oversized file. */
    f = fopen(path, "w");
    for (int i = 0; i < KEYBLOB_FILE_MAX + 10; i++) {
        fputc('-', f);
    }
    fclose(f);
    assert_int_equal(keyblob_read_file(path, &back), AD_ERR_TOO_LARGE);
    /* Empty file. */
    f = fopen(path, "w");
    fclose(f);
    assert_int_equal(keyblob_read_file(path, &back), AD_ERR_CORRUPT);
    assert_null(back);
    unlink(path);
    rmdir(dir);
    keyblob_free(kb);
}

/* Fail each allocation in turn: decode either succeeds or says AD_ERR_NOMEM; ASan checks leaks. */
static void test_alloc_failures(void **state)
{
    struct keyblob *kb = make(), *back = NULL;
    char *pem = NULL;
    size_t len = 0;
    int r, failed = 0;

    (void)state;
    assert_int_equal(keyblob_encode_pem(kb, &pem, &len), 0);
    for (fail_at = 1; fail_at < 50; fail_at++) {
        alloc_count = 0;
        r = keyblob_decode_pem(pem, len, &back);
        if (alloc_count < fail_at) {
            assert_int_equal(r, 0); /* every allocation was walked */
            break;
        }
        assert_int_equal(r, AD_ERR_NOMEM);
        assert_null(back);
        failed++;
    }
    fail_at = 0;
    assert_true(failed >= 3); /* keyblob struct, pub, priv */
    keyblob_free(back);
    free(pem);
    keyblob_free(kb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_der_round_trip, setup),
        cmocka_unit_test_setup(test_pem_round_trip, setup),
        cmocka_unit_test_setup(test_truncated, setup),
        cmocka_unit_test_setup(test_trailing, setup),
        cmocka_unit_test_setup(test_corrupted, setup),
        cmocka_unit_test_setup(test_oversized, setup),
        cmocka_unit_test_setup(test_bad_blobs, setup),
        cmocka_unit_test_setup(test_policy_unsupported, setup),
        cmocka_unit_test_setup(test_files, setup),
        cmocka_unit_test_setup(test_alloc_failures, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
