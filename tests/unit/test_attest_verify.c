/*
 * attest verifier checks against artifacts from a real swtpm run
 * (attest/testdata, made by attest/testdata/mkvectors.sh with tpm2-tools):
 * decoders, names, EK chain, quote and certify verification, clock checks
 * (compared only between quotes by one AK, with obfuscated counters that wrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ekcert.h"
#include "quote.h"
#include "tpms.h"

struct blob {
    uint8_t *data;
    size_t len;
};

static struct blob load(const char *name)
{
    char path[512];
    struct blob b = {0};
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", ATTEST_TESTDATA, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    b.data = malloc(65536);
    assert_non_null(b.data);
    b.len = fread(b.data, 1, 65536, f);
    fclose(f);
    return b;
}

static TPMT_PUBLIC load_public(const char *name)
{
    struct blob b = load(name);
    TPM2B_PUBLIC pub;

    assert_int_equal(tpms_public_decode(b.data, b.len, &pub), AD_OK);
    free(b.data);
    return pub.publicArea;
}

/* s2n-style mandatory negatives: zero-length, truncated at every byte, trailing byte. */
static void test_decoders_negative(void **state)
{
    static const char *const files[] = {"ak.pub", "ek_rsa.pub", "quote.attest", "quote.sig"};
    TPM2B_PUBLIC pub;
    TPMS_ATTEST a;
    TPMT_SIGNATURE s;
    size_t i, n;

    (void)state;
    for (i = 0; i < 4; i++) {
        struct blob b = load(files[i]);
        uint8_t *big = malloc(b.len + 1);

        assert_non_null(big);
        memcpy(big, b.data, b.len);
        big[b.len] = 0;
        for (n = 0; n < b.len; n++) {
            if (i < 2) {
                assert_int_not_equal(tpms_public_decode(b.data, n, &pub), AD_OK);
            } else if (i == 2) {
                assert_int_not_equal(tpms_attest_decode(b.data, n, &a), AD_OK);
            } else {
                assert_int_not_equal(tpms_signature_decode(b.data, n, &s), AD_OK);
            }
        }
        if (i < 2) {
            assert_int_equal(tpms_public_decode(b.data, b.len, &pub), AD_OK);
            assert_int_equal(tpms_public_decode(big, b.len + 1, &pub), AD_ERR_TRAILING);
        } else if (i == 2) {
            assert_int_equal(tpms_attest_decode(b.data, b.len, &a), AD_OK);
            assert_int_equal(tpms_attest_decode(big, b.len + 1, &a), AD_ERR_TRAILING);
        } else {
            assert_int_equal(tpms_signature_decode(b.data, b.len, &s), AD_OK);
            assert_int_equal(tpms_signature_decode(big, b.len + 1, &s), AD_ERR_TRAILING);
        }
        free(big);
        free(b.data);
    }
    assert_int_equal(tpms_public_decode(NULL, 0, &pub), AD_ERR_SHORT);
}

static void test_attest_magic(void **state)
{
    struct blob b = load("quote.attest");
    TPMS_ATTEST a;

    (void)state;
    b.data[0] ^= 1; /* TPM_GENERATED_VALUE broken */
    assert_int_equal(tpms_attest_decode(b.data, b.len, &a), AD_ERR_FORMAT);
    free(b.data);
}

static void test_ak_name(void **state)
{
    TPMT_PUBLIC ak = load_public("ak.pub");
    struct blob want = load("ak.name");
    uint8_t name[TPMS_NAME_MAX];
    size_t len = 0;

    (void)state;
    assert_int_equal(tpms_public_name(&ak, name, &len), AD_OK);
    assert_int_equal(len, want.len);
    assert_memory_equal(name, want.data, len);
    assert_int_equal(tpms_check_ak(&ak), AD_OK);
    free(want.data);
}

static void test_ak_shape(void **state)
{
    TPMT_PUBLIC ak = load_public("ak.pub");
    TPMT_PUBLIC key = load_public("key_good.pub");
    TPMT_PUBLIC ek = load_public("ek_rsa.pub");

    (void)state;
    /* A non-restricted key or a decryption key is not an AK. */
    assert_int_equal(tpms_check_ak(&key), AD_ERR_DENIED);
    assert_int_equal(tpms_check_ak(&ek), AD_ERR_DENIED);
    ak.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    assert_int_equal(tpms_check_ak(&ak), AD_ERR_DENIED);
}

static struct ekcert_roots *roots_from(const char *dir)
{
    struct ekcert_roots *roots = NULL;

    assert_int_equal(ekcert_roots_load(dir, &roots), AD_OK);
    return roots;
}

