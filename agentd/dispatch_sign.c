/*
 * SIGN and VERIFY: how each mechanism turns the caller's data into what the
 * TPM signs (or OpenSSL verifies), and where the signature is made: on the
 * loop thread when the sign gate allows (sign_gate.h), else on the TPM
 * worker. The decision and the audit record come from dispatch.c.
 */
#include "dispatch_job.h"
#include "dispatch_wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "digest.h"
#include "keystore.h"
#include "msg.h"
#include "policy.h"
#include "server.h"
#include "sign_gate.h"
#include "spans.h"
#include "status.h"
#include "worker.h"

/* PKCS#11 values (spec, verbatim) this file reasons about. */
#define CKK_EC_ 0x3u
#define CKG_MGF1_SHA1_ 0x1u
#define CKG_MGF1_SHA256_ 0x2u
#define CKG_MGF1_SHA384_ 0x3u
#define CKG_MGF1_SHA512_ 0x4u

/* How each signing mechanism is carried out. */
struct mech_rule {
    uint64_t ckm;
    const char *name;
    enum digest_alg hash; /* DIGEST_NONE: the caller sends the digest (or DigestInfo) */
    enum keystore_scheme scheme;
    enum digest_scheme vscheme;
};

static const struct mech_rule mech_rules[] = {
    {0x1, "RSA_PKCS", DIGEST_NONE, KEYSTORE_RSASSA, DIGEST_SCHEME_RSA_PKCS1},
    {0xd, "RSA_PKCS_PSS", DIGEST_NONE, KEYSTORE_RSAPSS, DIGEST_SCHEME_RSA_PSS},
    {0x40, "SHA256_RSA_PKCS", DIGEST_SHA256, KEYSTORE_RSASSA, DIGEST_SCHEME_RSA_PKCS1},
    {0x41, "SHA384_RSA_PKCS", DIGEST_SHA384, KEYSTORE_RSASSA, DIGEST_SCHEME_RSA_PKCS1},
    {0x42, "SHA512_RSA_PKCS", DIGEST_SHA512, KEYSTORE_RSASSA, DIGEST_SCHEME_RSA_PKCS1},
    {0x43, "SHA256_RSA_PKCS_PSS", DIGEST_SHA256, KEYSTORE_RSAPSS, DIGEST_SCHEME_RSA_PSS},
    {0x44, "SHA384_RSA_PKCS_PSS", DIGEST_SHA384, KEYSTORE_RSAPSS, DIGEST_SCHEME_RSA_PSS},
    {0x45, "SHA512_RSA_PKCS_PSS", DIGEST_SHA512, KEYSTORE_RSAPSS, DIGEST_SCHEME_RSA_PSS},
    {0x1041, "ECDSA", DIGEST_NONE, KEYSTORE_ECDSA, DIGEST_SCHEME_ECDSA},
    {0x1044, "ECDSA_SHA256", DIGEST_SHA256, KEYSTORE_ECDSA, DIGEST_SCHEME_ECDSA},
    {0x1045, "ECDSA_SHA384", DIGEST_SHA384, KEYSTORE_ECDSA, DIGEST_SCHEME_ECDSA},
    {0x1046, "ECDSA_SHA512", DIGEST_SHA512, KEYSTORE_ECDSA, DIGEST_SCHEME_ECDSA},
};

static const struct mech_rule *mech_rule_find(uint64_t ckm)
{
    for (size_t i = 0; i < sizeof(mech_rules) / sizeof(mech_rules[0]); i++) {
        if (mech_rules[i].ckm == ckm) {
            return &mech_rules[i];
        }
    }
    return NULL;
}

static enum digest_alg digest_of_mgf(uint64_t mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1_:
        return DIGEST_SHA1;
    case CKG_MGF1_SHA256_:
        return DIGEST_SHA256;
    case CKG_MGF1_SHA384_:
        return DIGEST_SHA384;
    case CKG_MGF1_SHA512_:
        return DIGEST_SHA512;
    default:
        return DIGEST_NONE;
    }
}

static void post_started(void *arg)
{
    worker_started(arg);
}

/* Times a signature from TPM2_Sign going out, so key creation and loading are not counted. */
struct sign_clock {
    const struct tpm_meanwhile *inner;
    uint64_t sent_ns; /* 0: not sent (a refusal before the TPM runs inner too, with r != 0) */
};

