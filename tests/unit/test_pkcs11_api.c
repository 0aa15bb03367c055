/*
 * PKCS#11 API behaviour of libagentd-pkcs11.so against a running agentd
 * (started by tests/integration/pkcs11_api.sh: keys "ec" (P-256) and "rsa"
 * (RSA-2048), key generation allowed). The module is dlopen()ed from
 * $P11_MODULE; signatures are checked with OpenSSL, which only this test
 * links (the module must not).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "frame.h"
#include "io.h"
#include "msg.h"
#include "pkcs11_3.h" /* the 3.0 layout p11-kit 0.24 lacks */
#include "status.h"

#define N_THREADS 16
#define SIGS_PER_THREAD 8

static void *lib;
static CK_FUNCTION_LIST *p11;

static int load(void **state)
{
    CK_C_GetFunctionList get;
    const char *path = getenv("P11_MODULE");

    (void)state;
    if (path == NULL || (lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        return -1;
    }
    get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    return get != NULL && get(&p11) == CKR_OK ? 0 : -1;
}

static int init(void **state)
{
    (void)state;
    return p11->C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int fini(void **state)
{
    (void)state;
    p11->C_Finalize(NULL);
    return 0;
}

static CK_SESSION_HANDLE open_session(CK_FLAGS extra)
{
    CK_SESSION_HANDLE hs = CK_INVALID_HANDLE;

    assert_int_equal(p11->C_OpenSession(0, CKF_SERIAL_SESSION | extra, NULL, NULL, &hs), CKR_OK);
    assert_int_not_equal(hs, CK_INVALID_HANDLE);
    return hs;
}

/* The one object of class cls labelled label, or CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE find(CK_SESSION_HANDLE hs, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE h[2] = {CK_INVALID_HANDLE, CK_INVALID_HANDLE};
    CK_ULONG n = 0;

    assert_int_equal(p11->C_FindObjectsInit(hs, t, 2), CKR_OK);
    assert_int_equal(p11->C_FindObjects(hs, h, 2, &n), CKR_OK);
    assert_int_equal(p11->C_FindObjectsFinal(hs), CKR_OK);
    return n == 1 ? h[0] : CK_INVALID_HANDLE;
}

/* Public key of a key object as an EVP_PKEY, from CKA_PUBLIC_KEY_INFO. */
static EVP_PKEY *pubkey_of(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE h)
{
    uint8_t der[2048];
    const uint8_t *p = der;
    CK_ATTRIBUTE a = {CKA_PUBLIC_KEY_INFO, der, sizeof(der)};

    assert_int_equal(p11->C_GetAttributeValue(hs, h, &a, 1), CKR_OK);
    return d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
}

/* Verify a PKCS#11-form signature over msg (SHA-256 mechanisms) with OpenSSL. */
static int ossl_verify(EVP_PKEY *pk, const uint8_t *msg, size_t len, const uint8_t *sig,
                       size_t sig_len)
{
    uint8_t der[256];
    uint8_t *p = der;
    const uint8_t *s = sig;
    size_t s_len = sig_len;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;

    if (EVP_PKEY_base_id(pk) == EVP_PKEY_EC) {
        ECDSA_SIG *es = ECDSA_SIG_new();

        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sig_len / 2, NULL),
                       BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL));
        s_len = (size_t)i2d_ECDSA_SIG(es, &p);
        s = der;
        ECDSA_SIG_free(es);
    }
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
         EVP_DigestVerify(md, s, s_len, msg, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static void test_lifecycle(void **state)
{
    CK_C_INITIALIZE_ARGS bad = {0};
    CK_ULONG n = 0;

    (void)state;
    assert_int_equal(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    bad.pReserved = &n;
    assert_int_equal(p11->C_Initialize(&bad), CKR_ARGUMENTS_BAD);
    bad.pReserved = NULL;
    bad.LockMutex = (CK_LOCKMUTEX)1; /* callbacks are all or none */
    assert_int_equal(p11->C_Initialize(&bad), CKR_ARGUMENTS_BAD);
    assert_int_equal(p11->C_Initialize(NULL), CKR_OK);
    assert_int_equal(p11->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_int_equal(p11->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p11->C_Finalize(&n), CKR_ARGUMENTS_BAD);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
}

static void test_token_info(void **state)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slots[1];
    CK_ULONG n = 0;

    (void)state;
    assert_int_equal(p11->C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 1);
    assert_int_equal(p11->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    assert_int_equal(p11->C_GetTokenInfo(slots[0], &ti), CKR_OK);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_false(ti.flags & CKF_LOGIN_REQUIRED);
    assert_int_equal(p11->C_GetTokenInfo(7, &ti), CKR_SLOT_ID_INVALID);
    assert_int_equal(p11->C_GetTokenInfo(0, NULL), CKR_ARGUMENTS_BAD);
}

static void test_bad_handles(void **state)
{
    CK_SESSION_HANDLE hs = open_session(0);
    CK_OBJECT_HANDLE key = find(hs, CKO_PRIVATE_KEY, "ec");
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};

    (void)state;
    assert_int_not_equal(key, CK_INVALID_HANDLE);
    assert_int_equal(p11->C_CloseSession(0xdead0000), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(p11->C_GetAttributeValue(hs, 0xdead0000, &a, 1), CKR_OBJECT_HANDLE_INVALID);
    /* Handles are typed: a session handle is no key and an object handle no session. */
    assert_int_equal(p11->C_SignInit(hs, &m, hs), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(p11->C_GetAttributeValue(key, key, &a, 1), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(p11->C_SignInit(hs, NULL, key), CKR_ARGUMENTS_BAD);
    assert_int_equal(p11->C_OpenSession(3, CKF_SERIAL_SESSION, NULL, NULL, &hs),
                     CKR_SLOT_ID_INVALID);
    /* The public key cannot sign; a mechanism of the other key type is refused. */
    m.mechanism = CKM_SHA256_RSA_PKCS;
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_KEY_TYPE_INCONSISTENT);
    m.mechanism = CKM_ECDSA_SHA256;
    assert_int_equal(p11->C_SignInit(hs, &m, find(hs, CKO_PUBLIC_KEY, "ec")),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(p11->C_CloseSession(hs), CKR_OK);
    assert_int_equal(p11->C_CloseSession(hs), CKR_SESSION_HANDLE_INVALID);
}

static void test_session_state(void **state)
{
    CK_SESSION_HANDLE ro = open_session(0), rw = open_session(CKF_RW_SESSION), bad;
    CK_SESSION_INFO si;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub, priv, found[4];
    CK_BYTE sig[64];
    CK_ULONG n = sizeof(sig);

    (void)state;
    assert_int_equal(p11->C_OpenSession(0, 0, NULL, NULL, &bad),
                     CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_int_equal(p11->C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(p11->C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR) "any", 3), CKR_OK);
    assert_int_equal(p11->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR) "x", 1),
                     CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(p11->C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_USER_FUNCTIONS);
    assert_int_equal(p11->C_GetSessionInfo(rw, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    assert_int_equal(p11->C_Logout(ro), CKR_OK);
    assert_int_equal(p11->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    /* Token objects are made and destroyed in read-write sessions only. */
    assert_int_equal(p11->C_GenerateKeyPair(ro, &gen, NULL, 0, NULL, 0, &pub, &priv),
                     CKR_SESSION_READ_ONLY);
    assert_int_equal(p11->C_DestroyObject(ro, find(ro, CKO_PRIVATE_KEY, "ec")),
                     CKR_SESSION_READ_ONLY);
    /* No operation started. */
    assert_int_equal(p11->C_Sign(ro, (CK_BYTE_PTR) "x", 1, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(p11->C_SignFinal(ro, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(p11->C_FindObjects(ro, found, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(p11->C_FindObjectsFinal(ro), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(p11->C_FindObjectsInit(ro, NULL, 0), CKR_OK);
    assert_int_equal(p11->C_FindObjectsInit(ro, NULL, 0), CKR_OPERATION_ACTIVE);
    assert_int_equal(p11->C_FindObjects(ro, found, 4, &n), CKR_OK);
    assert_true(n >= 4); /* two keys, private + public each */
    assert_int_equal(p11->C_FindObjectsFinal(ro), CKR_OK);
    assert_int_equal(p11->C_CloseAllSessions(0), CKR_OK);
    assert_int_equal(p11->C_GetSessionInfo(rw, &si), CKR_SESSION_HANDLE_INVALID);
}

static void test_attributes(void **state)
{
    CK_SESSION_HANDLE hs = open_session(0);
    CK_OBJECT_HANDLE key = find(hs, CKO_PRIVATE_KEY, "ec");
    CK_OBJECT_CLASS cls = 0;
    CK_BYTE value[8], label[1];
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE, sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_VALUE, value, sizeof(value)},    /* never revealed */
        {0x7fff1234UL, value, sizeof(value)}, /* no such attribute */
        {CKA_LABEL, label, sizeof(label)},    /* "ec" does not fit in 1 byte */
        {CKA_EC_PARAMS, NULL, 0},             /* size query */
        {CKA_SENSITIVE, &sensitive, 1},
        {CKA_EXTRACTABLE, &extractable, 1},
    };
    CK_ATTRIBUTE weaken = {CKA_SENSITIVE, &no, 1}, extract = {CKA_EXTRACTABLE, &yes, 1};
    CK_ATTRIBUTE same = {CKA_SENSITIVE, &yes, 1};
    CK_RV rv;

    (void)state;
    assert_int_not_equal(key, CK_INVALID_HANDLE);
    rv = p11->C_GetAttributeValue(hs, key, t, 7);
    assert_true(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
                rv == CKR_BUFFER_TOO_SMALL);
    /* Every attribute was processed despite the errors. */
    assert_int_equal(cls, CKO_PRIVATE_KEY);
    assert_int_equal(t[0].ulValueLen, sizeof(cls));
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[4].ulValueLen, 10); /* OID of P-256 */
    assert_int_equal(sensitive, CK_TRUE);
    assert_int_equal(extractable, CK_FALSE);
    /* A key cannot be weakened; restating what it is is fine. */
    assert_int_equal(p11->C_SetAttributeValue(hs, key, &weaken, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11->C_SetAttributeValue(hs, key, &extract, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11->C_SetAttributeValue(hs, key, &same, 1), CKR_OK);
    assert_int_equal(p11->C_GetAttributeValue(hs, key, &t[5], 1), CKR_OK);
    assert_int_equal(sensitive, CK_TRUE);
    /* Each alone gives its own code. */
    assert_int_equal(p11->C_GetAttributeValue(hs, key, &t[1], 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(p11->C_GetAttributeValue(hs, key, &t[2], 1), CKR_ATTRIBUTE_TYPE_INVALID);
    t[3].ulValueLen = sizeof(label);
    assert_int_equal(p11->C_GetAttributeValue(hs, key, &t[3], 1), CKR_BUFFER_TOO_SMALL);
}

static void sign_verify_one(CK_SESSION_HANDLE hs, const char *label, CK_MECHANISM_TYPE mech,
                            CK_ULONG want_len)
{
    CK_OBJECT_HANDLE key = find(hs, CKO_PRIVATE_KEY, label);
    CK_OBJECT_HANDLE pub = find(hs, CKO_PUBLIC_KEY, label);
    CK_MECHANISM m = {mech, NULL, 0};
    CK_BYTE msg[100], sig[512];
    CK_ULONG n = 0;
    EVP_PKEY *pk = pubkey_of(hs, pub);

    memset(msg, 0x5a, sizeof(msg));
    assert_non_null(pk);
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_OPERATION_ACTIVE);
    /* Length query and a short buffer keep the operation active. */
    assert_int_equal(p11->C_Sign(hs, msg, sizeof(msg), NULL, &n), CKR_OK);
    assert_int_equal(n, want_len);
    n = 8;
    assert_int_equal(p11->C_Sign(hs, msg, sizeof(msg), sig, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, want_len);
    n = sizeof(sig);
    assert_int_equal(p11->C_Sign(hs, msg, sizeof(msg), sig, &n), CKR_OK);
    assert_int_equal(n, want_len);
    assert_true(ossl_verify(pk, msg, sizeof(msg), sig, n));
    /* The operation ended with the signature. */
    assert_int_equal(p11->C_Sign(hs, msg, sizeof(msg), sig, &n), CKR_OPERATION_NOT_INITIALIZED);
    /* C_Verify agrees, and rejects a flipped bit. */
    assert_int_equal(p11->C_VerifyInit(hs, &m, pub), CKR_OK);
    assert_int_equal(p11->C_Verify(hs, msg, sizeof(msg), sig, n), CKR_OK);
    sig[n / 2] ^= 1;
    assert_false(ossl_verify(pk, msg, sizeof(msg), sig, n));
    assert_int_equal(p11->C_VerifyInit(hs, &m, pub), CKR_OK);
    assert_int_equal(p11->C_Verify(hs, msg, sizeof(msg), sig, n), CKR_SIGNATURE_INVALID);
    EVP_PKEY_free(pk);
}

static void test_sign_single(void **state)
{
    CK_SESSION_HANDLE hs = open_session(0);

    (void)state;
    sign_verify_one(hs, "ec", CKM_ECDSA_SHA256, 64);
    sign_verify_one(hs, "rsa", CKM_SHA256_RSA_PKCS, 256);
}

static void test_sign_multi(void **state)
{
    CK_SESSION_HANDLE hs = open_session(0);
    CK_OBJECT_HANDLE key = find(hs, CKO_PRIVATE_KEY, "ec");
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    static CK_BYTE big[70000];
    CK_BYTE sig[64];
    CK_ULONG n = 0;
    EVP_PKEY *pk = pubkey_of(hs, find(hs, CKO_PUBLIC_KEY, "ec"));

    (void)state;
    memset(big, 0xa5, sizeof(big));
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(p11->C_SignUpdate(hs, big, 1000), CKR_OK);
    assert_int_equal(p11->C_SignUpdate(hs, big + 1000, 3000), CKR_OK);
    /* C_Sign is single-part only once C_SignUpdate ran; it ends the operation. */
    n = sizeof(sig);
    assert_int_equal(p11->C_SignFinal(hs, NULL, &n), CKR_OK);
    assert_int_equal(n, 64);
    assert_int_equal(p11->C_SignFinal(hs, sig, &n), CKR_OK);
    assert_true(ossl_verify(pk, big, 4000, sig, n));
    /* More than SIGN_INPUT_MAX (64 KiB) accumulated: CKR_DATA_LEN_RANGE, operation over. */
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(p11->C_SignUpdate(hs, big, 60000), CKR_OK);
    assert_int_equal(p11->C_SignUpdate(hs, big, 10000), CKR_DATA_LEN_RANGE);
    assert_int_equal(p11->C_SignFinal(hs, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(p11->C_SignInit(hs, &m, key), CKR_OK);
    n = sizeof(sig);
    assert_int_equal(p11->C_Sign(hs, big, sizeof(big), sig, &n), CKR_DATA_LEN_RANGE);
    EVP_PKEY_free(pk);
}

static void test_digest_random(void **state)
{
    static const CK_BYTE abc_sha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                           0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                           0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                           0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    CK_SESSION_HANDLE hs = open_session(0);
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    CK_BYTE out[64], rnd[5000], zero[5000] = {0};
    CK_ULONG n = 0;

    (void)state;
    assert_int_equal(p11->C_DigestInit(hs, &m), CKR_OK);
    assert_int_equal(p11->C_Digest(hs, (CK_BYTE_PTR) "abc", 3, NULL, &n), CKR_OK);
    assert_int_equal(n, 32);
    n = 31;
    assert_int_equal(p11->C_Digest(hs, (CK_BYTE_PTR) "abc", 3, out, &n), CKR_BUFFER_TOO_SMALL);
    n = sizeof(out);
    assert_int_equal(p11->C_Digest(hs, (CK_BYTE_PTR) "abc", 3, out, &n), CKR_OK);
    assert_memory_equal(out, abc_sha256, 32);
    assert_int_equal(p11->C_DigestInit(hs, &m), CKR_OK);
    assert_int_equal(p11->C_DigestUpdate(hs, (CK_BYTE_PTR) "a", 1), CKR_OK);
    assert_int_equal(p11->C_DigestUpdate(hs, (CK_BYTE_PTR) "bc", 2), CKR_OK);
    n = sizeof(out);
    assert_int_equal(p11->C_DigestFinal(hs, out, &n), CKR_OK);
    assert_memory_equal(out, abc_sha256, 32);
    assert_int_equal(p11->C_GenerateRandom(hs, rnd, sizeof(rnd)), CKR_OK);
    assert_memory_not_equal(rnd, zero, sizeof(rnd));
    assert_int_equal(p11->C_SeedRandom(hs, rnd, 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
}

static void test_mechanisms(void **state)
{
    CK_MECHANISM_TYPE list[64];
    CK_MECHANISM_INFO info;
    CK_ULONG n = 0, i;
    int has_ecdsa = 0;

    (void)state;
    assert_int_equal(p11->C_GetMechanismList(0, NULL, &n), CKR_OK);
    assert_true(n > 0 && n <= 64);
    i = 1;
    assert_int_equal(p11->C_GetMechanismList(0, list, &i), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(i, n);
    assert_int_equal(p11->C_GetMechanismList(0, list, &n), CKR_OK);
    for (i = 0; i < n; i++) {
        assert_int_equal(p11->C_GetMechanismInfo(0, list[i], &info), CKR_OK);
        has_ecdsa |= list[i] == CKM_ECDSA_SHA256;
    }
    assert_true(has_ecdsa);
    assert_int_equal(p11->C_GetMechanismInfo(0, CKM_AES_CBC, &info), CKR_MECHANISM_INVALID);
}

static void test_finalize_open_sessions(void **state)
{
    CK_SESSION_HANDLE a = open_session(0), b = open_session(CKF_RW_SESSION);
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_SESSION_INFO si;

    (void)state;
    assert_int_equal(p11->C_SignInit(a, &m, find(a, CKO_PRIVATE_KEY, "ec")), CKR_OK);
    assert_int_equal(p11->C_FindObjectsInit(b, NULL, 0), CKR_OK);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
    assert_int_equal(p11->C_GetSessionInfo(a, &si), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p11->C_Initialize(NULL), CKR_OK);
    /* Old handles never come back. */
    assert_int_equal(p11->C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(p11->C_GetSessionInfo(b, &si), CKR_SESSION_HANDLE_INVALID);
}

static int sign_and_check(const char *label)
{
    CK_SESSION_HANDLE hs;
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_OBJECT_HANDLE key, pub;
    CK_BYTE msg[32], sig[64];
    CK_ULONG n = sizeof(sig);
    EVP_PKEY *pk;
    int ok;

    if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &hs) != CKR_OK) {
        return 0;
    }
    key = find(hs, CKO_PRIVATE_KEY, label);
    pub = find(hs, CKO_PUBLIC_KEY, label);
    memset(msg, (int)getpid(), sizeof(msg));
    pk = pubkey_of(hs, pub);
    ok = pk != NULL && p11->C_SignInit(hs, &m, key) == CKR_OK &&
         p11->C_Sign(hs, msg, sizeof(msg), sig, &n) == CKR_OK &&
         ossl_verify(pk, msg, sizeof(msg), sig, n);
    EVP_PKEY_free(pk);
    p11->C_CloseSession(hs);
    return ok;
}

static void test_fork(void **state)
{
    CK_ULONG n = 0;
    pid_t pid;
    int status = -1;

    (void)state;
    assert_true(sign_and_check("ec"));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child is not initialized until it says so; then it reconnects. */
        int ok = p11->C_GetSlotList(CK_TRUE, NULL, &n) == CKR_CRYPTOKI_NOT_INITIALIZED &&
                 p11->C_Initialize(NULL) == CKR_OK && sign_and_check("ec") &&
                 p11->C_Finalize(NULL) == CKR_OK;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's connection was not disturbed by the child. */
    assert_true(sign_and_check("ec"));
}

struct worker {
    pthread_t tid;
    int index;
    int verified;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const char *label = w->index % 4 == 3 ? "rsa" : "ec";
    CK_MECHANISM m = {w->index % 4 == 3 ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256, NULL, 0};
    CK_SESSION_HANDLE hs;
    CK_OBJECT_HANDLE key, pub;
    EVP_PKEY *pk;
    int i;

    if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &hs) != CKR_OK) {
        return NULL;
    }
    key = find(hs, CKO_PRIVATE_KEY, label);
    pub = find(hs, CKO_PUBLIC_KEY, label);
    pk = pubkey_of(hs, pub);
    for (i = 0; pk != NULL && i < SIGS_PER_THREAD; i++) {
        CK_BYTE msg[48], sig[256];
        CK_ULONG n = sizeof(sig);

        memset(msg, w->index * 31 + i, sizeof(msg)); /* each thread signs its own data */
        if (p11->C_SignInit(hs, &m, key) == CKR_OK &&
            p11->C_Sign(hs, msg, sizeof(msg), sig, &n) == CKR_OK &&
            ossl_verify(pk, msg, sizeof(msg), sig, n)) {
            w->verified++;
        }
    }
    EVP_PKEY_free(pk);
    p11->C_CloseSession(hs);
    return NULL;
}

static void test_threads(void **state)
{
    struct worker w[N_THREADS];
    int i;

    (void)state;
    for (i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.index = i};
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < N_THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        assert_int_equal(w[i].verified, SIGS_PER_THREAD);
    }
}

/* Application locking callbacks (no CKF_OS_LOCKING_OK): the module must use them. */
static int cb_locks;

static CK_RV cb_create(void **m)
{
    pthread_mutex_t *p = malloc(sizeof(*p));

    pthread_mutex_init(p, NULL);
    *m = p;
    return CKR_OK;
}

static CK_RV cb_destroy(void *m)
{
    pthread_mutex_destroy(m);
    free(m);
    return CKR_OK;
}

static CK_RV cb_lock(void *m)
{
    __atomic_add_fetch(&cb_locks, 1, __ATOMIC_SEQ_CST);
    return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

static CK_RV cb_unlock(void *m)
{
    return pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

static void test_app_locking(void **state)
{
    CK_C_INITIALIZE_ARGS args = {cb_create, cb_destroy, cb_lock, cb_unlock, 0, NULL};

    (void)state;
    assert_int_equal(p11->C_Initialize(&args), CKR_OK);
    assert_true(sign_and_check("ec"));
    assert_true(cb_locks > 0);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
}

struct busy_signer {
    pthread_t tid;
    volatile int stop;
    CK_RV last;
    int signed_ok;
};

static void *busy_main(void *arg)
{
    struct busy_signer *b = arg;
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_SESSION_HANDLE hs;
    CK_OBJECT_HANDLE key;
    CK_BYTE msg[32] = {1}, sig[64];
    CK_ULONG n;

    b->last = p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &hs);
    key = find(hs, CKO_PRIVATE_KEY, "ec");
    while (b->last == CKR_OK) {
        n = sizeof(sig);
        b->last = p11->C_SignInit(hs, &m, key);
        if (b->last == CKR_OK) {
            b->last = p11->C_Sign(hs, msg, sizeof(msg), sig, &n);
        }
        b->signed_ok += b->last == CKR_OK;
    }
    return NULL;
}

/* C_Finalize while another thread is inside C_Sign: that thread's calls end
 * with an error (never a crash or a hang), and the module re-initializes. */
static void test_finalize_during_calls(void **state)
{
    struct busy_signer b = {0};
    struct timespec ms20 = {0, 20000000};

    (void)state;
    assert_int_equal(pthread_create(&b.tid, NULL, busy_main, &b), 0);
    while (b.signed_ok < 3 && b.last == CKR_OK) {
        nanosleep(&ms20, NULL);
    }
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
    pthread_join(b.tid, NULL);
    assert_true(b.signed_ok >= 3);
    assert_int_not_equal(b.last, CKR_OK);
    assert_int_equal(p11->C_Initialize(NULL), CKR_OK);
    assert_true(sign_and_check("ec"));
}

/* PKCS#11 3.0 interface discovery: "PKCS 11" 3.0 (the default) and 2.40. */
typedef CK_RV (*get_list_fn)(struct p11_interface *, CK_ULONG_PTR);
typedef CK_RV (*get_fn)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, struct p11_interface **, CK_FLAGS);

/* The 3.0 list is the 2.40 list followed by the 24 additions (spec pkcs11f.h order). */
_Static_assert(offsetof(struct p11_function_list_3_0, C_GetInterfaceList) ==
                   sizeof(CK_FUNCTION_LIST),
               "3.0 additions follow the 2.40 list");
_Static_assert(offsetof(struct p11_function_list_3_0, C_MessageVerifyFinal) ==
                   sizeof(CK_FUNCTION_LIST) + 23 * sizeof(void (*)(void)),
               "24 entry points added in 3.0");

static struct p11_function_list_3_0 *get_30(void)
{
    get_fn get = (get_fn)dlsym(lib, "C_GetInterface");
    struct p11_interface *one = NULL;

    assert_non_null(get);
    assert_int_equal(get(NULL, NULL, &one, 0), CKR_OK);
    return one->pFunctionList;
}

/* Every function pointer of a list from first to the end of its struct is set. */
static void assert_all_entries(const void *list, size_t first, size_t size)
{
    for (size_t off = first; off + sizeof(void (*)(void)) <= size; off += sizeof(void (*)(void))) {
        void (*fn)(void) = NULL;

        memcpy(&fn, (const char *)list + off, sizeof(fn));
        if (fn == NULL) {
            fail_msg("function list entry at offset %zu is NULL", off);
        }
    }
}

static void test_interfaces(void **state)
{
    get_list_fn get_list = (get_list_fn)dlsym(lib, "C_GetInterfaceList");
    get_fn get = (get_fn)dlsym(lib, "C_GetInterface");
    struct p11_interface list[2], *one = NULL;
    CK_VERSION v240 = {2, 40}, v30 = {3, 0}, v220 = {2, 20};
    CK_ULONG n = 0;
    CK_VERSION *v;

    (void)state;
    assert_non_null(get_list);
    assert_non_null(get);
    assert_null(dlsym(lib, "C_Sign")); /* only the three entry points are exported */
    assert_null(dlsym(lib, "C_LoginUser"));
    assert_int_equal(get_list(NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(get_list(NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    n = 1;
    assert_int_equal(get_list(list, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(get_list(list, &n), CKR_OK);
    assert_int_equal(n, 2);
    assert_string_equal((const char *)list[0].pInterfaceName, "PKCS 11");
    assert_string_equal((const char *)list[1].pInterfaceName, "PKCS 11");
    v = list[0].pFunctionList;
    assert_int_equal(v->major, 3);
    assert_int_equal(v->minor, 0);
    assert_ptr_equal(list[1].pFunctionList, p11); /* C_GetFunctionList's 2.40 list */
    assert_int_equal(p11->version.major, 2);
    assert_int_equal(p11->version.minor, 40);
    assert_all_entries(p11, offsetof(CK_FUNCTION_LIST, C_Initialize), sizeof(CK_FUNCTION_LIST));
    assert_all_entries(list[0].pFunctionList, offsetof(struct p11_function_list_3_0, C_Initialize),
                       sizeof(struct p11_function_list_3_0));
    /* Defaults: no name, no version → 3.0; a name without a version → its newest. */
    assert_int_equal(get(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(get(NULL, NULL, &one, 0), CKR_OK);
    assert_ptr_equal(one->pFunctionList, list[0].pFunctionList);
    one = NULL;
    assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &one, 0), CKR_OK);
    assert_ptr_equal(one->pFunctionList, list[0].pFunctionList);
    one = NULL;
    assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &one, 0), CKR_OK);
    assert_ptr_equal(one->pFunctionList, list[0].pFunctionList);
    one = NULL;
    assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &one, 0), CKR_OK);
    assert_ptr_equal(one->pFunctionList, p11);
    one = NULL;
    assert_int_equal(get(NULL, &v240, &one, 0), CKR_OK);
    assert_ptr_equal(one->pFunctionList, p11);
    /* Unknown name, version or flag: CKR_ARGUMENTS_BAD, *ret untouched. */
    one = NULL;
    assert_int_equal(get((CK_UTF8CHAR_PTR) "Vendor X", NULL, &one, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v220, &one, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(get(NULL, NULL, &one, P11_CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
    assert_null(one);
}

/* C_GetInfo reports the version of the list it was called through. */
static void test_interface_info(void **state)
{
    struct p11_function_list_3_0 *f = get_30();
    CK_INFO info;

    (void)state;
    assert_int_equal(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(p11->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED); /* one module */
    assert_int_equal(f->C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 3);
    assert_int_equal(info.cryptokiVersion.minor, 0);
    assert_int_equal(p11->C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 2);
    assert_int_equal(info.cryptokiVersion.minor, 40);
    assert_int_equal(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* Sign through the 3.0 list, verify with OpenSSL; C_LoginUser; message functions. */
static void test_interface_30_sign(void **state)
{
    struct p11_function_list_3_0 *f = get_30();
    CK_SESSION_HANDLE hs = CK_INVALID_HANDLE;
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_OBJECT_HANDLE key, pub;
    CK_BYTE msg[48], sig[64];
    CK_ULONG n = sizeof(sig);
    CK_UTF8CHAR pin[] = "ignored", user[] = "someone";
    CK_SESSION_INFO si;
    EVP_PKEY *pk;

    (void)state;
    assert_int_equal(f->C_LoginUser(1, CKU_USER, pin, 7, user, 7), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(f->C_SessionCancel(1, CKF_SIGN), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(f->C_Initialize(NULL), CKR_OK);
    assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &hs), CKR_OK);
    key = find(hs, CKO_PRIVATE_KEY, "ec");
    pub = find(hs, CKO_PUBLIC_KEY, "ec");
    pk = pubkey_of(hs, pub);
    assert_non_null(pk);
    memset(msg, 0x3c, sizeof(msg));
    assert_int_equal(f->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(f->C_Sign(hs, msg, sizeof(msg), sig, &n), CKR_OK);
    assert_int_equal(n, 64);
    assert_true(ossl_verify(pk, msg, sizeof(msg), sig, n));
    EVP_PKEY_free(pk);
    /* C_LoginUser is C_Login for CKU_USER: the PIN and user name grant nothing. */
    assert_int_equal(f->C_LoginUser(hs + 1000, CKU_USER, pin, 7, user, 7),
                     CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_LoginUser(hs, CKU_SO, pin, 7, user, 7), CKR_USER_TYPE_INVALID);
    assert_int_equal(f->C_LoginUser(hs, CKU_USER, pin, 7, user, 7), CKR_OK);
    assert_int_equal(f->C_GetSessionInfo(hs, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_USER_FUNCTIONS);
    assert_int_equal(f->C_LoginUser(hs, CKU_USER, NULL, 0, NULL, 0), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(f->C_Logout(hs), CKR_OK);
    /* Message-based functions are not offered. */
    assert_int_equal(f->C_MessageSignInit(hs, &m, key), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_SignMessage(hs, NULL, 0, msg, sizeof(msg), sig, &n),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_SignMessageBegin(hs, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_SignMessageNext(hs, NULL, 0, msg, 1, NULL, &n),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageSignFinal(hs), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageVerifyInit(hs, &m, pub), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_VerifyMessage(hs, NULL, 0, msg, 1, sig, n), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_VerifyMessageBegin(hs, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_VerifyMessageNext(hs, NULL, 0, msg, 1, sig, n),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageVerifyFinal(hs), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageEncryptInit(hs, &m, key), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_EncryptMessage(hs, NULL, 0, NULL, 0, msg, 1, sig, &n),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_EncryptMessageBegin(hs, NULL, 0, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_EncryptMessageNext(hs, NULL, 0, msg, 1, sig, &n, 0),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageEncryptFinal(hs), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageDecryptInit(hs, &m, key), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_DecryptMessage(hs, NULL, 0, NULL, 0, msg, 1, sig, &n),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_DecryptMessageBegin(hs, NULL, 0, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_DecryptMessageNext(hs, NULL, 0, msg, 1, sig, &n, 0),
                     CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_MessageDecryptFinal(hs), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(f->C_Finalize(NULL), CKR_OK);
    assert_int_equal(f->C_MessageSignInit(hs, &m, key), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* C_SessionCancel ends the operations its flags name, and only those. */
static void test_session_cancel(void **state)
{
    struct p11_function_list_3_0 *f = get_30();
    CK_SESSION_HANDLE hs = open_session(0);
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_MECHANISM dm = {CKM_SHA256, NULL, 0};
    CK_OBJECT_HANDLE key = find(hs, CKO_PRIVATE_KEY, "ec");
    CK_OBJECT_HANDLE pub = find(hs, CKO_PUBLIC_KEY, "ec");
    CK_BYTE msg[16] = {0}, sig[64];
    CK_ULONG n = sizeof(sig);

    (void)state;
    assert_int_equal(f->C_SessionCancel(hs + 1000, CKF_SIGN), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(f->C_SessionCancel(hs, CKF_SIGN), CKR_OK); /* nothing active */
    assert_int_equal(f->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(f->C_SignUpdate(hs, msg, sizeof(msg)), CKR_OK);
    assert_int_equal(f->C_VerifyInit(hs, &m, pub), CKR_OK);
    assert_int_equal(f->C_DigestInit(hs, &dm), CKR_OK);
    /* Cancelling verify leaves sign and digest active. */
    assert_int_equal(f->C_SessionCancel(hs, CKF_VERIFY), CKR_OK);
    assert_int_equal(f->C_VerifyUpdate(hs, msg, sizeof(msg)), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_SignUpdate(hs, msg, sizeof(msg)), CKR_OK);
    assert_int_equal(f->C_SessionCancel(hs, CKF_SIGN), CKR_OK);
    assert_int_equal(f->C_SignUpdate(hs, msg, sizeof(msg)), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_SignFinal(hs, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_DigestUpdate(hs, msg, sizeof(msg)), CKR_OK);
    assert_int_equal(f->C_SessionCancel(hs, CKF_DIGEST | P11_CKF_FIND_OBJECTS), CKR_OK);
    assert_int_equal(f->C_DigestUpdate(hs, msg, sizeof(msg)), CKR_OPERATION_NOT_INITIALIZED);
    /* A find is cancelled too; the session works afterwards. */
    assert_int_equal(f->C_FindObjectsInit(hs, NULL, 0), CKR_OK);
    assert_int_equal(f->C_SessionCancel(hs, P11_CKF_FIND_OBJECTS), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(hs), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(f->C_SignInit(hs, &m, key), CKR_OK);
    assert_int_equal(f->C_Sign(hs, msg, sizeof(msg), sig, &n), CKR_OK);
    assert_int_equal(n, 64);
}

static void test_keygen_destroy(void **state)
{
    CK_SESSION_HANDLE hs = open_session(CKF_RW_SESSION);
    CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BYTE bad_curve[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    CK_BBOOL no = CK_FALSE;
    char label[] = "p11-generated";
    CK_ATTRIBUTE pub_t[] = {{CKA_EC_PARAMS, p256, sizeof(p256)}};
    CK_ATTRIBUTE bad_t[] = {{CKA_EC_PARAMS, bad_curve, sizeof(bad_curve)}};
    CK_ATTRIBUTE priv_t[] = {{CKA_LABEL, label, strlen(label)}};
    CK_ATTRIBUTE weak_t[] = {{CKA_SENSITIVE, &no, 1}};
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub = 0, priv = 0;

    (void)state;
    assert_int_equal(p11->C_GenerateKeyPair(hs, &gen, bad_t, 1, priv_t, 1, &pub, &priv),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(p11->C_GenerateKeyPair(hs, &gen, pub_t, 1, weak_t, 1, &pub, &priv),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(p11->C_GenerateKeyPair(hs, &gen, pub_t, 1, priv_t, 1, &pub, &priv), CKR_OK);
    assert_int_not_equal(pub, CK_INVALID_HANDLE);
    assert_int_equal(find(hs, CKO_PRIVATE_KEY, label), priv);
    sign_verify_one(hs, label, CKM_ECDSA_SHA256, 64);
    assert_int_equal(p11->C_DestroyObject(hs, priv), CKR_OK);
    assert_int_equal(find(hs, CKO_PRIVATE_KEY, label), CK_INVALID_HANDLE);
}

/* agentd closes idle connections (pkcs11_api.sh sets AGENTD_IDLE_MS and
 * P11_TEST_IDLE_MS): the pooled connection is dead, the next call must not fail.
 * The first wait comes right after C_Initialize, so the connection that dies
 * holds a HELLO whose answer was never read. */
static void test_idle_reconnect(void **state)
{
    const char *idle = getenv("P11_TEST_IDLE_MS");
    struct timespec t = {0, 0};
    long ms;

    (void)state;
    if (idle == NULL) {
        skip();
    }
    ms = strtol(idle, NULL, 10) * 3;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000;
    nanosleep(&t, NULL);
    assert_true(sign_and_check("ec"));
    nanosleep(&t, NULL);
    assert_true(sign_and_check("ec"));
    nanosleep(&t, NULL);
    assert_true(sign_and_check("ec"));
}

/*
 * Fake daemons for the start-up cases, each a forked child serving a socket
 * of our own. FAKE_REFUSE answers HELLO with STATUS_VERSION and LIST_OBJECTS
 * with a well-formed empty list, which the module must not take.
 * FAKE_RESTART reads the HELLO on its first connection and closes it
 * unanswered (an agentd restarted between C_Initialize and the first call;
 * reading first keeps the module's send from racing the close) and answers
 * HELLO on the next ones with token label "fake-token".
 */
enum fake_mode { FAKE_REFUSE, FAKE_RESTART };

static void fake_daemon(int lfd, enum fake_mode mode)
{
    struct buf *in = buf_new(FRAME_BODY_MAX), *out = buf_new(FRAME_BODY_MAX);
    struct msg_list_objects_reply *none = calloc(1, sizeof(*none));
    struct msg_hello_reply hello = {PROTO_VERSION, msg_str_c("fake-token"), msg_str_c("fake"),
                                    msg_str_c("1"), msg_str_c("0")};
    struct frame_header h;
    int n_accepted = 0;
    int fd;

    while (in != NULL && out != NULL && none != NULL && (fd = accept(lfd, NULL, NULL)) >= 0) {
        if (mode == FAKE_RESTART && n_accepted++ == 0) {
            if (io_read_frame(fd, in, &h) != 0) {
                break; /* the module never sent its HELLO: the test fails on its side */
            }
            close(fd);
            continue;
        }
        while (io_read_frame(fd, in, &h) == 0) {
            int r;

            buf_reset(out);
            if (h.type != MSG_HELLO) {
                r = msg_list_objects_reply_encode(out, none);
            } else if (mode == FAKE_REFUSE) {
                r = msg_error_encode(out, STATUS_VERSION, "no common version");
            } else {
                r = msg_hello_reply_encode(out, &hello);
            }
            if (r != 0 || io_write_frame(fd, h.type | FRAME_REPLY, h.request_id, out) != 0) {
                break;
            }
        }
        close(fd);
    }
    _exit(0);
}

struct fake {
    char dir[32];
    struct sockaddr_un sa;
    char *saved; /* AGENTD_SOCKET before */
    pid_t pid;
};

/* The fake of the running test, static so the teardown still finds it after a failed assertion. */
static struct fake the_fake;
static struct fake *fake_active;

/* AGENTD_SOCKET pointed at a path in a new directory; nothing listens yet. */
static void fake_prepare(struct fake *f)
{
    const char *saved = getenv("AGENTD_SOCKET");

    memset(f, 0, sizeof(*f));
    fake_active = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/p11-fake.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->sa.sun_family = AF_UNIX;
    snprintf(f->sa.sun_path, sizeof(f->sa.sun_path), "%s/sock", f->dir);
    f->saved = saved != NULL ? strdup(saved) : NULL;
    setenv("AGENTD_SOCKET", f->sa.sun_path, 1);
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
    pid_t parent = getpid();
    int lfd;

    assert_true((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&f->sa, sizeof(f->sa)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_true((f->pid = fork()) >= 0);
    if (f->pid == 0) {
        /* Never outlive the test: a child left holding ctest's pipe stalls it until its timeout. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(0);
        }
        fake_daemon(lfd, mode);
    }
    close(lfd);
}

static void fake_stop(struct fake *f)
{
    int status;

    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
    }
    unlink(f->sa.sun_path);
    rmdir(f->dir);
    if (f->saved != NULL) {
        setenv("AGENTD_SOCKET", f->saved, 1);
        free(f->saved);
    } else {
        unsetenv("AGENTD_SOCKET");
    }
    fake_active = NULL;
}

/* After a fake test, passed or not: the fake stopped, AGENTD_SOCKET restored. */
static int fake_teardown(void **state)
{
    (void)state;
    if (fake_active != NULL) {
        (void)p11->C_Finalize(NULL);
        fake_stop(fake_active);
    }
    return 0;
}

/*
 * A daemon that cannot be reached fails C_Initialize; one that refuses the
 * HELLO (no common protocol version) fails the call that reads its answer,
 * and no request sent behind that HELLO is answered from it (FAKE_REFUSE).
 */
static void test_daemon_refuses(void **state)
{
    CK_SESSION_HANDLE hs = CK_INVALID_HANDLE;
    CK_TOKEN_INFO ti;
    CK_SLOT_INFO si;
    struct fake *f = &the_fake;

    (void)state;
    fake_prepare(f);
    assert_int_equal(p11->C_Initialize(NULL), CKR_DEVICE_ERROR); /* nobody listens */
    fake_start(f, FAKE_REFUSE);
    assert_int_equal(p11->C_Initialize(NULL), CKR_OK); /* HELLO sent, not yet answered */
    assert_int_equal(p11->C_GetTokenInfo(0, &ti), CKR_DEVICE_ERROR);
    assert_int_equal(p11->C_GetSlotInfo(0, &si), CKR_DEVICE_ERROR);
    /* The object list goes out behind a new HELLO; its answer is not used. */
    assert_int_equal(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &hs), CKR_DEVICE_ERROR);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
    fake_stop(f);
}

/* The connection C_Initialize left waiting died unanswered: the token's info
 * is fetched on a new one, as any other call would retry. */
static void test_daemon_restarted(void **state)
{
    CK_TOKEN_INFO ti;
    struct fake *f = &the_fake;

    (void)state;
    fake_prepare(f);
    fake_start(f, FAKE_RESTART);
    assert_int_equal(p11->C_Initialize(NULL), CKR_OK);
    assert_int_equal(p11->C_GetTokenInfo(0, &ti), CKR_OK);
    assert_memory_equal(ti.label, "fake-token ", 11);
    assert_int_equal(p11->C_Finalize(NULL), CKR_OK);
    fake_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test_setup_teardown(test_token_info, init, fini),
        cmocka_unit_test_setup_teardown(test_bad_handles, init, fini),
        cmocka_unit_test_setup_teardown(test_session_state, init, fini),
        cmocka_unit_test_setup_teardown(test_attributes, init, fini),
        cmocka_unit_test_setup_teardown(test_sign_single, init, fini),
        cmocka_unit_test_setup_teardown(test_sign_multi, init, fini),
        cmocka_unit_test_setup_teardown(test_digest_random, init, fini),
        cmocka_unit_test_setup_teardown(test_mechanisms, init, fini),
        cmocka_unit_test_setup_teardown(test_finalize_open_sessions, init, fini),
        cmocka_unit_test_setup_teardown(test_fork, init, fini),
        cmocka_unit_test_setup_teardown(test_threads, init, fini),
        cmocka_unit_test(test_app_locking),
        cmocka_unit_test_setup_teardown(test_finalize_during_calls, init, fini),
        cmocka_unit_test(test_interfaces),
        cmocka_unit_test(test_interface_info),
        cmocka_unit_test(test_interface_30_sign),
        cmocka_unit_test_setup_teardown(test_session_cancel, init, fini),
        cmocka_unit_test_setup_teardown(test_idle_reconnect, init, fini),
        cmocka_unit_test_setup_teardown(test_keygen_destroy, init, fini),
        cmocka_unit_test_teardown(test_daemon_refuses, fake_teardown),
        cmocka_unit_test_teardown(test_daemon_restarted, fake_teardown),
    };

    return cmocka_run_group_tests(tests, load, NULL);
}