static void test_ekcert_ok(void **state)
{
    struct ekcert_roots *roots = roots_from(ATTEST_TESTDATA "/roots");
    struct blob cert = load("ek_rsa_cert.der");
    TPMT_PUBLIC ek = load_public("ek_rsa.pub");
    const char *reason = NULL;
    char id[65];

    (void)state;
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len, &ek, &reason), AD_OK);
    assert_int_equal(ekcert_host_id(&ek, id), AD_OK);
    assert_int_equal(strlen(id), 64);
    free(cert.data);
    ekcert_roots_free(roots);
}

static void test_ekcert_refusals(void **state)
{
    struct ekcert_roots *roots = roots_from(ATTEST_TESTDATA "/roots");
    struct blob cert = load("ek_rsa_cert.der");
    TPMT_PUBLIC ek = load_public("ek_rsa.pub"), other = ek;
    TPMT_PUBLIC ak = load_public("ak.pub");
    const char *reason = NULL;

    (void)state;
    /* The certificate of another EK. */
    other.unique.rsa.buffer[10] ^= 0x40;
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len, &other, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "EK certificate is for another key");
    /* Something that is not an EK. */
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len, &ak, &reason), AD_ERR_DENIED);
    /* Truncated, trailing, garbled, empty and oversized certificates. */
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len - 1, &ek, &reason), AD_ERR_DENIED);
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len + 1, &ek, &reason), AD_ERR_DENIED);
    assert_int_equal(ekcert_verify(roots, cert.data, 0, &ek, &reason), AD_ERR_DENIED);
    assert_int_equal(ekcert_verify(roots, cert.data, EKCERT_MAX + 1, &ek, &reason), AD_ERR_DENIED);
    cert.data[cert.len - 5] ^= 1; /* signature */
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len, &ek, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "EK certificate does not chain to a trusted TPM vendor root");
    free(cert.data);
    ekcert_roots_free(roots);
}

