/*
 * The TPM layer core: connection, SRK, key creation, the loaded-key cache
 * and signing, with bounded retries and transparent recovery.
 *
 * Sign path: a hot key costs exactly one TPM command, TPM2_Sign with a
 * password session (ESYS_TR_PASSWORD): no HMAC session, no reload. ESYS
 * contexts are not thread-safe; the layer is single-threaded by contract.
 */
#include "tpm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm_internal.h"

static tpm_log_fn log_fn;

void tpm_set_log(tpm_log_fn fn)
{
    log_fn = fn;
}

static void log_va(enum tpm_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void log_va(enum tpm_log_level level, const char *fmt, va_list ap)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    if (log_fn != NULL) {
        log_fn(level, line);
    } else {
        fprintf(stderr, "agentd: tpm: %s\n", line);
    }
}

void tpm_logl(enum tpm_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_va(level, fmt, ap);
    va_end(ap);
}

void tpm_logf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_va(TPM_LOG_ERROR, fmt, ap);
    va_end(ap);
}

void tpm_log_rc(const char *verb, TSS2_RC rc)
{
    tpm_logf("%s: %s", verb, Tss2_RC_Decode(rc));
}

TPM2_ALG_ID tpm_hash_alg(enum tpm_hash hash)
{
    switch (hash) {
    case TPM_HASH_SHA1:
        return TPM2_ALG_SHA1;
    case TPM_HASH_SHA256:
        return TPM2_ALG_SHA256;
    case TPM_HASH_SHA384:
        return TPM2_ALG_SHA384;
    case TPM_HASH_SHA512:
        return TPM2_ALG_SHA512;
    default:
        return TPM2_ALG_ERROR;
    }
}

size_t tpm_hash_len(enum tpm_hash hash)
{
    switch (hash) {
    case TPM_HASH_SHA1:
        return 20;
    case TPM_HASH_SHA256:
        return 32;
    case TPM_HASH_SHA384:
        return 48;
    case TPM_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}

size_t tpm_sig_len(enum tpm_key_type type)
{
    switch (type) {
    case TPM_KEY_EC_P256:
        return 64;
    case TPM_KEY_EC_P384:
        return 96;
    case TPM_KEY_RSA_2048:
        return 256;
    case TPM_KEY_RSA_3072:
        return 384;
    default:
        return 0;
    }
}

/* ---- response codes ----------------------------------------------------- */

/* TPM 2.0 Part 2 §6.6: format-one codes carry a handle/parameter number; strip it. */
static TSS2_RC tpm_base(TSS2_RC rc)
{
    if (rc & TPM2_RC_FMT1) {
        return rc & (TPM2_RC_FMT1 | 0x3f);
    }
    return rc & 0xfff;
}

enum tpm_rc_class tpm_rc_classify(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    TSS2_RC base = rc & 0xffff;

    if (rc == TSS2_RC_SUCCESS) {
        return TPM_RC_CLASS_OK;
    }
    if (layer == TSS2_TPM_RC_LAYER) {
        switch (tpm_base(rc)) {
        case TPM2_RC_RETRY:
        case TPM2_RC_YIELDED:
        case TPM2_RC_TESTING:
            return TPM_RC_CLASS_RETRY;
        case TPM2_RC_INITIALIZE: /* the TPM restarted and needs TPM2_Startup */
        case TPM2_RC_HANDLE:     /* our transient handles are gone */
        case TPM2_RC_REFERENCE_H0:
            return TPM_RC_CLASS_LOST;
        default:
            return TPM_RC_CLASS_FAIL;
        }
    }
    /* Transport failures, from whichever TSS layer reports them. */
    if (base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
        base == TSS2_BASE_RC_MALFORMED_RESPONSE || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE) {
        return TPM_RC_CLASS_LOST;
    }
    if (base == TSS2_BASE_RC_TRY_AGAIN) {
        return TPM_RC_CLASS_RETRY;
    }
    return TPM_RC_CLASS_FAIL;
}

int tpm_rc_to_err(TSS2_RC rc)
{
    switch (tpm_rc_classify(rc)) {
    case TPM_RC_CLASS_OK:
        return AD_OK;
    case TPM_RC_CLASS_RETRY:
        return AD_ERR_TPM_RETRY;
    case TPM_RC_CLASS_LOST:
        return AD_ERR_TPM_LOST;
    default:
        break;
    }
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER) {
        switch (tpm_base(rc)) {
        case TPM2_RC_MEMORY:
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
            return AD_ERR_TPM_RETRY; /* transient: slots are full */
        default:
            return AD_ERR_TPM;
        }
    }
    switch (rc & 0xffff) {
    case TSS2_BASE_RC_MEMORY:
        return AD_ERR_NOMEM;
    case TSS2_BASE_RC_BAD_VALUE:
    case TSS2_BASE_RC_BAD_REFERENCE:
        return AD_ERR_INVALID;
    default:
        return AD_ERR_TPM;
    }
}

