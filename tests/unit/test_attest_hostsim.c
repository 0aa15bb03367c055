/*
 * A simulated host for the enrollment tests and the benchmark (not a unit
 * test): binds agentd/enroll.c's struct enroll_tpm straight to ESYS on a
 * swtpm, independent of agentd's TPM layer, so many hosts run in one
 * benchmark and the CA is tested against a second client implementation;
 * its AK is an endorsement primary (agentd's is a child of the SRK). Tests
 * may call ESYS (house rules exempt tests/).
 *
 *   test_attest_hostsim --tcti T --ek-cert F --url U --cacert F [--class C]
 *       [--ak-tcti T2] [--fault replay-activation|foreign-nonce|decrypt-key|svid-no-cert]
 *       [--out CERT.pem] [--bundle-out BUNDLE.pem] [--quiet]
 *       [--repeat N] [--svids N --svid-path P [--svid-out F]] [--timings FILE]
 *       [--pause-before-certify FILE]
 * --repeat enrolls N times (EK kept loaded, a new AK each time); --svids
 * then requests N workload certificates; --timings appends "enroll MS" and
 * "svid MS" lines for bench/. Once enrolled, every later request (another
 * enrollment, the workload certificates) presents the host certificate over
 * mutual TLS; the host key is a primary, so its template (kept) recreates it
 * in the TPM to sign each handshake. For the workload certificates the EK
 * is flushed and the host key stays loaded (swtpm has 3 transient slots:
 * AK, host key and the key being certified), as agentd keeps its host key.
 * --pause-before-certify creates FILE before the enrollment's certify and
 * waits until the test removes it (an admin acts in between).
 * Exit 0 when enrolled, 1 when refused (the reason on stderr), 2 on errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "enroll.h"

struct tpmctx {
    ESYS_CONTEXT *esys;
    TSS2_TCTI_CONTEXT *tcti;
};

struct sim {
    struct tpmctx main, other; /* other: the TPM holding a foreign AK, if any */
    const char *ek_cert_path;
    struct msg_bin ek_pub; /* cached across --repeat runs: RSA primaries are slow */
    ESYS_TR ek, ak;
    ESYS_TR host; /* the host key, loaded for the workload phase */
    ESYS_CONTEXT *ak_esys;
    int is_decrypt_key;
    int is_foreign_ak;
    TPM2B_PUBLIC last_tmpl; /* the last key op_certify made */
    TPM2B_PUBLIC host_tmpl; /* the enrolled host key's, for TLS client signatures */
    char *host_pem;         /* the host certificate, once enrolled */
    const char *pause_file; /* --pause-before-certify: the test acts, then removes it */
};

/* Create path, then wait (at most 30 s) until the test removes it. */
static void pause_at(const char *path)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fclose(f);
    }
    for (int i = 0; i < 3000 && access(path, F_OK) == 0; i++) {
        nanosleep(&ts, NULL);
    }
}

static int tpm_open(const char *conf, struct tpmctx *t)
{
    if (Tss2_TctiLdr_Initialize(conf, &t->tcti) != TSS2_RC_SUCCESS ||
        Esys_Initialize(&t->esys, t->tcti, NULL) != TSS2_RC_SUCCESS) {
        fprintf(stderr, "hostsim: cannot open TPM %s\n", conf);
        return AD_ERR_TPM;
    }
    return AD_OK;
}

static void tpm_close(struct tpmctx *t)
{
    if (t->esys != NULL) {
        Esys_Finalize(&t->esys);
    }
    if (t->tcti != NULL) {
        Tss2_TctiLdr_Finalize(&t->tcti);
    }
}

static int tss(TSS2_RC rc, const char *what)
{
    if (rc != TSS2_RC_SUCCESS) {
        fprintf(stderr, "hostsim: %s: 0x%x\n", what, rc);
        return AD_ERR_TPM;
    }
    return AD_OK;
}

