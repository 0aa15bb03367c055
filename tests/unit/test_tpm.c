/*
 * The TPM layer above ESYS, with ESYS and the TCTI loader mocked by --wrap:
 * TSS2_RC -> ad_err mapping, bounded retries on TPM_RC_RETRY/YIELDED/TESTING,
 * the loaded-key cache (a hot key signs with one TPM2_Sign, LRU eviction) and
 * recovery after a TPM restart; and the overlapped sign (work done between
 * sending TPM2_Sign and reading its answer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "tpm.h"
#include "tpm_internal.h"

/* Counters of the mocked commands. */
static unsigned n_tcti_init, n_primary, n_load, n_sign, n_flush;
static ESYS_TR next_handle = 0x1000;
/* Esys_Load answers OBJECT_MEMORY once this many keys are loaded (0: never). */
static unsigned load_full_after;
static unsigned n_startup;
/* CreatePrimary answers this once, then succeeds. */
static TSS2_RC primary_rc_once;
static int fake_ctx;

TSS2_RC __wrap_Tss2_TctiLdr_Initialize(const char *conf, TSS2_TCTI_CONTEXT **ctx);
TSS2_RC __wrap_Tss2_TctiLdr_Initialize(const char *conf, TSS2_TCTI_CONTEXT **ctx)
{
    (void)conf;
    n_tcti_init++;
    *ctx = (TSS2_TCTI_CONTEXT *)&fake_ctx;
    return TSS2_RC_SUCCESS;
}

void __wrap_Tss2_TctiLdr_Finalize(TSS2_TCTI_CONTEXT **ctx);
void __wrap_Tss2_TctiLdr_Finalize(TSS2_TCTI_CONTEXT **ctx)
{
    *ctx = NULL;
}

TSS2_RC __wrap_Esys_Initialize(ESYS_CONTEXT **esys, TSS2_TCTI_CONTEXT *tcti, TSS2_ABI_VERSION *abi);
TSS2_RC __wrap_Esys_Initialize(ESYS_CONTEXT **esys, TSS2_TCTI_CONTEXT *tcti, TSS2_ABI_VERSION *abi)
{
    (void)tcti;
    (void)abi;
    *esys = (ESYS_CONTEXT *)&fake_ctx;
    return TSS2_RC_SUCCESS;
}

void __wrap_Esys_Finalize(ESYS_CONTEXT **esys);
void __wrap_Esys_Finalize(ESYS_CONTEXT **esys)
{
    *esys = NULL;
}

TSS2_RC __wrap_Esys_CreatePrimary(ESYS_CONTEXT *esys, ESYS_TR hier, ESYS_TR s1, ESYS_TR s2,
                                  ESYS_TR s3, const TPM2B_SENSITIVE_CREATE *sens,
                                  const TPM2B_PUBLIC *pub, const TPM2B_DATA *outside,
                                  const TPML_PCR_SELECTION *pcrs, ESYS_TR *ret, void *a, void *b,
                                  void *c, void *d);