/* ---- connection and SRK ------------------------------------------------- */

static void disconnect(struct tpm *t)
{
    Esys_Finalize(&t->esys);
    Tss2_TctiLdr_Finalize(&t->tcti_ctx);
    t->esys = NULL;
    t->tcti_ctx = NULL;
    t->srk = ESYS_TR_NONE;
    t->n_loaded = 0;
    for (struct tpm_key *k = t->keys; k != NULL; k = k->next) {
        k->handle = ESYS_TR_NONE; /* died with the context or the TPM */
    }
}

/* TCG TPM v2.0 Provisioning Guidance 1.0 §7.5.1: ECC P-256 SRK template. */
static void srk_template(TPM2B_PUBLIC *pub)
{
    memset(pub, 0, sizeof(*pub));
    pub->publicArea.type = TPM2_ALG_ECC;
    pub->publicArea.nameAlg = TPM2_ALG_SHA256;
    pub->publicArea.objectAttributes =
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    TPMS_ECC_PARMS *ecc = &pub->publicArea.parameters.eccDetail;
    ecc->symmetric.algorithm = TPM2_ALG_AES;
    ecc->symmetric.keyBits.aes = 128;
    ecc->symmetric.mode.aes = TPM2_ALG_CFB;
    ecc->scheme.scheme = TPM2_ALG_NULL;
    ecc->curveID = TPM2_ECC_NIST_P256;
    ecc->kdf.scheme = TPM2_ALG_NULL;
    pub->publicArea.unique.ecc.x.size = 32; /* 32 zero bytes each */
    pub->publicArea.unique.ecc.y.size = 32;
}

static TSS2_RC srk_create(struct tpm *t)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PUBLIC tmpl;

    if (t->srk_handle != 0) {
        return Esys_TR_FromTPMPublic(t->esys, t->srk_handle, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &t->srk);
    }
    srk_template(&tmpl);
    return Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &t->srk, NULL, NULL,
                              NULL, NULL);
}

/* Open the TCTI and ESYS; start the TPM if it asks for it; make the SRK. */
static int connect_tpm(struct tpm *t)
{
    TSS2_RC rc;

    if ((rc = Tss2_TctiLdr_Initialize(t->tcti, &t->tcti_ctx)) != TSS2_RC_SUCCESS) {
        tpm_logf("open: TCTI '%s': %s", t->tcti, Tss2_RC_Decode(rc));
        return AD_ERR_TPM_LOST;
    }
    if ((rc = Esys_Initialize(&t->esys, t->tcti_ctx, NULL)) != TSS2_RC_SUCCESS) {
        tpm_log_rc("open", rc);
        disconnect(t);
        return AD_ERR_TPM_LOST;
    }
    for (unsigned i = 0;; i++) {
        rc = srk_create(t);
        /* Part 1 §11.2: a TPM that was reset answers TPM_RC_INITIALIZE until Startup. */
        if (tpm_base(rc) == TPM2_RC_INITIALIZE && (rc & TSS2_RC_LAYER_MASK) == 0 && i == 0) {
            TSS2_RC src = Esys_Startup(t->esys, TPM2_SU_CLEAR);
            if (src != TSS2_RC_SUCCESS && tpm_base(src) != TPM2_RC_INITIALIZE) {
                tpm_log_rc("startup", src);
                disconnect(t);
                return tpm_rc_to_err(src);
            }
            continue;
        }
        if (tpm_rc_classify(rc) == TPM_RC_CLASS_RETRY && i < t->retries) {
            continue;
        }
        break;
    }
    if (rc != TSS2_RC_SUCCESS) {
        tpm_log_rc(t->srk_handle != 0 ? "srk: persistent handle" : "srk: create primary", rc);
        disconnect(t);
        if (t->srk_handle != 0 && tpm_base(rc) == TPM2_RC_HANDLE) {
            return AD_ERR_NOT_FOUND;
        }
        return tpm_rc_to_err(rc);
    }
    return AD_OK;
}

