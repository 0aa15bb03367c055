#include "dispatch.h"
#include "dispatch_job.h"
#include "dispatch_wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "conn.h"
#include "digest.h"
#include "frame.h"
#include "identity.h"
#include "keystore.h"
#include "log.h"
#include "match.h"
#include "msg.h"
#include "policy.h"
#include "server.h"
#include "status.h"
#include "worker.h"

#ifndef AGENTD_VERSION
#define AGENTD_VERSION "0.1.0"
#endif
int dispatch_frame_header(const uint8_t *p, size_t len, struct frame_info *ret)
{
    struct frame_header fh;
    int r;

    memset(ret, 0, sizeof(*ret));
    if ((r = frame_header_decode(p, len, &fh)) != 0) {
        return r; /* bad length or version: the rest of the header means nothing */
    }
    ret->type = fh.type;
    ret->request_id = fh.request_id;
    ret->body_len = frame_body_len(&fh);
    ret->has_ids = true;
    if ((fh.type & FRAME_REPLY) != 0 || msg_lookup(fh.type) == NULL) {
        return AD_ERR_FORMAT;
    }
    return AD_OK;
}

/* Reply plumbing ---------------------------------------------------------- */

void dispatch_reply_error(struct conn *c, uint8_t type, uint32_t id, uint32_t status,
                          const char *msg)
{
    (void)glue_send_error(c, type, id, status, msg);
}

static uint32_t status_of_reason(enum policy_reason reason)
{
    switch (reason) {
    case POLICY_REASON_KEY_NOT_OWNED:
        return STATUS_NOT_FOUND;
    case POLICY_REASON_MECHANISM_NOT_ALLOWED:
        return STATUS_MECHANISM_INVALID;
    case POLICY_REASON_DATA_TOO_LONG:
        return STATUS_DATA_LEN_RANGE;
    case POLICY_REASON_RATE_LIMITED:
        return STATUS_RATE_LIMITED;
    case POLICY_REASON_KEY_TYPE_NOT_ALLOWED:
        return STATUS_KEY_TYPE;
    case POLICY_REASON_BAD_REQUEST:
        return STATUS_BAD_REQUEST;
    default:
        return STATUS_DENIED;
    }
}

/* Audit --------------------------------------------------------------------- */

/* Append the record; AD_OK or the error that makes the caller deny (fail closed). */
int dispatch_audit(struct daemon *d, struct conn *c, const struct decided *x)
{
    const struct caller_facts *f = conn_facts(c);
    struct audit_record rec = {
        .pid = f->pid,
        .uid = f->uid,
        .gid = f->gid,
        .exe = f->exe,
        .exe_sha256 = f->has_sha256 ? f->exe_sha256 : NULL,
        .entry = x->e != NULL ? x->e->name : NULL,
        .spiffe_id = x->e != NULL ? x->e->spiffe_id : NULL,
        .op = x->op,
        .key = x->key,
        .mechanism = x->mech,
        .data_sha256 = x->data_sha256,
        .decision = x->verdict,
        .reason = x->reason,
    };
    int r;

    if ((r = audit_append(d->audit, &rec)) != 0) {
        log_error("audit: append failed (%s): denying %s", ad_strerror(r), x->op);
    }
    return r;
}

/*
 * The caller's entry from the current config, then policy (dispatch_job.h).
 * The strings *ret_allow points to are the request's and rq's.
 */
bool dispatch_decide(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                     const struct policy_request *rq, const char *mech, const uint8_t *data_sha256,
                     const struct workload_entry **ret_entry, struct decided *ret_allow)
{
    const struct workload_entry *e = NULL;
    const char *why = NULL;
    struct policy_decision pd = {POLICY_DENY, POLICY_REASON_NO_ENTRY};
    struct decided x = {
        .op = policy_op_name(rq->op), .key = rq->key, .mech = mech, .data_sha256 = data_sha256};
    struct policy_request q = *rq;
    struct keystore_meta meta;
    uint32_t status;

    if (conn_still_same(c) != 0) {
        /* The process that connected exited or exec'd: nothing it sends now is its own. */
        x.verdict = policy_verdict_name(POLICY_DENY);
        x.reason = "caller_changed";
        (void)dispatch_audit(d, c, &x);
        dispatch_reply_error(c, type, id, STATUS_DENIED, x.reason);
        conn_close_after_flush(c);
        return false;
    }
    if (match_entry(d->conf->c, conn_facts(c), &e, &why) != 0) {
        e = NULL;
        x.verdict = policy_verdict_name(POLICY_DENY);
        x.reason = why != NULL ? why : policy_reason_name(POLICY_REASON_NO_ENTRY);
        status = STATUS_DENIED;
        goto deny;
    }
    keystore_query(d->ks, e, rq->key, &meta);
    q.key_is_generated = meta.is_generated;
    q.n_generated_keys = meta.n_generated;
    if ((rq->op == POLICY_OP_SIGN || rq->op == POLICY_OP_VERIFY) && meta.exists) {
        q.key_type = meta.key_type;
    }
    if (policy_decide(d->policy, e, &q, server_now_ns(), &pd) != 0) {
        pd.verdict = POLICY_DENY;
        pd.reason = POLICY_REASON_BAD_REQUEST;
    }
    x.e = e;
    x.verdict = policy_verdict_name(pd.verdict);
    x.reason = policy_reason_name(pd.reason);
    if (pd.verdict != POLICY_ALLOW) {
        status = status_of_reason(pd.reason);
        goto deny;
    }
    *ret_allow = x;
    *ret_entry = e;
    return true;
deny:
    x.e = e;
    if (dispatch_audit(d, c, &x) != 0) {
        status = STATUS_DENIED;
    }
    dispatch_reply_error(c, type, id, status, x.reason);
    return false;
}