TSS2_RC __wrap_Esys_CreatePrimary(ESYS_CONTEXT *esys, ESYS_TR hier, ESYS_TR s1, ESYS_TR s2,
                                  ESYS_TR s3, const TPM2B_SENSITIVE_CREATE *sens,
                                  const TPM2B_PUBLIC *pub, const TPM2B_DATA *outside,
                                  const TPML_PCR_SELECTION *pcrs, ESYS_TR *ret, void *a, void *b,
                                  void *c, void *d)
{
    (void)esys, (void)s1, (void)s2, (void)s3, (void)sens, (void)outside, (void)pcrs;
    (void)a, (void)b, (void)c, (void)d;
    assert_int_equal(hier, ESYS_TR_RH_OWNER);
    /* TCG SRK template: restricted decrypt ECC P-256, AES-128-CFB. */
    assert_int_equal(pub->publicArea.type, TPM2_ALG_ECC);
    assert_int_equal(pub->publicArea.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
    assert_true(pub->publicArea.objectAttributes & TPMA_OBJECT_RESTRICTED);
    n_primary++;
    if (primary_rc_once != TSS2_RC_SUCCESS) {
        TSS2_RC rc = primary_rc_once;
        primary_rc_once = TSS2_RC_SUCCESS;
        return rc;
    }
    *ret = next_handle++;
    return TSS2_RC_SUCCESS;
}

TSS2_RC __wrap_Esys_Load(ESYS_CONTEXT *esys, ESYS_TR parent, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                         const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub, ESYS_TR *ret);
TSS2_RC __wrap_Esys_Load(ESYS_CONTEXT *esys, ESYS_TR parent, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                         const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub, ESYS_TR *ret)
{
    (void)esys, (void)parent, (void)s2, (void)s3, (void)priv, (void)pub;
    assert_int_equal(s1, ESYS_TR_PASSWORD);
    if (load_full_after != 0 && n_load - n_flush >= load_full_after) {
        return TPM2_RC_OBJECT_MEMORY; /* another user of the TPM holds slots */
    }
    n_load++;
    *ret = next_handle++;
    return TSS2_RC_SUCCESS;
}

TSS2_RC __wrap_Esys_FlushContext(ESYS_CONTEXT *esys, ESYS_TR h);
TSS2_RC __wrap_Esys_FlushContext(ESYS_CONTEXT *esys, ESYS_TR h)
{
    (void)esys;
    (void)h;
    n_flush++;
    return TSS2_RC_SUCCESS;
}

TSS2_RC __wrap_Esys_Startup(ESYS_CONTEXT *esys, TPM2_SU type);
TSS2_RC __wrap_Esys_Startup(ESYS_CONTEXT *esys, TPM2_SU type)
{
    (void)esys;
    assert_int_equal(type, TPM2_SU_CLEAR);
    n_startup++;
    return TSS2_RC_SUCCESS;
}

/* What a successful mocked TPM2_Sign returns: a P-256 signature with a short r. */
static TPMT_SIGNATURE *fake_sig(void)
{
    TPMT_SIGNATURE *s = calloc(1, sizeof(*s)); /* tpm.c frees it with Esys_Free (free) */

    assert_non_null(s);
    s->sigAlg = TPM2_ALG_ECDSA;
    s->signature.ecdsa.signatureR.size = 31;
    memset(s->signature.ecdsa.signatureR.buffer, 0xaa, 31);
    s->signature.ecdsa.signatureS.size = 32;
    memset(s->signature.ecdsa.signatureS.buffer, 0xbb, 32);
    return s;
}

static void check_sign_args(ESYS_TR s1, ESYS_TR s2, ESYS_TR s3, const TPM2B_DIGEST *digest,
                            const TPMT_SIG_SCHEME *scheme)
{
    assert_int_equal(s1, ESYS_TR_PASSWORD); /* no HMAC session on the sign path */
    assert_int_equal(s2, ESYS_TR_NONE);
    assert_int_equal(s3, ESYS_TR_NONE);
    assert_int_equal(digest->size, 32);
    assert_int_equal(scheme->scheme, TPM2_ALG_ECDSA);
}

/* Esys_Sign returns the queued rc; on success fake_sig(). */
TSS2_RC __wrap_Esys_Sign(ESYS_CONTEXT *esys, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                         const TPM2B_DIGEST *digest, const TPMT_SIG_SCHEME *scheme,
                         const TPMT_TK_HASHCHECK *check, TPMT_SIGNATURE **sig);
TSS2_RC __wrap_Esys_Sign(ESYS_CONTEXT *esys, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                         const TPM2B_DIGEST *digest, const TPMT_SIG_SCHEME *scheme,
                         const TPMT_TK_HASHCHECK *check, TPMT_SIGNATURE **sig)
{
    TSS2_RC rc = mock_type(TSS2_RC);

    (void)esys, (void)key, (void)check;
    check_sign_args(s1, s2, s3, digest, scheme);
    n_sign++;
    if (rc != TSS2_RC_SUCCESS) {
        return rc;
    }
    *sig = fake_sig();
    return TSS2_RC_SUCCESS;
}

/* The two halves of an overlapped TPM2_Sign, each answering its queued rc. */
static unsigned n_async, n_finish;
static bool is_sent; /* _Async succeeded and _Finish has not yet answered */

TSS2_RC __wrap_Esys_Sign_Async(ESYS_CONTEXT *esys, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                               const TPM2B_DIGEST *digest, const TPMT_SIG_SCHEME *scheme,
                               const TPMT_TK_HASHCHECK *check);
TSS2_RC __wrap_Esys_Sign_Async(ESYS_CONTEXT *esys, ESYS_TR key, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
                               const TPM2B_DIGEST *digest, const TPMT_SIG_SCHEME *scheme,
                               const TPMT_TK_HASHCHECK *check)
{
    TSS2_RC rc = mock_type(TSS2_RC);

    (void)esys, (void)key, (void)check;
    assert_false(is_sent);
    check_sign_args(s1, s2, s3, digest, scheme);
    n_async++;
    is_sent = rc == TSS2_RC_SUCCESS;
    return rc;
}

TSS2_RC __wrap_Esys_Sign_Finish(ESYS_CONTEXT *esys, TPMT_SIGNATURE **sig);
TSS2_RC __wrap_Esys_Sign_Finish(ESYS_CONTEXT *esys, TPMT_SIGNATURE **sig)
{
    TSS2_RC rc = mock_type(TSS2_RC);

    (void)esys;
    assert_true(is_sent);
    n_finish++;
    if ((rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_TRY_AGAIN) {
        return rc; /* still sent: ESYS resubmitted */
    }
    is_sent = false;
    if (rc != TSS2_RC_SUCCESS) {
        return rc;
    }
    *sig = fake_sig();
    return TSS2_RC_SUCCESS;
}

static struct keyblob *p256_blob(void)
{
    TPM2B_PUBLIC p = {0};
    TPM2B_PRIVATE s = {.size = 64};
    uint8_t pub[512], priv[512];
    size_t pub_len = 0, priv_len = 0;
    struct keyblob *kb = NULL;

    p.publicArea.type = TPM2_ALG_ECC;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.publicArea.unique.ecc.x.size = 32;
    p.publicArea.unique.ecc.y.size = 32;
    assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p, pub, sizeof(pub), &pub_len), 0);
    assert_int_equal(Tss2_MU_TPM2B_PRIVATE_Marshal(&s, priv, sizeof(priv), &priv_len), 0);
    assert_int_equal(keyblob_new(pub, pub_len, priv, priv_len, KEYBLOB_PARENT_OWNER, true, &kb), 0);
    return kb;
}