int tpm_ready(struct tpm *t)
{
    if (t->esys != NULL) {
        return AD_OK;
    }
    return connect_tpm(t);
}

static int recover(struct tpm *t)
{
    disconnect(t);
    return connect_tpm(t);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static struct tpm_key *lru_victim(struct tpm *t);
static void key_flush(struct tpm *t, struct tpm_key *k);

/*
 * TPM_RC_OBJECT_MEMORY: every transient slot is taken (swtpm has 3: the SRK
 * and max_loaded keys fill them, and TPM2_Create needs one for its
 * temporary object). Flush the least recently used key; 1 if one was flushed.
 */
static int make_room(struct tpm *t, TSS2_RC rc)
{
    struct tpm_key *v;

    if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER || tpm_base(rc) != TPM2_RC_OBJECT_MEMORY ||
        (v = lru_victim(t)) == NULL) {
        return 0;
    }
    key_flush(t, v);
    return 1;
}

int tpm_step(struct tpm *t, const char *verb, TSS2_RC rc, struct tpm_try *tr)
{
    int r;

    if (make_room(t, rc)) {
        return 1; /* bounded: each call flushes one of finitely many loaded keys */
    }
    switch (tpm_rc_classify(rc)) {
    case TPM_RC_CLASS_OK:
        return 0;
    case TPM_RC_CLASS_RETRY:
        if (tr->retries >= t->retries) {
            tpm_log_rc(verb, rc);
            return AD_ERR_TPM_RETRY;
        }
        tr->retries++;
        sleep_ms(tr->retries < 4 ? 1 : 10); /* brief back-off: the TPM is busy */
        return 1;
    case TPM_RC_CLASS_LOST:
        if (tr->recoveries >= TPM_RECOVER_MAX) {
            tpm_logf("%s: %s; still unreachable after %u reconnects", verb, Tss2_RC_Decode(rc),
                     tr->recoveries);
            return AD_ERR_TPM_LOST;
        }
        tr->recoveries++;
        /* A warning: the TPM restarted or the link dropped, and we are recovering. */
        tpm_logl(TPM_LOG_WARN, "%s: %s; reconnecting and restoring keys (attempt %u)", verb,
                 Tss2_RC_Decode(rc), tr->recoveries);
        if ((r = recover(t)) != 0) {
            tpm_logf("%s: reconnect failed: %s", verb, ad_strerror(r));
            return r == AD_ERR_NOT_FOUND ? r : AD_ERR_TPM_LOST;
        }
        return 1;
    default:
        tpm_log_rc(verb, rc);
        return tpm_rc_to_err(rc);
    }
}