/*
 * dispatch_decide() with the allow record appended at once: an audit failure
 * turns the allow into a deny (fail closed).
 */
static bool decide(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                   const struct policy_request *rq, const char *mech, const uint8_t *data_sha256,
                   const struct workload_entry **ret_entry)
{
    const struct workload_entry *e = NULL;
    struct decided allow;

    if (!dispatch_decide(d, c, type, id, rq, mech, data_sha256, &e, &allow)) {
        return false;
    }
    if (dispatch_audit(d, c, &allow) != 0) {
        dispatch_reply_error(c, type, id, STATUS_DENIED, "audit log unavailable");
        return false;
    }
    *ret_entry = e;
    return true;
}

/* Jobs ---------------------------------------------------------------------- */

struct djob *djob_new(struct daemon *d, struct conn *c, const struct workload_entry *e,
                      uint8_t type, uint32_t id, void (*run)(struct worker_job *, void *),
                      void (*done)(struct worker_job *))
{
    struct djob *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    j->wj.run = run;
    j->wj.done = done;
    j->d = d;
    j->c = c;
    j->e = e;
    j->type = type;
    j->id = id;
    return j;
}

void djob_submit(struct djob *j)
{
    j->conf = conf_ref_get(j->d->conf);
    conn_hold(j->c);
    worker_submit(j->d->worker, &j->wj);
}

void djob_free(struct djob *j)
{
    free(j->bytes);
    keystore_pubs_free(j->pubs, j->n_pubs);
    free(j->json);
    OPENSSL_cleanse(j->digest, sizeof(j->digest));
    free(j);
}

/* Common tail of done(): release everything the job held. */
void djob_finish(struct djob *j)
{
    struct conn *c = j->c;

    conf_ref_put(j->conf);
    djob_free(j);
    conn_release(c);
}

void djob_reply_error(struct djob *j)
{
    log_debug("request %u type 0x%02x: %s", j->id, j->type, ad_strerror(j->r));
    dispatch_reply_error(j->c, j->type, j->id, status_from_err(j->r), ad_strerror(j->r));
}

/* DIGEST (no TPM: hashed on the loop thread) ---------------------------- */

static int on_digest(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                     const uint8_t *body, size_t len)
{
    struct glue_digest m;
    struct policy_request rq = {.op = POLICY_OP_DIGEST};
    const struct workload_entry *e = NULL;
    uint8_t out[DIGEST_MAX];
    uint8_t data_sha[32];
    size_t out_len = 0;
    size_t n = 0;
    enum digest_alg h;

    if (glue_digest_decode(body, len, &m) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    h = digest_of_ckm(m.mechanism);
    rq.mechanism = m.mechanism;
    rq.data_len = m.data_len;
    if (digest_compute(DIGEST_SHA256, m.data, m.data_len, data_sha, &n) != 0) {
        dispatch_reply_error(c, type, id, STATUS_INTERNAL, "hash failed");
        return AD_OK;
    }
    if (!decide(d, c, type, id, &rq, NULL, data_sha, &e)) {
        return AD_OK;
    }
    if (h == DIGEST_NONE || h == DIGEST_SHA1) {
        dispatch_reply_error(c, type, id, STATUS_MECHANISM_INVALID, "digest mechanism not offered");
        return AD_OK;
    }
    if (digest_compute(h, m.data, m.data_len, out, &out_len) != 0) {
        dispatch_reply_error(c, type, id, STATUS_INTERNAL, "hash failed");
        return AD_OK;
    }
    (void)glue_send_bytes(c, type, id, out, out_len);
    return AD_OK;
}

/* RANDOM -------------------------------------------------------------------- */

static void random_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    j->r = keystore_random(ctx, j->bytes, j->bytes_len);
}