/* Log lines by level: a recovery that succeeds must not log at error level. */
static unsigned n_log[TPM_LOG_INFO + 1];

static void capture_log(enum tpm_log_level level, const char *line)
{
    n_log[level]++;
    fprintf(stderr, "agentd: tpm [%s]: %s\n",
            level == TPM_LOG_ERROR  ? "error"
            : level == TPM_LOG_WARN ? "warn"
                                    : "info",
            line);
}

struct fixture {
    struct tpm *t;
    struct keyblob *kb;
    struct tpm_key *k;
};

static int setup(void **state)
{
    static struct fixture f;
    struct tpm_options opt = {.tcti = "mock", .retries = 3};

    n_tcti_init = n_primary = n_load = n_sign = n_flush = load_full_after = n_startup = 0;
    n_async = n_finish = 0;
    is_sent = false;
    memset(n_log, 0, sizeof(n_log));
    tpm_set_log(capture_log);
    memset(&f, 0, sizeof(f));
    assert_int_equal(tpm_open(&opt, &f.t), 0);
    f.kb = p256_blob();
    assert_int_equal(tpm_key_new(f.t, f.kb, &f.k), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tpm_key_free(f->t, f->k);
    tpm_close(f->t);
    keyblob_free(f->kb);
    return 0;
}

static int sign(struct fixture *f, uint8_t *sig, size_t *len)
{
    uint8_t digest[32] = {1, 2, 3};

    *len = TPM_SIG_MAX;
    return tpm_sign(f->t, f->k, TPM_SIG_ECDSA, TPM_HASH_SHA256, digest, 32, sig, len);
}

static void test_rc_mapping(void **state)
{
    (void)state;
    assert_int_equal(tpm_rc_to_err(TSS2_RC_SUCCESS), AD_OK);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_RETRY), AD_ERR_TPM_RETRY);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_YIELDED), AD_ERR_TPM_RETRY);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_TESTING), AD_ERR_TPM_RETRY);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_OBJECT_MEMORY), AD_ERR_TPM_RETRY);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_INITIALIZE), AD_ERR_TPM_LOST);
    /* TPM_RC_HANDLE on handle 1 (format one: 0x08b | TPM_RC_H | TPM_RC_1). */
    assert_int_equal(tpm_rc_to_err(TPM2_RC_HANDLE | TPM2_RC_H | TPM2_RC_1), AD_ERR_TPM_LOST);
    assert_int_equal(tpm_rc_to_err(TSS2_TCTI_RC_IO_ERROR), AD_ERR_TPM_LOST);
    assert_int_equal(tpm_rc_to_err(TSS2_TCTI_RC_NO_CONNECTION), AD_ERR_TPM_LOST);
    assert_int_equal(tpm_rc_to_err(TSS2_ESYS_RC_MEMORY), AD_ERR_NOMEM);
    assert_int_equal(tpm_rc_to_err(TSS2_ESYS_RC_BAD_VALUE), AD_ERR_INVALID);
    /* TPM_RC_SCHEME on parameter 2, TPM_RC_INTEGRITY on parameter 1: plain failures. */
    assert_int_equal(tpm_rc_to_err(TPM2_RC_SCHEME | TPM2_RC_P | TPM2_RC_2), AD_ERR_TPM);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_INTEGRITY | TPM2_RC_P | TPM2_RC_1), AD_ERR_TPM);
    assert_int_equal(tpm_rc_to_err(TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1), AD_ERR_TPM);
}