static void sign_sent(void *arg)
{
    struct sign_clock *clk = arg;

    clk->sent_ns = server_now_ns();
    if (clk->inner != NULL) {
        clk->inner->fn(clk->inner->arg);
    }
}

static void sign_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;
    const struct tpm_meanwhile started = {post_started, wj->owner};
    struct sign_clock clk = {j->meanwhile, 0};
    const struct tpm_meanwhile timed = {sign_sent, &clk};

    if (clk.inner == NULL && wj->owner != NULL) {
        clk.inner = &started; /* on the worker: post earlier replies once TPM2_Sign is out */
    }
    spans_mark(&j->spans, SPAN_RUN);
    j->r = keystore_sign(ctx, j->e, j->key, j->scheme, j->hash, j->digest, j->digest_len, &timed,
                         j->sig, &j->sig_len);
    j->sent_ns = clk.sent_ns;
    j->signed_ns = clk.sent_ns != 0 ? server_now_ns() : 0;
    spans_mark(&j->spans, SPAN_SIGNED);
}

static enum sign_gate_kind gate_kind(const struct djob *j)
{
    return j->scheme == KEYSTORE_ECDSA ? SIGN_GATE_EC : SIGN_GATE_RSA;
}

/* Loop thread, once a signature is made: what sign_gate_inline() goes by. */
static void gate_done(struct djob *j)
{
    if (j->r == 0 && j->sent_ns != 0) {
        sign_gate_done(&j->d->sign_gate, gate_kind(j), conn_id(j->c), j->signed_ns - j->sent_ns,
                       j->signed_ns);
    }
}

static void sign_reply(struct djob *j)
{
    spans_mark(&j->spans, SPAN_DONE);
    if (j->is_unaudited) {
        dispatch_reply_error(j->c, j->type, j->id, STATUS_DENIED, "audit log unavailable");
    } else if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_bytes(j->c, j->type, j->id, j->sig, j->sig_len);
    }
    spans_mark(&j->spans, SPAN_SENT);
    spans_finish(&j->spans);
}

static void sign_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    gate_done(j);
    sign_reply(j);
    djob_finish(j);
}

struct sign_audit {
    struct daemon *d;
    struct conn *c;
    const struct decided *allow;
    struct spans *spans;
    bool is_failed;
};

static void sign_audit_meanwhile(void *arg)
{
    struct sign_audit *a = arg;

    a->is_failed = dispatch_audit(a->d, a->c, a->allow) != 0;
    spans_mark(a->spans, SPAN_AUDITED);
}

/*
 * A SIGN when nothing else is ready in this wake-up, the worker is idle and
 * the sign gate lets it (sign_gate.h: the TPM has been quick for this kind
 * of key and nobody else is signing): sign on this thread, appending the
 * allow record while the TPM computes, and reply. No thread hand-off either
 * way, which at one client is most of what the daemon adds to the TPM's own
 * time (bench/README.md). Returns false (nothing done) otherwise: the caller
 * submits the job.
 */
static bool sign_inline(struct daemon *d, struct djob *j, const struct decided *allow)
{
    struct sign_audit a = {d, j->c, allow, &j->spans, false};
    const struct tpm_meanwhile mw = {sign_audit_meanwhile, &a};
    bool is_inline;

    if (j->type != MT_SIGN || !server_is_quiet(d->srv) ||
        !sign_gate_inline(&d->sign_gate, gate_kind(j), conn_id(j->c), server_now_ns())) {
        return false;
    }
    j->meanwhile = &mw;
    spans_mark(&j->spans, SPAN_SUBMIT);
    is_inline = worker_run_inline(d->worker, &j->wj);
    j->meanwhile = NULL; /* mw lives in this frame; a submitted job appends its record apart */
    if (!is_inline) {
        return false;
    }
    j->is_unaudited = a.is_failed;
    gate_done(j);
    sign_reply(j);
    djob_free(j);
    return true;
}