/* TCG EK Credential Profile 2.0 template L-1 (RSA 2048, AES-128-CFB). */
static void ek_template(TPM2B_PUBLIC *t)
{
    static const uint8_t policy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
                                       0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
                                       0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
                                       0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

    memset(t, 0, sizeof(*t));
    t->publicArea.type = TPM2_ALG_RSA;
    t->publicArea.nameAlg = TPM2_ALG_SHA256;
    t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                                     TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    t->publicArea.authPolicy.size = 32;
    memcpy(t->publicArea.authPolicy.buffer, policy, 32);
    t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    t->publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
    t->publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    t->publicArea.parameters.rsaDetail.keyBits = 2048;
    t->publicArea.unique.rsa.size = 256;
}

static void ecc_template(TPM2B_PUBLIC *t, TPMA_OBJECT attrs, int is_restricted)
{
    memset(t, 0, sizeof(*t));
    t->publicArea.type = TPM2_ALG_ECC;
    t->publicArea.nameAlg = TPM2_ALG_SHA256;
    t->publicArea.objectAttributes = attrs;
    t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    t->publicArea.parameters.eccDetail.scheme.scheme =
        is_restricted ? TPM2_ALG_ECDSA : TPM2_ALG_NULL;
    t->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

static int primary(ESYS_CONTEXT *e, ESYS_TR hierarchy, const TPM2B_PUBLIC *tmpl, ESYS_TR *ret,
                   TPM2B_PUBLIC **ret_pub)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};

    return tss(Esys_CreatePrimary(e, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                  tmpl, &outside, &pcrs, ret, ret_pub, NULL, NULL, NULL),
               "CreatePrimary");
}

static int marshal_public(const TPM2B_PUBLIC *p, struct msg_bin *ret)
{
    size_t off = 0;

    if ((ret->data = malloc(sizeof(*p))) == NULL ||
        Tss2_MU_TPM2B_PUBLIC_Marshal(p, ret->data, sizeof(*p), &off) != TSS2_RC_SUCCESS) {
        return AD_ERR_INTERNAL;
    }
    ret->len = off;
    return AD_OK;
}

static int read_file(const char *path, struct msg_bin *ret)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL || (ret->data = malloc(16384)) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return AD_ERR_SYSTEM;
    }
    ret->len = fread(ret->data, 1, 16384, f);
    fclose(f);
    return AD_OK;
}

static int op_ek(void *ctx, struct msg_bin *ret_cert, struct msg_bin *ret_pub)
{
    struct sim *s = ctx;
    TPM2B_PUBLIC tmpl, *pub = NULL;
    int r;

    ek_template(&tmpl);
    if ((r = read_file(s->ek_cert_path, ret_cert)) != AD_OK) {
        return r;
    }
    if (s->ek == ESYS_TR_NONE) {
        if ((r = primary(s->main.esys, ESYS_TR_RH_ENDORSEMENT, &tmpl, &s->ek, &pub)) != AD_OK ||
            (r = marshal_public(pub, &s->ek_pub)) != AD_OK) {
            Esys_Free(pub);
            return r;
        }
        Esys_Free(pub);
    }
    if ((ret_pub->data = malloc(s->ek_pub.len)) == NULL) {
        return AD_ERR_NOMEM;
    }
    memcpy(ret_pub->data, s->ek_pub.data, s->ek_pub.len);
    ret_pub->len = s->ek_pub.len;
    return AD_OK;
}

static int op_ak(void *ctx, struct msg_bin *ret_pub)
{
    struct sim *s = ctx;
    TPM2B_PUBLIC tmpl, *pub = NULL;
    int r;

    ecc_template(&tmpl,
                 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                     TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                 1);
    /* A fresh AK per run: random unique bytes make a distinct primary. */
    tmpl.publicArea.unique.ecc.x.size = 32;
    RAND_bytes(tmpl.publicArea.unique.ecc.x.buffer, 32);
    if (s->ak != ESYS_TR_NONE) {
        Esys_FlushContext(s->ak_esys, s->ak); /* the previous run's AK */
        s->ak = ESYS_TR_NONE;
    }
    s->ak_esys = s->is_foreign_ak ? s->other.esys : s->main.esys;
    if ((r = primary(s->ak_esys, ESYS_TR_RH_ENDORSEMENT, &tmpl, &s->ak, &pub)) != AD_OK) {
        return r;
    }
    r = marshal_public(pub, ret_pub);
    Esys_Free(pub);
    return r;
}