static void test_retry_then_success(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return(__wrap_Esys_Sign, TPM2_RC_RETRY);
    will_return(__wrap_Esys_Sign, TPM2_RC_YIELDED);
    will_return(__wrap_Esys_Sign, TSS2_RC_SUCCESS);
    assert_int_equal(sign(f, sig, &len), 0);
    assert_int_equal(n_sign, 3);
    assert_int_equal(n_load, 1);
    assert_int_equal(len, 64);
    assert_int_equal(sig[0], 0); /* r left-padded to 32 bytes */
    assert_int_equal(sig[1], 0xaa);
    assert_int_equal(sig[32], 0xbb);
}

static void test_retries_exhausted(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return_count(__wrap_Esys_Sign, TPM2_RC_TESTING, 4); /* 1 try + 3 retries */
    assert_int_equal(sign(f, sig, &len), AD_ERR_TPM_RETRY);
    assert_int_equal(n_sign, 4);
}

static void test_hot_key_one_command(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return_count(__wrap_Esys_Sign, TSS2_RC_SUCCESS, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sign(f, sig, &len), 0);
    }
    assert_int_equal(n_load, 1); /* loaded once, then only TPM2_Sign */
    assert_int_equal(n_sign, 5);
}

static void test_lru_eviction(void **state)
{
    struct fixture *f = *state;
    struct tpm_key *k2 = NULL, *k3 = NULL, *k1 = f->k;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    assert_int_equal(tpm_key_new(f->t, f->kb, &k2), 0);
    assert_int_equal(tpm_key_new(f->t, f->kb, &k3), 0);
    will_return_count(__wrap_Esys_Sign, TSS2_RC_SUCCESS, 5);
    assert_int_equal(sign(f, sig, &len), 0); /* k1 loaded */
    f->k = k2;
    assert_int_equal(sign(f, sig, &len), 0); /* k2 loaded: 2 = max */
    f->k = k1;
    assert_int_equal(sign(f, sig, &len), 0); /* k1 hot: k2 is now LRU */
    assert_int_equal(n_flush, 0);
    f->k = k3;
    assert_int_equal(sign(f, sig, &len), 0); /* evicts k2 */
    assert_int_equal(n_flush, 1);
    f->k = k1;
    assert_int_equal(sign(f, sig, &len), 0); /* still loaded */
    assert_int_equal(n_load, 3);
    tpm_key_free(f->t, k2);
    tpm_key_free(f->t, k3); /* loaded: flushed */
    assert_int_equal(n_flush, 2);
}