/* VERIFY: the key's public part from the keystore, then OpenSSL (worker thread). */
static void verify_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;
    struct keystore_pub pub;
    bool is_valid = false;

    memset(&pub, 0, sizeof(pub));
    if ((j->r = keystore_get_pub(ctx, j->e, j->key, &pub)) != 0) {
        return;
    }
    if ((j->vscheme == DIGEST_SCHEME_ECDSA) != (pub.key_type == CKK_EC_)) {
        j->r = AD_ERR_UNSUPPORTED;
    } else {
        j->r = digest_verify(pub.spki, pub.spki_len, j->vscheme, j->hash, digest_size(j->hash),
                             j->digest, j->digest_len, j->sig, j->sig_len, &is_valid);
    }
    j->is_valid = is_valid;
    keystore_pub_clear(&pub);
}

static void verify_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    if (j->is_unaudited) {
        dispatch_reply_error(j->c, j->type, j->id, STATUS_DENIED, "audit log unavailable");
    } else if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_u8(j->c, j->type, j->id, j->is_valid ? 1 : 0);
    }
    djob_finish(j);
}

/*
 * Turn (mechanism, params, data) into what the TPM signs: the digest and its
 * hash alg. Returns a wire status (STATUS_OK when fine).
 */
static uint32_t sign_prepare(const struct mech_rule *m, const struct glue_pss *pss,
                             const uint8_t *data, size_t len, const uint8_t *data_sha256,
                             enum digest_alg *ret_hash, uint8_t *out, size_t *ret_len)
{
    enum digest_alg h = m->hash;
    const uint8_t *hash = NULL;

    if (m->scheme == KEYSTORE_RSAPSS) {
        enum digest_alg ph = digest_of_ckm(pss->hash_mech);

        if (ph == DIGEST_NONE || digest_of_mgf(pss->mgf) != ph || (h != DIGEST_NONE && ph != h) ||
            pss->salt_len != digest_size(ph)) {
            return STATUS_MECHANISM_PARAM;
        }
        if (h == DIGEST_NONE) {
            if (len != digest_size(ph)) {
                return STATUS_DATA_LEN_RANGE;
            }
            h = ph;
        }
    } else if (pss->hash_mech != 0 || pss->mgf != 0 || pss->salt_len != 0) {
        return STATUS_MECHANISM_PARAM;
    }
    if (m->hash == DIGEST_SHA256) {
        memcpy(out, data_sha256, 32); /* already hashed for the audit record */
        *ret_len = 32;
        *ret_hash = h;
        return STATUS_OK;
    }
    if (m->hash != DIGEST_NONE) {
        return digest_compute(h, data, len, out, ret_len) == 0 ? (*ret_hash = h, STATUS_OK)
                                                               : STATUS_INTERNAL;
    }
    switch (m->scheme) {
    case KEYSTORE_ECDSA:
        /* Left-padding to 32 keeps int(H) (the ECDSA input) unchanged for P-256 and P-384. */
        if (len < 20 || len > 64 || (len > 32 && len != 48 && len != 64)) {
            return STATUS_DATA_LEN_RANGE;
        }
        if (len <= 32) {
            memset(out, 0, 32 - len);
            memcpy(out + 32 - len, data, len);
            *ret_len = 32;
            *ret_hash = DIGEST_SHA256;
        } else {
            memcpy(out, data, len);
            *ret_len = len;
            *ret_hash = digest_from_size(len);
        }
        return STATUS_OK;
    case KEYSTORE_RSASSA:
        if (digest_info_parse(data, len, &h, &hash) != 0) {
            return STATUS_DATA_LEN_RANGE;
        }
        memcpy(out, hash, digest_size(h));
        *ret_len = digest_size(h);
        *ret_hash = h;
        return STATUS_OK;
    case KEYSTORE_RSAPSS:
        memcpy(out, data, len);
        *ret_len = len;
        *ret_hash = h;
        return STATUS_OK;
    }
    return STATUS_INTERNAL;
}

/*
 * The worker job for an allowed SIGN/VERIFY. STATUS_OK and *ret, or a wire
 * status and *ret_why for the error reply (no job).
 */
static uint32_t sign_job_new(struct daemon *d, struct conn *c, const struct workload_entry *e,
                             uint8_t type, uint32_t id, const struct glue_sign *m,
                             const struct mech_rule *rule, const uint8_t *data_sha,
                             struct djob **ret, const char **ret_why)
{
    struct djob *j = NULL;
    uint8_t di[DIGEST_INFO_MAX];
    size_t di_len = 0;
    uint32_t st;