static void bytes_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_bytes(j->c, j->type, j->id, j->bytes, j->bytes_len);
        OPENSSL_cleanse(j->bytes, j->bytes_len);
    }
    djob_finish(j);
}

static int on_random(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                     const uint8_t *body, size_t len)
{
    struct policy_request rq = {.op = POLICY_OP_RANDOM};
    const struct workload_entry *e = NULL;
    struct djob *j;
    uint32_t n;

    if (glue_random_decode(body, len, &n) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    rq.data_len = n;
    if (!decide(d, c, type, id, &rq, NULL, NULL, &e)) {
        return AD_OK;
    }
    if ((j = djob_new(d, c, e, type, id, random_run, bytes_done)) == NULL ||
        (j->bytes = malloc(n)) == NULL) {
        free(j);
        dispatch_reply_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
        return AD_OK;
    }
    j->bytes_len = n;
    djob_submit(j);
    return AD_OK;
}

/* LIST_OBJECTS -------------------------------------------------------------- */

static void list_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    /* Run inline (no owner), it must not reach the TPM: keys are created on the worker. */
    j->r = keystore_list(ctx, j->e, wj->owner != NULL, &j->pubs, &j->n_pubs);
}

static uint64_t mask_of(const struct workload_entry *e, const struct keystore_pub *p)
{
    const struct conf_key *k = conf_find_key(e, p->name);

    return k != NULL ? policy_mech_mask(e, k) : policy_mech_mask_for_type(p->key_type);
}

static void list_reply(struct djob *j)
{
    struct certinfo *cas = NULL;
    size_t n_cas = 0;

    if (j->r == 0 && j->d->identity != NULL) {
        j->r = identity_bundle(j->d->identity, &cas, &n_cas);
    }
    if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_list(j->c, j->type, j->id, j->e, j->pubs, j->n_pubs, mask_of, cas, n_cas);
    }
    certinfo_list_free(cas, n_cas);
}

static void list_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    list_reply(j);
    djob_finish(j);
}

static int on_list(struct daemon *d, struct conn *c, uint8_t type, uint32_t id, const uint8_t *body,
                   size_t len)
{
    struct policy_request rq = {.op = POLICY_OP_LIST};
    const struct workload_entry *e = NULL;
    struct djob *j;

    if (glue_empty_decode(body, len) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    if (!decide(d, c, type, id, &rq, NULL, NULL, &e)) {
        return AD_OK;
    }
    if ((j = djob_new(d, c, e, type, id, list_run, list_done)) == NULL) {
        dispatch_reply_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
        return AD_OK;
    }
    /*
     * With the worker idle and every key already made, the list is a copy
     * of memory: answer it here and spare a new client two thread wake-ups
     * (the slowest part of its first listing on an idle machine,
     * bench/README.md). A key still to create sends it to the worker.
     */
    if (worker_run_inline(d->worker, &j->wj)) {
        if (j->r != AD_ERR_NOT_FOUND) {
            list_reply(j);
            djob_free(j);
            return AD_OK;
        }
        j->r = AD_OK;
    }
    djob_submit(j);
    return AD_OK;
}

/* GENERATE_KEY / DESTROY_KEY ------------------------------------------------ */

static void generate_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    if ((j->pubs = calloc(1, sizeof(*j->pubs))) == NULL) {
        j->r = AD_ERR_NOMEM;
        return;
    }
    j->r = keystore_create(ctx, j->e, j->key, j->key_type, j->bits, false, j->pubs);
    j->n_pubs = j->r == 0 ? 1 : 0;
}

static void generate_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    if (j->r == 0 && j->d->identity != NULL) {
        identity_poke(j->d->identity); /* the new key gets its certificate */
    }
    if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_keyrec(j->c, j->type, j->id, &j->pubs[0],
                               policy_mech_mask_for_type(j->pubs[0].key_type));
    }
    djob_finish(j);
}