int tpm_open(const struct tpm_options *opt, struct tpm **ret)
{
    static const struct tpm_options defaults = {0};
    struct tpm *t = NULL;
    int r;

    if (opt == NULL) {
        opt = &defaults;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->tcti = strdup(opt->tcti != NULL ? opt->tcti : TPM_DEFAULT_TCTI)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    t->srk_handle = opt->srk_handle;
    t->max_loaded = opt->max_loaded != 0 ? opt->max_loaded : TPM_DEFAULT_MAX_LOADED;
    t->retries = opt->retries != 0 ? opt->retries : TPM_DEFAULT_RETRIES;
    t->srk = ESYS_TR_NONE;
    if ((r = connect_tpm(t)) != 0) {
        goto out;
    }
    *ret = t;
    t = NULL;
out:
    tpm_close(t);
    return r;
}

static void key_flush(struct tpm *t, struct tpm_key *k)
{
    if (k->handle == ESYS_TR_NONE) {
        return;
    }
    if (t->esys != NULL) {
        TSS2_RC rc = Esys_FlushContext(t->esys, k->handle);
        if (rc != TSS2_RC_SUCCESS) { /* the TPM may have restarted: nothing left to flush */
            tpm_logl(TPM_LOG_INFO, "flush: %s", Tss2_RC_Decode(rc));
        }
    }
    k->handle = ESYS_TR_NONE;
    t->n_loaded--;
}

void tpm_close(struct tpm *t)
{
    if (t == NULL) {
        return;
    }
    while (t->keys != NULL) {
        tpm_key_free(t, t->keys); /* keys the caller forgot: flush, never leak a slot */
    }
    if (t->esys != NULL && t->srk != ESYS_TR_NONE) {
        if (t->srk_handle == 0) {
            (void)Esys_FlushContext(t->esys, t->srk);
        } else {
            (void)Esys_TR_Close(t->esys, &t->srk);
        }
    }
    disconnect(t);
    free(t->tcti);
    free(t);
}

/* ---- keys --------------------------------------------------------------- */

static int key_type_of(const TPMT_PUBLIC *p, enum tpm_key_type *ret)
{
    if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256) {
        *ret = TPM_KEY_EC_P256;
    } else if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384) {
        *ret = TPM_KEY_EC_P384;
    } else if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits == 2048) {
        *ret = TPM_KEY_RSA_2048;
    } else if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits == 3072) {
        *ret = TPM_KEY_RSA_3072;
    } else {
        return AD_ERR_UNSUPPORTED;
    }
    return AD_OK;
}

static void key_template(enum tpm_key_type type, TPM2B_PUBLIC *pub)
{
    TPMT_PUBLIC *p = &pub->publicArea;

    memset(pub, 0, sizeof(*pub));
    p->nameAlg = TPM2_ALG_SHA256;
    /*
     * noDA: the authValue is empty (who may sign is agentd's policy decision,
     * not a TPM secret), so dictionary-attack protection guards nothing here
     * and would only lock every key out after a few unorderly shutdowns.
     */
    p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT;
    if (type == TPM_KEY_EC_P256 || type == TPM_KEY_EC_P384) {
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL; /* chosen per TPM2_Sign */
        p->parameters.eccDetail.curveID =
            type == TPM_KEY_EC_P256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = type == TPM_KEY_RSA_2048 ? 2048 : 3072;
        p->parameters.rsaDetail.exponent = 0; /* 65537 */
    }
}

int tpm_create_child(struct tpm *t, const TPM2B_PUBLIC *template, struct keyblob **ret)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    uint8_t pub_buf[sizeof(TPM2B_PUBLIC)], priv_buf[sizeof(TPM2B_PRIVATE)];
    size_t pub_len = 0, priv_len = 0;
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    do {
        if ((r = tpm_ready(t)) != 0) {
            goto out;
        }
        rc = Esys_Create(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                         template, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    } while ((r = tpm_step(t, "create", rc, &tr)) > 0);
    if (r != 0) {
        goto out;
    }
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pub_buf, sizeof(pub_buf), &pub_len) != 0 ||
        Tss2_MU_TPM2B_PRIVATE_Marshal(priv, priv_buf, sizeof(priv_buf), &priv_len) != 0) {
        r = AD_ERR_INTERNAL;
        goto out;
    }
    r = keyblob_new(pub_buf, pub_len, priv_buf, priv_len,
                    t->srk_handle != 0 ? t->srk_handle : KEYBLOB_PARENT_OWNER, true, ret);
out:
    OPENSSL_cleanse(priv_buf, sizeof(priv_buf));
    Esys_Free(priv);
    Esys_Free(pub);
    return r;
}

int tpm_create_key(struct tpm *t, enum tpm_key_type type, struct keyblob **ret)
{
    TPM2B_PUBLIC tmpl;

    if (tpm_sig_len(type) == 0) {
        return AD_ERR_INVALID;
    }
    key_template(type, &tmpl);
    return tpm_create_child(t, &tmpl, ret);
}