    if (rule == NULL) {
        *ret_why = "mechanism not offered";
        return STATUS_MECHANISM_INVALID;
    }
    if ((j = djob_new(d, c, e, type, id, sign_run, sign_done)) == NULL) {
        *ret_why = "out of memory";
        return STATUS_NO_MEMORY;
    }
    snprintf(j->key, sizeof(j->key), "%s", m->key);
    j->scheme = rule->scheme;
    j->wj.is_prompt = type == MT_SIGN; /* sign_run calls worker_started (worker.h) */
    st = sign_prepare(rule, &m->pss, m->data, m->data_len, data_sha, &j->hash, j->digest,
                      &j->digest_len);
    *ret_why = "bad input for mechanism";
    if (st == STATUS_OK && type == MT_VERIFY) {
        if (m->sig_len > sizeof(j->sig)) {
            *ret_why = "signature too long";
            st = STATUS_BAD_REQUEST;
            goto out;
        }
        memcpy(j->sig, m->sig, m->sig_len);
        j->sig_len = m->sig_len;
        j->vscheme = rule->vscheme;
        /* PKCS#1 v1.5 verifies the DigestInfo the signer padded. */
        if (rule->scheme == KEYSTORE_RSASSA) {
            if (digest_info_encode(j->hash, j->digest, di, &di_len) != 0) {
                *ret_why = "digest info";
                st = STATUS_INTERNAL;
                goto out;
            }
            memcpy(j->digest, di, di_len);
            j->digest_len = di_len;
        }
        j->wj.run = verify_run;
        j->wj.done = verify_done;
    }
out:
    if (st != STATUS_OK) {
        free(j);
        return st;
    }
    *ret = j;
    return STATUS_OK;
}

/*
 * SIGN and VERIFY. The allow record is appended while the TPM already works
 * on the job: inline between sending TPM2_Sign and reading its answer
 * (sign_inline), or here while the worker runs it. The result still never
 * goes out before its record: sign_reply() runs on this (loop) thread after
 * the append, and a failed append turns the result into a deny (fail
 * closed). Identity and policy checks come first, unchanged: nothing
 * reaches the TPM before the decision.
 */
int dispatch_sign(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, const uint8_t *body,
                  size_t len)
{
    struct glue_sign m;
    const struct mech_rule *rule;
    const struct workload_entry *e = NULL;
    struct policy_request rq = {.op = POLICY_OP_SIGN};
    struct decided allow;
    uint8_t data_sha[32];
    size_t dlen = 0;
    struct djob *j = NULL;
    const char *why = NULL;
    struct spans sp = {{0}};
    uint32_t st;

    spans_mark(&sp, SPAN_RECV);
    if (glue_sign_decode(body, len, type == MT_VERIFY, &m) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    if (digest_compute(DIGEST_SHA256, m.data, m.data_len, data_sha, &dlen) != 0) {
        dispatch_reply_error(c, type, id, STATUS_INTERNAL, "hash failed");
        return AD_OK;
    }
    rule = mech_rule_find(m.mechanism);
    rq.op = type == MT_VERIFY ? POLICY_OP_VERIFY : POLICY_OP_SIGN;
    rq.key = m.key;
    rq.mechanism = m.mechanism;
    rq.data_len = m.data_len;
    if (!dispatch_decide(d, c, type, id, &rq, rule != NULL ? rule->name : NULL, data_sha, &e,
                         &allow)) {
        return AD_OK;
    }
    spans_mark(&sp, SPAN_DECIDED);
    st = sign_job_new(d, c, e, type, id, &m, rule, data_sha, &j, &why);
    if (j != NULL) {
        j->spans = sp;
    }
    if (j != NULL && sign_inline(d, j, &allow)) {
        return AD_OK;
    }
    if (j != NULL) {
        spans_mark(&j->spans, SPAN_SUBMIT);
        djob_submit(j); /* the TPM starts; j stays valid until its done() on this thread */
    }
    if (dispatch_audit(d, c, &allow) != 0) {
        if (j != NULL) {
            j->is_unaudited = true; /* the worker never reads this field */
        } else {
            dispatch_reply_error(c, type, id, STATUS_DENIED, "audit log unavailable");
        }
        return AD_OK;
    }
    if (j == NULL) {
        dispatch_reply_error(c, type, id, st, why);
        return AD_OK;
    }
    spans_mark(&j->spans, SPAN_AUDITED);
    return AD_OK;
}