/* Write a fresh self-signed "vendor" root into dir. */
static void write_foreign_root(const char *dir)
{
    EVP_PKEY *k = EVP_EC_gen("prime256v1");
    X509 *x = X509_new();
    char path[512];
    FILE *f;

    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"other vendor", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    snprintf(path, sizeof(path), "%s/other.pem", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_ekcert_unknown_vendor(void **state)
{
    char dir[] = "/tmp/attest-roots.XXXXXX", path[600];
    struct blob cert = load("ek_rsa_cert.der");
    TPMT_PUBLIC ek = load_public("ek_rsa.pub");
    struct ekcert_roots *roots = NULL;
    const char *reason = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    /* An empty directory has no anchor. */
    assert_int_equal(ekcert_roots_load(dir, &roots), AD_ERR_NOT_FOUND);
    write_foreign_root(dir);
    roots = roots_from(dir);
    assert_int_equal(ekcert_verify(roots, cert.data, cert.len, &ek, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "EK certificate does not chain to a trusted TPM vendor root");
    ekcert_roots_free(roots);
    snprintf(path, sizeof(path), "%s/other.pem", dir);
    unlink(path);
    rmdir(dir);
    assert_int_equal(ekcert_roots_load("/nonexistent/roots", &roots), AD_ERR_SYSTEM);
    free(cert.data);
}

static void policy_from_vectors(struct quote_policy *p)
{
    struct blob v = load("quote.pcrs");

    assert_int_equal(v.len, 64);
    memset(p, 0, sizeof(*p));
    p->bank = TPM2_ALG_SHA256;
    p->mask = (1u << 0) | (1u << 16);
    memcpy(p->values[0], v.data, 32);
    memcpy(p->values[16], v.data + 32, 32);
    free(v.data);
}

static void test_quote(void **state)
{
    TPMT_PUBLIC ak = load_public("ak.pub");
    struct blob att = load("quote.attest"), sig = load("quote.sig"), nonce = load("quote.nonce");
    struct quote_policy pol;
    struct quote_clock clk = {0};
    const char *reason = NULL;

    (void)state;
    policy_from_vectors(&pol);
    assert_int_equal(quote_verify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, nonce.len,
                                  &pol, &clk, &reason),
                     AD_OK);
    assert_true(clk.clock > 0);
    {
        /* The clock carries the quote's qualifiedSigner, the AK that its counters belong to. */
        TPMS_ATTEST a;
        assert_int_equal(tpms_attest_decode(att.data, att.len, &a), AD_OK);
        assert_true(clk.signer_len > 2);
        assert_int_equal(clk.signer_len, a.qualifiedSigner.size);
        assert_memory_equal(clk.signer, a.qualifiedSigner.name, clk.signer_len);
    }
    /* Foreign nonce. */
    nonce.data[0] ^= 1;
    assert_int_equal(quote_verify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, nonce.len,
                                  &pol, &clk, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "stale or foreign nonce");
    nonce.data[0] ^= 1;
    /* PCR 16 not as the policy says. */
    pol.values[16][0] ^= 1;
    assert_int_equal(quote_verify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, nonce.len,
                                  &pol, &clk, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "PCR values do not match the policy");
    pol.values[16][0] ^= 1;
    /* The policy asks for PCR 7 too. */
    pol.mask |= 1u << 7;
    assert_int_equal(quote_verify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, nonce.len,
                                  &pol, &clk, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "quote covers other PCRs than the policy");
    pol.mask &= ~(1u << 7);
    /* A tampered clock field breaks the signature. */
    att.data[att.len - 10] ^= 1;
    assert_int_equal(quote_verify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, nonce.len,
                                  &pol, &clk, &reason),
                     AD_ERR_DENIED);
    free(att.data);
    free(sig.data);
    free(nonce.data);
}

static void test_quote_wrong_signer(void **state)
{
    TPMT_PUBLIC other = load_public("key_good.pub");
    struct blob att = load("quote.attest"), sig = load("quote.sig"), nonce = load("quote.nonce");
    struct quote_policy pol;
    struct quote_clock clk;
    const char *reason = NULL;

    (void)state;
    policy_from_vectors(&pol);
    assert_int_equal(quote_verify(&other, att.data, att.len, sig.data, sig.len, nonce.data,
                                  nonce.len, &pol, &clk, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "signature by the AK does not verify");
    /* A certify is not a quote. */
    free(att.data);
    att = load("certify_good.attest");
    free(sig.data);
    sig = load("certify_good.sig");
    assert_int_equal(quote_verify(&other, att.data, att.len, sig.data, sig.len, nonce.data,
                                  nonce.len, &pol, &clk, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "attestation is of the wrong type");
    free(att.data);
    free(sig.data);
    free(nonce.data);
}

/* A quote clock by AK number ak: its qualifiedSigner is a made-up SHA-256 name. */
static struct quote_clock clk_by(int ak, uint32_t reset, uint32_t restart, uint64_t clock)
{
    struct quote_clock c = {.clock = clock, .reset_count = reset, .restart_count = restart};

    c.signer[0] = 0x00; /* TPM2_ALG_SHA256 */
    c.signer[1] = 0x0b;
    memset(c.signer + 2, ak, 32);
    c.signer_len = 34;
    return c;
}

/* The same AK: replays and rollbacks are refused, progress is accepted. */
static void test_clock(void **state)
{
    struct quote_clock prev = clk_by(1, 3, 1, 1000), cur = prev;
    const char *reason = NULL;

    (void)state;
    assert_int_equal(quote_check_clock(NULL, &cur, &reason), AD_OK);
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "quote is not newer than the last one (replay)");
    cur.clock = 999;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "quote is not newer than the last one (replay)");
    cur.clock = 1001;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur.reset_count = 2;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "TPM reset counter went backwards");
    cur.reset_count = 4;
    cur.restart_count = 0; /* a TPM Reset zeroes restartCount */
    cur.clock = 5;         /* and Clock may resume from an older NV copy */
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur = prev;
    cur.restart_count = 0;
    cur.clock = 2000;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "TPM restart counter went backwards");
    cur.restart_count = 2; /* a TPM Restart/Resume: Clock is not compared */
    cur.clock = 10;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
}

/*
 * Another AK, or an unknown one (a clock stored before the signer was
 * kept): the counters are obfuscated with another value, so nothing is
 * compared, however they look; the nonce makes such a quote fresh. This is
 * the re-enrollment that agentd-ca refused about half the time.
 */
static void test_clock_other_ak(void **state)
{
    struct quote_clock prev = clk_by(1, 3000, 20, 100000), cur;
    const char *reason = NULL;

    (void)state;
    cur = clk_by(2, 12, 5, 50); /* every field "went backwards" */
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur = clk_by(2, 3000, 20, 100000); /* equal: not a replay of AK 1 */
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur = clk_by(1, 3000, 20, 100000);
    cur.signer_len = 33; /* a prefix is another name */
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    prev.signer_len = 0; /* unknown signer */
    cur = clk_by(1, 12, 5, 50);
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur.signer_len = 0; /* two unknown signers are not the same AK either */
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    /* Back to AK 1 on both sides: compared again. */
    prev = clk_by(1, 3000, 20, 100000);
    cur = clk_by(1, 12, 5, 50);
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "TPM reset counter went backwards");
}