static int op_activate(void *ctx, const struct msg_bin *blob, const struct msg_bin *enc,
                       struct msg_bin *ret_secret)
{
    struct sim *s = ctx;
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    TPM2B_ID_OBJECT id = {0};
    TPM2B_ENCRYPTED_SECRET sec = {0};
    TPM2B_DIGEST *cert = NULL;
    ESYS_TR sess = ESYS_TR_NONE;
    size_t o1 = 0, o2 = 0;
    int r;

    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob->data, blob->len, &o1, &id) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc->data, enc->len, &o2, &sec) !=
            TSS2_RC_SUCCESS ||
        o1 != blob->len || o2 != enc->len) {
        return AD_ERR_FORMAT;
    }
    if (s->is_foreign_ak) {
        /* The AK is in another TPM: the host cannot answer; it guesses. */
        ret_secret->data = malloc(32);
        ret_secret->len = 32;
        return ret_secret->data != NULL && RAND_bytes(ret_secret->data, 32) == 1 ? AD_OK
                                                                                 : AD_ERR_NOMEM;
    }
    /* The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT). */
    if ((r = tss(Esys_StartAuthSession(s->main.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
                                       TPM2_ALG_SHA256, &sess),
                 "StartAuthSession")) != AD_OK ||
        (r = tss(Esys_PolicySecret(s->main.esys, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
                                   ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL),
                 "PolicySecret")) != AD_OK ||
        (r = tss(Esys_ActivateCredential(s->main.esys, s->ak, s->ek, ESYS_TR_PASSWORD, sess,
                                         ESYS_TR_NONE, &id, &sec, &cert),
                 "ActivateCredential")) != AD_OK) {
        goto out;
    }
    if ((ret_secret->data = malloc(cert->size)) == NULL) {
        r = AD_ERR_NOMEM;
        goto out;
    }
    memcpy(ret_secret->data, cert->buffer, cert->size);
    ret_secret->len = cert->size;
out:
    /* ESYS leaves continueSession set: flush, or swtpm runs out of session slots. */
    if (sess != ESYS_TR_NONE) {
        Esys_FlushContext(s->main.esys, sess);
    }
    Esys_Free(cert);
    return r;
}

static int signed_out(TPM2B_ATTEST *att, TPMT_SIGNATURE *sig, struct msg_bin *ret_attest,
                      struct msg_bin *ret_sig)
{
    size_t off = 0;

    ret_attest->data = malloc(att->size);
    ret_sig->data = malloc(sizeof(*sig));
    if (ret_attest->data == NULL || ret_sig->data == NULL ||
        Tss2_MU_TPMT_SIGNATURE_Marshal(sig, ret_sig->data, sizeof(*sig), &off) != TSS2_RC_SUCCESS) {
        return AD_ERR_NOMEM;
    }
    memcpy(ret_attest->data, att->attestationData, att->size);
    ret_attest->len = att->size;
    ret_sig->len = off;
    return AD_OK;
}

static int op_quote(void *ctx, const struct msg_bin *nonce, uint32_t mask,
                    struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct sim *s = ctx;
    TPMT_SIG_SCHEME scheme = {0};
    TPML_PCR_SELECTION sel = {.count = 1};
    TPM2B_DATA q = {.size = (UINT16)nonce->len};
    TPM2B_ATTEST *att = NULL;
    TPMT_SIGNATURE *sig = NULL;
    int r;

    scheme.scheme = TPM2_ALG_NULL; /* the key's own scheme */
    memcpy(q.buffer, nonce->data, nonce->len);
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[0] = (uint8_t)mask;
    sel.pcrSelections[0].pcrSelect[1] = (uint8_t)(mask >> 8);
    sel.pcrSelections[0].pcrSelect[2] = (uint8_t)(mask >> 16);
    if ((r = tss(Esys_Quote(s->ak_esys, s->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q,
                            &scheme, &sel, &att, &sig),
                 "Quote")) == AD_OK) {
        r = signed_out(att, sig, ret_attest, ret_sig);
    }
    Esys_Free(att);
    Esys_Free(sig);
    return r;
}