int tpm_key_new(struct tpm *t, const struct keyblob *kb, struct tpm_key **ret)
{
    struct tpm_key *k = NULL;
    size_t off = 0;
    int r;

    if ((k = calloc(1, sizeof(*k))) == NULL) {
        return AD_ERR_NOMEM;
    }
    k->handle = ESYS_TR_NONE;
    if ((r = keyblob_dup(kb, &k->kb)) != 0) {
        goto out;
    }
    r = AD_ERR_FORMAT;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(kb->pub, kb->pub_len, &off, &k->pub) != 0) {
        goto out;
    }
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(kb->priv, kb->priv_len, &off, &k->priv) != 0) {
        goto out;
    }
    if ((r = key_type_of(&k->pub.publicArea, &k->type)) != 0) {
        /* Restricted keys (AKs) are EC P-256 too; anything else we cannot sign with. */
        goto out;
    }
    k->next = t->keys;
    if (t->keys != NULL) {
        t->keys->prev = k;
    }
    t->keys = k;
    *ret = k;
    k = NULL;
out:
    if (k != NULL) {
        keyblob_free(k->kb);
        OPENSSL_cleanse(k, sizeof(*k));
        free(k);
    }
    return r;
}

void tpm_key_free(struct tpm *t, struct tpm_key *k)
{
    if (k == NULL) {
        return;
    }
    key_flush(t, k);
    if (k->prev != NULL) {
        k->prev->next = k->next;
    } else {
        t->keys = k->next;
    }
    if (k->next != NULL) {
        k->next->prev = k->prev;
    }
    keyblob_free(k->kb);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

enum tpm_key_type tpm_key_type(const struct tpm_key *k)
{
    return k->type;
}

const struct keyblob *tpm_key_blob(const struct tpm_key *k)
{
    return k->kb;
}

static struct tpm_key *lru_victim(struct tpm *t)
{
    struct tpm_key *v = NULL;

    for (struct tpm_key *k = t->keys; k != NULL; k = k->next) {
        if (k->handle != ESYS_TR_NONE && (v == NULL || k->last_use < v->last_use)) {
            v = k;
        }
    }
    return v;
}

int tpm_key_load(struct tpm *t, struct tpm_key *k)
{
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    k->last_use = ++t->clock;
    if (k->handle != ESYS_TR_NONE) {
        return AD_OK;
    }
    do {
        if ((r = tpm_ready(t)) != 0) {
            return r;
        }
        while (t->n_loaded >= t->max_loaded) {
            key_flush(t, lru_victim(t));
        }
        rc = Esys_Load(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &k->priv,
                       &k->pub, &k->handle);
    } while ((r = tpm_step(t, "load", rc, &tr)) > 0);
    if (r != 0) {
        k->handle = ESYS_TR_NONE;
        return r;
    }
    t->n_loaded++;
    return AD_OK;
}

/* ---- signing ------------------------------------------------------------ */

static int sign_scheme(const struct tpm_key *k, enum tpm_sig sig, enum tpm_hash hash,
                       TPMT_SIG_SCHEME *ret)
{
    bool is_ec = k->type == TPM_KEY_EC_P256 || k->type == TPM_KEY_EC_P384;

    ret->details.any.hashAlg = tpm_hash_alg(hash);
    if (ret->details.any.hashAlg == TPM2_ALG_ERROR) {
        return AD_ERR_INVALID;
    }
    switch (sig) {
    case TPM_SIG_ECDSA:
        ret->scheme = TPM2_ALG_ECDSA;
        return is_ec ? AD_OK : AD_ERR_UNSUPPORTED;
    case TPM_SIG_RSASSA:
        ret->scheme = TPM2_ALG_RSASSA;
        return is_ec ? AD_ERR_UNSUPPORTED : AD_OK;
    case TPM_SIG_RSAPSS:
        ret->scheme = TPM2_ALG_RSAPSS;
        return is_ec ? AD_ERR_UNSUPPORTED : AD_OK;
    default:
        return AD_ERR_INVALID;
    }
}

/* Left-pad src into dst[n]; AD_ERR_TPM if src is longer than n. */
static int pad_copy(uint8_t *dst, size_t n, const uint8_t *src, size_t len)
{
    if (len > n) {
        tpm_logf("sign: TPM returned a %zu-byte value where %zu fit", len, n);
        return AD_ERR_TPM;
    }
    memset(dst, 0, n - len);
    memcpy(dst + n - len, src, len);
    return AD_OK;
}

static int sig_out(const struct tpm_key *k, const TPMT_SIGNATURE *s, uint8_t *ret_sig,
                   size_t *ret_sig_len)
{
    size_t n = tpm_sig_len(k->type);
    int r;

    if (s->sigAlg == TPM2_ALG_ECDSA) {
        const TPMS_SIGNATURE_ECC *e = &s->signature.ecdsa;
        if ((r = pad_copy(ret_sig, n / 2, e->signatureR.buffer, e->signatureR.size)) != 0 ||
            (r = pad_copy(ret_sig + n / 2, n / 2, e->signatureS.buffer, e->signatureS.size)) != 0) {
            return r;
        }
    } else {
        const TPM2B_PUBLIC_KEY_RSA *rs = &s->signature.rsassa.sig; /* rsapss shares the layout */
        if ((r = pad_copy(ret_sig, n, rs->buffer, rs->size)) != 0) {
            return r;
        }
    }
    *ret_sig_len = n;
    return AD_OK;
}

static void meanwhile_run(const struct tpm_meanwhile **mw)
{
    if (*mw != NULL) {
        (*mw)->fn((*mw)->arg);
        *mw = NULL;
    }
}

/*
 * One TPM2_Sign in two halves with mw between them. The rc is what Esys_Sign
 * would have returned, so tpm_step treats both paths alike; TRY_AGAIN is
 * ESYS resubmitting after TPM_RC_RETRY, as its synchronous call loops on.
 */
static TSS2_RC sign_overlapped(struct tpm *t, struct tpm_key *k, const TPM2B_DIGEST *dig,
                               const TPMT_SIG_SCHEME *scheme, const TPMT_TK_HASHCHECK *check,
                               const struct tpm_meanwhile **mw, TPMT_SIGNATURE **s)
{
    TSS2_RC rc = Esys_Sign_Async(t->esys, k->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 dig, scheme, check);

    meanwhile_run(mw);
    if (rc != TSS2_RC_SUCCESS) {
        return rc;
    }
    do {
        rc = Esys_Sign_Finish(t->esys, s);
    } while ((rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_TRY_AGAIN);
    return rc;
}

int tpm_sign(struct tpm *t, struct tpm_key *k, enum tpm_sig sig, enum tpm_hash hash,
             const uint8_t *digest, size_t digest_len, uint8_t *ret_sig, size_t *ret_sig_len)
{
    return tpm_sign_meanwhile(t, k, sig, hash, digest, digest_len, NULL, ret_sig, ret_sig_len);
}

int tpm_sign_meanwhile(struct tpm *t, struct tpm_key *k, enum tpm_sig sig, enum tpm_hash hash,
                       const uint8_t *digest, size_t digest_len, const struct tpm_meanwhile *mw,
                       uint8_t *ret_sig, size_t *ret_sig_len)
{
    TPMT_SIG_SCHEME scheme = {0};
    TPMT_TK_HASHCHECK check = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
    TPM2B_DIGEST dig = {0};
    TPMT_SIGNATURE *s = NULL;
    struct tpm_try tr = {0};
    TSS2_RC rc;
    int r;

    if ((r = sign_scheme(k, sig, hash, &scheme)) != 0) {
        goto out;
    }
    if (digest_len != tpm_hash_len(hash)) {
        r = AD_ERR_INVALID;
        goto out;
    }
    if (*ret_sig_len < tpm_sig_len(k->type)) {
        *ret_sig_len = tpm_sig_len(k->type);
        r = AD_ERR_SHORT;
        goto out;
    }
    dig.size = (UINT16)digest_len;
    memcpy(dig.buffer, digest, digest_len);
    do {
        if ((r = tpm_key_load(t, k)) != 0) {
            goto out;
        }
        if (mw != NULL) {
            rc = sign_overlapped(t, k, &dig, &scheme, &check, &mw, &s);
        } else {
            rc = Esys_Sign(t->esys, k->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &dig,
                           &scheme, &check, &s);
        }
    } while ((r = tpm_step(t, "sign", rc, &tr)) > 0);
    if (r == 0) {
        r = sig_out(k, s, ret_sig, ret_sig_len);
    }
    Esys_Free(s);
out:
    meanwhile_run(&mw);
    return r;
}