/*
 * One AK's counters are the true ones plus a per-key k modulo 2^32: with
 * any k, one step forward is accepted and one back refused, also where
 * true + k wraps. Up to 2^31 - 1 forward counts as progress; 2^31 is
 * refused (the documented limit).
 */
static void test_clock_wrap(void **state)
{
    static const uint32_t ks[] = {0,           1,           0x7fffffffu, 0x80000000u,
                                  0xfffffffeu, 0xffffffffu, 0x9e3779b9u};
    struct quote_clock prev, cur;
    const char *reason = NULL;
    size_t i;
    uint32_t r;

    (void)state;
    for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        for (r = 0; r < 4; r++) {
            uint32_t t = r - ks[i] - 2; /* true counts around the wrap of true + k */
            /* resetCount */
            prev = clk_by(1, t + ks[i], 7, 1000);
            cur = clk_by(1, t + 1 + ks[i], 0, 1);
            assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
            assert_int_equal(quote_check_clock(&cur, &prev, &reason), AD_ERR_DENIED);
            assert_string_equal(reason, "TPM reset counter went backwards");
            /* restartCount, same boot */
            prev = clk_by(1, 9, t + ks[i], 1000);
            cur = clk_by(1, 9, t + 1 + ks[i], 1);
            assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
            assert_int_equal(quote_check_clock(&cur, &prev, &reason), AD_ERR_DENIED);
            assert_string_equal(reason, "TPM restart counter went backwards");
        }
    }
    prev = clk_by(1, 0xfffffff0u, 0, 1000);
    cur = clk_by(1, 0xfffffff0u + 0x7fffffffu, 0, 1);
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_OK);
    cur.reset_count = 0xfffffff0u + 0x80000000u;
    assert_int_equal(quote_check_clock(&prev, &cur, &reason), AD_ERR_DENIED);
}

static void test_certify(void **state)
{
    TPMT_PUBLIC ak = load_public("ak.pub"), key;
    struct blob att = load("certify_good.attest"), sig = load("certify_good.sig");
    struct blob nonce = load("certify.nonce"), kp = load("key_good.pub"), bad = load("key_bad.pub");
    struct blob batt = load("certify_bad.attest"), bsig = load("certify_bad.sig");
    const char *reason = NULL;

    (void)state;
    assert_int_equal(quote_verify_certify(&ak, att.data, att.len, sig.data, sig.len, nonce.data,
                                          nonce.len, kp.data, kp.len, &key, &reason),
                     AD_OK);
    assert_int_equal(key.type, TPM2_ALG_ECC);
    /* The certified name is of another key. */
    assert_int_equal(quote_verify_certify(&ak, att.data, att.len, sig.data, sig.len, nonce.data,
                                          nonce.len, bad.data, bad.len, &key, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "certified name is not the key's name");
    /* A correctly certified, exportable decryption key. */
    assert_int_equal(quote_verify_certify(&ak, batt.data, batt.len, bsig.data, bsig.len, nonce.data,
                                          nonce.len, bad.data, bad.len, &key, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "key is not fixedTPM (exportable)");
    /* Stale nonce. */
    assert_int_equal(quote_verify_certify(&ak, att.data, att.len, sig.data, sig.len, nonce.data, 0,
                                          kp.data, kp.len, &key, &reason),
                     AD_ERR_DENIED);
    assert_string_equal(reason, "stale or foreign nonce");
    free(att.data);
    free(sig.data);
    free(nonce.data);
    free(kp.data);
    free(bad.data);
    free(batt.data);
    free(bsig.data);
}

static void test_identity_key_rules(void **state)
{
    TPMT_PUBLIC key = load_public("key_good.pub");
    const char *reason = NULL;

    (void)state;
    assert_int_equal(tpms_check_identity_key(&key, &reason), AD_OK);
    key.objectAttributes |= TPMA_OBJECT_DECRYPT;
    assert_int_equal(tpms_check_identity_key(&key, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "key can decrypt");
    key.objectAttributes &= ~(TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDPARENT);
    assert_int_equal(tpms_check_identity_key(&key, &reason), AD_ERR_DENIED);
    assert_string_equal(reason, "key is not fixedParent");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoders_negative),
        cmocka_unit_test(test_attest_magic),
        cmocka_unit_test(test_ak_name),
        cmocka_unit_test(test_ak_shape),
        cmocka_unit_test(test_ekcert_ok),
        cmocka_unit_test(test_ekcert_refusals),
        cmocka_unit_test(test_ekcert_unknown_vendor),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quote_wrong_signer),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_clock_other_ak),
        cmocka_unit_test(test_clock_wrap),
        cmocka_unit_test(test_certify),
        cmocka_unit_test(test_identity_key_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