static int op_certify(void *ctx, const struct msg_bin *nonce, struct msg_bin *ret_key_pub,
                      struct msg_bin *ret_attest, struct msg_bin *ret_sig)
{
    struct sim *s = ctx;
    TPMT_SIG_SCHEME scheme = {0};
    TPM2B_DATA q = {.size = (UINT16)nonce->len};

    if (s->pause_file != NULL) { /* once: the enrollment's certify, not the workloads' */
        pause_at(s->pause_file);
        s->pause_file = NULL;
    }
    TPM2B_PUBLIC tmpl, *pub = NULL;
    TPM2B_ATTEST *att = NULL;
    TPMT_SIGNATURE *sig = NULL;
    ESYS_TR key = ESYS_TR_NONE;
    TPMA_OBJECT attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                        TPMA_OBJECT_SIGN_ENCRYPT;
    int r;

    scheme.scheme = TPM2_ALG_NULL; /* the key's own scheme */
    memcpy(q.buffer, nonce->data, nonce->len);
    ecc_template(&tmpl, attrs | (s->is_decrypt_key ? TPMA_OBJECT_DECRYPT : 0), 0);
    tmpl.publicArea.unique.ecc.x.size = 32;
    RAND_bytes(tmpl.publicArea.unique.ecc.x.buffer, 32);
    s->last_tmpl = tmpl;
    /* EK, AK and this key fill swtpm's 3 transient slots; the key is flushed below. */
    if ((r = primary(s->ak_esys, ESYS_TR_RH_OWNER, &tmpl, &key, &pub)) != AD_OK ||
        (r = tss(Esys_Certify(s->ak_esys, key, s->ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, &q, &scheme, &att, &sig),
                 "Certify")) != AD_OK ||
        (r = marshal_public(pub, ret_key_pub)) != AD_OK) {
        goto out;
    }
    r = signed_out(att, sig, ret_attest, ret_sig);
out:
    if (key != ESYS_TR_NONE) {
        Esys_FlushContext(s->ak_esys, key);
    }
    Esys_Free(pub);
    Esys_Free(att);
    Esys_Free(sig);
    return r;
}

/* TLS client signature by the host key (enroll_host_key.sign): recreate, sign, flush. */
static int host_sign(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t *ret_sig,
                     size_t *ret_sig_len)
{
    struct sim *s = ctx;
    TPMT_SIG_SCHEME scheme = {0};
    TPMT_TK_HASHCHECK check = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
    TPM2B_DIGEST d = {.size = (UINT16)digest_len};
    TPMT_SIGNATURE *sig = NULL;
    ESYS_TR key = s->host;
    const TPMS_SIGNATURE_ECC *ecc;
    int r = AD_OK;

    if (digest_len != 32 || *ret_sig_len < 64) {
        return AD_ERR_UNSUPPORTED; /* TLS 1.3 with a P-256 key: ecdsa_secp256r1_sha256 */
    }
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    memcpy(d.buffer, digest, digest_len);
    if ((key == ESYS_TR_NONE &&
         (r = primary(s->ak_esys, ESYS_TR_RH_OWNER, &s->host_tmpl, &key, NULL)) != AD_OK) ||
        (r = tss(Esys_Sign(s->ak_esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d,
                           &scheme, &check, &sig),
                 "Sign")) != AD_OK) {
        goto out;
    }
    ecc = &sig->signature.ecdsa;
    if (ecc->signatureR.size > 32 || ecc->signatureS.size > 32) {
        r = AD_ERR_FORMAT;
        goto out;
    }
    memset(ret_sig, 0, 64);
    memcpy(ret_sig + 32 - ecc->signatureR.size, ecc->signatureR.buffer, ecc->signatureR.size);
    memcpy(ret_sig + 64 - ecc->signatureS.size, ecc->signatureS.buffer, ecc->signatureS.size);
    *ret_sig_len = 64;
out:
    if (key != ESYS_TR_NONE && key != s->host) {
        Esys_FlushContext(s->ak_esys, key);
    }
    Esys_Free(sig);
    return r;
}