/* A TPM that was reset and not started: TPM_RC_INITIALIZE, then TPM2_Startup(CLEAR). */
static void test_open_starts_tpm(void **state)
{
    struct tpm_options opt = {.tcti = "mock"};
    struct tpm *t = NULL;

    (void)state;
    n_primary = n_startup = 0;
    primary_rc_once = TPM2_RC_INITIALIZE;
    assert_int_equal(tpm_open(&opt, &t), 0);
    assert_int_equal(n_startup, 1);
    assert_int_equal(n_primary, 2);
    tpm_close(t);
    /* A started TPM gets no Startup. */
    n_startup = 0;
    assert_int_equal(tpm_open(&opt, &t), 0);
    assert_int_equal(n_startup, 0);
    tpm_close(t);
    /* An SRK that cannot be made is an error, and nothing leaks. */
    primary_rc_once = TPM2_RC_HIERARCHY | TPM2_RC_P | TPM2_RC_1;
    assert_int_equal(tpm_open(&opt, &t), AD_ERR_TPM);
}

/* Fewer free slots than max_loaded: TPM_RC_OBJECT_MEMORY evicts the LRU key and loads. */
static void test_object_memory_evicts(void **state)
{
    struct fixture *f = *state;
    struct tpm_key *k2 = NULL, *k1 = f->k;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    load_full_after = 1;
    assert_int_equal(tpm_key_new(f->t, f->kb, &k2), 0);
    will_return_count(__wrap_Esys_Sign, TSS2_RC_SUCCESS, 3);
    assert_int_equal(sign(f, sig, &len), 0);
    f->k = k2;
    assert_int_equal(sign(f, sig, &len), 0); /* OBJECT_MEMORY, flush k1, load k2 */
    assert_int_equal(n_flush, 1);
    f->k = k1;
    assert_int_equal(sign(f, sig, &len), 0);
    assert_int_equal(n_load, 3);
    assert_int_equal(n_flush, 2);
    tpm_key_free(f->t, k2);
}

static void test_recover_after_restart(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return(__wrap_Esys_Sign, TSS2_RC_SUCCESS);
    assert_int_equal(sign(f, sig, &len), 0);
    /* The TPM rebooted: our key handle is gone. */
    will_return(__wrap_Esys_Sign, TPM2_RC_HANDLE | TPM2_RC_H | TPM2_RC_1);
    will_return(__wrap_Esys_Sign, TSS2_RC_SUCCESS);
    assert_int_equal(sign(f, sig, &len), 0);
    assert_int_equal(n_tcti_init, 2);         /* reconnected */
    assert_int_equal(n_primary, 2);           /* SRK re-created */
    assert_int_equal(n_load, 2);              /* key reloaded from its blob */
    assert_int_equal(n_log[TPM_LOG_WARN], 1); /* noticed and recovered: a warning, no error */
    assert_int_equal(n_log[TPM_LOG_ERROR], 0);
}

static void test_recover_bounded(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return_count(__wrap_Esys_Sign, TSS2_TCTI_RC_IO_ERROR, 1 + TPM_RECOVER_MAX);
    assert_int_equal(sign(f, sig, &len), AD_ERR_TPM_LOST);
    assert_int_equal(n_tcti_init, 1 + TPM_RECOVER_MAX);
    assert_int_equal(n_log[TPM_LOG_WARN], TPM_RECOVER_MAX); /* each reconnect */
    assert_int_equal(n_log[TPM_LOG_ERROR], 1);              /* and the failure, once */
}

static void test_sign_args(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[TPM_SIG_MAX], digest[48] = {0};
    size_t len = 10;

    /* Too small a buffer: the size needed, no TPM command. */
    assert_int_equal(tpm_sign(f->t, f->k, TPM_SIG_ECDSA, TPM_HASH_SHA256, digest, 32, sig, &len),
                     AD_ERR_SHORT);
    assert_int_equal(len, 64);
    len = sizeof(sig);
    assert_int_equal(tpm_sign(f->t, f->k, TPM_SIG_ECDSA, TPM_HASH_SHA256, digest, 48, sig, &len),
                     AD_ERR_INVALID);
    assert_int_equal(tpm_sign(f->t, f->k, TPM_SIG_RSAPSS, TPM_HASH_SHA256, digest, 32, sig, &len),
                     AD_ERR_UNSUPPORTED);
    assert_int_equal(n_sign, 0);
}

/* The meanwhile callback: counts its runs and what the TPM had seen by then. */
struct seen {
    unsigned runs;
    bool was_sent; /* the command was out, its answer not yet read */
    unsigned n_sign;
};

static void meanwhile(void *arg)
{
    struct seen *w = arg;

    w->runs++;
    w->was_sent = is_sent;
    w->n_sign = n_sign;
}