static int on_generate(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                       const uint8_t *body, size_t len)
{
    struct glue_generate m;
    struct policy_request rq = {.op = POLICY_OP_GENERATE};
    const struct workload_entry *e = NULL;
    struct djob *j;

    if (glue_generate_decode(body, len, &m) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    rq.key = m.name[0] != '\0' ? m.name : NULL;
    rq.key_type = m.key_type;
    rq.bits = m.bits;
    if (!decide(d, c, type, id, &rq, NULL, NULL, &e)) {
        return AD_OK;
    }
    if ((j = djob_new(d, c, e, type, id, generate_run, generate_done)) == NULL) {
        dispatch_reply_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
        return AD_OK;
    }
    snprintf(j->key, sizeof(j->key), "%s", m.name);
    j->key_type = m.key_type;
    j->bits = m.bits;
    djob_submit(j);
    return AD_OK;
}

static void destroy_run(struct worker_job *wj, void *ctx)
{
    struct djob *j = (struct djob *)wj;

    j->r = keystore_destroy(ctx, j->e, j->key, false);
}

static void empty_done(struct worker_job *wj)
{
    struct djob *j = (struct djob *)wj;

    if (j->r != 0) {
        djob_reply_error(j);
    } else {
        (void)glue_send_empty(j->c, j->type, j->id);
    }
    djob_finish(j);
}

static int on_destroy(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                      const uint8_t *body, size_t len)
{
    struct glue_key m;
    struct policy_request rq = {.op = POLICY_OP_DESTROY};
    const struct workload_entry *e = NULL;
    struct djob *j;

    if (glue_key_decode(body, len, &m) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    rq.key = m.key;
    if (!decide(d, c, type, id, &rq, NULL, NULL, &e)) {
        return AD_OK;
    }
    if ((j = djob_new(d, c, e, type, id, destroy_run, empty_done)) == NULL) {
        dispatch_reply_error(c, type, id, STATUS_NO_MEMORY, "out of memory");
        return AD_OK;
    }
    snprintf(j->key, sizeof(j->key), "%s", m.key);
    djob_submit(j);
    return AD_OK;
}

/* HELLO / WHOAMI (no decision: they reveal only the caller's own facts) ---- */

static int on_hello(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                    const uint8_t *body, size_t len)
{
    uint32_t vmin;
    uint32_t vmax;

    if (glue_hello_decode(body, len, &vmin, &vmax) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    if (vmin > GLUE_VERSION || vmax < GLUE_VERSION) {
        dispatch_reply_error(c, type, id, STATUS_VERSION, "no common protocol version");
        return AD_OK;
    }
    (void)glue_send_hello(c, type, id, d->conf->c->token_label, AGENTD_VERSION);
    return AD_OK;
}

static int on_whoami(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                     const uint8_t *body, size_t len)
{
    const struct workload_entry *e = NULL;

    if (glue_empty_decode(body, len) != 0) {
        dispatch_reply_error(c, type, id, STATUS_BAD_REQUEST, "malformed request");
        return AD_OK;
    }
    if (match_entry(d->conf->c, conn_facts(c), &e, NULL) != 0) {
        e = NULL;
    }
    (void)glue_send_whoami(c, type, id, conn_facts(c), e);
    return AD_OK;
}

/* Entry points -------------------------------------------------------------- */

typedef int (*handler_fn)(struct daemon *d, struct conn *c, uint8_t type, uint32_t id,
                          const uint8_t *body, size_t len);

static handler_fn handler_of(uint8_t type)
{
    switch (type) {
    case MT_HELLO:
        return on_hello;
    case MT_WHOAMI:
        return on_whoami;
    case MT_LIST_OBJECTS:
        return on_list;
    case MT_SIGN:
    case MT_VERIFY:
        return dispatch_sign;
    case MT_DIGEST:
        return on_digest;
    case MT_RANDOM:
        return on_random;
    case MT_GENERATE_KEY:
        return on_generate;
    case MT_DESTROY_KEY:
        return on_destroy;
    case MT_ADMIN_STATUS:
    case MT_ADMIN_WORKLOADS:
    case MT_ADMIN_KEYS:
    case MT_ADMIN_KEY_CREATE:
    case MT_ADMIN_KEY_DELETE:
    case MT_ADMIN_AUDIT_TAIL:
    case MT_ADMIN_ENROLL:
        return dispatch_admin;
    default:
        return NULL;
    }
}

int dispatch_frame(struct daemon *d, struct conn *c, const struct frame_info *h,
                   const uint8_t *body, size_t len)
{
    handler_fn fn = handler_of(h->type);

    if (!conn_is_identified(c)) {
        /* conn.c holds frames while the exe hash is pending; deny by default if it did not. */
        log_error("dispatch: request before the caller's identity is complete");
        return AD_ERR_INTERNAL;
    }
    if (fn == NULL) {
        /* The frame decoder already refuses unknown types; keep the check local too. */
        dispatch_reply_error(c, h->type, h->request_id, STATUS_BAD_REQUEST, "unknown message type");
        return AD_ERR_FORMAT;
    }
    return fn(d, c, h->type, h->request_id, body, len);
}

void dispatch_protocol_error(struct daemon *d, struct conn *c, const struct frame_info *h, int err)
{
    (void)d;
    (void)glue_send_protocol_error(c, h, err);
}