/* Workload phase: the EK's slot goes to the host key, loaded until the end. */
static int load_host(struct sim *s)
{
    if (s->ek != ESYS_TR_NONE) {
        Esys_FlushContext(s->main.esys, s->ek);
        s->ek = ESYS_TR_NONE;
    }
    return primary(s->ak_esys, ESYS_TR_RH_OWNER, &s->host_tmpl, &s->host, NULL);
}

/* Enrolled as res: present that certificate from now on. */
static int keep_host(struct sim *s, const struct enroll_result *res, struct enroll_options *eo,
                     struct enroll_host_key *hk)
{
    free(s->host_pem);
    if ((s->host_pem = strdup(res->cert_pem)) == NULL) {
        return AD_ERR_NOMEM;
    }
    s->host_tmpl = s->last_tmpl;
    *hk = (struct enroll_host_key){s->host_pem, host_sign, s};
    eo->host_key = hk;
    return AD_OK;
}

static int write_text(const char *path, const char *text)
{
    FILE *f;

    if (path == NULL) {
        return 0;
    }
    if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f);
}

struct args {
    const char *out, *bundle_out, *svid_path, *svid_out, *timings;
    int repeat, svids;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void timing(FILE *f, const char *what, double ms)
{
    if (f != NULL) {
        fprintf(f, "%s %.3f\n", what, ms);
    }
}

static int run_svids(const struct enroll_options *eo, const struct enroll_tpm *tpm,
                     const struct args *a, const char *host_id, FILE *tf)
{
    struct enroll_result res = {0};
    char err[512];
    double t0;
    int i, r;

    for (i = 0; i < a->svids; i++) {
        t0 = now_ms();
        if ((r = enroll_svid(eo, tpm, host_id, a->svid_path, &res, err, sizeof(err))) != AD_OK) {
            fprintf(stderr, "workload certificate failed: %s\n", err);
            return r == AD_ERR_DENIED ? 1 : 2;
        }
        timing(tf, "svid", now_ms() - t0);
        if (i == a->svids - 1 && write_text(a->svid_out, res.cert_pem) != 0) {
            enroll_result_clear(&res);
            return 2;
        }
        enroll_result_clear(&res);
    }
    return 0;
}

static int run(struct enroll_options *eo, const struct enroll_tpm *tpm, const struct args *a)
{
    struct enroll_host_key hk;
    struct enroll_result res = {0};
    FILE *tf = a->timings != NULL ? fopen(a->timings, "a") : NULL;
    const char *host_id;
    char err[512];
    double t0;
    int i, r, rc = 2;

    for (i = 0; i < a->repeat; i++) {
        enroll_result_clear(&res);
        t0 = now_ms();
        if ((r = enroll_run(eo, tpm, &res, err, sizeof(err))) != AD_OK) {
            fprintf(stderr, "enrollment failed: %s\n", err);
            rc = r == AD_ERR_DENIED ? 1 : 2;
            goto out;
        }
        timing(tf, "enroll", now_ms() - t0);
        if (keep_host(tpm->ctx, &res, eo, &hk) != AD_OK) {
            goto out;
        }
    }
    if (write_text(a->out, res.cert_pem) != 0 || write_text(a->bundle_out, res.bundle_pem) != 0 ||
        (host_id = strrchr(res.spiffe_id, '/')) == NULL) {
        goto out;
    }
    if (a->svids > 0 && load_host(tpm->ctx) != AD_OK) {
        goto out;
    }
    rc = run_svids(eo, tpm, a, host_id + 1, tf);
out:
    eo->host_key = NULL; /* hk goes out of scope */
    if (tf != NULL) {
        fclose(tf);
    }
    enroll_result_clear(&res);
    return rc;
}

static void quiet(const char *line, void *arg)
{
    (void)line;
    (void)arg;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcti", 1, NULL, 't'},       {"ek-cert", 1, NULL, 'e'},
        {"url", 1, NULL, 'u'},        {"cacert", 1, NULL, 'c'},
        {"class", 1, NULL, 'k'},      {"ak-tcti", 1, NULL, 'a'},
        {"fault", 1, NULL, 'f'},      {"out", 1, NULL, 'o'},
        {"bundle-out", 1, NULL, 'b'}, {"quiet", 0, NULL, 'q'},
        {"repeat", 1, NULL, 'r'},     {"svids", 1, NULL, 'n'},
        {"svid-path", 1, NULL, 'p'},  {"svid-out", 1, NULL, 's'},
        {"timings", 1, NULL, 'T'},    {"pause-before-certify", 1, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    struct sim s = {.ek = ESYS_TR_NONE, .ak = ESYS_TR_NONE, .host = ESYS_TR_NONE};
    struct enroll_options eo = {0};
    struct enroll_tpm tpm = {&s, op_ek, op_ak, op_activate, op_quote, op_certify};
    struct args args = {.repeat = 1, .svid_path = "workload/test"};
    const char *tcti = NULL, *ak_tcti = NULL;
    int opt, rc = 2;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            tcti = optarg;
            break;
        case 'e':
            s.ek_cert_path = optarg;
            break;
        case 'u':
            eo.url = optarg;
            break;
        case 'c':
            eo.ca_bundle = optarg;
            break;
        case 'k':
            eo.host_class = optarg;
            break;
        case 'a':
            ak_tcti = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "replay-activation") == 0) {
                enroll_set_faults(ENROLL_FAULT_REPLAY_ACTIVATION);
            } else if (strcmp(optarg, "foreign-nonce") == 0) {
                enroll_set_faults(ENROLL_FAULT_FOREIGN_NONCE);
            } else if (strcmp(optarg, "svid-no-cert") == 0) {
                enroll_set_faults(ENROLL_FAULT_SVID_NO_CERT);
            } else if (strcmp(optarg, "decrypt-key") == 0) {
                s.is_decrypt_key = 1;
            } else {
                return 2;
            }
            break;
        case 'o':
            args.out = optarg;
            break;
        case 'b':
            args.bundle_out = optarg;
            break;
        case 'r':
            args.repeat = (int)strtol(optarg, NULL, 10);
            break;
        case 'n':
            args.svids = (int)strtol(optarg, NULL, 10);
            break;
        case 'p':
            args.svid_path = optarg;
            break;
        case 's':
            args.svid_out = optarg;
            break;
        case 'T':
            args.timings = optarg;
            break;
        case 'P':
            s.pause_file = optarg;
            break;
        case 'q':
            eo.report = quiet;
            break;
        default:
            return 2;
        }
    }
    if (tcti == NULL || s.ek_cert_path == NULL || eo.url == NULL || eo.ca_bundle == NULL) {
        fprintf(stderr, "hostsim: --tcti, --ek-cert, --url and --cacert are required\n");
        return 2;
    }
    if (tpm_open(tcti, &s.main) != AD_OK ||
        (ak_tcti != NULL && tpm_open(ak_tcti, &s.other) != AD_OK)) {
        goto out;
    }
    s.is_foreign_ak = ak_tcti != NULL;
    rc = run(&eo, &tpm, &args);
out:
    msg_bin_clear(&s.ek_pub);
    free(s.host_pem);
    if (s.ek != ESYS_TR_NONE) {
        Esys_FlushContext(s.main.esys, s.ek);
    }
    if (s.ak != ESYS_TR_NONE && s.ak_esys != NULL) {
        Esys_FlushContext(s.ak_esys, s.ak);
    }
    if (s.host != ESYS_TR_NONE && s.ak_esys != NULL) {
        Esys_FlushContext(s.ak_esys, s.host);
    }
    tpm_close(&s.main);
    tpm_close(&s.other);
    return rc;
}