static int sign_meanwhile(struct fixture *f, size_t digest_len, struct seen *w, uint8_t *sig,
                          size_t *len)
{
    const struct tpm_meanwhile mw = {meanwhile, w};
    uint8_t digest[48] = {1, 2, 3};

    *len = TPM_SIG_MAX;
    return tpm_sign_meanwhile(f->t, f->k, TPM_SIG_ECDSA, TPM_HASH_SHA256, digest, digest_len, &mw,
                              sig, len);
}

/* The callback runs between sending TPM2_Sign and reading its answer. */
static void test_meanwhile_overlaps(void **state)
{
    struct fixture *f = *state;
    struct seen w = {0};
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return(__wrap_Esys_Sign_Async, TSS2_RC_SUCCESS);
    will_return(__wrap_Esys_Sign_Finish, TSS2_ESYS_RC_TRY_AGAIN); /* ESYS resubmitted */
    will_return(__wrap_Esys_Sign_Finish, TSS2_RC_SUCCESS);
    assert_int_equal(sign_meanwhile(f, 32, &w, sig, &len), 0);
    assert_int_equal(w.runs, 1);
    assert_true(w.was_sent);
    assert_int_equal(n_async, 1);
    assert_int_equal(n_finish, 2);
    assert_int_equal(n_sign, 0);
    assert_int_equal(len, 64);
    assert_int_equal(sig[0], 0);
    assert_int_equal(sig[1], 0xaa);
    assert_int_equal(sig[32], 0xbb);
}

/* A lost TPM on either half: recovery, then the plain retry path; the callback ran once. */
static void test_meanwhile_recovers(void **state)
{
    struct fixture *f = *state;
    struct seen w = {0};
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    will_return(__wrap_Esys_Sign_Async, TSS2_TCTI_RC_IO_ERROR);
    will_return(__wrap_Esys_Sign, TSS2_RC_SUCCESS);
    assert_int_equal(sign_meanwhile(f, 32, &w, sig, &len), 0);
    assert_int_equal(w.runs, 1);
    assert_false(w.was_sent);
    assert_int_equal(n_sign, 1);
    assert_int_equal(n_tcti_init, 2); /* reconnected */

    memset(&w, 0, sizeof(w));
    will_return(__wrap_Esys_Sign_Async, TSS2_RC_SUCCESS);
    will_return(__wrap_Esys_Sign_Finish, TPM2_RC_INITIALIZE); /* the TPM restarted meanwhile */
    will_return(__wrap_Esys_Sign, TPM2_RC_RETRY);
    will_return(__wrap_Esys_Sign, TSS2_RC_SUCCESS);
    assert_int_equal(sign_meanwhile(f, 32, &w, sig, &len), 0);
    assert_int_equal(w.runs, 1);
    assert_true(w.was_sent);
    assert_int_equal(w.n_sign, 1); /* nothing signed synchronously before it */
    assert_int_equal(n_sign, 3);
    assert_int_equal(n_async, 2);
}

/* Refused before the TPM, or failed for good: the callback still runs, once. */
static void test_meanwhile_runs_on_failure(void **state)
{
    struct fixture *f = *state;
    struct seen w = {0};
    uint8_t sig[TPM_SIG_MAX];
    size_t len;

    assert_int_equal(sign_meanwhile(f, 48, &w, sig, &len), AD_ERR_INVALID);
    assert_int_equal(w.runs, 1);
    assert_int_equal(n_async + n_sign, 0);

    memset(&w, 0, sizeof(w));
    will_return(__wrap_Esys_Sign_Async, TSS2_RC_SUCCESS);
    will_return(__wrap_Esys_Sign_Finish, TPM2_RC_SCHEME | TPM2_RC_P | TPM2_RC_2);
    assert_int_equal(sign_meanwhile(f, 32, &w, sig, &len), AD_ERR_TPM);
    assert_int_equal(w.runs, 1);
    assert_int_equal(n_sign, 0);
}

/* Blob whose public area holds pub (TPMT_PUBLIC) and a dummy private part. */
static struct keyblob *blob_of(const TPM2B_PUBLIC *p)
{
    TPM2B_PRIVATE s = {.size = 16};
    uint8_t pub[1024], priv[64];
    size_t pub_len = 0, priv_len = 0;
    struct keyblob *kb = NULL;

    assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(p, pub, sizeof(pub), &pub_len), 0);
    assert_int_equal(Tss2_MU_TPM2B_PRIVATE_Marshal(&s, priv, sizeof(priv), &priv_len), 0);
    assert_int_equal(keyblob_new(pub, pub_len, priv, priv_len, KEYBLOB_PARENT_OWNER, true, &kb), 0);
    return kb;
}

/* tpm_key_info's SPKI equals OpenSSL's own encoding of the same EC key. */
static void test_key_info_ec(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    uint8_t point[97], *spki = NULL;
    size_t point_len = 0;
    int spki_len = i2d_PUBKEY(k, &spki);
    TPM2B_PUBLIC p = {0};
    struct tpm_pubinfo info = {0};
    struct keyblob *kb;

    (void)state;
    assert_true(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                                &point_len));
    assert_int_equal(point_len, 97);
    p.publicArea.type = TPM2_ALG_ECC;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
    p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.publicArea.unique.ecc.x.size = 48;
    memcpy(p.publicArea.unique.ecc.x.buffer, point + 1, 48);
    p.publicArea.unique.ecc.y.size = 48;
    memcpy(p.publicArea.unique.ecc.y.buffer, point + 49, 48);
    kb = blob_of(&p);
    assert_int_equal(tpm_key_info(kb, &info), 0);
    assert_int_equal(info.type, TPM_KEY_EC_P384);
    assert_int_equal(info.bits, 384);
    assert_int_equal(info.spki_len, (size_t)spki_len);
    assert_memory_equal(info.spki, spki, info.spki_len);
    /* CKA_EC_PARAMS: OID 1.3.132.0.34; CKA_EC_POINT: 04 61 04 x y. */
    assert_int_equal(info.ec_params_len, 7);
    assert_memory_equal(info.ec_params, "\x06\x05\x2b\x81\x04\x00\x22", 7);
    assert_int_equal(info.ec_point_len, 99);
    assert_memory_equal(info.ec_point, "\x04\x61", 2);
    assert_memory_equal(info.ec_point + 2, point, 97);
    assert_int_equal(info.name_len, 34); /* SHA-256 nameAlg || digest */
    assert_int_equal(info.name[1], 0x0b);
    tpm_pubinfo_clear(&info);
    tpm_pubinfo_clear(&info); /* twice is fine */
    /* A point too long for the curve is refused. */
    p.publicArea.unique.ecc.x.size = 49;
    keyblob_free(kb);
    kb = blob_of(&p);
    assert_int_equal(tpm_key_info(kb, &info), AD_ERR_FORMAT);
    keyblob_free(kb);
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

static void test_key_info_rsa(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    BIGNUM *n = NULL;
    uint8_t *spki = NULL;
    int spki_len = i2d_PUBKEY(k, &spki);
    TPM2B_PUBLIC p = {0};
    struct tpm_pubinfo info = {0};
    struct keyblob *kb;

    (void)state;
    assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
    p.publicArea.type = TPM2_ALG_RSA;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.publicArea.parameters.rsaDetail.keyBits = 2048;
    p.publicArea.unique.rsa.size = 256;
    assert_int_equal(BN_bn2binpad(n, p.publicArea.unique.rsa.buffer, 256), 256);
    kb = blob_of(&p);
    assert_int_equal(tpm_key_info(kb, &info), 0);
    assert_int_equal(info.type, TPM_KEY_RSA_2048);
    assert_int_equal(info.spki_len, (size_t)spki_len);
    assert_memory_equal(info.spki, spki, info.spki_len);
    assert_int_equal(info.rsa_n_len, 256);
    assert_int_equal(info.rsa_e_len, 3);
    assert_memory_equal(info.rsa_e, "\x01\x00\x01", 3);
    tpm_pubinfo_clear(&info);
    keyblob_free(kb);
    BN_free(n);
    OPENSSL_free(spki);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc_mapping),
        cmocka_unit_test(test_key_info_ec),
        cmocka_unit_test(test_key_info_rsa),
        cmocka_unit_test(test_open_starts_tpm),
        cmocka_unit_test_setup_teardown(test_retry_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_key_one_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_memory_evicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meanwhile_overlaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meanwhile_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meanwhile_runs_on_failure, setup, teardown),
    };
    tpm_set_log(NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
